//! The JSON-RPC backend: against a real anvil (started here on 127.0.0.1 from the pinned
//! npm package; CI sets XLN_REQUIRE_ANVIL=1 so a missing anvil fails instead of skipping)
//! the chain script gives the embedded backend's exact results, refusals come back
//! decoded, and the confirmation depth holds events back; against a node that is down,
//! silent, or answers garbage, every call ends in a clear error after the retry policy,
//! never a panic.

mod chain_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use alloy::node_bindings::{Anvil, AnvilInstance};
use chain_support::*;
use xln::chain::{
    ChainError, Depository, EventWatcher, Jurisdiction, RetryPolicy, RpcChain, RpcConfig,
    SettlementDiff,
};
use xln::lang::{Interp, Limits, Output};

fn anvil() -> Option<AnvilInstance> {
    let Some(path) = anvil_path() else {
        assert!(
            !anvil_required(),
            "XLN_REQUIRE_ANVIL=1 but no anvil found (set ANVIL_BIN or run npm ci in contracts/)"
        );
        eprintln!("anvil not found: skipping the real-node part (set ANVIL_BIN to run it)");
        return None;
    };
    let instance = Anvil::at(path)
        .args(["--hardfork", "prague"])
        .try_spawn()
        .expect("anvil starts on 127.0.0.1");
    Some(instance)
}

/// Short timeouts, for the test of a node that never answers (where waiting is the point).
fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        request_timeout: Duration::from_millis(300),
        receipt_timeout: Duration::from_secs(2),
    }
}

/// Quick retries but timeouts no loaded machine reaches, so a node that answers is never
/// taken for a silent one (the tests must not depend on the machine's speed).
fn patient_policy() -> RetryPolicy {
    RetryPolicy {
        request_timeout: Duration::from_secs(60),
        receipt_timeout: Duration::from_secs(120),
        ..quick_policy()
    }
}

fn config(url: &str) -> RpcConfig {
    RpcConfig {
        retry: patient_policy(),
        ..RpcConfig::local(url)
    }
}

/// Runs scripts/chain.xln in a fresh interpreter, on `url` or the embedded EVM; returns
/// its "final" lines and the test counts.
fn run_chain_script(url: Option<&str>) -> (Vec<String>, usize, usize) {
    let url = url.map(str::to_string);
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let path =
                std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/chain.xln"));
            let text = std::fs::read_to_string(&path).expect("script");
            let limits = Limits {
                stack_bytes: 200 << 20,
                ..Limits::default()
            };
            let mut interp = Interp::new(limits, Output::captured());
            if let Some(url) = &url {
                xln::bindings::chain::set_default_url(&mut interp, url);
            }
            interp.module = interp.modules.new_module("main", Some(path.clone()));
            let result = interp
                .eval_source("chain.xln", &text)
                .map_err(|e| e.render(false));
            let out = interp.out.take_captured();
            if let Err(e) = result {
                panic!("chain.xln failed on {url:?}:\n{out}\n{e}");
            }
            let finals = out
                .lines()
                .filter(|l| l.starts_with("final "))
                .map(str::to_string)
                .collect();
            (finals, interp.tests.passed, interp.tests.failed)
        })
        .expect("spawn")
        .join()
        .expect("script thread")
}

#[test]
fn chain_script_gives_identical_results_on_embedded_and_anvil() {
    let (embedded, passed, failed) = run_chain_script(None);
    assert_eq!(failed, 0);
    assert!(passed > 30);
    let Some(node) = anvil() else { return };
    let (rpc, passed_rpc, failed_rpc) = run_chain_script(Some(&node.endpoint()));
    assert_eq!(failed_rpc, 0);
    assert_eq!(passed_rpc, passed);
    assert!(embedded
        .iter()
        .any(|l| l.starts_with("final reserve alice")));
    assert_eq!(embedded, rpc, "the backends disagree");
}

#[test]
fn anvil_refusals_confirmations_and_cursor() {
    let Some(node) = anvil() else { return };
    let rpc = RpcChain::connect(RpcConfig {
        confirmations: 2,
        ..config(&node.endpoint())
    })
    .expect("connects");
    assert_eq!(rpc.chain_id(), 31337);
    let mut dep = Depository::deploy_default(Box::new(rpc)).expect("deploys on anvil");
    // Same sender, same nonces: the same addresses as the embedded chain.
    assert_eq!(dep.deployment, embedded().deployment);
    let a = funded(&mut dep, "alice", 1, 1000);
    let b = funded(&mut dep, "bob", 1, 1000);
    dep.reserve_to_collateral(a.number, &a.keys, b.number, 1, u(300))
        .unwrap();
    let diffs = vec![SettlementDiff::withdraw(1, &100.into(), &0.into()).unwrap()];
    let digest = dep.domain().settlement_digest(1, 2, 1, &diffs);
    let (ls, mut rs) = (a.keys.sign(digest).unwrap(), b.keys.sign(digest).unwrap());
    let good_rs = rs.clone();
    rs.signatures = vec![alloy_primitives::Bytes::new()];
    let r = rejected(dep.settle_signed((1, 2), 1, &diffs, ls.clone(), rs));
    assert!(r.contains("BelowThreshold"), "{r}");
    let before = dep.chain.block_number().unwrap();
    dep.settle_signed((1, 2), 1, &diffs, ls.clone(), good_rs.clone())
        .unwrap();
    assert_eq!(
        dep.chain.block_number().unwrap(),
        before + 1,
        "a refusal is never mined"
    );
    let r = rejected(dep.settle_signed((1, 2), 1, &diffs, ls, good_rs));
    assert!(r.contains("StaleNonce"), "{r}");

    // Confirmation depth 2: the settlement's events wait for two more blocks.
    let dir = std::env::temp_dir().join(format!("xln-rpc-cursor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("chain-cursor"));
    let mut watcher = EventWatcher::persisted(dep.deployment, &dir).unwrap();
    let early = watcher.poll(dep.chain.as_mut()).unwrap();
    assert!(
        early.iter().all(|e| e.event.kind() != "settled"),
        "unconfirmed settlement delivered"
    );
    watcher.ack(early.last().unwrap()).unwrap();
    dep.chain.mine(2).unwrap();
    let restarted = EventWatcher::persisted(dep.deployment, &dir).unwrap();
    let late = restarted.poll(dep.chain.as_mut()).unwrap();
    assert!(late.iter().any(|e| e.event.kind() == "settled"), "{late:?}");
    assert!(late
        .iter()
        .all(|e| (e.block, e.log_index) > watcher.cursor.last.unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn expect_node_error(r: Result<RpcChain, ChainError>, what: &str) -> String {
    match r {
        Err(ChainError::Node {
            attempts, message, ..
        }) => {
            assert_eq!(attempts, 3, "{what}: the policy's attempts were used");
            message
        }
        Err(other) => panic!("{what}: expected a node error, got {other}"),
        Ok(_) => panic!("{what}: connected to a broken node"),
    }
}

#[test]
fn node_down_is_a_clear_error_after_retries() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = expect_node_error(
        RpcChain::connect(config(&format!("http://127.0.0.1:{port}"))),
        "down",
    );
    assert!(m.contains("eth_chainId"), "{m}");
}

/// A fake node on 127.0.0.1 that answers every request with `answer` (or never, if None),
/// for a bounded number of connections, then stops by itself.
fn fake_node(answer: Option<&'static str>) -> String {
    fake_node_counted(answer).0
}

/// [`fake_node`], with the number of connections it has accepted.
fn fake_node_counted(
    answer: Option<&'static str>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut held = Vec::new();
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { break };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            match answer {
                Some(body) => {
                    let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                }
                None => held.push(s), // silent: keep the connection open, answer nothing
            }
            if Instant::now() > deadline {
                break;
            }
        }
    });
    (url, accepted)
}

#[test]
fn garbage_answers_are_a_clear_error() {
    let url = fake_node(Some("this is not json-rpc"));
    expect_node_error(RpcChain::connect(config(&url)), "garbage");
    let url = fake_node(Some(
        r#"{"jsonrpc":"2.0","id":0,"result":{"not":"a number"}}"#,
    ));
    expect_node_error(RpcChain::connect(config(&url)), "wrong type");
}

/// Each of the policy's tries waits its full request timeout, then gives up: the node sees
/// exactly one connection per try, and the whole takes at least the tries' timeouts (a
/// lower bound: a loaded machine only makes it longer; a hang would fail by the count).
#[test]
fn a_silent_node_times_out_per_the_policy() {
    let (url, accepted) = fake_node_counted(None);
    let policy = quick_policy();
    let start = Instant::now();
    let m = expect_node_error(
        RpcChain::connect(RpcConfig {
            retry: policy.clone(),
            ..RpcConfig::local(&url)
        }),
        "silent",
    );
    assert!(m.contains("no answer within"), "{m}");
    assert!(start.elapsed() >= policy.request_timeout * policy.attempts);
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        policy.attempts as usize,
        "one connection per try"
    );
}

#[test]
fn bad_urls_and_policies_are_input_errors() {
    assert!(matches!(
        RpcChain::connect(config("not a url")),
        Err(ChainError::Input { .. })
    ));
    let mut c = config("http://127.0.0.1:1");
    c.retry.attempts = 0;
    assert!(matches!(
        RpcChain::connect(c),
        Err(ChainError::Input { .. })
    ));
}
