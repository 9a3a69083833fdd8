//! How the simulator hosts its replicas: every input goes through the host driver
//! ([`host::drive`]) with the simulator's subcontract engine (tampering for a replica whose
//! behaviour is to run altered code), its [`Transport`] and [`Reports`] (one ordered outbox,
//! routed through the seeded network in output order) and its [`Store`] (the optional
//! per-replica record log, [`Runtime::record_replica_inputs`]).

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{Behaviour, Event, Runtime, RuntimeError, SimReplica};
use crate::crypto::SecretKey;
use crate::entity::{EntityMessage, EntityOutput};
use crate::host::{
    self, HostError, Input, OneKey, Recipient, ReplicaId, Reports, Store, Transport,
};

/// What one driven input produced, in output order: messages to route and reports.
pub(super) enum Step {
    Send(Recipient, EntityMessage),
    Report(EntityOutput),
}

/// The simulator's [`Transport`] and [`Reports`]: both append to one ordered list, which
/// the runtime then routes through its seeded network (rewriting byzantine replicas'
/// messages) and records in the timeline, exactly in output order.
struct Outbox<'a>(&'a RefCell<Vec<Step>>);

impl Transport for Outbox<'_> {
    fn send(&mut self, _: &ReplicaId, to: Recipient, message: EntityMessage) {
        self.0.borrow_mut().push(Step::Send(to, message));
    }
}

impl Reports for Outbox<'_> {
    fn report(&mut self, _: &ReplicaId, output: EntityOutput) {
        self.0.borrow_mut().push(Step::Report(output));
    }
}

/// The simulator's [`Store`]: a replica's in-memory record log when recording is on.
struct SimStore<'a>(Option<&'a mut Vec<Vec<u8>>>);

impl Store for SimStore<'_> {
    fn keeps_records(&self) -> bool {
        self.0.is_some()
    }
    fn append(&mut self, record: &[u8]) -> Result<(), HostError> {
        if let Some(log) = self.0.as_mut() {
            log.push(record.to_vec());
        }
        Ok(())
    }
}

impl Runtime {
    /// Starts recording, for every replica of the entities added from now on, each input
    /// it accepts as a [`HostRecord`] (its genesis first): the log format a node keeps, so
    /// [`host::Replicas`] replays a simulated replica exactly as it replays a node's WAL.
    pub fn record_replica_inputs(&mut self) {
        self.recording.get_or_insert_with(BTreeMap::new);
    }

    /// The encoded records of replica `replica` of `entity`, if it was recorded.
    pub fn replica_log(&self, entity: usize, replica: usize) -> Option<&[Vec<u8>]> {
        let sim = self.sim_replica(entity, replica).ok()?;
        let id = ReplicaId {
            entity: self.entities[entity].id,
            validator: sim.replica.me(),
        };
        self.recording.as_ref()?.get(&id).map(Vec::as_slice)
    }

    /// The signing key of a simulated validator (the simulator owns every key; a test
    /// replaying a recorded replica needs it).
    ///
    /// # Errors
    /// [`RuntimeError::UnknownEntity`] / [`RuntimeError::UnknownReplica`].
    pub fn validator_key(&self, entity: usize, replica: usize) -> Result<&SecretKey, RuntimeError> {
        Ok(&self.sim_replica(entity, replica)?.key)
    }

    /// Runs `input` through replica `replica` of `entity` by the host driver (the one path
    /// every host uses); a refusal becomes a timeline event (and the error). Returns what
    /// the replica sent and reported, in order, for [`Runtime::route`].
    pub(super) fn input(
        &mut self,
        entity: usize,
        replica: usize,
        input: Input,
        now: u64,
    ) -> Result<Vec<Step>, RuntimeError> {
        let id = self.entities[entity].id;
        let SimReplica {
            key,
            replica: r,
            behaviour,
            ..
        } = &mut self.entities[entity].replicas[replica];
        let engine = &mut self.engine;
        engine.set_tampering(*behaviour == Behaviour::AlteredSubcontract);
        let log = self.recording.as_mut().map(|logs| {
            logs.entry(ReplicaId {
                entity: id,
                validator: r.me(),
            })
            .or_default()
        });
        let steps = RefCell::new(Vec::new());
        let result = host::drive(
            r,
            &OneKey::new(key),
            &mut SimStore(log),
            &mut Outbox(&steps),
            &mut Outbox(&steps),
            engine,
            now,
            input,
        );
        engine.set_tampering(false);
        match result {
            Ok(()) => Ok(steps.into_inner()),
            Err(HostError::Refused(e)) => {
                self.timeline.push(Event::Rejected {
                    tick: now,
                    entity,
                    replica,
                    reaction: e.reaction(),
                    error: e.to_string(),
                });
                Err(RuntimeError::Entity(e))
            }
            Err(other) => Err(RuntimeError::Host(other)),
        }
    }

    /// Records a replica's reports and sends its messages (rewritten if it is byzantine),
    /// resolving each recipient (entity and validator) to the simulated replicas. Messages
    /// for entities not simulated here have nowhere to go and are dropped.
    pub(super) fn route(&mut self, entity: usize, from: usize, steps: Vec<Step>, now: u64) {
        let honest = self.entities[entity].replicas[from].behaviour == Behaviour::Honest;
        for step in steps {
            match step {
                Step::Send(Recipient::Peers { .. }, message) => {
                    let peers: Vec<usize> = (0..self.entities[entity].replicas.len())
                        .filter(|i| *i != from)
                        .collect();
                    self.send(entity, from, (entity, &peers), &message, now);
                }
                Step::Send(Recipient::Validator { validator, .. }, message) => {
                    if let Some(to) = self.entities[entity].addresses.get(&validator).copied() {
                        self.send(entity, from, (entity, &[to]), &message, now);
                    }
                }
                Step::Send(Recipient::Entity(target), message) => {
                    if let Some(target) = self.entity_index(&target) {
                        let all: Vec<usize> = (0..self.entities[target].replicas.len()).collect();
                        self.send(entity, from, (target, &all), &message, now);
                    }
                }
                Step::Report(EntityOutput::Queued { .. }) => {}
                Step::Report(other) => self.record(entity, from, honest, other, now),
            }
        }
    }
}
