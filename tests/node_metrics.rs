//! Operating a real network (issue 15): three `xln node` processes (alice, a hub, bob) with
//! JSON logs. Alice makes N direct payments to the hub and one payment routed to bob; then
//! `GET /metrics` on alice's RPC port counts exactly those payments (committed, settled,
//! timed), no HTLC is left in flight, and the WAL and peer figures are there. A garbage
//! connection to the hub's peer port gives exactly one structured log line naming the
//! remote address and the reason, and one count of that reason in the hub's metrics.
//! `GET /` and `/app.js` serve the embedded web view, `/api/network` names every node's
//! RPC WebSocket, and `xln_view` answers with the replicas' accounts.

mod node_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use node_support::{base_port, TestNet, PATIENCE};
use serde_json::{json, Value};

const DIRECT_PAYMENTS: usize = 5;

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "metrics" #:base-port {base} #:log-format "json")
(entity #:name "alice" #:validators 1)
(entity #:name "hub" #:validators 1)
(entity #:name "bob" #:validators 1)
(node #:name "alice" #:hosts (("alice" 0)))
(node #:name "hub" #:hosts (("hub" 0)))
(node #:name "bob" #:hosts (("bob" 0)))
(account #:between ("alice" "hub") #:credit ((1 100000)))
(account #:between ("hub" "bob") #:credit ((1 100000)))
"#
    )
}

/// `GET path` on 127.0.0.1:port: (status line, body).
fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a sized body: {head}"
    );
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The value of the series `series` (name and labels exactly as rendered), if present.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn metrics_of(net: &TestNet, node: &str) -> String {
    let (status, body) = get(net.net.rpc_port(net.index(node)), "/metrics");
    assert!(status.contains("200"), "{status}");
    body
}

fn wait_applied(net: &TestNet, node: &str, hash: &str) {
    net.wait_until("the payment's tx is applied", |n| {
        n.client(node)
            .outcome(hash)
            .map(|o| o["outcome"] == "applied")
            .unwrap_or(false)
    });
}

#[test]
fn metrics_count_the_payments_made_and_a_refused_peer_is_one_structured_line() {
    let net = TestNet::up("metrics", &network(base_port(15)));

    // N direct payments alice -> hub, each waited for.
    for _ in 0..DIRECT_PAYMENTS {
        let hash = net
            .client("alice")
            .pay("alice", "hub", 1, "3")
            .expect("direct payment");
        wait_applied(&net, "alice", &hash);
    }
    // One payment routed alice -> hub -> bob, once alice's gossip view has a route.
    let deadline = Instant::now() + PATIENCE;
    let routed = loop {
        match net.client("alice").pay_routed("alice", "bob", 1, "40") {
            Ok(hash) => break hash,
            Err(e) => {
                assert!(Instant::now() < deadline, "no route to bob: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    net.wait_until("the routed payment settles", |n| {
        let s = n
            .client("alice")
            .payment_status("alice", &routed)
            .expect("status");
        assert_ne!(s["status"], "failed", "the payment failed: {s}");
        s["status"] == "settled"
    });
    net.wait_quiet();

    // Telemetry runs after the batch that committed the settlement: poll for it.
    let mut text = String::new();
    net.wait_until("alice's metrics show the settled payment", |n| {
        text = metrics_of(n, "alice");
        metric(&text, "xln_payments_settled_total") == Some(1.0)
    });
    println!("{text}");
    let want = |series: &str, value: f64| {
        assert_eq!(metric(&text, series), Some(value), "{series} in:\n{text}");
    };
    want(
        "xln_payments_committed_total{kind=\"direct\"}",
        DIRECT_PAYMENTS as f64,
    );
    want("xln_payments_committed_total{kind=\"routed\"}", 1.0);
    want("xln_payments_failed_total", 0.0);
    want(
        "xln_payment_latency_seconds_count{kind=\"direct\"}",
        DIRECT_PAYMENTS as f64,
    );
    want("xln_payment_latency_seconds_count{kind=\"routed\"}", 1.0);
    want("xln_htlcs_in_flight", 0.0);
    for series in [
        "xln_entity_frames_committed_total",
        "xln_account_frames_committed_total",
        "xln_wal_append_seconds_count",
        "xln_wal_fsync_seconds_count",
        "xln_peers_connected{direction=\"out\"}",
    ] {
        let v = metric(&text, series).unwrap_or(0.0);
        assert!(v >= 1.0, "{series} = {v} in:\n{text}");
    }
    assert!(
        text.contains("xln_consensus_view{entity=\"alice\"}"),
        "{text}"
    );
    // The payments were submitted at alice: the hub counts none of them.
    let hub = metrics_of(&net, "hub");
    assert_eq!(
        metric(&hub, "xln_payments_committed_total{kind=\"direct\"}"),
        Some(0.0),
        "{hub}"
    );

    // A hostile peer: garbage instead of a WebSocket handshake.
    let hub_port = net.net.peer_port(net.index("hub"));
    let mut tcp = TcpStream::connect(("127.0.0.1", hub_port)).expect("tcp");
    let me = tcp.local_addr().expect("local address").to_string();
    tcp.write_all(&[0xde; 512]).expect("write");
    let _ = tcp.read(&mut [0u8; 64]);
    let lines_about_me = |net: &TestNet| -> Vec<Value> {
        net.log("hub")
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["remote"] == json!(me))
            .collect()
    };
    net.wait_until("the hub logs the refusal", |n| {
        !lines_about_me(n).is_empty()
    });
    // Every line of the log is JSON (no unstructured output).
    for line in net.log("hub").lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON line: {line}"
        );
    }
    let lines = lines_about_me(&net);
    assert_eq!(lines.len(), 1, "exactly one line about {me}: {lines:?}");
    let line = &lines[0];
    println!("logged: {line}");
    assert_eq!(line["message"], "peer refused", "{line}");
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["node"], "hub", "{line}");
    assert_eq!(line["reason"], "not-websocket", "{line}");
    assert!(
        line["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not a WebSocket handshake"),
        "{line}"
    );
    let hub = metrics_of(&net, "hub");
    assert_eq!(
        metric(&hub, "xln_inputs_rejected_total{reason=\"not-websocket\"}"),
        Some(1.0),
        "{hub}"
    );
    // The payments' own lines: alice logged the routed payment's settlement once.
    let settled: Vec<Value> = net
        .log("alice")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "payment settled")
        .collect();
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0]["entity"], "alice");

    // The web view's pages and data.
    let rpc = net.net.rpc_port(net.index("hub"));
    let (status, page) = get(rpc, "/");
    assert!(
        status.contains("200") && page.contains("<script src=\"/app.js\">"),
        "{status}"
    );
    let (status, js) = get(rpc, "/app.js");
    assert!(
        status.contains("200") && js.contains("xln_view") && js.len() > 100_000,
        "{status}: the bundle with cytoscape"
    );
    let (_, network) = get(rpc, "/api/network");
    let network: Value = serde_json::from_str(&network).expect("JSON");
    assert_eq!(network["node"], "hub");
    let rpcs: Vec<String> = network["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["rpc"].as_str().map(str::to_string))
        .collect();
    let expected: Vec<String> = ["alice", "bob"]
        .iter()
        .map(|n| format!("ws://127.0.0.1:{}", net.net.rpc_port(net.index(n))))
        .collect();
    assert_eq!(rpcs, expected, "{network}");
    let view = net.client("hub").call("xln_view", json!({})).expect("view");
    let accounts = view["replicas"][0]["accounts"]
        .as_array()
        .expect("accounts");
    let peers: Vec<&str> = accounts
        .iter()
        .filter_map(|a| a["peer_name"].as_str())
        .collect();
    assert_eq!(peers.len(), 2, "{view}");
    assert!(peers.contains(&"alice") && peers.contains(&"bob"), "{view}");
    let (status, _) = get(rpc, "/nothing-here");
    assert!(!status.contains("200"), "{status}");
}
