//! The derived capacity view of one side of an account (DESIGN "Delta"): how much it can
//! send and receive, split into collateral, own credit and peer credit.

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::{Delta, Side};

/// DESIGN's derived view for one side (the right side's view is the mirror: its in is the
/// left's out, its own credit the left's peer credit, and the reverse).
///
/// `delta` is Δ as stored — the LEFT side's balance — in both sides' views; it is never
/// negated. A limit lowered below debt already drawn shows as drawn credit above the limit
/// (`in_own_credit > own_credit_limit`): the credit formulas and `total_capacity` use the
/// larger of each limit and the debt drawn against it, so `out_capacity + out_allowance +
/// in_capacity + in_allowance == total_capacity` whenever no capacity is clamped at zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapacityView {
    /// Whose view this is.
    pub side: Side,
    /// Δ = ondelta + offdelta (left's balance), for both sides.
    pub delta: BigInt,
    /// Collateral locked for the account.
    pub collateral: BigInt,
    /// The credit limit this side may draw (left: left_credit_limit).
    pub own_credit_limit: BigInt,
    /// The credit limit the peer may draw.
    pub peer_credit_limit: BigInt,
    /// The part of the collateral that is this side's.
    pub out_collateral: BigInt,
    /// The part of the collateral that is the peer's.
    pub in_collateral: BigInt,
    /// Debt this side has drawn (receiving repays it).
    pub in_own_credit: BigInt,
    /// Credit this side may still draw.
    pub out_own_credit: BigInt,
    /// Debt the peer has drawn (this side may spend it back).
    pub out_peer_credit: BigInt,
    /// Credit the peer may still draw (this side may receive it).
    pub in_peer_credit: BigInt,
    /// Held by this side's open subcontracts.
    pub out_allowance: BigInt,
    /// Held by the peer's open subcontracts.
    pub in_allowance: BigInt,
    /// What this side can pay now: out collateral + credit − allowance, at least 0.
    pub out_capacity: BigInt,
    /// What this side can receive now, at least 0.
    pub in_capacity: BigInt,
    /// collateral + max(own limit, own drawn debt) + max(peer limit, peer drawn debt).
    pub total_capacity: BigInt,
}

fn non_negative(x: BigInt) -> BigInt {
    if x.is_negative() {
        BigInt::zero()
    } else {
        x
    }
}

/// The capacity view of `delta` for `side`, by DESIGN's formulas (computed for left, then
/// mirrored for right). A pure function; it never fails.
pub fn view(delta: &Delta, side: Side) -> CapacityView {
    let d = delta.delta();
    let c = non_negative(delta.collateral.clone());
    let own_debt = non_negative(-&d);
    let peer_debt = non_negative(&d - &c);
    // "total capacity counts the larger of limit and drawn debt": a limit lowered below
    // drawn debt still covers that debt in every formula below.
    let own_limit = non_negative(delta.left_credit_limit.clone()).max(own_debt.clone());
    let peer_limit = non_negative(delta.right_credit_limit.clone()).max(peer_debt.clone());

    let out_collateral = if d.is_positive() {
        d.clone().min(c.clone())
    } else {
        BigInt::zero()
    };
    let in_collateral = if d.is_positive() {
        non_negative(&c - &d)
    } else {
        c.clone()
    };
    let in_own_credit = own_debt.min(own_limit.clone());
    let out_own_credit = non_negative(&own_limit - &in_own_credit);
    let out_peer_credit = peer_debt.min(peer_limit.clone());
    let in_peer_credit = non_negative(&peer_limit - &out_peer_credit);
    let total_capacity = &c + &own_limit + &peer_limit;

    let left = CapacityView {
        side: Side::Left,
        delta: d,
        collateral: c,
        own_credit_limit: delta.left_credit_limit.clone(),
        peer_credit_limit: delta.right_credit_limit.clone(),
        out_capacity: non_negative(
            &out_peer_credit + &out_collateral + &out_own_credit - &delta.left_allowance,
        ),
        in_capacity: non_negative(
            &in_own_credit + &in_collateral + &in_peer_credit - &delta.right_allowance,
        ),
        out_collateral,
        in_collateral,
        in_own_credit,
        out_own_credit,
        out_peer_credit,
        in_peer_credit,
        out_allowance: delta.left_allowance.clone(),
        in_allowance: delta.right_allowance.clone(),
        total_capacity,
    };
    match side {
        Side::Left => left,
        Side::Right => mirror(left),
    }
}

/// The right side's view from the left's: in and out swap, own and peer credit swap.
fn mirror(l: CapacityView) -> CapacityView {
    CapacityView {
        side: Side::Right,
        delta: l.delta,
        collateral: l.collateral,
        own_credit_limit: l.peer_credit_limit,
        peer_credit_limit: l.own_credit_limit,
        out_collateral: l.in_collateral,
        in_collateral: l.out_collateral,
        in_own_credit: l.out_peer_credit,
        out_own_credit: l.in_peer_credit,
        out_peer_credit: l.in_own_credit,
        in_peer_credit: l.out_own_credit,
        out_allowance: l.in_allowance,
        in_allowance: l.out_allowance,
        out_capacity: l.in_capacity,
        in_capacity: l.out_capacity,
        total_capacity: l.total_capacity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(collateral: i64, d: i64, left_limit: i64, right_limit: i64) -> Delta {
        Delta {
            collateral: collateral.into(),
            ondelta: 0.into(),
            offdelta: d.into(),
            left_credit_limit: left_limit.into(),
            right_credit_limit: right_limit.into(),
            ..Delta::default()
        }
    }

    /// (out_collateral, in_collateral, in_own, out_own, out_peer, in_peer, out_cap, in_cap, total)
    fn figures(v: &CapacityView) -> [i64; 9] {
        [
            &v.out_collateral,
            &v.in_collateral,
            &v.in_own_credit,
            &v.out_own_credit,
            &v.out_peer_credit,
            &v.in_peer_credit,
            &v.out_capacity,
            &v.in_capacity,
            &v.total_capacity,
        ]
        .map(|x| i64::try_from(x).expect("small test figure"))
    }

    #[test]
    fn fresh_collateral_from_the_left_sits_with_the_left() {
        // C = 100 funded by left: ondelta = 100, so Δ = 100 and left owns all of it.
        let d = Delta {
            collateral: 100.into(),
            ondelta: 100.into(),
            ..Delta::default()
        };
        assert_eq!(
            figures(&view(&d, Side::Left)),
            [100, 0, 0, 0, 0, 0, 100, 0, 100]
        );
        assert_eq!(
            figures(&view(&d, Side::Right)),
            [0, 100, 0, 0, 0, 0, 0, 100, 100]
        );
        assert_eq!(
            view(&d, Side::Right).delta,
            BigInt::from(100),
            "Δ is never negated"
        );
    }

    #[test]
    fn collateral_split_and_credit_unused() {
        // C = 100, Δ = 30: left owns 30 of the collateral, right 70.
        // left: out = 30 + own 20 = 50; in = 70 + peer credit 40 = 110; total 160.
        let d = delta(100, 30, 20, 40);
        assert_eq!(
            figures(&view(&d, Side::Left)),
            [30, 70, 0, 20, 0, 40, 50, 110, 160]
        );
        // right mirrors: out_collateral 70, in 30; own credit = right's limit 40 unused.
        assert_eq!(
            figures(&view(&d, Side::Right)),
            [70, 30, 0, 40, 0, 20, 110, 50, 160]
        );
    }

    #[test]
    fn left_in_debt() {
        // Δ = −15 with left's limit 20: left drew 15 of its own credit, 5 left to draw;
        // all of C is right's.
        let d = delta(100, -15, 20, 40);
        assert_eq!(
            figures(&view(&d, Side::Left)),
            [0, 100, 15, 5, 0, 40, 5, 155, 160]
        );
        let r = view(&d, Side::Right);
        assert_eq!(
            r.out_peer_credit,
            BigInt::from(15),
            "left's debt is right's to spend"
        );
        assert_eq!(r.in_peer_credit, BigInt::from(5));
        assert_eq!(r.out_capacity, BigInt::from(155));
    }

    #[test]
    fn right_in_debt_beyond_collateral() {
        // Δ = 130 > C = 100: left owns all collateral and right owes 30 of its 40 limit.
        let d = delta(100, 130, 20, 40);
        assert_eq!(
            figures(&view(&d, Side::Left)),
            [100, 0, 0, 20, 30, 10, 150, 10, 160]
        );
        assert_eq!(
            figures(&view(&d, Side::Right)),
            [0, 100, 30, 10, 0, 20, 10, 150, 160]
        );
    }

    #[test]
    fn pure_credit() {
        let d = delta(0, 0, 50, 70);
        assert_eq!(
            figures(&view(&d, Side::Left)),
            [0, 0, 0, 50, 0, 70, 50, 70, 120]
        );
    }

    #[test]
    fn limit_lowered_below_drawn_debt() {
        // left drew 80, then right lowered left's limit to 50: the view shows debt 80
        // over a limit of 50, no credit left to draw, and total counts the 80.
        let d = delta(0, -80, 50, 0);
        let l = view(&d, Side::Left);
        assert_eq!(figures(&l), [0, 0, 80, 0, 0, 0, 0, 80, 80]);
        assert_eq!(l.own_credit_limit, BigInt::from(50));
        // right can release all 80 of left's debt
        assert_eq!(view(&d, Side::Right).out_capacity, BigInt::from(80));
    }

    #[test]
    fn allowances_reduce_capacity() {
        let mut d = delta(100, 30, 20, 40);
        d.left_allowance = 10.into();
        d.right_allowance = 200.into();
        let l = view(&d, Side::Left);
        assert_eq!(l.out_capacity, BigInt::from(40));
        assert_eq!(l.in_capacity, BigInt::from(0), "clamped at zero");
        assert_eq!(view(&d, Side::Right).out_allowance, BigInt::from(200));
    }
}
