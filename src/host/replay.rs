//! [`Replicas`]: a set of replicas rebuilt from a log of [`HostRecord`]s — how a node
//! recovers at start, how `xln wal verify` checks a node's data directory, and how the
//! simulator's recorded per-replica inputs are checked. Records go through [`drive`] like
//! live inputs (with nothing sent), so replay runs exactly the code that ran live.

use std::collections::BTreeMap;

use super::{drive, Discard, HostError, HostRecord, ReplicaId, Reports, Signer};
use crate::account::SubcontractEngine;
use crate::crypto::{tagged, Canonical};
use crate::entity::{EntityError, EntityReplica, EntityState};

/// Why a log does not replay.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// An input for a replica no genesis record started.
    #[error("an input for replica {validator} of entity {entity} before its genesis record")]
    UnknownReplica {
        /// The entity (hex).
        entity: String,
        /// The validator.
        validator: crate::crypto::Address,
    },
    /// A second genesis record for a replica.
    #[error("a second genesis record for replica {0}")]
    DuplicateGenesis(crate::crypto::Address),
    /// A genesis whose board or reserves are invalid.
    #[error("an invalid genesis: {0}")]
    Genesis(EntityError),
    /// A genesis naming an onion key whose secret the host does not hold (or holds another).
    #[error("the genesis of entity {entity} names onion key {key}, but the host holds {held}")]
    OnionSecret {
        /// The entity (hex).
        entity: String,
        /// The key the genesis names (hex).
        key: String,
        /// What the host holds: another key's hex, or "no onion secret".
        held: String,
    },
    /// A logged (so once accepted) input that the replica refuses now: the log and the code
    /// disagree, which is a determinism bug or a wrong key.
    #[error("a {kind} input accepted when logged is refused on replay: {error}")]
    Diverged {
        /// The input's kind.
        kind: &'static str,
        /// The refusal.
        error: HostError,
    },
}

/// Replicas by id, rebuilt record by record.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replicas {
    replicas: BTreeMap<ReplicaId, EntityReplica>,
}

impl Replicas {
    /// No replicas.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one record: a genesis starts a replica (with `signer`'s onion secret for
    /// the entity when the genesis names one); an input runs through [`drive`] with
    /// `signer`'s key and the subcontract `engine`, sending nothing.
    ///
    /// # Errors
    /// [`ReplayError`].
    pub fn apply(
        &mut self,
        record: &HostRecord,
        signer: &dyn Signer,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), ReplayError> {
        self.apply_reporting(record, signer, engine, &mut Discard)
    }

    /// As [`Replicas::apply`], giving the replica's reports (commits, dropped txs) to
    /// `reports` — how a restarted node learns the fate of txs it committed before.
    ///
    /// # Errors
    /// [`ReplayError`].
    pub fn apply_reporting(
        &mut self,
        record: &HostRecord,
        signer: &dyn Signer,
        engine: &mut dyn SubcontractEngine,
        reports: &mut dyn Reports,
    ) -> Result<(), ReplayError> {
        match record {
            HostRecord::Genesis {
                validator,
                board,
                reserves,
                config,
                onion_key,
            } => {
                let mut genesis = EntityState::genesis(board.clone(), reserves.clone())
                    .map_err(ReplayError::Genesis)?;
                if !onion_key.is_empty() {
                    let hex = crate::crypto::readable::to_hex;
                    let held = signer.onion_secret(&genesis.entity_id);
                    match held {
                        Some(secret) if secret.public_key().as_slice() == onion_key.as_slice() => {
                            genesis = genesis.with_onion(secret.clone());
                        }
                        _ => {
                            return Err(ReplayError::OnionSecret {
                                entity: hex(&genesis.entity_id),
                                key: hex(onion_key),
                                held: held
                                    .map_or("no onion secret".into(), |s| hex(&s.public_key())),
                            })
                        }
                    }
                }
                let id = ReplicaId {
                    entity: genesis.entity_id,
                    validator: *validator,
                };
                if self.replicas.contains_key(&id) {
                    return Err(ReplayError::DuplicateGenesis(*validator));
                }
                let replica = EntityReplica::from_genesis(genesis, *validator, config.clone());
                self.replicas.insert(id, replica);
                Ok(())
            }
            HostRecord::Input {
                replica,
                now,
                input,
            } => {
                let r =
                    self.replicas
                        .get_mut(replica)
                        .ok_or_else(|| ReplayError::UnknownReplica {
                            entity: crate::crypto::readable::to_hex(&replica.entity),
                            validator: replica.validator,
                        })?;
                let kind = input.kind();
                drive(
                    r,
                    signer,
                    &mut Discard,
                    &mut Discard,
                    reports,
                    engine,
                    *now,
                    input.clone(),
                )
                .map_err(|error| ReplayError::Diverged { kind, error })
            }
        }
    }

    /// Adds a replica directly (a node's genesis at first start goes through a record).
    pub fn insert(&mut self, id: ReplicaId, replica: EntityReplica) {
        self.replicas.insert(id, replica);
    }

    /// One replica.
    pub fn get(&self, id: &ReplicaId) -> Option<&EntityReplica> {
        self.replicas.get(id)
    }

    /// One replica, mutably (for a host's driver).
    pub fn get_mut(&mut self, id: &ReplicaId) -> Option<&mut EntityReplica> {
        self.replicas.get_mut(id)
    }

    /// Every replica, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&ReplicaId, &EntityReplica)> {
        self.replicas.iter()
    }

    /// The ids.
    pub fn ids(&self) -> Vec<ReplicaId> {
        self.replicas.keys().copied().collect()
    }

    /// Number of replicas.
    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    /// No replicas.
    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// The hash of every replica's committed state, in id order:
    /// `keccak(tagged("xln/host-state/v1", [[entity, validator, state_hash] ...]))`. A node
    /// reports it; replaying the node's log gives it back.
    pub fn state_hash(&self) -> [u8; 32] {
        let items = self
            .replicas
            .iter()
            .map(|(id, r)| {
                crate::crypto::RlpItem::List(vec![
                    id.entity.canonical_rlp(),
                    id.validator.canonical_rlp(),
                    r.state_hash().canonical_rlp(),
                ])
            })
            .collect();
        tagged(
            b"xln/host-state/v1",
            vec![crate::crypto::RlpItem::List(items)],
        )
        .canonical_hash()
    }
}
