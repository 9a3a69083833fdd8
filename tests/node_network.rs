//! Five real `xln node` processes on 127.0.0.1: a 3-of-4 hub whose four validators are
//! four processes, and a node hosting two users on 1-of-1 entities, with accounts between
//! each user and the hub. Payments flow both ways while a hub validator and then the users'
//! node are killed with SIGKILL and restarted. Afterwards: every acknowledged payment is
//! applied exactly once (both sides' deltas equal the sums), the hub kept committing while a
//! quorum was up, all replicas of the hub agree, and each node's state hash equals what
//! replaying its WAL gives (`xln wal verify`). Snapshots are taken every 200 records, so
//! restarts recover from a snapshot plus the WAL after it. A second test routes HTLC payments
//! through the 3-of-4 hub (a 1-of-1 hub over three processes is `tests/node_routed.rs`).

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
    hub_agrees_and_wals_replay(net, "");
    println!("{} payments acknowledged and applied", paid.len());
}

/// Δ of `entity`'s account with `peer` as `node`'s replica of `entity` holds it, signed so
/// that a payment *to* `entity` is positive, with the account's state hash.
fn balance(net: &TestNet, node: &str, entity: &str, peer: &str) -> (i64, serde_json::Value) {
    let view = net.client(node).account(entity, peer, 1).expect("account");
    let sign = if view["side"] == "left" { 1 } else { -1 };
    (delta(&view) * sign, view["state_hash"].clone())
}

/// Routed (HTLC) payments through the 3-of-4 hub of the five-process network: alice →
/// hub → bob and back, each planned by the users' node over its own gossip view; every
/// forward is decided by the hub's board (four processes, three shares to commit), once
/// with one hub validator killed -9 mid-traffic. Afterwards: every payment settled, the
/// balances moved on every hop as every replica of the hub sees them (the hub kept exactly
/// its fees), both sides of each account agree with nothing in flight, and each node's
/// WAL replays to the hash it reported.
#[test]
fn routed_payments_cross_the_3_of_4_hub() {
    let mut net = TestNet::up("five-routed", &network(base_port(7)));
    // The hub's forwarding policy, decided by its board: base 2 + 1000 ppm, 5 s timeout delta.
    net.client("hub-0")
        .submit(
            "hub",
            json!({ "kind": "set-fee-policy", "base": "2", "ppm": 1000, "timeout_delta": 5000 }),
        )
        .expect("fee policy");
    net.wait_quiet();
    let hubs = ["hub-0", "hub-1", "hub-2", "hub-3"];
    let start = |net: &TestNet| {
        let users = [
            balance(net, "users", "alice", "hub").0,
            balance(net, "users", "bob", "hub").0,
        ];
        let hub: Vec<[i64; 2]> = hubs
            .iter()
            .map(|h| {
                [
                    balance(net, h, "hub", "alice").0,
                    balance(net, h, "hub", "bob").0,
                ]
            })
            .collect();
        (users, hub)
    };
    let (users_before, hub_before) = start(&net);
    // Pays over a route the users' node plans; retried while its view lacks the hub's
    // profile (no route yet), bounded.
    let route = |net: &TestNet, from: &str, to: &str, amount: i64| {
        let deadline = std::time::Instant::now() + node_support::PATIENCE;
        loop {
            match net
                .client("users")
                .pay_routed(from, to, 1, &amount.to_string())
            {
                Ok(hash) => return hash,
                Err(e) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no route {from} -> {to}: {e}"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        }
    };
    let settle = |net: &TestNet, from: &str, hash: &str| {
        net.wait_until(&format!("{from}'s routed payment {hash} settles"), |n| {
            let s = n
                .client("users")
                .payment_status(from, hash)
                .expect("status");
            assert_ne!(s["status"], "failed", "the payment failed: {s}");
            s["status"] == "settled"
        });
    };
    let fee = |amount: i64| 2 + (amount * 1000 + 999_999) / 1_000_000;
    // (from, to, amount), in order; the third and fourth while hub-3 is down.
    let payments = [
        ("alice", "bob", 40),
        ("bob", "alice", 25),
        ("alice", "bob", 7),
        ("bob", "alice", 11),
        ("alice", "bob", 3),
    ];
    let mut fees = 0;
    let mut moved = [0i64; 2]; // Δ to alice, to bob (their own side)
    let mut hub_moved = [0i64; 2]; // hub's side of hub–alice, hub–bob
    for (k, (from, to, amount)) in payments.iter().enumerate() {
        let hash = route(&net, from, to, *amount);
        if k == 2 {
            // Mid-payment: the lock toward the hub is on its way to a board of which one
            // validator just died; the other three must forward it.
            net.kill9("hub-3");
        }
        settle(&net, from, &hash);
        if k == 3 {
            net.restart("hub-3");
        }
        let f = fee(*amount);
        fees += f;
        let (ifrom, ito) = if *from == "alice" { (0, 1) } else { (1, 0) };
        moved[ifrom] -= amount + f;
        moved[ito] += amount;
        hub_moved[ifrom] += amount + f;
        hub_moved[ito] -= amount;
    }
    net.wait_quiet();
    for (i, user) in ["alice", "bob"].iter().enumerate() {
        net.wait_until(
            &format!("{user}'s account settles on every hub replica"),
            |n| {
                let theirs = n.client("users").account(user, "hub", 1).expect("account");
                theirs["in_flight"] == json!(false)
                    && hubs.iter().all(|h| {
                        let v = n.client(h).account("hub", user, 1).expect("account");
                        v["state_hash"] == theirs["state_hash"] && v["in_flight"] == json!(false)
                    })
            },
        );
        let (now, _) = balance(&net, "users", user, "hub");
        assert_eq!(
            now - users_before[i],
            moved[i],
            "{user}: every routed payment moved once"
        );
        for (h, hub) in hubs.iter().enumerate() {
            let (hub_now, _) = balance(&net, hub, "hub", user);
            assert_eq!(
                hub_now - hub_before[h][i],
                hub_moved[i],
                "{hub} sees the hub's side of hub–{user} move by the payments"
            );
        }
    }
    // The hub's two accounts together gained exactly its fees.
    assert_eq!(hub_moved[0] + hub_moved[1], fees);
    for hub in hubs {
        let e = net
            .client(hub)
            .call("xln_entity", json!({ "entity": "hub" }))
            .expect("hub");
        assert_eq!(
            e["fees_earned"],
            json!([{ "token": 1, "amount": fees.to_string() }]),
            "{hub}: the board forwarded by its policy and kept its fees: {e}"
        );
    }
    hub_agrees_and_wals_replay(net, " (HTLC locks, onions, board votes)");
}

/// After a run: the hub's four replicas hold the same chain and state, then (the network
/// brought down) each node's WAL replays to the state hash it reported (`what` names what
/// the WAL holds, for the message).
fn hub_agrees_and_wals_replay(mut net: TestNet, what: &str) {
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
            let s = net.status(&n.name)["state_hash"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (n.name.clone(), s)
        })
        .collect();
    net.down();
    for (node, hash) in reported {
        assert_eq!(
            net.verified_hash(&node),
            hash,
            "replaying {node}'s WAL{what} gives the hash it reported"
        );
    }
}
