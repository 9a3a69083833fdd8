//! Hostile peers against a real `xln node`: garbage bytes, an oversized frame, a handshake
//! that never finishes, an unknown key, a valid session sending a message from a validator
//! it did not prove, frames of an old session replayed into a new one, and a flood of
//! connections. Each is refused and logged (one line naming who and why); the node keeps
//! serving its honest peer; nothing persisted changes (the hub's state is the same after the
//! attacks, and its WAL holds no record of any hostile input).

mod node_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use node_support::{base_port, TestNet, PATIENCE};
use tokio_tungstenite::tungstenite::Message;
use xln::crypto::{Address, Canonical, SecretKey};
use xln::entity::{EntityMessage, EntityTx, SignedTx};
use xln::host::{HostRecord, Input};
use xln::node::core::Envelope;
use xln::node::keys::read_key;
use xln::node::session::{ws_config, Expect, Role, Session};

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "hostile" #:base-port {base})
(entity #:name "hub" #:validators 1)
(entity #:name "alice" #:validators 1)
(node #:name "hub" #:hosts (("hub" 0)))
(node #:name "alice" #:hosts (("alice" 0)))
(account #:between ("alice" "hub") #:credit ((1 1000)))
"#
    )
}

fn wait_log(net: &TestNet, node: &str, needle: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !net.log(node).contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?} in:\n{}",
            net.log(node)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let line = net
        .log(node)
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_string();
    println!("logged: {line}");
}

fn address(v: &serde_json::Value) -> Address {
    Address::from_hex(v.as_str().expect("an address")).expect("an address")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(url: &str) -> Ws {
    tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
        .await
        .expect("websocket")
        .0
}

#[test]
fn hostile_peers_are_refused_logged_and_change_nothing() {
    let net = TestNet::up("hostile", &network(base_port(3)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let hub_port = net.net.peer_port(net.index("hub"));
    let url = format!("ws://127.0.0.1:{hub_port}");
    let status = net.status("hub");
    let hub_validator = address(&status["replicas"][0]["validator"]);
    let hub_entity: [u8; 32] =
        xln::crypto::readable::from_hex(status["replicas"][0]["entity"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
    let alice_validator = address(&net.status("alice")["replicas"][0]["validator"]);
    let alice_key =
        read_key(&net.node_dir("alice").join("keys"), &alice_validator).expect("alice's key");
    let stranger = SecretKey::from_seed(b"a stranger");
    net.client("hub")
        .pay("hub", "alice", 1, "5")
        .expect("honest payment");
    net.wait_quiet();
    let before = net.status("hub")["replicas"][0].clone();

    // Garbage bytes instead of a WebSocket handshake.
    let mut tcp = TcpStream::connect(("127.0.0.1", hub_port)).expect("tcp");
    tcp.write_all(&[0xde; 512]).expect("write");
    let _ = tcp.read(&mut [0u8; 64]);
    wait_log(&net, "hub", "not a WebSocket handshake");

    let silent = rt.block_on(async {
        // An oversized frame.
        let mut w = ws(&url).await;
        let _ = w.send(Message::Binary(vec![7u8; 200_000].into())).await;
        // A handshake that never finishes: connect, upgrade, then say nothing.
        let silent = ws(&url).await;
        // An unknown key.
        let mut w = ws(&url).await;
        let r = Session::establish(
            &mut w,
            Role::Dialer,
            &[&stranger],
            Expect::Exactly(&[hub_validator]),
        )
        .await;
        assert!(r.is_err(), "a stranger is not authenticated");
        silent
    });
    wait_log(&net, "hub", "too long");
    wait_log(&net, "hub", "not a validator of any configured peer");
    wait_log(&net, "hub", "did not finish within");
    drop(silent);

    // A valid session (alice's key) sending a valid message from a validator it did not prove.
    let forged = EntityMessage::SyncRequest {
        from: stranger.address(),
        height: 1,
    };
    let forged_envelope = Envelope {
        from: stranger.address(),
        to: xln::host::ReplicaId {
            entity: hub_entity,
            validator: hub_validator,
        },
        message: forged.canonical_bytes(),
    };
    // An old message replayed: a tx alice signed for the hub, which she cannot sign for.
    let tx = SignedTx::sign(
        &hub_entity,
        &alice_key,
        1,
        EntityTx::Message {
            text: "let me in".into(),
        },
    )
    .expect("sign");
    let old = EntityMessage::Tx(tx);
    let old_envelope = Envelope {
        from: alice_validator,
        to: forged_envelope.to,
        message: old.canonical_bytes(),
    };
    let recorded = rt.block_on(async {
        let mut w = ws(&url).await;
        let mut s = Session::establish(
            &mut w,
            Role::Dialer,
            &[&alice_key],
            Expect::Exactly(&[hub_validator]),
        )
        .await
        .expect("alice authenticates");
        let mut frames = Vec::new();
        for e in [&forged_envelope, &old_envelope] {
            for f in s.seal(&e.encode()).expect("seal") {
                frames.push(f.clone());
                w.send(Message::Binary(f.into())).await.expect("send");
            }
        }
        frames
    });
    wait_log(&net, "hub", "claims to come from");
    wait_log(&net, "hub", "is not a validator of this entity");
    // The frames of that session, replayed raw into a new one.
    rt.block_on(async {
        let mut w = ws(&url).await;
        let _s = Session::establish(
            &mut w,
            Role::Dialer,
            &[&alice_key],
            Expect::Exactly(&[hub_validator]),
        )
        .await
        .expect("alice authenticates again");
        for f in recorded {
            let _ = w.send(Message::Binary(f.into())).await;
        }
    });
    wait_log(&net, "hub", "replayed, altered or foreign frame");
    let after = net.status("hub")["replicas"][0].clone();
    assert_eq!(
        before["height"], after["height"],
        "nothing hostile committed"
    );
    assert_eq!(
        before["state_hash"], after["state_hash"],
        "nothing hostile changed the state"
    );

    // A flood of connections: the limit refuses the excess; the honest session keeps working.
    let flood: Vec<TcpStream> = (0..xln::node::peers::PEER_CONNECTIONS_MAX + 16)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", hub_port)).ok())
        .collect();
    wait_log(&net, "hub", "peer connections are open; refused");
    let paid = net
        .client("hub")
        .pay("hub", "alice", 1, "7")
        .expect("honest payment during the flood");
    net.wait_until("the honest payment lands during the flood", |n| {
        n.client("hub")
            .outcome(&paid)
            .map(|o| o["outcome"] == "applied")
            .unwrap_or(false)
            && n.client("alice")
                .account("alice", "hub", 1)
                .map(|a| a["delta"] == "12" || a["delta"] == "-12")
                .unwrap_or(false)
    });
    drop(flood);

    // Nothing hostile is in the WAL.
    let mut hostile_records = 0;
    xln::storage::scan_wal(
        &net.node_dir("hub").join("data").join("wal"),
        0,
        &mut |_, payload| {
            if let Ok(HostRecord::Input {
                input: Input::Message { from, message },
                ..
            }) = HostRecord::decode(payload)
            {
                if from == stranger.address() || message == old || message == forged {
                    hostile_records += 1;
                }
            }
            Ok(())
        },
    )
    .expect("the hub's WAL scans");
    assert_eq!(hostile_records, 0, "no hostile input was persisted");
}
