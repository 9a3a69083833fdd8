//! A partition: five `xln node` processes whose peer connections all pass through a
//! fault-injecting proxy (`xln::chaos::proxy`, the one `xln chaos` uses). The proxy cuts every link between two groups —
//! {hub-0, hub-1, users} and {hub-2, hub-3} — for several seconds (open connections are
//! dropped, new ones refused), during which payments are submitted; the 3-of-4 hub cannot
//! commit on either side. After healing, every in-flight payment finishes, nothing
//! diverges (all hub replicas hold the same chain and state), and both sides of each
//! account agree.

mod node_support;

use std::time::Duration;

use node_support::{base_port, delta, TestNet};
use serde_json::json;
use xln::chaos::proxy::FaultProxy;
use xln::node::net::Network;

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "split" #:base-port {base} #:proxy-base-port {})
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
"#,
        base + 100
    )
}

#[test]
fn a_partition_heals_without_divergence_and_in_flight_payments_finish() {
    let base = base_port(2);
    // The proxies must listen before the nodes dial; the network file fixes their ports.
    let text = network(base);
    let dir = std::env::temp_dir().join(format!("xln-split-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("n.xln"), &text).expect("file");
    let plan = Network::read(&dir.join("n.xln")).expect("network");
    let proxy = FaultProxy::start(&plan).expect("proxies");
    let mut net = TestNet::up("split", &text);
    let mut expected = [0i64; 2];
    let users = ["alice", "bob"];
    for (i, user) in users.iter().enumerate() {
        net.client("hub-0").pay("hub", user, 1, "10").expect("pay");
        expected[i] += 10;
    }
    net.wait_quiet();
    // Cut {hub-0, hub-1, users} from {hub-2, hub-3}.
    let (a, b) = (
        [net.index("hub-0"), net.index("hub-1"), net.index("users")],
        [net.index("hub-2"), net.index("hub-3")],
    );
    proxy.cut_between(&a, &b);
    println!("partitioned {a:?} from {b:?}");
    let height = |n: &TestNet, node: &str| {
        n.status(node)["replicas"][0]["height"]
            .as_u64()
            .unwrap_or(0)
    };
    let cut_at = height(&net, "hub-0");
    let mut in_flight = Vec::new();
    for (i, user) in users.iter().enumerate() {
        in_flight.push(net.client("hub-0").pay("hub", user, 1, "7").expect("pay"));
        in_flight.push(net.client("users").pay(user, "hub", 1, "3").expect("pay"));
        expected[i] += 7 - 3;
    }
    // Several seconds apart: observed, not assumed — the users' payments reach hub-0 and
    // hub-1, but two of four shares cannot commit.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        height(&net, "hub-0"),
        cut_at,
        "no quorum on either side of the partition"
    );
    proxy.heal();
    println!("healed");
    net.wait_until("in-flight payments finish", |n| {
        in_flight.iter().enumerate().all(|(k, h)| {
            let node = if k % 2 == 0 { "hub-0" } else { "users" };
            n.client(node)
                .outcome(h)
                .map(|o| o["outcome"] == "applied")
                .unwrap_or(false)
        })
    });
    net.wait_quiet();
    for (i, user) in users.iter().enumerate() {
        net.wait_until("accounts settle", |n| {
            let u = n.client("users").account(user, "hub", 1).expect("account");
            (0..4).all(|h| {
                n.client(&format!("hub-{h}"))
                    .account("hub", user, 1)
                    .expect("account")["state_hash"]
                    == u["state_hash"]
            }) && u["in_flight"] == json!(false)
        });
        let view = net
            .client("users")
            .account(user, "hub", 1)
            .expect("account");
        let sign = if view["side"] == "left" { 1 } else { -1 };
        assert_eq!(
            delta(&view) * sign,
            expected[i],
            "{user}: in-flight payments finished once"
        );
    }
    let hashes = net.replica_hashes();
    let hub: Vec<_> = hashes.iter().filter(|h| h.0 == "hub").collect();
    assert!(
        hub.iter().all(|h| h.1 == hub[0].1 && h.2 == hub[0].2),
        "no divergence: {hub:?}"
    );
    net.down();
    proxy.stop();
}
