//! What a [`Route`] is and how its numbers follow from a path: exact integer fees per hop
//! ([`hop_fee`]), the amount every hop carries, the ranking order, and the success estimate.
//!
//! Fee model (as in Lightning): the node forwarding onto an edge charges that edge's fee on
//! the amount the edge carries; the sender does not pay itself, so the first hop's fee is 0.
//! Walking back from the receiver, each hop carries the next hop's amount plus its fee.

use std::cmp::Ordering;

use super::graph::{ChannelGraph, EdgeId, NodeId};
use super::RoutingError;

/// Denominator of proportional fees: `fee_ppm` is in millionths.
pub const PPM_DENOMINATOR: u128 = 1_000_000;

/// Fee to forward `amount`: `fee_base + ceil(amount × fee_ppm / 1,000,000)`, exact. Rounding
/// up means a forwarder never receives less than it asked for. Fails with `Overflow` only if
/// the true fee does not fit in 128 bits (the product is split so it never overflows early).
pub fn hop_fee(amount: u128, fee_base: u128, fee_ppm: u32) -> Result<u128, RoutingError> {
    let ppm = u128::from(fee_ppm);
    // Fast path (every realistic amount): the product fits in 64 bits, divide there.
    if let Ok(product) = u64::try_from(amount.saturating_mul(ppm)) {
        let proportional = u128::from(product.div_ceil(PPM_DENOMINATOR as u64));
        return fee_base
            .checked_add(proportional)
            .ok_or(RoutingError::Overflow { what: "hop fee" });
    }
    let (whole, rest) = (amount / PPM_DENOMINATOR, amount % PPM_DENOMINATOR);
    // rest × ppm < 10^6 × 2^32, no overflow; whole × ppm is the part that may overflow.
    whole
        .checked_mul(ppm)
        .and_then(|p| p.checked_add((rest * ppm).div_ceil(PPM_DENOMINATOR)))
        .and_then(|p| p.checked_add(fee_base))
        .ok_or(RoutingError::Overflow { what: "hop fee" })
}

/// One hop of a route: `from` forwards `amount_to_forward` over `edge` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The edge used (distinguishes parallel channels).
    pub edge: EdgeId,
    /// Forwarding node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Amount crossing this edge: what `to` receives.
    pub amount_to_forward: u128,
    /// Fee `from` keeps for forwarding this hop (0 on the first hop: the sender's own).
    pub fee: u128,
}

/// A payment path with its exact amounts. Invariants (checked by [`Route::from_path`]):
/// `amount_sent = amount received + total_fee`, `total_fee = Σ hop.fee`, and each hop's
/// amount equals the next hop's amount plus the next hop's fee.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Hops from sender to receiver.
    pub hops: Vec<Hop>,
    /// Sum of all hop fees: the cost of the route.
    pub total_fee: u128,
    /// What the sender puts on the first hop.
    pub amount_sent: u128,
    /// Blocks of timelock the forwarding nodes ask for: the sum of every hop's
    /// `cltv_expiry_delta` but the first (the sender's own edge), saturating. The receiver's
    /// final delta is not included (see [`SearchLimits`](super::SearchLimits)).
    pub timeout_blocks: u32,
    /// Estimated chance the payment gets through: Π exp(−2 × amount / capacity) over the
    /// hops. An estimate for choosing among routes and retries (real balances are private),
    /// not money: the one float in routing, never hashed, never used by [`Route::rank_cmp`],
    /// never fed back into amounts.
    pub success_probability: f64,
}

impl Route {
    /// Computes the route that delivers `amount` along `path` (edge ids, sender first),
    /// checking every hop. Fails with `BrokenPath` if the path is empty, names a missing
    /// edge, is not contiguous or visits a node twice; `EdgeCannotCarry` if a hop's amount
    /// breaks its edge's capacity, htlc bounds or enabled flag; `Overflow` if amounts
    /// exceed 128 bits. Use it to re-check a stored route after the graph changed.
    pub fn from_path(
        graph: &ChannelGraph,
        path: &[EdgeId],
        amount: u128,
    ) -> Result<Route, RoutingError> {
        let edges = check_path_shape(graph, path)?;
        let mut hops = Vec::with_capacity(path.len());
        let mut carried = amount;
        let mut utilisation = 0.0f64;
        let mut timeout_blocks = 0u32;
        for (index, (&id, edge)) in path.iter().zip(&edges).enumerate().rev() {
            if let Some(bound) = edge.refusal(carried) {
                return Err(RoutingError::EdgeCannotCarry {
                    edge: id,
                    amount: carried,
                    bound,
                });
            }
            utilisation += carried as f64 / edge.capacity as f64;
            let fee = if index == 0 { 0 } else { edge.fee(carried)? };
            if index > 0 {
                timeout_blocks = timeout_blocks.saturating_add(edge.cltv_expiry_delta);
            }
            hops.push(Hop {
                edge: id,
                from: edge.from,
                to: edge.to,
                amount_to_forward: carried,
                fee,
            });
            carried = carried.checked_add(fee).ok_or(RoutingError::Overflow {
                what: "amount plus downstream fees",
            })?;
        }
        hops.reverse();
        Ok(Route {
            hops,
            total_fee: carried - amount,
            amount_sent: carried,
            timeout_blocks,
            success_probability: (-2.0 * utilisation).exp(),
        })
    }

    /// What the receiver gets (the last hop's amount; 0 for an empty route).
    pub fn amount_received(&self) -> u128 {
        self.hops.last().map_or(0, |h| h.amount_to_forward)
    }

    /// The nodes visited, sender first, receiver last.
    pub fn nodes(&self) -> Vec<NodeId> {
        let first = self.hops.first().map(|h| h.from);
        first
            .into_iter()
            .chain(self.hops.iter().map(|h| h.to))
            .collect()
    }

    /// The edge ids, sender first.
    pub fn edges(&self) -> Vec<EdgeId> {
        self.hops.iter().map(|h| h.edge).collect()
    }

    /// The ranking order: cheaper first (total fee), then fewer hops, then the node ids and
    /// finally the edge ids, lexicographically. Total, so rankings are deterministic.
    pub fn rank_cmp(&self, other: &Route) -> Ordering {
        self.total_fee
            .cmp(&other.total_fee)
            .then(self.hops.len().cmp(&other.hops.len()))
            .then_with(|| self.nodes().cmp(&other.nodes()))
            .then_with(|| self.edges().cmp(&other.edges()))
    }
}

/// The edges of `path` if it is a non-empty, contiguous, loop-free chain of existing edges.
fn check_path_shape<'g>(
    graph: &'g ChannelGraph,
    path: &[EdgeId],
) -> Result<Vec<&'g super::graph::Edge>, RoutingError> {
    let broken = |index, reason| RoutingError::BrokenPath { index, reason };
    if path.is_empty() {
        return Err(broken(0, "the path has no edges"));
    }
    let mut edges = Vec::with_capacity(path.len());
    let mut visited = std::collections::BTreeSet::new();
    for (index, &id) in path.iter().enumerate() {
        let edge = graph
            .edge(id)
            .ok_or(broken(index, "the edge id is not in the graph"))?;
        if index == 0 {
            visited.insert(edge.from);
        } else if edges
            .last()
            .is_some_and(|p: &&super::graph::Edge| p.to != edge.from)
        {
            return Err(broken(
                index,
                "the edge does not start where the previous one ends",
            ));
        }
        if !visited.insert(edge.to) {
            return Err(broken(index, "the path visits a node twice"));
        }
        edges.push(edge);
    }
    Ok(edges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::graph::Edge;

    #[test]
    fn fee_rounds_up_and_reports_overflow() {
        assert_eq!(hop_fee(1_000_000, 1, 1), Ok(2));
        assert_eq!(hop_fee(1, 0, 1), Ok(1)); // 0.000001 rounds up to 1
        assert_eq!(hop_fee(0, 5, 1_000), Ok(5));
        assert_eq!(hop_fee(999_999, 0, 1), Ok(1));
        assert_eq!(hop_fee(2_000_001, 0, 500_000), Ok(1_000_001));
        // near the top: exact when it fits, an error when it does not
        assert_eq!(hop_fee(u128::MAX, 0, 1_000_000), Ok(u128::MAX));
        assert!(hop_fee(u128::MAX, 1, 1_000_000).is_err());
        assert!(hop_fee(u128::MAX, 0, u32::MAX).is_err());
    }

    fn line() -> ChannelGraph {
        let fee = |e: Edge, base, ppm| Edge {
            fee_base: base,
            fee_ppm: ppm,
            ..e
        };
        ChannelGraph::new(
            4,
            vec![
                fee(Edge::new(0, 0, 1, 10_000), 7, 0),
                fee(Edge::new(1, 1, 2, 10_000), 10, 1_000),
                fee(Edge::new(2, 2, 3, 10_000), 1, 10_000),
            ],
        )
        .unwrap()
    }

    #[test]
    fn amounts_accumulate_backward_and_sender_pays_itself_nothing() {
        let r = Route::from_path(&line(), &[0, 1, 2], 1_000).unwrap();
        // hop 2 (2->3): fee 1 + 10 = 11 charged by node 2; hop 1 carries 1_011
        // hop 1 (1->2): fee 10 + ceil(1011 * 1000 / 1e6) = 12; hop 0 carries 1_023
        let amounts: Vec<_> = r
            .hops
            .iter()
            .map(|h| (h.amount_to_forward, h.fee))
            .collect();
        assert_eq!(amounts, vec![(1_023, 0), (1_011, 12), (1_000, 11)]);
        assert_eq!((r.total_fee, r.amount_sent), (23, 1_023));
        assert_eq!(r.nodes(), vec![0, 1, 2, 3]);
        let expected = (-2.0 * (1023.0 + 1011.0 + 1000.0) / 10_000.0f64).exp();
        assert!((r.success_probability - expected).abs() < 1e-12);
    }

    #[test]
    fn bad_paths_are_named() {
        let g = line();
        let broken = |p: &[EdgeId]| match Route::from_path(&g, p, 1) {
            Err(RoutingError::BrokenPath { index, .. }) => Some(index),
            _ => None,
        };
        assert_eq!(broken(&[]), Some(0));
        assert_eq!(broken(&[0, 2]), Some(1));
        assert_eq!(broken(&[0, 9]), Some(1));
        assert_eq!(
            Route::from_path(&g, &[0, 1, 2], 10_000),
            Err(RoutingError::EdgeCannotCarry {
                edge: 1,
                amount: 10_101,
                bound: crate::routing::CarryBound::Capacity
            })
        );
    }
}
