//! [`Position`] (one account in one token, as netting sees it), the [`Obligation`] it
//! implies beyond collateral, and [`debt`], the amount a settlement would move.

use std::fmt::Debug;

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::NettingError;
use crate::account::{view, Delta, Side, TokenId};

/// One account's state in one token: Δ, collateral and the range payments can move Δ in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position<P> {
    /// The left party (lower address).
    pub left: P,
    /// The right party.
    pub right: P,
    /// The token.
    pub token: TokenId,
    /// Δ = ondelta + offdelta: the left's balance.
    pub delta: BigInt,
    /// Collateral locked for the account (>= 0).
    pub collateral: BigInt,
    /// The lowest Δ the left can pay down to: Δ − left's out-capacity.
    pub lower: BigInt,
    /// The highest Δ the right can pay up to: Δ + right's out-capacity.
    pub upper: BigInt,
}

/// Who owes whom how much beyond collateral in one account and token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obligation<P> {
    /// The party that owes.
    pub debtor: P,
    /// The party owed.
    pub creditor: P,
    /// The token.
    pub token: TokenId,
    /// The amount owed (> 0).
    pub amount: BigInt,
}

/// The amount beyond collateral at balance `delta`: `−Δ` if Δ < 0, `Δ − C` if Δ > C, else 0.
/// Convex and piecewise linear in Δ (slopes −1, 0, +1), which is what lets the planner
/// treat netting as a min-cost circulation.
pub fn debt(delta: &BigInt, collateral: &BigInt) -> BigInt {
    if delta.is_negative() {
        -delta
    } else if delta > collateral {
        delta - collateral
    } else {
        BigInt::zero()
    }
}

impl<P: Clone + Ord + Debug> Position<P> {
    /// The position of an account's `delta` in `token`, its range taken from both sides'
    /// capacity views (so credit limits, collateral and held allowances all count).
    pub fn from_delta(left: P, right: P, token: TokenId, delta: &Delta) -> Self {
        let d = delta.delta();
        let lower = &d - view(delta, Side::Left).out_capacity;
        let upper = &d + view(delta, Side::Right).out_capacity;
        Position {
            left,
            right,
            token,
            delta: d,
            collateral: delta.collateral.clone(),
            lower,
            upper,
        }
    }

    /// The amount a settlement of this position would move (see [`debt`]).
    pub fn debt(&self) -> BigInt {
        debt(&self.delta, &self.collateral)
    }

    /// The obligation beyond collateral, if any.
    pub fn obligation(&self) -> Option<Obligation<P>> {
        let amount = self.debt();
        if amount.is_zero() {
            return None;
        }
        let (debtor, creditor) = if self.delta.is_negative() {
            (self.left.clone(), self.right.clone())
        } else {
            (self.right.clone(), self.left.clone())
        };
        Some(Obligation {
            debtor,
            creditor,
            token: self.token,
            amount,
        })
    }

    /// Checks the figures are consistent: two different parties, collateral >= 0,
    /// `lower <= Δ <= upper`.
    ///
    /// # Errors
    /// [`NettingError::InvalidPosition`] naming what is wrong.
    pub fn check(&self) -> Result<(), NettingError> {
        let reason = if self.left == self.right {
            Some("an account needs two different parties".to_string())
        } else if self.collateral.is_negative() {
            Some(format!("collateral {} is negative", self.collateral))
        } else if self.lower > self.delta || self.delta > self.upper {
            Some(format!(
                "Δ {} lies outside its reachable range [{}, {}]",
                self.delta, self.lower, self.upper
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(NettingError::InvalidPosition {
                account: self.account_name(),
                token: self.token,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// "left-right", for messages.
    pub(super) fn account_name(&self) -> String {
        format!("{:?}-{:?}", self.left, self.right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obligations_follow_the_dispute_split() {
        let p = |delta: i64, collateral: i64| Position {
            left: 1,
            right: 2,
            token: 1,
            delta: delta.into(),
            collateral: collateral.into(),
            lower: (-1000).into(),
            upper: 1000.into(),
        };
        assert_eq!(p(50, 100).obligation(), None);
        let left_owes = p(-30, 100).obligation().unwrap();
        assert_eq!((left_owes.debtor, left_owes.amount), (1, 30.into()));
        let right_owes = p(130, 100).obligation().unwrap();
        assert_eq!((right_owes.debtor, right_owes.amount), (2, 30.into()));
    }

    #[test]
    fn range_comes_from_both_capacity_views() {
        let delta = Delta {
            collateral: 100.into(),
            offdelta: 40.into(),
            left_credit_limit: 10.into(),
            right_credit_limit: 5.into(),
            ..Delta::default()
        };
        let p = Position::from_delta(1, 2, 1, &delta);
        assert_eq!((&p.lower, &p.upper), (&(-10).into(), &105.into()));
        assert!(p.check().is_ok());
    }
}
