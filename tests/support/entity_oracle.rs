//! Independent oracles over entity replicas, for the simulation tests: a log of every frame
//! each replica committed, harvested as it commits; re-execution of those frames from
//! genesis (state hashes recomputed, not copied from the frames, and precommit
//! certificates counted here); and a reserve ledger written in the test, not by the crate.
//! Included by `#[path]` from `tests/runtime_sim.rs` and `tests/entity_bft.rs`.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use xln::crypto::Address;
use xln::entity::{
    CommitNotice, EntityReplica, EntityState, EntityTx, Holder, SignedTx, TokenId, VoteKind,
};

/// A replica's place: (entity index, replica index).
pub type Node = (usize, usize);

/// Every frame each replica committed, in height order. Why harvest: a replica keeps only
/// its last `commits_kept` commit notices, so the log must be read while they are there.
#[derive(Default)]
pub struct CommitLog {
    frames: BTreeMap<Node, Vec<CommitNotice>>,
}

impl CommitLog {
    /// Takes the notices `replica` committed since the last harvest.
    ///
    /// # Errors
    /// A notice the replica no longer keeps (harvest more often).
    pub fn harvest(&mut self, node: Node, replica: &EntityReplica) -> Result<(), String> {
        let log = self.frames.entry(node).or_default();
        for height in (log.len() as u64 + 1)..=replica.height() {
            let notice = replica.commit_notice(height).ok_or_else(|| {
                format!("replica {node:?} no longer keeps its commit of height {height}")
            })?;
            log.push(notice.clone());
        }
        Ok(())
    }

    /// The frames `node` committed (heights 1, 2, ...).
    pub fn frames(&self, node: Node) -> &[CommitNotice] {
        self.frames.get(&node).map_or(&[], Vec::as_slice)
    }
}

/// What re-executing one replica's committed frames gave.
pub struct Reexecution {
    /// The state hash recomputed after each height (index `i` is height `i + 1`).
    pub state_hashes: Vec<[u8; 32]>,
    /// The final state.
    pub state: EntityState,
    /// Every committed tx in order, with whether it was applied (by the crate's rules).
    pub txs: Vec<(u64, SignedTx, bool)>,
}

/// Rebuilds `replica`'s committed state from `genesis` by re-applying the txs of its
/// committed `frames`, checking at each height: the frame links to the state so far, its
/// txs are validly signed, its precommits are a quorum of the board then in force (counted
/// here), its hash and the state hash recomputed from the re-applied txs are what the
/// replica recorded and what the frame claims. At the end the replica's state must equal
/// the rebuilt one and its hash (recomputed from `replica.state()`) the rebuilt hash.
///
/// # Errors
/// The first mismatch, naming the height.
pub fn reexecute(
    genesis: &EntityState,
    replica: &EntityReplica,
    frames: &[CommitNotice],
) -> Result<Reexecution, String> {
    let height = replica.height();
    if frames.len() as u64 != height {
        return Err(format!(
            "{} committed frames logged for a replica at height {height}",
            frames.len()
        ));
    }
    let mut state = genesis.clone();
    let mut state_hashes = Vec::new();
    let mut txs = Vec::new();
    for (i, notice) in frames.iter().enumerate() {
        let h = i as u64 + 1;
        let frame = &notice.frame;
        let at = |what: String| format!("height {h}: {what}");
        if frame.height != h || frame.prev_hash != state.last_frame_hash {
            return Err(at("the frame does not follow the state so far".into()));
        }
        for stx in &frame.txs {
            stx.verify(&state.entity_id, h)
                .map_err(|e| at(format!("a tx does not verify: {e}")))?;
        }
        let frame_hash = frame.hash();
        check_certificate(&state, notice, frame_hash).map_err(at)?;
        let mut engine = xln::sandbox::SandboxEngine::new();
        let (mut next, rejected) = state.apply_txs(h, frame.timestamp, &frame.txs, &mut engine);
        let recomputed = next.hash();
        if recomputed != frame.state_hash {
            return Err(at(
                "the frame claims a state hash that re-applying its txs does not give".into(),
            ));
        }
        if replica.committed_hashes().get(i) != Some(&frame_hash)
            || replica.committed_state_hashes().get(i) != Some(&recomputed)
        {
            return Err(at("the replica recorded another frame or state hash".into()));
        }
        let rejected: BTreeSet<usize> = rejected.iter().map(|r| r.index).collect();
        for (index, stx) in frame.txs.iter().enumerate() {
            txs.push((h, stx.clone(), !rejected.contains(&index)));
        }
        next.last_frame_hash = frame_hash;
        state = next;
        state_hashes.push(recomputed);
    }
    if *replica.state() != state || replica.state().hash() != state.hash() {
        return Err(format!(
            "at height {height} the replica's state is not what its committed frames give"
        ));
    }
    Ok(Reexecution {
        state_hashes,
        state,
        txs,
    })
}

/// The notice's precommits: all precommits at one view for `frame_hash` at its height,
/// validly signed by distinct validators of `state.board` whose shares reach the threshold.
fn check_certificate(
    state: &EntityState,
    notice: &CommitNotice,
    frame_hash: [u8; 32],
) -> Result<(), String> {
    let view = notice.precommits.first().map(|v| v.view);
    let mut signers: BTreeSet<Address> = BTreeSet::new();
    let mut shares = 0u64;
    for vote in &notice.precommits {
        if vote.kind != VoteKind::Precommit
            || vote.height != notice.frame.height
            || Some(vote.view) != view
            || vote.frame_hash != frame_hash
        {
            return Err("a precommit of the certificate is for something else".into());
        }
        vote.verify(&state.entity_id)
            .map_err(|e| format!("a precommit does not verify: {e}"))?;
        let validator = state
            .board
            .validators
            .iter()
            .find(|v| v.address == vote.validator)
            .ok_or("a precommit from a non-validator")?;
        if signers.insert(vote.validator) {
            shares += validator.shares;
        }
    }
    if shares < state.board.threshold {
        return Err(format!(
            "committed on {shares} precommit shares, threshold {}",
            state.board.threshold
        ));
    }
    Ok(())
}

/// Honest replicas agree: at every height two of them both committed, the same frame and
/// the same recomputed state hash; two at the same height hold states of the same hash.
///
/// # Errors
/// The first disagreement.
pub fn check_agreement(runs: &[(usize, &EntityReplica, &Reexecution)]) -> Result<(), String> {
    for (a, ra, xa) in runs {
        for (b, rb, xb) in runs {
            let common = xa.state_hashes.len().min(xb.state_hashes.len());
            for h in 0..common {
                if ra.committed_hashes()[h] != rb.committed_hashes()[h]
                    || xa.state_hashes[h] != xb.state_hashes[h]
                {
                    return Err(format!(
                        "honest replicas {a} and {b} committed different frames at height {}",
                        h + 1
                    ));
                }
            }
            if ra.height() == rb.height() && ra.state().hash() != rb.state().hash() {
                return Err(format!(
                    "honest replicas {a} and {b} are both at height {} with different states",
                    ra.height()
                ));
            }
        }
    }
    Ok(())
}

/// A reserve ledger written here: applies each committed `Payment` / `Message` tx in order
/// by the rules of the design (a tx whose nonce is not above its signer's last is a replay;
/// a payment moves `amount` if `from` holds it, else it is rejected), and checks the crate
/// applied or rejected each tx the same way. Returns the final reserves.
///
/// # Errors
/// The first tx judged differently, or a tx kind this ledger does not model.
pub fn ledger(
    genesis: &[(Holder, TokenId, BigInt)],
    txs: &[(u64, SignedTx, bool)],
) -> Result<BTreeMap<(Holder, TokenId), BigInt>, String> {
    let mut reserves: BTreeMap<(Holder, TokenId), BigInt> = genesis
        .iter()
        .map(|(h, t, a)| ((h.clone(), *t), a.clone()))
        .collect();
    let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
    for (height, stx, applied) in txs {
        let last = nonces.get(&stx.signer).copied().unwrap_or(0);
        let ok = if stx.nonce <= last {
            false
        } else {
            nonces.insert(stx.signer, stx.nonce);
            match &stx.tx {
                EntityTx::Message { .. } => true,
                EntityTx::Payment {
                    from,
                    to,
                    token,
                    amount,
                } => {
                    let (from, to) = ((from.clone(), *token), (to.clone(), *token));
                    let have = reserves.get(&from).cloned().unwrap_or_default();
                    let ok = *amount > BigInt::from(0) && have >= *amount && from != to;
                    if ok {
                        *reserves.entry(from).or_default() -= amount;
                        *reserves.entry(to).or_default() += amount;
                    }
                    ok
                }
                other => return Err(format!("the ledger does not model {other:?}")),
            }
        };
        if ok != *applied {
            return Err(format!(
                "height {height}: the crate {} a tx the ledger {}: {:?}",
                if *applied { "applied" } else { "rejected" },
                if ok { "applies" } else { "rejects" },
                stx.tx
            ));
        }
    }
    Ok(reserves)
}
