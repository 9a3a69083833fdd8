//! Pathfinding: [`find_routes`] returns up to N cheapest routes for an amount, found by a
//! bounded Dijkstra that searches backward from the receiver, and Yen's algorithm for the
//! 2nd..Nth routes. Deterministic: the same graph and request give the same routes.
//!
//! The backward search labels each node with the amount that must arrive there so the
//! receiver gets `amount` (downstream fees included) and only relaxes edges that can carry
//! that amount. Since fees never decrease with the amount, the smallest label is also the
//! cheapest route from that node (up to htlc_min effects, as in every Lightning router).
//! Queue ties break by hop count, then node id. Every pop counts against
//! [`SearchLimits::max_pops`], shared by all searches of one request.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::graph::{ChannelGraph, EdgeId, NodeId};
use super::route::Route;
use super::RoutingError;

/// Bounds on the work of one [`find_routes_with_limits`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchLimits {
    /// Queue pops allowed over all searches of one request; bounds time on hostile graphs.
    pub max_pops: usize,
    /// Longest route, in hops.
    pub max_hops: usize,
}

impl SearchLimits {
    /// Default pop budget: about 15 full searches of the 17k-node Lightning graph.
    pub const DEFAULT_MAX_POPS: usize = 1_000_000;
    /// Default hop limit: Lightning's onion holds at most 20 hops.
    pub const DEFAULT_MAX_HOPS: usize = 20;
}

impl Default for SearchLimits {
    fn default() -> SearchLimits {
        SearchLimits {
            max_pops: Self::DEFAULT_MAX_POPS,
            max_hops: Self::DEFAULT_MAX_HOPS,
        }
    }
}

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
/// first, with default [`SearchLimits`]. Fails like [`find_routes_with_limits`].
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
    find_routes_with_limits(graph, from, to, amount, n, &SearchLimits::default())
}

/// Up to `n` distinct loop-free routes delivering `amount` from `from` to `to`, sorted by
/// [`Route::rank_cmp`] (total fee, then hops, then node ids). The best route comes from the
/// backward Dijkstra; the others from Yen's algorithm (each spur search reuses it).
///
/// Fails with `UnknownNode`, `SenderIsReceiver` or `ZeroAmount` for a bad request;
/// `AmountTooLarge` if no edge into `to` accepts `amount`; `NoRoute` if nothing can carry
/// it; `Overflow` if the only candidates needed fees beyond 128 bits;
/// `SearchBudgetExhausted` if `limits.max_pops` ran out before the first route. If the budget
/// runs out later, the routes found so far are returned (a partial answer, still sorted).
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
    let mut searcher = Searcher::new(graph, to, amount, limits);
    let first = match searcher.search(from, true, limits.max_hops) {
        Search::Found(path) => path,
        Search::NotFound if searcher.overflowed => {
            return Err(RoutingError::Overflow {
                what: "amount plus fees on every candidate route",
            })
        }
        Search::NotFound => return Err(RoutingError::NoRoute { from, to, amount }),
        Search::Exhausted => {
            return Err(RoutingError::SearchBudgetExhausted {
                max_pops: limits.max_pops,
            })
        }
    };
    let best = Route::from_path(graph, &first, amount)?;
    let mut routes = yen(&mut searcher, best, n, limits.max_hops);
    routes.sort_by(Route::rank_cmp);
    Ok(routes)
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
fn yen(searcher: &mut Searcher<'_>, best: Route, n: usize, max_hops: usize) -> Vec<Route> {
    let graph = searcher.graph;
    let amount = searcher.amount;
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
            let outcome = searcher.search(prev_nodes[spur_index], spur_index == 0, spur_hops);
            searcher.clear_bans();
            match outcome {
                Search::Found(spur) => {
                    let path: Vec<EdgeId> = root.iter().copied().chain(spur).collect();
                    if seen.insert(path.clone()) {
                        if let Ok(route) = Route::from_path(graph, &path, amount) {
                            candidates.push(route);
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

/// Result of one backward search.
enum Search {
    /// A path (edge ids, source first) to the receiver.
    Found(Vec<EdgeId>),
    /// The source cannot reach the receiver with this amount.
    NotFound,
    /// The pop budget ran out.
    Exhausted,
}

/// The search's knowledge about one node.
#[derive(Clone, Copy)]
struct NodeLabel {
    /// Amount that must arrive at the node (for the sender: the amount it sends).
    label: u128,
    /// Hops from the node to the receiver (`u32::MAX`: not reached).
    hops: u32,
    /// Edge from the node toward the receiver on its best path.
    next: EdgeId,
    /// Final: popped with this label.
    settled: bool,
}

impl NodeLabel {
    const UNSEEN: NodeLabel = NodeLabel {
        label: u128::MAX,
        hops: u32::MAX,
        next: 0,
        settled: false,
    };
}

/// Backward Dijkstra state, reused by all searches of one request (only touched entries
/// are reset between searches).
struct Searcher<'g> {
    graph: &'g ChannelGraph,
    target: NodeId,
    amount: u128,
    pops_left: usize,
    overflowed: bool,
    /// Per-node labels, one cache line's worth together.
    nodes: Vec<NodeLabel>,
    touched: Vec<NodeId>,
    heap: BinaryHeap<Reverse<(u128, u32, NodeId)>>,
    banned_nodes: Vec<bool>,
    banned_edges: Vec<bool>,
    bans: Vec<(bool, u32)>,
}

impl<'g> Searcher<'g> {
    fn new(
        graph: &'g ChannelGraph,
        target: NodeId,
        amount: u128,
        limits: &SearchLimits,
    ) -> Searcher<'g> {
        let nodes = graph.node_count();
        Searcher {
            graph,
            target,
            amount,
            pops_left: limits.max_pops,
            overflowed: false,
            nodes: vec![NodeLabel::UNSEEN; nodes],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
            banned_nodes: vec![false; nodes],
            banned_edges: Vec::new(),
            bans: Vec::new(),
        }
    }

    fn ban_node(&mut self, node: NodeId) {
        self.banned_nodes[node as usize] = true;
        self.bans.push((true, node));
    }

    fn ban_edge(&mut self, edge: EdgeId) {
        if self.banned_edges.is_empty() {
            self.banned_edges = vec![false; self.graph.edge_count()];
        }
        self.banned_edges[edge as usize] = true;
        self.bans.push((false, edge));
    }

    fn clear_bans(&mut self) {
        for (is_node, id) in self.bans.drain(..) {
            if is_node {
                self.banned_nodes[id as usize] = false;
            } else {
                self.banned_edges[id as usize] = false;
            }
        }
    }

    fn reset(&mut self) {
        for &n in &self.touched {
            self.nodes[n as usize] = NodeLabel::UNSEEN;
        }
        self.touched.clear();
        self.heap.clear();
    }

    fn offer(&mut self, node: NodeId, label: u128, hops: u32, next: EdgeId) {
        let slot = &mut self.nodes[node as usize];
        if (label, hops) < (slot.label, slot.hops) {
            if slot.hops == u32::MAX {
                self.touched.push(node);
            }
            *slot = NodeLabel {
                label,
                hops,
                next,
                settled: false,
            };
            self.heap.push(Reverse((label, hops, node)));
        }
    }

    /// Searches backward from the receiver until `source` is settled. If `source_is_sender`,
    /// the source pays no fee on its own edge; otherwise (a Yen spur node) it is labelled
    /// like a forwarder, so its label ranks the whole rest of the route.
    fn search(&mut self, source: NodeId, source_is_sender: bool, max_hops: usize) -> Search {
        self.reset();
        let max_hops = u32::try_from(max_hops).unwrap_or(u32::MAX);
        let target = self.target;
        self.offer(target, self.amount, 0, 0);
        while let Some(Reverse((label, hops, node))) = self.heap.pop() {
            if self.pops_left == 0 {
                return Search::Exhausted;
            }
            self.pops_left -= 1;
            let slot = &mut self.nodes[node as usize];
            if slot.settled || (label, hops) != (slot.label, slot.hops) {
                continue;
            }
            slot.settled = true;
            if node == source {
                return Search::Found(self.path_from(source, target));
            }
            if hops < max_hops {
                self.relax_inbound(node, label, hops + 1, source, source_is_sender);
            }
        }
        Search::NotFound
    }

    /// Offers every predecessor u of `node` (edge u→node able to carry `label`) the label
    /// `label + fee` (no fee if u is the sender).
    fn relax_inbound(
        &mut self,
        node: NodeId,
        label: u128,
        hops: u32,
        source: NodeId,
        sender: bool,
    ) {
        let graph = self.graph;
        for &id in graph.inbound(node) {
            let Some(edge) = graph.edge(id) else { continue };
            let u = edge.from as usize;
            if self.nodes[u].settled
                || self.banned_nodes[u]
                || self.banned_edges.get(id as usize).copied().unwrap_or(false)
                || edge.refusal(label).is_some()
            {
                continue;
            }
            let upstream = if edge.from == source && sender {
                Ok(label)
            } else {
                edge.fee(label).and_then(|fee| {
                    label.checked_add(fee).ok_or(RoutingError::Overflow {
                        what: "amount plus fee",
                    })
                })
            };
            match upstream {
                Ok(up) => self.offer(edge.from, up, hops, id),
                Err(_) => self.overflowed = true,
            }
        }
    }

    /// Follows `next` pointers from the settled source to the receiver.
    fn path_from(&self, source: NodeId, target: NodeId) -> Vec<EdgeId> {
        let mut path = Vec::with_capacity(self.nodes[source as usize].hops as usize);
        let mut node = source;
        while node != target && path.len() <= self.graph.node_count() {
            let id = self.nodes[node as usize].next;
            path.push(id);
            node = self.graph.edge(id).map_or(target, |e| e.to);
        }
        path
    }
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
        };
        assert_eq!(
            find_routes_with_limits(&g, 0, n - 1, 1, 1, &limits),
            Err(RoutingError::SearchBudgetExhausted { max_pops: 100 })
        );
        // and the default hop limit rules the chain out
        assert!(matches!(
            find_routes(&g, 0, n - 1, 1, 1),
            Err(RoutingError::NoRoute { .. })
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
