//! One payment's retry state machine, [`PaymentSession`]: pure and deterministic,
//! `(session, attempt result, now) → next parts to send, wait, done, or give up with the
//! reason`. The caller (a sender entity's replica) sends the parts, reports each part's
//! outcome, and persists the session and its [`Scorer`] with its own state.
//!
//! Life of a payment: [`PaymentSession::start`] plans the amount ([`plan_payment`], maybe
//! split) — attempt 1. Each [`AttemptResult`] updates the scorer (what the hops proved
//! about liquidity) and the part's status. Once every part of the attempt has an outcome
//! and some failed, the amount not arrived is planned again — one more attempt — with the
//! parts still alive
//! counted on the edges they use, the failed edge avoided for the rest of this payment, the
//! fee budget reduced by the live parts' fees, and up to `max_parts` new parts. After
//! `max_attempts` attempts, or when nothing is left to try, the session gives up; the
//! caller then fails the parts still held (the receiver releases the preimage only once it
//! holds the full amount, so nothing settles). When the parts that arrived add up to the
//! amount, the session is complete. The session has serde forms and a canonical encoding
//! (`Canonical`), so replicas can persist it and compare its hash.

use super::graph::{ChannelGraph, EdgeId, EdgeKey};
use super::limits::SearchLimits;
use super::plan::{plan_payment, plan_with_view, PaymentPlan, PaymentRequest};
use super::route::Route;
use super::scorer::{AttemptOutcome, Scorer};
use crate::crypto::{tagged, Canonical, RlpItem};

/// Where a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PartStatus {
    /// Sent; no outcome yet.
    InFlight,
    /// Held by the receiver (counts toward the amount).
    Arrived,
    /// Failed; its amount was (or will be) planned again.
    Failed,
}

/// One hop of a sent part, with the stable key the scorer learns under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartHop {
    /// The edge id in the graph the part was planned on.
    pub edge: EdgeId,
    /// The edge's stable key (what learning resolves against the current graph).
    pub key: EdgeKey,
    /// The amount the hop carries.
    #[serde(with = "super::scorer::decimal")]
    pub amount: u128,
    /// The fee the hop's forwarder keeps.
    #[serde(with = "super::scorer::decimal")]
    pub fee: u128,
}

/// A part the session sent, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartRecord {
    /// The part's id within the session (ascending from 1).
    pub id: u64,
    /// The attempt that sent it (1 = the first plan).
    pub attempt: u32,
    /// Its hops, sender first.
    pub hops: Vec<PartHop>,
    /// Where it is.
    pub status: PartStatus,
}

impl PartRecord {
    /// What the receiver gets from this part.
    pub fn amount(&self) -> u128 {
        self.hops.last().map_or(0, |h| h.amount)
    }

    /// The part's total fee.
    pub fn fee(&self) -> u128 {
        self.hops.iter().fold(0, |sum, h| sum.saturating_add(h.fee))
    }
}

/// A part to send now: its id (to report its outcome with) and its route.
#[derive(Debug, Clone, PartialEq)]
pub struct PartAttempt {
    /// The id to report with in [`AttemptResult::part`].
    pub part: u64,
    /// The route, with the exact amount and fee of every hop.
    pub route: Route,
}

/// The outcome of one part, as the network reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttemptResult {
    /// The part's id.
    pub part: u64,
    /// What happened to it.
    pub outcome: AttemptOutcome,
}

/// Why a session gave up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GiveUpReason {
    /// Parts failed and every allowed attempt was made.
    AttemptsExhausted {
        /// Attempts made (the limit).
        attempts: u32,
    },
    /// No route or split could carry what was left to send.
    NoRoute {
        /// The routing error's message (names the limit that ruled routes out, if any).
        reason: String,
    },
}

impl std::fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GiveUpReason::AttemptsExhausted { attempts } => {
                write!(f, "parts failed after all {attempts} attempts")
            }
            GiveUpReason::NoRoute { reason } => f.write_str(reason),
        }
    }
}

/// Where the session stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionState {
    /// Parts are in flight or about to be sent.
    Pending,
    /// The arrived parts add up to the amount: the receiver may settle.
    Complete,
    /// Nothing more will be tried; parts still held must be failed by the caller.
    GaveUp(GiveUpReason),
}

/// What the caller should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionStep {
    /// Send these parts (a new attempt).
    Send(Vec<PartAttempt>),
    /// Wait for the outcome of parts in flight.
    Wait,
    /// The full amount arrived.
    Complete,
    /// Give up, for this reason.
    GiveUp(GiveUpReason),
}

/// The retry state machine of one payment (see the module doc). Persist it as data; all
/// inputs, `now` included, arrive as arguments.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentSession {
    request: PaymentRequest,
    limits: SearchLimits,
    max_attempts: u32,
    attempts: u32,
    parts: Vec<PartRecord>,
    /// Edges that failed a part of this payment: avoided by its later attempts.
    avoid: Vec<EdgeKey>,
    state: SessionState,
}

impl PaymentSession {
    /// Attempts a session makes unless told otherwise.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    /// Starts a payment: plans `request` under `scorer` (attempt 1). Returns the session
    /// and its first step: `Send` with the parts, or `GiveUp` if no plan fits (the session
    /// is then finished). `max_attempts` of 0 counts as 1.
    pub fn start(
        graph: &ChannelGraph,
        scorer: &Scorer,
        request: PaymentRequest,
        limits: SearchLimits,
        max_attempts: u32,
    ) -> (PaymentSession, SessionStep) {
        let plan = plan_payment(graph, scorer, &request, &limits);
        let mut session = PaymentSession {
            request,
            limits,
            max_attempts: max_attempts.max(1),
            attempts: 1,
            parts: Vec::new(),
            avoid: Vec::new(),
            state: SessionState::Pending,
        };
        let step = session.adopt(graph, plan);
        (session, step)
    }

    /// A session whose first attempt the caller planned and sent itself (an entity's
    /// validator plans with [`plan_payment`], proposes the parts to its board, and keeps the
    /// session beside its gossip view): `parts` are the sent routes' hops, sender first, in
    /// the order the parts were sent (their ids are 1, 2, …). `max_attempts` of 0 counts as 1.
    pub fn resume(
        request: PaymentRequest,
        limits: SearchLimits,
        max_attempts: u32,
        parts: Vec<Vec<PartHop>>,
    ) -> PaymentSession {
        let parts = parts
            .into_iter()
            .enumerate()
            .map(|(i, hops)| PartRecord {
                id: i as u64 + 1,
                attempt: 1,
                hops,
                status: PartStatus::InFlight,
            })
            .collect();
        PaymentSession {
            request,
            limits,
            max_attempts: max_attempts.max(1),
            attempts: 1,
            parts,
            avoid: Vec::new(),
            state: SessionState::Pending,
        }
    }

    /// Plans what is neither in flight nor arrived now — one more attempt — even while
    /// parts are in flight, for a caller that learns of arrivals only at settlement (a
    /// receiver holding a multi-part set reveals nothing until it is complete, so "every
    /// part of the round has an outcome" never comes before the retry is needed). The
    /// caller batches the failures it learned together before calling, so one bad edge
    /// still costs one attempt. `from`, `to` and `own_liquidity` refresh the request for
    /// the graph as it is now (node and edge ids change when the graph is rebuilt); own
    /// liquidity counts the live parts' amounts as available (they are added as usage).
    /// Returns `Wait` if nothing is missing, the current step if the session is finished.
    pub fn replan(
        &mut self,
        graph: &ChannelGraph,
        scorer: &Scorer,
        refreshed: PaymentRequest,
        now: u64,
    ) -> SessionStep {
        if self.state != SessionState::Pending {
            return self.current_step();
        }
        self.request.from = refreshed.from;
        self.request.to = refreshed.to;
        self.request.own_liquidity = refreshed.own_liquidity;
        self.retry(graph, scorer, now)
    }

    /// Takes one part's outcome at `now`: the scorer learns from it, and the session says
    /// what to do next. An id that is unknown or not in flight changes nothing (a duplicate
    /// or forged report) and returns the current step.
    pub fn on_result(
        &mut self,
        graph: &ChannelGraph,
        scorer: &mut Scorer,
        result: AttemptResult,
        now: u64,
    ) -> SessionStep {
        let Some(index) = self
            .parts
            .iter()
            .position(|p| p.id == result.part && p.status == PartStatus::InFlight)
        else {
            return self.current_step();
        };
        let part = &mut self.parts[index];
        let hops: Option<Vec<(EdgeId, u128)>> = part
            .hops
            .iter()
            .map(|h| graph.edge_by_key(&h.key).map(|id| (id, h.amount)))
            .collect();
        if let Some(hops) = &hops {
            scorer.record(graph, hops, result.outcome, now);
        }
        match result.outcome {
            AttemptOutcome::Arrived => part.status = PartStatus::Arrived,
            AttemptOutcome::FailedAt { hop } => {
                part.status = PartStatus::Failed;
                if let Some(h) = part.hops.get(hop) {
                    if !self.avoid.contains(&h.key) {
                        self.avoid.push(h.key.clone());
                    }
                }
            }
            AttemptOutcome::FailedOther => part.status = PartStatus::Failed,
        }
        if self.state != SessionState::Pending {
            return self.current_step();
        }
        if self.arrived_amount() == self.request.amount {
            self.state = SessionState::Complete;
            self.record_settlement(graph, scorer, now);
            return SessionStep::Complete;
        }
        if self.parts.iter().any(|p| p.status == PartStatus::InFlight) {
            // One attempt is one round: what failed is planned again once every part of
            // the round has an outcome, so one bad edge shared by several parts costs one
            // attempt, not one per part, and the new plan knows all the round taught.
            return SessionStep::Wait;
        }
        self.retry(graph, scorer, now)
    }

    /// The payment completes (the receiver settles every held part): the arrived parts'
    /// amounts moved, which the scorer learns.
    fn record_settlement(&self, graph: &ChannelGraph, scorer: &mut Scorer, now: u64) {
        for part in self
            .parts
            .iter()
            .filter(|p| p.status == PartStatus::Arrived)
        {
            let hops: Option<Vec<(EdgeId, u128)>> = part
                .hops
                .iter()
                .map(|h| graph.edge_by_key(&h.key).map(|id| (id, h.amount)))
                .collect();
            if let Some(hops) = hops {
                scorer.record_settled(graph, &hops, now);
            }
        }
    }

    /// Plans what is missing (attempt `attempts + 1`), or gives up.
    fn retry(&mut self, graph: &ChannelGraph, scorer: &Scorer, now: u64) -> SessionStep {
        let missing = self.request.amount - self.live_amount();
        if missing == 0 {
            return SessionStep::Wait;
        }
        if self.attempts >= self.max_attempts {
            return self.give_up(GiveUpReason::AttemptsExhausted {
                attempts: self.attempts,
            });
        }
        self.attempts += 1;
        let request = PaymentRequest {
            amount: missing,
            now,
            ..self.request.clone()
        };
        let mut view = request.view(graph, scorer);
        for hop in self.live_parts().flat_map(|p| p.hops.iter()) {
            if let Some(id) = graph.edge_by_key(&hop.key) {
                view.add_usage(graph, id, hop.amount);
            }
        }
        for key in &self.avoid {
            if let Some(id) = graph.edge_by_key(key) {
                view.forbid(graph, id);
            }
        }
        let live_fee = self
            .live_parts()
            .fold(0u128, |sum, p| sum.saturating_add(p.fee()));
        let fee_budget = self
            .limits
            .fee_cap(self.request.amount)
            .saturating_sub(live_fee);
        let max_parts = self.limits.max_parts;
        let plan = plan_with_view(graph, &view, &request, &self.limits, fee_budget, max_parts);
        self.adopt(graph, plan)
    }

    /// Records a plan's parts as sent (or gives up with the planning error).
    fn adopt(
        &mut self,
        graph: &ChannelGraph,
        plan: Result<PaymentPlan, super::RoutingError>,
    ) -> SessionStep {
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => {
                return self.give_up(GiveUpReason::NoRoute {
                    reason: error.to_string(),
                })
            }
        };
        let mut sends = Vec::with_capacity(plan.parts.len());
        for route in plan.parts {
            let id = self.parts.last().map_or(1, |p| p.id + 1);
            let hops = route
                .hops
                .iter()
                .map(|h| PartHop {
                    edge: h.edge,
                    key: graph.edge_key(h.edge).unwrap_or(EdgeKey {
                        from: Vec::new(),
                        to: Vec::new(),
                        parallel: 0,
                    }),
                    amount: h.amount_to_forward,
                    fee: h.fee,
                })
                .collect();
            self.parts.push(PartRecord {
                id,
                attempt: self.attempts,
                hops,
                status: PartStatus::InFlight,
            });
            sends.push(PartAttempt { part: id, route });
        }
        SessionStep::Send(sends)
    }

    fn give_up(&mut self, reason: GiveUpReason) -> SessionStep {
        self.state = SessionState::GaveUp(reason.clone());
        SessionStep::GiveUp(reason)
    }

    fn current_step(&self) -> SessionStep {
        match &self.state {
            SessionState::Pending => SessionStep::Wait,
            SessionState::Complete => SessionStep::Complete,
            SessionState::GaveUp(reason) => SessionStep::GiveUp(reason.clone()),
        }
    }

    fn live_parts(&self) -> impl Iterator<Item = &PartRecord> {
        self.parts.iter().filter(|p| p.status != PartStatus::Failed)
    }

    /// What the parts in flight or arrived will deliver.
    pub fn live_amount(&self) -> u128 {
        self.live_parts().map(PartRecord::amount).sum()
    }

    /// What the arrived parts deliver.
    pub fn arrived_amount(&self) -> u128 {
        self.parts
            .iter()
            .filter(|p| p.status == PartStatus::Arrived)
            .map(PartRecord::amount)
            .sum()
    }

    /// Attempts made so far (1 after `start`).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Every part sent, in order.
    pub fn parts(&self) -> &[PartRecord] {
        &self.parts
    }

    /// Where the session stands.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The payment being made.
    pub fn request(&self) -> &PaymentRequest {
        &self.request
    }

    /// The limits every attempt keeps.
    pub fn limits(&self) -> &SearchLimits {
        &self.limits
    }
}

impl Canonical for PartStatus {
    fn canonical_rlp(&self) -> RlpItem {
        let tag: &[u8] = match self {
            PartStatus::InFlight => b"xln/part-status/in-flight/v1",
            PartStatus::Arrived => b"xln/part-status/arrived/v1",
            PartStatus::Failed => b"xln/part-status/failed/v1",
        };
        tagged(tag, vec![])
    }
}

impl Canonical for PartHop {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/part-hop/v1",
            vec![
                self.edge.canonical_rlp(),
                self.key.canonical_rlp(),
                self.amount.canonical_rlp(),
                self.fee.canonical_rlp(),
            ],
        )
    }
}

impl Canonical for PartRecord {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/part-record/v1",
            vec![
                self.id.canonical_rlp(),
                self.attempt.canonical_rlp(),
                self.hops.canonical_rlp(),
                self.status.canonical_rlp(),
            ],
        )
    }
}

impl Canonical for SessionState {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            SessionState::Pending => tagged(b"xln/session-state/pending/v1", vec![]),
            SessionState::Complete => tagged(b"xln/session-state/complete/v1", vec![]),
            SessionState::GaveUp(GiveUpReason::AttemptsExhausted { attempts }) => tagged(
                b"xln/session-state/attempts-exhausted/v1",
                vec![attempts.canonical_rlp()],
            ),
            SessionState::GaveUp(GiveUpReason::NoRoute { reason }) => tagged(
                b"xln/session-state/no-route/v1",
                vec![reason.canonical_rlp()],
            ),
        }
    }
}

impl Canonical for PaymentSession {
    /// Every field in declaration order: two replicas that applied the same results hold
    /// sessions with the same hash.
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/payment-session/v1",
            vec![
                self.request.canonical_rlp(),
                self.limits.canonical_rlp(),
                self.max_attempts.canonical_rlp(),
                self.attempts.canonical_rlp(),
                self.parts.canonical_rlp(),
                self.avoid.canonical_rlp(),
                self.state.canonical_rlp(),
            ],
        )
    }
}
