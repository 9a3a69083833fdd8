//! A routed payment over real sockets: three `xln node` processes — alice, a hub and bob,
//! each a 1-of-1 entity on its own node — with accounts alice–hub and hub–bob. Alice's node
//! plans the route over its own replica's gossip view and submits one `PayRouted`; from
//! there every hop acts on its own: alice locks an HTLC (with an onion) toward the hub, the
//! hub's node decrypts its layer and, by its own fee policy, locks toward bob; bob reveals;
//! the preimage flows back. Afterwards the payment is settled, the balances moved on every
//! hop (the hub keeps exactly its fee), both sides of each account agree, no lock is left,
//! and replaying each node's WAL gives the hash it reported.

mod node_support;

use node_support::{base_port, delta, TestNet, PATIENCE};
use serde_json::{json, Value};

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "routed" #:base-port {base})
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

/// Δ of `entity`'s account with `peer` as `entity`'s own side holds it, signed so that a
/// payment *to* `entity` is positive, with the account's state hash.
fn balance(net: &TestNet, node: &str, entity: &str, peer: &str) -> (i64, Value) {
    let view = net.client(node).account(entity, peer, 1).expect("account");
    let sign = if view["side"] == "left" { 1 } else { -1 };
    (delta(&view) * sign, view["state_hash"].clone())
}

#[test]
fn a_payment_routed_through_a_hub_node_settles_on_every_hop() {
    let net = TestNet::up("routed", &network(base_port(6)));
    // The hub's own forwarding policy: base 2 + 1000 ppm, a 5 s timeout delta (ms clock).
    net.client("hub")
        .submit(
            "hub",
            json!({ "kind": "set-fee-policy", "base": "2", "ppm": 1000, "timeout_delta": 5000 }),
        )
        .expect("fee policy");
    net.wait_quiet();
    let before = [
        balance(&net, "alice", "alice", "hub").0,
        balance(&net, "hub", "hub", "alice").0,
        balance(&net, "hub", "hub", "bob").0,
        balance(&net, "bob", "bob", "hub").0,
    ];
    // Alice's node routes once its view knows the hub's profile (fee policy included) and
    // bob's: polled, bounded by PATIENCE.
    let deadline = std::time::Instant::now() + PATIENCE;
    let hash = loop {
        let known = net
            .client("alice")
            .call("xln_entity", json!({ "entity": "alice" }))
            .expect("entity");
        match net.client("alice").pay_routed("alice", "bob", 1, "40") {
            Ok(hash) => break hash,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "alice's node never found a route: {e}; its view: {known}"
                );
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    };
    net.wait_until("the routed payment settles", |n| {
        let s = n
            .client("alice")
            .payment_status("alice", &hash)
            .expect("status");
        assert_ne!(s["status"], "failed", "the payment failed: {s}");
        s["status"] == "settled"
    });
    net.wait_quiet();
    let fee = 2 + 1; // base 2 + ceil(40 × 1000 / 1e6)
    let (alice_side, a_hash) = balance(&net, "alice", "alice", "hub");
    let (hub_alice, h_hash) = balance(&net, "hub", "hub", "alice");
    let (hub_bob, hb_hash) = balance(&net, "hub", "hub", "bob");
    let (bob_side, b_hash) = balance(&net, "bob", "bob", "hub");
    assert_eq!(
        alice_side - before[0],
        -(40 + fee),
        "alice paid 40 + the fee"
    );
    assert_eq!(
        hub_alice - before[1],
        40 + fee,
        "the hub was paid 40 + fee upstream"
    );
    assert_eq!(hub_bob - before[2], -40, "the hub paid 40 downstream");
    assert_eq!(bob_side - before[3], 40, "bob received 40");
    assert_eq!(a_hash, h_hash, "both sides of alice–hub agree");
    assert_eq!(hb_hash, b_hash, "both sides of hub–bob agree");
    let hub = net
        .client("hub")
        .call("xln_entity", json!({ "entity": "hub" }))
        .expect("hub");
    assert_eq!(
        hub["fees_earned"],
        json!([{ "token": 1, "amount": fee.to_string() }]),
        "the hub forwarded by its own policy and kept its fee: {hub}"
    );
    for (node, entity, peer) in [("alice", "alice", "hub"), ("hub", "hub", "bob")] {
        let view = net.client(node).account(entity, peer, 1).expect("account");
        assert_eq!(
            view["in_flight"],
            json!(false),
            "{entity}–{peer}: nothing in flight"
        );
    }
    let reported: Vec<(String, String)> = ["alice", "hub", "bob"]
        .iter()
        .map(|n| {
            let s = net.status(n)["state_hash"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (n.to_string(), s)
        })
        .collect();
    let mut net = net;
    net.down();
    for (node, hash) in reported {
        assert_eq!(
            net.verified_hash(&node),
            hash,
            "replaying {node}'s WAL (HTLC locks, onions, gossip) gives the hash it reported"
        );
    }
}
