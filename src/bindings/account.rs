//! Account bindings: single-signer entities, bilateral accounts driven frame by frame
//! (propose, deliver, countersign), payments, credit, collateral, subcontracts whose
//! methods are written in the language, and inspection (state, capacity view, ASCII bar).

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use num_bigint::BigInt;

use super::data::{data_to_value, value_to_data};
use crate::account::{
    view, AccountError, AccountMachine, AccountMessage, AccountMessageBody, AccountTx, Reaction,
    Side, SubcontractCall, SubcontractEffect, SubcontractEngine, TokenId,
};
use crate::crypto::{Address, SecretKey};
use crate::lang::builtins::{index_arg, str_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::printer::hex;
use crate::lang::source::Span;
use crate::lang::symbol::Sym;
use crate::lang::value::{NativeObject, Primitive, Value};

type R = Result<Value, LangError>;

/// Steps a subcontract method may take before it is rejected (E009 inside, a failed tx outside).
pub const SUBCONTRACT_STEP_BUDGET: u64 = 100_000;
/// Rounds of deliver-and-propose `account-sync!` allows before reporting a livelock.
const SYNC_ROUNDS: usize = 10_000;

/// A single-signer entity (boards come with the entity layer).
pub struct EntityHandle {
    pub name: String,
    pub key: SecretKey,
    pub address: Address,
}

impl NativeObject for EntityHandle {
    fn type_name(&self) -> &'static str {
        "entity"
    }
    fn describe(&self) -> String {
        format!("#<entity {} {}>", self.name, self.address.to_checksum())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<EntityHandle>()
            .is_some_and(|e| e.address == self.address)
    }
}

/// Both sides of one account plus the messages in flight between them.
pub struct AccountPair {
    pub entities: [Rc<EntityHandle>; 2],
    pub machines: [AccountMachine; 2],
    pub in_flight: VecDeque<AccountMessage>,
    pub last_delivered: Option<AccountMessage>,
    pub time: u64,
    pub next_subcontract: u64,
}

pub struct AccountHandle(pub RefCell<AccountPair>);

impl NativeObject for AccountHandle {
    fn type_name(&self) -> &'static str {
        "account"
    }
    fn describe(&self) -> String {
        match self.0.try_borrow() {
            Ok(p) => format!(
                "#<account {} <-> {} height {}>",
                p.entities[0].name, p.entities[1].name, p.machines[0].state.height
            ),
            Err(_) => "#<account (busy)>".to_string(),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn index(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

fn side_symbol(side: Side) -> Value {
    Value::sym(match side {
        Side::Left => "left",
        Side::Right => "right",
    })
}

pub fn account_error(who: &str, e: &AccountError) -> LangError {
    let hint = match e.reaction() {
        Reaction::Ignore => "the message was a duplicate or stale; nothing changed",
        Reaction::Reject => "the transaction was rejected before signing; the account is unchanged",
        Reaction::ClosePeer => "the peer sent an invalid frame; a real node would stop trusting it",
    };
    LangError::new(Code::Value, format!("{who}: {e}")).with_hint(hint)
}

pub fn entity_arg(a: &[Value], i: usize, who: &str) -> Result<Rc<EntityHandle>, LangError> {
    if let Value::Native(n) = &a[i] {
        if n.as_any().downcast_ref::<EntityHandle>().is_some() {
            let rc: Rc<dyn NativeObject> = n.clone();
            let any: Rc<dyn Any> = as_any_rc(rc);
            if let Ok(e) = any.downcast::<EntityHandle>() {
                return Ok(e);
            }
        }
    }
    Err(type_error(who, i, "an entity (from make-entity)", &a[i]))
}

/// Upcasts a native handle to `Rc<dyn Any>` so it can be downcast to its concrete type.
fn as_any_rc(rc: Rc<dyn NativeObject>) -> Rc<dyn Any> {
    rc
}

fn account_arg(a: &[Value], i: usize, who: &str) -> Result<Rc<AccountHandle>, LangError> {
    if let Value::Native(n) = &a[i] {
        if let Ok(h) = as_any_rc(n.clone()).downcast::<AccountHandle>() {
            return Ok(h);
        }
    }
    Err(type_error(who, i, "an account (from open-account)", &a[i]))
}

fn amount_arg(a: &[Value], i: usize, who: &str) -> Result<BigInt, LangError> {
    to_bigint(&a[i]).ok_or_else(|| type_error(who, i, "an integer amount", &a[i]))
}

fn token_arg(a: &[Value], i: usize, who: &str) -> Result<TokenId, LangError> {
    Ok(index_arg(a, i, who)? as TokenId)
}

/// The side `entity` has in the account, or an error if it is not a party.
fn side_of(pair: &AccountPair, e: &EntityHandle, who: &str) -> Result<Side, LangError> {
    if pair.entities[0].address == e.address {
        Ok(Side::Left)
    } else if pair.entities[1].address == e.address {
        Ok(Side::Right)
    } else {
        Err(value_error(
            who,
            format!("{} is not a party to this account", e.name),
        ))
    }
}

/// Runs subcontract methods registered with `register-subcontract!` in the interpreter.
pub struct LangEngine<'a> {
    pub interp: &'a mut Interp,
    pub span: Span,
}

fn registry(interp: &mut Interp) -> &mut HashMap<String, Value> {
    let entry = interp
        .extensions
        .entry("subcontracts")
        .or_insert_with(|| Box::new(HashMap::<String, Value>::new()) as Box<dyn Any>);
    if !entry.is::<HashMap<String, Value>>() {
        *entry = Box::new(HashMap::<String, Value>::new());
    }
    entry
        .downcast_mut::<HashMap<String, Value>>()
        .expect("registry type checked above")
}

fn side_from_value(v: &Value, call: &SubcontractCall<'_>) -> Result<Side, String> {
    match v {
        Value::Symbol(s) => match &*s.name() {
            "left" => Ok(Side::Left),
            "right" => Ok(Side::Right),
            "owner" => Ok(call.owner),
            "peer" => Ok(call.owner.other()),
            "caller" => Ok(call.caller),
            other => Err(format!(
                "unknown side `{other}` (use left, right, owner, peer or caller)"
            )),
        },
        other => Err(format!(
            "a transfer's side must be a symbol, got {}",
            other.type_name()
        )),
    }
}

impl SubcontractEngine for LangEngine<'_> {
    fn call(&mut self, call: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
        let methods = registry(self.interp)
            .get(call.kind)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no subcontract kind `{}` is registered (require its module)",
                    call.kind
                )
            })?;
        let Value::Map(methods) = methods else {
            return Err("corrupt subcontract registry".into());
        };
        let method = methods
            .get(&Value::sym(call.method))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "subcontract `{}` has no method `{}`",
                    call.kind, call.method
                )
            })?;
        let k = |n: &str| Value::Keyword(Sym::new(n));
        let holds: imbl::OrdMap<Value, Value> = call
            .holds
            .iter()
            .map(|(t, a)| (Value::Int(*t as i64), Value::from_bigint(a.clone())))
            .collect();
        let ctx = Value::Map(Rc::new(
            [
                (k("caller"), side_symbol(call.caller)),
                (k("owner"), side_symbol(call.owner)),
                (k("height"), Value::Int(call.height as i64)),
                (k("timestamp"), Value::Int(call.timestamp as i64)),
                (k("holds"), Value::Map(Rc::new(holds))),
            ]
            .into_iter()
            .collect(),
        ));
        let saved_budget = self.interp.limits.step_budget;
        let budget = self.interp.steps.saturating_add(SUBCONTRACT_STEP_BUDGET);
        self.interp.limits.step_budget = Some(saved_budget.map_or(budget, |b| b.min(budget)));
        let result = self.interp.apply(
            &method,
            vec![data_to_value(call.params), data_to_value(call.args), ctx],
            self.span,
        );
        self.interp.limits.step_budget = saved_budget;
        let result = result.map_err(|e| e.message.clone())?;
        effect_from_value(&result, call)
    }
}

fn effect_from_value(v: &Value, call: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
    let Value::Map(m) = v else {
        return Err(format!(
            "a subcontract method returns {{#:transfers ... #:params ... #:close ...}}, got {}",
            v.type_name()
        ));
    };
    let get = |n: &str| m.get(&Value::Keyword(Sym::new(n))).cloned();
    let mut transfers = Vec::new();
    for t in get("transfers")
        .and_then(|t| t.list_to_vec())
        .unwrap_or_default()
    {
        match t.list_to_vec().as_deref() {
            Some([token, side, amount]) => {
                let token = match token {
                    Value::Int(n) if *n >= 0 => *n as TokenId,
                    _ => return Err("a transfer's token must be a non-negative integer".into()),
                };
                let amount = to_bigint(amount).ok_or("a transfer's amount must be an integer")?;
                transfers.push((token, side_from_value(side, call)?, amount));
            }
            _ => return Err("each transfer is (token side amount)".into()),
        }
    }
    let params = match get("params") {
        Some(p) => value_to_data(&p).map_err(|e| e.message.clone())?,
        None => call.params.clone(),
    };
    let close = get("close").is_some_and(|c| c.is_true());
    Ok(SubcontractEffect {
        transfers,
        params,
        close,
    })
}

impl AccountPair {
    /// Proposes from `side`; rejected transactions become an error naming the first one.
    pub(crate) fn propose(
        &mut self,
        side: Side,
        engine: &mut dyn SubcontractEngine,
        who: &str,
    ) -> Result<bool, LangError> {
        let i = index(side);
        let key = self.entities[i].key.clone();
        let outcome = self.machines[i]
            .propose(&key, self.time, engine)
            .map_err(|e| account_error(who, &e))?;
        let proposed = outcome.message.is_some();
        if let Some(m) = outcome.message {
            self.in_flight.push_back(m);
        }
        if let Some((_, e)) = outcome.rejected.first() {
            return Err(account_error(who, e));
        }
        Ok(proposed)
    }

    /// Delivers the oldest message in flight; returns its kind, or None if there was none.
    fn deliver(
        &mut self,
        engine: &mut dyn SubcontractEngine,
        who: &str,
    ) -> Result<Option<&'static str>, LangError> {
        let Some(msg) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        let kind = match msg.body {
            AccountMessageBody::Propose { .. } => "propose",
            AccountMessageBody::Ack { .. } => "ack",
        };
        let to = if msg.to == self.entities[0].address {
            0
        } else {
            1
        };
        let key = self.entities[to].key.clone();
        let replies = self.machines[to]
            .receive(&key, &msg, engine)
            .map_err(|e| account_error(who, &e))?;
        self.last_delivered = Some(msg);
        self.in_flight.extend(replies);
        Ok(Some(kind))
    }

    /// Delivers and proposes until nothing is in flight and both mempools are empty.
    pub(crate) fn sync(
        &mut self,
        engine: &mut dyn SubcontractEngine,
        who: &str,
    ) -> Result<(), LangError> {
        for _ in 0..SYNC_ROUNDS {
            while self.deliver(engine, who)?.is_some() {}
            let mut proposed = false;
            for side in [Side::Left, Side::Right] {
                if !self.machines[index(side)].mempool.is_empty()
                    && self.machines[index(side)].pending.is_none()
                {
                    proposed |= self.propose(side, engine, who)?;
                }
            }
            if !proposed && self.in_flight.is_empty() {
                return Ok(());
            }
        }
        Err(value_error(
            who,
            format!("the account did not settle within {SYNC_ROUNDS} rounds"),
        ))
    }
}

/// Borrows the account mutably, runs `f` with a language engine, and reports reentrancy.
fn with_account<T>(
    interp: &mut Interp,
    acct: &AccountHandle,
    span: Span,
    who: &str,
    f: impl FnOnce(&mut AccountPair, &mut LangEngine<'_>) -> Result<T, LangError>,
) -> Result<T, LangError> {
    let mut pair = acct.0.try_borrow_mut().map_err(|_| {
        value_error(
            who,
            "the account is busy: a subcontract cannot act on the account running it",
        )
    })?;
    let mut engine = LangEngine { interp, span };
    f(&mut pair, &mut engine)
}

/// Every account opened in this interpreter, by its parties' addresses (left, right):
/// payments and routing find accounts here.
#[derive(Default)]
pub struct Network {
    pub accounts: BTreeMap<(Address, Address), Rc<AccountHandle>>,
}

pub fn network(interp: &mut Interp) -> &mut Network {
    let entry = interp
        .extensions
        .entry("network")
        .or_insert_with(|| Box::new(Network::default()) as Box<dyn Any>);
    if !entry.is::<Network>() {
        *entry = Box::new(Network::default());
    }
    entry
        .downcast_mut::<Network>()
        .expect("network type checked above")
}

fn ordered(a: &EntityHandle, b: &EntityHandle) -> (Address, Address) {
    if a.address.as_bytes() < b.address.as_bytes() {
        (a.address, b.address)
    } else {
        (b.address, a.address)
    }
}

/// The account between two entities, or an error that says how to open one.
pub fn account_between(
    interp: &mut Interp,
    a: &EntityHandle,
    b: &EntityHandle,
    who: &str,
) -> Result<Rc<AccountHandle>, LangError> {
    network(interp)
        .accounts
        .get(&ordered(a, b))
        .cloned()
        .ok_or_else(|| {
            value_error(who, format!("{} and {} have no account", a.name, b.name)).with_hint(
                "open one with (open-account a b), or (require network) to pay through hubs",
            )
        })
}

fn make_entity(_: &mut Interp, a: &[Value], _: Span) -> R {
    let name = str_arg(a, 0, "make-entity")?.to_string();
    let key = SecretKey::from_seed(name.as_bytes());
    let address = key.address();
    Ok(Value::Native(Rc::new(EntityHandle { name, key, address })))
}
fn entity_address(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(
        entity_arg(a, 0, "entity-address")?.address.as_bytes(),
    ))
}
fn entity_name(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(&entity_arg(a, 0, "entity-name")?.name))
}
fn open_account(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let x = entity_arg(a, 0, "open-account")?;
    let y = entity_arg(a, 1, "open-account")?;
    if x.address == y.address {
        return Err(value_error(
            "open-account",
            "an account needs two different entities",
        ));
    }
    if network(interp).accounts.contains_key(&ordered(&x, &y)) {
        return Err(value_error(
            "open-account",
            format!("{} and {} already have an account", x.name, y.name),
        )
        .with_hint("use (account-between a b) to get it"));
    }
    let key = ordered(&x, &y);
    let (left, right) = if x.address.as_bytes() < y.address.as_bytes() {
        (x, y)
    } else {
        (y, x)
    };
    let machines = [
        AccountMachine::new(left.address, right.address),
        AccountMachine::new(right.address, left.address),
    ];
    let pair = AccountPair {
        entities: [left, right],
        machines,
        in_flight: VecDeque::new(),
        last_delivered: None,
        time: 0,
        next_subcontract: 1,
    };
    let handle = Rc::new(AccountHandle(RefCell::new(pair)));
    network(interp).accounts.insert(key, handle.clone());
    Ok(Value::Native(handle))
}
fn between(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let x = entity_arg(a, 0, "account-between")?;
    let y = entity_arg(a, 1, "account-between")?;
    Ok(match network(interp).accounts.get(&ordered(&x, &y)) {
        Some(h) => Value::Native(h.clone()),
        None => Value::Bool(false),
    })
}
fn accounts(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::list(
        network(interp)
            .accounts
            .values()
            .map(|h| Value::Native(h.clone()))
            .collect::<Vec<_>>(),
    ))
}
fn parties(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "account-parties")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("account-parties", "the account is busy"))?;
    Ok(Value::list(
        pair.entities
            .iter()
            .map(|e| Value::Native(e.clone()))
            .collect::<Vec<_>>(),
    ))
}
fn account_side(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "account-side")?;
    let e = entity_arg(a, 1, "account-side")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("account-side", "the account is busy"))?;
    Ok(side_symbol(side_of(&pair, &e, "account-side")?))
}

/// Parses `(account-enqueue! acct entity 'kind args ...)` into a transaction.
fn tx_from_args(
    kind: &str,
    args: &[Value],
    who: &str,
    next_id: &mut u64,
) -> Result<AccountTx, LangError> {
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
    Ok(match kind {
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
            let kind = match &args[0] {
                Value::Symbol(s) => s.name().to_string(),
                Value::Str(s) => s.to_string(),
                v => return Err(type_error(who, 0, "a subcontract kind", v)),
            };
            let holds = holds_from_value(&args[1], who)?;
            let id = *next_id;
            *next_id += 1;
            AccountTx::OpenSubcontract {
                id,
                kind,
                holds,
                params: value_to_data(&args[2])?,
            }
        }
        "call" => {
            need(3)?;
            let id = index_arg(args, 0, who)? as u64;
            let method = match &args[1] {
                Value::Symbol(s) => s.name().to_string(),
                v => return Err(type_error(who, 1, "a method name symbol", v)),
            };
            AccountTx::CallSubcontract {
                id,
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
    })
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
        .map(|(t, a)| match (&t, to_bigint(&a)) {
            (Value::Int(t), Some(a)) if *t >= 0 => Ok((*t as TokenId, a)),
            _ => Err(value_error(
                who,
                "a hold is a non-negative token id and an integer amount",
            )),
        })
        .collect()
}

fn enqueue(interp: &mut Interp, a: &[Value], span: Span) -> R {
    enqueue_as(interp, a, span, "account-enqueue!")
}

fn enqueue_as(interp: &mut Interp, a: &[Value], span: Span, who: &str) -> R {
    let acct = account_arg(a, 0, who)?;
    let e = entity_arg(a, 1, who)?;
    let kind = match &a[2] {
        Value::Symbol(s) => s.name().to_string(),
        v => return Err(type_error(who, 2, "a transaction kind symbol", v)),
    };
    if kind == "open" {
        let sub_kind = match a.get(3) {
            Some(Value::Symbol(s)) => s.name().to_string(),
            Some(Value::Str(s)) => s.to_string(),
            _ => String::new(),
        };
        if !registry(interp).contains_key(&sub_kind) {
            return Err(value_error(who, format!("no subcontract kind `{sub_kind}` is registered"))
                .with_hint("define it with define-subcontract, or require the module that does (htlc, limit-order)"));
        }
    }
    with_account(interp, &acct, span, who, |pair, _| {
        let side = side_of(pair, &e, who)?;
        let mut next = pair.next_subcontract;
        let tx = tx_from_args(&kind, &a[3..], who, &mut next)?;
        let id = match &tx {
            AccountTx::OpenSubcontract { id, .. } => Value::Int(*id as i64),
            _ => Value::Void,
        };
        pair.next_subcontract = next;
        pair.machines[index(side)].enqueue(tx);
        Ok(id)
    })
}

/// `(account-submit! acct entity 'kind args ...)`: enqueue, propose and sync in one step.
fn submit(interp: &mut Interp, a: &[Value], span: Span) -> R {
    submit_as(interp, a, span, "account-submit!")
}

fn submit_as(interp: &mut Interp, a: &[Value], span: Span, who: &str) -> R {
    let id = enqueue_as(interp, a, span, who)?;
    let acct = account_arg(a, 0, who)?;
    let e = entity_arg(a, 1, who)?;
    with_account(interp, &acct, span, who, |pair, engine| {
        let side = side_of(pair, &e, who)?;
        if pair.machines[index(side)].pending.is_none() {
            pair.propose(side, engine, who)?;
        }
        pair.sync(engine, who)?;
        Ok(id)
    })
}

/// Resolves `(from to ...)` to the account between them, as a value for `submit`.
fn pair_account(interp: &mut Interp, a: &[Value], who: &str) -> Result<Value, LangError> {
    let from = entity_arg(a, 0, who)?;
    let to = entity_arg(a, 1, who)?;
    Ok(Value::Native(account_between(interp, &from, &to, who)?))
}
/// `(pay! from to amount token)`: a direct payment over the account between them.
fn pay(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = pair_account(interp, a, "pay!")?;
    submit_as(
        interp,
        &[
            acct,
            a[0].clone(),
            Value::sym("pay"),
            a[3].clone(),
            a[2].clone(),
        ],
        span,
        "pay!",
    )
}
/// `(set-credit! lender borrower token amount)`: the lender extends credit to its peer.
fn set_credit(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = pair_account(interp, a, "set-credit!")?;
    submit_as(
        interp,
        &[
            acct,
            a[0].clone(),
            Value::sym("set-credit"),
            a[2].clone(),
            a[3].clone(),
        ],
        span,
        "set-credit!",
    )
}
/// `(fund-collateral! funder peer token amount)`: chain-driven; collateral +x, and ondelta
/// +x when the left funds it (that collateral is the left's).
fn fund_collateral(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = pair_account(interp, a, "fund-collateral!")?;
    let funder = entity_arg(a, 0, "fund-collateral!")?;
    let (left, _) = ordered(&funder, &*entity_arg(a, 1, "fund-collateral!")?);
    let ondelta = if left == funder.address {
        a[3].clone()
    } else {
        Value::Int(0)
    };
    submit_as(
        interp,
        &[
            acct,
            a[0].clone(),
            Value::sym("chain-delta"),
            a[2].clone(),
            a[3].clone(),
            ondelta,
        ],
        span,
        "fund-collateral!",
    )
}
fn propose(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = account_arg(a, 0, "account-propose!")?;
    let e = entity_arg(a, 1, "account-propose!")?;
    with_account(interp, &acct, span, "account-propose!", |pair, engine| {
        let side = side_of(pair, &e, "account-propose!")?;
        pair.propose(side, engine, "account-propose!")
            .map(Value::Bool)
    })
}
fn deliver(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = account_arg(a, 0, "account-deliver!")?;
    with_account(interp, &acct, span, "account-deliver!", |pair, engine| {
        Ok(match pair.deliver(engine, "account-deliver!")? {
            Some(kind) => Value::sym(kind),
            None => Value::Bool(false),
        })
    })
}
fn sync(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = account_arg(a, 0, "account-sync!")?;
    with_account(interp, &acct, span, "account-sync!", |pair, engine| {
        pair.sync(engine, "account-sync!").map(|_| Value::Void)
    })
}
/// Delivers the last delivered message again (a replay); the receiver must refuse it.
fn redeliver(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let acct = account_arg(a, 0, "account-redeliver!")?;
    with_account(interp, &acct, span, "account-redeliver!", |pair, engine| {
        let msg = pair
            .last_delivered
            .clone()
            .ok_or_else(|| value_error("account-redeliver!", "nothing was delivered yet"))?;
        pair.in_flight.push_front(msg);
        pair.deliver(engine, "account-redeliver!")
            .map(|_| Value::Void)
    })
}
fn in_flight(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "account-in-flight")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("account-in-flight", "the account is busy"))?;
    let items = pair
        .in_flight
        .iter()
        .map(|m| {
            let from = if m.from == pair.entities[0].address {
                "left"
            } else {
                "right"
            };
            let (kind, height) = match &m.body {
                AccountMessageBody::Propose { frame, .. } => ("propose", frame.height),
                AccountMessageBody::Ack { height, .. } => ("ack", *height),
            };
            Value::list(vec![
                Value::sym(kind),
                Value::sym(from),
                Value::Int(height as i64),
            ])
        })
        .collect::<Vec<_>>();
    Ok(Value::list(items))
}
fn advance_time(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "advance-time!")?;
    let dt = index_arg(a, 1, "advance-time!")? as u64;
    let mut pair = acct
        .0
        .try_borrow_mut()
        .map_err(|_| value_error("advance-time!", "the account is busy"))?;
    pair.time = pair.time.saturating_add(dt);
    Ok(Value::Int(pair.time as i64))
}
/// Advances every account's input clock (a network-wide time step).
fn network_advance_time(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let dt = index_arg(a, 0, "network-advance-time!")? as u64;
    for acct in network(interp).accounts.values() {
        let mut pair = acct
            .0
            .try_borrow_mut()
            .map_err(|_| value_error("network-advance-time!", "an account is busy"))?;
        pair.time = pair.time.saturating_add(dt);
    }
    Ok(Value::Void)
}
/// What an entity holds in a token across all its accounts: in each account the left
/// holds Δ and the right holds collateral − Δ.
fn entity_balance(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "entity-balance")?;
    let token = token_arg(a, 1, "entity-balance")?;
    let mut total = BigInt::from(0);
    for acct in network(interp).accounts.values() {
        let pair = acct
            .0
            .try_borrow()
            .map_err(|_| value_error("entity-balance", "an account is busy"))?;
        let Ok(side) = side_of(&pair, &e, "entity-balance") else {
            continue;
        };
        let d = pair.machines[index(side)].state.delta(token);
        total += match side {
            Side::Left => d.delta(),
            Side::Right => &d.collateral - d.delta(),
        };
    }
    Ok(Value::from_bigint(total))
}
fn account_time(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "account-time")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("account-time", "the account is busy"))?;
    Ok(Value::Int(pair.time as i64))
}

pub fn kw(n: &str) -> Value {
    Value::Keyword(Sym::new(n))
}
pub fn map_of(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(Rc::new(
        entries.into_iter().map(|(k, v)| (kw(k), v)).collect(),
    ))
}
fn int(n: &BigInt) -> Value {
    Value::from_bigint(n.clone())
}

/// The side whose copy to inspect: an entity argument, or the left side by default.
fn chosen_side(pair: &AccountPair, a: &[Value], i: usize, who: &str) -> Result<Side, LangError> {
    match a.get(i) {
        Some(_) => side_of(pair, &*entity_arg(a, i, who)?, who),
        None => Ok(Side::Left),
    }
}

fn state(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "account-state")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("account-state", "the account is busy"))?;
    let side = chosen_side(&pair, a, 1, "account-state")?;
    let s = &pair.machines[index(side)].state;
    let deltas = s
        .deltas
        .iter()
        .map(|(t, d)| {
            (
                Value::Int(*t as i64),
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
                .map(|(t, x)| (Value::Int(*t as i64), int(x)))
                .collect();
            (
                Value::Int(*id as i64),
                map_of(vec![
                    ("kind", Value::string(&sc.kind)),
                    ("owner", side_symbol(sc.owner)),
                    ("holds", Value::Map(Rc::new(holds))),
                    ("params", data_to_value(&sc.params)),
                ]),
            )
        })
        .collect();
    Ok(map_of(vec![
        ("left", Value::string(&pair.entities[0].name)),
        ("right", Value::string(&pair.entities[1].name)),
        ("height", Value::Int(s.height as i64)),
        ("timestamp", Value::Int(s.timestamp as i64)),
        ("deltas", Value::Map(Rc::new(deltas))),
        ("subcontracts", Value::Map(Rc::new(subs))),
        ("state-hash", Value::bytes(&s.state_hash())),
    ]))
}

fn view_value(v: &crate::account::CapacityView) -> Value {
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

fn account_view(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "account-view")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("account-view", "the account is busy"))?;
    let side = side_of(&pair, &*entity_arg(a, 1, "account-view")?, "account-view")?;
    let token = token_arg(a, 2, "account-view")?;
    let d = pair.machines[index(side)].state.delta(token);
    Ok(view_value(&view(&d, side)))
}

/// An ASCII bar of one side's capacity: `#` what it can send, `.` what it can receive,
/// `|` where the balance sits, with the figures after it.
pub fn capacity_bar_text(
    v: &crate::account::CapacityView,
    name: &str,
    token: TokenId,
    width: usize,
) -> String {
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

fn capacity_bar(_: &mut Interp, a: &[Value], _: Span) -> R {
    let acct = account_arg(a, 0, "capacity-bar")?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error("capacity-bar", "the account is busy"))?;
    let e = entity_arg(a, 1, "capacity-bar")?;
    let side = side_of(&pair, &e, "capacity-bar")?;
    let token = token_arg(a, 2, "capacity-bar")?;
    let d = pair.machines[index(side)].state.delta(token);
    Ok(Value::string(&capacity_bar_text(
        &view(&d, side),
        &e.name,
        token,
        40,
    )))
}

fn machine_field(a: &[Value], who: &str, f: impl Fn(&AccountMachine) -> Value) -> R {
    let acct = account_arg(a, 0, who)?;
    let pair = acct
        .0
        .try_borrow()
        .map_err(|_| value_error(who, "the account is busy"))?;
    let side = chosen_side(&pair, a, 1, who)?;
    Ok(f(&pair.machines[index(side)]))
}
fn height(_: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(a, "account-height", |m| Value::Int(m.state.height as i64))
}
fn state_hash(_: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(a, "account-state-hash", |m| {
        Value::bytes(&m.state.state_hash())
    })
}
fn pending(_: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(a, "account-pending?", |m| Value::Bool(m.pending.is_some()))
}
fn mempool_size(_: &mut Interp, a: &[Value], _: Span) -> R {
    machine_field(a, "account-mempool-size", |m| {
        Value::Int(m.mempool.len() as i64)
    })
}

fn register_subcontract(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let name = match &a[0] {
        Value::Symbol(s) => s.name().to_string(),
        Value::Str(s) => s.to_string(),
        v => {
            return Err(type_error(
                "register-subcontract!",
                0,
                "a subcontract name",
                v,
            ))
        }
    };
    match &a[1] {
        Value::Map(m)
            if m.values().all(Value::is_procedure)
                && m.keys().all(|k| matches!(k, Value::Symbol(_))) => {}
        v => {
            return Err(type_error(
                "register-subcontract!",
                1,
                "a map from method symbols to procedures",
                v,
            ))
        }
    }
    registry(interp).insert(name.clone(), a[1].clone());
    Ok(Value::sym(&name))
}
fn subcontract_kinds(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let mut names: Vec<String> = registry(interp).keys().cloned().collect();
    names.sort();
    Ok(Value::list(
        names.iter().map(|n| Value::sym(n)).collect::<Vec<_>>(),
    ))
}
fn hex_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(&format!(
        "0x{}",
        hex(crate::lang::builtins::bytes_arg(a, 0, "hex")?)
    )))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "make-entity", 1, Some(1), make_entity, "A single-signer entity whose key derives from its name (deterministic).", "(make-entity \"alice\")";
    "entity-address", 1, Some(1), entity_address, "The entity's 20-byte address (accounts order sides by it).", "(entity-address alice)";
    "entity-name", 1, Some(1), entity_name, "The entity's name.", "(entity-name alice) => \"alice\"";
    "open-account", 2, Some(2), open_account, "A bilateral account between two entities (left = lower address).", "(define ab (open-account alice bob))";
    "account-side", 2, Some(2), account_side, "'left or 'right: the entity's side in the account.", "(account-side ab alice) => left";
    "pay!", 4, Some(4), pay, "(pay! from to amount token): a direct payment as a signed frame, verified and countersigned. Beyond capacity it raises, naming side, token and bound. (require network) extends it to routed payments.", "(pay! alice bob 100 1)";
    "pay-direct!", 4, Some(4), pay, "Same as the builtin pay!: a payment over the direct account only (network.xln's pay! falls back to it).", "(pay-direct! alice bob 100 1)";
    "set-credit!", 4, Some(4), set_credit, "(set-credit! lender borrower token amount): the credit the lender extends to its peer.", "(set-credit! bob alice 1 1000)";
    "fund-collateral!", 4, Some(4), fund_collateral, "(fund-collateral! funder peer token amount): chain-driven collateral from the funder's reserve (left funding raises ondelta too).", "(fund-collateral! alice bob 1 500)";
    "account-between", 2, Some(2), between, "The account between two entities, or #f.", "(account-between alice bob)";
    "accounts", 0, Some(0), accounts, "Every account opened in this interpreter.", "(length (accounts)) => 1";
    "account-parties", 1, Some(1), parties, "(left-entity right-entity) of an account.", "(account-parties ab)";
    "account-enqueue!", 3, None, enqueue, "Queues a tx on one side without proposing: 'pay 'set-credit 'chain-delta 'open 'call. Returns a new subcontract's id.", "(account-enqueue! ab alice 'pay 1 10)";
    "account-submit!", 3, None, submit, "Queues a tx, proposes it and syncs the account until quiet.", "(account-submit! ab alice 'set-credit 1 50)";
    "account-propose!", 2, Some(2), propose, "The entity proposes a frame from its mempool; #f if one is already in flight or nothing is queued.", "(account-propose! ab alice) => #t";
    "account-deliver!", 1, Some(1), deliver, "Delivers the oldest message in flight; returns 'propose or 'ack, or #f if none.", "(account-deliver! ab) => propose";
    "account-sync!", 1, Some(1), sync, "Delivers and proposes until nothing is in flight and both mempools are empty.", "(account-sync! ab)";
    "account-redeliver!", 1, Some(1), redeliver, "Replays the last delivered message; the receiver refuses it (raises).", "(test-error (account-redeliver! ab))";
    "account-in-flight", 1, Some(1), in_flight, "Messages in flight as (kind from height).", "(account-in-flight ab) => ((propose left 3))";
    "advance-time!", 2, Some(2), advance_time, "Moves the account's input clock forward; frames carry it as their timestamp.", "(advance-time! ab 10) => 10";
    "network-advance-time!", 1, Some(1), network_advance_time, "Advances every account's input clock by dt.", "(network-advance-time! 100)";
    "entity-balance", 2, Some(2), entity_balance, "What the entity holds in a token across its accounts (left: Δ; right: collateral − Δ).", "(entity-balance alice 1) => 100";
    "account-time", 1, Some(1), account_time, "The account's input clock.", "(account-time ab) => 0";
    "account-state", 1, Some(2), state, "Committed state (of the left's copy, or the given entity's) as a persistent map.", "(hash-ref (account-state ab) #:height)";
    "account-view", 3, Some(3), account_view, "The entity's capacity view of a token (DESIGN's formulas) as a map.", "(hash-ref (account-view ab alice 1) #:out-capacity)";
    "capacity-bar", 3, Some(3), capacity_bar, "An ASCII bar of the entity's capacity in a token.", "(displayln (capacity-bar ab alice 1))";
    "account-height", 1, Some(2), height, "Committed frame height (left's copy or the entity's).", "(account-height ab) => 2";
    "account-state-hash", 1, Some(2), state_hash, "Hash of the committed state (left's copy or the entity's).", "(equal? (account-state-hash ab alice) (account-state-hash ab bob)) => #t";
    "account-pending?", 1, Some(2), pending, "Does the side have a frame in flight?", "(account-pending? ab alice) => #f";
    "account-mempool-size", 1, Some(2), mempool_size, "Transactions queued but not yet proposed.", "(account-mempool-size ab alice) => 0";
    "register-subcontract!", 2, Some(2), register_subcontract, "Registers a subcontract kind: a map from method names to (lambda (params args ctx) ...). See define-subcontract.", "(register-subcontract! 'noop (hash 'run (lambda (p a c) {})))";
    "subcontract-kinds", 0, Some(0), subcontract_kinds, "Names of the registered subcontract kinds.", "(subcontract-kinds) => (htlc limit-order)";
    "hex", 1, Some(1), hex_string, "0x-prefixed hex text of bytes.", "(hex #x\"00ff\") => \"0x00ff\"";
];
