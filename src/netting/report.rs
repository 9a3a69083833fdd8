//! The netting report: per token, how many settlements would reach the chain and how much
//! collateral they would move, before netting and after it.

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::debt;
use crate::account::TokenId;

/// Settlements and collateral moved at one moment (see the module doc for the terms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Accounts with a non-zero obligation in the token.
    pub settlements: usize,
    /// The sum of those obligations.
    pub collateral_moved: BigInt,
}

impl Figures {
    /// The figures of a set of (Δ, collateral) positions.
    pub fn of<'a>(positions: impl IntoIterator<Item = (&'a BigInt, &'a BigInt)>) -> Self {
        let mut figures = Figures::default();
        for (delta, collateral) in positions {
            let owed = debt(delta, collateral);
            if owed.is_positive() {
                figures.settlements += 1;
                figures.collateral_moved += owed;
            }
        }
        figures
    }

    /// Is `self` no worse than `other` in both measures?
    pub fn no_worse_than(&self, other: &Figures) -> bool {
        self.settlements <= other.settlements && self.collateral_moved <= other.collateral_moved
    }
}

/// One token's figures before and after netting, and the plan's size for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenReport {
    /// The token.
    pub token: TokenId,
    /// Without netting.
    pub before: Figures,
    /// After the plan (or the execution) for this token.
    pub after: Figures,
    /// Netting steps (cycles) for this token.
    pub steps: usize,
    /// Payments over all those steps.
    pub transfers: usize,
}

impl TokenReport {
    /// Settlements saved (before − after).
    pub fn settlements_saved(&self) -> usize {
        self.before
            .settlements
            .saturating_sub(self.after.settlements)
    }

    /// Collateral movement saved (before − after, at least 0).
    pub fn collateral_saved(&self) -> BigInt {
        let saved = &self.before.collateral_moved - &self.after.collateral_moved;
        if saved.is_negative() {
            BigInt::zero()
        } else {
            saved
        }
    }
}
