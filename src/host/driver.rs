//! [`drive`]: the one path by which any host runs a replica. It is the only caller of
//! [`EntityReplica::handle`] in the crate, so a change to that seam (a context argument for
//! the subcontract engine, which the host now passes in) is one line here.

use super::record::input_record;
use super::{HostError, Input, Recipient, ReplicaId, Reports, Signer, Store, Transport};
use crate::account::SubcontractEngine;
use crate::entity::{EntityOutput, EntityReplica};

/// Runs one input through `replica` at time `now`: `replica.handle` with the key from
/// `signer` and the host's subcontract `engine` (every replica of an account must run the
/// same code to the same bytes; the host only supplies the interpreter); if it accepts, `store.append` of the [`HostRecord`](super::HostRecord), then
/// every message to `transport` (addressed by entity and validator) and every other output
/// to `reports`, in output order.
///
/// # Errors
/// [`HostError::NoKey`] (nothing ran); [`HostError::Refused`] when the replica refuses the
/// input (nothing changed, nothing logged); [`HostError::Store`] when the store fails (the
/// replica changed in memory but nothing was sent: the host must stop or recover).
// The host's five parts are separate borrows on purpose (a node's store and its reports
// are different fields); bundling them would only move the argument list into a struct.
#[allow(clippy::too_many_arguments)]
pub fn drive(
    replica: &mut EntityReplica,
    signer: &dyn Signer,
    store: &mut dyn Store,
    transport: &mut dyn Transport,
    reports: &mut dyn Reports,
    engine: &mut dyn SubcontractEngine,
    now: u64,
    input: Input,
) -> Result<(), HostError> {
    let id = ReplicaId {
        entity: replica.entity_id(),
        validator: replica.me(),
    };
    let key = signer
        .key(&id.validator)
        .ok_or(HostError::NoKey(id.validator))?;
    let record = store
        .keeps_records()
        .then(|| input_record(&id, now, &input));
    let outputs = replica.handle(key, input.into_entity_input(), now, engine)?;
    if let Some(record) = record {
        store.append(&record)?;
    }
    for output in outputs {
        route(&id, output, transport, reports);
    }
    Ok(())
}

/// Messages go to the transport, addressed by id; everything else (including output kinds
/// added to the entity layer later) is reported.
fn route(
    id: &ReplicaId,
    output: EntityOutput,
    transport: &mut dyn Transport,
    reports: &mut dyn Reports,
) {
    match output {
        EntityOutput::Broadcast(message) => {
            let to = Recipient::Peers {
                entity: id.entity,
                except: id.validator,
            };
            transport.send(id, to, message);
        }
        EntityOutput::Send { to, message } => {
            let to = Recipient::Validator {
                entity: id.entity,
                validator: to,
            };
            transport.send(id, to, message);
        }
        EntityOutput::ToEntity { entity, message } => {
            transport.send(id, Recipient::Entity(entity), message);
        }
        other => reports.report(id, other),
    }
}
