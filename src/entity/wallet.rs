//! The sender's wallet, the replica half of multi-part payments: each validator's replica
//! keeps, beside its gossip view (replica state, persisted with it, not consensus), a
//! [`Scorer`] that learns from every part's outcome and a [`PaymentSession`] per payment
//! this validator sent. Payments are planned with [`routing::plan_payment`] over the view
//! and the entity's exact own liquidity ([`plan`]); when committed parts fail, the
//! validator that sent the payment feeds the outcomes to its session (a failure names the
//! entity that reported it, so the scorer learns which edge broke) and submits
//! [`EntityTx::RetryPayment`] with the new parts, or with none when the session gives up.
//! The board then checks and applies the retry like any tx (`mpp.rs`).

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};

use super::accounts::entity_address;
use super::gossip::{hops_for, EntityProfile, GossipView};
use super::payment::{PaymentHop, PaymentStatus, RoutedPayment, SentPart, ROUTE_HOPS_MAX};
use super::rejection::{Rejection, RejectionKind};
use super::replica::{EntityOutput, EntityReplica};
use super::state::hex32;
use super::{EntityId, EntityState, EntityTx, TokenId};
use crate::crypto::SecretKey;
use crate::routing::{
    self, AttemptOutcome, AttemptResult, ChannelGraph, EdgeKey, PartHop, PaymentRequest,
    PaymentSession, Route, Scorer, ScorerParams, SearchLimits, SessionStep,
};

/// Payments one wallet follows at once; the oldest is dropped beyond it (the payment goes
/// on, only its retries and learning stop).
pub const WALLET_PAYMENTS_MAX: usize = 256;

/// Attempts `pay!` gives a payment unless told otherwise.
pub const PAYMENT_ATTEMPTS_DEFAULT: u32 = 3;

/// Parts `pay!` may split a payment into per attempt unless told otherwise.
pub const PAYMENT_PARTS_DEFAULT: usize = 8;

/// The scorer's parameters for entity tokens: LDK's shape scaled from millisatoshis to a
/// token's smallest unit (a hop costs 1 plus 125 ppm, a bit of risk 5 plus 0.5%), time in
/// ticks (half-life 1,800), and a split only when no single route carries the amount
/// (`pay!` splits "when it must"; a caller may plan risk-driven splits itself).
pub fn entity_scorer_params() -> ScorerParams {
    ScorerParams {
        base_penalty: 1,
        base_penalty_ppm: 125,
        risk_penalty: 5,
        risk_penalty_ppm: 5_000,
        half_life_seconds: 1_800,
        split_below_success_ppm: 0,
        max_learned_edges: 1 << 16,
    }
}

/// The search limits of an entity payment: routes of at most [`ROUTE_HOPS_MAX`] hops, up to
/// `parts_max` parts, every advertised capacity usable (advertised capacities are the
/// peers' committed out-capacities, not channel sizes), no fee cap.
pub fn entity_limits(parts_max: usize) -> SearchLimits {
    SearchLimits {
        max_hops: ROUTE_HOPS_MAX,
        max_parts: parts_max.clamp(1, super::payment::PAYMENT_PARTS_MAX),
        ..SearchLimits::fee_only()
    }
}

/// One payment the wallet follows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Tracked {
    token: TokenId,
    /// The nonce of the `PayRouted` tx (its fate is known once the nonce is committed).
    nonce: u64,
    session: PaymentSession,
    /// The session's part id of each sent part, by index in the committed payment.
    links: Vec<u64>,
    /// Indexes of sent parts whose outcome the session has.
    reported: BTreeSet<u64>,
    /// A retry submitted and not committed yet: its nonce and the session's part ids.
    retry: Option<(u64, Vec<u64>)>,
}

/// What a validator's wallet keeps (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Wallet {
    /// What the wallet learned of the network's liquidity.
    pub scorer: Scorer,
    #[serde(with = "crate::crypto::readable")]
    payments: BTreeMap<[u8; 32], Tracked>,
    checked_height: u64,
    /// The advertised capacity of each edge when the scorer last learned about it: entity
    /// profiles advertise current liquidity, so once a newer profile changes an edge's
    /// capacity the learned bounds (offsets from the old capacity) are dropped.
    learned_at: Vec<(EdgeKey, u64)>,
}

impl Default for Wallet {
    fn default() -> Wallet {
        Wallet {
            scorer: Scorer::new(entity_scorer_params()),
            payments: BTreeMap::new(),
            checked_height: 0,
            learned_at: Vec::new(),
        }
    }
}

impl Wallet {
    /// Payments the wallet follows (sent by this validator, not finished).
    pub fn following(&self) -> usize {
        self.payments.len()
    }

    /// The scorer without what it learned against capacities `graph` no longer shows.
    pub fn scorer_for(&self, graph: &ChannelGraph) -> Scorer {
        let mut scorer = self.scorer.clone();
        for key in self.stale(graph) {
            scorer.forget(&key);
        }
        scorer
    }

    fn stale(&self, graph: &ChannelGraph) -> Vec<EdgeKey> {
        self.learned_at
            .iter()
            .filter(|(key, capacity)| {
                graph
                    .edge_by_key(key)
                    .and_then(|e| graph.edge(e))
                    .map(|e| e.capacity.min(u128::from(u64::MAX)) as u64)
                    != Some(*capacity)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Drops, for good, what was learned against capacities `graph` no longer shows.
    fn forget_stale(&mut self, graph: &ChannelGraph) {
        let stale = self.stale(graph);
        for key in &stale {
            self.scorer.forget(key);
        }
        self.learned_at.retain(|(k, _)| !stale.contains(k));
    }
}

/// Notes in `learned_at` the capacities `graph` shows for the edges of a part the scorer
/// just learned from (`route`: its entities, sender first), keeping at most `max`.
fn note_learned(
    learned_at: &mut Vec<(EdgeKey, u64)>,
    max: usize,
    graph: &ChannelGraph,
    route: &[EntityId],
) {
    for pair in route.windows(2) {
        let key = edge_key(&pair[0], &pair[1]);
        let Some(edge) = graph.edge_by_key(&key).and_then(|e| graph.edge(e)) else {
            continue;
        };
        let capacity = edge.capacity.min(u128::from(u64::MAX)) as u64;
        match learned_at.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => learned_at[i].1 = capacity,
            Err(i) if learned_at.len() < max => learned_at.insert(i, (key, capacity)),
            Err(_) => {}
        }
    }
}

/// The stable key of the edge `from → to` in a graph built from entity gossip.
fn edge_key(from: &EntityId, to: &EntityId) -> EdgeKey {
    EdgeKey {
        from: entity_address(from).0.to_vec(),
        to: entity_address(to).0.to_vec(),
        parallel: 0,
    }
}

fn saturate(x: &BigInt) -> u128 {
    if x.is_negative() {
        0
    } else {
        x.to_u128().unwrap_or(u128::MAX)
    }
}

fn no_route(reason: String) -> Rejection {
    Rejection::new(RejectionKind::Route, reason)
}

/// The request to pay `amount` to `to` over `graph`, with the exact out-capacity of every
/// account of `state` (plus `held`: amounts of live parts already counted as usage).
fn request_for(
    graph: &ChannelGraph,
    state: &EntityState,
    to: &EntityId,
    (amount, token, now): (u128, TokenId, u64),
    held: &BTreeMap<EntityId, BigInt>,
) -> Result<PaymentRequest, Rejection> {
    let node = |id: &EntityId| {
        graph
            .node_by_key(&entity_address(id).0)
            .ok_or_else(|| no_route(format!("the sender's view does not know {}", hex32(id))))
    };
    let mut request = PaymentRequest::new(node(&state.entity_id)?, node(to)?, amount, now);
    let by_address: BTreeMap<[u8; 20], &EntityId> = state
        .accounts
        .keys()
        .map(|p| (entity_address(p).0, p))
        .collect();
    for &edge in graph.outbound(request.from) {
        let Some(peer) = graph
            .edge(edge)
            .and_then(|e| graph.node_key(e.to))
            .and_then(|k| <[u8; 20]>::try_from(k).ok())
            .and_then(|k| by_address.get(&k))
        else {
            continue;
        };
        let Some(account) = state.accounts.get(*peer) else {
            continue;
        };
        let out = crate::account::view(&account.machine.state.delta(token), account.machine.side)
            .out_capacity
            + held.get(*peer).cloned().unwrap_or_default();
        request = request.with_own_liquidity(edge, saturate(&out));
    }
    Ok(request)
}

/// The parts (hops with amounts and timeouts) of `routes`, by the profiles in `view`.
fn parts_of(
    graph: &ChannelGraph,
    view: &GossipView,
    routes: &[Route],
    now: u64,
) -> Result<Vec<Vec<PaymentHop>>, Rejection> {
    let by_address: BTreeMap<[u8; 20], &EntityProfile> = view
        .profiles()
        .map(|p| (entity_address(&p.entity).0, p))
        .collect();
    routes
        .iter()
        .map(|route| {
            let path = route
                .hops
                .iter()
                .map(|hop| {
                    graph
                        .node_key(hop.to)
                        .and_then(|k| <[u8; 20]>::try_from(k).ok())
                        .and_then(|k| by_address.get(&k).copied())
                        .ok_or_else(|| {
                            no_route("a route through an entity without a profile".into())
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(hops_for(&path, &BigInt::from(route.amount_received()), now))
        })
        .collect()
}

/// Plans a payment of `amount` of `token` from `state`'s entity to `to` over `view` with
/// `wallet`'s scorer (what it learned against current capacities) at the sender's clock
/// `now`: [`routing::plan_payment`] over the advertised
/// capacities and the sender's exact own liquidity, split into up to `parts_max` parts when
/// no single route carries it; the payment may retry failed parts up to `attempts_max`
/// attempts in all.
///
/// # Errors
/// [`RejectionKind::Route`] when the view does not know the receiver, or no route or split
/// within the limits carries the amount (the message names the bound).
pub fn plan(
    view: &GossipView,
    state: &EntityState,
    wallet: &Wallet,
    (to, amount, token): (&EntityId, &BigInt, TokenId),
    now: u64,
    (parts_max, attempts_max): (usize, u32),
) -> Result<RoutedPayment, Rejection> {
    let wanted = amount
        .to_u128()
        .filter(|_| amount.is_positive())
        .ok_or_else(|| no_route(format!("cannot route {amount}")))?;
    let graph = ChannelGraph::from_gossip(&view.routing_state(), token);
    let request = request_for(&graph, state, to, (wanted, token, now), &BTreeMap::new())?;
    let limits = entity_limits(parts_max);
    let plan = routing::plan_payment(&graph, &wallet.scorer_for(&graph), &request, &limits)
        .map_err(|e| no_route(e.to_string()))?;
    Ok(RoutedPayment {
        token,
        total: amount.clone(),
        parts: parts_of(&graph, view, &plan.parts, now)?,
        attempts_max: attempts_max.clamp(1, super::mpp::PAYMENT_ATTEMPTS_MAX),
        parts_max: limits.max_parts as u32,
    })
}

/// The hops of a sent part as the session records them (edges by stable key).
fn part_hops(graph: &ChannelGraph, sender: &EntityId, hops: &[PaymentHop]) -> Vec<PartHop> {
    let mut out = Vec::with_capacity(hops.len());
    let mut from = *sender;
    for (j, hop) in hops.iter().enumerate() {
        let key = edge_key(&from, &hop.entity);
        let fee = if j == 0 {
            BigInt::from(0)
        } else {
            &hops[j - 1].amount - &hop.amount
        };
        out.push(PartHop {
            edge: graph.edge_by_key(&key).unwrap_or(u32::MAX),
            key,
            amount: saturate(&hop.amount),
            fee: saturate(&fee),
        });
        from = hop.entity;
    }
    out
}

/// What a failed part says about the route: the edge out of the entity that reported it
/// (the sender: its own first edge; a hop: the edge to its next hop), or nothing (the
/// receiver refused, or no origin).
fn outcome_of(part: &SentPart, sender: &EntityId) -> AttemptOutcome {
    match &part.status {
        PaymentStatus::Settled => return AttemptOutcome::Arrived,
        PaymentStatus::Pending => return AttemptOutcome::FailedOther,
        PaymentStatus::Failed(_) => {}
    }
    match part.failed_at {
        Some(origin) if origin == *sender => AttemptOutcome::FailedAt { hop: 0 },
        Some(origin) => part
            .route
            .iter()
            .position(|e| *e == origin)
            .filter(|i| i + 1 < part.route.len())
            .map_or(AttemptOutcome::FailedOther, |i| AttemptOutcome::FailedAt {
                hop: i + 1,
            }),
        None => AttemptOutcome::FailedOther,
    }
}

impl EntityReplica {
    /// This replica's wallet.
    pub fn wallet(&self) -> &Wallet {
        &self.wallet
    }

    /// A `PayRouted` tx this validator signed with `nonce` (hash `tx`): follow it.
    pub(super) fn track_payment(
        &mut self,
        tx: [u8; 32],
        nonce: u64,
        payment: &RoutedPayment,
        now: u64,
    ) {
        let Some(receiver) = payment
            .parts
            .first()
            .and_then(|p| p.last())
            .map(|h| h.entity)
        else {
            return;
        };
        let graph = ChannelGraph::from_gossip(&self.gossip.routing_state(), payment.token);
        let amount = saturate(&payment.total);
        let request = match request_for(
            &graph,
            &self.state,
            &receiver,
            (amount, payment.token, now),
            &BTreeMap::new(),
        ) {
            Ok(r) => r,
            Err(_) => return,
        };
        let sender = self.state.entity_id;
        let parts = payment
            .parts
            .iter()
            .map(|hops| part_hops(&graph, &sender, hops))
            .collect();
        let session = PaymentSession::resume(
            request,
            entity_limits(payment.parts_max as usize),
            payment.attempts_max,
            parts,
        );
        if self.wallet.payments.len() >= WALLET_PAYMENTS_MAX {
            let oldest = self
                .wallet
                .payments
                .iter()
                .min_by_key(|(_, t)| t.nonce)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.wallet.payments.remove(&k);
            }
        }
        self.wallet.payments.insert(
            tx,
            Tracked {
                token: payment.token,
                nonce,
                session,
                links: (1..=payment.parts.len() as u64).collect(),
                reported: BTreeSet::new(),
                retry: None,
            },
        );
    }

    /// After every input: for each payment this validator sent, feed the parts' new
    /// outcomes (from the committed state) to its session, and submit the retry or the
    /// give-up it asks for.
    pub(super) fn wallet_work(&mut self, key: &SecretKey, now: u64, out: &mut Vec<EntityOutput>) {
        if self.wallet.payments.is_empty() || self.wallet.checked_height == self.state.height {
            return;
        }
        self.wallet.checked_height = self.state.height;
        let txs: Vec<[u8; 32]> = self.wallet.payments.keys().copied().collect();
        for tx in txs {
            let Some((retry, ids)) = self.drive(tx, now) else {
                continue;
            };
            let before = out.len();
            if self.submit(key, retry, now, out).is_err() {
                continue;
            }
            let nonce = out[before..].iter().find_map(|o| match o {
                EntityOutput::Queued { nonce, .. } => Some(*nonce),
                _ => None,
            });
            if let (Some(t), Some(nonce)) = (self.wallet.payments.get_mut(&tx), nonce) {
                t.retry = Some((nonce, ids));
            }
        }
    }

    /// One payment's step: the tx to submit (a retry or a give-up) with the session's ids
    /// of the parts it sends, or nothing.
    fn drive(&mut self, tx: [u8; 32], now: u64) -> Option<(EntityTx, Vec<u64>)> {
        let committed = self.state.nonce(&self.me);
        let me = self.state.entity_id;
        let wallet = &mut self.wallet;
        let token = wallet.payments.get(&tx)?.token;
        let graph = ChannelGraph::from_gossip(&self.gossip.routing_state(), token);
        wallet.forget_stale(&graph);
        let t = wallet.payments.get_mut(&tx)?;
        let Some((hashlock, sent)) = self.state.payments.sent.iter().find(|(_, p)| p.tx == tx)
        else {
            if committed >= t.nonce {
                // Rejected, or finished and forgotten: nothing left to follow.
                wallet.payments.remove(&tx);
            }
            return None;
        };
        if let Some((nonce, ids)) = t.retry.clone() {
            if committed < nonce {
                return None;
            }
            t.retry = None;
            if sent.parts.len() >= t.links.len() + ids.len() {
                t.links.extend(ids);
            } else {
                // The retry was refused: its parts were never sent.
                for part in ids {
                    let result = AttemptResult {
                        part,
                        outcome: AttemptOutcome::FailedOther,
                    };
                    t.session.on_result(&graph, &mut wallet.scorer, result, now);
                }
            }
        }
        let mut step = None;
        let mut failed = false;
        for (i, part) in sent.parts.iter().enumerate() {
            let index = i as u64;
            let Some(&id) = t.links.get(i) else { continue };
            if part.status == PaymentStatus::Pending || t.reported.contains(&index) {
                continue;
            }
            t.reported.insert(index);
            failed |= matches!(part.status, PaymentStatus::Failed(_));
            let result = AttemptResult {
                part: id,
                outcome: outcome_of(part, &me),
            };
            step = Some(t.session.on_result(&graph, &mut wallet.scorer, result, now));
            let route = [&[me][..], &part.route[..]].concat();
            let max = wallet.scorer.params.max_learned_edges;
            note_learned(&mut wallet.learned_at, max, &graph, &route);
        }
        if sent.status != PaymentStatus::Pending {
            wallet.payments.remove(&tx);
            return None;
        }
        if sent.revealed() {
            // The receiver revealed: the rest settles by itself; nothing to retry.
            return None;
        }
        let step = match step {
            Some(s @ (SessionStep::Send(_) | SessionStep::GiveUp(_))) => s,
            _ if failed => {
                let mut held: BTreeMap<EntityId, BigInt> = BTreeMap::new();
                for p in sent
                    .parts
                    .iter()
                    .filter(|p| p.status == PaymentStatus::Pending)
                {
                    *held.entry(p.peer).or_default() += &p.amount;
                }
                let amount = saturate(&sent.total);
                match request_for(
                    &graph,
                    &self.state,
                    &sent.receiver,
                    (amount, t.token, now),
                    &held,
                ) {
                    Ok(request) => t.session.replan(&graph, &wallet.scorer, request, now),
                    Err(r) => {
                        SessionStep::GiveUp(routing::GiveUpReason::NoRoute { reason: r.reason })
                    }
                }
            }
            _ => return None,
        };
        let hashlock = *hashlock;
        match step {
            SessionStep::Send(attempts) => {
                let routes: Vec<Route> = attempts.iter().map(|a| a.route.clone()).collect();
                let ids = attempts.iter().map(|a| a.part).collect();
                match parts_of(&graph, &self.gossip, &routes, now) {
                    Ok(parts) => Some((
                        EntityTx::RetryPayment {
                            hashlock,
                            parts,
                            reason: String::new(),
                        },
                        ids,
                    )),
                    Err(r) => Some((
                        EntityTx::RetryPayment {
                            hashlock,
                            parts: Vec::new(),
                            reason: r.reason,
                        },
                        Vec::new(),
                    )),
                }
            }
            SessionStep::GiveUp(reason) => Some((
                EntityTx::RetryPayment {
                    hashlock,
                    parts: Vec::new(),
                    reason: reason.to_string(),
                },
                Vec::new(),
            )),
            SessionStep::Wait | SessionStep::Complete => None,
        }
    }
}
crate::plain_readable!(Tracked);
