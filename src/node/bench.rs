//! `xln bench net`: a load benchmark over real sockets. Two `xln node` processes — a 1-of-1
//! hub and a node hosting N 1-of-1 users, each with an account with the hub — and K client
//! connections paying through the hub (each payment an `account-payment` the hub commits
//! and the user countersigns). Real signatures, the fsync'd WAL with group commit, Noise
//! sessions. Prints payments/s (until every account has settled on both sides), the
//! submit-to-committed latency p50/p99, and the ratio to this machine's signature floor,
//! measured in the same run: one secp256k1 sign plus one verify per payment.
//!
//! Not a test: a measurement to read, whose figures depend on the machine and its load.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use super::client::NodeClient;
use super::net::{rpc_urls, spawn_node, wait_for, write_network, Network};
use crate::crypto::{verify_address, SecretKey};

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Accounts (users) at the hub.
    pub accounts: usize,
    /// Concurrent client connections.
    pub clients: usize,
    /// Payments in all.
    pub payments: usize,
    /// First port.
    pub base_port: u16,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            accounts: 1_000,
            clients: 16,
            payments: 4_000,
            base_port: 27_100,
        }
    }
}

/// The signature floor: payments per second if each cost exactly one sign and one verify.
pub fn signature_floor(samples: usize) -> f64 {
    let key = SecretKey::from_seed(b"xln/bench/floor");
    let address = key.address();
    let start = Instant::now();
    for i in 0..samples {
        let digest = crate::crypto::keccak256(&(i as u64).to_le_bytes());
        let sig = key.sign_digest(&digest).expect("signing a digest");
        assert!(verify_address(&address, &digest, &sig).is_ok());
    }
    samples as f64 / start.elapsed().as_secs_f64()
}

fn network_text(o: &BenchOptions) -> String {
    let mut s = format!(
        "(network #:name \"bench\" #:base-port {} #:tick-ms 20)\n(entity #:name \"hub\" #:validators 1)\n",
        o.base_port
    );
    let mut hosts = String::new();
    for i in 0..o.accounts {
        s.push_str(&format!("(entity #:name \"u{i}\" #:validators 1)\n"));
        hosts.push_str(&format!(" (\"u{i}\" 0)"));
    }
    s.push_str("(node #:name \"hub\" #:hosts ((\"hub\" 0)) #:tick-ms 5 #:batch-ms 5)\n");
    s.push_str(&format!(
        "(node #:name \"users\" #:hosts ({hosts}) #:tick-ms 50)\n"
    ));
    s
}

struct Nodes(Vec<std::process::Child>, PathBuf);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SAFETY: a child this benchmark started.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn parallel<T: Send>(
    urls: &[String],
    jobs: Vec<Vec<T>>,
    work: impl Fn(&NodeClient, T) -> Result<Option<Duration>, String> + Sync,
) -> Result<Vec<Duration>, String> {
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .enumerate()
            .map(|(k, job)| {
                let url = urls[k % urls.len()].clone();
                scope.spawn(move || -> Result<Vec<Duration>, String> {
                    let client = NodeClient::connect(&url, None)?;
                    let mut out = Vec::new();
                    for item in job {
                        out.extend(work(&client, item)?);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| "a client thread panicked".to_string())??,
            );
        }
        Ok(all)
    })
}

fn split<T>(items: Vec<T>, k: usize) -> Vec<Vec<T>> {
    let mut jobs: Vec<Vec<T>> = (0..k.max(1)).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        jobs[i % k.max(1)].push(item);
    }
    jobs
}

fn wait_applied(client: &NodeClient, hash: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let o = client.outcome(hash)?;
        match o["outcome"].as_str() {
            Some("applied") => return Ok(()),
            Some("pending") if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            _ => return Err(format!("payment {hash}: {o}")),
        }
    }
}

/// Sets the network up (accounts opened, credit in effect) and returns the nodes.
fn setup(o: &BenchOptions, dir: &std::path::Path) -> Result<(Nodes, Vec<String>), String> {
    let file = dir.join("bench.xln");
    std::fs::write(&file, network_text(o)).map_err(|e| e.to_string())?;
    let net = Network::read(&file).map_err(|e| e.to_string())?;
    let configs = write_network(&dir.join("net"), &net)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut nodes = Nodes(Vec::new(), dir.to_path_buf());
    for c in &configs {
        nodes.0.push(spawn_node(&exe, c)?);
    }
    let urls = rpc_urls(&net);
    let (hub, users) = (
        wait_for(&urls[0], Duration::from_secs(120))?,
        wait_for(&urls[1], Duration::from_secs(120))?,
    );
    let t = Instant::now();
    let pairs: Vec<usize> = (0..o.accounts).collect();
    parallel(
        &[urls[0].clone(), urls[1].clone()],
        split(pairs.clone(), 8),
        |c, i| {
            let (me, peer) = if c.url == urls[0] {
                ("hub".to_string(), format!("u{i}"))
            } else {
                (format!("u{i}"), "hub".to_string())
            };
            c.submit(&me, json!({ "kind": "open-account", "peer": peer }))?;
            Ok(None)
        },
    )?;
    parallel(
        &[urls[1].clone(), urls[0].clone()],
        split(pairs.clone(), 8),
        |c, i| {
            let (me, peer) = if c.url == urls[0] {
                ("hub".to_string(), format!("u{i}"))
            } else {
                (format!("u{i}"), "hub".to_string())
            };
            c.submit(&me, json!({ "kind": "open-account", "peer": peer }))?;
            Ok(None)
        },
    )?;
    for c in [&hub, &users] {
        c.wait_quiet(Duration::from_secs(300))?;
    }
    // Users extend credit to the hub, so the hub can pay them.
    parallel(&[urls[1].clone()], split(pairs, 8), |c, i| {
        c.submit(
            &format!("u{i}"),
            json!({ "kind": "set-credit", "peer": "hub", "token": 1, "amount": "1000000000000" }),
        )?;
        Ok(None)
    })?;
    for c in [&users, &hub, &users] {
        c.wait_quiet(Duration::from_secs(300))?;
    }
    println!(
        "set up {} accounts in {:.1} s",
        o.accounts,
        t.elapsed().as_secs_f64()
    );
    Ok((nodes, urls))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1_000.0
}

/// Runs the benchmark and returns its report.
///
/// # Errors
/// A node failed to start or a payment failed.
pub fn run(o: &BenchOptions) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("xln-bench-net-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let floor_before = signature_floor(500);
    let (nodes, urls) = setup(o, &dir)?;
    let hub_url = urls[0].clone();
    let payments: Vec<usize> = (0..o.payments).collect();
    let accounts = o.accounts;
    let start = Instant::now();
    let mut latencies = parallel(&[hub_url], split(payments, o.clients), |c, i| {
        let t = Instant::now();
        let hash = c.pay("hub", &format!("u{}", i % accounts), 1, "1")?;
        wait_applied(c, &hash)?;
        Ok(Some(t.elapsed()))
    })?;
    let committed = start.elapsed();
    let hub = NodeClient::connect(&urls[0], None)?;
    let users = NodeClient::connect(&urls[1], None)?;
    for c in [&hub, &users, &hub] {
        c.wait_quiet(Duration::from_secs(600))?;
    }
    let settled = start.elapsed();
    let floor_after = signature_floor(500);
    let mut total = 0i64;
    for i in 0..accounts {
        let v = hub.account("hub", &format!("u{i}"), 1)?;
        let d: i64 = v["delta"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or("a delta")?;
        total += d.abs();
    }
    drop(nodes);
    if total != o.payments as i64 {
        return Err(format!(
            "{} payments made but the accounts moved {total}",
            o.payments
        ));
    }
    latencies.sort();
    let rate = o.payments as f64 / settled.as_secs_f64();
    let mut floors = [floor_before, floor_after];
    floors.sort_by(f64::total_cmp);
    let floor = (floors[0] + floors[1]) / 2.0;
    Ok(format!(
        "xln bench net: {} payments, {} accounts, {} clients, 1-of-1 hub node + users node (real sockets, Noise, signatures, fsync'd WAL with group commit)\n\
         committed at the hub in {:.2} s; every account settled on both sides in {:.2} s\n\
         payments/s      {rate:.1}   (published TypeScript XLN: 248.8)\n\
         latency p50     {:.1} ms   p99 {:.1} ms   (submit to committed at the hub)\n\
         signature floor {floor:.1} payments/s (one sign + one verify; {:.1} before, {:.1} after)\n\
         ratio to floor  {:.3}\n",
        o.payments,
        o.accounts,
        o.clients,
        committed.as_secs_f64(),
        settled.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        floors[0],
        floors[1],
        rate / floor,
    ))
}

/// `xln bench net [--accounts N] [--clients K] [--payments P] [--base-port PORT]`.
pub fn command(args: &crate::cli::args::NetBench) -> i32 {
    let o = BenchOptions {
        accounts: usize::try_from(args.accounts).unwrap_or(usize::MAX),
        clients: usize::try_from(args.clients).unwrap_or(usize::MAX),
        payments: usize::try_from(args.payments).unwrap_or(usize::MAX),
        base_port: args.base_port,
    };
    match run(&o) {
        Ok(report) => {
            print!("{report}");
            0
        }
        Err(e) => {
            eprintln!("xln bench net: {e}");
            1
        }
    }
}
