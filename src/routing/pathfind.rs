//! Fee-only pathfinding: [`find_routes`] returns up to N cheapest routes for an amount,
//! found by the backward search of `search.rs` with no liquidity penalty, and Yen's
//! algorithm for the 2nd..Nth routes. Deterministic: the same graph and request give the
//! same routes. Success-aware routes and split payments are in `plan.rs`.
//!
//! The backward search labels each node with the amount that must arrive there so the
//! receiver gets `amount` (downstream fees included) and only relaxes edges that can carry
//! that amount. Since fees never decrease with the amount, the smallest label is also the
//! cheapest route from that node (up to htlc_min effects, as in every Lightning router).
//! Every pop counts against [`SearchLimits::max_pops`], shared by all searches of one
//! request.

use std::collections::BTreeSet;

use super::graph::{ChannelGraph, EdgeId, NodeId};
use super::route::Route;
use super::search::{Bounds, Query, Search, Searcher};
use super::RoutingError;

pub use super::limits::SearchLimits;

/// The cheapest route delivering `amount` from `from` to `to`, with default limits.
/// Fails like [`find_routes_with_limits`].
pub fn find_route(
    graph: &ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
) -> Result<Route, RoutingError> {
    find_routes(graph, from, to, amount, 1)?
        .into_iter()
        .next()
        .ok_or(RoutingError::NoRoute { from, to, amount })
}

/// Up to `n` distinct loop-free routes delivering `amount` from `from` to `to`, cheapest
/// first, with [`SearchLimits::fee_only`] (pops and hops only, as this function always had).
/// Fails like [`find_routes_with_limits`].
///
/// ```
/// use xln::routing::{find_routes, ChannelGraph, Edge};
/// // 0 → 1 → 2, where node 1 charges 1 + 1% to forward
/// let hop = Edge { fee_base: 1, fee_ppm: 10_000, ..Edge::new(1, 1, 2, 1_000) };
/// let graph = ChannelGraph::new(3, vec![Edge::new(0, 0, 1, 1_000), hop]).unwrap();
/// let routes = find_routes(&graph, 0, 2, 500, 3).unwrap();
/// assert_eq!(routes.len(), 1);
/// assert_eq!((routes[0].total_fee, routes[0].amount_sent), (6, 506));
/// ```
pub fn find_routes(
    graph: &ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
    n: usize,
) -> Result<Vec<Route>, RoutingError> {
    find_routes_with_limits(graph, from, to, amount, n, &SearchLimits::fee_only())
}

/// Up to `n` distinct loop-free routes delivering `amount` from `from` to `to`, sorted by
/// [`Route::rank_cmp`] (total fee, then hops, then node ids). The best route comes from the
/// backward Dijkstra; the others from Yen's algorithm (each spur search reuses it). Every
/// route keeps `limits` (hops, total timeout, fee caps, saturation of non-sender edges);
/// `max_parts` does not apply (these are alternatives, not parts).
///
/// Fails with `UnknownNode`, `SenderIsReceiver` or `ZeroAmount` for a bad request;
/// `AmountTooLarge` if no edge into `to` accepts `amount`; `LimitExceeded` naming the
/// limit if routes exist but none keeps the limits; `NoRoute` if nothing can carry it;
/// `Overflow` if the only candidates needed fees beyond 128 bits; `SearchBudgetExhausted`
/// if `limits.max_pops` ran out before the first route. If the budget runs out later, the
/// routes found so far are returned (a partial answer, still sorted).
pub fn find_routes_with_limits(
    graph: &ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
    n: usize,
    limits: &SearchLimits,
) -> Result<Vec<Route>, RoutingError> {
    check_request(graph, from, to, amount)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let query = Query {
        amount,
        bounds: bounds_for(limits, amount),
        view: None,
    };
    let mut searcher = Searcher::new(graph, from, to, limits.max_pops);
    let first = match searcher.search(&query, from, limits.max_hops) {
        Search::Found(path) => path,
        Search::NotFound if searcher.overflowed => {
            return Err(RoutingError::Overflow {
                what: "amount plus fees on every candidate route",
            })
        }
        Search::NotFound => return Err(diagnose(graph, from, to, amount, limits)),
        Search::Exhausted => {
            return Err(RoutingError::SearchBudgetExhausted {
                max_pops: limits.max_pops,
            })
        }
    };
    let best = Route::from_path(graph, &first, amount)?;
    let keeps = |r: &Route| limits.check_alone(graph, r, amount).is_none();
    if !keeps(&best) {
        return Err(diagnose(graph, from, to, amount, limits));
    }
    let mut routes = yen(&mut searcher, &query, best, n, limits.max_hops, keeps);
    routes.sort_by(Route::rank_cmp);
    Ok(routes)
}

/// The bounds one search enforces for `amount` under `limits`.
pub(crate) fn bounds_for(limits: &SearchLimits, amount: u128) -> Bounds {
    Bounds {
        fee_cap: limits.fee_cap(amount),
        // A final delta beyond the total leaves no route: a budget no hop can meet is
        // still enforced by the route check, so use 0 here.
        timeout_budget: limits.forwarding_timeout_budget().unwrap_or(0),
        saturation_ppm: limits.max_channel_saturation_ppm,
    }
}

/// Why a search within `limits` found nothing: if a search without any limit (hops,
/// timeout, fees, saturation) finds a route, the first limit that route breaks is named
/// (`LimitExceeded`, with what the route needs); otherwise `NoRoute`.
pub(crate) fn diagnose(
    graph: &ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
    limits: &SearchLimits,
) -> RoutingError {
    let query = Query {
        amount,
        bounds: Bounds::NONE,
        view: None,
    };
    let mut searcher = Searcher::new(graph, from, to, limits.max_pops);
    let relaxed = match searcher.search(&query, from, usize::MAX) {
        Search::Found(path) => Route::from_path(graph, &path, amount).ok(),
        Search::NotFound | Search::Exhausted => None,
    };
    let bound = relaxed
        .as_ref()
        .and_then(|r| limits.check_alone(graph, r, amount).map(|b| (b, r)));
    match bound {
        Some((bound, route)) => RoutingError::LimitExceeded {
            from,
            to,
            amount,
            bound,
            found_hops: route.hops.len(),
            found_fee: route.total_fee,
            found_timeout_blocks: route.timeout_blocks,
        },
        None => RoutingError::NoRoute { from, to, amount },
    }
}

/// Rejects requests no search can answer, with the most specific error.
fn check_request(
    graph: &ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
) -> Result<(), RoutingError> {
    let node_count = graph.node_count();
    for node in [from, to] {
        if node as usize >= node_count {
            return Err(RoutingError::UnknownNode { node, node_count });
        }
    }
    if from == to {
        return Err(RoutingError::SenderIsReceiver { node: from });
    }
    if amount == 0 {
        return Err(RoutingError::ZeroAmount);
    }
    let max_inbound = graph
        .inbound(to)
        .iter()
        .filter_map(|&id| graph.edge(id))
        .map(|e| e.max_carry())
        .max()
        .unwrap_or(0);
    match max_inbound {
        0 => Err(RoutingError::NoRoute { from, to, amount }),
        max if amount > max => Err(RoutingError::AmountTooLarge {
            amount,
            to,
            max_inbound: max,
        }),
        _ => Ok(()),
    }
}

/// Yen's k-shortest loop-free paths, on top of the backward search. `routes[0]` is the best
/// route; each later route deviates from an accepted one at a spur node, avoiding the edges
/// accepted routes take there and the root path's nodes. Candidates whose root part cannot
/// carry the larger amount the new spur needs are dropped (fees grow upstream).
fn yen(
    searcher: &mut Searcher<'_>,
    query: &Query<'_>,
    best: Route,
    n: usize,
    max_hops: usize,
    keeps_limits: impl Fn(&Route) -> bool,
) -> Vec<Route> {
    let graph = searcher.graph;
    let amount = query.amount;
    let mut seen: BTreeSet<Vec<EdgeId>> = BTreeSet::from([best.edges()]);
    let mut accepted = vec![best];
    let mut candidates: Vec<Route> = Vec::new();
    'routes: while accepted.len() < n {
        let (prev_edges, prev_nodes) = match accepted.last() {
            Some(r) => (r.edges(), r.nodes()),
            None => break,
        };
        for spur_index in 0..prev_edges.len() {
            let root = &prev_edges[..spur_index];
            for r in &accepted {
                let edges = r.edges();
                if edges.len() > spur_index && &edges[..spur_index] == root {
                    searcher.ban_edge(edges[spur_index]);
                }
            }
            for &node in &prev_nodes[..spur_index] {
                searcher.ban_node(node);
            }
            let spur_hops = max_hops.saturating_sub(spur_index);
            let outcome = searcher.search(query, prev_nodes[spur_index], spur_hops);
            searcher.clear_bans();
            match outcome {
                Search::Found(spur) => {
                    let path: Vec<EdgeId> = root.iter().copied().chain(spur).collect();
                    if seen.insert(path.clone()) {
                        match Route::from_path(graph, &path, amount) {
                            Ok(route) if keeps_limits(&route) => candidates.push(route),
                            _ => {}
                        }
                    }
                }
                Search::NotFound => {}
                Search::Exhausted => break 'routes,
            }
        }
        match (0..candidates.len()).min_by(|&a, &b| candidates[a].rank_cmp(&candidates[b])) {
            Some(i) => accepted.push(candidates.swap_remove(i)),
            None => break,
        }
    }
    // Out of budget: what is left in the pool are still valid routes; offer the best.
    candidates.sort_by(Route::rank_cmp);
    let missing = n.saturating_sub(accepted.len());
    accepted.extend(candidates.into_iter().take(missing));
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::graph::Edge;

    fn fee(e: Edge, base: u128, ppm: u32) -> Edge {
        Edge {
            fee_base: base,
            fee_ppm: ppm,
            ..e
        }
    }

    /// 0 → 1 → 3 (node 1 charges 5) and 0 → 2 → 3 (node 2 charges 2), plus a direct but
    /// small edge 0 → 3.
    fn diamond() -> ChannelGraph {
        ChannelGraph::new(
            4,
            vec![
                Edge::new(0, 0, 1, 1_000),
                fee(Edge::new(1, 1, 3, 1_000), 5, 0),
                Edge::new(2, 0, 2, 1_000),
                fee(Edge::new(3, 2, 3, 1_000), 2, 0),
                Edge::new(4, 0, 3, 50),
            ],
        )
        .unwrap()
    }

    #[test]
    fn cheapest_first_and_direct_edge_is_free() {
        let g = diamond();
        let routes = find_routes(&g, 0, 3, 40, 5).unwrap();
        let paths: Vec<_> = routes.iter().map(Route::edges).collect();
        assert_eq!(paths, vec![vec![4], vec![2, 3], vec![0, 1]]);
        assert_eq!(
            routes.iter().map(|r| r.total_fee).collect::<Vec<_>>(),
            vec![0, 2, 5]
        );
        // too much for the direct edge: only the two-hop routes remain
        let routes = find_routes(&g, 0, 3, 100, 5).unwrap();
        assert_eq!(
            routes.iter().map(Route::edges).collect::<Vec<_>>(),
            vec![vec![2, 3], vec![0, 1]]
        );
    }

    #[test]
    fn request_errors_are_specific() {
        let g = diamond();
        assert_eq!(
            find_routes(&g, 0, 9, 1, 1),
            Err(RoutingError::UnknownNode {
                node: 9,
                node_count: 4
            })
        );
        assert_eq!(
            find_routes(&g, 2, 2, 1, 1),
            Err(RoutingError::SenderIsReceiver { node: 2 })
        );
        assert_eq!(find_routes(&g, 0, 3, 0, 1), Err(RoutingError::ZeroAmount));
        assert_eq!(
            find_routes(&g, 0, 3, 2_000, 1),
            Err(RoutingError::AmountTooLarge {
                amount: 2_000,
                to: 3,
                max_inbound: 1_000
            })
        );
        assert_eq!(
            find_routes(&g, 3, 0, 1, 1),
            Err(RoutingError::NoRoute {
                from: 3,
                to: 0,
                amount: 1
            })
        );
        // 999 + 5 or 999 + 2 exceeds the 1_000 first hops: nothing carries it
        assert_eq!(
            find_routes(&g, 0, 3, 999, 1),
            Err(RoutingError::NoRoute {
                from: 0,
                to: 3,
                amount: 999
            })
        );
        assert_eq!(find_routes(&g, 0, 3, 10, 0), Ok(vec![]));
    }

    #[test]
    fn budget_bounds_a_long_chain() {
        let n = 10_000u32;
        let edges = (0..n - 1).map(|i| Edge::new(i, i, i + 1, 10)).collect();
        let g = ChannelGraph::new(n as usize, edges).unwrap();
        let limits = SearchLimits {
            max_pops: 100,
            max_hops: usize::MAX,
            ..SearchLimits::fee_only()
        };
        assert_eq!(
            find_routes_with_limits(&g, 0, n - 1, 1, 1, &limits),
            Err(RoutingError::SearchBudgetExhausted { max_pops: 100 })
        );
        // and the default hop limit rules the chain out, by name
        assert!(matches!(
            find_routes(&g, 0, n - 1, 1, 1),
            Err(RoutingError::LimitExceeded {
                bound: crate::routing::LimitBound::Hops { max: 20 },
                found_hops: 9_999,
                ..
            })
        ));
        assert_eq!(find_route(&g, 0, 20, 1).map(|r| r.hops.len()), Ok(20));
    }

    #[test]
    fn overflowing_fees_are_reported_not_wrapped() {
        let g = ChannelGraph::new(
            3,
            vec![
                Edge::new(0, 0, 1, u128::MAX),
                fee(Edge::new(1, 1, 2, u128::MAX), u128::MAX, 0),
            ],
        )
        .unwrap();
        assert!(matches!(
            find_routes(&g, 0, 2, 10, 1),
            Err(RoutingError::Overflow { .. })
        ));
    }
}
