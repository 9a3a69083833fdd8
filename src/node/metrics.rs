//! The node's metrics: their names, what each counts, and the Prometheus recorder that
//! `/metrics` renders (on the node's RPC port, see [`super::web`]). Code anywhere in the
//! node records through the `metrics` facade macros with the names below; without an
//! installed recorder (a library user, a unit test) they cost a branch and record nothing.
//!
//! | name | kind | labels | counts |
//! |---|---|---|---|
//! | `xln_payments_committed_total` | counter | `kind` = direct, routed | payments submitted to this node whose tx its replica committed as applied |
//! | `xln_payments_settled_total` / `xln_payments_failed_total` | counter | — | routed payments sent by an entity here that settled / failed (from the entity's log) |
//! | `xln_payment_latency_seconds` | histogram | `kind` | direct: submit to the entity frame that applied it; routed: submit to settled |
//! | `xln_entity_frames_committed_total` | counter | — | entity frames committed by the replicas here (not counting replay at start) |
//! | `xln_account_frames_committed_total` | counter | — | account frames committed on those replicas' accounts |
//! | `xln_htlcs_in_flight` | gauge | — | HTLC locks open on the accounts of the replicas here |
//! | `xln_peers_connected` | gauge | `direction` = in, out | authenticated peer sessions |
//! | `xln_consensus_view` | gauge | `entity` | each hosted replica's consensus view |
//! | `xln_consensus_view_changes_total` | counter | `entity` | views moved past (each one after a view timeout) |
//! | `xln_wal_append_seconds` / `xln_wal_fsync_seconds` | histogram | — | one WAL append / one group-commit fsync |
//! | `xln_inputs_rejected_total` | counter | `reason` | refused connections, peer messages and txs, by reason |

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Payments committed (label `kind`).
pub const PAYMENTS_COMMITTED: &str = "xln_payments_committed_total";
/// Routed payments settled.
pub const PAYMENTS_SETTLED: &str = "xln_payments_settled_total";
/// Routed payments failed.
pub const PAYMENTS_FAILED: &str = "xln_payments_failed_total";
/// Payment latency (label `kind`).
pub const PAYMENT_LATENCY: &str = "xln_payment_latency_seconds";
/// Entity frames committed.
pub const ENTITY_FRAMES: &str = "xln_entity_frames_committed_total";
/// Account frames committed.
pub const ACCOUNT_FRAMES: &str = "xln_account_frames_committed_total";
/// HTLC locks open.
pub const HTLCS_IN_FLIGHT: &str = "xln_htlcs_in_flight";
/// Peer sessions (label `direction`).
pub const PEERS_CONNECTED: &str = "xln_peers_connected";
/// Consensus view (label `entity`).
pub const CONSENSUS_VIEW: &str = "xln_consensus_view";
/// View changes (label `entity`).
pub const VIEW_CHANGES: &str = "xln_consensus_view_changes_total";
/// One WAL append.
pub const WAL_APPEND: &str = "xln_wal_append_seconds";
/// One WAL fsync.
pub const WAL_FSYNC: &str = "xln_wal_fsync_seconds";
/// Rejected inputs (label `reason`).
pub const INPUTS_REJECTED: &str = "xln_inputs_rejected_total";

/// Histogram buckets in seconds: 50 µs (a buffered append) to 30 s (a payment on a loaded
/// machine), roughly ×2.5 apart.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 5.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same
/// handle) and describes every metric.
///
/// # Errors
/// Another recorder is installed already.
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The rendered text of every metric (Prometheus exposition format 0.0.4), or `None`
/// without a recorder.
pub fn render() -> Option<String> {
    HANDLE.get().map(|h| {
        h.run_upkeep();
        h.render()
    })
}

fn describe() {
    describe_counter!(
        PAYMENTS_COMMITTED,
        "payments submitted to this node whose tx its replica committed as applied"
    );
    describe_counter!(
        PAYMENTS_SETTLED,
        "routed payments sent from here that settled"
    );
    describe_counter!(
        PAYMENTS_FAILED,
        "routed payments sent from here that failed"
    );
    describe_histogram!(
        PAYMENT_LATENCY,
        Unit::Seconds,
        "direct: submit to commit; routed: submit to settled"
    );
    describe_counter!(
        ENTITY_FRAMES,
        "entity frames committed by the replicas here"
    );
    describe_counter!(ACCOUNT_FRAMES, "account frames committed on their accounts");
    describe_gauge!(HTLCS_IN_FLIGHT, "HTLC locks open on their accounts");
    describe_gauge!(PEERS_CONNECTED, "authenticated peer sessions");
    describe_gauge!(CONSENSUS_VIEW, "consensus view of each hosted replica");
    describe_counter!(VIEW_CHANGES, "consensus views moved past (view timeouts)");
    describe_histogram!(WAL_APPEND, Unit::Seconds, "one WAL append");
    describe_histogram!(WAL_FSYNC, Unit::Seconds, "one group-commit fsync");
    describe_counter!(INPUTS_REJECTED, "refused connections, messages and txs");
    // Series that exist from the start (a scrape shows 0, not nothing).
    for kind in ["direct", "routed"] {
        metrics::counter!(PAYMENTS_COMMITTED, "kind" => kind).absolute(0);
    }
    for name in [
        PAYMENTS_SETTLED,
        PAYMENTS_FAILED,
        ENTITY_FRAMES,
        ACCOUNT_FRAMES,
    ] {
        metrics::counter!(name).absolute(0);
    }
    metrics::gauge!(HTLCS_IN_FLIGHT).set(0.0);
    for direction in ["in", "out"] {
        metrics::gauge!(PEERS_CONNECTED, "direction" => direction).set(0.0);
    }
}

/// Counts one rejected input.
pub fn rejected(reason: &'static str) {
    metrics::counter!(INPUTS_REJECTED, "reason" => reason).increment(1);
}

/// An authenticated peer session, counted in [`PEERS_CONNECTED`] while it lives.
pub struct PeerSession(&'static str);

impl PeerSession {
    /// Counts a session of `direction` ("in" or "out").
    pub fn new(direction: &'static str) -> Self {
        metrics::gauge!(PEERS_CONNECTED, "direction" => direction).increment(1.0);
        PeerSession(direction)
    }
}

impl Drop for PeerSession {
    fn drop(&mut self) {
        metrics::gauge!(PEERS_CONNECTED, "direction" => self.0).decrement(1.0);
    }
}
