//! Property tests for the routing layer: the gossip CRDT laws (commutative, associative,
//! idempotent), and on random small graphs: every route respects capacities and HTLC
//! bounds, fees add up exactly, routes are sorted and distinct, results are deterministic,
//! no route is returned when brute force finds none, and on graphs without htlc minimums
//! the fees returned are exactly the N cheapest a brute-force enumeration finds.
//! Case counts keep the file at a few seconds in a debug build.

use proptest::prelude::*;
use xln::crypto::Canonical;
use xln::routing::{
    find_routes, find_routes_with_limits, AdvertisedAccount, ChannelGraph, Edge, EdgeId,
    GossipState, NodeId, Profile, Route, RoutingError, SearchLimits,
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
