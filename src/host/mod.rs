//! The host boundary: what separates the pure entity machines from whatever runs them. A
//! host moves messages ([`Transport`]), keeps what each replica accepted ([`Store`]), holds
//! the validator keys ([`Signer`]), receives the replicas' reports ([`Reports`]) and feeds
//! time in as an input (`now`); the machines never read a clock, a disk or a socket. Two
//! hosts implement it: the simulator (`crate::runtime`, many replicas in one process over
//! a seeded network) and the node (`crate::node`, one process per host with sockets).
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`ReplicaId`], [`Recipient`], the traits, [`HostError`] |
//! | `record.rs` | [`Input`] and [`HostRecord`]: the logged per-replica input, its canonical encoding and strict decoder |
//! | `driver.rs` | [`drive`]: THE one path `input -> replica.handle (with the subcontract engine) -> store.append -> transport.send` |
//! | `replay.rs` | [`Replicas`]: rebuilding replicas from a record log (node recovery, `xln wal verify`, the simulator's cross-check) |
//!
//! # One log format for both hosts
//!
//! Every input a replica *accepted* is one [`HostRecord::Input`]: which replica (entity id
//! and validator address), the time it was handled at, and what it was — a tick, a
//! message's canonical bytes with the validator that sent it, or a submitted (unsigned)
//! tx. A [`HostRecord::Genesis`] starts each replica. The node appends these records to its
//! write-ahead log (`crate::storage`'s WAL, numbered 1, 2, 3, ... with no gap); the
//! simulator can record them per replica in memory
//! ([`Runtime::record_replica_inputs`](crate::runtime::Runtime::record_replica_inputs)).
//! Either log replays through [`Replicas`] to the same replicas, byte for byte.
//!
//! The simulator's script-level log is different and stays: `xln run --store` logs
//! [`RuntimeInput`](crate::runtime::RuntimeInput)s (simulator *commands*: add an entity,
//! run 10 ticks, set the network). One command expands deterministically into many
//! per-replica inputs, so the command log is the compact one for resuming a script, and
//! the per-replica log is the one a node keeps and anyone can replay replica by replica.
//!
//! # Accepted means logged before any output leaves
//!
//! [`drive`] hands the input to the replica first; a refused input changes nothing and is
//! not logged (so a hostile peer's replayed or stale message leaves no trace on disk). An
//! accepted input is appended to the store, and only then are its messages given to the
//! transport. A store that buffers (group commit) must hold the transport's sends back
//! until its buffer is durable; the node does (see `crate::node`).

#![warn(missing_docs)]

mod driver;
mod record;
mod replay;

pub use driver::drive;
pub use record::{HostRecord, Input, RECORD_TAG_PREFIX};
pub use replay::{ReplayError, Replicas};

use crate::crypto::onion::OnionSecret;
use crate::crypto::{Address, SecretKey};
use crate::entity::{EntityError, EntityId, EntityMessage, EntityOutput};

/// One replica, named by its entity and its validator (never by a host's indices).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ReplicaId {
    /// The entity.
    #[serde(with = "crate::crypto::readable")]
    pub entity: EntityId,
    /// The validator running this replica.
    pub validator: Address,
}

/// Where a replica's message goes: [`EntityOutput`]'s three addressings, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Recipient {
    /// One validator's replica of an entity (`EntityOutput::Send`).
    Validator {
        /// The entity.
        entity: EntityId,
        /// The validator.
        validator: Address,
    },
    /// Every replica of `entity` but the sender's (`EntityOutput::Broadcast`).
    Peers {
        /// The sender's entity.
        entity: EntityId,
        /// The sending validator.
        except: Address,
    },
    /// Every replica of another entity (`EntityOutput::ToEntity`).
    Entity(EntityId),
}

/// Moves messages. `send` must not block on the network: a host queues and delivers
/// later (the simulator through its seeded network, the node through its sessions).
pub trait Transport {
    /// Queues `message` from replica `from` to `to`.
    fn send(&mut self, from: &ReplicaId, to: Recipient, message: EntityMessage);
}

/// Keeps the accepted inputs, in order.
pub trait Store {
    /// Whether records are kept at all (a simulator not recording skips encoding them).
    fn keeps_records(&self) -> bool {
        true
    }

    /// Appends one encoded [`HostRecord`]. A store that buffers must make it durable before
    /// the outputs of this input leave the process.
    ///
    /// # Errors
    /// The store could not take it; the input must then count as not accepted (the node
    /// stops: its memory is ahead of its disk).
    fn append(&mut self, record: &[u8]) -> Result<(), HostError>;
}

/// Holds validator keys (and the onion secrets of the entities hosted here). Why a trait:
/// the simulator derives its keys from a seed, the node reads them from owner-only files;
/// the machines never see where a key comes from.
pub trait Signer {
    /// The key of `validator`, if this host holds it.
    fn key(&self, validator: &Address) -> Option<&SecretKey>;

    /// The onion secret `entity`'s validators share (routed payments' onion layers are
    /// encrypted to it), if this host holds it. A replica's genesis names the secret's
    /// public key; the host must hold the matching secret to start the replica.
    fn onion_secret(&self, entity: &EntityId) -> Option<&OnionSecret> {
        let _ = entity;
        None
    }
}

/// Receives what a replica reports that is not a message: queued and committed txs,
/// frames, evidence, dropped txs (and any output kind added later).
pub trait Reports {
    /// One report of replica `from`, in output order.
    fn report(&mut self, from: &ReplicaId, output: EntityOutput);
}

/// A store and transport that keep nothing: replay, where outputs were already sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Transport for Discard {
    fn send(&mut self, _: &ReplicaId, _: Recipient, _: EntityMessage) {}
}

impl Store for Discard {
    fn keeps_records(&self) -> bool {
        false
    }
    fn append(&mut self, _: &[u8]) -> Result<(), HostError> {
        Ok(())
    }
}

impl Reports for Discard {
    fn report(&mut self, _: &ReplicaId, _: EntityOutput) {}
}

/// A [`Signer`] holding one key, and optionally one entity's onion secret.
pub struct OneKey<'a>(pub &'a SecretKey, pub Option<(EntityId, &'a OnionSecret)>);

impl<'a> OneKey<'a> {
    /// Just the validator key.
    pub fn new(key: &'a SecretKey) -> Self {
        OneKey(key, None)
    }

    /// The validator key and `entity`'s onion secret.
    pub fn with_onion(key: &'a SecretKey, entity: EntityId, onion: &'a OnionSecret) -> Self {
        OneKey(key, Some((entity, onion)))
    }
}

impl Signer for OneKey<'_> {
    fn key(&self, validator: &Address) -> Option<&SecretKey> {
        (self.0.address() == *validator).then_some(self.0)
    }
    fn onion_secret(&self, entity: &EntityId) -> Option<&OnionSecret> {
        self.1.filter(|(e, _)| e == entity).map(|(_, s)| s)
    }
}

/// Why the host could not run an input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The replica refused the input (nothing changed; [`EntityError::reaction`] says how
    /// to treat the sender).
    #[error(transparent)]
    Refused(#[from] EntityError),
    /// This host holds no key for the replica's validator.
    #[error("no key for validator {0}")]
    NoKey(Address),
    /// The store failed: the input was handled in memory but is not durable.
    #[error("the store failed: {0}")]
    Store(String),
}
