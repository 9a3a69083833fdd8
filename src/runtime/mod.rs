//! The deterministic simulator: a tick loop over every replica of every entity, routing
//! their outputs through a seeded lossy network ([`NetworkModel`]) and injecting time
//! (the tick counter) and byzantine behaviours ([`Behaviour`]). Everything that happens is
//! recorded in a timeline of [`Event`]s. Same seed + same calls → byte-identical state
//! hashes and timeline.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`Runtime`]: entities, the tick loop, routing, tx outcomes, quiescence |
//! | `network.rs` | [`SplitMix64`], [`NetworkModel`], [`Partition`] and the in-flight queue |
//! | `byzantine.rs` | [`Behaviour`] and how a byzantine replica's messages are rewritten |
//! | `timeline.rs` | [`Event`] and its JSON-lines form |
//! | `input.rs` | [`RuntimeInput`], its canonical encoding, and [`Runtime::apply`] |
//! | `driving.rs` | how each input reaches a replica: the host driver, the outbox, the per-replica record log |
//! | `kinds.rs` | the static kind names of events, read back from snapshots |
//!
//! One tick: deliver every message due (in the network's order), then give every replica
//! a `Tick`, then let `ReplayOld` replicas replay. Only errors of the caller (unknown
//! entity, bad board) are returned; replicas' refusals are timeline events.

#![warn(missing_docs)]

mod byzantine;
mod driving;
mod input;
mod kinds;
mod network;
mod timeline;

use std::collections::{BTreeMap, VecDeque};

use num_bigint::BigInt;

pub use byzantine::Behaviour;
pub(crate) use input::{config_items, read_config, read_reserves};
pub use input::{InputDecodeError, RuntimeInput, RuntimeOutput, INPUT_BYTES_MAX};
pub use network::{Envelope, Network, NetworkModel, Node, Partition, SendFate, SplitMix64};
pub use timeline::{push_json_string, Event};

use driving::Step;

use crate::crypto::{Address, SecretKey};
use crate::entity::payment::onion_secret_from;
use crate::entity::{
    Board, EntityConfig, EntityError, EntityId, EntityMessage, EntityOutput, EntityReplica,
    EntityState, EntityTx, Holder, Rejection, TokenId, Validator,
};
use crate::host::{HostError, HostRecord, Input, ReplicaId};
use crate::sandbox::SandboxEngine;

/// Old messages a `ReplayOld` replica remembers for replaying.
const REPLAY_HISTORY_MAX: usize = 128;

/// Errors of the runtime's caller (not of replicas, whose refusals are timeline events).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// No entity with this index.
    #[error("no entity {0}; entities are numbered from 0 in the order they were added")]
    UnknownEntity(usize),
    /// No replica with this index in the entity.
    #[error("entity {entity} has no replica {replica}")]
    UnknownReplica {
        /// The entity.
        entity: usize,
        /// The replica index asked for.
        replica: usize,
    },
    /// Every replica of the entity is byzantine, so none can take a submission honestly.
    #[error("entity {0} has no honest replica to submit to")]
    NoHonestReplica(usize),
    /// The entity layer refused (a bad board, reserve or tx).
    #[error(transparent)]
    Entity(#[from] EntityError),
    /// The host boundary failed otherwise (a missing key; the simulator's store never fails).
    #[error(transparent)]
    Host(HostError),
}

crate::plain_readable!(TxOutcome);

/// What finally happened to a submitted tx (first report by an honest replica).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TxOutcome {
    /// Committed and applied at `height`.
    Applied {
        /// The height.
        height: u64,
    },
    /// Committed at `height` but rejected when applied.
    Rejected {
        /// The height.
        height: u64,
        /// Why, and what kind of refusal.
        rejection: Rejection,
    },
    /// Dropped from a mempool: it can no longer commit.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// A tx handed to a replica by [`Runtime::submit`] or [`Runtime::submit_to`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Submission {
    /// The entity.
    pub entity: usize,
    /// The replica that signed and gossiped it.
    pub replica: usize,
    /// The signed tx's hash.
    #[serde(with = "crate::crypto::readable")]
    pub tx_hash: [u8; 32],
    /// The tick it was submitted at.
    pub tick: u64,
}

/// One replica in the simulation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct SimReplica {
    key: SecretKey,
    replica: EntityReplica,
    behaviour: Behaviour,
    history: VecDeque<EntityMessage>,
}

/// One entity in the simulation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct SimEntity {
    #[serde(with = "crate::crypto::readable")]
    id: EntityId,
    genesis_board: Board,
    replicas: Vec<SimReplica>,
    addresses: BTreeMap<Address, usize>,
    /// A label for people and tools (`entity-<index>` unless the adder named it).
    #[serde(default)]
    name: String,
}

/// The simulator. See the module documentation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Runtime {
    seed: u64,
    tick: u64,
    network: Network,
    chaos: SplitMix64,
    entities: Vec<SimEntity>,
    timeline: Vec<Event>,
    #[serde(with = "crate::crypto::readable")]
    outcomes: BTreeMap<[u8; 32], TxOutcome>,
    submitted: Vec<Submission>,
    next_submitter: usize,
    entity_config: EntityConfig,
    /// Runs subcontract code for every replica (interpreters are not persisted: a clone or
    /// a restored runtime gets a fresh one, which gives the same results).
    #[serde(skip)]
    engine: SandboxEngine,
    /// Per-replica logs of accepted inputs in the host record format, when recording is on
    /// (not part of snapshots: a debugging and cross-checking aid).
    #[serde(skip)]
    recording: Option<BTreeMap<ReplicaId, Vec<Vec<u8>>>>,
}

impl Runtime {
    /// An empty simulation at tick 0 with a perfect network; all randomness derives from
    /// `seed`.
    pub fn new(seed: u64) -> Self {
        Runtime {
            seed,
            tick: 0,
            network: Network::new(NetworkModel::perfect(), seed ^ 0x6E65_7477_6F72_6B00),
            chaos: SplitMix64::new(seed ^ 0x6279_7A61_6E74_696E),
            entities: Vec::new(),
            timeline: Vec::new(),
            outcomes: BTreeMap::new(),
            submitted: Vec::new(),
            next_submitter: 0,
            entity_config: EntityConfig::default(),
            engine: SandboxEngine::new(),
            recording: None,
        }
    }

    /// The seed the runtime was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current tick (the time replicas see).
    pub fn now(&self) -> u64 {
        self.tick
    }

    /// Sets the network model: loss and duplication probabilities as (numerator,
    /// denominator), the most extra ticks of delay, and the network's own seed. Messages in
    /// flight stay in flight.
    pub fn set_network(
        &mut self,
        loss: (u64, u64),
        duplicate: (u64, u64),
        max_delay: u64,
        seed: u64,
    ) {
        let model = NetworkModel {
            loss,
            duplicate,
            max_delay,
        };
        self.network.reconfigure(model, seed);
    }

    /// Makes the network perfect and ends any partition (keeping its random stream for
    /// tie-breaks).
    pub fn heal_network(&mut self) {
        let seed = self.network_seed_continuation();
        self.network.reconfigure(NetworkModel::perfect(), seed);
        self.network.heal_partition();
    }

    /// Splits the network from now until tick `until_tick` (exclusive): replicas in
    /// different `groups` of (entity, replica) nodes cannot reach each other; every replica
    /// named in no group is in one more group. Replaces any partition in force; ends early
    /// with [`Runtime::heal_partition`] or [`Runtime::heal_network`]. Not a logged
    /// [`RuntimeInput`]: for tests driving the runtime directly.
    pub fn partition(&mut self, groups: Vec<Vec<Node>>, until_tick: u64) {
        self.network.set_partition(Partition {
            groups,
            until: until_tick,
        });
    }

    /// [`Runtime::partition`] of the replicas of one entity (`groups` of replica indices);
    /// replicas of other entities are in the rest.
    pub fn partition_entity(&mut self, entity: usize, groups: &[Vec<usize>], until_tick: u64) {
        let groups = groups
            .iter()
            .map(|g| g.iter().map(|r| (entity, *r)).collect())
            .collect();
        self.partition(groups, until_tick);
    }

    /// Ends any partition now.
    pub fn heal_partition(&mut self) {
        self.network.heal_partition();
    }

    /// The partition in force now, if any.
    pub fn partition_in_force(&self) -> Option<&Partition> {
        self.network.partition_at(self.tick)
    }

    fn network_seed_continuation(&mut self) -> u64 {
        self.chaos.next_u64()
    }

    /// The network model in force.
    pub fn network(&self) -> NetworkModel {
        self.network.model()
    }

    /// Sets the replica configuration used by [`Runtime::add_entity`] from now on.
    pub fn set_entity_config(&mut self, config: EntityConfig) {
        self.entity_config = config;
    }

    /// Adds an entity of `validators` equal-share validators whose keys derive from the
    /// runtime seed, with `threshold`, genesis `reserves` and the configuration set by
    /// [`Runtime::set_entity_config`] (default: [`EntityConfig::default`]). Returns its index.
    ///
    /// # Errors
    /// [`RuntimeError::Entity`] for a bad board or reserve (a validator count above
    /// [`crate::entity::BOARD_VALIDATORS_MAX`] is refused before any key is derived: the
    /// count may come from a logged input).
    pub fn add_entity(
        &mut self,
        validators: usize,
        threshold: u64,
        reserves: Vec<(Holder, TokenId, BigInt)>,
    ) -> Result<usize, RuntimeError> {
        let max = crate::entity::BOARD_VALIDATORS_MAX;
        if validators > max {
            return Err(RuntimeError::Entity(
                crate::entity::EntityError::InvalidBoard {
                    reason: format!("{validators} validators, at most {max} allowed"),
                },
            ));
        }
        let index = self.entities.len();
        let keys = (0..validators)
            .map(|i| {
                let seed = format!("xln/runtime/{}/entity/{index}/validator/{i}", self.seed);
                (SecretKey::from_seed(seed.as_bytes()), 1)
            })
            .collect();
        let config = self.entity_config.clone();
        self.add_entity_with(keys, threshold, reserves, config)
    }

    /// Adds an entity with the given (key, shares) validators, threshold, genesis reserves
    /// and replica configuration. Returns its index.
    ///
    /// # Errors
    /// [`RuntimeError::Entity`] for a bad board or reserve.
    pub fn add_entity_with(
        &mut self,
        keys: Vec<(SecretKey, u64)>,
        threshold: u64,
        reserves: Vec<(Holder, TokenId, BigInt)>,
        config: EntityConfig,
    ) -> Result<usize, RuntimeError> {
        let addresses: Vec<Address> = keys.iter().map(|(k, _)| k.address()).collect();
        let validators = addresses
            .iter()
            .zip(&keys)
            .map(|(a, (_, shares))| Validator::new(*a, *shares))
            .collect();
        let board = Board::new(validators, threshold)?;
        let onion = self.onion_secret(self.entities.len());
        let onion_key = onion.public_key().to_vec();
        let genesis = EntityState::genesis(board.clone(), reserves.clone())?.with_onion(onion);
        if let Some(recording) = self.recording.as_mut() {
            for address in &addresses {
                let record = HostRecord::Genesis {
                    validator: *address,
                    board: board.clone(),
                    reserves: reserves.clone(),
                    config: config.clone(),
                    onion_key: onion_key.clone(),
                };
                let id = ReplicaId {
                    entity: genesis.entity_id,
                    validator: *address,
                };
                recording.insert(id, vec![record.encode()]);
            }
        }
        let replicas = keys
            .into_iter()
            .zip(&addresses)
            .map(|((key, _), address)| SimReplica {
                key,
                replica: EntityReplica::from_genesis(genesis.clone(), *address, config.clone()),
                behaviour: Behaviour::Honest,
                history: VecDeque::new(),
            })
            .collect();
        self.entities.push(SimEntity {
            id: genesis.entity_id,
            genesis_board: genesis.board.clone(),
            replicas,
            addresses: addresses.iter().enumerate().map(|(i, a)| (*a, i)).collect(),
            name: format!("entity-{}", self.entities.len()),
        });
        Ok(self.entities.len() - 1)
    }

    fn entity(&self, entity: usize) -> Result<&SimEntity, RuntimeError> {
        self.entities
            .get(entity)
            .ok_or(RuntimeError::UnknownEntity(entity))
    }

    fn sim_replica(&self, entity: usize, replica: usize) -> Result<&SimReplica, RuntimeError> {
        self.entity(entity)?
            .replicas
            .get(replica)
            .ok_or(RuntimeError::UnknownReplica { entity, replica })
    }

    /// The board an entity started with (its id is this board's hash).
    ///
    /// # Errors
    /// [`RuntimeError::UnknownEntity`].
    pub fn genesis_board(&self, entity: usize) -> Result<&Board, RuntimeError> {
        Ok(&self.entity(entity)?.genesis_board)
    }

    /// The runtime index of the entity with `id`, if it is simulated here.
    pub fn entity_index(&self, id: &EntityId) -> Option<usize> {
        self.entities.iter().position(|e| e.id == *id)
    }

    /// The name of `entity` (given by [`RuntimeInput::AddEntity`], else `entity-<index>`).
    pub fn entity_name(&self, entity: usize) -> Option<&str> {
        self.entities.get(entity).map(|e| e.name.as_str())
    }

    /// Number of entities.
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// Number of replicas of `entity` (0 if unknown).
    pub fn replica_count(&self, entity: usize) -> usize {
        self.entity(entity).map_or(0, |e| e.replicas.len())
    }

    /// The id of `entity`.
    ///
    /// # Errors
    /// [`RuntimeError::UnknownEntity`].
    pub fn entity_id(&self, entity: usize) -> Result<EntityId, RuntimeError> {
        Ok(self.entity(entity)?.id)
    }

    /// Replica `replica` of `entity`.
    ///
    /// # Errors
    /// [`RuntimeError::UnknownEntity`] / [`RuntimeError::UnknownReplica`].
    pub fn replica(&self, entity: usize, replica: usize) -> Result<&EntityReplica, RuntimeError> {
        Ok(&self.sim_replica(entity, replica)?.replica)
    }

    /// The onion secret the entity at `index` shares among its validators: in a simulation
    /// it derives from the seed and the entity's position, like its validators' keys (so a
    /// checker can rebuild an entity's genesis state exactly).
    pub fn onion_secret(&self, index: usize) -> crate::crypto::onion::OnionSecret {
        onion_secret_from(format!("xln/runtime/{}/entity/{index}/onion", self.seed).as_bytes())
    }

    /// The keys of the entity's honest validators. The simulator holds every validator's
    /// key (a node holds only its own); the chain adapter signs an entity's chain
    /// operations with a quorum of them.
    pub fn validator_keys(&self, entity: usize) -> Vec<SecretKey> {
        self.entity(entity).map_or_else(
            |_| Vec::new(),
            |e| {
                e.replicas
                    .iter()
                    .filter(|r| r.behaviour == Behaviour::Honest)
                    .map(|r| r.key.clone())
                    .collect()
            },
        )
    }

    /// The behaviour of a replica.
    ///
    /// # Errors
    /// [`RuntimeError::UnknownEntity`] / [`RuntimeError::UnknownReplica`].
    pub fn behaviour(&self, entity: usize, replica: usize) -> Result<Behaviour, RuntimeError> {
        Ok(self.sim_replica(entity, replica)?.behaviour)
    }

    /// Indices of the honest replicas of `entity`.
    pub fn honest(&self, entity: usize) -> Vec<usize> {
        self.entity(entity).map_or_else(
            |_| Vec::new(),
            |e| {
                e.replicas
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.behaviour == Behaviour::Honest)
                    .map(|(i, _)| i)
                    .collect()
            },
        )
    }

    /// Sets a replica's behaviour (takes effect from the next message it sends).
    ///
    /// # Errors
    /// [`RuntimeError::UnknownEntity`] / [`RuntimeError::UnknownReplica`].
    pub fn set_behaviour(
        &mut self,
        entity: usize,
        replica: usize,
        behaviour: Behaviour,
    ) -> Result<(), RuntimeError> {
        self.sim_replica(entity, replica)?;
        self.entities[entity].replicas[replica].behaviour = behaviour;
        self.timeline.push(Event::BehaviourSet {
            tick: self.tick,
            entity,
            replica,
            behaviour,
        });
        Ok(())
    }

    /// Submits `tx` to the next honest replica of `entity` (round robin). Returns the signed
    /// tx's hash, whose fate [`Runtime::outcome`] reports.
    ///
    /// # Errors
    /// [`RuntimeError::NoHonestReplica`], or the replica's refusal as [`RuntimeError::Entity`].
    pub fn submit(&mut self, entity: usize, tx: EntityTx) -> Result<[u8; 32], RuntimeError> {
        let sim = self.entity(entity)?;
        // Only validators on the entity's current board can sign txs for it.
        let honest: Vec<usize> = self
            .honest(entity)
            .into_iter()
            .filter(|i| {
                let r = &sim.replicas[*i].replica;
                r.state().board.contains(&r.me())
            })
            .collect();
        if honest.is_empty() {
            return Err(RuntimeError::NoHonestReplica(entity));
        }
        let replica = honest[self.next_submitter % honest.len()];
        self.next_submitter = self.next_submitter.wrapping_add(1);
        self.submit_to(entity, replica, tx)
    }

    /// Submits `tx` to one replica.
    ///
    /// # Errors
    /// Unknown entity or replica, or the replica's refusal as [`RuntimeError::Entity`].
    pub fn submit_to(
        &mut self,
        entity: usize,
        replica: usize,
        tx: EntityTx,
    ) -> Result<[u8; 32], RuntimeError> {
        self.sim_replica(entity, replica)?;
        let now = self.tick;
        let steps = self.input(entity, replica, Input::Submit(tx), now)?;
        let queued = steps.iter().find_map(|o| match o {
            Step::Report(EntityOutput::Queued { tx_hash, nonce }) => Some((*tx_hash, *nonce)),
            _ => None,
        });
        self.route(entity, replica, steps, now);
        let (tx_hash, nonce) = queued.ok_or(RuntimeError::Entity(EntityError::InvalidTx {
            reason: "the replica did not queue the tx".into(),
        }))?;
        self.submitted.push(Submission {
            entity,
            replica,
            tx_hash,
            tick: now,
        });
        self.timeline.push(Event::Submitted {
            tick: now,
            entity,
            replica,
            tx_hash,
            nonce,
        });
        Ok(tx_hash)
    }

    /// The submitted txs, in submission order.
    pub fn submitted(&self) -> &[Submission] {
        &self.submitted
    }

    /// What happened to a tx, as first reported by an honest replica.
    pub fn outcome(&self, tx_hash: &[u8; 32]) -> Option<&TxOutcome> {
        self.outcomes.get(tx_hash)
    }

    /// The timeline so far.
    pub fn timeline(&self) -> &[Event] {
        &self.timeline
    }

    /// The timeline as JSON lines (one object per line, each line ending in `\n`).
    pub fn to_json_lines(&self) -> String {
        let mut s = String::new();
        for e in &self.timeline {
            s.push_str(&e.to_json());
            s.push('\n');
        }
        s
    }

    /// Runs `n` ticks.
    pub fn run_ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Runs until quiet (see [`Runtime::is_quiet`]) or `max_ticks` ticks have passed.
    /// Returns true if it became quiet.
    pub fn run_until_quiet(&mut self, max_ticks: u64) -> bool {
        for _ in 0..max_ticks {
            if self.is_quiet() {
                return true;
            }
            self.step();
        }
        self.is_quiet()
    }

    /// True when, in every entity, all honest replicas that are still validators are idle
    /// (empty mempool, nothing under way at the height they decide) and have committed the
    /// same number of frames. Messages still in flight can then only be stale or redundant.
    /// (A replica voted off its board stops following the entity, so it is not counted.)
    pub fn is_quiet(&self) -> bool {
        self.entities.iter().all(|e| {
            let mut live = e.replicas.iter().filter(|r| {
                r.behaviour == Behaviour::Honest
                    && r.replica.state().board.contains(&r.replica.me())
            });
            let Some(first) = live.next() else {
                return true;
            };
            let height = first.replica.height();
            first.replica.is_idle()
                && live.all(|r| r.replica.is_idle() && r.replica.height() == height)
        })
    }

    /// One tick: deliver due messages, tick every replica, let replayers replay.
    fn step(&mut self) {
        self.tick += 1;
        let now = self.tick;
        for envelope in self.network.due(now) {
            self.deliver(envelope, now);
        }
        for entity in 0..self.entities.len() {
            for replica in 0..self.entities[entity].replicas.len() {
                if let Ok(steps) = self.input(entity, replica, Input::Tick, now) {
                    self.route(entity, replica, steps, now);
                }
                self.replay(entity, replica, now);
            }
        }
    }

    fn deliver(&mut self, envelope: Envelope, now: u64) {
        let Envelope {
            entity,
            from,
            sender,
            to,
            message,
        } = envelope;
        self.timeline.push(Event::Delivered {
            tick: now,
            entity,
            from,
            to,
            kind: message.kind(),
            height: message.height(),
            view: message.view(),
        });
        let sim = &mut self.entities[entity].replicas[to];
        if sim.behaviour == Behaviour::ReplayOld {
            remember(&mut sim.history, message.clone());
        }
        let input = Input::Message {
            from: sender,
            message,
        };
        if let Ok(steps) = self.input(entity, to, input, now) {
            self.route(entity, to, steps, now);
        }
    }

    fn record(
        &mut self,
        entity: usize,
        replica: usize,
        honest: bool,
        output: EntityOutput,
        now: u64,
    ) {
        match output {
            EntityOutput::Committed(c) => {
                if honest {
                    let rejected: BTreeMap<[u8; 32], &Rejection> = c
                        .rejected_txs
                        .iter()
                        .map(|r| (r.tx_hash, &r.rejection))
                        .collect();
                    for tx in &c.tx_hashes {
                        let outcome = match rejected.get(tx) {
                            Some(rejection) => TxOutcome::Rejected {
                                height: c.height,
                                rejection: (*rejection).clone(),
                            },
                            None => TxOutcome::Applied { height: c.height },
                        };
                        self.outcomes.entry(*tx).or_insert(outcome);
                    }
                }
                self.timeline.push(Event::Committed {
                    tick: now,
                    entity,
                    replica,
                    height: c.height,
                    view: c.view,
                    frame_hash: c.frame_hash,
                    state_hash: c.state_hash,
                    txs: c.tx_hashes.len(),
                    rejected: c.rejected_txs.len(),
                });
            }
            EntityOutput::Evidence(e) => self.timeline.push(Event::Evidence {
                tick: now,
                entity,
                replica,
                validator: e.validator,
                height: e.height(),
                view: e.view(),
                kind: e.kind(),
            }),
            EntityOutput::TxDropped { tx_hash, reason } => {
                if honest {
                    self.outcomes.entry(tx_hash).or_insert(TxOutcome::Dropped {
                        reason: reason.clone(),
                    });
                }
                self.timeline.push(Event::TxDropped {
                    tick: now,
                    entity,
                    replica,
                    tx_hash,
                    reason,
                });
            }
            EntityOutput::Broadcast(_)
            | EntityOutput::Send { .. }
            | EntityOutput::ToEntity { .. }
            | EntityOutput::Queued { .. } => {}
        }
    }

    /// Sends `message` from replica `from` of `entity` to replicas `peers` of entity
    /// `target` (the same entity, or the peer of an account).
    fn send(
        &mut self,
        entity: usize,
        from: usize,
        (target, peers): (usize, &[usize]),
        message: &EntityMessage,
        now: u64,
    ) {
        let sim = &mut self.entities[entity].replicas[from];
        if sim.behaviour == Behaviour::ReplayOld {
            remember(&mut sim.history, message.clone());
        }
        let sim = &self.entities[entity].replicas[from];
        let sender = sim.replica.me();
        let mut copies = Vec::new();
        for (rank, to) in peers.iter().enumerate() {
            for m in byzantine::rewrite(sim.behaviour, &sim.key, &sim.replica, message, rank) {
                copies.push((*to, m));
            }
        }
        for (to, message) in copies {
            let kind = message.kind();
            let envelope = Envelope {
                entity: target,
                from,
                sender,
                to,
                message,
            };
            if self.network.send_from(now, entity, envelope) == SendFate::Lost {
                self.timeline.push(Event::Lost {
                    tick: now,
                    entity: target,
                    from,
                    to,
                    kind,
                });
            }
        }
    }

    /// A `ReplayOld` replica re-sends a random remembered message of an earlier height,
    /// every other tick on average.
    fn replay(&mut self, entity: usize, replica: usize, now: u64) {
        let sim = &self.entities[entity].replicas[replica];
        if sim.behaviour != Behaviour::ReplayOld
            || sim.history.is_empty()
            || !self.chaos.chance((1, 2))
        {
            return;
        }
        let current = sim.replica.height() + 1;
        let old: Vec<&EntityMessage> = sim
            .history
            .iter()
            .filter(|m| m.height() < current)
            .collect();
        if old.is_empty() {
            return;
        }
        let pick = old[self.chaos.below(old.len() as u64) as usize].clone();
        // Messages between entities go back to the entity they were for.
        let target = match &pick {
            EntityMessage::AccountPart(p) => self.entity_index(&p.to),
            EntityMessage::AccountOpen(o) => self.entity_index(&o.to),
            _ => Some(entity),
        };
        let Some(target) = target else {
            return;
        };
        let peers: Vec<usize> = (0..self.entities[target].replicas.len())
            .filter(|i| target != entity || *i != replica)
            .collect();
        self.send(entity, replica, (target, &peers), &pick, now);
    }
}

fn remember(history: &mut VecDeque<EntityMessage>, message: EntityMessage) {
    if history.len() >= REPLAY_HISTORY_MAX {
        history.pop_front();
    }
    history.push_back(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(amount: u64) -> EntityTx {
        EntityTx::Payment {
            from: "alice".into(),
            to: "bob".into(),
            token: 1,
            amount: BigInt::from(amount),
        }
    }

    #[test]
    fn perfect_network_commits_and_goes_quiet() {
        let mut rt = Runtime::new(5);
        let e = rt
            .add_entity(4, 3, vec![("alice".into(), 1, BigInt::from(10))])
            .unwrap();
        let ok = rt.submit(e, pay(4)).unwrap();
        let too_much = rt.submit(e, pay(40)).unwrap();
        assert!(rt.run_until_quiet(200));
        assert!(matches!(rt.outcome(&ok), Some(TxOutcome::Applied { .. })));
        assert!(matches!(
            rt.outcome(&too_much),
            Some(TxOutcome::Rejected { .. })
        ));
        let hashes: Vec<[u8; 32]> = (0..4)
            .map(|i| rt.replica(e, i).unwrap().state_hash())
            .collect();
        assert!(hashes.iter().all(|h| *h == hashes[0]));
        assert!(rt
            .to_json_lines()
            .lines()
            .all(|l| l.starts_with("{\"tick\":")));
    }

    #[test]
    fn caller_errors() {
        let mut rt = Runtime::new(1);
        assert_eq!(rt.submit(3, pay(1)), Err(RuntimeError::UnknownEntity(3)));
        let e = rt.add_entity(1, 1, Vec::new()).unwrap();
        assert!(matches!(
            rt.set_behaviour(e, 4, Behaviour::Silent),
            Err(RuntimeError::UnknownReplica { .. })
        ));
        rt.set_behaviour(e, 0, Behaviour::Silent).unwrap();
        assert_eq!(rt.submit(e, pay(1)), Err(RuntimeError::NoHonestReplica(e)));
        assert!(matches!(
            rt.add_entity(2, 3, Vec::new()),
            Err(RuntimeError::Entity(_))
        ));
    }
}
