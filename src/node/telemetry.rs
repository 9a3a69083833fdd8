//! What the core tells operators after each durable batch, read off the replicas' committed
//! state (never fed back into it): the metrics derived from state ([`super::metrics`]),
//! one log line per meaningful event (frame committed, payment sent / settled / failed /
//! received / forwarded / refused, account tx rejected), and the live events of the web
//! view — `lock` (an HTLC opened or closed on an account: a routed payment's hop) and
//! `payment` (a routed payment's step at one entity).
//!
//! It starts from the state recovered at start-up, so replayed history is neither counted
//! nor logged again. Work per batch is bounded by what changed: replicas whose height or
//! view moved, their accounts updated at the new heights, their new log entries, and the
//! payment txs submitted here and not yet committed.

use std::collections::BTreeMap;
use std::time::Instant;

use num_bigint::BigInt;
use serde_json::{json, Value};

use super::core::{Directory, Outcome};
use super::metrics as m;
use crate::account::Data;
use crate::crypto::readable::to_hex;
use crate::entity::{EntityId, EntityReplica, LogEntry};
use crate::host::{ReplicaId, Replicas};

/// Most payment txs remembered while they wait for their commit (beyond it new ones are
/// not timed; the counters stay exact for the rest).
const SUBMITTED_MAX: usize = 1 << 20;

/// An HTLC lock on an account, as one side holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Lock {
    token: u64,
    amount: BigInt,
    hashlock: [u8; 32],
    /// This side locked it (it pays).
    outgoing: bool,
}

#[derive(Default)]
struct Seen {
    height: u64,
    view: u64,
    log: usize,
}

/// See the module documentation.
pub struct Telemetry {
    node: String,
    seen: BTreeMap<ReplicaId, Seen>,
    account_heights: BTreeMap<(ReplicaId, EntityId), u64>,
    locks: BTreeMap<(ReplicaId, EntityId), BTreeMap<u64, Lock>>,
    /// Payment txs submitted here, not yet committed: kind and when.
    submitted: BTreeMap<[u8; 32], (&'static str, Instant)>,
    /// Routed payment txs committed, not yet settled: when they were submitted.
    routing: BTreeMap<[u8; 32], Instant>,
}

/// The HTLC locks of one side of an account: subcontracts whose params carry a hashlock.
fn locks_of(replica: &EntityReplica, peer: &EntityId) -> BTreeMap<u64, Lock> {
    let Some(account) = replica.state().accounts.get(peer) else {
        return BTreeMap::new();
    };
    let machine = &account.machine;
    machine
        .state
        .subcontracts
        .values()
        .filter_map(|sc| {
            let Data::Map(params) = &sc.params else {
                return None;
            };
            let Some(Data::Bytes(h)) = params.get("hashlock") else {
                return None;
            };
            let hashlock = <[u8; 32]>::try_from(h.as_slice()).ok()?;
            let (token, amount) = sc.holds.iter().next()?;
            Some((
                sc.id,
                Lock {
                    token: *token,
                    amount: amount.clone(),
                    hashlock,
                    outgoing: sc.owner == machine.side,
                },
            ))
        })
        .collect()
}

fn outgoing_locks(locks: &BTreeMap<u64, Lock>) -> usize {
    locks.values().filter(|l| l.outgoing).count()
}

impl Telemetry {
    /// Starts from the recovered state: nothing before now is reported.
    pub fn new(node: &str, replicas: &Replicas, directory: &Directory) -> Self {
        let mut t = Telemetry {
            node: node.to_string(),
            seen: BTreeMap::new(),
            account_heights: BTreeMap::new(),
            locks: BTreeMap::new(),
            submitted: BTreeMap::new(),
            routing: BTreeMap::new(),
        };
        for (id, r) in replicas.iter() {
            metrics::gauge!(m::CONSENSUS_VIEW, "entity" => directory.name(&id.entity))
                .set(r.view() as f64);
            t.seen.insert(
                *id,
                Seen {
                    height: r.height(),
                    view: r.view(),
                    log: r.state().log.len(),
                },
            );
            for (peer, account) in &r.state().accounts {
                t.account_heights
                    .insert((*id, *peer), account.machine.state.height);
                let locks = locks_of(r, peer);
                if !locks.is_empty() {
                    t.locks.insert((*id, *peer), locks);
                }
            }
        }
        t.gauge_locks();
        t
    }

    fn gauge_locks(&self) {
        let open: usize = self.locks.values().map(outgoing_locks).sum();
        metrics::gauge!(m::HTLCS_IN_FLIGHT).set(open as f64);
    }

    /// A payment tx submitted here (`kind`: direct or routed) is durable in the mempool.
    pub fn submitted(&mut self, tx: [u8; 32], kind: &'static str) {
        if self.submitted.len() < SUBMITTED_MAX {
            self.submitted.insert(tx, (kind, Instant::now()));
        }
    }

    /// After a durable batch: metrics, log lines and the web view's events.
    pub fn after_batch(
        &mut self,
        replicas: &Replicas,
        outcomes: &BTreeMap<[u8; 32], Outcome>,
        directory: &Directory,
    ) -> Vec<Value> {
        let mut events = Vec::new();
        for (id, r) in replicas.iter() {
            // Per batch, an unchanged replica costs one lookup and two comparisons (a node
            // may host a thousand replicas); names and metric keys only for what moved.
            let seen = self.seen.entry(*id).or_default();
            if r.view() == seen.view && r.height() <= seen.height {
                continue;
            }
            let name = directory.name(&id.entity);
            if r.view() > seen.view {
                metrics::counter!(m::VIEW_CHANGES, "entity" => name.clone())
                    .increment(r.view() - seen.view);
                seen.view = r.view();
                metrics::gauge!(m::CONSENSUS_VIEW, "entity" => name.clone()).set(r.view() as f64);
            }
            if r.height() <= seen.height {
                continue;
            }
            let (from_height, from_log) = (seen.height, seen.log);
            metrics::counter!(m::ENTITY_FRAMES).increment(r.height() - from_height);
            tracing::info!(
                node = %self.node,
                entity = %name,
                height = r.height(),
                frames = r.height() - from_height,
                // The hash the commit already computed: a hub's whole state is not
                // hashed again per batch for a log line.
                state_hash = %to_hex(&r.committed_state_hashes().last().copied().unwrap_or_default()),
                "frame committed"
            );
            seen.height = r.height();
            seen.log = r.state().log.len();
            self.accounts(id, r, from_height, &mut events);
            self.log_entries(id, r, from_log, directory, &mut events);
        }
        self.gauge_locks();
        self.outcomes(outcomes);
        events
    }

    /// Account frames and lock changes on the accounts `r` updated after `from_height`.
    fn accounts(
        &mut self,
        id: &ReplicaId,
        r: &EntityReplica,
        from_height: u64,
        events: &mut Vec<Value>,
    ) {
        // An account frame can commit in an entity frame that sends nothing on that account
        // (its `updated_at` stays), so the account heights, not `updated_at`, say what moved.
        for (peer, account) in &r.state().accounts {
            let key = (*id, *peer);
            let height = account.machine.state.height;
            let before = self.account_heights.get(&key).copied().unwrap_or(0);
            if height == before && account.updated_at <= from_height {
                continue;
            }
            self.account_heights.insert(key, height);
            if height > before {
                metrics::counter!(m::ACCOUNT_FRAMES).increment(height - before);
            }
            let now = locks_of(r, peer);
            let old = self.locks.remove(&key).unwrap_or_default();
            let lock_event = |state: &str, lock_id: u64, l: &Lock| {
                json!({
                    "event": "lock",
                    "state": state,
                    "entity": to_hex(&id.entity),
                    "peer": to_hex(peer),
                    "id": lock_id,
                    "hashlock": to_hex(&l.hashlock),
                    "token": l.token,
                    "amount": l.amount.to_string(),
                    "direction": if l.outgoing { "out" } else { "in" },
                })
            };
            for (lock_id, l) in &now {
                if old.get(lock_id) != Some(l) {
                    events.push(lock_event("open", *lock_id, l));
                }
            }
            for (lock_id, l) in &old {
                if !now.contains_key(lock_id) {
                    events.push(lock_event("closed", *lock_id, l));
                }
            }
            if !now.is_empty() {
                self.locks.insert(key, now);
            }
        }
    }

    /// The entity log's new entries: payments and refused account txs.
    fn log_entries(
        &mut self,
        id: &ReplicaId,
        r: &EntityReplica,
        from: usize,
        directory: &Directory,
        events: &mut Vec<Value>,
    ) {
        let node = &self.node;
        let entity = directory.name(&id.entity);
        let payments = &r.state().payments;
        for entry in r.state().log.iter().skip(from) {
            let step = |state: &str, hashlock: &[u8; 32]| {
                json!({
                    "event": "payment",
                    "state": state,
                    "entity": to_hex(&id.entity),
                    "hashlock": to_hex(hashlock),
                })
            };
            match entry {
                LogEntry::PaymentSent { hashlock } => {
                    let mut e = step("sent", hashlock);
                    if let Some(p) = payments.sent.get(hashlock) {
                        e["receiver"] = json!(to_hex(&p.receiver));
                        e["total"] = json!(p.total.to_string());
                        e["token"] = json!(p.token);
                        let routes: Vec<Vec<String>> = p
                            .parts
                            .iter()
                            .map(|part| part.route.iter().map(|h| to_hex(h)).collect())
                            .collect();
                        e["routes"] = json!(routes);
                        tracing::info!(node = %node, entity = %entity, hashlock = %to_hex(hashlock),
                            receiver = %directory.name(&p.receiver), total = %p.total, token = p.token,
                            parts = p.parts.len(), "payment sent");
                    }
                    events.push(e);
                }
                LogEntry::PaymentSettled { hashlock } => {
                    metrics::counter!(m::PAYMENTS_SETTLED).increment(1);
                    let tx = payments.sent.get(hashlock).map(|p| p.tx);
                    let latency = tx
                        .and_then(|tx| self.routing.remove(&tx))
                        .map(|at| at.elapsed().as_secs_f64());
                    if let Some(s) = latency {
                        metrics::histogram!(m::PAYMENT_LATENCY, "kind" => "routed").record(s);
                    }
                    tracing::info!(node = %node, entity = %entity, hashlock = %to_hex(hashlock),
                        latency_s = latency, "payment settled");
                    events.push(step("settled", hashlock));
                }
                LogEntry::PaymentFailed {
                    hashlock,
                    rejection,
                } => {
                    metrics::counter!(m::PAYMENTS_FAILED).increment(1);
                    if let Some(tx) = payments.sent.get(hashlock).map(|p| p.tx) {
                        self.routing.remove(&tx);
                    }
                    tracing::warn!(node = %node, entity = %entity, hashlock = %to_hex(hashlock),
                        reason = rejection.kind.name(), detail = %rejection.reason,
                        "payment failed (its locks are refunded)");
                    let mut e = step("failed", hashlock);
                    e["reason"] = json!(rejection.to_string());
                    events.push(e);
                }
                LogEntry::PaymentReceived { hashlock } => {
                    tracing::info!(node = %node, entity = %entity, hashlock = %to_hex(hashlock),
                        "payment received");
                    events.push(step("received", hashlock));
                }
                LogEntry::PaymentForwarded { hashlock } => {
                    tracing::info!(node = %node, entity = %entity, hashlock = %to_hex(hashlock),
                        "payment forwarded");
                    events.push(step("forwarded", hashlock));
                }
                LogEntry::PaymentRefused {
                    peer,
                    id: lock,
                    rejection,
                } => {
                    m::rejected("lock-refused");
                    tracing::warn!(node = %node, entity = %entity, peer = %directory.name(peer),
                        lock, reason = rejection.kind.name(), detail = %rejection.reason,
                        "payment refused (the lock is given back)");
                    events.push(json!({
                        "event": "payment", "state": "refused",
                        "entity": to_hex(&id.entity), "peer": to_hex(peer), "id": lock,
                        "reason": rejection.to_string(),
                    }));
                }
                LogEntry::AccountTxRejected {
                    peer,
                    tx,
                    rejection,
                } => {
                    m::rejected("account-tx-rejected");
                    tracing::warn!(node = %node, entity = %entity, peer = %directory.name(peer),
                        tx = tx.kind(), reason = rejection.kind.name(), detail = %rejection.reason,
                        "account tx rejected");
                }
                _ => {}
            }
        }
    }

    /// Payment txs submitted here that are now committed (or refused).
    fn outcomes(&mut self, outcomes: &BTreeMap<[u8; 32], Outcome>) {
        let mut done = Vec::new();
        for (tx, (kind, at)) in &self.submitted {
            match outcomes.get(tx) {
                None => {}
                Some(Outcome::Applied(_)) => {
                    metrics::counter!(m::PAYMENTS_COMMITTED, "kind" => *kind).increment(1);
                    if *kind == "direct" {
                        metrics::histogram!(m::PAYMENT_LATENCY, "kind" => "direct")
                            .record(at.elapsed().as_secs_f64());
                    } else if self.routing.len() < SUBMITTED_MAX {
                        self.routing.insert(*tx, *at);
                    }
                    done.push(*tx);
                }
                Some(Outcome::Rejected(_, why)) => {
                    m::rejected("tx-rejected");
                    tracing::warn!(node = %self.node, tx = %to_hex(tx), kind, reason = %why,
                        "input rejected");
                    done.push(*tx);
                }
                Some(Outcome::Dropped(why)) => {
                    m::rejected("tx-dropped");
                    tracing::warn!(node = %self.node, tx = %to_hex(tx), kind, reason = %why,
                        "input rejected");
                    done.push(*tx);
                }
            }
        }
        for tx in done {
            self.submitted.remove(&tx);
        }
    }
}
