//! xln's router against LDK's (`lightning` 0.2.7, `find_route` with `ProbabilisticScorer`)
//! on the bundled 2026 Lightning graph, in one process.
//!
//! * `latency`: p50/p99 of one route query for 1,000 seeded pairs at 100,000 and
//!   10,000,000 msat, the ratio, and route statistics (fee, hops, forwarding timeout).
//! * `success`: hidden liquidities drawn per seed; each router pays the same payments with
//!   up to 3 attempts, learning from failures; success rate and attempts per payment, plus
//!   payments larger than any single path's capacity (which need a split).
//! * `all` (default): both.
//!
//! Usage: `CARGO_TARGET_DIR=../../target cargo run --release -- [latency|success|all]
//! [--pairs N] [--seeds N] [--payments N]`. The graph path may be overridden with
//! `XLN_LIGHTNING_GRAPH`.

mod latency;
mod ldk_graph;
mod simulate;

use std::time::Duration;

use xln::routing::{load_lightning_graph, ChannelGraph, NodeId};

const DEFAULT_GRAPH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/lightning/gossip-store-2026-02-03.compressed"
);

/// splitmix64: a tiny deterministic PRNG (the same as `benches/routing.rs`).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform on `0..=max`.
    pub fn up_to(&mut self, max: u128) -> u128 {
        let wide = (u128::from(self.next()) << 64) | u128::from(self.next());
        if max == u128::MAX {
            wide
        } else {
            wide % (max + 1)
        }
    }
}

/// Nodes reachable from `start` over edges able to carry `amount`.
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

/// The strongly connected component of node 0 (the best-connected) over edges able to
/// carry `amount`: every pair in it has a path (as in `benches/routing.rs`).
pub fn hub_component(graph: &ChannelGraph, amount: u128) -> Vec<NodeId> {
    let (out, back) = (
        reachable(graph, 0, amount, true),
        reachable(graph, 0, amount, false),
    );
    (0..graph.node_count() as NodeId)
        .filter(|&n| out[n as usize] && back[n as usize])
        .collect()
}

/// `count` seeded pairs of distinct nodes of `component`.
pub fn pairs(component: &[NodeId], seed: u64, count: usize) -> Vec<(NodeId, NodeId)> {
    let mut rng = SplitMix64(seed);
    std::iter::from_fn(|| {
        Some((
            component[rng.below(component.len())],
            component[rng.below(component.len())],
        ))
    })
    .filter(|(a, b)| a != b)
    .take(count)
    .collect()
}

/// This thread's CPU time: unlike wall time, not inflated when other processes preempt it.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and thread-CPU durations of many runs of one query kind.
#[derive(Default)]
pub struct Timings {
    pub wall: Vec<Duration>,
    pub cpu: Vec<Duration>,
}

impl Timings {
    /// Runs `f`, recording both durations.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (wall, cpu) = (std::time::Instant::now(), thread_cpu());
        let out = f();
        self.cpu.push(thread_cpu().saturating_sub(cpu));
        self.wall.push(wall.elapsed());
        out
    }

    pub fn sort(&mut self) {
        self.wall.sort();
        self.cpu.sort();
    }
}

pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or("all", String::as_str);
    let path = std::env::var("XLN_LIGHTNING_GRAPH").unwrap_or_else(|_| DEFAULT_GRAPH.into());
    let graph = match load_lightning_graph(&path) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cannot load {path}: {e}");
            std::process::exit(2);
        }
    };
    let ldk = ldk_graph::build(&graph);
    let checked = match ldk.check(&graph) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("the LDK graph does not match: {e}");
            std::process::exit(3);
        }
    };
    let read = ldk.graph.read_only();
    println!(
        "graph: {} nodes, {} channels, {} directed edges (xln) | LDK: {} nodes, {} channels, {checked} directed updates checked equal",
        graph.node_count(),
        graph.channel_count(),
        graph.edge_count(),
        read.nodes().len(),
        read.channels().len()
    );
    drop(read);
    println!(
        "clamped to LDK's fields: base fee > u32 {} | cltv > u16 {} | htlc_max > capacity {} | rejected updates {} | rejected channels {}",
        ldk.clamped.base_fee,
        ldk.clamped.cltv_delta,
        ldk.clamped.htlc_max,
        ldk.clamped.rejected_updates,
        ldk.clamped.rejected_channels
    );
    if mode == "latency" || mode == "all" {
        latency::run(&graph, &ldk, arg(&args, "--pairs", 1_000));
    }
    if mode == "success" || mode == "all" {
        simulate::run(
            &graph,
            &ldk,
            arg(&args, "--seeds", 10),
            arg(&args, "--payments", 100),
            arg(&args, "--mpp-payments", 20),
        );
    }
}
