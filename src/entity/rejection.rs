//! [`Rejection`]: why an entity tx (or a payment) did not take effect, typed by
//! [`RejectionKind`] so the script edge, the timeline and the client API can tell a
//! capacity refusal from a replay, a bad signature, a subcontract failure or a timeout —
//! never one generic string. Deterministic: every replica produces the same rejection.

use std::fmt;

use crate::account::AccountError;
use crate::crypto::{tagged, Canonical, RlpItem};

/// The kind of a refusal, stable across versions (scripts and docs name them).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum RejectionKind {
    /// A payment, hold or lock beyond what RCPAN allows (out-capacity, credit, collateral).
    Capacity,
    /// A replayed or out-of-order message or nonce.
    Replay,
    /// A signature or hanko that does not verify, or a signer not on the board.
    BadSignature,
    /// Subcontract code refused, failed, ran out of budget, or overdrew.
    Subcontract,
    /// A lock timed out, or a timeout that has not come yet.
    Timeout,
    /// No route, or a hop's policy refused to forward (fee, timeout delta, no account).
    Route,
    /// No such account, subcontract or proposal.
    Unknown,
    /// A tx that breaks a rule by itself (sizes, signs, ranges).
    Invalid,
    /// An entity reserve too small.
    Reserve,
    /// Anything else the protocol refused.
    Refused,
}

impl RejectionKind {
    /// Every kind, in declaration order.
    pub const ALL: [RejectionKind; 10] = [
        RejectionKind::Capacity,
        RejectionKind::Replay,
        RejectionKind::BadSignature,
        RejectionKind::Subcontract,
        RejectionKind::Timeout,
        RejectionKind::Route,
        RejectionKind::Unknown,
        RejectionKind::Invalid,
        RejectionKind::Reserve,
        RejectionKind::Refused,
    ];

    /// The kebab-case name (scripts see `'capacity`, `'replay`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RejectionKind::Capacity => "capacity",
            RejectionKind::Replay => "replay",
            RejectionKind::BadSignature => "bad-signature",
            RejectionKind::Subcontract => "subcontract",
            RejectionKind::Timeout => "timeout",
            RejectionKind::Route => "route",
            RejectionKind::Unknown => "unknown",
            RejectionKind::Invalid => "invalid",
            RejectionKind::Reserve => "reserve",
            RejectionKind::Refused => "refused",
        }
    }

    /// The kind of an account-layer error.
    pub fn of_account(e: &AccountError) -> RejectionKind {
        use AccountError::*;
        match e {
            CapacityExceeded { .. } | RcpanViolation { .. } | CollateralNegative { .. } => {
                RejectionKind::Capacity
            }
            Replay { .. } | Gap { .. } | WrongHeight { .. } | WrongPrevHash { .. } => {
                RejectionKind::Replay
            }
            BadSignature { .. } | KeyMismatch { .. } | SigningFailed(_) => {
                RejectionKind::BadSignature
            }
            SubcontractFailed { .. }
            | SubcontractOverdraw { .. }
            | UnknownCode(_)
            | DuplicateCode(_)
            | InvalidCode { .. }
            | UnknownSubcontract(_)
            | DuplicateSubcontract(_)
            | DuplicateHold { .. } => RejectionKind::Subcontract,
            PeerFrameTxInvalid { error, .. } => RejectionKind::of_account(error),
            AmountOutOfRange { .. }
            | NonPositiveAmount { .. }
            | NegativeCreditLimit { .. }
            | TooMany { .. }
            | DataTooDeep { .. } => RejectionKind::Invalid,
            _ => RejectionKind::Refused,
        }
    }
}

/// A refusal: its kind and the full reason (naming the bound broken).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// What kind of refusal.
    pub kind: RejectionKind,
    /// Why, in words.
    pub reason: String,
}

impl Rejection {
    /// A rejection of `kind`.
    pub fn new(kind: RejectionKind, reason: impl Into<String>) -> Self {
        Rejection {
            kind,
            reason: reason.into(),
        }
    }

    /// An account-layer error, in the account with `peer` (shown as `who`).
    pub fn account(who: &str, e: &AccountError) -> Self {
        Rejection::new(
            RejectionKind::of_account(e),
            format!("account with {who}: {e}"),
        )
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.kind.name())
    }
}

impl From<String> for Rejection {
    fn from(reason: String) -> Self {
        Rejection::new(RejectionKind::Refused, reason)
    }
}

/// Canonical encoding: `tagged("xln/rejection/v1", [kind name, reason])`.
impl Canonical for Rejection {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/rejection/v1",
            vec![
                self.kind.name().canonical_rlp(),
                self.reason.canonical_rlp(),
            ],
        )
    }
}
