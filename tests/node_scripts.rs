//! Scripts and the REPL drive a live node with the simulator's shapes: `xln run` of a
//! script using `connect-node!` and the node-* builtins, and `xln repl --node URL`, against
//! two real `xln node` processes.

mod node_support;

use std::io::Write;
use std::process::Stdio;

use node_support::{base_port, xln, TestNet};

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "scripted" #:base-port {base})
(entity #:name "hub" #:validators 1 #:reserves (("treasury" 1 500)))
(entity #:name "alice" #:validators 1)
(node #:name "hub" #:hosts (("hub" 0)))
(node #:name "alice" #:hosts (("alice" 0)))
(account #:between ("alice" "hub") #:credit ((1 1000)))
"#
    )
}

#[test]
fn scripts_and_the_repl_drive_a_live_node() {
    let net = TestNet::up("scripted", &network(base_port(4)));
    let hub_url = net.client("hub").url.clone();
    let script = format!(
        r#"(define hub (connect-node! "{hub_url}"))
(define h (node-pay! "hub" "alice" 1 40))
(test #t (node-wait-until-quiet! 60000))
(define outcome (let loop ([n 0]) (let ([o (node-tx-outcome h)]) (if (or (not (eq? o 'pending)) (> n 600)) o (begin (node-wait-until-quiet! 100) (loop (+ n 1)))))))
(test 'applied outcome)
(define r (node-submit! "hub" 'payment "treasury" "bob" 1 15))
(node-wait-until-quiet! 60000)
(define acct (node-entity-account "hub" "alice" 1))
(test #t (bytes? (node-entity-state-hash "hub")))
(test #t (> (node-entity-height "hub") 0))
(test #t (hash-has-key? acct '#:delta))
(displayln (hash-ref acct '#:delta))
"#
    );
    let file = net.dir.join("live.xln");
    std::fs::write(&file, script).expect("script");
    let o = xln().arg("run").arg(&file).output().expect("xln run");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("passed, 0 failed"), "{out}");
    assert!(
        out.lines().any(|l| l.trim() == "40" || l.trim() == "-40"),
        "the account moved 40: {out}"
    );
    // Events: a subscriber over WebSocket sees the hub commit a payment.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ws_url = hub_url.replace("http://", "ws://");
    let event = rt.block_on(async {
        use jsonrpsee::core::client::SubscriptionClientT;
        let client = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(&ws_url)
            .await
            .expect("ws client");
        let mut sub: jsonrpsee::core::client::Subscription<serde_json::Value> = client
            .subscribe("xln_subscribe", jsonrpsee::rpc_params![], "xln_unsubscribe")
            .await
            .expect("subscribe");
        let hub = xln::node::client::NodeClient::connect(&hub_url, None).expect("client");
        tokio::task::spawn_blocking(move || hub.pay("hub", "alice", 1, "2").expect("pay"));
        loop {
            let next = tokio::time::timeout(node_support::PATIENCE, sub.next())
                .await
                .expect("an event in time");
            let e = next.expect("open").expect("an event");
            if e["event"] == "committed" {
                break e;
            }
        }
    });
    assert!(event["height"].as_u64().unwrap_or(0) > 0, "{event}");
    let mut repl = xln()
        .args(["repl", "--node", &hub_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xln repl");
    repl.stdin
        .take()
        .expect("stdin")
        .write_all(b"(hash-ref (node-status) '#:node)\n")
        .expect("write");
    let o = repl.wait_with_output().expect("repl output");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("connected to node hub") && out.contains("\"hub\""),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
