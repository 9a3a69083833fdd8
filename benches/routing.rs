//! Routing benchmark (`cargo bench --bench routing`): load time of the real Lightning graph
//! (17,324 nodes, 50,808 channels), then route queries between pseudo-random pairs of the
//! largest strongly connected component (for the amount), printing p50/p99 latency and how
//! many found a route: the fee-only search (`find_routes`) beside the success-aware one
//! (`find_scored_route` with a fresh `Scorer` and the default `SearchLimits`) and the
//! planner that may split (`plan_payment`), at 100,000 and 10,000,000 msat. Pairs come from
//! a seeded splitmix64, so every run asks the same questions. Takes about a minute in
//! release. The comparison with LDK is a separate crate: `bench/ldk-compare`.

use std::time::{Duration, Instant};

use xln::bench::{format_duration, measure};
use xln::routing::{
    find_routes, find_scored_route, load_lightning_graph, plan_payment, ChannelGraph, NodeId,
    PaymentRequest, Scorer, SearchLimits,
};

const GRAPH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/lightning/gossip-store-2026-02-03.compressed"
);
const AMOUNT_MSAT: u128 = 100_000;
const LARGE_AMOUNT_MSAT: u128 = 10_000_000;
const QUERIES: usize = 1_000;
const MULTI_ROUTE_QUERIES: usize = 200;
const SEED: u64 = 0x786c_6e5f_726f_7574; // "xln_rout"

/// splitmix64: a tiny deterministic PRNG, enough to pick pairs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Nodes reachable from `start` over edges able to carry `amount`, forward (outbound) or
/// backward (inbound).
fn reachable(graph: &ChannelGraph, start: NodeId, amount: u128, forward: bool) -> Vec<bool> {
    let mut seen = vec![false; graph.node_count()];
    let mut stack = vec![start];
    seen[start as usize] = true;
    while let Some(v) = stack.pop() {
        let ids = if forward {
            graph.outbound(v)
        } else {
            graph.inbound(v)
        };
        for &id in ids {
            let e = &graph.edges()[id as usize];
            let w = if forward { e.to } else { e.from };
            if e.refusal(amount).is_none() && !seen[w as usize] {
                seen[w as usize] = true;
                stack.push(w);
            }
        }
    }
    seen
}

/// The strongly connected component of the best-connected node (index 0: the file sorts
/// nodes by channel count) over edges able to carry `amount`: every pair in it is connected.
fn hub_component(graph: &ChannelGraph, amount: u128) -> Vec<NodeId> {
    let (out, back) = (
        reachable(graph, 0, amount, true),
        reachable(graph, 0, amount, false),
    );
    (0..graph.node_count() as NodeId)
        .filter(|&n| out[n as usize] && back[n as usize])
        .collect()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Runs one query per pair and prints the latency distribution and how many found routes.
fn run_queries(graph: &ChannelGraph, pairs: &[(NodeId, NodeId)], n: usize) {
    let mut times = Vec::with_capacity(pairs.len());
    let mut found = 0;
    let mut total_routes = 0;
    for &(a, b) in pairs {
        let start = Instant::now();
        let result = find_routes(graph, a, b, AMOUNT_MSAT, n);
        times.push(start.elapsed());
        if let Ok(routes) = result {
            found += 1;
            total_routes += routes.len();
        }
    }
    times.sort();
    println!(
        "find_routes n={n}, {} msat, {} pairs: p50 {}  p99 {}  max {}  found {found}/{} ({total_routes} routes)",
        AMOUNT_MSAT,
        pairs.len(),
        format_duration(percentile(&times, 50)),
        format_duration(percentile(&times, 99)),
        format_duration(times[times.len() - 1]),
        pairs.len()
    );
}

/// Runs the success-aware search (or the planner) once per pair and prints the latency
/// distribution, how many found a route, and the mean fee and hops.
fn run_scored(graph: &ChannelGraph, pairs: &[(NodeId, NodeId)], amount: u128, split: bool) {
    let scorer = Scorer::default();
    let limits = SearchLimits::default();
    let mut times = Vec::with_capacity(pairs.len());
    let (mut found, mut parts, mut fee, mut hops) = (0usize, 0usize, 0u128, 0usize);
    for &(a, b) in pairs {
        let request = PaymentRequest::new(a, b, amount, 0);
        let start = Instant::now();
        let routes = if split {
            plan_payment(graph, &scorer, &request, &limits).map(|p| p.parts)
        } else {
            find_scored_route(graph, &scorer, &request, &limits).map(|r| vec![r])
        };
        times.push(start.elapsed());
        if let Ok(routes) = routes {
            found += 1;
            parts += routes.len();
            fee += routes.iter().map(|r| r.total_fee).sum::<u128>();
            hops += routes.iter().map(|r| r.hops.len()).sum::<usize>();
        }
    }
    times.sort();
    let name = if split {
        "plan_payment"
    } else {
        "find_scored_route"
    };
    println!(
        "{name}, {amount} msat, {} pairs: p50 {}  p99 {}  max {}  found {found}/{} ({parts} parts, mean fee {} msat, mean hops {:.2})",
        pairs.len(),
        format_duration(percentile(&times, 50)),
        format_duration(percentile(&times, 99)),
        format_duration(times[times.len() - 1]),
        pairs.len(),
        fee / found.max(1) as u128,
        hops as f64 / parts.max(1) as f64,
    );
}

fn main() {
    measure(
        "routing/load lightning graph (gunzip + parse)",
        5,
        1,
        |_| load_lightning_graph(GRAPH).expect("the vector file loads"),
    );
    let graph = load_lightning_graph(GRAPH).expect("the vector file loads");
    let component = hub_component(&graph, AMOUNT_MSAT);
    println!(
        "graph: {} nodes, {} channels, {} directed edges; hub component for {} msat: {} nodes",
        graph.node_count(),
        graph.channel_count(),
        graph.edge_count(),
        AMOUNT_MSAT,
        component.len()
    );
    let mut rng = SplitMix64(SEED);
    let pairs: Vec<(NodeId, NodeId)> = std::iter::from_fn(|| {
        Some((
            component[rng.below(component.len())],
            component[rng.below(component.len())],
        ))
    })
    .filter(|(a, b)| a != b)
    .take(QUERIES)
    .collect();
    measure(
        "routing/find_routes n=1 (median, cycling pairs)",
        10,
        100,
        |i| {
            let (a, b) = pairs[i as usize % pairs.len()];
            find_routes(&graph, a, b, AMOUNT_MSAT, 1)
        },
    );
    run_queries(&graph, &pairs, 1);
    run_queries(&graph, &pairs[..MULTI_ROUTE_QUERIES], 3);
    run_scored(&graph, &pairs, AMOUNT_MSAT, false);
    run_scored(&graph, &pairs, AMOUNT_MSAT, true);
    let large = hub_component(&graph, LARGE_AMOUNT_MSAT);
    let mut rng = SplitMix64(SEED ^ 1);
    let large_pairs: Vec<(NodeId, NodeId)> =
        std::iter::from_fn(|| Some((large[rng.below(large.len())], large[rng.below(large.len())])))
            .filter(|(a, b)| a != b)
            .take(QUERIES)
            .collect();
    run_scored(&graph, &large_pairs, LARGE_AMOUNT_MSAT, false);
    run_scored(&graph, &large_pairs, LARGE_AMOUNT_MSAT, true);
}
