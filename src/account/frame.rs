//! [`AccountFrame`]: a batch of txs with the deltas and state hash they lead to, whose
//! canonical hash both sides sign; and the [`AccountMessage`]s that carry proposals and
//! acks between the sides.

use std::collections::BTreeSet;

use super::{AccountState, AccountTx, Delta, TokenId};
use crate::crypto::{tagged, Address, Canonical, RlpItem, Signature};

/// A proposed step of the account: `txs` applied by the proposer on top of the frame at
/// `height − 1` (whose hash is `prev_frame_hash`).
///
/// `state_hash` is the hash of the resulting [`AccountState`] with `height` and
/// `timestamp` set to the frame's and `last_frame_hash` still `prev_frame_hash` (a frame
/// cannot contain its own hash); once committed, the state's `last_frame_hash` becomes
/// [`AccountFrame::hash`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountFrame {
    /// Committed height + 1.
    pub height: u64,
    /// The proposer's time, never below the committed timestamp.
    pub timestamp: u64,
    /// Hash of the last committed frame.
    #[serde(with = "crate::crypto::readable")]
    pub prev_frame_hash: [u8; 32],
    /// The txs, applied in order by the proposer.
    pub txs: Vec<AccountTx>,
    /// Tokens whose delta the txs wrote, ascending.
    pub token_ids: Vec<TokenId>,
    /// The resulting deltas of `token_ids`, in the same order.
    pub deltas: Vec<Delta>,
    /// Hash of the resulting state (see the type's doc).
    #[serde(with = "crate::crypto::readable")]
    pub state_hash: [u8; 32],
}

impl AccountFrame {
    /// The frame for `txs` that led from the committed state to `next` (whose height and
    /// timestamp are already the frame's and whose `last_frame_hash` is still the previous
    /// frame's), touching `touched`.
    pub(super) fn seal(
        next: &AccountState,
        txs: Vec<AccountTx>,
        touched: &BTreeSet<TokenId>,
    ) -> Self {
        AccountFrame {
            height: next.height,
            timestamp: next.timestamp,
            prev_frame_hash: next.last_frame_hash,
            txs,
            token_ids: touched.iter().copied().collect(),
            deltas: touched.iter().map(|t| next.delta(*t)).collect(),
            state_hash: next.state_hash(),
        }
    }

    /// The canonical hash `keccak256(rlp(tagged("xln/account-frame/v1", [height,
    /// timestamp, prev_frame_hash, txs, token_ids, deltas, state_hash])))`. Both sides
    /// sign this raw 32-byte digest. Hashing recurses into subcontract data: check
    /// [`AccountTx::check_stateless`]'s depth limit first on untrusted frames.
    pub fn hash(&self) -> [u8; 32] {
        self.canonical_hash()
    }
}

/// Canonical encoding: see [`AccountFrame::hash`].
impl Canonical for AccountFrame {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/account-frame/v1",
            vec![
                self.height.canonical_rlp(),
                self.timestamp.canonical_rlp(),
                self.prev_frame_hash.canonical_rlp(),
                self.txs.canonical_rlp(),
                self.token_ids.canonical_rlp(),
                self.deltas.canonical_rlp(),
                self.state_hash.canonical_rlp(),
            ],
        )
    }
}

/// What one side sends the other.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountMessageBody {
    /// A new frame, signed by the proposer over [`AccountFrame::hash`].
    Propose {
        /// The frame.
        frame: AccountFrame,
        /// The proposer's signature over the frame hash.
        signature: Signature,
    },
    /// The countersignature of a proposal: with the proposer's signature, a 2-of-2 proof.
    Ack {
        /// The acknowledged frame's height.
        height: u64,
        /// The acknowledged frame's hash.
        #[serde(with = "crate::crypto::readable")]
        frame_hash: [u8; 32],
        /// The acknowledger's signature over `frame_hash`.
        signature: Signature,
    },
    /// The receiver will not countersign this (valid) proposal — e.g. it reveals a lock
    /// after the lock's timeout by the receiver's own clock. The proposer drops the frame
    /// and gets its txs back as declined.
    Decline {
        /// The declined frame's height.
        height: u64,
        /// The declined frame's hash.
        #[serde(with = "crate::crypto::readable")]
        frame_hash: [u8; 32],
        /// Why (at most [`DECLINE_REASON_BYTES_MAX`] bytes).
        reason: String,
        /// The decliner's signature over `frame_hash` (unsealed between boards).
        signature: Signature,
    },
}

/// Longest reason a [`AccountMessageBody::Decline`] may carry, in bytes.
pub const DECLINE_REASON_BYTES_MAX: usize = 512;

/// A message between the two sides of one account. `counter` numbers the sender's
/// messages 1, 2, 3, ...; the receiver accepts exactly the next one, so replays and gaps
/// are detected.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountMessage {
    /// The sender.
    pub from: Address,
    /// The receiver.
    pub to: Address,
    /// The sender's message number, starting at 1.
    pub counter: u64,
    /// The content.
    pub body: AccountMessageBody,
}

impl AccountMessage {
    /// The digest a board's validators sign to seal this message for their entity (the
    /// hanko): `keccak256(rlp(tagged("xln/account-hanko/v1", [from, to, counter, kind,
    /// height, frame_hash])))` with kind 0 for a proposal, 1 for an ack, and for a decline
    /// kind 2 with the reason's keccak appended. It binds the frame and the message's place
    /// in the account's sequence; the [`UNSEALED`] signature field is not part of it.
    ///
    /// [`UNSEALED`]: super::UNSEALED
    pub fn hanko_digest(&self) -> [u8; 32] {
        let (kind, height, frame_hash, reason) = match &self.body {
            AccountMessageBody::Propose { frame, .. } => (0u64, frame.height, frame.hash(), None),
            AccountMessageBody::Ack {
                height, frame_hash, ..
            } => (1u64, *height, *frame_hash, None),
            AccountMessageBody::Decline {
                height,
                frame_hash,
                reason,
                ..
            } => (
                2u64,
                *height,
                *frame_hash,
                Some(crate::crypto::keccak256(reason.as_bytes())),
            ),
        };
        let mut fields = vec![
            self.from.canonical_rlp(),
            self.to.canonical_rlp(),
            self.counter.canonical_rlp(),
            kind.canonical_rlp(),
            height.canonical_rlp(),
            frame_hash.canonical_rlp(),
        ];
        if let Some(reason) = reason {
            fields.push(reason.canonical_rlp());
        }
        crate::crypto::keccak256(&tagged(b"xln/account-hanko/v1", fields).encode())
    }
}

/// Canonical encoding: `tagged("xln/account-message/v1", [from, to, counter, kind, body
/// fields...])`, for hashing messages carried inside entity txs.
impl Canonical for AccountMessage {
    fn canonical_rlp(&self) -> RlpItem {
        let mut fields = vec![
            self.from.canonical_rlp(),
            self.to.canonical_rlp(),
            self.counter.canonical_rlp(),
        ];
        match &self.body {
            AccountMessageBody::Propose { frame, signature } => {
                fields.push(0u64.canonical_rlp());
                fields.push(frame.canonical_rlp());
                fields.push(signature.canonical_rlp());
            }
            AccountMessageBody::Ack {
                height,
                frame_hash,
                signature,
            } => {
                fields.push(1u64.canonical_rlp());
                fields.push(height.canonical_rlp());
                fields.push(frame_hash.canonical_rlp());
                fields.push(signature.canonical_rlp());
            }
            AccountMessageBody::Decline {
                height,
                frame_hash,
                reason,
                signature,
            } => {
                fields.push(2u64.canonical_rlp());
                fields.push(height.canonical_rlp());
                fields.push(frame_hash.canonical_rlp());
                fields.push(reason.canonical_rlp());
                fields.push(signature.canonical_rlp());
            }
        }
        tagged(b"xln/account-message/v1", fields)
    }
}

crate::plain_readable!(AccountFrame, AccountMessage);
