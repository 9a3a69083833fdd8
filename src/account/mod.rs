//! The bilateral (2-of-2) account as a pure state machine: deltas and the RCPAN bound,
//! capacity views, account transactions, subcontracts, signed frames and the propose /
//! countersign protocol. No I/O, no clock, no randomness: time is an input.
//!
//! | file | owns |
//! |---|---|
//! | `delta.rs` | [`Side`], [`Delta`], the RCPAN bound and the int256 range check |
//! | `view.rs` | [`CapacityView`] and [`view`]: DESIGN's derived capacities for one side |
//! | `tx.rs` | [`AccountTx`], its canonical encoding and its stateless checks |
//! | `subcontract.rs` | [`Data`], [`Subcontract`], the [`SubcontractEngine`] trait and how effects move value |
//! | `state.rs` | [`AccountState`], its hash, and [`AccountState::apply_tx`] (plan, check, commit) |
//! | `frame.rs` | [`AccountFrame`] and the signed [`AccountMessage`]s that carry frames and acks |
//! | `machine.rs` | [`AccountMachine`]: mempool, one frame in flight, counters, simultaneous proposals |
//!
//! Every failure is an [`AccountError`]; [`AccountError::reaction`] says what to do with
//! the peer. Nothing here panics on input from a peer or a caller; `assert!`s guard only
//! internal invariants (allowances equal open holds, heights rise by exactly one).

#![warn(missing_docs)]

mod delta;
mod frame;
mod machine;
mod state;
mod subcontract;
mod tx;
mod view;

use std::fmt;

pub use delta::{check_amount, check_rcpan, Delta, Side, TokenId, AMOUNT_BITS_MAX};
pub use frame::{AccountFrame, AccountMessage, AccountMessageBody};
pub use machine::{AccountMachine, ProposeOutcome, Seal, UNSEALED};
pub use num_bigint::BigInt;
pub use state::AccountState;
pub use subcontract::{
    short_hex, Data, NoSubcontracts, Subcontract, SubcontractCall, SubcontractEffect,
    SubcontractEngine,
};
pub use tx::AccountTx;
pub use view::{view, CapacityView};

use crate::crypto::Address;

/// Most transactions one frame may carry; a proposer leaves the rest in its mempool and a
/// receiver rejects a larger frame, so one message cannot make a replica do unbounded work.
pub const FRAME_TXS_MAX: usize = 1_000;

/// Deepest nesting of [`Data`] (lists and maps) accepted in a transaction or a subcontract
/// effect; deeper data is rejected before it is hashed, so hashing never recurses far.
pub const DATA_DEPTH_MAX: usize = 32;

/// Most value transfers one subcontract call may produce.
pub const EFFECT_TRANSFERS_MAX: usize = 256;

/// Most tokens one subcontract may hold.
pub const SUBCONTRACT_HOLDS_MAX: usize = 64;

/// Largest subcontract code one [`AccountTx::InstallCode`] may carry, in bytes.
pub const CODE_BYTES_MAX: usize = 64 * 1024;

/// Most codes one account may have installed.
pub const CODES_MAX: usize = 64;

/// Most subcontract instances open in one account at once (each HTLC in flight is one).
pub const SUBCONTRACTS_OPEN_MAX: usize = 4_096;

/// How the caller should treat the peer after an error (LDK-style): the error tells what
/// went wrong, the reaction what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// A duplicate, stale or misrouted message: drop it, nothing changed.
    Ignore,
    /// Invalid input (a tx that does not fit, a message out of order): refuse it, the
    /// account is unchanged and still usable.
    Reject,
    /// The peer signed or sent something an honest peer never does (bad signature, a
    /// frame whose state does not match): stop trusting it and go to the chain.
    ClosePeer,
}

/// Which bound a subcontract transfer broke (see [`AccountError::SubcontractOverdraw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverdrawBound {
    /// The owner's transfer exceeds what the instance still holds in that token.
    Held,
    /// The caller's (non-owner) transfer exceeds its out-capacity.
    CallerOutCapacity,
    /// The transfer is from the non-owner side, which is not the caller: a subcontract may
    /// only take from the owner's holds or from the side that called it.
    NotCaller,
}

impl fmt::Display for OverdrawBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OverdrawBound::Held => "the instance holds only",
            OverdrawBound::CallerOutCapacity => "the caller's out-capacity is",
            OverdrawBound::NotCaller => {
                "it is neither the owner nor the caller, so it may give at most"
            }
        })
    }
}

/// The breakdown of a side's out-capacity in [`AccountError::CapacityExceeded`]:
/// `capacity = collateral + own_credit + peer_credit − held` (at least 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapacityParts {
    /// The payer's out-collateral.
    pub collateral: BigInt,
    /// The payer's unused own credit.
    pub own_credit: BigInt,
    /// The peer's drawn debt the payer may spend back.
    pub peer_credit: BigInt,
    /// The payer's allowance (held by its open subcontracts).
    pub held: BigInt,
}

impl fmt::Display for CapacityParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "collateral {}, own credit {}, peer credit {}, held {}",
            self.collateral, self.own_credit, self.peer_credit, self.held
        )
    }
}

/// The name of the bound `side` may not cross: left's is the lower, right's the upper.
fn bound_name(side: &Side) -> &'static str {
    match side {
        Side::Left => "−left_credit_limit",
        Side::Right => "collateral + right_credit_limit",
    }
}

/// The single error type of the account layer. Each variant names what is wrong and the
/// bound it broke; [`AccountError::reaction`] says how to treat the peer. Whenever one is
/// returned, the state or machine it came from is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// A payment or hold larger than the payer's out-capacity (DESIGN's RCPAN bound,
    /// allowances included); `parts` breaks the capacity down as the payer's view does.
    #[error(
        "{side} cannot {action} {amount} of token {token}: out-capacity is {capacity} ({parts})"
    )]
    CapacityExceeded {
        /// The paying side.
        side: Side,
        /// "pay" for a payment, "hold" for a subcontract's hold.
        action: &'static str,
        /// The token.
        token: TokenId,
        /// The amount asked for.
        amount: BigInt,
        /// The payer's out-capacity.
        capacity: BigInt,
        /// Where the capacity comes from (boxed to keep the error small).
        parts: Box<CapacityParts>,
    },
    /// An amount, limit or resulting balance is not within int256 (|x| < 2^255).
    #[error("{what} {amount} is out of range: amounts must satisfy |x| < 2^255 (int256)")]
    AmountOutOfRange {
        /// Which amount (e.g. "payment amount", "collateral of token 1").
        what: String,
        /// The offending value.
        amount: BigInt,
    },
    /// An amount that must be positive is zero or negative.
    #[error("{what} must be positive, got {amount}")]
    NonPositiveAmount {
        /// Which amount.
        what: String,
        /// The offending value.
        amount: BigInt,
    },
    /// A credit limit below zero.
    #[error("credit limit for token {token} must be >= 0, got {amount}")]
    NegativeCreditLimit {
        /// The token.
        token: TokenId,
        /// The limit asked for.
        amount: BigInt,
    },
    /// A message counter at or below the last one received: a duplicate or replay.
    #[error("replayed message: counter {got}, expected {expected}; drop it")]
    Replay {
        /// The next counter this side accepts.
        expected: u64,
        /// The counter received.
        got: u64,
    },
    /// A message counter beyond the next one: messages were lost or reordered.
    #[error(
        "message gap: counter {got}, expected {expected}; the peer must resend from {expected}"
    )]
    Gap {
        /// The next counter this side accepts.
        expected: u64,
        /// The counter received.
        got: u64,
    },
    /// A frame or ack for a height other than the one this side expects.
    #[error("wrong frame height {got}: expected {expected}")]
    WrongHeight {
        /// The height this side expects.
        expected: u64,
        /// The height received.
        got: u64,
    },
    /// A frame that does not extend this side's last committed frame.
    #[error("frame at height {height} does not extend the last committed frame (prev_frame_hash mismatch)")]
    WrongPrevHash {
        /// The frame's height.
        height: u64,
    },
    /// A frame whose timestamp is earlier than the last committed one.
    #[error("frame timestamp {got} is earlier than the committed timestamp {previous}; account time never runs backwards")]
    TimestampRegressed {
        /// The committed timestamp.
        previous: u64,
        /// The timestamp received.
        got: u64,
    },
    /// A signature that is not the peer's over the frame hash.
    #[error(
        "bad signature on {what} at height {height}: not the peer's signature over the frame hash"
    )]
    BadSignature {
        /// "proposal" or "ack".
        what: &'static str,
        /// The frame height.
        height: u64,
    },
    /// Re-applying the peer's transactions gave a different state than the peer signed.
    #[error("state hash mismatch at height {height}: the peer signed a state this side does not reach by applying the frame's txs")]
    StateHashMismatch {
        /// The frame height.
        height: u64,
        /// The state hash this side computed.
        expected: [u8; 32],
        /// The state hash in the frame.
        got: [u8; 32],
    },
    /// The frame's token_ids / deltas are not the ones its txs produce.
    #[error("frame at height {height} carries token ids or deltas that its txs do not produce")]
    FrameDeltasMismatch {
        /// The frame height.
        height: u64,
    },
    /// An ack for a frame other than the one in flight.
    #[error("ack at height {height} is for a different frame than the one in flight")]
    WrongFrameHash {
        /// The frame height.
        height: u64,
    },
    /// A transaction in the peer's signed frame failed; an honest peer never signs one.
    #[error("tx {index} of the peer's frame at height {height} is invalid: {error}")]
    PeerFrameTxInvalid {
        /// The frame height.
        height: u64,
        /// Position of the tx in the frame.
        index: usize,
        /// Why it failed.
        error: Box<AccountError>,
    },
    /// A list longer than its limit: txs in a frame ([`FRAME_TXS_MAX`]), holds of a
    /// subcontract ([`SUBCONTRACT_HOLDS_MAX`]), transfers of one effect
    /// ([`EFFECT_TRANSFERS_MAX`]).
    #[error("{what}: {count} given, at most {max} allowed")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many there were.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// [`Data`] nested deeper than [`DATA_DEPTH_MAX`].
    #[error("{what} is nested deeper than {max} levels")]
    DataTooDeep {
        /// Where the data was.
        what: String,
        /// The limit.
        max: usize,
    },
    /// A message that is not from this account's peer to this side.
    #[error("message from {from} to {to} is not addressed to this account side")]
    NotAddressedToMe {
        /// The message's sender.
        from: Address,
        /// The message's recipient.
        to: Address,
    },
    /// The key given does not belong to this side.
    #[error("the signing key is for {got}, but this account side is {expected}")]
    KeyMismatch {
        /// This side's address.
        expected: Address,
        /// The key's address.
        got: Address,
    },
    /// Signing the frame hash failed (probability below 2^-127).
    #[error("signing the frame hash failed: {0}")]
    SigningFailed(String),
    /// A call to a subcontract id that is not open.
    #[error("no open subcontract with id {0}")]
    UnknownSubcontract(u64),
    /// Opening a subcontract under an id that is already open.
    #[error("a subcontract with id {0} is already open")]
    DuplicateSubcontract(u64),
    /// A subcontract's holds list the same token twice.
    #[error("subcontract {id} lists token {token} twice in its holds")]
    DuplicateHold {
        /// The subcontract id.
        id: u64,
        /// The repeated token.
        token: TokenId,
    },
    /// Opening an instance of code that is not installed in the account.
    #[error("no subcontract code {0} is installed in this account; install it first")]
    UnknownCode(String),
    /// Installing code that is already installed.
    #[error("subcontract code {0} is already installed in this account")]
    DuplicateCode(String),
    /// The engine refused code at install time.
    #[error("subcontract code {code} cannot be installed: {reason}")]
    InvalidCode {
        /// The code's short hash.
        code: String,
        /// The engine's reason.
        reason: String,
    },
    /// The subcontract engine refused the call.
    #[error("subcontract {code} method `{method}` failed: {reason}")]
    SubcontractFailed {
        /// The code's short hash.
        code: String,
        /// The method called.
        method: String,
        /// The engine's reason.
        reason: String,
    },
    /// A subcontract transfer that exceeds what its source may give.
    #[error(
        "subcontract {id} cannot move {amount} of token {token} from {from}: {bound} {available}"
    )]
    SubcontractOverdraw {
        /// The subcontract id.
        id: u64,
        /// The token.
        token: TokenId,
        /// The side the value would come from.
        from: Side,
        /// The amount asked for.
        amount: BigInt,
        /// What the source may give.
        available: BigInt,
        /// Which bound was broken.
        bound: OverdrawBound,
    },
    /// A transition that moves Δ (with the amounts already held) further outside
    /// `[−left_credit_limit, collateral + right_credit_limit]` than it was.
    #[error("token {token}: {side}'s bound broken: Δ (with held amounts) would be {excess_after} beyond {} = {bound} (was {excess_before} beyond it)", bound_name(.side))]
    RcpanViolation {
        /// The token.
        token: TokenId,
        /// Whose bound: left's (lower, −left_credit_limit) or right's (upper,
        /// collateral + right_credit_limit).
        side: Side,
        /// The value of that bound.
        bound: BigInt,
        /// How far outside it Δ was (held amounts included).
        excess_before: BigInt,
        /// How far outside it Δ would be.
        excess_after: BigInt,
    },
    /// An ack arrived while no frame of this side is in flight.
    #[error("ack received but no frame is in flight")]
    NoPendingFrame,
    /// A chain delta that would make collateral negative.
    #[error("collateral of token {token} would be {result} after a change of {change}; collateral must stay >= 0")]
    CollateralNegative {
        /// The token.
        token: TokenId,
        /// The collateral change asked for.
        change: BigInt,
        /// The resulting collateral.
        result: BigInt,
    },
}

impl AccountError {
    /// A [`AccountError::CapacityExceeded`] with the figures of the payer's view.
    pub(crate) fn capacity(
        side: Side,
        action: &'static str,
        token: TokenId,
        amount: &BigInt,
        view: &CapacityView,
    ) -> Self {
        AccountError::CapacityExceeded {
            side,
            action,
            token,
            amount: amount.clone(),
            capacity: view.out_capacity.clone(),
            parts: Box::new(CapacityParts {
                collateral: view.out_collateral.clone(),
                own_credit: view.out_own_credit.clone(),
                peer_credit: view.out_peer_credit.clone(),
                held: view.out_allowance.clone(),
            }),
        }
    }

    /// How to treat the peer after this error: replays and misrouted messages are
    /// [`Reaction::Ignore`]; anything only a dishonest or broken peer signs (bad signature,
    /// state or delta mismatch, a frame that does not chain, an invalid tx in a signed
    /// frame) is [`Reaction::ClosePeer`]; everything else is [`Reaction::Reject`].
    pub fn reaction(&self) -> Reaction {
        use AccountError::*;
        match self {
            Replay { .. } | NotAddressedToMe { .. } => Reaction::Ignore,
            BadSignature { .. }
            | StateHashMismatch { .. }
            | FrameDeltasMismatch { .. }
            | WrongFrameHash { .. }
            | WrongHeight { .. }
            | WrongPrevHash { .. }
            | TimestampRegressed { .. }
            | PeerFrameTxInvalid { .. } => Reaction::ClosePeer,
            _ => Reaction::Reject,
        }
    }
}
