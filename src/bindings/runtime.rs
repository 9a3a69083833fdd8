//! Runtime bindings: the deterministic simulator from scripts — BFT entities with boards,
//! transactions and their outcomes, a seeded lossy network, byzantine replicas, ticks, and
//! inspection (heights, state hashes per replica, reserves, evidence, the timeline).

use std::any::Any;
use std::rc::Rc;

use num_bigint::BigInt;

use crate::entity::{EntityTx, Holder, ProposalAction, Rejection};
use crate::lang::builtins::{index_arg, str_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, Primitive, Value};
use crate::runtime::{Behaviour, Runtime, RuntimeError, RuntimeInput, RuntimeOutput, TxOutcome};

type R = Result<Value, LangError>;

/// Ticks `run-until-quiet!` allows by default before it reports that the system is not quiet.
const QUIET_TICKS_DEFAULT: u64 = 10_000;

/// The simulator of one interpreter plus the names scripts gave its entities.
pub struct SimState {
    pub runtime: Runtime,
    pub names: Vec<String>,
}

pub(crate) fn sim(interp: &mut Interp) -> &mut SimState {
    let entry = interp.extensions.entry("runtime").or_insert_with(|| {
        Box::new(SimState {
            runtime: Runtime::new(0),
            names: Vec::new(),
        }) as Box<dyn Any>
    });
    if !entry.is::<SimState>() {
        *entry = Box::new(SimState {
            runtime: Runtime::new(0),
            names: Vec::new(),
        });
    }
    entry
        .downcast_mut::<SimState>()
        .expect("runtime state type checked above")
}

/// The timeline as JSON lines, if the script used the simulator (for `--timeline`).
pub fn timeline_json(interp: &Interp) -> Option<String> {
    interp
        .extensions
        .get("runtime")
        .and_then(|b| b.downcast_ref::<SimState>())
        .map(|s| s.runtime.to_json_lines())
}

/// A script's handle to an entity of the simulator: a board of one validator (a person)
/// or of many (an organisation). The one kind of entity there is.
pub struct Entity {
    pub index: usize,
    pub name: String,
}

impl NativeObject for Entity {
    fn type_name(&self) -> &'static str {
        "entity"
    }
    fn describe(&self) -> String {
        format!("#<entity {} #{}>", self.name, self.index)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<Entity>()
            .is_some_and(|e| e.index == self.index)
    }
}

/// The runtime index of the entity argument `i`.
pub(crate) fn entity_arg(a: &[Value], i: usize, who: &str) -> Result<usize, LangError> {
    match &a[i] {
        Value::Native(n) => n
            .as_any()
            .downcast_ref::<Entity>()
            .map(|e| e.index)
            .ok_or_else(|| type_error(who, i, "an entity", &a[i])),
        v => Err(type_error(who, i, "an entity (from make-entity)", v)),
    }
}

/// The script value for entity `index`.
pub(crate) fn entity_value(interp: &mut Interp, index: usize) -> Value {
    let name = sim(interp)
        .runtime
        .entity_name(index)
        .unwrap_or("?")
        .to_string();
    Value::Native(Rc::new(Entity { index, name }))
}

/// The name of entity `index`, for messages.
pub(crate) fn entity_name_of(interp: &mut Interp, index: usize) -> String {
    sim(interp)
        .runtime
        .entity_name(index)
        .unwrap_or("?")
        .to_string()
}

/// Ticks a synchronous operation (`pay!`, `open-account`, ...) lets the simulator run
/// before it reports that the network did not settle.
pub const SETTLE_TICKS_DEFAULT: u64 = 20_000;

/// Runs the simulator until quiet (a logged input), or fails naming `what` did not settle.
pub(crate) fn settle(interp: &mut Interp, who: &str, what: &str) -> Result<(), LangError> {
    let input = RuntimeInput::RunUntilQuiet {
        max_ticks: SETTLE_TICKS_DEFAULT,
    };
    match apply(interp, input, who)? {
        RuntimeOutput::Quiet(true) => Ok(()),
        _ => Err(LangError::new(
            Code::Timeout,
            format!("{who}: {what} did not settle within {SETTLE_TICKS_DEFAULT} ticks"),
        )
        .with_hint("a partitioned or silent party holds it up; (run-ticks! n) and retry, or heal the network")),
    }
}

/// The script error for a protocol refusal: one code per kind (E030–E036).
pub(crate) fn rejection_error(who: &str, r: &Rejection) -> LangError {
    use crate::entity::RejectionKind as K;
    let code = match r.kind {
        K::Capacity => Code::Capacity,
        K::Replay => Code::Replay,
        K::BadSignature => Code::BadSignature,
        K::Subcontract => Code::Subcontract,
        K::Timeout => Code::Timeout,
        K::Route => Code::Route,
        K::Unknown | K::Invalid | K::Reserve | K::Refused => Code::Refused,
    };
    LangError::new(code, format!("{who}: {}", r.reason))
}

/// Submits `tx` to entity `entity`, lets the network settle, and fails with the tx's own
/// refusal (coded by kind) if its board rejected it. Returns the tx hash.
pub(crate) fn submit_and_settle(
    interp: &mut Interp,
    entity: usize,
    tx: EntityTx,
    who: &str,
) -> Result<[u8; 32], LangError> {
    let hash = submit_tx(interp, entity, tx, who)?;
    settle(interp, who, "the transaction")?;
    match sim(interp).runtime.outcome(&hash) {
        Some(TxOutcome::Applied { .. }) => Ok(hash),
        Some(TxOutcome::Rejected { rejection, .. }) => Err(rejection_error(who, rejection)),
        Some(TxOutcome::Dropped { reason }) => Err(LangError::new(
            Code::Refused,
            format!("{who}: the transaction was dropped: {reason}"),
        )),
        None => Err(LangError::new(
            Code::Timeout,
            format!("{who}: the transaction has not committed"),
        )),
    }
}

/// Applies `input` to the interpreter's runtime: THE way the bindings change it, so that a
/// store attached with `open-store!` or `xln run --store` logs every accepted input.
fn apply(interp: &mut Interp, input: RuntimeInput, who: &str) -> Result<RuntimeOutput, LangError> {
    crate::bindings::storage::apply(interp, input, who)
}

/// Submits `tx` to simulated entity `entity` through the one input path (logged when a
/// store is open); returns its hash.
pub(crate) fn submit_tx(
    interp: &mut Interp,
    entity: usize,
    tx: EntityTx,
    who: &str,
) -> Result<[u8; 32], LangError> {
    let input = RuntimeInput::Submit {
        entity: entity as u64,
        tx,
    };
    match apply(interp, input, who)? {
        RuntimeOutput::TxHash(hash) => Ok(hash),
        _ => Err(value_error(who, "the runtime returned no tx hash")),
    }
}

pub(crate) fn runtime_error(who: &str, e: RuntimeError) -> LangError {
    LangError::new(Code::Value, format!("{who}: {e}"))
}

fn amount(a: &[Value], i: usize, who: &str) -> Result<BigInt, LangError> {
    to_bigint(&a[i]).ok_or_else(|| type_error(who, i, "an integer amount", &a[i]))
}

fn holder(v: &Value, i: usize, who: &str) -> Result<Holder, LangError> {
    match v {
        Value::Str(s) => Ok(Holder::Name(s.to_string())),
        Value::Symbol(s) => Ok(Holder::Name(s.name().to_string())),
        v => Err(type_error(who, i, "a holder name", v)),
    }
}

/// Trailing `#:key value` pairs of a primitive call.
pub(crate) fn keyword_args(
    a: &[Value],
    from: usize,
    who: &str,
) -> Result<Vec<(String, Value)>, LangError> {
    let mut out = Vec::new();
    let mut i = from;
    while i < a.len() {
        match (&a[i], a.get(i + 1)) {
            (Value::Keyword(k), Some(v)) => out.push((k.name().to_string(), v.clone())),
            _ => return Err(value_error(who, "expected #:keyword value pairs")),
        }
        i += 2;
    }
    Ok(out)
}

fn reset(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let seed = match a.first() {
        Some(_) => index_arg(a, 0, "sim-reset!")? as u64,
        None => 0,
    };
    apply(interp, RuntimeInput::Reset { seed }, "sim-reset!")?;
    sim(interp).names.clear();
    Ok(Value::Void)
}
fn seed(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Int(sim(interp).runtime.seed() as i64))
}
fn now(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Int(sim(interp).runtime.now() as i64))
}
/// `(make-entity name [validators threshold] [#:reserves ((holder token amount) ...)])`: an
/// entity of the simulator — one validator by default (a person), or a board of
/// `validators` equal shares deciding at `threshold`. Validator keys derive from the seed.
fn make_entity(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "make-entity";
    let name = str_arg(a, 0, who)?.to_string();
    let (validators, threshold, rest) = match a.get(1) {
        Some(Value::Keyword(_)) | None => (1, 1, 1),
        Some(_) if a.len() >= 3 => (index_arg(a, 1, who)?, index_arg(a, 2, who)? as u64, 3),
        Some(_) => {
            return Err(
                value_error(who, "give both the number of validators and the threshold")
                    .with_hint("(make-entity \"hub\" 4 3), or (make-entity \"alice\") for one key"),
            )
        }
    };
    let mut reserves = Vec::new();
    for (k, v) in keyword_args(a, rest, who)? {
        if k != "reserves" {
            return Err(
                value_error(who, format!("unknown option #:{k}")).with_hint("options: #:reserves")
            );
        }
        reserves = reserves_arg(&v, who)?;
    }
    let input = RuntimeInput::AddEntity {
        name: name.clone(),
        validators: validators as u64,
        threshold,
        reserves,
    };
    let RuntimeOutput::Entity(index) = apply(interp, input, who)? else {
        return Err(value_error(who, "the runtime did not add an entity"));
    };
    sim(interp).names.push(name.clone());
    Ok(Value::Native(Rc::new(Entity { index, name })))
}

fn reserves_arg(list: &Value, who: &str) -> Result<Vec<(Holder, u64, BigInt)>, LangError> {
    let mut reserves = Vec::new();
    for (k, r) in list
        .list_to_vec()
        .ok_or_else(|| type_error(who, 1, "a list of (holder token amount)", list))?
        .iter()
        .enumerate()
    {
        match r.list_to_vec().as_deref() {
            Some([h, t, x]) => reserves.push((
                holder(h, 1, who)?,
                match t {
                    Value::Int(t) if *t >= 0 => *t as u64,
                    v => return Err(type_error(who, 1, "a token id", v)),
                },
                to_bigint(x).ok_or_else(|| {
                    value_error(who, format!("reserve {k}: the amount must be an integer"))
                })?,
            )),
            _ => {
                return Err(value_error(
                    who,
                    format!("reserve {k} is not (holder token amount)"),
                ))
            }
        }
    }
    Ok(reserves)
}
fn entity_name_prim(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Native(n) => n
            .as_any()
            .downcast_ref::<Entity>()
            .map(|e| Value::string(&e.name))
            .ok_or_else(|| type_error("entity-name", 0, "an entity", &a[0])),
        v => Err(type_error("entity-name", 0, "an entity", v)),
    }
}
fn entity_id_prim(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "entity-id")?;
    let id = sim(interp)
        .runtime
        .entity_id(e)
        .map_err(|x| runtime_error("entity-id", x))?;
    Ok(Value::bytes(&id))
}
fn entity_address_prim(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "entity-address")?;
    let id = sim(interp)
        .runtime
        .entity_id(e)
        .map_err(|x| runtime_error("entity-address", x))?;
    Ok(Value::bytes(crate::entity::entity_address(&id).as_bytes()))
}
/// `(submit! entity 'kind args ...)`: message, payment, open-account, set-credit, propose, vote.
fn submit(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "submit!";
    let e = entity_arg(a, 0, who)?;
    let kind = match &a[1] {
        Value::Symbol(s) => s.name().to_string(),
        v => return Err(type_error(who, 1, "a transaction kind symbol", v)),
    };
    let args = &a[2..];
    let need = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(value_error(who, format!("`{kind}` takes {n} arguments")))
        }
    };
    let s = sim(interp);
    let entity_id = |s: &SimState, v: &Value, i: usize| -> Result<[u8; 32], LangError> {
        let index = entity_arg(std::slice::from_ref(v), 0, who)
            .map_err(|_| type_error(who, i, "an entity", v))?;
        s.runtime
            .entity_id(index)
            .map_err(|e| runtime_error(who, e))
    };
    let tx = match kind.as_str() {
        "message" => {
            need(1)?;
            EntityTx::Message {
                text: str_arg(args, 0, who)?.to_string(),
            }
        }
        "payment" => {
            need(4)?;
            EntityTx::Payment {
                from: holder(&args[0], 2, who)?,
                to: holder(&args[1], 3, who)?,
                token: index_arg(args, 2, who)? as u64,
                amount: amount(args, 3, who)?,
            }
        }
        "open-account" => {
            need(1)?;
            let peer = entity_arg(args, 0, who)
                .map_err(|_| type_error(who, 2, "an entity", &args[0]))?;
            EntityTx::OpenAccount {
                peer: entity_id(s, &args[0], 2)?,
                peer_board: s
                    .runtime
                    .genesis_board(peer)
                    .map_err(|e| runtime_error(who, e))?
                    .clone(),
            }
        }
        "account-payment" => {
            need(3)?;
            EntityTx::Account {
                peer: entity_id(s, &args[0], 2)?,
                tx: crate::account::AccountTx::Pay {
                    token: index_arg(args, 1, who)? as u64,
                    amount: amount(args, 2, who)?,
                },
            }
        }
        "set-credit" => {
            need(3)?;
            EntityTx::Account {
                peer: entity_id(s, &args[0], 2)?,
                tx: crate::account::AccountTx::SetCreditLimit {
                    token: index_arg(args, 1, who)? as u64,
                    amount: amount(args, 2, who)?,
                },
            }
        }
        "propose" => {
            need(2)?;
            EntityTx::Propose {
                id: index_arg(args, 0, who)? as u64,
                action: ProposalAction::Text(str_arg(args, 1, who)?.to_string()),
            }
        }
        "propose-board" => {
            need(3)?;
            let board = board_arg(s, e, &args[1], &args[2], who)?;
            EntityTx::Propose {
                id: index_arg(args, 0, who)? as u64,
                action: ProposalAction::BoardChange(board),
            }
        }
        "vote" => {
            need(2)?;
            EntityTx::Vote {
                id: index_arg(args, 0, who)? as u64,
                yes: args[1].is_true(),
            }
        }
        other => return Err(
            value_error(who, format!("unknown entity transaction `{other}`")).with_hint(
                "kinds: message, payment, open-account, account-payment, set-credit, propose, propose-board, vote",
            ),
        ),
    };
    Ok(Value::bytes(&submit_tx(interp, e, tx, who)?))
}
/// A new board for entity `e` from `((replica shares) ...)` and a threshold: the
/// simulator's replicas are fixed, so a board change picks among them and reweighs them.
fn board_arg(
    s: &SimState,
    e: usize,
    members: &Value,
    threshold: &Value,
    who: &str,
) -> Result<crate::entity::Board, LangError> {
    let bad = || type_error(who, 4, "a list of (replica-index shares) pairs", members);
    let mut validators = Vec::new();
    for pair in members.list_to_vec().ok_or_else(bad)? {
        let pair = pair
            .list_to_vec()
            .filter(|p| p.len() == 2)
            .ok_or_else(bad)?;
        let replica = index_arg(&pair, 0, who)?;
        let shares = index_arg(&pair, 1, who)? as u64;
        let address = s
            .runtime
            .replica(e, replica)
            .map_err(|err| runtime_error(who, err))?
            .me();
        validators.push(crate::entity::Validator::new(address, shares));
    }
    let threshold = index_arg(std::slice::from_ref(threshold), 0, who)? as u64;
    crate::entity::Board::new(validators, threshold)
        .map_err(|err| value_error(who, err.to_string()))
}
fn outcome(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let hash = crate::lang::builtins::bytes_arg(a, 0, "tx-outcome")?;
    let hash = <[u8; 32]>::try_from(&hash[..])
        .map_err(|_| value_error("tx-outcome", "a tx hash is 32 bytes"))?;
    Ok(match sim(interp).runtime.outcome(&hash) {
        None => Value::sym("pending"),
        Some(TxOutcome::Applied { .. }) => Value::sym("applied"),
        Some(TxOutcome::Rejected { rejection, .. }) => Value::list(vec![
            Value::sym("rejected"),
            Value::string(&rejection.reason),
            Value::sym(rejection.kind.name()),
        ]),
        Some(TxOutcome::Dropped { reason }) => {
            Value::list(vec![Value::sym("dropped"), Value::string(reason)])
        }
    })
}
fn make_byzantine(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "make-byzantine!";
    let e = entity_arg(a, 0, who)?;
    let replica = index_arg(a, 1, who)?;
    let name = match &a[2] {
        Value::Symbol(s) => s.name().to_string(),
        v => return Err(type_error(who, 2, "a behaviour symbol", v)),
    };
    let behaviour = Behaviour::ALL
        .iter()
        .copied()
        .find(|b| b.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Behaviour::ALL.iter().map(|b| b.name()).collect();
            value_error(who, format!("unknown behaviour `{name}`"))
                .with_hint(format!("behaviours: {}", names.join(", ")))
        })?;
    let input = RuntimeInput::SetBehaviour {
        entity: e as u64,
        replica: replica as u64,
        behaviour,
    };
    apply(interp, input, who)?;
    Ok(Value::Void)
}
/// `(set-network! #:loss 1/10 #:dup 1/20 #:max-delay 3 #:seed 7)`.
fn set_network(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "set-network!";
    let (mut loss, mut dup, mut delay) = ((0u64, 1u64), (0u64, 1u64), 0u64);
    let mut seed = sim(interp).runtime.seed();
    let ratio = |v: &Value| -> Result<(u64, u64), LangError> {
        match v {
            Value::Int(n) if (0..=1).contains(n) => Ok((*n as u64, 1)),
            Value::Rational(r) => {
                let (n, d) = (u64::try_from(r.numer()).ok(), u64::try_from(r.denom()).ok());
                match (n, d) {
                    (Some(n), Some(d)) if n <= d => Ok((n, d)),
                    _ => Err(value_error(
                        who,
                        "a probability is an exact ratio between 0 and 1",
                    )),
                }
            }
            v => Err(type_error(who, 0, "an exact probability like 1/10", v)),
        }
    };
    for (k, v) in keyword_args(a, 0, who)? {
        match k.as_str() {
            "loss" => loss = ratio(&v)?,
            "dup" | "duplicate" => dup = ratio(&v)?,
            "max-delay" => delay = index_arg(&[v], 0, who)? as u64,
            "seed" => seed = index_arg(&[v], 0, who)? as u64,
            other => {
                return Err(value_error(who, format!("unknown option #:{other}"))
                    .with_hint("options: #:loss #:dup #:max-delay #:seed"))
            }
        }
    }
    let input = RuntimeInput::SetNetwork {
        loss,
        duplicate: dup,
        max_delay: delay,
        seed,
    };
    apply(interp, input, who)?;
    Ok(Value::Void)
}
fn heal(interp: &mut Interp, _: &[Value], _: Span) -> R {
    apply(interp, RuntimeInput::HealNetwork, "heal-network!")?;
    Ok(Value::Void)
}
fn run_ticks(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let ticks = index_arg(a, 0, "run-ticks!")? as u64;
    match apply(interp, RuntimeInput::RunTicks { ticks }, "run-ticks!")? {
        RuntimeOutput::Tick(now) => Ok(Value::Int(now as i64)),
        _ => Err(value_error("run-ticks!", "the runtime returned no tick")),
    }
}
fn run_until_quiet(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let max = match a.first() {
        Some(_) => index_arg(a, 0, "run-until-quiet!")? as u64,
        None => QUIET_TICKS_DEFAULT,
    };
    let input = RuntimeInput::RunUntilQuiet { max_ticks: max };
    match apply(interp, input, "run-until-quiet!")? {
        RuntimeOutput::Quiet(quiet) => Ok(Value::Bool(quiet)),
        _ => Err(value_error(
            "run-until-quiet!",
            "the runtime returned no answer",
        )),
    }
}
fn replica_field(
    interp: &mut Interp,
    a: &[Value],
    who: &str,
    f: impl Fn(&crate::entity::EntityReplica) -> Value,
) -> R {
    let e = entity_arg(a, 0, who)?;
    let s = sim(interp);
    let replica = match a.get(1) {
        Some(_) => index_arg(a, 1, who)?,
        None => *s
            .runtime
            .honest(e)
            .first()
            .ok_or_else(|| value_error(who, "the entity has no honest replica"))?,
    };
    s.runtime
        .replica(e, replica)
        .map(f)
        .map_err(|e| runtime_error(who, e))
}
fn height(interp: &mut Interp, a: &[Value], _: Span) -> R {
    replica_field(
        interp,
        a,
        "entity-height",
        |r| Value::Int(r.height() as i64),
    )
}
fn state_hash(interp: &mut Interp, a: &[Value], _: Span) -> R {
    replica_field(interp, a, "entity-state-hash", |r| {
        Value::bytes(&r.state_hash())
    })
}
fn reserve(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let h = holder(&a[1], 1, "entity-reserve")?;
    let token = index_arg(a, 2, "entity-reserve")? as u64;
    replica_field(interp, &a[..1], "entity-reserve", |r| {
        Value::from_bigint(r.state().reserve(&h, token))
    })
}
/// `(entity-account e peer token [replica])`: one side's view of an account between two
/// BFT entities, per an honest replica (or replica i).
fn entity_account(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "entity-account";
    let peer = entity_arg(a, 1, who)?;
    let token = index_arg(a, 2, who)? as u64;
    let peer_id = sim(interp)
        .runtime
        .entity_id(peer)
        .map_err(|e| runtime_error(who, e))?;
    let mut args = vec![a[0].clone()];
    args.extend(a.get(3).cloned());
    let view = replica_field(interp, &args, who, |r| {
        let Some(account) = r.state().accounts.get(&peer_id) else {
            return Value::Bool(false);
        };
        let m = &account.machine;
        let d = m.state.delta(token);
        let side = match m.side {
            crate::account::Side::Left => "left",
            crate::account::Side::Right => "right",
        };
        super::accounts::map_of(vec![
            ("side", Value::Symbol(crate::lang::symbol::Sym::new(side))),
            ("height", Value::Int(m.state.height as i64)),
            ("delta", Value::from_bigint(&d.ondelta + &d.offdelta)),
            (
                "left-credit-limit",
                Value::from_bigint(d.left_credit_limit.clone()),
            ),
            (
                "right-credit-limit",
                Value::from_bigint(d.right_credit_limit.clone()),
            ),
            ("in-flight", Value::Bool(m.pending.is_some())),
            ("queued", Value::Int(m.mempool.len() as i64)),
            ("sent", Value::Int(m.sent as i64)),
            ("received", Value::Int(m.received as i64)),
            ("state-hash", Value::bytes(&m.state.state_hash())),
        ])
    })?;
    match view {
        Value::Bool(false) => Err(value_error(who, "no open account between these entities")),
        v => Ok(v),
    }
}
/// `(replica-states e)`: `((index behaviour height state-hash) ...)` for every replica.
fn replica_states(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "replica-states";
    let e = entity_arg(a, 0, who)?;
    let s = sim(interp);
    let n = s.runtime.replica_count(e);
    let mut out = Vec::new();
    for i in 0..n {
        let r = s.runtime.replica(e, i).map_err(|x| runtime_error(who, x))?;
        let b = s
            .runtime
            .behaviour(e, i)
            .map_err(|x| runtime_error(who, x))?;
        out.push(Value::list(vec![
            Value::Int(i as i64),
            Value::sym(b.name()),
            Value::Int(r.height() as i64),
            Value::bytes(&r.state_hash()),
        ]));
    }
    Ok(Value::list(out))
}
/// Do all honest replicas agree? Their committed frame hashes must match at every height
/// both reached (safety), and `#t` also requires equal heights unless `#:allow-lag #t`.
fn agree(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "replicas-agree?";
    let e = entity_arg(a, 0, who)?;
    let s = sim(interp);
    let honest = s.runtime.honest(e);
    let mut chains = Vec::new();
    for i in honest {
        let r = s.runtime.replica(e, i).map_err(|x| runtime_error(who, x))?;
        chains.push((r.committed_hashes().to_vec(), r.state_hash()));
    }
    let consistent = chains.windows(2).all(|w| {
        let n = w[0].0.len().min(w[1].0.len());
        w[0].0[..n] == w[1].0[..n]
    });
    let same_tip = chains.windows(2).all(|w| w[0] == w[1]);
    Ok(Value::Bool(consistent && same_tip))
}
fn evidence(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "evidence";
    let e = entity_arg(a, 0, who)?;
    let s = sim(interp);
    let mut found = std::collections::BTreeSet::new();
    for i in s.runtime.honest(e) {
        let r = s.runtime.replica(e, i).map_err(|x| runtime_error(who, x))?;
        for ev in r.evidence() {
            found.insert(ev.validator);
        }
    }
    Ok(Value::list(
        found
            .iter()
            .map(|v| Value::string(&v.to_checksum()))
            .collect::<Vec<_>>(),
    ))
}
fn validator_address(interp: &mut Interp, a: &[Value], _: Span) -> R {
    replica_field(interp, a, "validator-address", |r| {
        Value::string(&r.me().to_checksum())
    })
}
fn timeline(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::string(&sim(interp).runtime.to_json_lines()))
}
fn timeline_length(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Int(sim(interp).runtime.timeline().len() as i64))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "sim-reset!", 0, Some(1), reset, "A fresh deterministic simulation; all randomness derives from the seed (default 0).", "(sim-reset! 7)";
    "sim-seed", 0, Some(0), seed, "The simulation's seed.", "(sim-seed) => 7";
    "sim-now", 0, Some(0), now, "The simulation's tick.", "(sim-now) => 120";
    "make-entity", 1, None, make_entity, "(make-entity name [validators threshold] [#:reserves ((holder token amount) ...)]): an entity of the simulator — a board of one validator by default (a person), or of `validators` equal shares deciding at `threshold`; validator keys derive from the seed.", "(define hub (make-entity \"hub\" 4 3 #:reserves '((\"treasury\" 1 1000))))";
    "entity-name", 1, Some(1), entity_name_prim, "The entity's name.", "(entity-name hub) => \"hub\"";
    "entity-id", 1, Some(1), entity_id_prim, "The entity's 32-byte id (its genesis board's hash).", "(bytes-length (entity-id hub)) => 32";
    "entity-address", 1, Some(1), entity_address_prim, "The entity's 20-byte address inside accounts (the last 20 bytes of its id; the lower address is an account's left side).", "(bytes-length (entity-address hub)) => 20";
    "submit!", 2, None, submit, "(submit! e 'kind args ...): message, payment (reserves), open-account peer, account-payment peer token amount, set-credit peer token amount, propose id text, propose-board id ((replica shares) ...) threshold, vote id yes?. Returns the tx hash.", "(submit! hub 'payment \"treasury\" \"alice\" 1 10)";
    "tx-outcome", 1, Some(1), outcome, "'pending, 'applied, (rejected reason kind) or (dropped reason); kind is capacity, replay, bad-signature, subcontract, timeout, route, unknown, invalid, reserve or refused.", "(tx-outcome h) => applied";
    "make-byzantine!", 3, Some(3), make_byzantine, "Makes replica i misbehave: silent, equivocate, invalid-signatures, wrong-state-hash, replay-old, altered-subcontract (or honest).", "(make-byzantine! hub 0 'equivocate)";
    "set-network!", 0, None, set_network, "Network faults: #:loss #:dup (exact ratios), #:max-delay ticks, #:seed.", "(set-network! #:loss 1/10 #:dup 1/20 #:max-delay 3 #:seed 7)";
    "heal-network!", 0, Some(0), heal, "A perfect network from now on.", "(heal-network!)";
    "run-ticks!", 1, Some(1), run_ticks, "Advances the simulation n ticks; returns the tick.", "(run-ticks! 100) => 100";
    "run-until-quiet!", 0, Some(1), run_until_quiet, "Runs until nothing is in flight or pending (#t), or the tick budget runs out (#f).", "(run-until-quiet!) => #t";
    "entity-height", 1, Some(2), height, "Committed height of an honest replica (or replica i).", "(entity-height hub) => 3";
    "entity-state-hash", 1, Some(2), state_hash, "State hash of an honest replica (or replica i).", "(entity-state-hash hub 2)";
    "entity-reserve", 3, Some(3), reserve, "A holder's reserve of a token, per an honest replica.", "(entity-reserve hub \"alice\" 1) => 10";
    "entity-account", 3, Some(4), entity_account, "(entity-account e peer token [replica]): e's side of its account with peer — side, height, delta (left's balance), credit limits, in-flight, queued, sent, received, state-hash.", "(entity-account hub shop 1)";
    "replica-states", 1, Some(1), replica_states, "((index behaviour height state-hash) ...) for every replica.", "(replica-states hub)";
    "replicas-agree?", 1, Some(1), agree, "Do all honest replicas have the same committed frames and state?", "(replicas-agree? hub) => #t";
    "evidence", 1, Some(1), evidence, "Validators honest replicas caught signing two frames at one height.", "(evidence hub) => (\"0x...\")";
    "validator-address", 2, Some(2), validator_address, "Address of replica i's validator.", "(validator-address hub 0)";
    "timeline-json", 0, Some(0), timeline, "The simulation's timeline as JSON lines.", "(timeline-json)";
    "timeline-length", 0, Some(0), timeline_length, "Number of timeline events so far.", "(timeline-length) => 42";
];
