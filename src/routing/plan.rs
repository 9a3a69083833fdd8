//! Success-aware routing: [`find_scored_route`] (the one route of least fee + liquidity
//! penalty) and [`plan_payment`] (the same, split into parts when no single route can carry
//! the amount or a split is cheaper once risk is priced). Deterministic: same graph, scorer
//! and request give the same plan.
//!
//! Splitting: if the best single route succeeds with less than
//! [`ScorerParams::split_below_success_ppm`](super::ScorerParams) (or there is none), the
//! planner tries `k` = 2, 3, 5, 8, 12, … `max_parts` parts, each aiming at an equal share of
//! what is left (or half or a quarter of it when the share finds no route) and searched with
//! the earlier parts' amounts counted on the edges they share (so the liquidity penalty prices
//! all parts together and saturation counts their sum), and keeps the plan of least total
//! cost (fees + penalties); the extra per-hop base penalty of every part is what makes a
//! split earn its place. If no equal split fits, parts are taken greedily, each the largest
//! of `remaining / 2^j` that has a route. Parts always deliver exactly the amount; all
//! parts share one payment hash, which is the caller's business.

use super::graph::{ChannelGraph, EdgeId, NodeId};
use super::limits::SearchLimits;
use super::pathfind::{bounds_for, diagnose};
use super::route::Route;
use super::scorer::{ScoreView, Scorer};
use super::search::{Query, Search, Searcher};
use super::RoutingError;
use crate::crypto::{tagged, Canonical, RlpItem};

/// What a sender asks to pay, and what only it knows: the exact liquidity of its own edges.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentRequest {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// What the receiver must get, in total.
    #[serde(with = "super::scorer::decimal")]
    pub amount: u128,
    /// The time learned bounds are decayed to, in seconds (an input, never a clock).
    pub now: u64,
    /// Exact liquidity of edges leaving the sender (its own accounts), overriding the
    /// graph's capacity for them. Edges not leaving the sender are ignored. An own edge
    /// without an entry counts as exactly its graph capacity.
    pub own_liquidity: Vec<(EdgeId, OwnLiquidity)>,
}

/// The exact liquidity of one of the sender's edges (a newtype so it serializes as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnLiquidity(#[serde(with = "super::scorer::decimal")] pub u128);

impl Canonical for PaymentRequest {
    fn canonical_rlp(&self) -> RlpItem {
        let own: Vec<(u32, u128)> = self.own_liquidity.iter().map(|(e, l)| (*e, l.0)).collect();
        tagged(
            b"xln/payment-request/v1",
            vec![
                self.from.canonical_rlp(),
                self.to.canonical_rlp(),
                self.amount.canonical_rlp(),
                self.now.canonical_rlp(),
                own.canonical_rlp(),
            ],
        )
    }
}

impl PaymentRequest {
    /// A request with no own-liquidity overrides.
    pub fn new(from: NodeId, to: NodeId, amount: u128, now: u64) -> PaymentRequest {
        PaymentRequest {
            from,
            to,
            amount,
            now,
            own_liquidity: Vec::new(),
        }
    }

    /// Adds the exact liquidity of the sender's edge `edge`.
    pub fn with_own_liquidity(mut self, edge: EdgeId, liquidity: u128) -> PaymentRequest {
        self.own_liquidity.push((edge, OwnLiquidity(liquidity)));
        self
    }

    /// The view a search for this request reads: `scorer`'s bounds at `now` plus the
    /// sender's exact liquidity.
    pub fn view(&self, graph: &ChannelGraph, scorer: &Scorer) -> ScoreView {
        let mut view = scorer.view(graph, self.now);
        for &(edge, OwnLiquidity(liquidity)) in &self.own_liquidity {
            if graph.edge(edge).is_some_and(|e| e.from == self.from) {
                view.set_exact(graph, edge, liquidity);
            }
        }
        view
    }
}

/// How to pay: routes that together deliver exactly the amount.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentPlan {
    /// The parts; one route if the payment is not split. Each route's
    /// `success_probability` is the scorer's estimate for that part.
    pub parts: Vec<Route>,
    /// Sum of the parts' fees.
    pub total_fee: u128,
    /// Fees plus liquidity penalties: what the planner minimised.
    pub cost: u128,
    /// Estimated probability, in millionths, that every part gets through (the edges'
    /// success probabilities for the sums the parts put on them, multiplied).
    pub success_ppm: u32,
}

/// The route of least cost (fee + liquidity penalty under `scorer` at `request.now`) that
/// delivers all of `request.amount` within `limits` (`max_parts` does not apply).
///
/// Fails with `UnknownNode`, `SenderIsReceiver` or `ZeroAmount` for a bad request;
/// `AmountTooLarge` if no edge into the receiver accepts the amount; `LimitExceeded` naming
/// the limit if routes exist but none keeps the limits; `NoRoute` if nothing can carry it
/// (including edges the scorer has learned cannot); `Overflow` for fees beyond 128 bits;
/// `SearchBudgetExhausted` if `limits.max_pops` ran out.
pub fn find_scored_route(
    graph: &ChannelGraph,
    scorer: &Scorer,
    request: &PaymentRequest,
    limits: &SearchLimits,
) -> Result<Route, RoutingError> {
    check_nodes(graph, request)?;
    let max_inbound = max_inbound(graph, request.to);
    if request.amount > max_inbound {
        return Err(too_large(request, max_inbound));
    }
    let view = request.view(graph, scorer);
    let mut searcher = Searcher::new(graph, request.from, request.to, limits.max_pops);
    let budget = limits.fee_cap(request.amount);
    match route_part(&mut searcher, &view, request.amount, budget, limits)? {
        Some(mut route) => {
            route.success_probability =
                f64::from(view.success_ppm(graph, &route, request.from)) / 1e6;
            Ok(route)
        }
        None => Err(diagnose(
            graph,
            request.from,
            request.to,
            request.amount,
            limits,
        )),
    }
}

/// The plan of least cost that delivers exactly `request.amount` in at most
/// `limits.max_parts` parts within `limits` (fee caps on the total), under `scorer`.
///
/// ```
/// use xln::routing::{plan_payment, ChannelGraph, Edge, PaymentRequest, Scorer, SearchLimits};
/// // two paths 0 → 1 → 3 and 0 → 2 → 3 of 1,000 each: 1,500 needs both
/// let edges = vec![
///     Edge::new(0, 0, 1, 1_000), Edge::new(1, 1, 3, 1_000),
///     Edge::new(2, 0, 2, 1_000), Edge::new(3, 2, 3, 1_000),
/// ];
/// let graph = ChannelGraph::new(4, edges).unwrap();
/// let limits = SearchLimits { max_channel_saturation_ppm: 1_000_000, ..SearchLimits::default() };
/// let plan = plan_payment(&graph, &Scorer::default(), &PaymentRequest::new(0, 3, 1_500, 0), &limits)
///     .unwrap();
/// assert_eq!(plan.parts.len(), 2);
/// assert_eq!(plan.parts.iter().map(|r| r.amount_received()).sum::<u128>(), 1_500);
/// ```
///
/// Fails like [`find_scored_route`] for a bad request or an exhausted budget;
/// `LimitExceeded` if a single route exists only beyond a limit and no split fits;
/// `CannotSplit` if no split within `max_parts` and the limits delivers the amount.
pub fn plan_payment(
    graph: &ChannelGraph,
    scorer: &Scorer,
    request: &PaymentRequest,
    limits: &SearchLimits,
) -> Result<PaymentPlan, RoutingError> {
    check_nodes(graph, request)?;
    let view = request.view(graph, scorer);
    plan_with_view(
        graph,
        &view,
        request,
        limits,
        limits.fee_cap(request.amount),
        limits.max_parts,
    )
}

/// [`plan_payment`] over a prepared view (which may already hold other parts' usage),
/// with at most `fee_budget` in fees and `max_parts` parts: what a payment session calls
/// to replace failed parts.
pub(crate) fn plan_with_view(
    graph: &ChannelGraph,
    view: &ScoreView,
    request: &PaymentRequest,
    limits: &SearchLimits,
    fee_budget: u128,
    max_parts: usize,
) -> Result<PaymentPlan, RoutingError> {
    let amount = request.amount;
    if max_parts == 0 {
        return Err(cannot_split(request, 0, max_parts));
    }
    let mut planner = Planner {
        graph,
        searcher: Searcher::new(graph, request.from, request.to, limits.max_pops),
        limits,
        payer: request.from,
        exhausted: false,
    };
    let mut best = if amount <= max_inbound(graph, request.to) {
        planner.equal_split(view, amount, 1, fee_budget)?
    } else {
        None
    };
    let threshold = view.params().split_below_success_ppm;
    if max_parts > 1 && best.as_ref().is_none_or(|b| b.success_ppm < threshold) {
        for k in split_counts(max_parts) {
            if planner.exhausted {
                break;
            }
            match planner.equal_split(view, amount, k, fee_budget)? {
                Some(plan) if best.as_ref().is_none_or(|b| plan.cost < b.cost) => {
                    best = Some(plan);
                }
                Some(_) => break,
                None => {}
            }
        }
        if best.is_none() && !planner.exhausted {
            best = planner.greedy_split(view, amount, max_parts, fee_budget)?;
        }
    }
    match best {
        Some(plan) => Ok(plan),
        None if planner.exhausted => Err(RoutingError::SearchBudgetExhausted {
            max_pops: limits.max_pops,
        }),
        None => {
            let routed = planner.routed_greedily(view, amount, max_parts, fee_budget);
            match diagnose(graph, request.from, request.to, amount, limits) {
                RoutingError::NoRoute { .. } if max_parts > 1 => {
                    Err(cannot_split(request, routed, max_parts))
                }
                error => Err(error),
            }
        }
    }
}

/// Part counts the planner tries: 2, 3, 5, 8, 12, 18, … (each about 1.5 times the last)
/// and `max_parts` itself.
fn split_counts(max_parts: usize) -> impl Iterator<Item = usize> {
    let mut next = 2usize;
    std::iter::from_fn(move || {
        if next > max_parts {
            return None;
        }
        let k = next;
        next = if k == max_parts {
            usize::MAX
        } else {
            (k + k.div_ceil(2).max(1)).min(max_parts).max(k + 1)
        };
        Some(k)
    })
}

/// The searches of one plan, sharing one searcher (and so one pop budget).
struct Planner<'g, 'l> {
    graph: &'g ChannelGraph,
    searcher: Searcher<'g>,
    limits: &'l SearchLimits,
    payer: NodeId,
    exhausted: bool,
}

impl Planner<'_, '_> {
    /// `amount` in `k` parts, each routed with the earlier parts' usage: part `i` aims at an
    /// equal share of what is left, `remaining / (k − i)`; if no route carries that share,
    /// half and then a quarter of it are tried (later parts then aim higher), since paths
    /// rarely have equal room. The last part must carry all that is left. `None` if some
    /// part has no route.
    fn equal_split(
        &mut self,
        base: &ScoreView,
        amount: u128,
        k: usize,
        fee_budget: u128,
    ) -> Result<Option<PaymentPlan>, RoutingError> {
        let mut builder = PlanBuilder::new(base.clone(), fee_budget);
        let mut remaining = amount;
        for i in 0..k {
            let share = remaining.div_ceil((k - i) as u128);
            let tries = if i + 1 == k { 1 } else { 3 };
            let mut found = None;
            for j in 0..tries {
                let target = share >> j;
                if target == 0 || self.exhausted {
                    break;
                }
                if let Some(route) = self.part(&builder, target)? {
                    found = Some(route);
                    break;
                }
            }
            let Some(route) = found else {
                return Ok(None);
            };
            remaining -= route.amount_received();
            builder.push(self.graph, route, self.payer);
            if remaining == 0 {
                break;
            }
        }
        Ok((remaining == 0).then(|| builder.finish(self.graph, base, self.payer)))
    }

    /// Parts taken greedily: each the largest `remaining / 2^j` (j < 24) with a route.
    fn greedy_split(
        &mut self,
        base: &ScoreView,
        amount: u128,
        max_parts: usize,
        fee_budget: u128,
    ) -> Result<Option<PaymentPlan>, RoutingError> {
        let (builder, remaining) = self.greedy(base, amount, max_parts, fee_budget)?;
        Ok((remaining == 0).then(|| builder.finish(self.graph, base, self.payer)))
    }

    /// What a greedy split could deliver (for the error message).
    fn routed_greedily(
        &mut self,
        base: &ScoreView,
        amount: u128,
        max_parts: usize,
        fee_budget: u128,
    ) -> u128 {
        match self.greedy(base, amount, max_parts, fee_budget) {
            Ok((_, remaining)) => amount - remaining,
            Err(_) => 0,
        }
    }

    fn greedy(
        &mut self,
        base: &ScoreView,
        amount: u128,
        max_parts: usize,
        fee_budget: u128,
    ) -> Result<(PlanBuilder, u128), RoutingError> {
        let mut builder = PlanBuilder::new(base.clone(), fee_budget);
        let mut remaining = amount;
        while remaining > 0 && builder.parts.len() < max_parts && !self.exhausted {
            let mut target = remaining;
            let mut found = None;
            for _ in 0..24 {
                if let Some(route) = self.part(&builder, target)? {
                    found = Some(route);
                    break;
                }
                target /= 2;
                if target == 0 || self.exhausted {
                    break;
                }
            }
            match found {
                Some(route) => {
                    remaining -= route.amount_received();
                    builder.push(self.graph, route, self.payer);
                }
                None => break,
            }
        }
        Ok((builder, remaining))
    }

    /// One part of `amount` under the builder's view and remaining fee budget.
    fn part(&mut self, builder: &PlanBuilder, amount: u128) -> Result<Option<Route>, RoutingError> {
        let found = route_part(
            &mut self.searcher,
            &builder.view,
            amount,
            builder.fee_left,
            self.limits,
        );
        if self.searcher.pops_left() == 0 {
            self.exhausted = true;
        }
        found
    }
}

/// One search for `amount` under `view`; the route if found (`None` if none fits).
fn route_part(
    searcher: &mut Searcher<'_>,
    view: &ScoreView,
    amount: u128,
    fee_budget: u128,
    limits: &SearchLimits,
) -> Result<Option<Route>, RoutingError> {
    let mut bounds = bounds_for(limits, amount);
    bounds.fee_cap = bounds.fee_cap.min(fee_budget);
    let query = Query {
        amount,
        bounds,
        view: Some(view),
    };
    let graph = searcher.graph;
    let payer = searcher.payer();
    match searcher.search(&query, payer, limits.max_hops) {
        Search::Found(path) => {
            let route = Route::from_path(graph, &path, amount)?;
            Ok(limits.check_route(graph, &route).is_none().then_some(route))
        }
        Search::NotFound if searcher.overflowed => Err(RoutingError::Overflow {
            what: "amount plus fees on every candidate route",
        }),
        Search::NotFound | Search::Exhausted => Ok(None),
    }
}

/// A plan being assembled: its parts, the view with their usage, fees and cost so far.
struct PlanBuilder {
    view: ScoreView,
    parts: Vec<Route>,
    fee_left: u128,
    total_fee: u128,
    cost: u128,
}

impl PlanBuilder {
    fn new(view: ScoreView, fee_budget: u128) -> PlanBuilder {
        PlanBuilder {
            view,
            parts: Vec::new(),
            fee_left: fee_budget,
            total_fee: 0,
            cost: 0,
        }
    }

    /// Adds a part: prices it under the usage so far, then counts its usage.
    fn push(&mut self, graph: &ChannelGraph, mut route: Route, payer: NodeId) {
        self.cost = self
            .cost
            .saturating_add(route_cost(graph, &self.view, &route, payer));
        route.success_probability = f64::from(self.view.success_ppm(graph, &route, payer)) / 1e6;
        for hop in &route.hops {
            self.view.add_usage(graph, hop.edge, hop.amount_to_forward);
        }
        self.total_fee = self.total_fee.saturating_add(route.total_fee);
        self.fee_left = self.fee_left.saturating_sub(route.total_fee);
        self.parts.push(route);
    }

    fn finish(self, graph: &ChannelGraph, base: &ScoreView, payer: NodeId) -> PaymentPlan {
        PaymentPlan {
            success_ppm: joint_success_ppm(graph, base, &self.parts, payer),
            parts: self.parts,
            total_fee: self.total_fee,
            cost: self.cost,
        }
    }
}

/// Fees plus penalties of `route` under `view` (the sender's own hop is free).
pub(crate) fn route_cost(
    graph: &ChannelGraph,
    view: &ScoreView,
    route: &Route,
    payer: NodeId,
) -> u128 {
    let mut cost = route.total_fee;
    for hop in &route.hops {
        let Some(edge) = graph.edge(hop.edge) else {
            continue;
        };
        if edge.from == payer {
            continue;
        }
        let state = view.state(hop.edge, edge);
        let terms = view.hop_terms(hop.amount_to_forward);
        let penalty = view
            .penalty(&state, hop.amount_to_forward, terms)
            .unwrap_or(u128::MAX);
        cost = cost.saturating_add(penalty);
    }
    cost
}

/// The probability (millionths) that every edge carries what all `parts` put on it.
pub(crate) fn joint_success_ppm(
    graph: &ChannelGraph,
    base: &ScoreView,
    parts: &[Route],
    payer: NodeId,
) -> u32 {
    let mut load: std::collections::BTreeMap<EdgeId, u128> = Default::default();
    for hop in parts.iter().flat_map(|r| r.hops.iter()) {
        let sum = load.entry(hop.edge).or_default();
        *sum = sum.saturating_add(hop.amount_to_forward);
    }
    let hops = load
        .into_iter()
        .map(|(edge, amount)| super::route::Hop {
            edge,
            from: graph.edge(edge).map_or(0, |e| e.from),
            to: graph.edge(edge).map_or(0, |e| e.to),
            amount_to_forward: amount,
            fee: 0,
        })
        .collect();
    let combined = Route {
        hops,
        total_fee: 0,
        amount_sent: 0,
        timeout_blocks: 0,
        success_probability: 0.0,
    };
    base.success_ppm(graph, &combined, payer)
}

fn check_nodes(graph: &ChannelGraph, request: &PaymentRequest) -> Result<(), RoutingError> {
    let node_count = graph.node_count();
    for node in [request.from, request.to] {
        if node as usize >= node_count {
            return Err(RoutingError::UnknownNode { node, node_count });
        }
    }
    if request.from == request.to {
        return Err(RoutingError::SenderIsReceiver { node: request.from });
    }
    if request.amount == 0 {
        return Err(RoutingError::ZeroAmount);
    }
    Ok(())
}

/// The largest amount one enabled edge into `to` accepts.
fn max_inbound(graph: &ChannelGraph, to: NodeId) -> u128 {
    graph
        .inbound(to)
        .iter()
        .filter_map(|&id| graph.edge(id))
        .map(|e| e.max_carry())
        .max()
        .unwrap_or(0)
}

fn too_large(request: &PaymentRequest, max_inbound: u128) -> RoutingError {
    if max_inbound == 0 {
        RoutingError::NoRoute {
            from: request.from,
            to: request.to,
            amount: request.amount,
        }
    } else {
        RoutingError::AmountTooLarge {
            amount: request.amount,
            to: request.to,
            max_inbound,
        }
    }
}

fn cannot_split(request: &PaymentRequest, routed: u128, max_parts: usize) -> RoutingError {
    RoutingError::CannotSplit {
        from: request.from,
        to: request.to,
        amount: request.amount,
        routed,
        max_parts,
    }
}

#[cfg(test)]
mod tests {
    use super::split_counts;

    #[test]
    fn split_counts_grow_by_half_and_end_at_the_limit() {
        assert_eq!(split_counts(1).collect::<Vec<_>>(), Vec::<usize>::new());
        assert_eq!(split_counts(2).collect::<Vec<_>>(), vec![2]);
        assert_eq!(split_counts(10).collect::<Vec<_>>(), vec![2, 3, 5, 8, 10]);
        assert_eq!(
            split_counts(16).collect::<Vec<_>>(),
            vec![2, 3, 5, 8, 12, 16]
        );
    }
}
