//! Chain bindings: connect to a jurisdiction (embedded revm by default, or a node's URL),
//! register entities (their boards), move reserves and collateral, settle, dispute, and
//! read balances and events. Each chain operation is signed by a quorum of the entity's
//! validators (the registry checks the threshold). Chain events flow back to the entity
//! that owns the account as a `chain-delta` account tx, so collateral and ondelta follow
//! the chain.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use alloy_primitives::U256;
use num_bigint::BigInt;

use super::accounts::{id_of, map_of, side_of, state_of};
use super::runtime::{entity_arg, entity_name_of, sim, submit_and_settle};
use crate::account::TokenId;
use crate::chain::contracts::Depository as D;
use crate::chain::events::{FieldValue, PositionedEvent};
use crate::chain::signing::{i256_to_bigint, to_u256, u256_to_bigint};
use crate::chain::{
    AccountProof, ChainError, ChainEvent, Depository, EmbeddedChain, EntityKeys, EntityNumber,
    EventWatcher, Jurisdiction, RpcChain, RpcConfig, SettlementDiff,
};
use crate::crypto::Address;
use crate::lang::builtins::{index_arg, str_arg, type_error, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, Primitive, Value};

type R = Result<Value, LangError>;

/// Most blocks one `chain-mine!` may mine (a node mines them one by one).
pub const MINE_BLOCKS_MAX: u64 = 1_000_000;

/// A u64 from the chain as an exact integer (never wraps into a negative fixnum).
fn uint(n: u64) -> Value {
    Value::from_bigint(BigInt::from(n))
}

/// One connected chain and what this interpreter knows about it.
pub struct ChainSession {
    pub depository: Depository,
    pub watcher: EventWatcher,
    /// Entity (runtime index) → its number on chain.
    pub numbers: BTreeMap<usize, EntityNumber>,
    /// Entity number → (the entity's runtime index, its board and quorum keys).
    pub entities: BTreeMap<EntityNumber, (usize, EntityKeys)>,
    /// Every event handed over so far, in chain order.
    pub events: Vec<PositionedEvent>,
    /// Accounts (on-chain sides) with a dispute started: their off-chain copies no
    /// longer follow the chain.
    pub disputed: BTreeSet<(EntityNumber, EntityNumber)>,
    /// Per simulated BFT entity (runtime index): how many of `events` it was given.
    pub fed: BTreeMap<usize, usize>,
}

/// Interpreter slot: the session (once connected) and the default node URL (`--chain`).
#[derive(Default)]
struct ChainSlot {
    session: Option<ChainSession>,
    default_url: Option<String>,
}

fn slot(interp: &mut Interp) -> &mut ChainSlot {
    let entry = interp
        .extensions
        .entry("chain")
        .or_insert_with(|| Box::new(ChainSlot::default()) as Box<dyn Any>);
    if !entry.is::<ChainSlot>() {
        *entry = Box::new(ChainSlot::default());
    }
    entry
        .downcast_mut::<ChainSlot>()
        .expect("chain slot type checked above")
}

/// Makes `(connect-chain!)` without an argument use this node (the CLI's `--chain URL`).
pub fn set_default_url(interp: &mut Interp, url: &str) {
    slot(interp).default_url = Some(url.to_string());
}

fn session<'i>(interp: &'i mut Interp, who: &str) -> Result<&'i mut ChainSession, LangError> {
    slot(interp).session.as_mut().ok_or_else(|| {
        value_error(who, "no chain is connected").with_hint("call (connect-chain!) first")
    })
}

fn chain_error(who: &str, e: &ChainError) -> LangError {
    let hint = match e {
        ChainError::Rejected { .. } | ChainError::Reverted { .. } => {
            "the contract refused; nothing changed on chain"
        }
        ChainError::Node { .. } => {
            "the node was retried per the retry policy; check that it runs and answers JSON-RPC"
        }
        ChainError::Inconsistent { .. } => "the node answered impossible data; do not trust it",
        ChainError::Halted { .. } => "the EVM halted: a contract bug or an impossible call",
        ChainError::Input { .. } => "fix the argument",
        ChainError::Cursor { .. } => "the event cursor file is unreadable; it was left as it is",
    };
    value_error(who, e).with_hint(hint)
}

fn amount_arg(a: &[Value], i: usize, who: &str) -> Result<BigInt, LangError> {
    to_bigint(&a[i]).ok_or_else(|| type_error(who, i, "an integer amount", &a[i]))
}

fn u256_arg(a: &[Value], i: usize, who: &str) -> Result<U256, LangError> {
    to_u256(&amount_arg(a, i, who)?).map_err(|e| chain_error(who, &e))
}

fn token_arg(a: &[Value], i: usize, who: &str) -> Result<TokenId, LangError> {
    Ok(index_arg(a, i, who)? as TokenId)
}

fn int_u(v: U256) -> Value {
    Value::from_bigint(u256_to_bigint(v))
}

impl ChainSession {
    fn number(&self, e: usize, who: &str) -> Result<EntityNumber, LangError> {
        self.numbers.get(&e).copied().ok_or_else(|| {
            value_error(who, format!("entity #{e} is not registered on chain"))
                .with_hint("register it with (chain-register! entity)")
        })
    }

    fn keys(&self, n: EntityNumber) -> &EntityKeys {
        &self.entities[&n].1
    }

    /// (left, right) on chain: the lower number first.
    fn sides(
        &self,
        a: usize,
        b: usize,
        who: &str,
    ) -> Result<(EntityNumber, EntityNumber), LangError> {
        let (x, y) = (self.number(a, who)?, self.number(b, who)?);
        if x == y {
            return Err(value_error(who, "an account needs two different entities"));
        }
        Ok((x.min(y), x.max(y)))
    }
}

fn info(s: &mut ChainSession) -> Result<Value, ChainError> {
    let block = s.depository.chain.block_number()?;
    let d = s.depository.deployment;
    Ok(map_of(vec![
        ("backend", Value::sym(s.depository.chain.backend())),
        ("location", Value::string(&s.depository.chain.location())),
        ("chain-id", uint(d.chain_id)),
        ("registry", Value::string(&d.registry.to_checksum(None))),
        ("depository", Value::string(&d.depository.to_checksum(None))),
        ("dispute-timeout-blocks", uint(d.dispute_timeout_blocks)),
        ("block", uint(block)),
    ]))
}

fn connect(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "connect-chain!";
    if super::storage::store_attached(interp) {
        // The chain session (registrations, the event cursor it feeds entities from) is not
        // part of the runtime's log: refuse rather than leave it silently unpersisted.
        return Err(value_error(
            who,
            "a store is attached, and the chain session is not logged with the runtime",
        )
        .with_hint("run chain scripts without --store / open-store!"));
    }
    let url = match a.first() {
        Some(_) => Some(str_arg(a, 0, who)?.to_string()),
        None => slot(interp).default_url.clone(),
    };
    let chain: Box<dyn Jurisdiction> = match &url {
        None => Box::new(EmbeddedChain::default()),
        Some(url) => {
            Box::new(RpcChain::connect(RpcConfig::local(url)).map_err(|e| chain_error(who, &e))?)
        }
    };
    let depository = Depository::deploy_default(chain).map_err(|e| chain_error(who, &e))?;
    let watcher = EventWatcher::in_memory(depository.deployment);
    let mut s = ChainSession {
        depository,
        watcher,
        numbers: BTreeMap::new(),
        entities: BTreeMap::new(),
        events: Vec::new(),
        fed: BTreeMap::new(),
        disputed: BTreeSet::new(),
    };
    let v = info(&mut s).map_err(|e| chain_error(who, &e))?;
    slot(interp).session = Some(s);
    Ok(v)
}

fn chain_info(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let s = session(interp, "chain-info")?;
    info(s).map_err(|e| chain_error("chain-info", &e))
}

/// The entity's board as the registry knows it, with a quorum of its validators' keys.
fn entity_keys(interp: &mut Interp, e: usize, who: &str) -> Result<EntityKeys, LangError> {
    let board = sim(interp)
        .runtime
        .genesis_board(e)
        .map_err(|x| super::runtime::runtime_error(who, x))?
        .clone();
    let chain_board =
        crate::chain::ChainBoard::from_board(&board).map_err(|x| chain_error(who, &x))?;
    let mut keys = Vec::new();
    let mut shares = 0;
    for key in sim(interp).runtime.validator_keys(e) {
        if board.is_quorum(shares) {
            break;
        }
        shares += board.weight([key.address()].iter());
        keys.push(key);
    }
    Ok(EntityKeys {
        board: chain_board,
        keys,
    })
}

fn register(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-register!";
    let e = entity_arg(a, 0, who)?;
    let name = entity_name_of(interp, e);
    let keys = entity_keys(interp, e, who)?;
    let s = session(interp, who)?;
    if s.numbers.contains_key(&e) {
        return Err(value_error(who, format!("{name} is already registered")));
    }
    let n = s
        .depository
        .register_entity(&keys.board)
        .map_err(|err| chain_error(who, &err))?;
    s.numbers.insert(e, n);
    s.entities.insert(n, (e, keys));
    sync_events(interp, span, who)?;
    Ok(uint(n))
}

fn entity_number(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "chain-entity-number")?;
    let s = session(interp, "chain-entity-number")?;
    Ok(s.numbers.get(&e).map_or(Value::Bool(false), |n| uint(*n)))
}

fn mint(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-mint!";
    let e = entity_arg(a, 0, who)?;
    let token = token_arg(a, 1, who)?;
    let amount = u256_arg(a, 2, who)?;
    let s = session(interp, who)?;
    let n = s.number(e, who)?;
    s.depository
        .mint_reserve(n, token, amount)
        .map_err(|err| chain_error(who, &err))?;
    sync_events(interp, span, who)
}

fn reserve(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "chain-reserve";
    let e = entity_arg(a, 0, who)?;
    let token = token_arg(a, 1, who)?;
    let s = session(interp, who)?;
    let n = s.number(e, who)?;
    s.depository
        .reserve(n, token)
        .map(int_u)
        .map_err(|err| chain_error(who, &err))
}

fn transfer(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-transfer!";
    let (from, to) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let token = token_arg(a, 2, who)?;
    let amount = u256_arg(a, 3, who)?;
    let s = session(interp, who)?;
    let (f, t) = (s.number(from, who)?, s.number(to, who)?);
    let keys = s.keys(f).clone();
    s.depository
        .reserve_to_reserve(f, &keys, t, token, amount)
        .map_err(|err| chain_error(who, &err))?;
    sync_events(interp, span, who)
}

fn fund(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-fund!";
    let (e, peer) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let token = token_arg(a, 2, who)?;
    let amount = u256_arg(a, 3, who)?;
    let s = session(interp, who)?;
    let (n, p) = (s.number(e, who)?, s.number(peer, who)?);
    let keys = s.keys(n).clone();
    s.depository
        .reserve_to_collateral(n, &keys, p, token, amount)
        .map_err(|err| chain_error(who, &err))?;
    sync_events(interp, span, who)
}

fn collateral(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "chain-collateral";
    let (x, y) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let token = token_arg(a, 2, who)?;
    let s = session(interp, who)?;
    let (l, r) = s.sides(x, y, who)?;
    let (c, od) = s
        .depository
        .collateral(l, r, token)
        .map_err(|err| chain_error(who, &err))?;
    Ok(map_of(vec![
        ("left", uint(l)),
        ("right", uint(r)),
        ("collateral", int_u(c)),
        ("ondelta", Value::from_bigint(i256_to_bigint(od))),
    ]))
}

/// The off-chain height of the account between two entities, if they have one.
fn account_height(interp: &mut Interp, x: usize, y: usize) -> Option<u64> {
    side_of(interp, x, y, "chain")
        .ok()?
        .map(|a| a.machine.state.height)
}

fn settle(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-settle!";
    let (x, y) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let token = token_arg(a, 2, who)?;
    let (x_gets, y_gets) = (amount_arg(a, 3, who)?, amount_arg(a, 4, who)?);
    let height = account_height(interp, x, y);
    let s = session(interp, who)?;
    let (l, r) = s.sides(x, y, who)?;
    let (left_gets, right_gets) = if s.number(x, who)? == l {
        (x_gets, y_gets)
    } else {
        (y_gets, x_gets)
    };
    let diff = SettlementDiff::withdraw(token, &left_gets, &right_gets)
        .map_err(|e| chain_error(who, &e))?;
    let stored = s
        .depository
        .account_nonce(l, r)
        .map_err(|e| chain_error(who, &e))?;
    // The account's frame height orders settlements against dispute proofs.
    let nonce = height.unwrap_or(stored + 1);
    if nonce <= stored {
        return Err(value_error(
            who,
            format!("the account is at height {nonce}, but the chain already used nonce {stored}"),
        )
        .with_hint("a new frame (any payment) raises the height"));
    }
    let (lk, rk) = (s.keys(l).clone(), s.keys(r).clone());
    s.depository
        .settle((l, r), (&lk, &rk), nonce, &[diff])
        .map_err(|e| chain_error(who, &e))?;
    sync_events(interp, span, who)?;
    Ok(uint(nonce))
}

/// An account state at a height with both entities' signatures: what a dispute submits.
pub struct ProofHandle {
    pub proof: AccountProof,
    pub signatures: (D::EntitySignature, D::EntitySignature),
}

impl NativeObject for ProofHandle {
    fn type_name(&self) -> &'static str {
        "account-proof"
    }
    fn describe(&self) -> String {
        format!(
            "#<account-proof {}-{} nonce {}>",
            self.proof.left, self.proof.right, self.proof.nonce
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn proof_arg(a: &[Value], i: usize, who: &str) -> Result<Rc<ProofHandle>, LangError> {
    if let Value::Native(n) = &a[i] {
        let any: Rc<dyn Any> = upcast(n.clone());
        if let Ok(p) = any.downcast::<ProofHandle>() {
            return Ok(p);
        }
    }
    Err(type_error(
        who,
        i,
        "an account proof (from chain-proof)",
        &a[i],
    ))
}

fn upcast(rc: Rc<dyn NativeObject>) -> Rc<dyn Any> {
    rc
}

fn proof(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "chain-proof";
    let (x, y) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let state = side_of(interp, x, y, who)?
        .map(|acc| acc.machine.state.clone())
        .ok_or_else(|| value_error(who, "these entities have no account"))?;
    let mut by_addr = BTreeMap::new();
    for e in [x, y] {
        by_addr.insert(crate::entity::entity_address(&id_of(interp, e, who)?), e);
    }
    let s = session(interp, who)?;
    let by_address = |addr: &Address| by_addr.get(addr).and_then(|e| s.numbers.get(e)).copied();
    let (Some(nl), Some(nr)) = (by_address(&state.left), by_address(&state.right)) else {
        return Err(value_error(who, "both parties must be registered on chain"));
    };
    let p = AccountProof::from_state(&state, (nl, nr)).map_err(|e| chain_error(who, &e))?;
    let (lk, rk) = (s.keys(p.left).clone(), s.keys(p.right).clone());
    let signatures = s
        .depository
        .sign_proof(&p, (&lk, &rk))
        .map_err(|e| chain_error(who, &e))?;
    Ok(Value::Native(Rc::new(ProofHandle {
        proof: p,
        signatures,
    })))
}

fn proof_nonce(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(uint(proof_arg(a, 0, "chain-proof-nonce")?.proof.nonce))
}

fn dispute(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-dispute!";
    let e = entity_arg(a, 0, who)?;
    let p = proof_arg(a, 1, who)?;
    let s = session(interp, who)?;
    let n = s.number(e, who)?;
    s.depository
        .dispute_start(&p.proof, n, p.signatures.clone())
        .map_err(|err| chain_error(who, &err))?;
    sync_events(interp, span, who)
}

fn finalize(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-finalize!";
    let (x, y) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let s = session(interp, who)?;
    let (l, r) = s.sides(x, y, who)?;
    s.depository
        .dispute_finalize(l, r)
        .map_err(|err| chain_error(who, &err))?;
    sync_events(interp, span, who)
}

fn dispute_info(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "chain-dispute";
    let (x, y) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let s = session(interp, who)?;
    let (l, r) = s.sides(x, y, who)?;
    Ok(
        match s
            .depository
            .dispute(l, r)
            .map_err(|e| chain_error(who, &e))?
        {
            None => Value::Bool(false),
            Some(d) => map_of(vec![
                ("nonce", uint(d.nonce)),
                ("deadline", uint(d.deadline)),
                ("started-by", uint(d.started_by)),
            ]),
        },
    )
}

fn debt(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "chain-debt";
    let (x, y) = (entity_arg(a, 0, who)?, entity_arg(a, 1, who)?);
    let token = token_arg(a, 2, who)?;
    let s = session(interp, who)?;
    let (d, c) = (s.number(x, who)?, s.number(y, who)?);
    s.depository
        .debt(d, c, token)
        .map(int_u)
        .map_err(|e| chain_error(who, &e))
}

fn mine(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-mine!";
    let n = index_arg(a, 0, who)? as u64;
    if n > MINE_BLOCKS_MAX {
        return Err(value_error(
            who,
            format!("{n} blocks at once; at most {MINE_BLOCKS_MAX}"),
        ));
    }
    let s = session(interp, who)?;
    s.depository
        .chain
        .mine(n)
        .map_err(|e| chain_error(who, &e))?;
    sync_events(interp, span, who)?;
    block(interp, &[], span)
}

fn block(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let s = session(interp, "chain-block")?;
    let b = s
        .depository
        .chain
        .block_number()
        .map_err(|e| chain_error("chain-block", &e))?;
    Ok(uint(b))
}

fn event_value(e: &PositionedEvent) -> Value {
    let mut entries = vec![
        ("kind", Value::sym(e.event.kind())),
        ("block", uint(e.block)),
        ("index", uint(e.log_index)),
    ];
    for (name, v) in e.event.fields() {
        entries.push((
            name,
            match v {
                FieldValue::Int(n) => Value::from_bigint(n),
                FieldValue::Bytes32(b) => Value::bytes(&b),
            },
        ));
    }
    map_of(entries)
}

fn events(interp: &mut Interp, a: &[Value], span: Span) -> R {
    sync_events(interp, span, "chain-events")?;
    let kind = match a.first() {
        Some(Value::Symbol(s)) => Some(s.name().to_string()),
        Some(v) => return Err(type_error("chain-events", 0, "an event kind symbol", v)),
        None => None,
    };
    let s = session(interp, "chain-events")?;
    Ok(Value::list(
        s.events
            .iter()
            .filter(|e| kind.as_deref().is_none_or(|k| e.event.kind() == k))
            .map(event_value)
            .collect::<Vec<_>>(),
    ))
}

/// `(chain-feed! e)`: hands the simulated BFT entity `e` every chain event it was not
/// given yet, each as a `chain-event` entity tx (canonical bytes binding the chain id), so
/// the entity's board commits it like any other input. Returns how many were handed over.
fn feed(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "chain-feed!";
    let entity = entity_arg(a, 0, who)?;
    sync_events(interp, span, who)?;
    let batch: Vec<Vec<u8>> = {
        let s = session(interp, who)?;
        let chain_id = s.depository.deployment.chain_id;
        let from = s.fed.get(&entity).copied().unwrap_or(0);
        s.events[from.min(s.events.len())..]
            .iter()
            .map(|e| e.entity_input_bytes(chain_id))
            .collect()
    };
    for bytes in &batch {
        super::runtime::submit_tx(
            interp,
            entity,
            crate::entity::EntityTx::ChainEvent {
                bytes: bytes.clone(),
            },
            who,
        )?;
        // Counted one by one: an event is never handed over twice, even if a later
        // submission fails.
        *session(interp, who)?.fed.entry(entity).or_insert(0) += 1;
    }
    Ok(Value::Int(batch.len() as i64))
}

fn gas(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let s = session(interp, "chain-gas")?;
    Ok(map_of(
        s.depository
            .gas
            .iter()
            .map(|(op, v)| {
                (
                    *op,
                    Value::list(v.iter().map(|g| uint(*g)).collect::<Vec<_>>()),
                )
            })
            .collect(),
    ))
}

/// Hands new chain events to the world: each is recorded, and a collateral change of an
/// account both parties have off chain becomes a `chain-delta` frame that brings the
/// account's collateral and ondelta to the chain's (mirrored when the on-chain sides are
/// the other way round). The cursor advances only after an event was applied.
fn sync_events(interp: &mut Interp, span: Span, who: &str) -> R {
    let new = {
        let s = session(interp, who)?;
        s.watcher
            .poll(s.depository.chain.as_mut())
            .map_err(|e| chain_error(who, &e))?
    };
    for event in new {
        apply_event(interp, &event, span, who)?;
        let s = session(interp, who)?;
        s.watcher.ack(&event).map_err(|e| chain_error(who, &e))?;
        s.events.push(event);
    }
    Ok(Value::Void)
}

/// An entity number or token id from an event (our contracts only emit small ones).
fn small(v: U256, who: &str) -> Result<u64, LangError> {
    u64::try_from(v).map_err(|_| {
        chain_error(
            who,
            &ChainError::Inconsistent {
                message: format!("an event carries the id {v}, beyond u64"),
            },
        )
    })
}

fn apply_event(
    interp: &mut Interp,
    event: &PositionedEvent,
    span: Span,
    who: &str,
) -> Result<(), LangError> {
    let s = session(interp, who)?;
    let (left, right, token, c, od) = match &event.event {
        ChainEvent::DisputeStarted { left, right, .. } => {
            s.disputed.insert((small(*left, who)?, small(*right, who)?));
            return Ok(());
        }
        ChainEvent::CollateralUpdated {
            left,
            right,
            token,
            collateral,
            ondelta,
        } => (
            small(*left, who)?,
            small(*right, who)?,
            small(*token, who)?,
            *collateral,
            *ondelta,
        ),
        _ => return Ok(()),
    };
    if s.disputed.contains(&(left, right)) {
        return Ok(());
    }
    let (Some((le, _)), Some((re, _))) = (s.entities.get(&left), s.entities.get(&right)) else {
        return Ok(());
    };
    let (le, re) = (*le, *re);
    // The account's off-chain left side (by address) proposes the chain delta.
    let Some(account) = side_of(interp, le, re, who)?.cloned() else {
        return Ok(());
    };
    let (off_left, off_right) = match account.machine.side {
        crate::account::Side::Left => (le, re),
        crate::account::Side::Right => (re, le),
    };
    let right_id = id_of(interp, off_right, who)?;
    let current = state_of(interp, off_left, who)?
        .accounts
        .get(&right_id)
        .map(|a| a.machine.state.delta(token))
        .unwrap_or_default();
    let collateral = u256_to_bigint(c);
    let chain_ondelta = i256_to_bigint(od);
    // Off-chain left is the chain's left unless the numbers order the other way.
    let ondelta = if off_left == le {
        chain_ondelta
    } else {
        &collateral - chain_ondelta
    };
    let (dc, dd) = (
        &collateral - &current.collateral,
        ondelta - &current.ondelta,
    );
    if dc == BigInt::from(0) && dd == BigInt::from(0) {
        return Ok(());
    }
    let _ = span;
    let tx = crate::entity::EntityTx::Account {
        peer: id_of(interp, off_right, who)?,
        tx: crate::account::AccountTx::ChainDelta {
            token,
            collateral_change: dc,
            ondelta_change: dd,
        },
    };
    submit_and_settle(interp, off_left, tx, who)?;
    Ok(())
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "connect-chain!", 0, Some(1), connect, "Connects to a jurisdiction and deploys the contracts: the embedded EVM (revm, deterministic) with no argument, or the JSON-RPC node at the URL (`xln run FILE --chain URL` makes that the default). Returns the chain's info.", "(connect-chain!)";
    "chain-info", 0, Some(0), chain_info, "Backend, location, chain id, contract addresses, dispute timeout and current block.", "(hash-ref (chain-info) #:backend) => embedded";
    "chain-register!", 1, Some(1), register, "Registers an entity's board in the entity registry (signatures of a quorum of it authorise its later operations); returns its number.", "(chain-register! alice) => 1";
    "chain-entity-number", 1, Some(1), entity_number, "The entity's number on chain, or #f.", "(chain-entity-number alice) => 1";
    "chain-mint!", 3, Some(3), mint, "(chain-mint! entity token amount): the development faucet credits the entity's reserve.", "(chain-mint! alice 1 1000)";
    "chain-reserve", 2, Some(2), reserve, "The entity's reserve of a token on chain.", "(chain-reserve alice 1) => 1000";
    "chain-transfer!", 4, Some(4), transfer, "(chain-transfer! from to token amount): reserve to reserve, signed by the sender entity.", "(chain-transfer! alice bob 1 10)";
    "chain-fund!", 4, Some(4), fund, "(chain-fund! entity peer token amount): reserve to the account's collateral, signed by the entity; the account follows through a chain-delta frame.", "(chain-fund! alice bob 1 500)";
    "chain-collateral", 3, Some(3), collateral, "The account's collateral and ondelta on chain (on-chain sides: left = lower number).", "(hash-ref (chain-collateral alice bob 1) #:collateral) => 500";
    "chain-settle!", 5, Some(5), settle, "(chain-settle! a b token a-gets b-gets): cooperative settlement signed by both: each takes the amount from the collateral to its reserve (negative: puts it in). Nonce = the account's height. Returns the nonce.", "(chain-settle! alice bob 1 100 0)";
    "chain-proof", 2, Some(2), proof, "The account's current state (offdeltas at its height) signed by both entities: a dispute proof.", "(define p (chain-proof alice bob))";
    "chain-proof-nonce", 1, Some(1), proof_nonce, "The nonce (account height) of a proof.", "(chain-proof-nonce p) => 4";
    "chain-dispute!", 2, Some(2), dispute, "(chain-dispute! entity proof): starts a dispute with the proof, or overrides the running one with a newer proof.", "(chain-dispute! alice p)";
    "chain-dispute", 2, Some(2), dispute_info, "The account's running dispute as a map (nonce, deadline, started-by), or #f.", "(chain-dispute alice bob) => #f";
    "chain-finalize!", 2, Some(2), finalize, "Finalizes the account's dispute after its deadline: the collateral is split at the proof's Δ, debts paid from reserves.", "(chain-finalize! alice bob)";
    "chain-debt", 3, Some(3), debt, "(chain-debt debtor creditor token): unpaid debt after disputes.", "(chain-debt alice bob 1) => 0";
    "chain-mine!", 1, Some(1), mine, "Mines n empty blocks (time passing); returns the block number.", "(chain-mine! 20)";
    "chain-block", 0, Some(0), block, "The current block number.", "(chain-block) => 7";
    "chain-events", 0, Some(1), events, "Every chain event so far (optionally of one kind) as maps with kind, block, index and fields.", "(length (chain-events 'settled)) => 1";
    "chain-feed!", 1, Some(1), feed, "(chain-feed! e): hands entity e every chain event it was not given yet, as chain-event entity txs its board commits. Returns the count.", "(chain-feed! hub) => 5";
    "chain-gas", 0, Some(0), gas, "Gas used by each operation so far, as a map from operation to a list.", "(hash-ref (chain-gas) #:settle)";
];
