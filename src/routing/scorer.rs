//! What a sender believes about other edges' liquidity: the [`Scorer`] (penalty parameters
//! plus learned bounds per directed edge, keyed by [`EdgeKey`]), how attempt results narrow
//! the bounds and time widens them again, and the [`ScoreView`] a search reads.
//!
//! Model (arithmetic in [`super::liquidity`]): an edge's liquidity is uniform on
//! `lower..=upper`, the prior being `0..=capacity`. A hop that forwarded `a` proves
//! `L ≥ a`; the hop that failed proves `L < a`; a payment that settled moved `a` to the
//! other side (both bounds drop by `a`: [`Scorer::record_settled`]). When both directions of a channel have the same
//! capacity (Lightning), they are one balance seen from two sides, so each lesson is also
//! recorded, mirrored, on the reverse edge. Learned offsets from the prior halve every
//! `half_life_seconds` (time is the caller's `now`, in seconds; never a clock).
//!
//! The penalty of forwarding `a` over an edge already carrying `used` (other parts of the
//! same payment) is `base + a·base_ppm + (risk + a·risk_ppm) × bits`, where `bits` is the
//! marginal `−log2 P(L ≥ used + a) + log2 P(L ≥ used)`: summed over the parts on one edge
//! it is exactly `−log2` of all of them getting through, so a split is priced as the joint
//! event it is. The sender's own edges have no penalty: their liquidity is exact.

use std::collections::BTreeMap;

use super::graph::{ChannelGraph, Edge, EdgeId, EdgeKey, NodeId};
use super::liquidity::{decay, failure_bits, ppm_of, success_fraction, times_bits};
use super::route::Route;
use crate::crypto::{tagged, Canonical, RlpItem};

/// The penalty parameters and learning rates of a [`Scorer`]. Amounts are in the graph
/// token's smallest unit (msat for Lightning); `*_ppm` are millionths of the amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScorerParams {
    /// Fixed penalty per hop (not the sender's): prefers shorter routes.
    #[serde(with = "decimal")]
    pub base_penalty: u128,
    /// Penalty per hop proportional to the amount.
    pub base_penalty_ppm: u32,
    /// Penalty per bit of failure risk (`−log2` of the success probability).
    #[serde(with = "decimal")]
    pub risk_penalty: u128,
    /// Penalty per bit of failure risk, proportional to the amount.
    pub risk_penalty_ppm: u32,
    /// Seconds in which learned bounds move halfway back to the prior.
    pub half_life_seconds: u64,
    /// [`plan_payment`](super::plan_payment) tries splitting a payment whose best single
    /// route succeeds with less than this probability (millionths).
    pub split_below_success_ppm: u32,
    /// Most edges with learned bounds kept; the least recently updated is forgotten first.
    pub max_learned_edges: usize,
}

impl Default for ScorerParams {
    /// Penalties of the order of LDK's defaults: about 1 sat per hop plus 125 ppm, 5 sat
    /// plus 0.5% of the amount per bit of risk; a half-life of 30 minutes (LDK's).
    fn default() -> ScorerParams {
        ScorerParams {
            base_penalty: 1_000,
            base_penalty_ppm: 125,
            risk_penalty: 5_000,
            risk_penalty_ppm: 5_000,
            half_life_seconds: 30 * 60,
            split_below_success_ppm: 900_000,
            max_learned_edges: 1 << 20,
        }
    }
}

/// What is known about one directed edge, as offsets from the prior `0..=capacity`:
/// `L ≥ lower` and `L ≤ capacity − upper_gap`, as of `updated_at` (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiquidityEstimate {
    /// Proven lower bound (decays toward 0).
    #[serde(with = "decimal")]
    pub lower: u128,
    /// How far below the capacity the upper bound is (decays toward 0).
    #[serde(with = "decimal")]
    pub upper_gap: u128,
    /// When the bounds were last set.
    pub updated_at: u64,
}

impl LiquidityEstimate {
    /// The bounds `(lower, upper)` at `now` on an edge of `capacity`: decayed, clamped to
    /// the capacity, and never crossed (a crossed pair falls back to the prior).
    pub fn bounds(&self, capacity: u128, now: u64, half_life: u64) -> (u128, u128) {
        let elapsed = now.saturating_sub(self.updated_at);
        let lower = decay(self.lower, elapsed, half_life).min(capacity);
        let upper = capacity.saturating_sub(decay(self.upper_gap, elapsed, half_life));
        if lower > upper {
            (0, capacity)
        } else {
            (lower, upper)
        }
    }
}

/// How one attempt over a path ended, as the sender learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AttemptOutcome {
    /// Every hop forwarded and the receiver holds the part (not settled yet: the receiver
    /// settles only once it holds the whole amount).
    Arrived,
    /// Hop `hop` (0 = the sender's own edge) could not forward its amount; the hops before
    /// it did.
    FailedAt {
        /// Index of the failing hop in the route.
        hop: usize,
    },
    /// Failed for a reason that says nothing about liquidity (receiver refused, timeout).
    FailedOther,
}

/// Learned liquidity bounds per directed edge plus the penalty parameters: the part of a
/// sender's routing state that outlives one payment. Pure data: learning takes `now` as
/// input; the same results in the same order give the same scorer everywhere.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scorer {
    /// Penalties and learning rates.
    pub params: ScorerParams,
    #[serde(with = "learned_entries")]
    learned: BTreeMap<EdgeKey, LiquidityEstimate>,
}

impl Default for Scorer {
    fn default() -> Scorer {
        Scorer::new(ScorerParams::default())
    }
}

impl Scorer {
    /// A scorer that knows nothing yet.
    pub fn new(params: ScorerParams) -> Scorer {
        Scorer {
            params,
            learned: BTreeMap::new(),
        }
    }

    /// Number of edges with learned bounds.
    pub fn learned_len(&self) -> usize {
        self.learned.len()
    }

    /// The learned entries, in key order.
    pub fn learned(&self) -> impl Iterator<Item = (&EdgeKey, &LiquidityEstimate)> {
        self.learned.iter()
    }

    /// The liquidity bounds `(lower, upper)` of edge `id` at `now` (the prior
    /// `(0, capacity)` if nothing is learned; `None` for an unknown edge).
    pub fn bounds(&self, graph: &ChannelGraph, id: EdgeId, now: u64) -> Option<(u128, u128)> {
        let edge = graph.edge(id)?;
        let key = graph.edge_key(id)?;
        Some(self.bounds_of(&key, edge.capacity, now))
    }

    fn bounds_of(&self, key: &EdgeKey, capacity: u128, now: u64) -> (u128, u128) {
        self.learned.get(key).map_or((0, capacity), |e| {
            e.bounds(capacity, now, self.params.half_life_seconds)
        })
    }

    /// Learns from one attempt over `hops` (edge, amount it carried), sender first. Hops
    /// not in `graph` and a failing-hop index beyond the path are ignored: results come
    /// from the network and may be wrong, and a wrong one must not crash or poison more
    /// than the edges it names.
    pub fn record(
        &mut self,
        graph: &ChannelGraph,
        hops: &[(EdgeId, u128)],
        outcome: AttemptOutcome,
        now: u64,
    ) {
        let forwarded = match outcome {
            AttemptOutcome::Arrived => hops.len(),
            AttemptOutcome::FailedAt { hop } if hop < hops.len() => hop,
            AttemptOutcome::FailedAt { .. } | AttemptOutcome::FailedOther => 0,
        };
        for &(id, amount) in &hops[..forwarded] {
            self.learn(graph, id, now, |lo, hi| {
                let lo = lo.max(amount);
                (lo, if lo > hi { u128::MAX } else { hi })
            });
        }
        if let AttemptOutcome::FailedAt { hop } = outcome {
            if let Some(&(id, amount)) = hops.get(hop) {
                self.learn(graph, id, now, |lo, hi| {
                    let hi = hi.min(amount.saturating_sub(1));
                    (if lo > hi { 0 } else { lo }, hi)
                });
            }
        }
    }

    /// Learns that a payment over `hops` settled: each hop's `amount` moved from its
    /// forwarding side to the other, so both bounds of each edge drop by it (and the
    /// reverse edge's rise, when linked).
    pub fn record_settled(&mut self, graph: &ChannelGraph, hops: &[(EdgeId, u128)], now: u64) {
        for &(id, amount) in hops {
            self.learn(graph, id, now, |lo, hi| {
                let lo = lo.max(amount);
                let hi = if lo > hi { u128::MAX } else { hi };
                (lo - amount, hi.saturating_sub(amount))
            });
        }
    }

    /// [`Scorer::record`] for a route's hops.
    pub fn record_route(
        &mut self,
        graph: &ChannelGraph,
        route: &Route,
        outcome: AttemptOutcome,
        now: u64,
    ) {
        let hops: Vec<(EdgeId, u128)> = route
            .hops
            .iter()
            .map(|h| (h.edge, h.amount_to_forward))
            .collect();
        self.record(graph, &hops, outcome, now);
    }

    /// Sets edge `id`'s bounds to `update(lower, upper)` of its bounds at `now` (an upper
    /// bound past the capacity means "unknown": the capacity), and the mirrored bounds on
    /// the reverse edge when both directions share one balance.
    fn learn(
        &mut self,
        graph: &ChannelGraph,
        id: EdgeId,
        now: u64,
        update: impl Fn(u128, u128) -> (u128, u128),
    ) {
        let (Some(edge), Some(key)) = (graph.edge(id), graph.edge_key(id)) else {
            return;
        };
        let capacity = edge.capacity;
        let (lo, hi) = self.bounds_of(&key, capacity, now);
        let (lo, hi) = update(lo, hi);
        let (lo, hi) = (lo.min(capacity), hi.min(capacity));
        self.store(key, capacity, lo, hi, now);
        let reverse = graph
            .reverse_edge(id)
            .filter(|&r| graph.edge(r).is_some_and(|e| e.capacity == capacity));
        if let Some(key) = reverse.and_then(|r| graph.edge_key(r)) {
            self.store(key, capacity, capacity - hi, capacity - lo, now);
        }
    }

    fn store(&mut self, key: EdgeKey, capacity: u128, lower: u128, upper: u128, now: u64) {
        let estimate = LiquidityEstimate {
            lower,
            upper_gap: capacity - upper.max(lower),
            updated_at: now,
        };
        if !self.learned.contains_key(&key) && self.learned.len() >= self.params.max_learned_edges {
            let oldest = self
                .learned
                .iter()
                .min_by_key(|(k, e)| (e.updated_at, (*k).clone()))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.learned.remove(&k);
                }
                None => return, // a limit of zero: keep nothing
            }
        }
        self.learned.insert(key, estimate);
    }

    /// Forgets what was learned about edge `key` (a caller whose capacities are current
    /// liquidity, as entity gossip advertises, drops bounds learned against an older
    /// capacity). Returns whether there was an entry.
    pub fn forget(&mut self, key: &EdgeKey) -> bool {
        self.learned.remove(key).is_some()
    }

    /// Forgets entries that have decayed back to the prior by `now` (both offsets 0).
    pub fn prune(&mut self, now: u64) {
        let half_life = self.params.half_life_seconds;
        self.learned.retain(|_, e| {
            let elapsed = now.saturating_sub(e.updated_at);
            decay(e.lower, elapsed, half_life) > 0 || decay(e.upper_gap, elapsed, half_life) > 0
        });
    }

    /// The view a search over `graph` at `now` reads: this scorer's bounds resolved to the
    /// graph's edge ids (learned edges missing from the graph are skipped).
    pub fn view(&self, graph: &ChannelGraph, now: u64) -> ScoreView {
        let mut view = ScoreView::prior(graph, self.params);
        for (key, estimate) in &self.learned {
            if let Some(id) = graph.edge_by_key(key) {
                let capacity = graph.edge(id).map_or(0, |e| e.capacity);
                let (lower, upper) = estimate.bounds(capacity, now, self.params.half_life_seconds);
                view.entries.push((
                    id,
                    EdgeState {
                        lower,
                        upper,
                        used: 0,
                        exact: false,
                    },
                ));
            }
        }
        view.entries.sort_by_key(|(id, _)| *id);
        view.entries.dedup_by_key(|(id, _)| *id);
        let ids: Vec<EdgeId> = view.entries.iter().map(|(id, _)| *id).collect();
        for id in ids {
            view.mark(id);
        }
        view
    }
}

/// What a search knows of one edge: liquidity bounds, what earlier parts of the same
/// payment already put on it, and whether the bounds are exact (the sender's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeState {
    /// Liquidity is at least this.
    pub lower: u128,
    /// Liquidity is at most this.
    pub upper: u128,
    /// Already committed by other parts of the payment.
    pub used: u128,
    /// The bounds are the sender's exact knowledge (its own account).
    pub exact: bool,
}

/// A [`Scorer`]'s knowledge resolved to one graph's edge ids, plus per-payment facts (the
/// sender's exact liquidity, parts already planned). Edges without an entry have the prior.
/// Look-ups are a bit test, and a binary search only for edges that have an entry.
#[derive(Debug, Clone)]
pub struct ScoreView {
    params: ScorerParams,
    marked: Vec<u64>,
    entries: Vec<(EdgeId, EdgeState)>,
}

impl ScoreView {
    /// A view with only the prior (what a fresh scorer knows).
    pub fn prior(graph: &ChannelGraph, params: ScorerParams) -> ScoreView {
        ScoreView {
            params,
            marked: vec![0; graph.edge_count().div_ceil(64)],
            entries: Vec::new(),
        }
    }

    /// The parameters penalties are computed with.
    pub fn params(&self) -> &ScorerParams {
        &self.params
    }

    fn mark(&mut self, id: EdgeId) {
        if let Some(word) = self.marked.get_mut(id as usize / 64) {
            *word |= 1 << (id % 64);
        }
    }

    /// The state of edge `id` (`edge` is its data, for the prior).
    #[inline]
    pub fn state(&self, id: EdgeId, edge: &Edge) -> EdgeState {
        let marked = self
            .marked
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0);
        if marked {
            if let Ok(i) = self.entries.binary_search_by_key(&id, |(e, _)| *e) {
                return self.entries[i].1;
            }
        }
        EdgeState {
            lower: 0,
            upper: edge.capacity,
            used: 0,
            exact: false,
        }
    }

    fn update(&mut self, id: EdgeId, edge: &Edge, change: impl FnOnce(&mut EdgeState)) {
        match self.entries.binary_search_by_key(&id, |(e, _)| *e) {
            Ok(i) => change(&mut self.entries[i].1),
            Err(i) => {
                let mut state = self.state(id, edge);
                change(&mut state);
                self.entries.insert(i, (id, state));
                self.mark(id);
            }
        }
    }

    /// Declares the exact liquidity of one of the sender's own edges.
    pub fn set_exact(&mut self, graph: &ChannelGraph, id: EdgeId, liquidity: u128) {
        if let Some(edge) = graph.edge(id) {
            self.update(id, edge, |s| {
                s.lower = liquidity;
                s.upper = liquidity;
                s.exact = true;
            });
        }
    }

    /// Rules edge `id` out for this view's searches (an edge that failed this payment).
    pub fn forbid(&mut self, graph: &ChannelGraph, id: EdgeId) {
        if let Some(edge) = graph.edge(id) {
            self.update(id, edge, |s| {
                s.lower = 0;
                s.upper = 0;
                s.exact = true;
            });
        }
    }

    /// Records that another part of the payment puts `amount` on edge `id`.
    pub fn add_usage(&mut self, graph: &ChannelGraph, id: EdgeId, amount: u128) {
        if let Some(edge) = graph.edge(id) {
            self.update(id, edge, |s| s.used = s.used.saturating_add(amount));
        }
    }

    /// The per-hop terms that depend only on the amount: `(base penalty, risk multiplier)`.
    #[inline]
    pub fn hop_terms(&self, amount: u128) -> (u128, u128) {
        let p = &self.params;
        (
            p.base_penalty
                .saturating_add(ppm_of(amount, p.base_penalty_ppm)),
            p.risk_penalty
                .saturating_add(ppm_of(amount, p.risk_penalty_ppm)),
        )
    }

    /// Penalty of putting `amount` more on an edge in `state` (not the sender's), given
    /// the [`ScoreView::hop_terms`] of `amount`; `None` if the bounds say it cannot.
    #[inline]
    pub fn penalty(&self, state: &EdgeState, amount: u128, terms: (u128, u128)) -> Option<u128> {
        let total = state.used.saturating_add(amount);
        let bits = failure_bits(total, state.lower, state.upper)?;
        let before = if state.used == 0 {
            0
        } else {
            failure_bits(state.used, state.lower, state.upper).unwrap_or(0)
        };
        Some(
            terms
                .0
                .saturating_add(times_bits(terms.1, bits.saturating_sub(before))),
        )
    }

    /// The success probability of `route` sent by `payer` under this view, in millionths
    /// (exact rational arithmetic, rounded down); the sender's own hops count as certain
    /// when they fit their exact liquidity.
    pub fn success_ppm(&self, graph: &ChannelGraph, route: &Route, payer: NodeId) -> u32 {
        let mut p: u128 = 1 << 64;
        for hop in &route.hops {
            let Some(edge) = graph.edge(hop.edge) else {
                return 0;
            };
            let state = self.state(hop.edge, edge);
            let total = state.used.saturating_add(hop.amount_to_forward);
            if edge.from == payer && !state.exact {
                continue;
            }
            let (num, den) = success_fraction(total, state.lower, state.upper);
            // p ≤ 2^64 and num ≤ den, so scale both down to keep p × num in 128 bits.
            let shift = (128 - den.leading_zeros()).saturating_sub(63);
            p = p * (num >> shift) / (den >> shift).max(1);
        }
        ((p * 1_000_000) >> 64) as u32
    }
}

impl Canonical for ScorerParams {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/scorer-params/v1",
            vec![
                self.base_penalty.canonical_rlp(),
                self.base_penalty_ppm.canonical_rlp(),
                self.risk_penalty.canonical_rlp(),
                self.risk_penalty_ppm.canonical_rlp(),
                self.half_life_seconds.canonical_rlp(),
                self.split_below_success_ppm.canonical_rlp(),
                self.max_learned_edges.canonical_rlp(),
            ],
        )
    }
}

impl Canonical for LiquidityEstimate {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/liquidity-estimate/v1",
            vec![
                self.lower.canonical_rlp(),
                self.upper_gap.canonical_rlp(),
                self.updated_at.canonical_rlp(),
            ],
        )
    }
}

impl Canonical for Scorer {
    /// The parameters and the learned map (sorted by the keys' canonical bytes).
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/scorer/v1",
            vec![self.params.canonical_rlp(), self.learned.canonical_rlp()],
        )
    }
}

/// serde for `u128` as a decimal string: readable, exact, and accepted by every format
/// (serde-lexpr has no 128-bit integers).
pub mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the decimal digits.
    ///
    /// # Errors
    /// Whatever the serializer reports.
    pub fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    /// Reads decimal digits.
    ///
    /// # Errors
    /// The deserializer's, or a message if the text is not a decimal `u128`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("bad amount {text:?}: {e}")))
    }
}

/// serde for the learned map as a list of `(key, estimate)` pairs (struct keys are not
/// map keys in every format).
mod learned_entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{EdgeKey, LiquidityEstimate};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<EdgeKey, LiquidityEstimate>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let entries: Vec<(&EdgeKey, &LiquidityEstimate)> = map.iter().collect();
        entries.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<EdgeKey, LiquidityEstimate>, D::Error> {
        let entries = Vec::<(EdgeKey, LiquidityEstimate)>::deserialize(d)?;
        Ok(entries.into_iter().collect())
    }
}
