//! The node's core: one thread that owns the replicas, the keys and the data directory,
//! and runs every input through the host driver ([`host::drive`]). Inputs arrive on one
//! channel (ticks, peer messages, client requests); the core takes a batch, drives each
//! input (messages between replicas hosted here are delivered at once, as inputs of their
//! own), appends every accepted input to the WAL, **fsyncs once for the batch (group
//! commit), and only then** hands the batch's messages to the peer sessions and answers
//! its clients. So nothing an input caused leaves the process before the input is durable.
//!
//! Time: the core reads the wall clock (milliseconds since the Unix epoch, never going
//! back) once per input and gives it to the replica as `now`; it is logged with the input,
//! so replay needs no clock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::keys::KeyRing;
use super::store::NodeStore;
use crate::crypto::{tagged, Address, Canonical, RlpItem};
use crate::entity::wire::{
    decode_message, expect_tagged, read_address, read_bytes, read_hash, WireError,
};
use crate::entity::{EntityId, EntityMessage, EntityOutput, EntityTx};
use crate::host::{self, HostError, Input, Recipient, ReplicaId, Replicas, Reports, Transport};
use crate::sandbox::SandboxEngine;

/// Most inputs taken into one batch (one fsync).
pub const BATCH_INPUTS_MAX: usize = 1_024;

/// Most bytes queued for one peer; beyond it messages are dropped (the replicas re-send
/// what matters on their timers) and [`PendingBytesExceeded`] is logged.
pub const PEER_PENDING_BYTES_MAX: usize = 32 << 20;

/// How long after the payer's clock the receiver's lock of a routed payment times out, in
/// milliseconds (the node's clock unit; each forwarder adds its own timeout delta). Wide
/// enough for a loaded machine to carry a payment over every hop's fsync and socket.
pub const ROUTE_FINAL_MARGIN_MS: u64 = 60_000;

/// Most locally delivered messages one input may cause (a bound on a logic loop).
const LOCAL_DELIVERIES_MAX: usize = 100_000;

/// A peer's outgoing queue was full: the message was dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the queue to peer {peer} holds {pending} bytes, at most {max}: message dropped (it will be re-sent)")]
pub struct PendingBytesExceeded {
    /// The peer.
    pub peer: String,
    /// Bytes queued.
    pub pending: usize,
    /// The limit ([`PEER_PENDING_BYTES_MAX`]).
    pub max: usize,
}

/// A message between nodes: `tagged("xln/node-envelope/v1", [from, to entity, to
/// validator, message bytes])`, addressed to one replica by entity and validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The sending validator (the session must have proven it).
    pub from: Address,
    /// The receiving replica.
    pub to: ReplicaId,
    /// The entity message, canonical bytes.
    pub message: Vec<u8>,
}

impl Envelope {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        tagged(
            b"xln/node-envelope/v1",
            vec![
                self.from.canonical_rlp(),
                self.to.entity.canonical_rlp(),
                self.to.validator.canonical_rlp(),
                RlpItem::Bytes(self.message.clone()),
            ],
        )
        .encode()
    }

    /// Decodes strictly.
    ///
    /// # Errors
    /// [`WireError`].
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let item = RlpItem::decode_with_max_depth(bytes, 4)?;
        let f = expect_tagged(&item, b"xln/node-envelope/v1", 4, "envelope")?;
        let envelope = Envelope {
            from: read_address(&f[0], "envelope sender")?,
            to: ReplicaId {
                entity: read_hash(&f[1], "envelope entity")?,
                validator: read_address(&f[2], "envelope validator")?,
            },
            message: read_bytes(&f[3], "envelope message")?.to_vec(),
        };
        if envelope.encode() != bytes {
            return Err(WireError::NotCanonical { what: "envelope" });
        }
        Ok(envelope)
    }
}

/// A peer node as the core sees it: its name and its outgoing queue.
pub struct PeerQueue {
    /// The peer's name.
    pub name: String,
    /// Frames for its session task.
    pub sender: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes queued and not yet written.
    pub pending: Arc<AtomicUsize>,
}

/// What a client request asks of the core.
pub type Query = Box<dyn FnOnce(&CoreView<'_>) -> serde_json::Value + Send>;

/// An input to the core.
pub enum CoreEvent {
    /// Time passed: tick every replica.
    Tick,
    /// An envelope from an authenticated session that proved `validators`.
    Peer {
        /// Who the session is (for logs).
        peer: String,
        /// What the session proved.
        validators: Arc<Vec<Address>>,
        /// The envelope's bytes.
        envelope: Vec<u8>,
    },
    /// A client submits `tx` to this node's replica of `entity`.
    Submit {
        /// The entity.
        entity: EntityId,
        /// The tx.
        tx: EntityTx,
        /// The tx hash, once durable, or why not.
        reply: oneshot::Sender<Result<[u8; 32], String>>,
    },
    /// A client asks this node's replica of `entity` to pay `amount` of `token` to `to`
    /// over a route planned on the replica's own gossip view, at the node's clock.
    PayRouted {
        /// The paying entity (hosted here).
        entity: EntityId,
        /// The receiver.
        to: EntityId,
        /// The token.
        token: crate::entity::TokenId,
        /// What the receiver gets.
        amount: num_bigint::BigInt,
        /// The payment's tx hash, once durable, or why not (no route, ...).
        reply: oneshot::Sender<Result<[u8; 32], String>>,
    },
    /// A read-only question, answered after the batch is durable.
    Query(Query, oneshot::Sender<serde_json::Value>),
    /// Stop after this batch.
    Shutdown,
}

/// Most tx outcomes a node remembers (the oldest are forgotten first).
pub const OUTCOMES_KEPT: usize = 1 << 20;

/// What a tx became (from the committing replica's report).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Applied at a height.
    Applied(u64),
    /// Rejected at a height, with why.
    Rejected(u64, String),
    /// Dropped from the mempool, with why.
    Dropped(String),
}

/// Reports of replayed and live replicas: outcomes and events.
#[derive(Default)]
pub struct Ledger {
    /// Tx outcomes by hash (kept in snapshots, rebuilt by replay after them).
    pub outcomes: BTreeMap<[u8; 32], Outcome>,
    /// The outcomes' hashes, oldest first (to forget beyond [`OUTCOMES_KEPT`]).
    order: VecDeque<[u8; 32]>,
    /// Txs queued by the last submit.
    queued: Vec<[u8; 32]>,
    /// Events of the current batch.
    events: Vec<serde_json::Value>,
    /// Replicas that committed in the current batch.
    committed: BTreeSet<ReplicaId>,
}

impl Ledger {
    /// Records what `tx` became, forgetting the oldest beyond [`OUTCOMES_KEPT`].
    pub fn record(&mut self, tx: [u8; 32], outcome: Outcome) {
        if self.outcomes.insert(tx, outcome).is_none() {
            self.order.push_back(tx);
            while self.order.len() > OUTCOMES_KEPT {
                if let Some(old) = self.order.pop_front() {
                    self.outcomes.remove(&old);
                }
            }
        }
    }

    /// The outcomes, oldest first (for snapshots).
    pub fn in_order(&self) -> Vec<([u8; 32], Outcome)> {
        self.order
            .iter()
            .filter_map(|h| self.outcomes.get(h).map(|o| (*h, o.clone())))
            .collect()
    }
}

impl Reports for Ledger {
    fn report(&mut self, from: &ReplicaId, output: EntityOutput) {
        match output {
            EntityOutput::Queued { tx_hash, .. } => self.queued.push(tx_hash),
            EntityOutput::Committed(c) => {
                let rejected: BTreeMap<[u8; 32], String> = c
                    .rejected_txs
                    .iter()
                    .map(|r| (r.tx_hash, r.rejection.to_string()))
                    .collect();
                for tx in &c.tx_hashes {
                    let outcome = match rejected.get(tx) {
                        Some(why) => Outcome::Rejected(c.height, why.clone()),
                        None => Outcome::Applied(c.height),
                    };
                    self.record(*tx, outcome);
                }
                self.committed.insert(*from);
                self.events.push(serde_json::json!({
                    "event": "committed",
                    "entity": crate::crypto::readable::to_hex(&from.entity),
                    "validator": from.validator.to_checksum(),
                    "height": c.height,
                    "state_hash": crate::crypto::readable::to_hex(&c.state_hash),
                    "txs": c.tx_hashes.len(),
                }));
            }
            EntityOutput::TxDropped { tx_hash, reason } => {
                self.outcomes
                    .entry(tx_hash)
                    .or_insert(Outcome::Dropped(reason));
            }
            EntityOutput::Evidence(e) => self.events.push(serde_json::json!({
                "event": "evidence",
                "entity": crate::crypto::readable::to_hex(&from.entity),
                "validator": e.validator.to_checksum(),
                "height": e.height(),
            })),
            // Messages never reach reports; outputs added later are not reported to clients.
            _ => {}
        }
    }
}

/// Where replicas live: the entities' validators and which peer hosts each validator.
pub struct Directory {
    /// Entity id -> (name, genesis board).
    pub entities: BTreeMap<EntityId, (String, crate::entity::Board)>,
    /// Validator -> index of the peer hosting it.
    pub host_of: BTreeMap<Address, usize>,
}

impl Directory {
    fn targets(&self, to: &Recipient) -> Vec<ReplicaId> {
        let all = |entity: &EntityId| {
            self.entities
                .get(entity)
                .map(|(_, b)| b.validators.iter().map(|v| v.address).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        match *to {
            Recipient::Validator { entity, validator } => vec![ReplicaId { entity, validator }],
            Recipient::Peers { entity, except } => all(&entity)
                .into_iter()
                .filter(|v| *v != except)
                .map(|validator| ReplicaId { entity, validator })
                .collect(),
            Recipient::Entity(entity) => all(&entity)
                .into_iter()
                .map(|validator| ReplicaId { entity, validator })
                .collect(),
        }
    }

    /// The name of an entity, or its id in hex.
    pub fn name(&self, id: &EntityId) -> String {
        self.entities
            .get(id)
            .map_or_else(|| crate::crypto::readable::to_hex(id), |(n, _)| n.clone())
    }
}

/// The core's [`Transport`]: messages to replicas here go to the local queue; the others
/// become envelopes held until the batch is durable.
struct Router<'a> {
    directory: &'a Directory,
    local: &'a BTreeSet<ReplicaId>,
    deliveries: &'a mut VecDeque<(ReplicaId, Address, EntityMessage)>,
    outgoing: &'a mut Vec<(usize, Vec<u8>)>,
}

impl Transport for Router<'_> {
    fn send(&mut self, from: &ReplicaId, to: Recipient, message: EntityMessage) {
        let mut bytes = None;
        for target in self.directory.targets(&to) {
            if self.local.contains(&target) {
                self.deliveries
                    .push_back((target, from.validator, message.clone()));
            } else if let Some(peer) = self.directory.host_of.get(&target.validator) {
                let message = bytes
                    .get_or_insert_with(|| message.canonical_bytes())
                    .clone();
                let envelope = Envelope {
                    from: from.validator,
                    to: target,
                    message,
                };
                self.outgoing.push((*peer, envelope.encode()));
            }
        }
    }
}

/// Read-only access for queries.
pub struct CoreView<'a> {
    /// The node's name.
    pub name: &'a str,
    /// The replicas.
    pub replicas: &'a Replicas,
    /// Tx outcomes.
    pub outcomes: &'a BTreeMap<[u8; 32], Outcome>,
    /// Entities and hosts.
    pub directory: &'a Directory,
    /// Records in the WAL.
    pub records: u64,
}

/// The core. See the module documentation.
pub struct Core {
    /// The node's name (for logs).
    pub name: String,
    /// The replicas hosted here.
    pub replicas: Replicas,
    /// Their keys.
    pub keys: KeyRing,
    /// The data directory.
    pub store: NodeStore,
    /// Entities and peers.
    pub directory: Directory,
    /// Outgoing queues, by peer index.
    pub peers: Vec<PeerQueue>,
    /// Outcomes and events.
    pub ledger: Ledger,
    /// Event subscribers.
    pub events: broadcast::Sender<serde_json::Value>,
    /// Runs subcontract code for every replica here (one interpreter, reset per call).
    engine: SandboxEngine,
    local: BTreeSet<ReplicaId>,
    last_ticked: BTreeMap<ReplicaId, u64>,
    last_now: u64,
    dropped_logged: u64,
    /// Metrics, log lines and web events read off the state after each batch.
    telemetry: super::telemetry::Telemetry,
}

/// Replies held until the batch is durable.
enum Reply {
    Submit(
        oneshot::Sender<Result<[u8; 32], String>>,
        Result<[u8; 32], String>,
    ),
    Query(Query, oneshot::Sender<serde_json::Value>),
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Core {
    /// A core over recovered replicas.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        replicas: Replicas,
        keys: KeyRing,
        store: NodeStore,
        directory: Directory,
        peers: Vec<PeerQueue>,
        ledger: Ledger,
        events: broadcast::Sender<serde_json::Value>,
    ) -> Self {
        let local = replicas.ids().into_iter().collect();
        let telemetry = super::telemetry::Telemetry::new(&name, &replicas, &directory);
        Core {
            telemetry,
            engine: SandboxEngine::new(),
            local,
            last_ticked: BTreeMap::new(),
            name,
            replicas,
            keys,
            store,
            directory,
            peers,
            ledger,
            events,
            last_now: 0,
            dropped_logged: 0,
        }
    }

    fn now(&mut self) -> u64 {
        self.last_now = self.last_now.max(wall_ms());
        self.last_now
    }

    /// Runs until [`CoreEvent::Shutdown`] or the channel closes.
    ///
    /// # Errors
    /// A store failure (the node must stop: memory is ahead of disk).
    pub fn run(&mut self, mut inputs: mpsc::Receiver<CoreEvent>) -> Result<(), String> {
        while let Some(first) = inputs.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH_INPUTS_MAX {
                match inputs.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            if !self.batch(batch)? {
                break;
            }
        }
        self.store.sync().map_err(|e| e.to_string())?;
        // The state the WAL now holds, for whoever checks a replay against it (the chaos
        // run does: a node's timers may still have moved it after its last status read).
        tracing::info!(node = %self.name, records = self.store.records(),
            state_hash = %crate::crypto::readable::to_hex(&self.replicas.state_hash()),
            "node stopped");
        Ok(())
    }

    /// One batch: drive, fsync, release. Returns false after a shutdown.
    fn batch(&mut self, batch: Vec<CoreEvent>) -> Result<bool, String> {
        let mut outgoing = Vec::new();
        let mut replies = Vec::new();
        let mut running = true;
        for event in batch {
            match event {
                CoreEvent::Tick => self.tick(&mut outgoing)?,
                CoreEvent::Peer {
                    peer,
                    validators,
                    envelope,
                } => self.peer_envelope(&peer, &validators, &envelope, &mut outgoing)?,
                CoreEvent::Submit { entity, tx, reply } => {
                    let direct = matches!(
                        tx,
                        EntityTx::Account {
                            tx: crate::account::AccountTx::Pay { .. },
                            ..
                        }
                    );
                    let result = self.submit(entity, tx, &mut outgoing)?;
                    if let (true, Ok(hash)) = (direct, &result) {
                        self.telemetry.submitted(*hash, "direct");
                    }
                    replies.push(Reply::Submit(reply, result));
                }
                CoreEvent::PayRouted {
                    entity,
                    to,
                    token,
                    amount,
                    reply,
                } => {
                    let result = match self.plan(entity, to, token, &amount) {
                        Ok(plan) => {
                            let tx = EntityTx::PayRouted(Box::new(plan));
                            let result = self.submit(entity, tx, &mut outgoing)?;
                            if let Ok(hash) = &result {
                                self.telemetry.submitted(*hash, "routed");
                            }
                            result
                        }
                        Err(why) => Err(why),
                    };
                    replies.push(Reply::Submit(reply, result));
                }
                CoreEvent::Query(q, reply) => replies.push(Reply::Query(q, reply)),
                CoreEvent::Shutdown => running = false,
            }
        }
        if self.store.pending() > 0 {
            self.store
                .sync()
                .map_err(|e| format!("the WAL failed: {e}"))?;
        }
        self.release(outgoing, replies);
        self.account_events();
        let observed =
            self.telemetry
                .after_batch(&self.replicas, &self.ledger.outcomes, &self.directory);
        self.ledger.events.extend(observed);
        for event in std::mem::take(&mut self.ledger.events) {
            let _ = self.events.send(event);
        }
        self.store
            .maybe_snapshot(&self.replicas, &self.ledger)
            .map_err(|e| format!("a snapshot failed: {e}"))?;
        Ok(running)
    }

    /// Ticks every replica a tick has work for ([`EntityReplica::wake_at`]: work under way,
    /// a lock of its own whose timeout has passed by the node's clock, a profile to check),
    /// and the others once per sync interval: an idle replica's tick does nothing else but
    /// its periodic sync request (see the entity rules), so skipping it changes no state —
    /// and keeps the WAL from filling with empty ticks. Which ticks happen is the host's
    /// choice; each one is logged.
    ///
    /// [`EntityReplica::wake_at`]: crate::entity::EntityReplica::wake_at
    fn tick(&mut self, outgoing: &mut Vec<(usize, Vec<u8>)>) -> Result<(), String> {
        let now = self.now();
        for id in self.replicas.ids() {
            let Some(r) = self.replicas.get(&id) else {
                continue;
            };
            let idle_period = r.config().sync_interval.max(1);
            let last = self.last_ticked.get(&id).copied();
            let woken = r.wake_at().is_some_and(|t| now >= t);
            let due = woken || last.is_none_or(|t| now >= t.saturating_add(idle_period));
            if due {
                self.last_ticked.insert(id, now);
                let _ = self.run_input(id, Input::Tick, outgoing)?;
            }
        }
        Ok(())
    }

    fn release(&mut self, outgoing: Vec<(usize, Vec<u8>)>, replies: Vec<Reply>) {
        for (peer, bytes) in outgoing {
            let Some(q) = self.peers.get(peer) else {
                continue;
            };
            let pending = q.pending.load(Ordering::Relaxed);
            if pending + bytes.len() > PEER_PENDING_BYTES_MAX {
                self.dropped_logged += 1;
                if self.dropped_logged.is_power_of_two() {
                    let e = PendingBytesExceeded {
                        peer: q.name.clone(),
                        pending,
                        max: PEER_PENDING_BYTES_MAX,
                    };
                    tracing::warn!(node = %self.name, peer = %q.name, dropped = self.dropped_logged,
                        reason = "peer-queue-full", detail = %e, "message dropped");
                }
                continue;
            }
            q.pending.fetch_add(bytes.len(), Ordering::Relaxed);
            if q.sender.send(bytes).is_err() {
                q.pending.store(0, Ordering::Relaxed);
            }
        }
        for reply in replies {
            match reply {
                Reply::Submit(tx, result) => {
                    let _ = tx.send(result);
                }
                Reply::Query(q, tx) => {
                    let view = CoreView {
                        name: &self.name,
                        replicas: &self.replicas,
                        outcomes: &self.ledger.outcomes,
                        directory: &self.directory,
                        records: self.store.records(),
                    };
                    let _ = tx.send(q(&view));
                }
            }
        }
    }

    /// Events for accounts of replicas that committed in this batch.
    fn account_events(&mut self) {
        for id in std::mem::take(&mut self.ledger.committed) {
            let Some(r) = self.replicas.get(&id) else {
                continue;
            };
            for (peer, account) in &r.state().accounts {
                if account.updated_at == r.height() {
                    self.ledger.events.push(serde_json::json!({
                        "event": "account",
                        "entity": crate::crypto::readable::to_hex(&id.entity),
                        "peer": crate::crypto::readable::to_hex(peer),
                        "height": account.machine.state.height,
                    }));
                }
            }
        }
    }

    /// Drives one input and every local delivery it causes.
    fn run_input(
        &mut self,
        id: ReplicaId,
        input: Input,
        outgoing: &mut Vec<(usize, Vec<u8>)>,
    ) -> Result<Result<(), HostError>, String> {
        let mut deliveries = VecDeque::new();
        let first = self.drive_one(id, input, &mut deliveries, outgoing)?;
        let mut n = 0;
        while let Some((to, from, message)) = deliveries.pop_front() {
            n += 1;
            if n > LOCAL_DELIVERIES_MAX {
                tracing::warn!(node = %self.name, max = LOCAL_DELIVERIES_MAX,
                    "local deliveries over the limit; the rest wait for resends");
                break;
            }
            let input = Input::Message { from, message };
            let _ = self.drive_one(to, input, &mut deliveries, outgoing)?;
        }
        Ok(first)
    }

    /// The one call into the host driver. Store failures stop the node (`Err`); a
    /// replica's refusal is returned for the caller to log.
    fn drive_one(
        &mut self,
        id: ReplicaId,
        input: Input,
        deliveries: &mut VecDeque<(ReplicaId, Address, EntityMessage)>,
        outgoing: &mut Vec<(usize, Vec<u8>)>,
    ) -> Result<Result<(), HostError>, String> {
        let now = self.now();
        let Some(replica) = self.replicas.get_mut(&id) else {
            return Ok(Err(HostError::Store(format!(
                "no replica of {} here",
                id.validator
            ))));
        };
        let mut router = Router {
            directory: &self.directory,
            local: &self.local,
            deliveries,
            outgoing,
        };
        let result = host::drive(
            replica,
            &self.keys,
            &mut self.store,
            &mut router,
            &mut self.ledger,
            &mut self.engine,
            now,
            input,
        );
        match result {
            Err(HostError::Store(e)) => Err(format!("the WAL failed: {e}")),
            other => Ok(other),
        }
    }

    fn peer_envelope(
        &mut self,
        peer: &str,
        validators: &[Address],
        bytes: &[u8],
        outgoing: &mut Vec<(usize, Vec<u8>)>,
    ) -> Result<(), String> {
        let name = self.name.clone();
        // One line and one count per refused message: who sent it, why (a reason label
        // for the metric, the detail in words).
        let refuse = |reason: &'static str, why: String| {
            super::metrics::rejected(reason);
            tracing::warn!(node = %name, peer = %peer, reason, detail = %why, "input rejected");
        };
        let envelope = match Envelope::decode(bytes) {
            Ok(e) => e,
            Err(e) => {
                refuse("not-an-envelope", format!("not an envelope: {e}"));
                return Ok(());
            }
        };
        if !validators.contains(&envelope.from) {
            refuse(
                "unproven-sender",
                format!(
                    "it claims to come from {} but the session proved only {validators:?}",
                    envelope.from
                ),
            );
            return Ok(());
        }
        let message = match decode_message(&envelope.message) {
            Ok(m) => m,
            Err(e) => {
                refuse(
                    "not-an-entity-message",
                    format!("not an entity message: {e}"),
                );
                return Ok(());
            }
        };
        if self.replicas.get(&envelope.to).is_none() {
            refuse(
                "no-such-replica",
                format!(
                    "no replica of {} for validator {} here",
                    self.directory.name(&envelope.to.entity),
                    envelope.to.validator
                ),
            );
            return Ok(());
        }
        let kind = message.kind();
        let input = Input::Message {
            from: envelope.from,
            message,
        };
        if let Err(HostError::Refused(e)) = self.run_input(envelope.to, input, outgoing)? {
            if e.reaction() != crate::entity::Reaction::Ignore {
                refuse(
                    "refused-by-replica",
                    format!("{kind} refused by the replica ({:?}): {e}", e.reaction()),
                );
            }
        }
        Ok(())
    }

    /// A route from `entity` (hosted here) to `to` over the hosted replica's gossip view,
    /// timed by the node's clock.
    fn plan(
        &mut self,
        entity: EntityId,
        to: EntityId,
        token: crate::entity::TokenId,
        amount: &num_bigint::BigInt,
    ) -> Result<crate::entity::RoutedPayment, String> {
        let now = self.now();
        let replica = self
            .replicas
            .iter()
            .find(|(id, _)| id.entity == entity)
            .map(|(_, r)| r)
            .ok_or_else(|| {
                format!(
                    "this node hosts no replica of entity {}",
                    self.directory.name(&entity)
                )
            })?;
        replica
            .gossip()
            .plans_with_margin(&entity, &to, amount, token, (now, ROUTE_FINAL_MARGIN_MS), 1)
            .map_err(|r| r.to_string())?
            .into_iter()
            .next()
            .ok_or_else(|| "no route".to_string())
    }

    fn submit(
        &mut self,
        entity: EntityId,
        tx: EntityTx,
        outgoing: &mut Vec<(usize, Vec<u8>)>,
    ) -> Result<Result<[u8; 32], String>, String> {
        let Some(id) = self.replicas.ids().into_iter().find(|r| r.entity == entity) else {
            return Ok(Err(format!(
                "this node hosts no replica of entity {}",
                self.directory.name(&entity)
            )));
        };
        self.ledger.queued.clear();
        match self.run_input(id, Input::Submit(tx), outgoing)? {
            Ok(()) => Ok(self
                .ledger
                .queued
                .first()
                .copied()
                .ok_or_else(|| "the replica did not queue the tx".to_string())),
            Err(e) => Ok(Err(e.to_string())),
        }
    }
}
