//! Latency and route statistics: the same seeded pairs asked of xln (`find_scored_route`
//! with a fresh `Scorer`, plus `plan_payment` and the fee-only `find_route`) and of LDK
//! (`find_route` with a fresh `ProbabilisticScorer`, default parameters), interleaved pair
//! by pair (alternating which goes first) so both see the same machine load.

use lightning::routing::router::{
    find_route, PaymentParameters, Route as LdkRoute, RouteParameters,
};
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
};
use xln::routing::{
    find_route as xln_fee_only, find_scored_route, plan_payment, ChannelGraph, PaymentRequest,
    Route, Scorer, SearchLimits,
};

use crate::ldk_graph::{LdkGraph, QUIET};
use crate::{hub_component, ms, pairs, percentile, Timings};

/// The receiver's final delta both routers count in the 1,008-block total.
pub const FINAL_CLTV: u32 = 40;
const SEED: u64 = 0x786c_6e5f_726f_7574; // "xln_rout", as in benches/routing.rs

/// xln's limits matching LDK's defaults for this comparison.
pub fn xln_limits() -> SearchLimits {
    SearchLimits {
        final_timeout_blocks: FINAL_CLTV,
        ..SearchLimits::default()
    }
}

/// Route statistics of one router over the pairs both routed.
#[derive(Default)]
struct Stats {
    fees: Vec<u128>,
    hops: Vec<usize>,
    timeouts: Vec<u32>,
    success_ppm: Vec<u32>,
}

impl Stats {
    fn push(&mut self, fee: u128, hops: usize, timeout: u32, success_ppm: u32) {
        self.fees.push(fee);
        self.hops.push(hops);
        self.timeouts.push(timeout);
        self.success_ppm.push(success_ppm);
    }

    fn line(&self, name: &str) -> String {
        let n = self.fees.len().max(1) as f64;
        let mut fees = self.fees.clone();
        fees.sort();
        format!(
            "{name:<12} fee median {} msat, mean {:.0} msat | hops mean {:.2} | forwarding timeout mean {:.1} blocks, max {} | estimated success (uniform prior) mean {:.1}%",
            fees.get(fees.len() / 2).copied().unwrap_or(0),
            self.fees.iter().sum::<u128>() as f64 / n,
            self.hops.iter().sum::<usize>() as f64 / n,
            self.timeouts.iter().map(|&t| f64::from(t)).sum::<f64>() / n,
            self.timeouts.iter().max().copied().unwrap_or(0),
            self.success_ppm.iter().map(|&p| f64::from(p)).sum::<f64>() / n / 1e4,
        )
    }
}

/// An LDK route as xln edges, its fee and forwarding timeout (the last hop's delta is the
/// receiver's final delta plus LDK's random shadow offset, so it is left out).
fn ldk_route_as_xln(
    g: &ChannelGraph,
    ldk: &LdkGraph,
    route: &LdkRoute,
    amount: u128,
) -> Option<Route> {
    let path = route.paths.first()?;
    let edges: Option<Vec<u32>> = path
        .hops
        .iter()
        .map(|h| ldk.edge_of(g, h.short_channel_id, &h.pubkey))
        .collect();
    Route::from_path(g, &edges?, amount).ok()
}

fn ldk_forwarding_timeout(route: &LdkRoute) -> u32 {
    route.paths.first().map_or(0, |p| {
        let n = p.hops.len();
        p.hops[..n.saturating_sub(1)]
            .iter()
            .map(|h| h.cltv_expiry_delta)
            .sum()
    })
}

/// Runs the comparison for both amounts and prints it.
pub fn run(g: &ChannelGraph, ldk: &LdkGraph, count: usize) {
    let decay = ProbabilisticScoringDecayParameters::default();
    let ldk_scorer = ProbabilisticScorer::new(decay, &ldk.graph, &QUIET);
    let ldk_params = ProbabilisticScoringFeeParameters::default();
    let scorer = Scorer::default();
    let limits = xln_limits();
    for amount in [100_000u128, 10_000_000] {
        let component = hub_component(g, amount);
        let pairs = pairs(&component, SEED ^ amount as u64, count);
        println!(
            "\n== latency, {amount} msat, {} pairs from the hub component ({} nodes)",
            pairs.len(),
            component.len()
        );
        let mut times: [Timings; 4] = Default::default();
        let mut found = [0usize; 4];
        let (mut xs, mut ls) = (Stats::default(), Stats::default());
        let mut cheaper_or_equal = 0;
        let mut violations = 0;
        for (i, &(a, b)) in pairs.iter().enumerate() {
            let request = PaymentRequest::new(a, b, amount, 0);
            let params = RouteParameters::from_payment_params_and_value(
                PaymentParameters::from_node_id(ldk.keys[b as usize], FINAL_CLTV),
                amount as u64,
            );
            let mut ldk_result = None;
            let mut xln_result = None;
            for turn in 0..2 {
                if (turn + i) % 2 == 0 {
                    xln_result =
                        Some(times[0].time(|| find_scored_route(g, &scorer, &request, &limits)));
                } else {
                    ldk_result = Some(times[1].time(|| {
                        find_route(
                            &ldk.keys[a as usize],
                            &params,
                            &ldk.graph,
                            None,
                            &QUIET,
                            &ldk_scorer,
                            &ldk_params,
                            &[0; 32],
                        )
                    }));
                }
            }
            let plan = times[2].time(|| plan_payment(g, &scorer, &request, &limits));
            let fee_only = times[3].time(|| xln_fee_only(g, a, b, amount));
            found[2] += usize::from(plan.is_ok());
            found[3] += usize::from(fee_only.is_ok());
            let xln_route = xln_result.and_then(Result::ok);
            let ldk_route = ldk_result.and_then(Result::ok);
            found[0] += usize::from(xln_route.is_some());
            found[1] += usize::from(ldk_route.is_some());
            if let Some(r) = &xln_route {
                violations += usize::from(limits.check_alone(g, r, amount).is_some());
            }
            if let (Some(x), Some(l)) = (&xln_route, &ldk_route) {
                let view = scorer.view(g, 0);
                xs.push(
                    x.total_fee,
                    x.hops.len(),
                    x.timeout_blocks,
                    view.success_ppm(g, x, a),
                );
                let as_xln = ldk_route_as_xln(g, ldk, l, amount);
                let success = as_xln.as_ref().map_or(0, |r| view.success_ppm(g, r, a));
                ls.push(
                    u128::from(l.get_total_fees()),
                    l.paths[0].hops.len(),
                    ldk_forwarding_timeout(l),
                    success,
                );
                cheaper_or_equal += usize::from(x.total_fee <= u128::from(l.get_total_fees()));
            }
        }
        for t in &mut times {
            t.sort();
        }
        let line = |name: &str, t: &Timings, n: usize| {
            println!(
                "{name:<40} wall p50 {:>10} p99 {:>10} | cpu p50 {:>10} p99 {:>10} | found {n}/{}",
                ms(percentile(&t.wall, 50)),
                ms(percentile(&t.wall, 99)),
                ms(percentile(&t.cpu, 50)),
                ms(percentile(&t.cpu, 99)),
                pairs.len()
            )
        };
        line("xln find_scored_route (probabilistic)", &times[0], found[0]);
        line("LDK find_route + ProbabilisticScorer", &times[1], found[1]);
        line("xln plan_payment (may split)", &times[2], found[2]);
        line("xln find_route (fee only, no limits)", &times[3], found[3]);
        let ratio = |f: fn(&Timings) -> &Vec<std::time::Duration>, p| {
            percentile(f(&times[1]), p).as_secs_f64()
                / percentile(f(&times[0]), p).as_secs_f64().max(1e-9)
        };
        println!(
            "ratio LDK / xln (probabilistic): wall p50 {:.1}x p99 {:.1}x | cpu p50 {:.1}x p99 {:.1}x",
            ratio(|t| &t.wall, 50),
            ratio(|t| &t.wall, 99),
            ratio(|t| &t.cpu, 50),
            ratio(|t| &t.cpu, 99)
        );
        println!(
            "route statistics over the {} pairs both routed:",
            xs.fees.len()
        );
        println!("  {}", xs.line("xln"));
        println!("  {}", ls.line("LDK"));
        println!(
            "  xln fee <= LDK fee on {cheaper_or_equal}/{} pairs; xln routes breaking a limit: {violations}",
            xs.fees.len()
        );
    }
}
