//! The one route search every query runs: a bounded Dijkstra backward from the receiver,
//! labelling each node with the amount that must arrive there (downstream fees included),
//! the cost of the rest of the route, its timelock and hop count.
//!
//! Cost of a hop = its fee + (with a [`ScoreView`]) its liquidity penalty; without a view
//! the cost is the fee alone, which orders labels exactly as the fee-only search always
//! did (the label was the amount, i.e. the fees plus a constant). An edge is relaxed only
//! if it can carry the amount (enabled, capacity, HTLC bounds), the amount fits the
//! sender's exact liquidity or (other edges) the saturation share and the learned upper
//! bound, and the partial route stays within the fee cap, the timeout budget and the hop
//! limit. Limits are enforced on every partial route, so what is found keeps them; one
//! label per node makes the search fast but may miss a feasible route that a cheaper,
//! limit-breaking one shadows (every Lightning router makes this trade).
//!
//! Queue ties break by hop count, then node id. Every pop counts against one budget shared
//! by all searches of a request.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::graph::{ChannelGraph, EdgeId, NodeId};
use super::limits::within_saturation;
use super::scorer::ScoreView;

/// The limits one search enforces, resolved for its amount.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Most fees the route may add on top of the amount.
    pub fee_cap: u128,
    /// Most blocks the forwarding hops may add.
    pub timeout_budget: u32,
    /// Share of a non-sender edge's capacity a route may use, in millionths.
    pub saturation_ppm: u32,
}

impl Bounds {
    /// No limit but those of the edges themselves.
    pub const NONE: Bounds = Bounds {
        fee_cap: u128::MAX,
        timeout_budget: u32::MAX,
        saturation_ppm: 1_000_000,
    };
}

/// What one search asks: deliver `amount` within `bounds`, priced by `view` (fee-only
/// without one).
#[derive(Clone, Copy)]
pub(crate) struct Query<'v> {
    pub amount: u128,
    pub bounds: Bounds,
    pub view: Option<&'v ScoreView>,
}

/// Result of one backward search.
pub(crate) enum Search {
    /// A path (edge ids, source first) to the receiver.
    Found(Vec<EdgeId>),
    /// The source cannot reach the receiver with this amount within the bounds.
    NotFound,
    /// The pop budget ran out.
    Exhausted,
}

/// The search's knowledge about one node.
#[derive(Clone, Copy)]
struct NodeLabel {
    /// Cost of the route from this node to the receiver.
    cost: u128,
    /// Amount that must arrive at the node (for the sender: the amount it sends).
    amount: u128,
    /// Timelock blocks the hops downstream of this node ask for.
    timeout: u32,
    /// Hops from the node to the receiver (`u32::MAX`: not reached).
    hops: u32,
    /// Edge from the node toward the receiver on its best path.
    next: EdgeId,
    /// Final: popped with this label.
    settled: bool,
}

impl NodeLabel {
    const UNSEEN: NodeLabel = NodeLabel {
        cost: u128::MAX,
        amount: 0,
        timeout: 0,
        hops: u32::MAX,
        next: 0,
        settled: false,
    };
}

/// Backward Dijkstra state for one (payer, receiver) pair, reused by all searches of one
/// request: only touched entries are reset between searches, and the pop budget is shared.
pub(crate) struct Searcher<'g> {
    pub graph: &'g ChannelGraph,
    payer: NodeId,
    target: NodeId,
    pops_left: usize,
    /// Some candidate's amount plus fees did not fit in 128 bits.
    pub overflowed: bool,
    nodes: Vec<NodeLabel>,
    touched: Vec<NodeId>,
    heap: BinaryHeap<Reverse<(u128, u32, NodeId)>>,
    banned_nodes: Vec<bool>,
    banned_edges: Vec<bool>,
    bans: Vec<(bool, u32)>,
}

impl<'g> Searcher<'g> {
    /// A searcher for routes from `payer` to `target` with `max_pops` pops in all.
    pub fn new(
        graph: &'g ChannelGraph,
        payer: NodeId,
        target: NodeId,
        max_pops: usize,
    ) -> Searcher<'g> {
        let nodes = graph.node_count();
        Searcher {
            graph,
            payer,
            target,
            pops_left: max_pops,
            overflowed: false,
            nodes: vec![NodeLabel::UNSEEN; nodes],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
            banned_nodes: vec![false; nodes],
            banned_edges: Vec::new(),
            bans: Vec::new(),
        }
    }

    /// The sender every search of this searcher prices for.
    pub fn payer(&self) -> NodeId {
        self.payer
    }

    /// Pops left in the shared budget.
    pub fn pops_left(&self) -> usize {
        self.pops_left
    }

    pub fn ban_node(&mut self, node: NodeId) {
        self.banned_nodes[node as usize] = true;
        self.bans.push((true, node));
    }

    pub fn ban_edge(&mut self, edge: EdgeId) {
        if self.banned_edges.is_empty() {
            self.banned_edges = vec![false; self.graph.edge_count()];
        }
        self.banned_edges[edge as usize] = true;
        self.bans.push((false, edge));
    }

    pub fn clear_bans(&mut self) {
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

    fn offer(&mut self, node: NodeId, label: NodeLabel) {
        let slot = &mut self.nodes[node as usize];
        if (label.cost, label.hops) < (slot.cost, slot.hops) {
            if slot.hops == u32::MAX {
                self.touched.push(node);
            }
            *slot = label;
            self.heap.push(Reverse((label.cost, label.hops, node)));
        }
    }

    /// Searches backward from the receiver until `source` is settled. The payer's own edge
    /// charges no fee, no timelock and no penalty; any other source (a Yen spur node) is
    /// labelled like a forwarder, so its label prices the whole rest of the route.
    pub fn search(&mut self, query: &Query<'_>, source: NodeId, max_hops: usize) -> Search {
        self.reset();
        let max_hops = u32::try_from(max_hops).unwrap_or(u32::MAX);
        let target = self.target;
        self.offer(
            target,
            NodeLabel {
                cost: 0,
                amount: query.amount,
                timeout: 0,
                hops: 0,
                next: 0,
                settled: false,
            },
        );
        while let Some(Reverse((cost, hops, node))) = self.heap.pop() {
            if self.pops_left == 0 {
                return Search::Exhausted;
            }
            self.pops_left -= 1;
            let slot = &mut self.nodes[node as usize];
            if slot.settled || (cost, hops) != (slot.cost, slot.hops) {
                continue;
            }
            slot.settled = true;
            let label = *slot;
            if node == source {
                return Search::Found(self.path_from(source, target));
            }
            if hops < max_hops {
                self.relax_inbound(query, node, label);
            }
        }
        Search::NotFound
    }

    /// Offers every predecessor u of `node` (edge u→node able to carry the label's amount
    /// within the bounds) the label extended by that edge. Cheap checks come first; the
    /// liquidity penalty is computed only for edges that pass them.
    fn relax_inbound(&mut self, query: &Query<'_>, node: NodeId, label: NodeLabel) {
        let graph = self.graph;
        let amount = label.amount;
        let terms = query.view.map(|v| v.hop_terms(amount));
        for &id in graph.inbound(node) {
            let Some(edge) = graph.edge(id) else { continue };
            let u = edge.from as usize;
            if self.nodes[u].settled
                || self.banned_nodes[u]
                || self.banned_edges.get(id as usize).copied().unwrap_or(false)
                || edge.refusal(amount).is_some()
            {
                continue;
            }
            let is_payer = edge.from == self.payer;
            let (fee, delta) = if is_payer {
                (0, 0)
            } else {
                match edge.fee(amount) {
                    Ok(fee) => (fee, edge.cltv_expiry_delta),
                    Err(_) => {
                        self.overflowed = true;
                        continue;
                    }
                }
            };
            let Some(upstream) = amount.checked_add(fee) else {
                self.overflowed = true;
                continue;
            };
            let timeout = label.timeout.saturating_add(delta);
            if upstream - query.amount > query.bounds.fee_cap
                || timeout > query.bounds.timeout_budget
            {
                continue;
            }
            let Some(penalty) = admit(query, terms, id, edge, amount, is_payer) else {
                continue;
            };
            self.offer(
                edge.from,
                NodeLabel {
                    cost: label.cost.saturating_add(fee).saturating_add(penalty),
                    amount: upstream,
                    timeout,
                    hops: label.hops + 1,
                    next: id,
                    settled: false,
                },
            );
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

/// Whether `edge` may carry `amount` more under the query's view and saturation share, and
/// its liquidity penalty if so. The payer's own edge: within its exact liquidity, no
/// penalty. Any other: within its capacity, the saturation share and the learned upper
/// bound (all counting what other parts already put on it), at the view's penalty.
#[inline]
fn admit(
    query: &Query<'_>,
    terms: Option<(u128, u128)>,
    id: EdgeId,
    edge: &super::graph::Edge,
    amount: u128,
    is_payer: bool,
) -> Option<u128> {
    let saturation = query.bounds.saturation_ppm;
    let (Some(view), Some(terms)) = (query.view, terms) else {
        let fits = is_payer || within_saturation(amount, edge.capacity, saturation);
        return fits.then_some(0);
    };
    let state = view.state(id, edge);
    let total = state.used.saturating_add(amount);
    if is_payer {
        let liquidity = if state.exact {
            state.upper
        } else {
            edge.capacity
        };
        return (total <= liquidity).then_some(0);
    }
    if total > edge.capacity || !within_saturation(total, edge.capacity, saturation) {
        return None;
    }
    view.penalty(&state, amount, terms)
}
