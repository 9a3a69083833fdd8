//! Netting: finds offsetting obligations across accounts (per token), plans how to cancel
//! them with ordinary payments, and executes the plan step by step, each step atomic.
//!
//! # Terms (fixed here; the tests and scripts measure exactly these)
//! - **Position**: one account's state in one token, reduced to what netting needs: Δ (the
//!   left's balance, DESIGN "Delta"), the collateral C, and the range `[lower, upper]` Δ can
//!   reach by payments (left paying down to `lower`, right paying up to `upper`: each
//!   side's out-capacity, so RCPAN and held allowances are respected).
//! - **Obligation**: the part of a position beyond collateral, which a dispute or a
//!   cooperative close would have to settle on chain (DESIGN's dispute split): Δ < 0 → the
//!   left owes the right −Δ; Δ > C → the right owes the left Δ − C; 0 ≤ Δ ≤ C → nothing.
//! - **A settlement**: one account with a non-zero obligation in a token (one account diff
//!   on chain). **Collateral moved**: the sum of the obligations' amounts — the value those
//!   settlements must move from debtors' reserves into collateral.
//! - **A netting step**: payments around one cycle of accounts, all in one token, that leave
//!   every entity's net position (what it holds across its accounts) unchanged. No
//!   account's obligation ever grows (it may shrink, vanish, or change direction at most at
//!   its old size), so the plan is never worse than no netting in either measure; within
//!   that rule it moves the least collateral possible.
//!
//! # Files
//! | file | owns |
//! |---|---|
//! | `position.rs` | [`Position`], [`Obligation`], [`debt`]: what an account owes beyond collateral |
//! | `plan.rs` | [`plan`]: min-cost circulation by negative-cycle cancelling, then cycle decomposition into [`Step`]s |
//! | `report.rs` | [`TokenReport`] / [`Figures`]: settlements and collateral moved, before and after |
//! | `execute.rs` | the [`Ledger`] trait and [`execute`]: each step one all-or-nothing cycle, checked first |
//! | `machines.rs` | [`MachineLedger`]: a test tool of raw account machine pairs (signed frames) |
//!
//! Pure and deterministic: no clock, randomness or I/O; exact integers; ties broken by the
//! order of parties and accounts; the planner's work is bounded ([`CANCELLATIONS_MAX`],
//! [`RELAXATIONS_MAX`]) so a hostile graph cannot stall it.

#![warn(missing_docs)]

mod execute;
mod machines;
mod plan;
mod position;
mod report;

pub use execute::{check_steps, cycle_order, execute, Execution, Ledger, StepOutcome};
pub use machines::MachineLedger;
pub use plan::{plan, Plan, Step, Transfer};
pub use position::{debt, Obligation, Position};
pub use report::{Figures, TokenReport};

use crate::account::TokenId;

/// Most cycle cancellations one plan performs; past it the plan stops early (still valid,
/// never worse, marked incomplete).
pub const CANCELLATIONS_MAX: usize = 10_000;

/// Most arc relaxations (Bellman-Ford work units) one plan performs, over all tokens.
pub const RELAXATIONS_MAX: u64 = 50_000_000;

/// Most positions one plan accepts.
pub const POSITIONS_MAX: usize = 100_000;

/// Most transfers one step of a plan handed to [`execute`] may carry.
pub const STEP_TRANSFERS_MAX: usize = 10_000;

/// Why netting input was refused. Planning and execution never panic on input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NettingError {
    /// Two positions for the same account and token.
    #[error("two positions for the same account {account} in token {token}")]
    DuplicatePosition {
        /// The account, as "left-right".
        account: String,
        /// The token.
        token: TokenId,
    },
    /// A position whose figures are inconsistent (negative collateral, Δ outside its own
    /// reachable range, an account of an entity with itself).
    #[error("invalid position of account {account} in token {token}: {reason}")]
    InvalidPosition {
        /// The account, as "left-right".
        account: String,
        /// The token.
        token: TokenId,
        /// What is wrong.
        reason: String,
    },
    /// More positions than [`POSITIONS_MAX`].
    #[error("{count} positions given, at most {max} allowed")]
    TooManyPositions {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A step that is not a netting step: a non-positive amount, a self-payment, too many
    /// transfers, or payments that change some entity's net position.
    #[error("step {step} is not a netting step: {reason}")]
    InvalidStep {
        /// The step's index in the plan.
        step: usize,
        /// What is wrong.
        reason: String,
    },
}
