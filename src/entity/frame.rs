//! [`EntityFrame`]: a batch of signed txs applied on top of the last committed frame, with
//! the state hash they lead to; how a frame is built and how a replica checks one.

use super::state::RejectedTx;
use super::{EntityError, EntityState, SignedTx, FRAME_TXS_MAX};
use crate::account::SubcontractEngine;
use crate::crypto::{tagged, Canonical, RlpItem};

/// One step of the entity. `state_hash` is the hash of the state after applying `txs` with
/// `height` and `timestamp` set to the frame's and `last_frame_hash` still `prev_hash` (a
/// frame cannot contain its own hash); once committed, the state's `last_frame_hash`
/// becomes [`EntityFrame::hash`].
///
/// The frame's identity, [`EntityFrame::hash`], is the hash of its [`FrameHeader`], which
/// commits to every tx through its hash: as binding as hashing the txs themselves, but a
/// replica that already holds the txs (in its mempool) hashes a few hundred bytes instead
/// of the whole frame. The [`Canonical`] encoding of `EntityFrame` is the full frame (for
/// the wire); do not confuse its `canonical_hash` with the frame hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityFrame {
    /// Committed height + 1.
    pub height: u64,
    /// Hash of the last committed frame.
    #[serde(with = "crate::crypto::readable")]
    pub prev_hash: [u8; 32],
    /// The proposer's time; never below the committed timestamp.
    pub timestamp: u64,
    /// The txs, applied in order (rejected ones change only their signer's nonce).
    pub txs: Vec<SignedTx>,
    /// Hash of the resulting state (see the type's doc).
    #[serde(with = "crate::crypto::readable")]
    pub state_hash: [u8; 32],
}

/// Canonical encoding (the full frame): `tagged("xln/entity-frame/v1", [height, prev_hash,
/// timestamp, txs, state_hash])`.
impl Canonical for EntityFrame {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-frame/v1",
            vec![
                self.height.canonical_rlp(),
                self.prev_hash.canonical_rlp(),
                self.timestamp.canonical_rlp(),
                self.txs.canonical_rlp(),
                self.state_hash.canonical_rlp(),
            ],
        )
    }
}

/// What validators sign for a frame: everything in it, with the txs as their hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The frame height.
    pub height: u64,
    /// The previous frame hash.
    pub prev_hash: [u8; 32],
    /// The frame timestamp.
    pub timestamp: u64,
    /// [`SignedTx::hash`] of each tx, in order.
    pub tx_hashes: Vec<[u8; 32]>,
    /// The resulting state hash.
    pub state_hash: [u8; 32],
}

/// Canonical encoding: `tagged("xln/entity-frame-header/v1", [height, prev_hash, timestamp,
/// tx_hashes, state_hash])`; its hash is the frame hash.
impl Canonical for FrameHeader {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-frame-header/v1",
            vec![
                self.height.canonical_rlp(),
                self.prev_hash.canonical_rlp(),
                self.timestamp.canonical_rlp(),
                self.tx_hashes.canonical_rlp(),
                self.state_hash.canonical_rlp(),
            ],
        )
    }
}

/// A frame this replica has checked: its hash, the state it leads to (with
/// `last_frame_hash` already linked to the frame) and the txs it rejects.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ValidatedFrame {
    pub frame: EntityFrame,
    #[serde(with = "crate::crypto::readable")]
    pub hash: [u8; 32],
    pub next: EntityState,
    pub rejected: Vec<RejectedTx>,
    #[serde(with = "crate::crypto::readable")]
    pub tx_hashes: Vec<[u8; 32]>,
}

impl EntityFrame {
    /// The frame that applies `txs` at `timestamp` on top of `state` (the committed state).
    /// Why public: proposers build frames with it, and simulators build deliberately
    /// conflicting ones. Cannot fail; rejected txs stay in the frame and are reported.
    pub fn build(
        state: &EntityState,
        txs: Vec<SignedTx>,
        timestamp: u64,
        engine: &mut dyn SubcontractEngine,
    ) -> EntityFrame {
        let height = state.height + 1;
        let (next, _) = state.apply_txs(height, timestamp, &txs, engine);
        EntityFrame {
            height,
            prev_hash: state.last_frame_hash,
            timestamp,
            txs,
            state_hash: next.hash(),
        }
    }

    /// The frame hash: the canonical hash of its [`FrameHeader`]. Validators vote on it.
    pub fn hash(&self) -> [u8; 32] {
        self.header(self.txs.iter().map(SignedTx::hash).collect())
            .canonical_hash()
    }

    /// The header, given the txs' hashes (which the caller may have cached).
    pub fn header(&self, tx_hashes: Vec<[u8; 32]>) -> FrameHeader {
        FrameHeader {
            height: self.height,
            prev_hash: self.prev_hash,
            timestamp: self.timestamp,
            tx_hashes,
            state_hash: self.state_hash,
        }
    }

    /// Checks the frame, whose header hash is `hash` given `tx_hashes`, against the
    /// committed `state`: height, previous hash, timestamp (not before the committed one;
    /// not after `latest_timestamp` when given), size, every tx signature (skipping those
    /// `verified` says were already checked), and the state hash after re-applying the txs.
    ///
    /// # Errors
    /// [`EntityError::InvalidFrame`], [`EntityError::BadSignature`] (a tx),
    /// [`EntityError::StateHashMismatch`].
    pub(crate) fn validate(
        &self,
        state: &EntityState,
        latest_timestamp: Option<u64>,
        (hash, tx_hashes): ([u8; 32], Vec<[u8; 32]>),
        verified: impl Fn(&SignedTx) -> bool,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<ValidatedFrame, EntityError> {
        let invalid = |reason: String| EntityError::InvalidFrame {
            height: self.height,
            reason,
        };
        if self.height != state.height + 1 {
            return Err(invalid(format!(
                "height must be {} (committed + 1)",
                state.height + 1
            )));
        }
        if self.prev_hash != state.last_frame_hash {
            return Err(invalid(
                "prev_hash is not the last committed frame's hash".into(),
            ));
        }
        if self.timestamp < state.timestamp {
            return Err(invalid(format!(
                "timestamp {} is before the committed timestamp {}",
                self.timestamp, state.timestamp
            )));
        }
        if let Some(latest) = latest_timestamp.filter(|l| self.timestamp > *l) {
            return Err(invalid(format!(
                "timestamp {} is ahead of this replica's clock bound {latest}",
                self.timestamp
            )));
        }
        if self.txs.len() > FRAME_TXS_MAX {
            return Err(invalid(format!(
                "{} txs, at most {FRAME_TXS_MAX}",
                self.txs.len()
            )));
        }
        for stx in self.txs.iter().filter(|t| !verified(t)) {
            stx.verify(&state.entity_id, self.height)?;
        }
        if tx_hashes.len() != self.txs.len() {
            return Err(invalid("tx hash list does not match the txs".into()));
        }
        let (mut next, rejected) =
            state.apply_hashed_txs(self.height, self.timestamp, &self.txs, &tx_hashes, engine);
        let computed = next.hash();
        if computed != self.state_hash {
            return Err(EntityError::StateHashMismatch {
                height: self.height,
                expected: computed,
                got: self.state_hash,
            });
        }
        next.last_frame_hash = hash;
        Ok(ValidatedFrame {
            frame: self.clone(),
            hash,
            next,
            rejected,
            tx_hashes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::NoSubcontracts;
    use crate::crypto::SecretKey;
    use crate::entity::{Board, EntityTx};

    fn setup() -> (SecretKey, EntityState, EntityFrame) {
        let key = SecretKey::from_seed(b"frame-test");
        let board = Board::equal(&[key.address()], 1).unwrap();
        let state = EntityState::genesis(board, Vec::new()).unwrap();
        let tx = SignedTx::sign(
            &state.entity_id,
            &key,
            1,
            EntityTx::Message { text: "x".into() },
        )
        .unwrap();
        let frame = EntityFrame::build(&state, vec![tx], 3, &mut NoSubcontracts);
        (key, state, frame)
    }

    fn check(state: &EntityState, frame: &EntityFrame) -> Result<ValidatedFrame, EntityError> {
        let hashes = frame.txs.iter().map(SignedTx::hash).collect::<Vec<_>>();
        frame.validate(
            state,
            Some(100),
            (frame.hash(), hashes),
            |_| false,
            &mut NoSubcontracts,
        )
    }

    #[test]
    fn hash_is_the_header_hash_and_commits_to_txs() {
        let (_, _, frame) = setup();
        let header = frame.header(frame.txs.iter().map(SignedTx::hash).collect());
        assert_eq!(frame.hash(), header.canonical_hash());
        let mut other = frame.clone();
        other.txs[0].nonce = 2;
        assert_ne!(frame.hash(), other.hash());
    }

    #[test]
    fn validation_catches_each_broken_rule() {
        let (_, state, frame) = setup();
        let ok = check(&state, &frame).unwrap();
        assert_eq!(ok.next.last_frame_hash, frame.hash());
        assert!(ok.rejected.is_empty());
        let broken = |f: fn(&mut EntityFrame)| {
            let mut bad = frame.clone();
            f(&mut bad);
            check(&state, &bad).unwrap_err()
        };
        assert!(matches!(
            broken(|f| f.height = 2),
            EntityError::InvalidFrame { .. }
        ));
        assert!(matches!(
            broken(|f| f.prev_hash = [1; 32]),
            EntityError::InvalidFrame { .. }
        ));
        assert!(matches!(
            broken(|f| f.timestamp = 101),
            EntityError::InvalidFrame { .. }
        ));
        assert!(matches!(
            broken(|f| f.state_hash = [0; 32]),
            EntityError::StateHashMismatch { .. }
        ));
        assert!(matches!(
            broken(|f| f.txs[0].nonce = 9),
            EntityError::BadSignature { .. }
        ));
    }
}
