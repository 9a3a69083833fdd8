//! What a route may cost and how far it may reach: [`SearchLimits`] (queue pops, hops, total
//! timeout, absolute and relative fee caps, channel saturation, parts of a split payment),
//! their defaults, the [`LimitBound`] an error names, and the check that a route keeps them.
//!
//! Every limit is enforced while searching and checked again on every route returned
//! ([`SearchLimits::check_route`]), so no returned route ever breaks one (a property test in
//! `tests/routing_props.rs`).

use std::fmt;

use super::graph::ChannelGraph;
use super::liquidity::ppm_of;
use super::route::Route;
use crate::crypto::{tagged, Canonical, RlpItem};

/// A fee cap relative to the amount delivered: `base + amount × ppm / 1,000,000`
/// (rounded down). LDK's default cap is this with `base` = 50 sat and 1%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RelativeFeeCap {
    /// Fixed allowance, in the token's smallest unit (msat for Lightning).
    #[serde(with = "super::scorer::decimal")]
    pub base: u128,
    /// Millionths of the amount delivered.
    pub ppm: u32,
}

/// Bounds on one route query or payment plan. Each limit has a default; an error that
/// blames one names it with a [`LimitBound`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchLimits {
    /// Queue pops allowed over all searches of one request (all routes, all parts); bounds
    /// time on hostile or huge graphs.
    pub max_pops: usize,
    /// Longest route, in hops.
    pub max_hops: usize,
    /// Most blocks of timelock a route may need in total: the forwarding nodes' deltas
    /// (every hop's `cltv_expiry_delta` but the sender's own) plus `final_timeout_blocks`.
    pub max_timeout_blocks: u32,
    /// The receiver's own timelock delta, counted against `max_timeout_blocks`.
    pub final_timeout_blocks: u32,
    /// Most fees a payment may cost in total (all parts together); `None`: no absolute cap.
    #[serde(with = "optional_decimal")]
    pub max_fee: Option<u128>,
    /// Most fees relative to the amount delivered; `None`: no relative cap.
    pub max_fee_relative: Option<RelativeFeeCap>,
    /// Most a route may put on an edge the sender does not own, in millionths of its
    /// capacity (all parts of a payment on that edge together). The sender's own edges are
    /// limited by their exact liquidity instead. 1,000,000 disables the limit.
    pub max_channel_saturation_ppm: u32,
    /// Most parts one plan may split a payment into (1: never split). A payment session
    /// applies it to each attempt, as LDK applies `max_path_count`: a retry may replace
    /// failed parts with up to this many new ones.
    pub max_parts: usize,
}

impl SearchLimits {
    /// Default pop budget: about 15 full searches of the 17k-node Lightning graph.
    pub const DEFAULT_MAX_POPS: usize = 1_000_000;
    /// Default hop limit: Lightning's onion holds at most 20 hops.
    pub const DEFAULT_MAX_HOPS: usize = 20;
    /// Default total timeout: 1,008 blocks (one week), LDK's default.
    pub const DEFAULT_MAX_TIMEOUT_BLOCKS: u32 = 1_008;
    /// Default relative fee cap: 50,000 (50 sat in msat) plus 1%, LDK's default.
    pub const DEFAULT_MAX_FEE_RELATIVE: RelativeFeeCap = RelativeFeeCap {
        base: 50_000,
        ppm: 10_000,
    };
    /// Default saturation: at most half of an edge's capacity. LDK prefers a quarter but
    /// relaxes it when nothing else fits; a hard limit of a half keeps the routes LDK would
    /// find for small receivers (a 20k-sat channel can still take 10k sat) while ruling out
    /// hops that fail more often than not under the uniform prior.
    pub const DEFAULT_MAX_CHANNEL_SATURATION_PPM: u32 = 500_000;
    /// Default part limit: 10, LDK's default path count.
    pub const DEFAULT_MAX_PARTS: usize = 10;

    /// The limits of the fee-only search before payment limits existed: pops and hops only
    /// (no timeout, fee or saturation limit, no split). What [`find_routes`](super::find_routes)
    /// uses, so its answers are unchanged.
    pub fn fee_only() -> SearchLimits {
        SearchLimits {
            max_pops: Self::DEFAULT_MAX_POPS,
            max_hops: Self::DEFAULT_MAX_HOPS,
            max_timeout_blocks: u32::MAX,
            final_timeout_blocks: 0,
            max_fee: None,
            max_fee_relative: None,
            max_channel_saturation_ppm: 1_000_000,
            max_parts: 1,
        }
    }

    /// The most fees a payment delivering `amount` may cost under both fee caps.
    pub fn fee_cap(&self, amount: u128) -> u128 {
        let relative = self
            .max_fee_relative
            .map_or(u128::MAX, |c| c.base.saturating_add(ppm_of(amount, c.ppm)));
        self.max_fee.unwrap_or(u128::MAX).min(relative)
    }

    /// Blocks the forwarding hops of one route may add (the total minus the final delta).
    pub fn forwarding_timeout_budget(&self) -> Option<u32> {
        self.max_timeout_blocks
            .checked_sub(self.final_timeout_blocks)
    }

    /// Whether `amount` on an edge of `capacity` (not the sender's) keeps the saturation
    /// limit: `amount × 10^6 ≤ capacity × ppm`, exact.
    pub fn within_saturation(&self, amount: u128, capacity: u128) -> bool {
        within_saturation(amount, capacity, self.max_channel_saturation_ppm)
    }

    /// The first limit `route` breaks, or `None`: hops, total timeout, and saturation of
    /// every edge but the sender's first. Fee caps apply to a whole payment:
    /// [`SearchLimits::check_alone`] and [`SearchLimits::check_plan`] add them.
    pub fn check_route(&self, graph: &ChannelGraph, route: &Route) -> Option<LimitBound> {
        if route.hops.len() > self.max_hops {
            return Some(LimitBound::Hops { max: self.max_hops });
        }
        let total = u64::from(route.timeout_blocks) + u64::from(self.final_timeout_blocks);
        if total > u64::from(self.max_timeout_blocks) {
            return Some(LimitBound::Timeout {
                max_blocks: self.max_timeout_blocks,
            });
        }
        for hop in route.hops.iter().skip(1) {
            let capacity = graph.edge(hop.edge).map_or(0, |e| e.capacity);
            if !self.within_saturation(hop.amount_to_forward, capacity) {
                return Some(self.saturation_bound());
            }
        }
        None
    }

    /// The first limit `route`, delivering all of `amount` by itself, breaks: its route
    /// limits, then the fee caps.
    pub fn check_alone(
        &self,
        graph: &ChannelGraph,
        route: &Route,
        amount: u128,
    ) -> Option<LimitBound> {
        self.check_route(graph, route)
            .or_else(|| self.fee_bound(amount, route.total_fee))
    }

    /// The first limit a plan of `parts` delivering `amount` breaks, or `None`: every
    /// part's route limits, the part count, both fee caps on the total fee, and saturation
    /// of every non-sender edge by all parts on it together.
    pub fn check_plan(
        &self,
        graph: &ChannelGraph,
        parts: &[Route],
        amount: u128,
    ) -> Option<LimitBound> {
        if parts.len() > self.max_parts {
            return Some(LimitBound::Parts {
                max: self.max_parts,
            });
        }
        if let Some(bound) = parts.iter().find_map(|r| self.check_route(graph, r)) {
            return Some(bound);
        }
        let fee = parts
            .iter()
            .fold(0u128, |sum, r| sum.saturating_add(r.total_fee));
        if let Some(bound) = self.fee_bound(amount, fee) {
            return Some(bound);
        }
        let mut load: std::collections::BTreeMap<u32, u128> = Default::default();
        for hop in parts.iter().flat_map(|r| r.hops.iter().skip(1)) {
            let sum = load.entry(hop.edge).or_default();
            *sum = sum.saturating_add(hop.amount_to_forward);
        }
        load.into_iter()
            .any(|(edge, sum)| {
                let capacity = graph.edge(edge).map_or(0, |e| e.capacity);
                !self.within_saturation(sum, capacity)
            })
            .then(|| self.saturation_bound())
    }

    /// The fee cap a total `fee` for `amount` breaks, if any (absolute first).
    pub fn fee_bound(&self, amount: u128, fee: u128) -> Option<LimitBound> {
        if let Some(max) = self.max_fee.filter(|&max| fee > max) {
            return Some(LimitBound::FeeAbsolute { max });
        }
        let cap = self.max_fee_relative?;
        let max = cap.base.saturating_add(ppm_of(amount, cap.ppm));
        (fee > max).then_some(LimitBound::FeeRelative { max })
    }

    fn saturation_bound(&self) -> LimitBound {
        LimitBound::Saturation {
            max_ppm: self.max_channel_saturation_ppm,
        }
    }
}

impl Canonical for SearchLimits {
    fn canonical_rlp(&self) -> RlpItem {
        let relative = self.max_fee_relative.map(|c| (c.base, c.ppm));
        tagged(
            b"xln/search-limits/v1",
            vec![
                self.max_pops.canonical_rlp(),
                self.max_hops.canonical_rlp(),
                self.max_timeout_blocks.canonical_rlp(),
                self.final_timeout_blocks.canonical_rlp(),
                self.max_fee.canonical_rlp(),
                relative.canonical_rlp(),
                self.max_channel_saturation_ppm.canonical_rlp(),
                self.max_parts.canonical_rlp(),
            ],
        )
    }
}

/// `amount × 10^6 ≤ capacity × ppm`, exact (no division).
#[inline]
pub(crate) fn within_saturation(amount: u128, capacity: u128, ppm: u32) -> bool {
    if ppm >= 1_000_000 {
        return amount <= capacity;
    }
    // Fast path: 64-bit operands times 32-bit factors cannot overflow 128 bits.
    if let (Ok(a), Ok(c)) = (u64::try_from(amount), u64::try_from(capacity)) {
        return u128::from(a) * 1_000_000 <= u128::from(c) * u128::from(ppm);
    }
    match (
        amount.checked_mul(1_000_000),
        capacity.checked_mul(u128::from(ppm)),
    ) {
        (Some(left), Some(right)) => left <= right,
        // Huge values: compare with the division instead (rounding down the allowance).
        _ => amount <= capacity / 1_000_000 * u128::from(ppm),
    }
}

impl Default for SearchLimits {
    /// A wallet's limits: pops and hops as before, 1,008 blocks of timeout, fees at most
    /// 50,000 + 1%, half of any other edge's capacity, up to 10 parts.
    fn default() -> SearchLimits {
        SearchLimits {
            max_pops: Self::DEFAULT_MAX_POPS,
            max_hops: Self::DEFAULT_MAX_HOPS,
            max_timeout_blocks: Self::DEFAULT_MAX_TIMEOUT_BLOCKS,
            final_timeout_blocks: 0,
            max_fee: None,
            max_fee_relative: Some(Self::DEFAULT_MAX_FEE_RELATIVE),
            max_channel_saturation_ppm: Self::DEFAULT_MAX_CHANNEL_SATURATION_PPM,
            max_parts: Self::DEFAULT_MAX_PARTS,
        }
    }
}

/// The limit that ruled a route out, named after its [`SearchLimits`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LimitBound {
    /// `max_hops`.
    Hops {
        /// The limit.
        max: usize,
    },
    /// `max_timeout_blocks` (with `final_timeout_blocks` counted in).
    Timeout {
        /// The limit.
        max_blocks: u32,
    },
    /// `max_fee`.
    FeeAbsolute {
        /// The limit.
        #[serde(with = "super::scorer::decimal")]
        max: u128,
    },
    /// `max_fee_relative`, evaluated for the amount.
    FeeRelative {
        /// The cap for this amount.
        #[serde(with = "super::scorer::decimal")]
        max: u128,
    },
    /// `max_channel_saturation_ppm`.
    Saturation {
        /// The limit.
        max_ppm: u32,
    },
    /// `max_parts`.
    Parts {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for LimitBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitBound::Hops { max } => write!(f, "max_hops ({max} hops)"),
            LimitBound::Timeout { max_blocks } => {
                write!(f, "max_timeout_blocks ({max_blocks} blocks in total)")
            }
            LimitBound::FeeAbsolute { max } => write!(f, "max_fee ({max})"),
            LimitBound::FeeRelative { max } => {
                write!(f, "max_fee_relative ({max} for this amount)")
            }
            LimitBound::Saturation { max_ppm } => write!(
                f,
                "max_channel_saturation_ppm ({max_ppm} millionths of an edge's capacity)"
            ),
            LimitBound::Parts { max } => write!(f, "max_parts ({max} parts)"),
        }
    }
}

/// serde for `Option<u128>` as an optional decimal string (see [`super::scorer::decimal`]).
mod optional_decimal {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        value.map(|v| v.to_string()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_cap_takes_the_smaller_cap() {
        let mut limits = SearchLimits::default();
        assert_eq!(limits.fee_cap(1_000_000), 60_000);
        limits.max_fee = Some(7);
        assert_eq!(limits.fee_cap(1_000_000), 7);
        assert_eq!(
            limits.fee_bound(1_000_000, 8),
            Some(LimitBound::FeeAbsolute { max: 7 })
        );
        limits.max_fee = None;
        assert_eq!(
            limits.fee_bound(1_000_000, 60_001),
            Some(LimitBound::FeeRelative { max: 60_000 })
        );
        assert_eq!(SearchLimits::fee_only().fee_cap(5), u128::MAX);
    }

    #[test]
    fn saturation_is_exact_at_the_edge_of_the_share() {
        assert!(within_saturation(250, 1_000, 250_000));
        assert!(!within_saturation(251, 1_000, 250_000));
        assert!(within_saturation(u128::MAX, u128::MAX, 1_000_000));
        assert!(!within_saturation(u128::MAX, u128::MAX, 999_999));
        assert!(within_saturation(u128::MAX / 5, u128::MAX, 250_000));
    }
}
