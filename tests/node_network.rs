//! Five real `xln node` processes on 127.0.0.1: a 3-of-4 hub whose four validators are
//! four processes, and a node hosting two users on 1-of-1 entities, with accounts between
//! each user and the hub. Payments flow both ways while a hub validator and then the users'
//! node are killed with SIGKILL and restarted. Afterwards: every acknowledged payment is
//! applied exactly once (both sides' deltas equal the sums), the hub kept committing while a
//! quorum was up, all replicas of the hub agree, and each node's state hash equals what
//! replaying its WAL gives (`xln wal verify`). Snapshots are taken every 200 records, so
//! restarts recover from a snapshot plus the WAL after it. Routed (HTLC) payments across node
//! processes are `tests/node_routed.rs`.

mod node_support;

use node_support::{base_port, delta, TestNet};
use serde_json::json;

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "five" #:base-port {base} #:snapshot-every 200)
(entity #:name "hub" #:validators 4 #:threshold 3)
(entity #:name "alice" #:validators 1)
(entity #:name "bob" #:validators 1)
(node #:name "hub-0" #:hosts (("hub" 0)))
(node #:name "hub-1" #:hosts (("hub" 1)))
(node #:name "hub-2" #:hosts (("hub" 2)))
(node #:name "hub-3" #:hosts (("hub" 3)))
(node #:name "users" #:hosts (("alice" 0) ("bob" 0)))
(account #:between ("alice" "hub") #:credit ((1 100000)))
(account #:between ("bob" "hub") #:credit ((1 100000)))
"#
    )
}

/// One acknowledged payment: where it was submitted, its hash, and its effect on Δ as the
/// user's account sees it (user is the account's left or right side; positive = to user).
struct Paid {
    node: &'static str,
    hash: String,
    user: &'static str,
    to_user: i64,
}

/// Submits a payment; a node that is down refuses (not acknowledged, not counted).
fn pay(net: &TestNet, paid: &mut Vec<Paid>, node: &'static str, from: &str, to: &str, amount: i64) {
    let user = if from == "hub" { to } else { from };
    let user: &'static str = if user == "alice" { "alice" } else { "bob" };
    match net.client(node).pay(from, to, 1, &amount.to_string()) {
        Ok(hash) => paid.push(Paid {
            node,
            hash,
            user,
            to_user: if from == "hub" { amount } else { -amount },
        }),
        Err(e) => println!("not acknowledged (node {node} down?): {e}"),
    }
}

fn round(net: &TestNet, paid: &mut Vec<Paid>, r: i64) {
    pay(net, paid, "hub-0", "hub", "alice", 3 + r);
    pay(net, paid, "users", "alice", "hub", 2);
    pay(net, paid, "hub-0", "hub", "bob", 5);
    pay(net, paid, "users", "bob", "hub", 1 + r % 3);
}

fn hub_height(net: &TestNet, node: &str) -> u64 {
    net.status(node)["replicas"][0]["height"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn five_nodes_pay_survive_kill_9_and_replay_to_their_hashes() {
    let mut net = TestNet::up("five", &network(base_port(1)));
    let mut paid = Vec::new();
    for r in 0..4 {
        round(&net, &mut paid, r);
    }
    // A hub validator dies mid-traffic: 3 of 4 remain, so the hub keeps committing.
    net.kill9("hub-1");
    let before = hub_height(&net, "hub-0");
    for r in 4..8 {
        round(&net, &mut paid, r);
    }
    net.wait_until("the hub commits without hub-1", |n| {
        hub_height(n, "hub-0") > before
    });
    // Then the users' node dies mid-traffic.
    net.kill9("users");
    for r in 8..11 {
        round(&net, &mut paid, r);
    }
    net.restart("users");
    for r in 11..14 {
        round(&net, &mut paid, r);
    }
    net.restart("hub-1");
    for r in 14..16 {
        round(&net, &mut paid, r);
    }
    net.wait_quiet();
    let deadline = std::time::Instant::now() + node_support::PATIENCE;
    loop {
        let pending: Vec<(&str, &str, serde_json::Value)> = paid
            .iter()
            .filter_map(|p| {
                let o = net
                    .client(p.node)
                    .outcome(&p.hash)
                    .unwrap_or(json!("unreachable"));
                (o["outcome"] != "applied").then_some((p.node, p.hash.as_str(), o))
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        if std::time::Instant::now() > deadline {
            for node in ["users", "hub-0"] {
                println!("--- {node} log:\n{}", net.log(node));
                println!("--- {node}: {:?}", net.status(node));
            }
            panic!("acknowledged payments not applied: {pending:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    net.wait_quiet();
    for user in ["alice", "bob"] {
        let expected: i64 = paid
            .iter()
            .filter(|p| p.user == user)
            .map(|p| p.to_user)
            .sum();
        net.wait_until(&format!("{user}'s account settles"), |n| {
            let theirs = n.client("users").account(user, "hub", 1).expect("account");
            let hubs = n.client("hub-2").account("hub", user, 1).expect("account");
            theirs["state_hash"] == hubs["state_hash"] && theirs["in_flight"] == json!(false)
        });
        let theirs = net
            .client("users")
            .account(user, "hub", 1)
            .expect("account");
        // Δ is the left side's balance: a payment to the user raises it if the user is left.
        let sign = if theirs["side"] == "left" { 1 } else { -1 };
        if delta(&theirs) * sign != expected {
            for (node, entity) in [("users", user), ("hub-0", "hub")] {
                let v = net
                    .client(node)
                    .call("xln_entity", json!({ "entity": entity }));
                println!("{node} {entity}: {v:?}");
            }
        }
        assert_eq!(
            delta(&theirs) * sign,
            expected,
            "{user}: every acknowledged payment applied exactly once ({} payments)",
            paid.iter().filter(|p| p.user == user).count()
        );
        for hub in ["hub-0", "hub-1", "hub-2", "hub-3"] {
            let view = net.client(hub).account("hub", user, 1).expect("account");
            assert_eq!(
                view["state_hash"], theirs["state_hash"],
                "{hub} agrees with {user}"
            );
        }
    }
    let hashes = net.replica_hashes();
    let hub: Vec<_> = hashes.iter().filter(|(n, _, _)| n == "hub").collect();
    assert_eq!(hub.len(), 4);
    assert!(
        hub.iter().all(|h| h.1 == hub[0].1 && h.2 == hub[0].2),
        "hub replicas agree: {hub:?}"
    );
    let reported: Vec<(String, String)> = net
        .net
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.clone(),
                net.status(&n.name)["state_hash"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    net.down();
    for (node, hash) in reported {
        assert_eq!(
            net.verified_hash(&node),
            hash,
            "replaying {node}'s WAL gives the hash it reported"
        );
    }
    println!("{} payments acknowledged and applied", paid.len());
}
