//! Account bindings: accounts between entities of the simulator — opening one (the peer's
//! entity opens its own side by its policy), paying directly, setting credit, collateral
//! deltas, subcontract code and calls — and inspection of either side's committed copy
//! (state, capacity view, ASCII bar). Every change is an entity tx of ONE entity, logged as
//! a runtime input; the bindings translate, they own no protocol state.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use num_bigint::BigInt;

use super::runtime::{
    entity_arg, entity_value, rejection_error, runtime_error, settle, sim, submit_and_settle,
};
use crate::account::{
    view, AccountState, AccountTx, CapacityView, Side, SubcontractEngine, TokenId,
};
use crate::entity::payment::{htlc_code_hash, HTLC_CODE};
use crate::entity::{EntityAccount, EntityId, EntityState, EntityTx, Rejection, RejectionKind};
use crate::lang::builtins::{index_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::printer::hex;
use crate::lang::source::Span;
use crate::lang::symbol::Sym;
use crate::lang::value::{NativeObject, Primitive, Value};
use crate::sandbox::{data_to_value, side_symbol, value_to_data, SandboxEngine};

type R = Result<Value, LangError>;

/// A keyword value.
pub fn kw(n: &str) -> Value {
    Value::Keyword(Sym::new(n))
}

/// A map with keyword keys.
pub fn map_of(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(Rc::new(
        entries.into_iter().map(|(k, v)| (kw(k), v)).collect(),
    ))
}

fn int(n: &BigInt) -> Value {
    Value::from_bigint(n.clone())
}

/// The account between two entities (runtime indices, the left side first).
pub struct AccountHandle {
    /// The entity with the lower address.
    pub left: usize,
    /// The other.
    pub right: usize,
}

impl NativeObject for AccountHandle {
    fn type_name(&self) -> &'static str {
        "account"
    }
    fn describe(&self) -> String {
        format!("#<account #{} <-> #{}>", self.left, self.right)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<AccountHandle>()
            .is_some_and(|o| (o.left, o.right) == (self.left, self.right))
    }
}

fn account_arg(a: &[Value], i: usize, who: &str) -> Result<(usize, usize), LangError> {
    if let Value::Native(n) = &a[i] {
        if let Some(h) = n.as_any().downcast_ref::<AccountHandle>() {
            return Ok((h.left, h.right));
        }
    }
    Err(type_error(who, i, "an account (from open-account)", &a[i]))
}

fn token_arg(a: &[Value], i: usize, who: &str) -> Result<TokenId, LangError> {
    Ok(index_arg(a, i, who)? as TokenId)
}

fn amount_arg(a: &[Value], i: usize, who: &str) -> Result<BigInt, LangError> {
    to_bigint(&a[i]).ok_or_else(|| type_error(who, i, "an integer amount", &a[i]))
}

/// The id of entity `index`.
pub(crate) fn id_of(interp: &mut Interp, index: usize, who: &str) -> Result<EntityId, LangError> {
    sim(interp)
        .runtime
        .entity_id(index)
        .map_err(|e| runtime_error(who, e))
}

/// The committed state of entity `index` per its first honest replica.
pub(crate) fn state_of<'i>(
    interp: &'i mut Interp,
    index: usize,
    who: &str,
) -> Result<&'i EntityState, LangError> {
    let s = sim(interp);
    let replica = *s
        .runtime
        .honest(index)
        .first()
        .ok_or_else(|| value_error(who, "the entity has no honest replica"))?;
    s.runtime
        .replica(index, replica)
        .map(|r| r.state())
        .map_err(|e| runtime_error(who, e))
}

/// Entity `index`'s side of its account with `peer`, if open.
pub(crate) fn side_of<'i>(
    interp: &'i mut Interp,
    index: usize,
    peer: usize,
    who: &str,
) -> Result<Option<&'i EntityAccount>, LangError> {
    let peer_id = id_of(interp, peer, who)?;
    Ok(state_of(interp, index, who)?.accounts.get(&peer_id))
}

/// The account handle of (x, y), ordered left first, if x has opened its side.
fn handle(interp: &mut Interp, x: usize, y: usize, who: &str) -> Result<Option<Value>, LangError> {
    let Some(account) = side_of(interp, x, y, who)? else {
        return Ok(None);
    };
    let (left, right) = match account.machine.side {
        Side::Left => (x, y),
        Side::Right => (y, x),
    };
    Ok(Some(Value::Native(Rc::new(AccountHandle { left, right }))))
}

/// The account between `a[0]` and `a[1]`, or an error that says how to open one.
fn pair_arg(interp: &mut Interp, a: &[Value], who: &str) -> Result<(usize, usize), LangError> {
    let x = entity_arg(a, 0, who)?;
    let y = entity_arg(a, 1, who)?;
    if side_of(interp, x, y, who)?.is_none() {
        return Err(LangError::new(
            Code::Refused,
            format!("{who}: these entities have no account"),
        )
        .with_hint("open one with (open-account a b); (pay! a b ...) routes through hubs"));
    }
    Ok((x, y))
}

/// `(open-account a b)`: a opens its side with b (whose board it names); b's entity opens
/// its own side when a's note arrives. Returns the account.
fn open_account(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "open-account";
    let x = entity_arg(a, 0, who)?;
    let y = entity_arg(a, 1, who)?;
    if x == y {
        return Err(value_error(who, "an account needs two different entities"));
    }
    if side_of(interp, x, y, who)?.is_some() {
        return Err(LangError::new(
            Code::Refused,
            format!("{who}: these entities already have an account"),
        )
        .with_hint("use (account-between a b) to get it"));
    }
    let peer = id_of(interp, y, who)?;
    let peer_board = sim(interp)
        .runtime
        .genesis_board(y)
        .map_err(|e| runtime_error(who, e))?
        .clone();
    submit_and_settle(interp, x, EntityTx::OpenAccount { peer, peer_board }, who)?;
    if side_of(interp, y, x, who)?.is_none() {
        return Err(LangError::new(
            Code::Refused,
            format!("{who}: the peer did not open its side"),
        ));
    }
    handle(interp, x, y, who)?.ok_or_else(|| value_error(who, "the account is not open"))
}

fn between(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "account-between";
    let x = entity_arg(a, 0, who)?;
    let y = entity_arg(a, 1, who)?;
    Ok(handle(interp, x, y, who)?.unwrap_or(Value::Bool(false)))
}

/// Every account some entity has opened, once, as (left, right) runtime indices.
pub(crate) fn all_accounts(
    interp: &mut Interp,
    who: &str,
) -> Result<Vec<(usize, usize)>, LangError> {
    let count = sim(interp).runtime.entity_count();
    let mut ids = BTreeMap::new();
    for e in 0..count {
        ids.insert(id_of(interp, e, who)?, e);
    }
    let mut pairs = BTreeSet::new();
    for e in 0..count {
        let Ok(state) = state_of(interp, e, who) else {
            continue;
        };
        for (peer, account) in &state.accounts {
            if let Some(p) = ids.get(peer) {
                pairs.insert(match account.machine.side {
                    Side::Left => (e, *p),
                    Side::Right => (*p, e),
                });
            }
        }
    }
    Ok(pairs.into_iter().collect())
}

fn accounts(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let pairs = all_accounts(interp, "accounts")?;
    Ok(Value::list(
        pairs
            .into_iter()
            .map(|(left, right)| Value::Native(Rc::new(AccountHandle { left, right })))
            .collect::<Vec<_>>(),
    ))
}

fn parties(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let (l, r) = account_arg(a, 0, "account-parties")?;
    Ok(Value::list(vec![
        entity_value(interp, l),
        entity_value(interp, r),
    ]))
}

/// The side whose copy to read: the given entity (which must be a party), or the left.
fn chosen(
    a: &[Value],
    i: usize,
    (l, r): (usize, usize),
    who: &str,
) -> Result<(usize, usize), LangError> {
    match a.get(i) {
        None => Ok((l, r)),
        Some(_) => {
            let e = entity_arg(a, i, who)?;
            if e == l {
                Ok((l, r))
            } else if e == r {
                Ok((r, l))
            } else {
                Err(value_error(
                    who,
                    "the entity is not a party to this account",
                ))
            }
        }
    }
}

fn account_side(_: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "account-side";
    let pair = account_arg(a, 0, who)?;
    let (me, _) = chosen(a, 1, pair, who)?;
    Ok(Value::sym(if me == pair.0 { "left" } else { "right" }))
}

/// Runs `f` on `me`'s side of its account with `peer`.
fn with_side<T>(
    interp: &mut Interp,
    (me, peer): (usize, usize),
    who: &str,
    f: impl FnOnce(&EntityAccount) -> T,
) -> Result<T, LangError> {
    side_of(interp, me, peer, who)?
        .map(f)
        .ok_or_else(|| value_error(who, "this side of the account is not open (yet)"))
}

fn state_value(s: &AccountState, names: (String, String)) -> Value {
    let deltas = s
        .deltas
        .iter()
        .map(|(t, d)| {
            (
                Value::from_bigint(BigInt::from(*t)),
                map_of(vec![
                    ("collateral", int(&d.collateral)),
                    ("ondelta", int(&d.ondelta)),
                    ("offdelta", int(&d.offdelta)),
                    ("delta", int(&d.delta())),
                    ("left-credit-limit", int(&d.left_credit_limit)),
                    ("right-credit-limit", int(&d.right_credit_limit)),
                    ("left-allowance", int(&d.left_allowance)),
                    ("right-allowance", int(&d.right_allowance)),
                ]),
            )
        })
        .collect();
    let subs = s
        .subcontracts
        .iter()
        .map(|(id, sc)| {
            let holds = sc
                .holds
                .iter()
                .map(|(t, x)| (Value::from_bigint(BigInt::from(*t)), int(x)))
                .collect();
            let code = s
                .codes
                .get(&sc.code)
                .and_then(|c| crate::sandbox::code_name(c))
                .unwrap_or_else(|| "?".into());
            (
                Value::from_bigint(BigInt::from(*id)),
                map_of(vec![
                    ("kind", Value::string(&code)),
                    ("code", Value::bytes(&sc.code)),
                    ("owner", side_symbol(sc.owner)),
                    ("holds", Value::Map(Rc::new(holds))),
                    ("params", data_to_value(&sc.params)),
                ]),
            )
        })
        .collect();
    map_of(vec![
        ("left", Value::string(&names.0)),
        ("right", Value::string(&names.1)),
        ("height", Value::from_bigint(BigInt::from(s.height))),
        ("timestamp", Value::from_bigint(BigInt::from(s.timestamp))),
        ("deltas", Value::Map(Rc::new(deltas))),
        ("subcontracts", Value::Map(Rc::new(subs))),
        (
            "codes",
            Value::list(
                s.codes
                    .values()
                    .filter_map(|c| crate::sandbox::code_name(c))
                    .map(|n| Value::string(&n))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("state-hash", Value::bytes(&s.state_hash())),
    ])
}

fn state(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "account-state";
    let pair = account_arg(a, 0, who)?;
    let side = chosen(a, 1, pair, who)?;
    let names = (
        super::runtime::entity_name_of(interp, pair.0),
        super::runtime::entity_name_of(interp, pair.1),
    );
    with_side(interp, side, who, |acc| {
        state_value(&acc.machine.state, names)
    })
}

fn view_value(v: &CapacityView) -> Value {
    map_of(vec![
        ("side", side_symbol(v.side)),
        ("delta", int(&v.delta)),
        ("collateral", int(&v.collateral)),
        ("own-credit-limit", int(&v.own_credit_limit)),
        ("peer-credit-limit", int(&v.peer_credit_limit)),
        ("out-collateral", int(&v.out_collateral)),
        ("in-collateral", int(&v.in_collateral)),
        ("in-own-credit", int(&v.in_own_credit)),
        ("out-own-credit", int(&v.out_own_credit)),
        ("out-peer-credit", int(&v.out_peer_credit)),
        ("in-peer-credit", int(&v.in_peer_credit)),
        ("out-allowance", int(&v.out_allowance)),
        ("in-allowance", int(&v.in_allowance)),
        ("out-capacity", int(&v.out_capacity)),
        ("in-capacity", int(&v.in_capacity)),
        ("total-capacity", int(&v.total_capacity)),
    ])
}

/// `who`'s capacity view of `token` in the account (its own copy).
fn capacity(interp: &mut Interp, a: &[Value], who: &str) -> Result<CapacityView, LangError> {
    let pair = account_arg(a, 0, who)?;
    let side = chosen(a, 1, pair, who)?;
    let token = token_arg(a, 2, who)?;
    with_side(interp, side, who, |acc| {
        view(&acc.machine.state.delta(token), acc.machine.side)
    })
}

fn account_view(interp: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(view_value(&capacity(interp, a, "account-view")?))
}

/// An ASCII bar of one side's capacity: `#` what it can send, `.` what it can receive,
/// `|` where the balance sits, with the figures after it.
pub fn capacity_bar_text(v: &CapacityView, name: &str, token: TokenId, width: usize) -> String {
    let total = &v.out_capacity + &v.in_capacity;
    let out_cells = if total > BigInt::from(0) {
        let cells = (&v.out_capacity * BigInt::from(width as u64)) / &total;
        usize::try_from(cells).unwrap_or(0).min(width)
    } else {
        0
    };
    let bar: String = "#".repeat(out_cells) + "|" + &".".repeat(width - out_cells);
    format!(
        "{name:<10} token {token} [{bar}] out {} in {} (collateral {}, own credit {}, peer credit {})",
        v.out_capacity, v.in_capacity, v.collateral, v.own_credit_limit, v.peer_credit_limit
    )
}

fn capacity_bar(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "capacity-bar";
    let v = capacity(interp, a, who)?;
    let me = entity_arg(a, 1, who)?;
    let name = super::runtime::entity_name_of(interp, me);
    Ok(Value::string(&capacity_bar_text(
        &v,
        &name,
        token_arg(a, 2, who)?,
        40,
    )))
}

fn machine_field(
    interp: &mut Interp,
    a: &[Value],
    who: &str,
    f: impl FnOnce(&EntityAccount) -> Value,
) -> R {
    let pair = account_arg(a, 0, who)?;
    let side = chosen(a, 1, pair, who)?;
    with_side(interp, side, who, f)
}
fn height(interp: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(interp, a, "account-height", |acc| {
        Value::from_bigint(BigInt::from(acc.machine.state.height))
    })
}
fn state_hash(interp: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(interp, a, "account-state-hash", |acc| {
        Value::bytes(&acc.machine.state.state_hash())
    })
}
fn pending(interp: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(interp, a, "account-pending?", |acc| {
        Value::Bool(acc.machine.pending.is_some())
    })
}
fn mempool_size(interp: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(interp, a, "account-mempool-size", |acc| {
        Value::from_bigint(BigInt::from(acc.machine.mempool.len()))
    })
}

/// Submits `tx` on `from`'s account with `to`, settles, and returns the tx hash.
fn account_tx(
    interp: &mut Interp,
    (from, to): (usize, usize),
    tx: AccountTx,
    who: &str,
) -> Result<[u8; 32], LangError> {
    let peer = id_of(interp, to, who)?;
    submit_and_settle(interp, from, EntityTx::Account { peer, tx }, who)
}

/// `(pay-direct! from to amount token)`: a payment over their account, as a frame of
/// `from`'s board sealed to `to`.
pub(crate) fn pay_direct(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "pay-direct!";
    let pair = pair_arg(interp, a, who)?;
    let tx = AccountTx::Pay {
        token: token_arg(a, 3, who)?,
        amount: amount_arg(a, 2, who)?,
    };
    account_tx(interp, pair, tx, who)?;
    Ok(Value::Void)
}

/// `(set-credit! lender borrower token amount)`: the credit the lender extends.
fn set_credit(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "set-credit!";
    let pair = pair_arg(interp, a, who)?;
    let tx = AccountTx::SetCreditLimit {
        token: token_arg(a, 2, who)?,
        amount: amount_arg(a, 3, who)?,
    };
    account_tx(interp, pair, tx, who)?;
    Ok(Value::Void)
}

/// `(fund-collateral! funder peer token amount)`: simulated chain-driven collateral from
/// the funder's reserve (collateral +x, and ondelta +x when the left funds it). With a
/// jurisdiction connected, use `chain-fund!`, whose events drive the same frames.
fn fund_collateral(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "fund-collateral!";
    let (funder, peer) = pair_arg(interp, a, who)?;
    let amount = amount_arg(a, 3, who)?;
    let funder_is_left = with_side(interp, (funder, peer), who, |acc| {
        acc.machine.side == Side::Left
    })?;
    let tx = AccountTx::ChainDelta {
        token: token_arg(a, 2, who)?,
        collateral_change: amount.clone(),
        ondelta_change: if funder_is_left {
            amount
        } else {
            BigInt::from(0)
        },
    };
    account_tx(interp, (funder, peer), tx, who)?;
    Ok(Value::Void)
}

/// What an entity holds in a token across all its accounts: in each the left holds Δ and
/// the right holds collateral − Δ (each side per its own copy).
fn entity_balance(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "entity-balance";
    let e = entity_arg(a, 0, who)?;
    let token = token_arg(a, 1, who)?;
    let state = state_of(interp, e, who)?;
    let mut total = BigInt::from(0);
    for account in state.accounts.values() {
        let d = account.machine.state.delta(token);
        total += match account.machine.side {
            Side::Left => d.delta(),
            Side::Right => &d.collateral - d.delta(),
        };
    }
    Ok(Value::from_bigint(total))
}

// ----- subcontract code ---------------------------------------------------------------

/// Subcontract code a script made (`define-subcontract`) or the protocol ships (HTLC).
pub struct SubcontractCode {
    /// Its name (`htlc` in `(subcontract htlc ...)`).
    pub name: String,
    /// keccak-256 of `code`.
    pub hash: [u8; 32],
    /// The code's bytes.
    pub code: Vec<u8>,
}

impl NativeObject for SubcontractCode {
    fn type_name(&self) -> &'static str {
        "subcontract-code"
    }
    fn describe(&self) -> String {
        format!(
            "#<subcontract-code {} {}>",
            self.name,
            crate::account::short_hex(&self.hash)
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<SubcontractCode>()
            .is_some_and(|o| o.hash == self.hash)
    }
}

/// Codes this interpreter knows, by name.
fn codes(interp: &mut Interp) -> &mut BTreeMap<String, Rc<SubcontractCode>> {
    let entry = interp
        .extensions
        .entry("subcontract-codes")
        .or_insert_with(|| {
            Box::new(BTreeMap::<String, Rc<SubcontractCode>>::new()) as Box<dyn Any>
        });
    if !entry.is::<BTreeMap<String, Rc<SubcontractCode>>>() {
        *entry = Box::new(BTreeMap::<String, Rc<SubcontractCode>>::new());
    }
    entry
        .downcast_mut::<BTreeMap<String, Rc<SubcontractCode>>>()
        .expect("code registry type checked above")
}

fn register_code(interp: &mut Interp, code: Vec<u8>, who: &str) -> R {
    SandboxEngine::new()
        .check_code(&code)
        .map_err(|reason| LangError::new(Code::Subcontract, format!("{who}: {reason}")))?;
    let name = crate::sandbox::code_name(&code).unwrap_or_else(|| "?".into());
    let handle = Rc::new(SubcontractCode {
        name: name.clone(),
        hash: crate::crypto::keccak256(&code),
        code,
    });
    codes(interp).insert(name, handle.clone());
    Ok(Value::Native(handle))
}

/// `(subcontract-code '(subcontract NAME (METHOD (params args ctx) body ...) ...))`: the
/// code of a subcontract as canonical text, checked by the sandbox; what
/// `define-subcontract` binds its name to.
fn subcontract_code(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "subcontract-code";
    let text = crate::lang::printer::write_string(&a[0]);
    register_code(interp, text.into_bytes(), who)
}

/// `(builtin-subcontract 'htlc)`: code the protocol ships.
fn builtin_subcontract(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "builtin-subcontract";
    match &a[0] {
        Value::Symbol(s) if &*s.name() == "htlc" => {
            register_code(interp, HTLC_CODE.as_bytes().to_vec(), who)
        }
        v => Err(type_error(
            who,
            0,
            "the name of a built-in subcontract ('htlc)",
            v,
        )),
    }
}

fn code_arg(interp: &mut Interp, v: &Value, who: &str) -> Result<Rc<SubcontractCode>, LangError> {
    match v {
        Value::Native(n) => {
            let any: Rc<dyn Any> = upcast(n.clone());
            any.downcast::<SubcontractCode>()
                .map_err(|_| type_error(who, 3, "subcontract code", v))
        }
        Value::Symbol(s) => codes(interp).get(&*s.name()).cloned().ok_or_else(|| {
            LangError::new(Code::Subcontract, format!("{who}: no subcontract `{}` is defined", s.name()))
                .with_hint("define it with define-subcontract, or require the module that does (htlc, limit-order)")
        }),
        v => Err(type_error(who, 3, "subcontract code or its name", v)),
    }
}

fn upcast(rc: Rc<dyn NativeObject>) -> Rc<dyn Any> {
    rc
}

fn subcontract_kinds(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let names: Vec<Value> = codes(interp).keys().map(|n| Value::sym(n)).collect();
    Ok(Value::list(names))
}

fn holds_from_value(v: &Value, who: &str) -> Result<Vec<(TokenId, BigInt)>, LangError> {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Map(m) => m.iter().map(|(k, x)| (k.clone(), x.clone())).collect(),
        other => other
            .list_to_vec()
            .ok_or_else(|| {
                value_error(
                    who,
                    "holds are a map {token amount} or a list of (token amount)",
                )
            })?
            .into_iter()
            .map(|p| match p.list_to_vec().as_deref() {
                Some([t, a]) => Ok((t.clone(), a.clone())),
                _ => Err(value_error(who, "each hold is (token amount)")),
            })
            .collect::<Result<_, _>>()?,
    };
    pairs
        .into_iter()
        .map(|(t, a)| {
            match (
                to_bigint(&t).and_then(|t| TokenId::try_from(t).ok()),
                to_bigint(&a),
            ) {
                (Some(t), Some(a)) => Ok((t, a)),
                _ => Err(value_error(
                    who,
                    "a hold is a non-negative token id and an integer amount",
                )),
            }
        })
        .collect()
}

/// `(account-submit! acct who 'kind args ...)`: one account tx proposed by `who`'s entity:
/// `'pay token amount`, `'set-credit token amount`, `'chain-delta token dc dd`,
/// `'open code holds params` (installs the code first if the account lacks it; returns
/// the new subcontract's id), `'call id method args`. Settles before it returns.
fn submit(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "account-submit!";
    let pair = account_arg(a, 0, who)?;
    let (me, peer) = chosen(a, 1, pair, who)?;
    let kind = match &a[2] {
        Value::Symbol(s) => s.name().to_string(),
        v => return Err(type_error(who, 2, "a transaction kind symbol", v)),
    };
    let args = &a[3..];
    let need = |n: usize| -> Result<(), LangError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(value_error(
                who,
                format!(
                    "`{kind}` takes {n} arguments after the kind, got {}",
                    args.len()
                ),
            ))
        }
    };
    let tx = match kind.as_str() {
        "pay" => {
            need(2)?;
            AccountTx::Pay {
                token: token_arg(args, 0, who)?,
                amount: amount_arg(args, 1, who)?,
            }
        }
        "set-credit" => {
            need(2)?;
            AccountTx::SetCreditLimit {
                token: token_arg(args, 0, who)?,
                amount: amount_arg(args, 1, who)?,
            }
        }
        "chain-delta" => {
            need(3)?;
            AccountTx::ChainDelta {
                token: token_arg(args, 0, who)?,
                collateral_change: amount_arg(args, 1, who)?,
                ondelta_change: amount_arg(args, 2, who)?,
            }
        }
        "open" => {
            need(3)?;
            let code = code_arg(interp, &args[0], who)?;
            let installed = with_side(interp, (me, peer), who, |acc| acc.has_code(&code.hash))?;
            if !installed {
                account_tx(
                    interp,
                    (me, peer),
                    AccountTx::InstallCode {
                        code: code.code.clone(),
                    },
                    who,
                )?;
            }
            let id = with_side(interp, (me, peer), who, |acc| acc.next_subcontract_id())?;
            let tx = AccountTx::OpenSubcontract {
                id,
                code: code.hash,
                holds: holds_from_value(&args[1], who)?,
                params: value_to_data(&args[2])?,
            };
            account_tx(interp, (me, peer), tx, who)?;
            return Ok(Value::from_bigint(BigInt::from(id)));
        }
        "call" => {
            need(3)?;
            let method = match &args[1] {
                Value::Symbol(s) => s.name().to_string(),
                v => return Err(type_error(who, 4, "a method name symbol", v)),
            };
            AccountTx::CallSubcontract {
                id: index_arg(args, 0, who)? as u64,
                method,
                args: value_to_data(&args[2])?,
            }
        }
        other => {
            return Err(
                value_error(who, format!("unknown transaction kind `{other}`"))
                    .with_hint("kinds: pay, set-credit, chain-delta, open, call"),
            )
        }
    };
    account_tx(interp, (me, peer), tx, who)?;
    Ok(Value::Void)
}

/// The refusal of a payment or tx, as the script error of its kind.
pub(crate) fn refusal(who: &str, kind: RejectionKind, reason: impl Into<String>) -> LangError {
    rejection_error(who, &Rejection::new(kind, reason))
}

fn hex_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(&format!(
        "0x{}",
        hex(crate::lang::builtins::bytes_arg(a, 0, "hex")?)
    )))
}

/// Whether both copies of an account agree (same committed state hash).
fn sides_agree(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "account-sides-agree?";
    let (l, r) = account_arg(a, 0, who)?;
    let left = with_side(interp, (l, r), who, |acc| acc.machine.state.state_hash())?;
    let right = with_side(interp, (r, l), who, |acc| acc.machine.state.state_hash())?;
    Ok(Value::Bool(left == right))
}

/// `(settle!)`: runs the simulator until nothing is under way (a synchronous checkpoint).
fn settle_prim(interp: &mut Interp, _: &[Value], _: Span) -> R {
    settle(interp, "settle!", "the network")?;
    Ok(Value::Void)
}

/// The HTLC code's hash (so scripts can recognise locks).
fn htlc_hash(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::bytes(&htlc_code_hash()))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "open-account", 2, Some(2), open_account, "(open-account a b): a opens an account with b, naming b's board; b's entity opens its side when a's note arrives (entities accept inbound accounts). Settles; returns the account (left = lower address).", "(define ab (open-account alice bob))";
    "account-between", 2, Some(2), between, "The account between two entities, or #f.", "(account-between alice bob)";
    "accounts", 0, Some(0), accounts, "Every account opened in the simulation.", "(length (accounts)) => 1";
    "account-parties", 1, Some(1), parties, "(left-entity right-entity) of an account.", "(account-parties ab)";
    "account-side", 2, Some(2), account_side, "'left or 'right: the entity's side in the account.", "(account-side ab alice) => left";
    "pay-direct!", 4, Some(4), pay_direct, "(pay-direct! from to amount token): a payment over their account — a frame of from's board, sealed to to's board, verified and countersigned. Beyond capacity it raises E030 naming side, token and bound.", "(pay-direct! alice bob 100 1)";
    "set-credit!", 4, Some(4), set_credit, "(set-credit! lender borrower token amount): the credit the lender extends to its peer.", "(set-credit! bob alice 1 1000)";
    "fund-collateral!", 4, Some(4), fund_collateral, "(fund-collateral! funder peer token amount): simulated chain-driven collateral from the funder's reserve (left funding raises ondelta too). With a chain connected use chain-fund!.", "(fund-collateral! alice bob 1 500)";
    "entity-balance", 2, Some(2), entity_balance, "What the entity holds in a token across its accounts (left: Δ; right: collateral − Δ), per its own copies.", "(entity-balance alice 1) => 100";
    "account-state", 1, Some(2), state, "Committed state (of the left's copy, or the given entity's) as a persistent map: deltas, subcontracts, codes, height, state-hash.", "(hash-ref (account-state ab) #:height)";
    "account-view", 3, Some(3), account_view, "The entity's capacity view of a token (DESIGN's formulas) as a map.", "(hash-ref (account-view ab alice 1) #:out-capacity)";
    "capacity-bar", 3, Some(3), capacity_bar, "An ASCII bar of the entity's capacity in a token.", "(displayln (capacity-bar ab alice 1))";
    "account-height", 1, Some(2), height, "Committed frame height (left's copy or the entity's).", "(account-height ab) => 2";
    "account-state-hash", 1, Some(2), state_hash, "Hash of the committed state (left's copy or the entity's).", "(equal? (account-state-hash ab alice) (account-state-hash ab bob)) => #t";
    "account-sides-agree?", 1, Some(1), sides_agree, "Do both entities' copies of the account have the same committed state?", "(account-sides-agree? ab) => #t";
    "account-pending?", 1, Some(2), pending, "Does the side have a frame in flight?", "(account-pending? ab alice) => #f";
    "account-mempool-size", 1, Some(2), mempool_size, "Account txs queued but not yet proposed.", "(account-mempool-size ab alice) => 0";
    "account-submit!", 3, None, submit, "(account-submit! acct who 'kind args ...): one account tx of who's entity — 'pay, 'set-credit, 'chain-delta, 'open code holds params (installs the code first; returns the id), 'call id method args. Settles; refusals raise coded errors.", "(account-submit! ab alice 'set-credit 1 50)";
    "subcontract-code", 1, Some(1), subcontract_code, "The code of '(subcontract NAME (METHOD (params args ctx) body ...) ...) as canonical text, checked by the sandbox (what define-subcontract binds).", "(subcontract-code '(subcontract noop (run (p a c) {})))";
    "builtin-subcontract", 1, Some(1), builtin_subcontract, "Subcontract code the protocol ships: 'htlc.", "(builtin-subcontract 'htlc)";
    "subcontract-kinds", 0, Some(0), subcontract_kinds, "Names of the subcontract codes this interpreter knows.", "(subcontract-kinds) => (htlc limit-order)";
    "htlc-code-hash", 0, Some(0), htlc_hash, "The keccak-256 of the HTLC subcontract's code.", "(bytes-length (htlc-code-hash)) => 32";
    "settle!", 0, Some(0), settle_prim, "Runs the simulator until nothing is under way (raises E034 if it does not settle).", "(settle!)";
    "hex", 1, Some(1), hex_string, "0x-prefixed hex text of bytes.", "(hex #x\"00ff\") => \"0x00ff\"";
];
