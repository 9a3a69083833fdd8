//! The routing layer of xln: who can forward how much to whom, and at what price. Pure and
//! deterministic: no clock, no randomness, no I/O except the Lightning file loader.
//!
//! | file | owns |
//! |---|---|
//! | `gossip.rs` | [`Profile`]s entities advertise and the last-write-wins CRDT [`GossipState`] |
//! | `graph.rs` | the directed [`ChannelGraph`] (edges with capacity, fees, HTLC bounds), built from gossip |
//! | `route.rs` | what a [`Route`] is: hop amounts, exact fees, success estimate, checked from a path |
//! | `limits.rs` | [`SearchLimits`]: pops, hops, timeout, fee caps, saturation, parts; the route checks |
//! | `search.rs` | the bounded backward Dijkstra every query runs (fee-only or fee + liquidity penalty) |
//! | `pathfind.rs` | [`find_routes`]: the fee-only search plus Yen's k-shortest routes |
//! | `liquidity.rs` | integer arithmetic of the liquidity model: success probability, −log2, decay |
//! | `scorer.rs` | the [`Scorer`]: learned liquidity bounds per directed edge, penalties, decay |
//! | `plan.rs` | [`find_scored_route`] and [`plan_payment`]: success-aware routes, multi-part splits |
//! | `session.rs` | [`PaymentSession`]: the retry state machine of one payment, learning as it goes |
//! | `lightning.rs` | loader of Core Lightning's compressed gossip map (`GOSSMAP_COMPRESSv1`) |
//!
//! Every fallible function returns [`RoutingError`]; nothing here panics on external input
//! (gossip, graph files, route requests).

#![warn(missing_docs)]

pub mod gossip;
pub mod graph;
pub mod lightning;
pub mod limits;
pub mod liquidity;
pub mod pathfind;
pub mod plan;
pub mod route;
pub mod scorer;
mod search;
pub mod session;

pub use gossip::{AdvertisedAccount, GossipState, MergeOutcome, Profile};
pub use graph::{CarryBound, ChannelGraph, ChannelId, Edge, EdgeId, EdgeKey, NodeId};
pub use lightning::{load_lightning_graph, parse_gossmap, parse_lightning_graph};
pub use limits::{LimitBound, RelativeFeeCap, SearchLimits};
pub use pathfind::{find_route, find_routes, find_routes_with_limits};
pub use plan::{find_scored_route, plan_payment, OwnLiquidity, PaymentPlan, PaymentRequest};
pub use route::{hop_fee, Hop, Route};
pub use scorer::{AttemptOutcome, LiquidityEstimate, ScoreView, Scorer, ScorerParams};
pub use session::{
    AttemptResult, GiveUpReason, PartAttempt, PartHop, PartRecord, PartStatus, PaymentSession,
    SessionState, SessionStep,
};

/// Which byte stream a [`RoutingError::MalformedGraph`] offset counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphEncoding {
    /// The file as stored (gzip): the offset counts compressed bytes.
    Gzip,
    /// The decompressed `GOSSMAP_COMPRESSv1` stream: the offset counts its bytes.
    Gossmap,
}

impl std::fmt::Display for GraphEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GraphEncoding::Gzip => "gzip file",
            GraphEncoding::Gossmap => "decompressed gossip map",
        })
    }
}

/// The single error type of the routing layer. Each message names what is wrong, the
/// bound it broke, and what the caller can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// No route satisfies the capacities, HTLC bounds and hop limit for this amount.
    #[error("no route from node {from} to node {to} for {amount} msat: no path of enabled edges can carry it (try a smaller amount, or split the payment)")]
    NoRoute {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Amount the receiver should get.
        amount: u128,
    },
    /// A node id is not below the graph's node count.
    #[error("unknown node {node}: the graph has {node_count} nodes (ids 0..{node_count}); look ids up with ChannelGraph::node_by_key")]
    UnknownNode {
        /// The id given.
        node: NodeId,
        /// Nodes in the graph.
        node_count: usize,
    },
    /// Sender and receiver are the same node; there is nothing to route.
    #[error("node {node} is both sender and receiver: a payment to oneself needs no route")]
    SenderIsReceiver {
        /// The node.
        node: NodeId,
    },
    /// A route was requested for a zero amount.
    #[error("amount is zero: a route must carry at least 1 msat")]
    ZeroAmount,
    /// The amount exceeds what any single enabled edge into the receiver can carry.
    #[error("amount {amount} msat is too large for node {to}: its largest inbound edge carries at most {max_inbound} msat (split the payment into parts)")]
    AmountTooLarge {
        /// Amount requested.
        amount: u128,
        /// Receiver.
        to: NodeId,
        /// Largest amount one enabled inbound edge accepts (capacity and htlc_max).
        max_inbound: u128,
    },
    /// Routes exist, but every one found breaks a configured limit.
    #[error("no route from node {from} to node {to} for {amount} within the limits: the best route without limits breaks {bound} (it has {found_hops} hops, fee {found_fee}, {found_timeout_blocks} blocks of forwarding timeout); raise that limit, or split the payment")]
    LimitExceeded {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Amount the receiver should get.
        amount: u128,
        /// The limit that rules the route out.
        bound: LimitBound,
        /// Hops of the best route found without limits.
        found_hops: usize,
        /// Its total fee.
        found_fee: u128,
        /// Its forwarding timeout (the final delta not included).
        found_timeout_blocks: u32,
    },
    /// A payment could not be split into parts that together deliver the amount.
    #[error("cannot split {amount} from node {from} to node {to} into at most {max_parts} parts within the limits: the parts found deliver only {routed} (raise SearchLimits::max_parts or the saturation share, or pay less)")]
    CannotSplit {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Amount the receiver should get.
        amount: u128,
        /// What the best attempt at a split could deliver.
        routed: u128,
        /// The part limit.
        max_parts: usize,
    },
    /// An amount or fee computation does not fit in 128 bits.
    #[error("arithmetic overflow computing {what}: amounts and fees must stay below 2^128 msat; the graph advertises absurd fees or capacities")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// The search used its whole budget of queue pops before finding any route.
    #[error("route search stopped after {max_pops} queue pops without a route; raise SearchLimits::max_pops or query a smaller graph")]
    SearchBudgetExhausted {
        /// The budget that ran out.
        max_pops: usize,
    },
    /// A route's edge cannot carry the amount it would have to forward.
    #[error("edge {edge} cannot carry {amount} msat: it breaks its {bound}")]
    EdgeCannotCarry {
        /// The edge.
        edge: EdgeId,
        /// Amount it would carry (payment plus downstream fees).
        amount: u128,
        /// The bound that is broken.
        bound: CarryBound,
    },
    /// A path given to [`Route::from_path`] is not a chain of edges from sender to receiver.
    #[error("broken path at hop {index}: {reason}")]
    BrokenPath {
        /// Index of the offending hop.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Node keys given to [`ChannelGraph::with_node_keys`] do not name each node once.
    #[error("invalid node keys: {reason}; give exactly one distinct key per node, in id order")]
    InvalidNodeKeys {
        /// What is wrong with them.
        reason: String,
    },
    /// The graph file could not be read at all.
    #[error("cannot read graph file {path}: {reason}")]
    Io {
        /// The path given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A graph file is truncated, corrupt, or not in the expected format.
    #[error("malformed graph at byte {offset} of the {encoding}: {reason}; the file is corrupt or truncated, fetch it again")]
    MalformedGraph {
        /// Which stream `offset` counts in.
        encoding: GraphEncoding,
        /// Byte offset where the problem was detected.
        offset: u64,
        /// What was expected there.
        reason: String,
    },
}
