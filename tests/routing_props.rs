//! Property tests for the routing layer: the gossip CRDT laws (commutative, associative,
//! idempotent), and on random small graphs: every route respects capacities and HTLC
//! bounds, fees add up exactly, routes are sorted and distinct, results are deterministic,
//! no route is returned when brute force finds none, and on graphs without htlc minimums
//! the fees returned are exactly the N cheapest a brute-force enumeration finds. With random
//! payment limits, learned liquidity and own-liquidity overrides: no route, split plan or
//! set of live session parts ever breaks a configured limit (checked independently).
//! Case counts keep the file at a few seconds in a debug build.

use proptest::prelude::*;
use xln::crypto::Canonical;
use xln::routing::{
    find_routes, find_routes_with_limits, find_scored_route, plan_payment, AdvertisedAccount,
    AttemptOutcome, AttemptResult, ChannelGraph, Edge, EdgeId, GossipState, NodeId, PartStatus,
    PaymentRequest, PaymentSession, Profile, RelativeFeeCap, Route, RoutingError, Scorer,
    SearchLimits, SessionStep,
};

// ---------------------------------------------------------------- gossip CRDT

fn arb_profile() -> impl Strategy<Value = Profile> {
    let account =
        (0u8..4, 0u64..2, 0u128..100, 0u128..100).prop_map(|(p, token, o, i)| AdvertisedAccount {
            peer: [p; 20],
            token,
            capacity_out: o,
            capacity_in: i,
        });
    (
        0u8..4,
        0u64..3, // few timestamps, so equal-timestamp ties are common
        prop::collection::vec(prop::sample::select(vec!["hub", "swap", "htlc"]), 0..3),
        0u128..5,
        0u32..3,
        prop::collection::vec(account, 0..3),
    )
        .prop_map(
            |(e, timestamp, caps, fee_base, fee_ppm, accounts)| Profile {
                entity: [e; 20],
                timestamp,
                capabilities: caps.into_iter().map(String::from).collect(),
                fee_base,
                fee_ppm,
                accounts,
            },
        )
}

fn state_of(profiles: &[Profile]) -> GossipState {
    let mut s = GossipState::new();
    for p in profiles {
        s.merge(p.clone());
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merge_is_commutative(
        (profiles, shuffled) in prop::collection::vec(arb_profile(), 0..12)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let (a, b) = (state_of(&profiles), state_of(&shuffled));
        prop_assert_eq!(a.canonical_hash(), b.canonical_hash());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn merge_state_is_associative_and_commutative(
        x in prop::collection::vec(arb_profile(), 0..6),
        y in prop::collection::vec(arb_profile(), 0..6),
        z in prop::collection::vec(arb_profile(), 0..6),
    ) {
        let (sx, sy, sz) = (state_of(&x), state_of(&y), state_of(&z));
        let mut left = sx.clone(); // (x ∪ y) ∪ z
        left.merge_state(&sy);
        left.merge_state(&sz);
        let mut yz = sy.clone(); // x ∪ (y ∪ z)
        yz.merge_state(&sz);
        let mut right = sx.clone();
        right.merge_state(&yz);
        prop_assert_eq!(&left, &right);
        let mut swapped = sz.clone(); // z ∪ (y ∪ x)
        let mut yx = sy.clone();
        yx.merge_state(&sx);
        swapped.merge_state(&yx);
        prop_assert_eq!(&left, &swapped);
        // and the join equals merging every profile one by one
        let all: Vec<Profile> = x.iter().chain(&y).chain(&z).cloned().collect();
        prop_assert_eq!(&left, &state_of(&all));
    }

    #[test]
    fn merge_is_idempotent(
        profiles in prop::collection::vec(arb_profile(), 0..10),
        repeats in prop::collection::vec(0usize..10, 0..10),
    ) {
        let s = state_of(&profiles);
        let mut again = s.clone();
        again.merge_state(&s);
        prop_assert_eq!(&again, &s);
        let mut duplicated = profiles.clone();
        duplicated.extend(repeats.iter().filter_map(|&i| profiles.get(i).cloned()));
        prop_assert_eq!(&state_of(&duplicated), &s);
        // every stored profile is the maximum of its entity's profiles
        for stored in s.profiles() {
            for p in profiles.iter().filter(|p| p.entity == stored.entity) {
                prop_assert!(p.lww_cmp(stored) != std::cmp::Ordering::Greater);
            }
        }
        // the graph built from equal states is equal
        prop_assert_eq!(ChannelGraph::from_gossip(&again, 0), ChannelGraph::from_gossip(&s, 0));
    }
}

// ---------------------------------------------------------------- random graphs

#[derive(Debug, Clone)]
struct Case {
    graph: ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
    n: usize,
}

/// Random graphs of 2..7 nodes. `fees`: random fees (else zero); `htlc_min`: random minimums.
fn arb_case(fees: bool, htlc_min: bool) -> impl Strategy<Value = Case> {
    (2usize..7).prop_flat_map(move |nodes| {
        let edge = (
            0..nodes as u32,
            0..nodes as u32,
            0u128..1_000,
            0u128..30,
            prop::sample::select(vec![0u32, 1, 999, 10_000, 250_000]),
            prop::option::of(0u128..200),
            prop::option::of(0u128..1_200),
            prop::bool::weighted(0.1),
        )
            .prop_map(
                move |(a, b, capacity, base, ppm, min, max, disabled)| Edge {
                    fee_base: if fees { base } else { 0 },
                    fee_ppm: if fees { ppm } else { 0 },
                    htlc_min: if htlc_min { min } else { None },
                    htlc_max: max,
                    disabled,
                    ..Edge::new(0, a, b, capacity)
                },
            );
        (
            prop::collection::vec(edge, 0..20),
            0..nodes as u32,
            0..nodes as u32,
            1u128..400,
            1usize..6,
        )
            .prop_filter("sender = receiver", |(_, a, b, _, _)| a != b)
            .prop_map(move |(mut edges, from, to, amount, n)| {
                for (i, e) in edges.iter_mut().enumerate() {
                    e.channel = i as u32;
                }
                Case {
                    graph: ChannelGraph::new(nodes, edges).expect("endpoints are in range"),
                    from,
                    to,
                    amount,
                    n,
                }
            })
    })
}

/// Independent recomputation of a route from its edges (no library code): the hop
/// amounts and fees, or None if some hop cannot carry its amount.
fn brute_route(g: &ChannelGraph, path: &[EdgeId], amount: u128) -> Option<Vec<(u128, u128)>> {
    let mut carried = amount;
    let mut hops = vec![];
    for (i, &id) in path.iter().enumerate().rev() {
        let e = &g.edges()[id as usize];
        let ok = !e.disabled
            && carried <= e.capacity
            && e.htlc_min.is_none_or(|m| carried >= m)
            && e.htlc_max.is_none_or(|m| carried <= m);
        if !ok {
            return None;
        }
        let fee = if i == 0 {
            0
        } else {
            e.fee_base + (carried * u128::from(e.fee_ppm)).div_ceil(1_000_000)
        };
        hops.push((carried, fee));
        carried += fee;
    }
    hops.reverse();
    Some(hops)
}

/// Every simple path from `from` to `to` (edge ids).
fn simple_paths(g: &ChannelGraph, from: NodeId, to: NodeId) -> Vec<Vec<EdgeId>> {
    fn walk(
        g: &ChannelGraph,
        at: NodeId,
        to: NodeId,
        seen: &mut Vec<NodeId>,
        path: &mut Vec<EdgeId>,
        out: &mut Vec<Vec<EdgeId>>,
    ) {
        if at == to {
            out.push(path.clone());
            return;
        }
        for &id in g.outbound(at) {
            let next = g.edges()[id as usize].to;
            if !seen.contains(&next) {
                seen.push(next);
                path.push(id);
                walk(g, next, to, seen, path, out);
                path.pop();
                seen.pop();
            }
        }
    }
    let mut out = vec![];
    walk(g, from, to, &mut vec![from], &mut vec![], &mut out);
    out
}

/// Reachability over edges whose upper bounds (enabled, capacity, htlc_max) admit `amount`:
/// every hop of any route carries at least `amount`, so this is necessary for a route.
fn reachable(g: &ChannelGraph, from: NodeId, to: NodeId, amount: u128) -> bool {
    let mut seen = vec![false; g.node_count()];
    let mut queue = std::collections::VecDeque::from([from]);
    seen[from as usize] = true;
    while let Some(v) = queue.pop_front() {
        for &id in g.outbound(v) {
            let e = &g.edges()[id as usize];
            if e.max_carry() >= amount && !seen[e.to as usize] {
                seen[e.to as usize] = true;
                queue.push_back(e.to);
            }
        }
    }
    seen[to as usize]
}

fn check_route(c: &Case, r: &Route) -> Result<(), TestCaseError> {
    let path: Vec<EdgeId> = r.edges();
    let expected = brute_route(&c.graph, &path, c.amount);
    prop_assert!(expected.is_some(), "route breaks a bound: {:?}", r);
    let expected = expected.unwrap_or_default();
    let got: Vec<(u128, u128)> = r
        .hops
        .iter()
        .map(|h| (h.amount_to_forward, h.fee))
        .collect();
    prop_assert_eq!(&got, &expected);
    let nodes = r.nodes();
    prop_assert_eq!(nodes.first(), Some(&c.from));
    prop_assert_eq!(nodes.last(), Some(&c.to));
    let mut sorted = nodes.clone();
    sorted.sort();
    sorted.dedup();
    prop_assert_eq!(sorted.len(), nodes.len(), "route visits a node twice");
    for (h, &id) in r.hops.iter().zip(&path) {
        let e = &c.graph.edges()[id as usize];
        prop_assert_eq!((h.from, h.to), (e.from, e.to));
    }
    for w in r.hops.windows(2) {
        prop_assert_eq!(w[0].to, w[1].from);
        prop_assert_eq!(w[0].amount_to_forward, w[1].amount_to_forward + w[1].fee);
    }
    prop_assert_eq!(r.total_fee, r.hops.iter().map(|h| h.fee).sum::<u128>());
    prop_assert_eq!(r.amount_sent, c.amount + r.total_fee);
    prop_assert_eq!(r.amount_received(), c.amount);
    prop_assert!(r.success_probability > 0.0 && r.success_probability <= 1.0);
    Ok(())
}

fn check_routes(c: &Case, routes: &[Route]) -> Result<(), TestCaseError> {
    prop_assert!(!routes.is_empty() && routes.len() <= c.n);
    for r in routes {
        check_route(c, r)?;
    }
    for w in routes.windows(2) {
        prop_assert!(
            w[0].rank_cmp(&w[1]).is_lt(),
            "not sorted or duplicate: {:?}",
            w
        );
        prop_assert!(w[0].total_fee <= w[1].total_fee);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn routes_are_valid_sorted_deterministic_and_sound(c in arb_case(true, true)) {
        let result = find_routes(&c.graph, c.from, c.to, c.amount, c.n);
        prop_assert_eq!(&result, &find_routes(&c.graph, c.from, c.to, c.amount, c.n));
        match &result {
            Ok(routes) => {
                prop_assert!(reachable(&c.graph, c.from, c.to, c.amount));
                check_routes(&c, routes)?;
            }
            Err(RoutingError::NoRoute { from, to, amount }) => {
                prop_assert_eq!((*from, *to, *amount), (c.from, c.to, c.amount));
            }
            Err(RoutingError::AmountTooLarge { max_inbound, .. }) => {
                prop_assert!(*max_inbound < c.amount);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
        // no route when brute force finds no feasible path at all
        let feasible = simple_paths(&c.graph, c.from, c.to)
            .iter()
            .any(|p| brute_route(&c.graph, p, c.amount).is_some());
        if !feasible {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn zero_fee_routes_exist_exactly_when_reachable(c in arb_case(false, false)) {
        let result = find_routes(&c.graph, c.from, c.to, c.amount, c.n);
        prop_assert_eq!(result.is_ok(), reachable(&c.graph, c.from, c.to, c.amount));
        if let Ok(routes) = &result {
            check_routes(&c, routes)?;
        }
    }

    #[test]
    fn fees_are_the_n_cheapest_brute_force_finds(c in arb_case(true, false)) {
        let mut fees: Vec<u128> = simple_paths(&c.graph, c.from, c.to)
            .iter()
            .filter_map(|p| brute_route(&c.graph, p, c.amount))
            .map(|hops| hops.iter().map(|h| h.1).sum())
            .collect();
        fees.sort();
        fees.truncate(c.n);
        let got: Vec<u128> = find_routes(&c.graph, c.from, c.to, c.amount, c.n)
            .map(|routes| routes.iter().map(|r| r.total_fee).collect())
            .unwrap_or_default();
        prop_assert_eq!(got, fees);
    }

    #[test]
    fn tiny_budgets_stop_cleanly(c in arb_case(true, true), max_pops in 0usize..12) {
        let limits = SearchLimits { max_pops, ..SearchLimits::fee_only() };
        match find_routes_with_limits(&c.graph, c.from, c.to, c.amount, c.n, &limits) {
            Ok(routes) => check_routes(&c, &routes)?,
            Err(RoutingError::SearchBudgetExhausted { max_pops: m }) => prop_assert_eq!(m, max_pops),
            Err(RoutingError::NoRoute { .. } | RoutingError::AmountTooLarge { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

// ---------------------------------------------------------------- payment limits

/// A request with random limits, learned liquidity and own-liquidity overrides.
#[derive(Debug, Clone)]
struct LimitedCase {
    graph: ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
    limits: SearchLimits,
    /// (edge index, amount, outcome: 0 arrived, 1 failed, 2 settled)
    lessons: Vec<(usize, u128, u8)>,
    own: Vec<(usize, u128)>,
    /// outcomes a session sees for its parts: None = arrived, Some(h) = failed at hop h
    outcomes: Vec<Option<usize>>,
}

fn arb_limits() -> impl Strategy<Value = SearchLimits> {
    (
        1usize..6,
        prop::sample::select(vec![0u32, 30, 60, 100, 1_008, 1_008, u32::MAX]),
        0u32..40,
        prop::option::weighted(0.3, 0u128..60),
        prop::option::weighted(
            0.3,
            (0u128..40, prop::sample::select(vec![0u32, 10_000, 100_000])),
        ),
        prop::sample::select(vec![100_000u32, 250_000, 500_000, 1_000_000, 1_000_000]),
        0usize..5,
        prop::sample::select(vec![3usize, 1_000, 1_000, 1_000]),
    )
        .prop_map(
            |(max_hops, max_timeout, final_timeout, max_fee, relative, sat, parts, pops)| {
                SearchLimits {
                    max_pops: pops,
                    max_hops,
                    max_timeout_blocks: max_timeout,
                    final_timeout_blocks: final_timeout,
                    max_fee,
                    max_fee_relative: relative.map(|(base, ppm)| RelativeFeeCap { base, ppm }),
                    max_channel_saturation_ppm: sat,
                    max_parts: parts,
                }
            },
        )
}

fn arb_limited_case() -> impl Strategy<Value = LimitedCase> {
    (2usize..7).prop_flat_map(|nodes| {
        let edge = (
            0..nodes as u32,
            0..nodes as u32,
            1u128..1_000,
            0u128..20,
            prop::sample::select(vec![0u32, 1, 10_000, 250_000]),
            prop::option::weighted(0.3, 0u128..50),
            prop::option::weighted(0.3, 0u128..1_200),
            0u32..50,
            prop::bool::weighted(0.05),
        )
            .prop_map(
                |(a, b, capacity, base, ppm, min, max, delta, disabled)| Edge {
                    fee_base: base,
                    fee_ppm: ppm,
                    htlc_min: min,
                    htlc_max: max,
                    cltv_expiry_delta: delta,
                    disabled,
                    ..Edge::new(0, a, b, capacity)
                },
            );
        (
            prop::collection::vec(edge, 0..20),
            0..nodes as u32,
            0..nodes as u32,
            1u128..400,
            arb_limits(),
            prop::collection::vec((0usize..16, 0u128..1_000, 0u8..3), 0..8),
            prop::collection::vec((0usize..16, 0u128..1_000), 0..3),
            prop::collection::vec(prop::option::of(0usize..4), 0..12),
        )
            .prop_filter("sender = receiver", |t| t.1 != t.2)
            .prop_map(
                move |(mut edges, from, to, amount, limits, lessons, own, outcomes)| {
                    for (i, e) in edges.iter_mut().enumerate() {
                        e.channel = i as u32;
                    }
                    LimitedCase {
                        graph: ChannelGraph::new(nodes, edges).expect("endpoints are in range"),
                        from,
                        to,
                        amount,
                        limits,
                        lessons,
                        own,
                        outcomes,
                    }
                },
            )
    })
}

/// Payments too large for one path: `k` parallel paths 0 → m → last (some with a shared
/// middle edge), plus random cross edges, and an amount of 1–3 paths' worth.
fn arb_split_case() -> impl Strategy<Value = LimitedCase> {
    (
        prop::collection::vec((20u128..300, 0u128..10, 0u32..40), 2..6),
        prop::collection::vec((0u32..7, 0u32..7, 10u128..300), 0..4),
        1u128..700,
        arb_limits(),
        prop::collection::vec((0usize..20, 0u128..300, 0u8..3), 0..6),
        prop::collection::vec((0usize..6, 0u128..400), 0..2),
        prop::collection::vec(prop::option::of(0usize..4), 0..12),
    )
        .prop_map(
            |(paths, cross, amount, mut limits, lessons, own, outcomes)| {
                let last = paths.len() as u32 + 1;
                let mut edges = Vec::new();
                for (i, &(capacity, base, delta)) in paths.iter().enumerate() {
                    let mid = i as u32 + 1;
                    edges.push(Edge::new(0, 0, mid, capacity + 50));
                    edges.push(Edge {
                        fee_base: base,
                        cltv_expiry_delta: delta,
                        ..Edge::new(0, mid, last, capacity)
                    });
                }
                for (a, b, capacity) in cross {
                    let (a, b) = (a % (last + 1), b % (last + 1));
                    if a != b {
                        edges.push(Edge::new(0, a, b, capacity));
                    }
                }
                for (i, e) in edges.iter_mut().enumerate() {
                    e.channel = i as u32;
                }
                limits.max_parts = limits.max_parts.max(2) + 2;
                limits.max_pops = 100_000;
                LimitedCase {
                    graph: ChannelGraph::new(last as usize + 1, edges)
                        .expect("endpoints are in range"),
                    from: 0,
                    to: last,
                    amount,
                    limits,
                    lessons,
                    own,
                    outcomes,
                }
            },
        )
}

impl LimitedCase {
    fn scorer(&self) -> Scorer {
        let mut scorer = Scorer::default();
        let edges = self.graph.edge_count();
        for (i, &(e, amount, kind)) in self.lessons.iter().enumerate() {
            if edges == 0 {
                break;
            }
            let hop = [((e % edges) as EdgeId, amount)];
            let now = i as u64 * 60;
            match kind {
                0 => scorer.record(&self.graph, &hop, AttemptOutcome::Arrived, now),
                1 => scorer.record(&self.graph, &hop, AttemptOutcome::FailedAt { hop: 0 }, now),
                _ => scorer.record_settled(&self.graph, &hop, now),
            }
        }
        scorer
    }

    fn request(&self) -> PaymentRequest {
        let mut request = PaymentRequest::new(self.from, self.to, self.amount, 600);
        let edges = self.graph.edge_count();
        for &(e, liquidity) in &self.own {
            if edges > 0 {
                request = request.with_own_liquidity((e % edges) as EdgeId, liquidity);
            }
        }
        request
    }

    /// The exact liquidity the request gives the sender's edge `id`, if any.
    fn own_liquidity(&self, id: EdgeId) -> Option<u128> {
        self.request()
            .own_liquidity
            .iter()
            .rev()
            .find(|(e, _)| *e == id)
            .map(|(_, l)| l.0)
    }
}

/// A route delivering `amount` from `from` to `to` that is valid in `g` (independent
/// recomputation of its amounts and fees).
fn check_valid(
    g: &ChannelGraph,
    from: NodeId,
    to: NodeId,
    amount: u128,
    r: &Route,
) -> Result<(), TestCaseError> {
    let path = r.edges();
    let expected = brute_route(g, &path, amount);
    prop_assert!(expected.is_some(), "route breaks an edge bound: {:?}", r);
    let got: Vec<(u128, u128)> = r
        .hops
        .iter()
        .map(|h| (h.amount_to_forward, h.fee))
        .collect();
    prop_assert_eq!(&got, &expected.unwrap_or_default());
    let nodes = r.nodes();
    prop_assert_eq!(nodes.first(), Some(&from));
    prop_assert_eq!(nodes.last(), Some(&to));
    let mut sorted = nodes.clone();
    sorted.sort();
    sorted.dedup();
    prop_assert_eq!(sorted.len(), nodes.len(), "route visits a node twice");
    let timeout: u32 = path[1..]
        .iter()
        .map(|&id| g.edges()[id as usize].cltv_expiry_delta)
        .sum();
    prop_assert_eq!(r.timeout_blocks, timeout);
    Ok(())
}

/// Independent check of every limit on a set of parts delivering `amount`.
fn check_limits(
    c: &LimitedCase,
    scorer: &Scorer,
    parts: &[Route],
    amount: u128,
) -> Result<(), TestCaseError> {
    let l = &c.limits;
    check_limits_with_parts(c, scorer, parts, amount, l.max_parts.max(1))
}

/// [`check_limits`] with an explicit bound on the number of parts.
fn check_limits_with_parts(
    c: &LimitedCase,
    scorer: &Scorer,
    parts: &[Route],
    amount: u128,
    max_parts: usize,
) -> Result<(), TestCaseError> {
    let l = &c.limits;
    prop_assert!(
        parts.len() <= max_parts,
        "{} parts > {max_parts}",
        parts.len()
    );
    let mut fee = 0u128;
    let mut load: std::collections::BTreeMap<EdgeId, u128> = Default::default();
    for r in parts {
        prop_assert!(
            r.hops.len() <= l.max_hops,
            "hops {} > {}",
            r.hops.len(),
            l.max_hops
        );
        let total = u64::from(r.timeout_blocks) + u64::from(l.final_timeout_blocks);
        prop_assert!(total <= u64::from(l.max_timeout_blocks), "timeout {total}");
        fee += r.total_fee;
        for h in &r.hops {
            *load.entry(h.edge).or_default() += h.amount_to_forward;
        }
    }
    if let Some(max) = l.max_fee {
        prop_assert!(fee <= max, "fee {fee} > max_fee {max}");
    }
    if let Some(cap) = l.max_fee_relative {
        let max = cap.base + amount * u128::from(cap.ppm) / 1_000_000;
        prop_assert!(fee <= max, "fee {fee} > relative cap {max}");
    }
    for (&id, &sum) in &load {
        let e = &c.graph.edges()[id as usize];
        if e.from == c.from {
            let liquidity = c.own_liquidity(id).unwrap_or(e.capacity);
            prop_assert!(sum <= liquidity, "own edge {id}: {sum} > {liquidity}");
        } else {
            let share = e.capacity * u128::from(l.max_channel_saturation_ppm) / 1_000_000;
            prop_assert!(sum <= share, "edge {id}: {sum} > saturation share {share}");
            let upper = scorer.bounds(&c.graph, id, 600).map_or(0, |b| b.1);
            prop_assert!(
                sum <= upper,
                "edge {id}: {sum} > learned upper bound {upper}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No route returned ever breaks a configured limit: fee-only routes, scored routes,
    /// split plans, and every set of live parts of a payment session.
    #[test]
    fn no_route_breaks_a_configured_limit(
        c in prop_oneof![arb_limited_case(), arb_split_case()]
    ) {
        let scorer = c.scorer();
        let limits = SearchLimits { max_parts: 1, ..c.limits.clone() };
        if let Ok(routes) = find_routes_with_limits(&c.graph, c.from, c.to, c.amount, 3, &c.limits) {
            for r in &routes {
                check_valid(&c.graph, c.from, c.to, c.amount, r)?;
                // the fee-only search knows no scorer and no own liquidity: check the rest
                let free = LimitedCase { lessons: vec![], own: vec![], ..c.clone() };
                check_limits(&free, &Scorer::default(), std::slice::from_ref(r), c.amount)?;
            }
        }
        let request = c.request();
        if let Ok(r) = find_scored_route(&c.graph, &scorer, &request, &c.limits) {
            check_valid(&c.graph, c.from, c.to, c.amount, &r)?;
            check_limits(&LimitedCase { limits, ..c.clone() }, &scorer, &[r], c.amount)?;
        }
        let plan = plan_payment(&c.graph, &scorer, &request, &c.limits);
        prop_assert_eq!(&plan, &plan_payment(&c.graph, &scorer, &request, &c.limits));
        if let Ok(plan) = plan {
            prop_assert!(!plan.parts.is_empty());
            for r in &plan.parts {
                check_valid(&c.graph, c.from, c.to, r.amount_received(), r)?;
            }
            let delivered: u128 = plan.parts.iter().map(Route::amount_received).sum();
            prop_assert_eq!(delivered, c.amount);
            check_limits(&c, &scorer, &plan.parts, c.amount)?;
        }
    }

    /// A payment session's live parts keep every limit after each step, it makes at most
    /// its attempts, and it completes exactly when the arrived parts add up to the amount.
    #[test]
    fn payment_sessions_keep_limits_and_attempts(
        c in prop_oneof![arb_limited_case(), arb_split_case()],
        max_attempts in 1u32..4,
    ) {
        let mut scorer = c.scorer();
        let (mut session, mut step) =
            PaymentSession::start(&c.graph, &scorer, c.request(), c.limits.clone(), max_attempts);
        let mut queue = Vec::new();
        let mut outcomes = c.outcomes.iter().cycle();
        let mut arrived = 0u128;
        for now in 601..700u64 {
            match &step {
                SessionStep::Send(parts) => queue.extend(parts.iter().cloned()),
                SessionStep::Wait => {}
                SessionStep::Complete => {
                    prop_assert_eq!(arrived, c.amount);
                    break;
                }
                SessionStep::GiveUp(_) => break,
            }
            prop_assert!(session.attempts() <= max_attempts);
            prop_assert!(session.live_amount() <= c.amount);
            let live: Vec<Route> = session
                .parts()
                .iter()
                .filter(|p| p.status != PartStatus::Failed)
                .map(|p| {
                    let path: Vec<EdgeId> = p.hops.iter().map(|h| h.edge).collect();
                    Route::from_path(&c.graph, &path, p.amount()).expect("a live part is a route")
                })
                .collect();
            // max_parts bounds each attempt's new parts; everything else bounds them all
            for attempt in 1..=session.attempts() {
                let sent = session.parts().iter().filter(|p| p.attempt == attempt).count();
                prop_assert!(sent <= c.limits.max_parts.max(1));
            }
            let all = live.len().max(1);
            check_limits_with_parts(&c, &Scorer::default(), &live, c.amount, all)?;
            let Some(part) = queue.pop() else { break };
            check_valid(&c.graph, c.from, c.to, part.route.amount_received(), &part.route)?;
            let outcome = match outcomes.next().copied().flatten() {
                None if !c.outcomes.is_empty() => AttemptOutcome::Arrived,
                None => AttemptOutcome::Arrived,
                Some(h) => AttemptOutcome::FailedAt { hop: h % part.route.hops.len() },
            };
            if outcome == AttemptOutcome::Arrived {
                arrived += part.route.amount_received();
            }
            step = session.on_result(&c.graph, &mut scorer, AttemptResult { part: part.part, outcome }, now);
        }
    }
}
