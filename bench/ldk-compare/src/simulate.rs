//! Success-rate simulation. Per seed, every channel gets a hidden balance: direction 0 may
//! send `L`, uniform on `0..=capacity`, direction 1 the rest. Each router gets its own copy
//! of those balances and a fresh scorer, then pays the same seeded payments in the same
//! order (time advances 60 s per payment): up to 3 attempts per payment, each a route or a
//! split; a part goes through if every hop's remaining balance covers what it carries
//! (parts of one payment held at the receiver keep their balance reserved); a payment
//! succeeds when the receiver holds the whole amount, and then the balances move; a failed
//! hop is reported to the router (which hop, as the failure onion says) and learned from.
//! The sender knows its own channels' balances exactly (LDK through `first_hops`, xln
//! through `PaymentRequest::own_liquidity`).
//!
//! Payments: amounts cycle through 10^5, 10^6, 10^7 and 10^8 msat between seeded pairs of
//! the hub component; plus "split" payments of 1.5 × the widest single path's capacity
//! between well-connected pairs, which no single route can carry.
//!
//! Diagnostics (environment): `XLN_SIM_REASONS=1` prints every payment only one router
//! completed, with xln's reason; `XLN_SIM_TRACE=FROM-TO` prints both routers' parts for
//! that pair; `XLN_SIM_ONLY_CLASS=i` keeps only amount class `i` (0..3) besides the split
//! payments; `XLN_SIM_SATURATION=PPM` overrides xln's saturation limit.

use std::time::Duration;

use lightning::ln::channel_state::{ChannelCounterparty, ChannelDetails};
use lightning::ln::types::ChannelId;
use lightning::routing::router::{
    find_route, InFlightHtlcs, Path, PaymentParameters, RouteParameters,
    ScorerAccountingForInFlightHtlcs,
};
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
    ScoreUpdate,
};
use lightning::types::features::InitFeatures;
use xln::routing::{
    AttemptOutcome, AttemptResult, ChannelGraph, EdgeId, NodeId, PaymentRequest, PaymentSession,
    Scorer, SessionStep,
};

use crate::latency::{xln_limits, FINAL_CLTV};
use crate::ldk_graph::{scid, LdkGraph, QUIET};
use crate::{hub_component, pairs, SplitMix64};

thread_local! {
    /// Why the last xln payment gave up (for `XLN_SIM_REASONS`).
    static LAST_REASON: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

const AMOUNTS: [u128; 4] = [100_000, 1_000_000, 10_000_000, 100_000_000];
const MAX_ATTEMPTS: u32 = 3;
const START_SECONDS: u64 = 1_700_000_000;

/// Hidden balances per directed edge (edges `2c`, `2c + 1` are the two sides of channel c).
#[derive(Clone)]
struct Ledger {
    balance: Vec<u128>,
}

impl Ledger {
    fn draw(g: &ChannelGraph, rng: &mut SplitMix64) -> Ledger {
        let mut balance = vec![0; g.edge_count()];
        for pair in (0..g.edge_count()).step_by(2) {
            let capacity = g.edges()[pair].capacity;
            let l = rng.up_to(capacity);
            balance[pair] = l;
            balance[pair + 1] = capacity - l;
        }
        Ledger { balance }
    }

    /// Reserves each hop's amount in order; on the first hop whose balance is short,
    /// releases what was reserved and returns its index.
    fn reserve(&mut self, hops: &[(EdgeId, u128)]) -> Result<(), usize> {
        for (k, &(edge, amount)) in hops.iter().enumerate() {
            if self.balance[edge as usize] < amount {
                self.release(&hops[..k]);
                return Err(k);
            }
            self.balance[edge as usize] -= amount;
        }
        Ok(())
    }

    fn release(&mut self, hops: &[(EdgeId, u128)]) {
        for &(edge, amount) in hops {
            self.balance[edge as usize] += amount;
        }
    }

    /// Settles reserved hops: the amounts arrive on the other side of each channel.
    fn settle(&mut self, hops: &[(EdgeId, u128)]) {
        for &(edge, amount) in hops {
            self.balance[(edge ^ 1) as usize] += amount;
        }
    }
}

/// Tally of one router over one class of payments.
#[derive(Default, Clone, Copy)]
struct Tally {
    payments: usize,
    succeeded: usize,
    attempts: usize,
    parts: usize,
}

impl Tally {
    fn add(&mut self, ok: bool, attempts: usize, parts: usize) {
        self.payments += 1;
        self.succeeded += usize::from(ok);
        self.attempts += attempts;
        self.parts += parts;
    }

    fn show(&self) -> String {
        let n = self.payments.max(1) as f64;
        format!(
            "success {:>5.1}% ({}/{})  attempts/payment {:.2}  parts/payment {:.2}",
            100.0 * self.succeeded as f64 / n,
            self.succeeded,
            self.payments,
            self.attempts as f64 / n,
            self.parts as f64 / n
        )
    }
}

/// One payment by xln: a `PaymentSession` driven against the ledger.
fn pay_xln(
    g: &ChannelGraph,
    ledger: &mut Ledger,
    scorer: &mut Scorer,
    (from, to, amount): (NodeId, NodeId, u128),
    now: u64,
) -> (bool, usize, usize) {
    let mut limits = xln_limits();
    if let Some(ppm) = std::env::var("XLN_SIM_SATURATION")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        limits.max_channel_saturation_ppm = ppm;
    }
    let mut request = PaymentRequest::new(from, to, amount, now);
    for &edge in g.outbound(from) {
        request = request.with_own_liquidity(edge, ledger.balance[edge as usize]);
    }
    let (mut session, mut step) = PaymentSession::start(g, scorer, request, limits, MAX_ATTEMPTS);
    let mut held: Vec<Vec<(EdgeId, u128)>> = Vec::new();
    let mut queue = Vec::new();
    let mut parts = 0;
    loop {
        match step {
            SessionStep::Send(sends) => queue.extend(sends),
            SessionStep::Wait => {}
            SessionStep::Complete => {
                for hops in &held {
                    ledger.settle(hops);
                }
                return (true, session.attempts() as usize, parts);
            }
            SessionStep::GiveUp(reason) => {
                LAST_REASON.with(|r| *r.borrow_mut() = reason.to_string());
                break;
            }
        }
        let Some(send) = queue.pop() else { break };
        parts += 1;
        let hops: Vec<(EdgeId, u128)> = send
            .route
            .hops
            .iter()
            .map(|h| (h.edge, h.amount_to_forward))
            .collect();
        let outcome = match ledger.reserve(&hops) {
            Ok(()) => {
                held.push(hops);
                AttemptOutcome::Arrived
            }
            Err(hop) => AttemptOutcome::FailedAt { hop },
        };
        if std::env::var("XLN_SIM_TRACE").ok() == Some(format!("{from}-{to}")) {
            let caps: Vec<String> = send
                .route
                .hops
                .iter()
                .map(|h| {
                    let c = g.edges()[h.edge as usize].capacity;
                    format!("{}:{}%", h.edge, h.amount_to_forward * 100 / c.max(1))
                })
                .collect();
            eprintln!(
                "  xln attempt {} part {} amount {} hops [{}] -> {outcome:?}",
                session.attempts(),
                send.part,
                send.route.amount_received(),
                caps.join(" ")
            );
        }
        let result = AttemptResult {
            part: send.part,
            outcome,
        };
        step = session.on_result(g, scorer, result, now);
    }
    for hops in &held {
        ledger.release(hops);
    }
    (false, session.attempts() as usize, parts)
}

/// The sender's channels as LDK's `ChannelDetails`, with their exact balances.
fn first_hops(
    g: &ChannelGraph,
    ldk: &LdkGraph,
    ledger: &Ledger,
    from: NodeId,
) -> Vec<ChannelDetails> {
    g.outbound(from)
        .iter()
        .map(|&id| {
            let e = &g.edges()[id as usize];
            let balance = ledger.balance[id as usize].min(u128::from(u64::MAX)) as u64;
            ChannelDetails {
                channel_id: ChannelId::from_bytes([0; 32]),
                counterparty: ChannelCounterparty {
                    node_id: ldk.keys[e.to as usize],
                    features: InitFeatures::empty(),
                    unspendable_punishment_reserve: 0,
                    forwarding_info: None,
                    outbound_htlc_minimum_msat: None,
                    outbound_htlc_maximum_msat: None,
                },
                funding_txo: None,
                channel_type: None,
                short_channel_id: Some(scid(e.channel)),
                outbound_scid_alias: None,
                inbound_scid_alias: None,
                channel_value_satoshis: (e.capacity / 1_000) as u64,
                unspendable_punishment_reserve: None,
                user_channel_id: 0,
                outbound_capacity_msat: balance,
                next_outbound_htlc_limit_msat: if e.disabled { 0 } else { balance },
                next_outbound_htlc_minimum_msat: e.htlc_min.unwrap_or(0) as u64,
                inbound_capacity_msat: ledger.balance[(id ^ 1) as usize] as u64,
                confirmations_required: None,
                confirmations: Some(10),
                force_close_spend_delay: None,
                is_outbound: true,
                is_channel_ready: true,
                channel_shutdown_state: None,
                is_usable: !e.disabled,
                is_announced: true,
                inbound_htlc_minimum_msat: None,
                inbound_htlc_maximum_msat: None,
                config: None,
                pending_inbound_htlcs: Vec::new(),
                pending_outbound_htlcs: Vec::new(),
                funding_redeem_script: None,
                feerate_sat_per_1000_weight: None,
            }
        })
        .collect()
}

/// An LDK path as (xln edge, amount it carries) hops.
fn ldk_hops(g: &ChannelGraph, ldk: &LdkGraph, path: &Path) -> Option<Vec<(EdgeId, u128)>> {
    let mut carried: u128 = path.hops.iter().map(|h| u128::from(h.fee_msat)).sum();
    let mut hops = Vec::with_capacity(path.hops.len());
    for h in &path.hops {
        hops.push((ldk.edge_of(g, h.short_channel_id, &h.pubkey)?, carried));
        carried -= u128::from(h.fee_msat);
    }
    Some(hops)
}

/// One payment by LDK: `find_route` per attempt for what is missing, with the held parts
/// accounted as in-flight HTLCs and the failed channels passed back, as LDK's own payment
/// retry logic does.
fn pay_ldk(
    g: &ChannelGraph,
    ldk: &LdkGraph,
    ledger: &mut Ledger,
    scorer: &mut ProbabilisticScorer<
        &lightning::routing::gossip::NetworkGraph<&'static crate::ldk_graph::Quiet>,
        &'static crate::ldk_graph::Quiet,
    >,
    (from, to, amount): (NodeId, NodeId, u128),
    now: u64,
) -> (bool, usize, usize) {
    let params = ProbabilisticScoringFeeParameters::default();
    let time = Duration::from_secs(now);
    scorer.time_passed(time);
    let payer = ldk.keys[from as usize];
    let fee_cap = amount as u64 / 100 + 50_000;
    let mut held: Vec<(Path, Vec<(EdgeId, u128)>)> = Vec::new();
    let mut failed_scids = Vec::new();
    let (mut attempts, mut parts) = (0, 0);
    let mut remaining = amount;
    while remaining > 0 && attempts < MAX_ATTEMPTS as usize {
        attempts += 1;
        let mut payment = PaymentParameters::for_keysend(ldk.keys[to as usize], FINAL_CLTV, true);
        payment.previously_failed_channels = failed_scids.clone();
        let mut route_params =
            RouteParameters::from_payment_params_and_value(payment, remaining as u64);
        let held_fees: u64 = held.iter().map(|(p, _)| p.fee_msat()).sum();
        route_params.max_total_routing_fee_msat = Some(fee_cap.saturating_sub(held_fees));
        let mut inflight = InFlightHtlcs::new();
        for (path, _) in &held {
            inflight.process_path(path, payer);
        }
        let details = first_hops(g, ldk, ledger, from);
        let refs: Vec<&ChannelDetails> = details.iter().collect();
        let route = {
            let accounting = ScorerAccountingForInFlightHtlcs::new(&*scorer, &inflight);
            find_route(
                &payer,
                &route_params,
                &ldk.graph,
                Some(&refs),
                &QUIET,
                &accounting,
                &params,
                &[0; 32],
            )
        };
        let Ok(route) = route else { break };
        for path in route.paths {
            parts += 1;
            let Some(hops) = ldk_hops(g, ldk, &path) else {
                continue;
            };
            if std::env::var("XLN_SIM_TRACE").ok() == Some(format!("{from}-{to}")) {
                let caps: Vec<String> = hops
                    .iter()
                    .map(|&(e, a)| {
                        let c = g.edges()[e as usize].capacity;
                        format!("{e}:{}%", a * 100 / c.max(1))
                    })
                    .collect();
                eprintln!(
                    "  LDK attempt {attempts} amount {} hops [{}] -> {:?}",
                    path.final_value_msat(),
                    caps.join(" "),
                    ledger.clone().reserve(&hops)
                );
            }
            match ledger.reserve(&hops) {
                Ok(()) => {
                    remaining = remaining.saturating_sub(u128::from(path.final_value_msat()));
                    held.push((path, hops));
                }
                Err(k) => {
                    let failed = path.hops[k].short_channel_id;
                    scorer.payment_path_failed(&path, failed, time);
                    failed_scids.push(failed);
                }
            }
        }
    }
    if remaining == 0 {
        for (path, hops) in &held {
            ledger.settle(hops);
            scorer.payment_path_successful(path, time);
        }
        return (true, attempts, parts);
    }
    for (_, hops) in &held {
        ledger.release(hops);
    }
    (false, attempts, parts)
}

/// The largest amount one path from `from` to `to` can carry by capacity and htlc_max
/// (fees ignored, so it is an upper bound): a widest-path Dijkstra.
fn widest_path(g: &ChannelGraph, from: NodeId, to: NodeId) -> u128 {
    let mut best = vec![0u128; g.node_count()];
    let mut heap = std::collections::BinaryHeap::new();
    best[from as usize] = u128::MAX;
    heap.push((u128::MAX, from));
    while let Some((width, v)) = heap.pop() {
        if width < best[v as usize] {
            continue;
        }
        if v == to {
            return width;
        }
        for &id in g.outbound(v) {
            let e = &g.edges()[id as usize];
            let w = width.min(e.max_carry());
            if w > best[e.to as usize] {
                best[e.to as usize] = w;
                heap.push((w, e.to));
            }
        }
    }
    0
}

fn capacity_sum(g: &ChannelGraph, ids: &[EdgeId]) -> u128 {
    ids.iter()
        .map(|&id| g.edges()[id as usize].max_carry())
        .sum()
}

/// Split payments: pairs whose widest path is at least 1,000 sat and whose sender and
/// receiver have 4× the amount in capacity around them; amount 1.5 × the widest path.
fn split_payments(
    g: &ChannelGraph,
    component: &[NodeId],
    seed: u64,
    count: usize,
) -> Vec<(NodeId, NodeId, u128)> {
    let mut out = Vec::new();
    for (a, b) in pairs(component, seed, count * 50) {
        let widest = widest_path(g, a, b);
        let amount = widest + widest / 2;
        if widest >= 1_000_000
            && capacity_sum(g, g.outbound(a)) >= 4 * amount
            && capacity_sum(g, g.inbound(b)) >= 4 * amount
        {
            out.push((a, b, amount));
            if out.len() == count {
                break;
            }
        }
    }
    out
}

/// Runs the simulation over `seeds` seeds and prints the tallies.
pub fn run(g: &ChannelGraph, ldk: &LdkGraph, seeds: usize, payments: usize, splits: usize) {
    let component = hub_component(g, 100_000);
    println!(
        "\n== success simulation: {seeds} seeds x ({payments} payments + {splits} split payments), up to {MAX_ATTEMPTS} attempts each"
    );
    let mut tallies = vec![[Tally::default(); 2]; AMOUNTS.len() + 1];
    for seed in 0..seeds as u64 {
        let mut rng = SplitMix64(0x5eed_0000 + seed);
        let hidden = Ledger::draw(g, &mut rng);
        let only: Option<usize> = std::env::var("XLN_SIM_ONLY_CLASS")
            .ok()
            .and_then(|v| v.parse().ok());
        let mut list: Vec<(NodeId, NodeId, u128, usize)> = pairs(&component, rng.next(), payments)
            .into_iter()
            .enumerate()
            .map(|(i, (a, b))| (a, b, AMOUNTS[i % AMOUNTS.len()], i % AMOUNTS.len()))
            .filter(|p| only.is_none_or(|c| c == p.3))
            .collect();
        list.extend(
            split_payments(g, &component, rng.next(), splits)
                .into_iter()
                .map(|(a, b, x)| (a, b, x, AMOUNTS.len())),
        );
        let (mut xln_ledger, mut ldk_ledger) = (hidden.clone(), hidden);
        let mut xln_scorer = Scorer::default();
        let decay = ProbabilisticScoringDecayParameters::default();
        let mut ldk_scorer = ProbabilisticScorer::new(decay, &ldk.graph, &QUIET);
        for (i, &(a, b, amount, class)) in list.iter().enumerate() {
            let now = START_SECONDS + 60 * i as u64;
            LAST_REASON.with(|r| r.borrow_mut().clear());
            let (xln_ok, attempts, parts) =
                pay_xln(g, &mut xln_ledger, &mut xln_scorer, (a, b, amount), now);
            tallies[class][0].add(xln_ok, attempts, parts);
            let (ok, attempts, parts) = pay_ldk(
                g,
                ldk,
                &mut ldk_ledger,
                &mut ldk_scorer,
                (a, b, amount),
                now,
            );
            tallies[class][1].add(ok, attempts, parts);
            if ok != xln_ok && std::env::var_os("XLN_SIM_REASONS").is_some() {
                let why = LAST_REASON.with(|r| r.borrow().clone());
                let who = if ok { "LDK" } else { "xln" };
                eprintln!("only {who} succeeded: {a} -> {b} {amount} msat; xln: {why}");
            }
        }
        eprintln!("seed {seed} done");
    }
    let mut total = [Tally::default(); 2];
    for (class, pair) in tallies.iter().enumerate() {
        let name = match AMOUNTS.get(class) {
            Some(a) => format!("{a} msat"),
            None => "split (1.5x widest path)".to_string(),
        };
        println!("{name:<26} xln {}", pair[0].show());
        println!("{:<26} LDK {}", "", pair[1].show());
        if class < AMOUNTS.len() {
            for r in 0..2 {
                let t = &mut total[r];
                t.payments += pair[r].payments;
                t.succeeded += pair[r].succeeded;
                t.attempts += pair[r].attempts;
                t.parts += pair[r].parts;
            }
        }
    }
    println!("{:<26} xln {}", "all single-size payments", total[0].show());
    println!("{:<26} LDK {}", "", total[1].show());
}
