//! Routing benchmark (`cargo bench --bench routing`): load time of the real Lightning graph
//! (17,324 nodes, 50,808 channels), then route queries between pseudo-random pairs of the
//! largest strongly connected component (for the amount), printing p50/p99 latency and how
//! many found a route. Pairs come from a seeded splitmix64, so every run asks the same
//! questions. Takes well under a minute in release.

use std::time::{Duration, Instant};

use xln::bench::{format_duration, measure};
use xln::routing::{find_routes, load_lightning_graph, ChannelGraph, NodeId};

const GRAPH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/lightning/gossip-store-2026-02-03.compressed"
);
const AMOUNT_MSAT: u128 = 100_000;
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
}
