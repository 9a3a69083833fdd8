//! The per-token [`Delta`] of an account (DESIGN "Delta"), the [`Side`]s of an account,
//! the RCPAN bound every transition must respect, and the int256 range check on amounts.

use std::fmt;

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::AccountError;
use crate::crypto::{tagged, Canonical, RlpItem};

/// A token's id within an account (the depository's token index).
pub type TokenId = u64;

/// Amounts are int256: `|x| < 2^AMOUNT_BITS_MAX`. Why: the depository stores them as
/// int256, so anything larger could never be settled on chain.
pub const AMOUNT_BITS_MAX: u64 = 255;

/// One of the two parties of an account. Left is the one with the lower address
/// (bytewise); Δ is the left side's balance.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Side {
    /// The party with the lower address.
    Left,
    /// The party with the higher address.
    Right,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Left => "left",
            Side::Right => "right",
        })
    }
}

/// Canonical encoding: the integer 0 (left) or 1 (right).
impl Canonical for Side {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            Side::Left => 0u64.canonical_rlp(),
            Side::Right => 1u64.canonical_rlp(),
        }
    }
}

/// Per account and token (DESIGN "Delta"). Δ = ondelta + offdelta = the LEFT side's
/// balance: Δ > 0 means value sits with left, a payment from left to right decreases Δ.
/// Bounds: `−left_credit_limit ≤ Δ ≤ collateral + right_credit_limit`, enforced on every
/// transition by [`check_rcpan`] (with the amounts held by open subcontracts counted).
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Delta {
    /// Locked on chain for this account; always >= 0.
    #[serde(with = "crate::crypto::readable")]
    pub collateral: BigInt,
    /// The part of Δ changed only by chain settlement and funding.
    #[serde(with = "crate::crypto::readable")]
    pub ondelta: BigInt,
    /// The part of Δ changed by signed frames.
    #[serde(with = "crate::crypto::readable")]
    pub offdelta: BigInt,
    /// How far left may run into debt; set by right (who bears the risk).
    #[serde(with = "crate::crypto::readable")]
    pub left_credit_limit: BigInt,
    /// How far right may run into debt beyond the collateral; set by left.
    #[serde(with = "crate::crypto::readable")]
    pub right_credit_limit: BigInt,
    /// Held by left's open subcontracts (sum of their holds in this token).
    #[serde(with = "crate::crypto::readable")]
    pub left_allowance: BigInt,
    /// Held by right's open subcontracts.
    #[serde(with = "crate::crypto::readable")]
    pub right_allowance: BigInt,
}

impl Delta {
    /// Δ = ondelta + offdelta: the left side's balance in the account.
    pub fn delta(&self) -> BigInt {
        &self.ondelta + &self.offdelta
    }

    /// The lower bound of Δ: −left_credit_limit.
    pub fn lower_bound(&self) -> BigInt {
        -&self.left_credit_limit
    }

    /// The upper bound of Δ: collateral + right_credit_limit.
    pub fn upper_bound(&self) -> BigInt {
        &self.collateral + &self.right_credit_limit
    }

    /// How far left's worst case (Δ minus what left's subcontracts hold) lies below
    /// −left_credit_limit; zero when within the bound.
    pub fn lower_excess(&self) -> BigInt {
        excess_below(&self.delta() - &self.left_allowance, &self.lower_bound())
    }

    /// How far right's worst case (Δ plus what right's subcontracts hold) lies above
    /// collateral + right_credit_limit; zero when within the bound.
    pub fn upper_excess(&self) -> BigInt {
        excess_below(self.upper_bound(), &(self.delta() + &self.right_allowance))
    }

    /// Checks that every field is within int256.
    ///
    /// # Errors
    /// [`AccountError::AmountOutOfRange`] naming the field and token.
    pub fn check_range(&self, token: TokenId) -> Result<(), AccountError> {
        let fields = [
            ("collateral", &self.collateral),
            ("ondelta", &self.ondelta),
            ("offdelta", &self.offdelta),
            ("left_credit_limit", &self.left_credit_limit),
            ("right_credit_limit", &self.right_credit_limit),
            ("left_allowance", &self.left_allowance),
            ("right_allowance", &self.right_allowance),
            ("Δ", &self.delta()),
        ];
        for (name, value) in fields {
            check_amount(&format!("{name} of token {token}"), value)?;
        }
        Ok(())
    }
}

/// `max(bound − value, 0)`.
fn excess_below(value: BigInt, bound: &BigInt) -> BigInt {
    let gap = bound - value;
    if gap.is_positive() {
        gap
    } else {
        BigInt::zero()
    }
}

/// Checks `|amount| < 2^255`.
///
/// # Errors
/// [`AccountError::AmountOutOfRange`] naming `what`.
pub fn check_amount(what: &str, amount: &BigInt) -> Result<(), AccountError> {
    if amount.magnitude().bits() <= AMOUNT_BITS_MAX {
        Ok(())
    } else {
        Err(AccountError::AmountOutOfRange {
            what: what.to_string(),
            amount: amount.clone(),
        })
    }
}

/// The RCPAN rule for one token's transition `before → after`: Δ (counting what open
/// subcontracts hold, since that value is promised) may not move further outside
/// `[−left_credit_limit, collateral + right_credit_limit]` than it was. Both states are
/// measured against `after`'s bounds, so lowering a limit below debt already drawn is
/// allowed (it blocks new debt, it does not erase the old), while a payment that deepens
/// such debt is not.
///
/// # Errors
/// [`AccountError::RcpanViolation`] naming the token, whose bound and by how much.
pub fn check_rcpan(token: TokenId, before: &Delta, after: &Delta) -> Result<(), AccountError> {
    let before_in_after_bounds = Delta {
        collateral: after.collateral.clone(),
        left_credit_limit: after.left_credit_limit.clone(),
        right_credit_limit: after.right_credit_limit.clone(),
        ..before.clone()
    };
    let lower = (before_in_after_bounds.lower_excess(), after.lower_excess());
    if lower.1 > lower.0 {
        return Err(AccountError::RcpanViolation {
            token,
            side: Side::Left,
            bound: after.lower_bound(),
            excess_before: lower.0,
            excess_after: lower.1,
        });
    }
    let upper = (before_in_after_bounds.upper_excess(), after.upper_excess());
    if upper.1 > upper.0 {
        return Err(AccountError::RcpanViolation {
            token,
            side: Side::Right,
            bound: after.upper_bound(),
            excess_before: upper.0,
            excess_after: upper.1,
        });
    }
    Ok(())
}

/// Canonical encoding: `tagged("xln/delta/v1", [collateral, ondelta, offdelta,
/// left_credit_limit, right_credit_limit, left_allowance, right_allowance])`.
impl Canonical for Delta {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/delta/v1",
            vec![
                self.collateral.canonical_rlp(),
                self.ondelta.canonical_rlp(),
                self.offdelta.canonical_rlp(),
                self.left_credit_limit.canonical_rlp(),
                self.right_credit_limit.canonical_rlp(),
                self.left_allowance.canonical_rlp(),
                self.right_allowance.canonical_rlp(),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(collateral: i64, delta: i64, left_limit: i64, right_limit: i64) -> Delta {
        Delta {
            collateral: collateral.into(),
            offdelta: delta.into(),
            left_credit_limit: left_limit.into(),
            right_credit_limit: right_limit.into(),
            ..Delta::default()
        }
    }

    #[test]
    fn range_is_int256() {
        let max = (BigInt::from(1) << 255) - 1;
        assert!(check_amount("x", &max).is_ok());
        assert!(check_amount("x", &-max.clone()).is_ok());
        assert!(check_amount("x", &(max.clone() + 1)).is_err());
        assert!(check_amount("x", &-(max + BigInt::from(1))).is_err());
    }

    #[test]
    fn lowering_a_limit_below_debt_is_allowed_but_deepening_it_is_not() {
        let before = d(0, -80, 100, 0);
        let lowered = d(0, -80, 50, 0);
        assert!(check_rcpan(1, &before, &lowered).is_ok());
        // repaying part of the debt moves Δ towards the bound: allowed
        assert!(check_rcpan(1, &lowered, &d(0, -70, 50, 0)).is_ok());
        // drawing more is not
        let err = check_rcpan(1, &lowered, &d(0, -81, 50, 0)).unwrap_err();
        assert!(matches!(
            err,
            AccountError::RcpanViolation {
                side: Side::Left,
                ..
            }
        ));
        assert!(err.to_string().contains("token 1"), "{err}");
    }

    #[test]
    fn held_amounts_count_against_the_bound() {
        let mut held = d(10, 0, 0, 0);
        held.right_allowance = 10.into();
        let mut over = held.clone();
        over.offdelta = 1.into();
        assert!(matches!(
            check_rcpan(7, &held, &over),
            Err(AccountError::RcpanViolation {
                side: Side::Right,
                ..
            })
        ));
    }
}

crate::plain_readable!(Delta, Side);
