//! [`entity_history`]: the heights an entity committed over a store's life, with the input
//! that committed each one (time travel by replay: the WAL is applied input by input).

use std::path::Path;

use super::store::{base, wal_dir};
use super::wal::scan;
use super::StoreError;
use crate::runtime::{Event, RuntimeInput};

/// One committed height of an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The height.
    pub height: u64,
    /// The committed frame's state hash (what the validators signed for this height).
    pub state_hash: [u8; 32],
    /// The committed frame's hash.
    pub frame_hash: [u8; 32],
    /// The input during which it committed (for heights before the oldest snapshot the
    /// store still has: that snapshot's input count).
    pub input: u64,
    /// The tick it committed at (per the timeline).
    pub tick: u64,
}

/// The committed heights of `entity`, as seen by its first honest replica (honest at the
/// end of the log), replayed from the store in `dir`.
///
/// # Errors
/// As [`super::Store::replay_to`]; [`StoreError::Unavailable`] for an unknown entity.
pub fn entity_history(dir: &Path, entity: usize) -> Result<Vec<HistoryEntry>, StoreError> {
    // Start from the beginning, or from the oldest snapshot the pruned WAL continues.
    let first = scan(&wal_dir(dir), u64::MAX, &mut |_, _| Ok(()))?
        .segments
        .first()
        .map_or(1, |s| s.first_seq);
    let limit = match first {
        0 | 1 => 0,
        f => super::snapshots(dir)?
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| *n + 1 >= f)
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "the WAL starts at input {f} and no snapshot covers the inputs before it"
                ))
            })?,
    };
    let (mut runtime, start) = base(dir, limit)?;
    let mut committed_at: Vec<u64> = Vec::new();
    let note = |rt: &crate::runtime::Runtime, input: u64, into: &mut Vec<u64>| {
        // A height counts as committed when the first replica reaches it.
        let height = (0..rt.replica_count(entity))
            .filter_map(|i| rt.replica(entity, i).ok().map(|r| r.height()))
            .max()
            .unwrap_or(0);
        while (into.len() as u64) < height {
            into.push(input);
        }
    };
    note(&runtime, start, &mut committed_at);
    scan(&wal_dir(dir), start, &mut |seq, payload| {
        let input = RuntimeInput::decode(payload).map_err(|e| StoreError::Record {
            seq,
            reason: e.to_string(),
        })?;
        runtime.apply(&input).map_err(|e| StoreError::Record {
            seq,
            reason: format!("{input}: refused on replay: {e}"),
        })?;
        note(&runtime, seq, &mut committed_at);
        Ok(())
    })?;
    let replica = *runtime.honest(entity).first().ok_or_else(|| {
        StoreError::Unavailable(format!(
            "entity {entity} does not exist or has no honest replica"
        ))
    })?;
    let r = runtime
        .replica(entity, replica)
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let ticks: std::collections::BTreeMap<u64, u64> = runtime
        .timeline()
        .iter()
        .filter_map(|e| match e {
            Event::Committed {
                tick,
                entity: en,
                replica: re,
                height,
                ..
            } if *en == entity && *re == replica => Some((*height, *tick)),
            _ => None,
        })
        .collect();
    Ok(r.committed_hashes()
        .iter()
        .zip(r.committed_state_hashes())
        .enumerate()
        .map(|(i, (frame_hash, state_hash))| {
            let height = i as u64 + 1;
            HistoryEntry {
                height,
                state_hash: *state_hash,
                frame_hash: *frame_hash,
                input: committed_at.get(i).copied().unwrap_or(start),
                tick: ticks.get(&height).copied().unwrap_or(0),
            }
        })
        .collect())
}
