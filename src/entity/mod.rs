//! The entity machine: a board of weighted validators that agree, frame by frame, on one
//! deterministic application state (reserves, accounts, proposals, a message log). PURE:
//! no I/O, no clock, no randomness; time and messages are inputs to [`EntityReplica::handle`].
//!
//! | file | owns |
//! |---|---|
//! | `board.rs` | [`Board`] and [`Validator`]: shares, threshold, validation, hash, proposer rotation |
//! | `tx.rs` | [`EntityTx`], [`SignedTx`], [`Holder`]: what a frame carries, canonical and signed |
//! | `state.rs` | [`EntityState`]: the application state, its hash, and how txs apply (or are rejected) |
//! | `accounts.rs` | accounts with peer entities inside the state; hankos; sealing and re-sending account messages |
//! | `gossip.rs` | profiles signed by the board, spread along accounts; each replica's view; route planning |
//! | `payment.rs` | routed payments: HTLC locks with onions, forwarding by the entity's own policy, timeouts |
//! | `rejection.rs` | [`Rejection`] and [`RejectionKind`]: typed refusals of txs and payments |
//! | `frame.rs` | [`EntityFrame`]: a batch of txs with the state hash they lead to |
//! | `message.rs` | [`EntityMessage`] and its parts (proposal, votes, view change, commit, evidence), digests, signature checks |
//! | `round.rs` | per-height consensus bookkeeping: stored proposals, vote tallies, lock, valid frame |
//! | `replica.rs` | [`EntityReplica`]: checks every input and stores what it accepts; accessors |
//! | `rules.rs` | the consensus rules below, applied to what the replica stored; timers |
//! | `wire.rs` | strict decoders of every message a peer can send (the inverse of the canonical encodings) |
//!
//! # Consensus (Tendermint with view changes)
//!
//! Heights are decided one at a time; each height runs views 0, 1, 2, ... until a frame
//! commits. Write `T` for the board threshold and `N` for total shares.
//!
//! * **Proposer.** `proposer(h, v) = validators[(h + v) mod n]` in board order. Rotating with
//!   the height spreads the proposing work (and the power to order txs) over the board;
//!   rotating with the view means a silent or faulty proposer costs one view, not the
//!   height: the next view has a different proposer.
//! * **Propose.** The proposer of `(h, v)` proposes its *valid frame* (the latest frame it
//!   has seen `T` prevote shares for at this height, with those prevotes attached as a
//!   proof-of-lock, "POL") if it has one, otherwise a fresh frame from its mempool. Honest
//!   replicas relay the first proposal they accept for `(h, v)`, so an equivocating
//!   proposer's two frames meet at every honest replica.
//! * **Prevote.** A replica checks the proposer for `(h, v)`, the signature, the POL, and
//!   re-applies the txs to its committed state (the state hash must match). It prevotes the
//!   frame if it is not locked, or is locked on this very frame, or the proposal carries a
//!   POL from a view `vr` with `locked_view <= vr < v`. Otherwise it does not vote (its timer
//!   will move the view on).
//! * **Precommit and lock.** When a replica holds a valid proposal for its current view `v`
//!   and `T` prevote shares for it at `v`, it locks on that frame at `v` and precommits it
//!   (once per view).
//! * **Commit.** `T` precommit shares for the SAME frame hash in the SAME view commit that
//!   frame. The committer broadcasts a [`CommitNotice`] (frame + precommits); a replica that
//!   missed the votes verifies the quorum and the state hash before applying it. Lagging
//!   replicas also ask with [`EntityMessage::SyncRequest`] (periodically, and when they see a
//!   message for a later height).
//! * **View change.** A replica whose timer passes `timeout(v) = base + step × v` ticks at
//!   `(h, v)` without a commit broadcasts `ViewChange(h, v + 1)` carrying its valid frame and
//!   POL. `T` view-change shares for `w > v` move a replica to view `w`; `N − T + 1` shares
//!   (so at least one honest replica, if liveness holds at all) make it join with its own
//!   view change, so replicas that drifted into different views meet again.
//! * **Equivocation.** Two signed proposals, prevotes or precommits by one validator at one
//!   `(h, v)` with different frame hashes are [`Evidence`]: emitted as an output, recorded
//!   by the replica, and the validator's votes no longer count at that height.
//!
//! **Locking rule, exactly.** A replica precommits frame `F` at `(h, v)` only with `T`
//! prevote shares for `F` at `(h, v)`; it then stays locked on `F` and prevotes a different
//! frame at a later view only if that proposal proves `T` prevote shares for it at a view
//! at or above the lock's. This is Tendermint's rule. The simpler "never precommit two
//! frames at one height" is safe but not live: an equivocating proposer can split the
//! honest replicas' locks so that no frame ever reaches `T` again.
//!
//! **Safety** (no two honest replicas commit different frames at one height) holds whenever
//! byzantine shares `f < 2T − N`; with `T > 2N/3` that is every `f <= N/3`. Sketch: two
//! quorums overlap in `2T − N > f` shares, so in one view at most one frame gets `T`
//! prevotes; if `F` commits at view `v`, at least `T − f` honest shares locked `F` at `v`,
//! and by induction no other frame gathers `T` prevotes at any later view, since those
//! locked replicas prevote nothing else and the remaining shares are `N − T + f < T`.
//! **Liveness** needs `T` honest shares and eventually delivered messages (timeouts grow
//! with the view, and replicas resend their current messages periodically).
//!
//! Every failure is an [`EntityError`] whose [`EntityError::reaction`] says what to do with
//! the sender; an error leaves the replica unchanged. Nothing here panics on input.

#![warn(missing_docs)]

mod accounts;
mod board;
mod frame;
pub mod gossip;
mod message;
pub mod mpp;
pub mod payment;
mod rejection;
mod replica;
mod round;
mod rules;
mod state;
mod tx;
pub mod wallet;
pub mod wire;

pub use accounts::{
    entity_address, AccountOpen, AccountPart, EntityAccount, Hanko, ACCOUNTS_MAX, HANKO_PARTS_MAX,
};
pub use board::{Board, Validator, BOARD_VALIDATORS_MAX};
pub use frame::{EntityFrame, FrameHeader};
pub use message::{
    CommitNotice, EntityMessage, Evidence, Proposal, ValidCert, ViewChange, Vote, VoteKind,
};
pub use payment::{FeePolicy, PaymentHop, PaymentStatus, RoutedPayment};
pub use rejection::{Rejection, RejectionKind};
pub use replica::{CommittedFrame, EntityInput, EntityOutput, EntityReplica};
pub use state::{EntityState, LogEntry, OpenProposal, RejectedTx};
pub use tx::{EntityTx, Holder, ProposalAction, SignedTx};

pub use crate::account::TokenId;
use crate::crypto::Address;

/// An entity's identity: the hash of its genesis board (for unregistered entities). Every
/// signature inside the entity binds it, so messages cannot be replayed across entities.
pub type EntityId = [u8; 32];

/// Most transactions one frame may carry; a proposer leaves the rest in its mempool and a
/// replica rejects a larger frame, so one message cannot make it do unbounded work.
pub const FRAME_TXS_MAX: usize = 256;

/// Longest text of a [`EntityTx::Message`] or [`ProposalAction::Text`], in bytes.
pub const TEXT_BYTES_MAX: usize = 4_096;

/// Longest opaque payload ([`EntityTx::AccountInput`], [`EntityTx::ChainEvent`]), in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 16_384;

/// Most open governance proposals at once; more are rejected until some are decided.
pub const OPEN_PROPOSALS_MAX: usize = 256;

/// Amounts, reserves and limits must satisfy `|x| < 2^AMOUNT_BITS_MAX` (int256, like the chain).
pub const AMOUNT_BITS_MAX: u64 = 255;

/// Timing and size knobs of a replica, in one place (TigerBeetle style). All times are in
/// the caller's time unit (the runtime uses ticks).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityConfig {
    /// Base of the view timeout: view `v` times out after `view_timeout_base + view_timeout_step × v`.
    pub view_timeout_base: u64,
    /// Growth of the view timeout per view, so views eventually outlast any message delay.
    pub view_timeout_step: u64,
    /// Longest view timeout, whatever the view.
    pub view_timeout_max: u64,
    /// How long a proposer waits, after the height's work begins, before proposing a fresh
    /// frame at view 0, so that one frame batches the txs that arrive meanwhile (like
    /// Tendermint's `timeout_commit`); it then proposes on the first `Tick` at or after
    /// that time. 0 proposes at once, on any input. Keep it well below the view timeout.
    pub batch_delay: u64,
    /// How often a replica with unfinished work resends its current messages (they may be lost).
    pub resend_interval: u64,
    /// How often a replica asks its peers for commits it may have missed.
    pub sync_interval: u64,
    /// Most commits kept for lagging peers and sent in answer to one sync request.
    pub commits_kept: usize,
    /// Votes and proposals for views further ahead than this are ignored (bounded memory).
    pub views_ahead_max: u64,
    /// A proposal whose timestamp is further ahead of the replica's clock is refused.
    pub clock_drift_max: u64,
    /// Most transactions a replica holds in its mempool.
    pub mempool_max: usize,
}

impl Default for EntityConfig {
    fn default() -> Self {
        EntityConfig {
            view_timeout_base: 16,
            view_timeout_step: 8,
            view_timeout_max: 512,
            batch_delay: 0,
            resend_interval: 6,
            sync_interval: 32,
            commits_kept: 64,
            views_ahead_max: 64,
            clock_drift_max: 1_000,
            mempool_max: 10_000,
        }
    }
}

impl EntityConfig {
    /// The timeout of view `view` (see [`EntityConfig::view_timeout_base`]).
    pub fn view_timeout(&self, view: u64) -> u64 {
        self.view_timeout_step
            .saturating_mul(view)
            .saturating_add(self.view_timeout_base)
            .min(self.view_timeout_max)
    }
}

/// What the caller should do with the sender after an error (LDK-style).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Reaction {
    /// Stale, duplicate or premature input: drop it; nothing changed, nobody is at fault.
    Ignore,
    /// Input that does not fit (a bad transaction, a caller mistake): refuse it; the replica
    /// is unchanged and usable.
    Reject,
    /// The sender signed or proposed something an honest validator never does (a bad
    /// signature, a wrong state hash, a forged quorum): stop trusting it and report it.
    Punish,
}

/// The single error type of the entity layer. Each variant names what is wrong and the
/// bound it broke; [`EntityError::reaction`] says how to treat the sender. Whenever one is
/// returned, the replica is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntityError {
    /// A board that breaks a rule (threshold, duplicates, size).
    #[error("invalid board: {reason}")]
    InvalidBoard {
        /// What is wrong.
        reason: String,
    },
    /// A message or transaction signed by an address that is not on the board.
    #[error("{address} is not a validator of this entity's board")]
    NotAValidator {
        /// The address.
        address: Address,
    },
    /// The signing key given to `handle` is not this replica's.
    #[error("the signing key is for {got}, but this replica is {expected}")]
    KeyMismatch {
        /// This replica's address.
        expected: Address,
        /// The key's address.
        got: Address,
    },
    /// A signature that is not the claimed signer's over the message digest.
    #[error(
        "bad signature on {what} at height {height}: not {signer}'s signature over its digest"
    )]
    BadSignature {
        /// Which message kind.
        what: &'static str,
        /// The claimed signer.
        signer: Address,
        /// The height of the message.
        height: u64,
    },
    /// A proposal signed by someone other than the proposer of its (height, view).
    #[error(
        "proposal for height {height} view {view} comes from {got}, but the proposer is {expected}"
    )]
    WrongProposer {
        /// The height.
        height: u64,
        /// The view.
        view: u64,
        /// The rotation's proposer.
        expected: Address,
        /// The signer.
        got: Address,
    },
    /// A message for a height or view this replica has already passed (a replay or a
    /// latecomer).
    #[error("stale {what}: height {height} view {view}, this replica is at height {current_height} view {current_view}")]
    Stale {
        /// Which message kind.
        what: &'static str,
        /// The message's height.
        height: u64,
        /// The message's view.
        view: u64,
        /// This replica's height (committed + 1).
        current_height: u64,
        /// This replica's view.
        current_view: u64,
    },
    /// A message for a view too far ahead to be stored (see [`EntityConfig::views_ahead_max`]).
    #[error("{what} for view {view} is more than {max} views ahead of view {current_view}")]
    ViewTooFarAhead {
        /// Which message kind.
        what: &'static str,
        /// The message's view.
        view: u64,
        /// This replica's view.
        current_view: u64,
        /// The limit.
        max: u64,
    },
    /// An exact copy of something already received.
    #[error("duplicate {what}")]
    Duplicate {
        /// Which message kind.
        what: &'static str,
    },
    /// Re-applying a frame's txs gave a different state than the frame claims.
    #[error("state hash mismatch at height {height}: applying the frame's txs gives a different state than it claims")]
    StateHashMismatch {
        /// The frame height.
        height: u64,
        /// The state hash this replica computed.
        expected: [u8; 32],
        /// The state hash in the frame.
        got: [u8; 32],
    },
    /// A frame that cannot follow the committed one (height, previous hash, time, size).
    #[error("invalid frame at height {height}: {reason}")]
    InvalidFrame {
        /// The frame height.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// A quorum certificate (POL, commit notice, view-change proof) that does not prove
    /// what it claims.
    #[error("bad {what} certificate: {reason}")]
    BadCertificate {
        /// Which certificate.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A transaction that breaks a stateless rule (size, amount range).
    #[error("invalid transaction: {reason}")]
    InvalidTx {
        /// What is wrong.
        reason: String,
    },
    /// A transaction whose nonce is already used or committed.
    #[error(
        "transaction nonce {nonce} of {signer} is already taken (committed up to {committed})"
    )]
    NonceTaken {
        /// The signer.
        signer: Address,
        /// The nonce.
        nonce: u64,
        /// The signer's last committed nonce.
        committed: u64,
    },
    /// The mempool holds [`EntityConfig::mempool_max`] transactions.
    #[error("mempool full ({max} transactions); retry after the next commit")]
    MempoolFull {
        /// The limit.
        max: usize,
    },
    /// Signing failed (probability below 2^-127).
    #[error("signing failed: {0}")]
    SigningFailed(String),
}

impl EntityError {
    /// How to treat the sender: stale, duplicate, too-far-ahead and full-mempool inputs are
    /// [`Reaction::Ignore`]; anything only a dishonest validator signs (bad signatures,
    /// wrong proposer, wrong state hash, invalid frames, forged certificates) is
    /// [`Reaction::Punish`]; the rest (bad txs, a wrong key, non-validators) is
    /// [`Reaction::Reject`].
    pub fn reaction(&self) -> Reaction {
        use EntityError::*;
        match self {
            Stale { .. } | Duplicate { .. } | ViewTooFarAhead { .. } | MempoolFull { .. } => {
                Reaction::Ignore
            }
            BadSignature { .. }
            | WrongProposer { .. }
            | StateHashMismatch { .. }
            | InvalidFrame { .. }
            | BadCertificate { .. } => Reaction::Punish,
            InvalidBoard { .. }
            | NotAValidator { .. }
            | KeyMismatch { .. }
            | InvalidTx { .. }
            | NonceTaken { .. }
            | SigningFailed(_) => Reaction::Reject,
        }
    }
}
