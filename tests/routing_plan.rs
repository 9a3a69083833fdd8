//! Success-aware routing on small hand-made graphs: the liquidity penalty changes which
//! route wins, learning narrows bounds and decay widens them back, every limit has its own
//! error, payments split when no single route can carry them, the sender's exact
//! liquidity is used, and a payment session retries over another route and gives up with
//! the reason. Persisted state round-trips through serde (JSON and S-expressions) and has
//! a stable canonical encoding.

use xln::crypto::Canonical;
use xln::routing::{
    find_routes_with_limits, find_scored_route, plan_payment, AttemptOutcome, AttemptResult,
    ChannelGraph, Edge, GiveUpReason, LimitBound, PaymentRequest, PaymentSession, RelativeFeeCap,
    RoutingError, Scorer, SearchLimits, SessionState, SessionStep,
};

fn fee(e: Edge, base: u128, ppm: u32) -> Edge {
    Edge {
        fee_base: base,
        fee_ppm: ppm,
        ..e
    }
}

fn cltv(e: Edge, delta: u32) -> Edge {
    Edge {
        cltv_expiry_delta: delta,
        ..e
    }
}

/// 0 → 1 → 3 over small channels (cheap: node 1 charges 1) and 0 → 2 → 3 over big ones
/// (node 2 charges 10).
fn cheap_small_dear_big() -> ChannelGraph {
    ChannelGraph::new(
        4,
        vec![
            Edge::new(0, 0, 1, 100_000),
            fee(Edge::new(1, 1, 3, 100_000), 1, 0),
            Edge::new(2, 0, 2, 100_000_000),
            fee(Edge::new(3, 2, 3, 100_000_000), 10, 0),
        ],
    )
    .unwrap()
}

fn open_limits() -> SearchLimits {
    SearchLimits {
        max_channel_saturation_ppm: 1_000_000,
        max_fee_relative: None,
        ..SearchLimits::default()
    }
}

#[test]
fn risk_outweighs_a_small_fee_difference() {
    let g = cheap_small_dear_big();
    let scorer = Scorer::default();
    // 40% of the small channel: the cheap route is likely to fail, the dear one is not
    let route = find_scored_route(
        &g,
        &scorer,
        &PaymentRequest::new(0, 3, 40_000, 0),
        &open_limits(),
    )
    .unwrap();
    assert_eq!(route.edges(), vec![2, 3]);
    assert!(route.success_probability > 0.99);
    // a tiny amount is nearly certain on both: the fee decides
    let route = find_scored_route(
        &g,
        &scorer,
        &PaymentRequest::new(0, 3, 10, 0),
        &open_limits(),
    )
    .unwrap();
    assert_eq!(route.edges(), vec![0, 1]);
}

#[test]
fn failures_narrow_bounds_and_time_restores_them() {
    let g = cheap_small_dear_big();
    let mut scorer = Scorer::default();
    assert_eq!(scorer.bounds(&g, 3, 0), Some((0, 100_000_000)));
    // a part of 5,000 crossed edge 2 and failed on edge 3
    scorer.record(
        &g,
        &[(2, 5_010), (3, 5_000)],
        AttemptOutcome::FailedAt { hop: 1 },
        100,
    );
    assert_eq!(scorer.bounds(&g, 2, 100), Some((5_010, 100_000_000)));
    assert_eq!(scorer.bounds(&g, 3, 100), Some((0, 4_999)));
    // the learned bound now rules the edge out for 5,000: the small route is taken
    let request = PaymentRequest::new(0, 3, 5_000, 100);
    assert_eq!(
        find_scored_route(&g, &scorer, &request, &open_limits())
            .unwrap()
            .edges(),
        vec![0, 1]
    );
    // one half-life later the gap to the capacity has halved
    let half = scorer.params.half_life_seconds;
    let (_, upper) = scorer.bounds(&g, 3, 100 + half).unwrap();
    assert_eq!(upper, 100_000_000 - (100_000_000 - 4_999) / 2);
    // and after many, the prior is back
    assert_eq!(
        scorer.bounds(&g, 3, 100 + 200 * half),
        Some((0, 100_000_000))
    );
    scorer.prune(100 + 200 * half);
    assert_eq!(scorer.learned_len(), 0);
}

#[test]
fn a_settled_payment_moves_liquidity_to_the_other_side() {
    // one channel in both directions with equal capacity: one balance seen from two sides
    let g = ChannelGraph::new(
        2,
        vec![Edge::new(0, 0, 1, 1_000), Edge::new(0, 1, 0, 1_000)],
    )
    .unwrap();
    let mut scorer = Scorer::default();
    scorer.record(&g, &[(0, 300)], AttemptOutcome::Arrived, 0);
    assert_eq!(scorer.bounds(&g, 0, 0), Some((300, 1_000)));
    assert_eq!(scorer.bounds(&g, 1, 0), Some((0, 700)));
    scorer.record_settled(&g, &[(0, 300)], 0);
    assert_eq!(scorer.bounds(&g, 0, 0), Some((0, 700)));
    assert_eq!(scorer.bounds(&g, 1, 0), Some((300, 1_000)));
}

#[test]
fn each_limit_has_its_own_error() {
    // 0 → 1 → 2 → 3, each forwarder asks 100 blocks and charges 1,000
    let hop = |c, a, b| cltv(fee(Edge::new(c, a, b, 1_000_000), 1_000, 0), 100);
    let g = ChannelGraph::new(4, vec![hop(0, 0, 1), hop(1, 1, 2), hop(2, 2, 3)]).unwrap();
    let request = PaymentRequest::new(0, 3, 10_000, 0);
    let scorer = Scorer::default();
    let bound_of = |limits: SearchLimits| match find_scored_route(&g, &scorer, &request, &limits) {
        Err(RoutingError::LimitExceeded { bound, .. }) => Some(bound),
        other => panic!("expected LimitExceeded, got {other:?}"),
    };
    let base = open_limits();
    assert!(find_scored_route(&g, &scorer, &request, &base).is_ok());
    assert_eq!(
        bound_of(SearchLimits {
            max_hops: 2,
            ..base.clone()
        }),
        Some(LimitBound::Hops { max: 2 })
    );
    assert_eq!(
        bound_of(SearchLimits {
            max_timeout_blocks: 240,
            final_timeout_blocks: 50,
            ..base.clone()
        }),
        Some(LimitBound::Timeout { max_blocks: 240 })
    );
    assert_eq!(
        bound_of(SearchLimits {
            max_fee: Some(1_999),
            ..base.clone()
        }),
        Some(LimitBound::FeeAbsolute { max: 1_999 })
    );
    assert_eq!(
        bound_of(SearchLimits {
            max_fee_relative: Some(RelativeFeeCap {
                base: 1_000,
                ppm: 10_000
            }),
            ..base.clone()
        }),
        Some(LimitBound::FeeRelative { max: 1_100 })
    );
    assert_eq!(
        bound_of(SearchLimits {
            max_channel_saturation_ppm: 10_000,
            ..base.clone()
        }),
        Some(LimitBound::Saturation { max_ppm: 10_000 })
    );
    // the fee-only API enforces the same limits
    let limits = SearchLimits {
        max_timeout_blocks: 150,
        ..base
    };
    match find_routes_with_limits(&g, 0, 3, 10_000, 3, &limits) {
        Err(e @ RoutingError::LimitExceeded { .. }) => {
            assert!(e
                .to_string()
                .contains("max_timeout_blocks (150 blocks in total)"))
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

/// Three disjoint two-hop paths 0 → {1, 2, 3} → 4 of 1,000 each.
fn three_paths() -> ChannelGraph {
    let mut edges = Vec::new();
    for (i, mid) in [1u32, 2, 3].into_iter().enumerate() {
        let c = 2 * i as u32;
        edges.push(Edge::new(c, 0, mid, 1_000));
        edges.push(fee(Edge::new(c + 1, mid, 4, 1_000), 1, 0));
    }
    ChannelGraph::new(5, edges).unwrap()
}

#[test]
fn payments_too_large_for_one_path_split_exactly() {
    let g = three_paths();
    let scorer = Scorer::default();
    let request = PaymentRequest::new(0, 4, 2_500, 0);
    let limits = SearchLimits {
        max_fee_relative: None,
        max_channel_saturation_ppm: 1_000_000,
        ..SearchLimits::default()
    };
    assert!(matches!(
        find_scored_route(&g, &scorer, &request, &limits),
        Err(RoutingError::AmountTooLarge { .. })
    ));
    let plan = plan_payment(&g, &scorer, &request, &limits).unwrap();
    assert_eq!(plan.parts.len(), 3);
    assert_eq!(
        plan.parts.iter().map(|r| r.amount_received()).sum::<u128>(),
        2_500
    );
    assert_eq!(limits.check_plan(&g, &plan.parts, 2_500), None);
    assert!(plan.success_ppm > 0 && plan.success_ppm < 1_000_000);
    // with at most 2 parts it cannot be done, and the error says so
    let two = SearchLimits {
        max_parts: 2,
        ..limits.clone()
    };
    assert!(matches!(
        plan_payment(&g, &scorer, &request, &two),
        Err(RoutingError::CannotSplit { max_parts: 2, .. })
    ));
    // the saturation share counts all parts on an edge: at a half, 1,500 needs all three
    let half = SearchLimits {
        max_channel_saturation_ppm: 500_000,
        ..limits
    };
    let plan = plan_payment(&g, &scorer, &PaymentRequest::new(0, 4, 1_500, 0), &half).unwrap();
    assert_eq!(plan.parts.len(), 3);
    assert_eq!(half.check_plan(&g, &plan.parts, 1_500), None);
}

#[test]
fn the_senders_exact_liquidity_rules_its_own_edges() {
    let g = three_paths();
    let scorer = Scorer::default();
    let limits = open_limits();
    // the sender's edges 0 and 2 are nearly empty: everything goes over edge 4
    let request = PaymentRequest::new(0, 4, 600, 0)
        .with_own_liquidity(0, 10)
        .with_own_liquidity(2, 10);
    let route = find_scored_route(&g, &scorer, &request, &limits).unwrap();
    assert_eq!(route.edges(), vec![4, 5]);
    // an override for an edge the sender does not own is ignored
    let request = PaymentRequest::new(0, 4, 600, 0).with_own_liquidity(5, 0);
    assert!(find_scored_route(&g, &scorer, &request, &limits).is_ok());
}

#[test]
fn a_session_retries_elsewhere_and_completes() {
    let g = three_paths();
    let mut scorer = Scorer::default();
    let request = PaymentRequest::new(0, 4, 400, 0);
    let (mut session, step) = PaymentSession::start(&g, &scorer, request, open_limits(), 3);
    let SessionStep::Send(parts) = step else {
        panic!("expected parts to send, got {step:?}")
    };
    assert_eq!(parts.len(), 1);
    let first = parts[0].route.edges();
    // the second hop fails: the session learns and sends another route
    let step = session.on_result(
        &g,
        &mut scorer,
        AttemptResult {
            part: parts[0].part,
            outcome: AttemptOutcome::FailedAt { hop: 1 },
        },
        10,
    );
    let SessionStep::Send(retry) = step else {
        panic!("expected a retry, got {step:?}")
    };
    assert_ne!(retry[0].route.edges(), first);
    assert_eq!(session.attempts(), 2);
    assert_eq!(scorer.bounds(&g, first[1], 10).map(|b| b.1), Some(399));
    // a duplicate report of the failed part changes nothing
    let before = session.clone();
    let again = AttemptResult {
        part: parts[0].part,
        outcome: AttemptOutcome::Arrived,
    };
    assert_eq!(
        session.on_result(&g, &mut scorer, again, 11),
        SessionStep::Wait
    );
    assert_eq!(session, before);
    let done = session.on_result(
        &g,
        &mut scorer,
        AttemptResult {
            part: retry[0].part,
            outcome: AttemptOutcome::Arrived,
        },
        12,
    );
    assert_eq!(done, SessionStep::Complete);
    assert_eq!(session.state(), &SessionState::Complete);
    assert_eq!(session.arrived_amount(), 400);
}

#[test]
fn a_session_gives_up_after_its_attempts_with_the_reason() {
    let g = three_paths();
    let mut scorer = Scorer::default();
    let (mut session, mut step) = PaymentSession::start(
        &g,
        &scorer,
        PaymentRequest::new(0, 4, 100, 0),
        open_limits(),
        2,
    );
    let mut reports = 0;
    let reason = loop {
        match step {
            SessionStep::Send(parts) => {
                reports += 1;
                step = session.on_result(
                    &g,
                    &mut scorer,
                    AttemptResult {
                        part: parts[0].part,
                        outcome: AttemptOutcome::FailedOther,
                    },
                    reports,
                );
            }
            SessionStep::GiveUp(reason) => break reason,
            other => panic!("unexpected step {other:?}"),
        }
        assert!(reports <= 2, "more attempts than allowed");
    };
    assert_eq!(reason, GiveUpReason::AttemptsExhausted { attempts: 2 });
    // no route at all: the session gives up at once, naming why
    let (session, step) = PaymentSession::start(
        &g,
        &scorer,
        PaymentRequest::new(4, 0, 100, 0),
        open_limits(),
        3,
    );
    assert!(matches!(
        step,
        SessionStep::GiveUp(GiveUpReason::NoRoute { .. })
    ));
    assert!(matches!(session.state(), SessionState::GaveUp(_)));
}

#[test]
fn a_split_payment_replaces_only_the_failed_part() {
    let g = three_paths();
    let mut scorer = Scorer::default();
    // 1,200 over paths of 1,000: at least two parts
    let (mut session, step) = PaymentSession::start(
        &g,
        &scorer,
        PaymentRequest::new(0, 4, 1_200, 0),
        open_limits(),
        3,
    );
    let SessionStep::Send(parts) = step else {
        panic!("expected parts, got {step:?}")
    };
    assert!(parts.len() >= 2);
    let report = |session: &mut PaymentSession, scorer: &mut Scorer, part, outcome| {
        session.on_result(&g, scorer, AttemptResult { part, outcome }, 5)
    };
    assert_eq!(
        report(
            &mut session,
            &mut scorer,
            parts[0].part,
            AttemptOutcome::Arrived
        ),
        SessionStep::Wait
    );
    // the second part fails on its last hop: the session waits for the rest of the round
    // (if any is still in flight)
    let step = report(
        &mut session,
        &mut scorer,
        parts[1].part,
        AttemptOutcome::FailedAt { hop: 1 },
    );
    let mut step = step;
    for p in &parts[2..] {
        assert_eq!(step, SessionStep::Wait);
        step = report(&mut session, &mut scorer, p.part, AttemptOutcome::Arrived);
    }
    // then plans the failed part's amount again, around the others and the failed edge
    let SessionStep::Send(again) = step.clone() else {
        panic!("expected a replacement, got {step:?}")
    };
    assert_eq!(session.attempts(), 2);
    assert_eq!(
        again
            .iter()
            .map(|p| p.route.amount_received())
            .sum::<u128>(),
        parts[1].route.amount_received()
    );
    assert_eq!(session.live_amount(), 1_200);
    let failed_edge = parts[1].route.hops[1].edge;
    assert!(again
        .iter()
        .all(|p| !p.route.edges().contains(&failed_edge)));
    for p in &again {
        step = report(&mut session, &mut scorer, p.part, AttemptOutcome::Arrived);
    }
    assert_eq!(step, SessionStep::Complete);
}

#[test]
fn scorer_and_session_round_trip_and_encode_canonically() {
    let g = three_paths();
    let mut scorer = Scorer::default();
    scorer.record(
        &g,
        &[(0, 500), (1, 499)],
        AttemptOutcome::FailedAt { hop: 1 },
        7,
    );
    let (session, _) = PaymentSession::start(
        &g,
        &scorer,
        PaymentRequest::new(0, 4, 300, 7).with_own_liquidity(0, 900),
        SearchLimits::default(),
        3,
    );
    let json = serde_json::to_string(&scorer).unwrap();
    assert_eq!(serde_json::from_str::<Scorer>(&json).unwrap(), scorer);
    let text = serde_lexpr::to_string(&scorer).unwrap();
    assert_eq!(serde_lexpr::from_str::<Scorer>(&text).unwrap(), scorer);
    let json = serde_json::to_string(&session).unwrap();
    assert_eq!(
        serde_json::from_str::<PaymentSession>(&json).unwrap(),
        session
    );
    let text = serde_lexpr::to_string(&session).unwrap();
    assert_eq!(
        serde_lexpr::from_str::<PaymentSession>(&text).unwrap(),
        session
    );
    // the canonical bytes depend on the content only, and change with it
    let copy = serde_json::from_str::<Scorer>(&serde_json::to_string(&scorer).unwrap()).unwrap();
    assert_eq!(copy.canonical_hash(), scorer.canonical_hash());
    let mut other = scorer.clone();
    other.record(&g, &[(2, 10)], AttemptOutcome::Arrived, 8);
    assert_ne!(other.canonical_hash(), scorer.canonical_hash());
    let copy = serde_json::from_str::<PaymentSession>(&json).unwrap();
    assert_eq!(copy.canonical_hash(), session.canonical_hash());
    let mut moved = session.clone();
    let part = session.parts()[0].id;
    let result = AttemptResult {
        part,
        outcome: AttemptOutcome::FailedOther,
    };
    moved.on_result(&g, &mut other, result, 9);
    assert_ne!(moved.canonical_hash(), session.canonical_hash());
}
