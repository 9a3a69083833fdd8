//! `xln chaos NETWORK.xln --minutes N --seed S`: a local network of real `xln node`
//! processes under steady random payments while a seeded controller SIGKILLs and restarts
//! random nodes (some with a torn WAL tail), and cuts and heals peer links through a
//! fault-injecting proxy. At the end it heals everything, drains, and checks: every replica
//! of every entity agrees, both sides of every account agree, no lock is left, every
//! payment the clients saw acknowledged is applied exactly once, value is conserved per
//! token, and each node's WAL replays to the state hash the live node reported.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the run: options, start-up, the fault schedule, the drain, the report |
//! | `proxy.rs` | the fault-injecting proxy on every directed peer link |
//! | `procs.rs` | node processes: kill -9, restart, stop, the torn WAL tail and its check |
//! | `traffic.rs` | payer threads, the resolver, what each payment was and became |
//! | `check.rs` | the end-of-run checks over each node's replayed WAL |
//!
//! The seed fixes every choice the controller makes (which fault, which node, how long,
//! which links, which payment, how much); *when* each happens is the wall clock's and the
//! run's observed progress, so a rerun makes the same choices, not the same interleaving.
//! A fault is issued only after the network resolved payments since the previous one (or
//! after [`STALL_GRACE`] without), so a loaded machine gets fewer faults per minute rather
//! than faults that mean less.

pub mod check;
pub mod procs;
pub mod proxy;
pub mod traffic;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use self::proxy::FaultProxy;
use self::traffic::{Ack, Final, PayKind, Plan, Shared};
use crate::node::client::NodeClient;
use crate::node::net::{rpc_urls, Network};
use crate::runtime::SplitMix64;

/// A fault waits at most this long for the network to resolve a payment since the last one.
pub const STALL_GRACE: Duration = Duration::from_secs(30);

/// Most nodes down at once (the rest keep paying and committing).
pub const DOWN_MAX: usize = 2;

/// How long the drain may take: every acknowledged payment finished, every node quiet,
/// every account settled on both sides.
pub const DRAIN_WAIT: Duration = Duration::from_secs(300);

/// The options of a run.
#[derive(Clone, Debug)]
pub struct ChaosOptions {
    /// The network file.
    pub network: PathBuf,
    /// How long faults are injected.
    pub minutes: f64,
    /// The seed of every choice.
    pub seed: u64,
    /// Where the nodes' files go (must not exist yet, or be empty).
    pub dir: Option<PathBuf>,
    /// Fail below this many kills.
    pub min_kills: u64,
    /// Fail below this many partitions.
    pub min_partitions: u64,
    /// Concurrent payer threads.
    pub payers: u64,
    /// Keep the directory afterwards even when every check passed.
    pub keep: bool,
}

/// The figures of a run.
#[derive(Default, Debug)]
struct Figures {
    kills: u64,
    torn_restarts: u64,
    torn_truncated: u64,
    partitions: u64,
    restarts: u64,
    stalls: u64,
    violations: Vec<String>,
}

fn ms(rng: &mut SplitMix64, from: u64, to: u64) -> Duration {
    Duration::from_millis(from + rng.below(to - from + 1))
}

/// A node down, and when it comes back.
struct Down {
    until: Instant,
    torn: bool,
}

struct Run {
    opts: ChaosOptions,
    net: Network,
    dir: PathBuf,
    exe: PathBuf,
    urls: Vec<String>,
    proxy: FaultProxy,
    shared: Arc<Shared>,
    plan: Arc<Plan>,
    figures: Figures,
    down: BTreeMap<usize, Down>,
    tear_rng: SplitMix64,
    log: Vec<String>,
    started: Instant,
}

impl Run {
    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join(&self.net.nodes[i].name)
    }

    fn note(&mut self, line: String) {
        let t = self.started.elapsed().as_secs_f64();
        let line = format!("[{t:7.1}s] {line}");
        println!("{line}");
        self.log.push(line);
    }

    fn set_down(&self, node: usize, down: bool) {
        let mut set = self
            .shared
            .down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if down {
            set.insert(node);
        } else {
            set.remove(&node);
        }
    }

    fn kill(&mut self, node: usize, downtime: Duration, torn: bool) {
        self.set_down(node, true);
        let dir = self.node_dir(node);
        let name = self.net.nodes[node].name.clone();
        match procs::kill9(&dir) {
            Some(pid) => {
                self.figures.kills += 1;
                self.note(format!(
                    "kill -9 {name} (pid {pid}), back in {} ms{}",
                    downtime.as_millis(),
                    if torn { " with a torn WAL tail" } else { "" }
                ));
            }
            None => self
                .figures
                .violations
                .push(format!("{name} was not running when it was to be killed")),
        }
        self.down.insert(
            node,
            Down {
                until: Instant::now() + downtime,
                torn,
            },
        );
    }

    fn restart(&mut self, node: usize, torn: bool) {
        let dir = self.node_dir(node);
        let name = self.net.nodes[node].name.clone();
        let before = procs::starts(&dir, &name);
        let mut torn_bytes = None;
        if torn {
            match procs::tear_wal_tail(&dir, &mut self.tear_rng) {
                Ok(t) => {
                    self.figures.torn_restarts += 1;
                    self.note(format!(
                        "{name}: torn WAL tail of {} bytes ({})",
                        t.bytes, t.how
                    ));
                    torn_bytes = Some(t.bytes);
                }
                Err(e) => self
                    .figures
                    .violations
                    .push(format!("{name}: cannot tear its WAL tail: {e}")),
            }
        } else {
            match procs::torn_now(&dir) {
                Ok(0) => {}
                Ok(b) => {
                    self.note(format!("{name}: the kill tore its last write ({b} bytes)"));
                    torn_bytes = Some(b);
                }
                Err(e) => self
                    .figures
                    .violations
                    .push(format!("{name}: its WAL after the kill: {e}")),
            }
        }
        match procs::restart(&self.exe, &dir, &self.urls[node]) {
            Ok(()) => {
                self.figures.restarts += 1;
                self.set_down(node, false);
                self.down.remove(&node);
            }
            Err(e) => {
                self.figures
                    .violations
                    .push(format!("{name} did not come back: {e}"));
                self.down.remove(&node);
                self.set_down(node, false);
                return;
            }
        }
        // The start-up line says what recovery truncated; it is written just after the
        // RPC server starts answering, so wait for it (bounded).
        let deadline = Instant::now() + Duration::from_secs(30);
        let said = loop {
            if let Some(b) = procs::truncated_on_start(&dir, &name, before) {
                break Some(b);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match (torn_bytes, said) {
            (Some(wrote), Some(cut)) if wrote == cut => {
                if torn {
                    self.figures.torn_truncated += 1;
                }
                self.note(format!(
                    "{name} restarted: recovery truncated the {cut} torn bytes"
                ));
            }
            (Some(wrote), other) => self.figures.violations.push(format!(
                "{name}: {wrote} torn bytes written, recovery reported {other:?}"
            )),
            (None, Some(0)) => self.note(format!("{name} restarted")),
            (None, other) => self.figures.violations.push(format!(
                "{name}: its WAL had no torn tail, recovery reported {other:?}"
            )),
        }
    }

    /// Two groups of nodes to cut apart, drawn from `rng`.
    fn draw_partition(&self, rng: &mut SplitMix64) -> (Vec<usize>, Vec<usize>, &'static str) {
        let n = self.net.nodes.len();
        let board_nodes: Vec<usize> = {
            // The nodes of the entity with the most validators (the hub's board).
            let widest = self.net.entities.iter().max_by_key(|e| e.validators);
            widest.map_or(Vec::new(), |e| self.plan.nodes_of(&e.name).to_vec())
        };
        loop {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let kind = rng.below(3);
            let label = match kind {
                0 => {
                    let one = rng.below(n as u64) as usize;
                    for i in 0..n {
                        if i == one {
                            a.push(i)
                        } else {
                            b.push(i)
                        }
                    }
                    "one node cut off"
                }
                1 if board_nodes.len() >= 2 => {
                    let mut hub = board_nodes.clone();
                    // A seeded shuffle, then half and half.
                    for i in (1..hub.len()).rev() {
                        hub.swap(i, rng.below(i as u64 + 1) as usize);
                    }
                    let half = hub.len() / 2;
                    for (k, i) in hub.iter().enumerate() {
                        if k < half {
                            a.push(*i)
                        } else {
                            b.push(*i)
                        }
                    }
                    for i in (0..n).filter(|i| !board_nodes.contains(i)) {
                        if rng.chance((1, 2)) {
                            a.push(i)
                        } else {
                            b.push(i)
                        }
                    }
                    "the board split in half"
                }
                _ => {
                    for i in 0..n {
                        if rng.chance((1, 2)) {
                            a.push(i)
                        } else {
                            b.push(i)
                        }
                    }
                    "a random split"
                }
            };
            if !a.is_empty() && !b.is_empty() {
                return (a, b, label);
            }
        }
    }

    fn names(&self, nodes: &[usize]) -> String {
        nodes
            .iter()
            .map(|i| self.net.nodes[*i].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The fault schedule, until `end`.
    fn faults(&mut self, end: Instant) {
        let mut rng = SplitMix64::new(self.opts.seed);
        let mut partition: Option<Instant> = None;
        let mut next = Instant::now() + ms(&mut rng, 200, 1_500);
        let mut last_fault = Instant::now();
        let mut mark = self.shared.resolved.load(Ordering::Relaxed);
        while Instant::now() < end {
            let now = Instant::now();
            let due: Vec<(usize, bool)> = self
                .down
                .iter()
                .filter(|(_, d)| d.until <= now)
                .map(|(n, d)| (*n, d.torn))
                .collect();
            for (node, torn) in due {
                self.restart(node, torn);
            }
            if partition.is_some_and(|at| at <= now) {
                self.proxy.heal();
                partition = None;
                self.note("healed every link".into());
            }
            if now >= next {
                let resolved = self.shared.resolved.load(Ordering::Relaxed);
                let progressed = resolved >= mark + 2;
                if progressed || now.duration_since(last_fault) > STALL_GRACE {
                    if !progressed {
                        self.figures.stalls += 1;
                        self.note(format!(
                            "no payment resolved for {} s; faulting anyway",
                            STALL_GRACE.as_secs()
                        ));
                    }
                    let want_partition = rng.chance((35, 100));
                    let alive: Vec<usize> = (0..self.net.nodes.len())
                        .filter(|i| !self.down.contains_key(i))
                        .collect();
                    if (want_partition || self.down.len() >= DOWN_MAX) && partition.is_none() {
                        let (a, b, label) = self.draw_partition(&mut rng);
                        let hold = ms(&mut rng, 1_000, 5_000);
                        let links = self.proxy.cut_between(&a, &b);
                        self.figures.partitions += 1;
                        self.note(format!(
                            "partition ({label}): {{{}}} | {{{}}} for {} ms ({links} links cut)",
                            self.names(&a),
                            self.names(&b),
                            hold.as_millis()
                        ));
                        partition = Some(Instant::now() + hold);
                    } else if self.down.len() < DOWN_MAX && !alive.is_empty() {
                        let node = alive[rng.below(alive.len() as u64) as usize];
                        let torn = rng.chance((1, 3));
                        let downtime = ms(&mut rng, 300, 3_000);
                        self.kill(node, downtime, torn);
                    }
                    last_fault = Instant::now();
                    mark = self.shared.resolved.load(Ordering::Relaxed);
                    next = Instant::now() + ms(&mut rng, 200, 1_500);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if partition.is_some() {
            self.proxy.heal();
            self.note("healed every link (end of the fault phase)".into());
        }
    }
}

/// Sets every hub's fee policy and waits until one routed payment per routed pair has
/// settled (so every sender's view holds the policy before traffic starts). The probes
/// are payments like the others: recorded and checked.
fn prepare_routes(run: &mut Run, clients: &[NodeClient]) -> Result<(), String> {
    let policy = &run.plan.fee;
    for hub in run.plan.hubs() {
        let node = *run
            .plan
            .nodes_of(&hub)
            .first()
            .ok_or_else(|| format!("no node hosts {hub}"))?;
        let tx = json!({ "kind": "set-fee-policy", "base": policy.base.to_string(),
                         "ppm": policy.ppm, "timeout_delta": policy.timeout_delta });
        let hash = clients[node].submit(&hub, tx)?;
        let deadline = Instant::now() + procs::RESTART_WAIT;
        while clients[node].outcome(&hash)?["outcome"] != "applied" {
            if Instant::now() > deadline {
                return Err(format!("{hub}'s fee policy was not applied"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let routed = run.plan.routed.clone();
    for (from, to, via, accounts) in routed {
        let node = run.plan.nodes_of(&from)[0];
        let deadline = Instant::now() + procs::RESTART_WAIT;
        loop {
            if Instant::now() > deadline {
                return Err(format!("no routed payment {from} -> {to} settled"));
            }
            let kind = PayKind::Routed {
                from: from.clone(),
                to: to.clone(),
                via: via.clone(),
                accounts,
            };
            let hash = match clients[node].pay_routed(&from, &to, traffic::TOKEN_ROUTED, "1") {
                Ok(h) => h,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            };
            let outcome = loop {
                let s = clients[node].payment_status(&from, &hash)?;
                match s["status"].as_str() {
                    Some("settled") => break Final::Settled,
                    Some("failed") => break Final::Failed(s["reason"].to_string()),
                    _ if Instant::now() > deadline => break Final::Pending,
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            };
            let settled = outcome == Final::Settled;
            run.shared.payments().push(traffic::Payment {
                kind,
                amount: 1,
                payer: from.clone(),
                node,
                ack: Ack::Acked(hash),
                outcome,
            });
            if settled {
                break;
            }
        }
    }
    Ok(())
}

/// Waits until every acknowledged payment finished and every node, account and board is
/// at rest; returns what was still not, if the wait ran out.
fn drain(run: &Run, clients: &[NodeClient]) -> Result<(), String> {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let why = unsettled(run, clients);
        match why {
            None => return Ok(()),
            Some(w) if Instant::now() > deadline => return Err(w),
            Some(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Why the network is not at rest yet, or None.
fn unsettled(run: &Run, clients: &[NodeClient]) -> Option<String> {
    let left = traffic::unresolved(&run.shared);
    if left > 0 {
        return Some(format!("{left} acknowledged payments have no outcome"));
    }
    let mut by_entity: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for (i, c) in clients.iter().enumerate() {
        let s = match c.status() {
            Ok(s) => s,
            Err(e) => return Some(format!("{}: {e}", run.net.nodes[i].name)),
        };
        for r in s["replicas"].as_array().cloned().unwrap_or_default() {
            if r["idle"] != json!(true) {
                return Some(format!(
                    "{} is busy on {}",
                    run.net.nodes[i].name, r["name"]
                ));
            }
            by_entity
                .entry(r["name"].as_str().unwrap_or("").to_string())
                .or_default()
                .push((
                    r["height"].as_u64().unwrap_or(0),
                    r["state_hash"].as_str().unwrap_or("").to_string(),
                ));
        }
    }
    for (entity, rs) in &by_entity {
        if rs.iter().any(|r| *r != rs[0]) {
            return Some(format!("the replicas of {entity} differ: {rs:?}"));
        }
    }
    for (a, b) in &run.plan.accounts {
        let mut hashes = Vec::new();
        for (me, peer) in [(a, b), (b, a)] {
            for node in run.plan.nodes_of(me) {
                let v = match clients[*node].account(me, peer, traffic::TOKEN_FORWARD) {
                    Ok(v) => v,
                    Err(e) => return Some(e),
                };
                if v["in_flight"] != json!(false) {
                    return Some(format!("{me}-{peer}: a frame in flight"));
                }
                // An open lock still times out (or is revealed) later and moves the
                // account after the checks would have read it.
                if v["locks"].as_u64().unwrap_or(0) > 0 || v["queued"].as_u64().unwrap_or(0) > 0 {
                    return Some(format!("{me}-{peer}: locks open or txs queued"));
                }
                hashes.push(v["state_hash"].clone());
            }
        }
        if hashes.iter().any(|h| *h != hashes[0]) {
            return Some(format!("{a}-{b}: the sides differ"));
        }
    }
    None
}

/// Each node's state hash once it stops changing (links cut, nothing in flight).
fn live_hashes(clients: &[NodeClient]) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let read = || -> Result<Vec<String>, String> {
        clients
            .iter()
            .map(|c| {
                c.status()
                    .map(|s| s["state_hash"].as_str().unwrap_or("").to_string())
            })
            .collect()
    };
    let mut last = read()?;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = read()?;
        if now == last {
            return Ok(now);
        }
        if Instant::now() > deadline {
            return Err("the nodes' state hashes kept changing with every link cut".into());
        }
        last = now;
    }
}

fn fresh_dir(opts: &ChaosOptions) -> Result<PathBuf, String> {
    let dir = opts.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("xln-chaos-{}-{}", opts.seed, std::process::id()))
    });
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            return Err(format!(
                "{} exists and is not empty: a chaos run starts from fresh nodes (choose another --dir)",
                dir.display()
            ));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// `xln chaos`: returns the exit code (0: every check passed; 1: a check failed or the run
/// could not be carried out; the message says which).
pub fn command(opts: ChaosOptions) -> i32 {
    match run(opts) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(message) => {
            eprintln!("xln chaos: {message}");
            1
        }
    }
}

fn rerun_command(opts: &ChaosOptions) -> String {
    format!(
        "xln chaos {} --minutes {} --seed {} --min-kills {} --min-partitions {} --payers {}",
        opts.network.display(),
        opts.minutes,
        opts.seed,
        opts.min_kills,
        opts.min_partitions,
        opts.payers
    )
}

fn run(opts: ChaosOptions) -> Result<bool, String> {
    if !(opts.minutes > 0.0 && opts.minutes <= 24.0 * 60.0) {
        return Err(format!(
            "--minutes {} must be above 0 and at most 1440",
            opts.minutes
        ));
    }
    let net = Network::read(&opts.network).map_err(|e| e.to_string())?;
    if net.proxy_base_port.is_none() {
        return Err(format!(
            "{}: the network needs #:proxy-base-port (the controller cuts links in its proxy)",
            opts.network.display()
        ));
    }
    let plan = Plan::of(&net);
    if plan.accounts.is_empty() {
        return Err(format!(
            "{}: no accounts to pay over",
            opts.network.display()
        ));
    }
    let dir = fresh_dir(&opts)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    println!(
        "xln chaos: seed {}, {} minutes of faults on {} ({} nodes) in {}",
        opts.seed,
        opts.minutes,
        opts.network.display(),
        net.nodes.len(),
        dir.display()
    );
    let proxy = FaultProxy::start(&net)?;
    let urls = rpc_urls(&net);
    let mut run = Run {
        tear_rng: SplitMix64::new(opts.seed ^ 0x7e57_7a11),
        opts,
        dir,
        exe,
        urls,
        proxy,
        shared: Shared::new(),
        plan: Arc::new(plan),
        figures: Figures::default(),
        down: BTreeMap::new(),
        log: Vec::new(),
        started: Instant::now(),
        net,
    };
    let result = carry_out(&mut run);
    // Whatever happened, no node of this run outlives it.
    for i in 0..run.net.nodes.len() {
        procs::stop(&run.node_dir(i));
    }
    let ok = match result {
        Ok(ok) => ok,
        Err(e) => {
            println!("rerun: {}", rerun_command(&run.opts));
            println!("nodes' files kept in {}", run.dir.display());
            return Err(e);
        }
    };
    if ok && !run.opts.keep {
        let _ = std::fs::remove_dir_all(&run.dir);
    } else {
        println!("nodes' files (logs, WALs) kept in {}", run.dir.display());
    }
    Ok(ok)
}

fn carry_out(run: &mut Run) -> Result<bool, String> {
    let up = crate::node::net::up(&run.opts.network, &run.dir)?;
    print!("{up}");
    let clients = traffic::clients(&run.urls)?;
    prepare_routes(run, &clients)?;
    run.note(format!(
        "routes ready ({} routed pairs through {:?}); traffic starts",
        run.plan.routed.len(),
        run.plan.hubs()
    ));
    let resolver = {
        let (plan, shared, urls) = (run.plan.clone(), run.shared.clone(), run.urls.clone());
        std::thread::spawn(move || traffic::resolver(plan, shared, urls))
    };
    let payers: Vec<_> = (0..run.opts.payers.max(1))
        .map(|k| {
            let (plan, shared, urls) = (run.plan.clone(), run.shared.clone(), run.urls.clone());
            let seed = run.opts.seed.wrapping_add(0x9e37_79b9 * (k + 1));
            std::thread::spawn(move || traffic::payer(plan, shared, urls, seed))
        })
        .collect();
    let millis = (run.opts.minutes * 60_000.0) as u64;
    run.faults(Instant::now() + Duration::from_millis(millis));
    run.shared.stop_sending.store(true, Ordering::Relaxed);
    for p in payers {
        let _ = p.join();
    }
    run.note("traffic stopped; restarting every node still down".into());
    let down: Vec<(usize, bool)> = run.down.iter().map(|(n, d)| (*n, d.torn)).collect();
    for (node, torn) in down {
        run.restart(node, torn);
    }
    run.proxy.heal();
    let drained = drain(run, &clients);
    run.shared.stop_resolving.store(true, Ordering::Relaxed);
    let _ = resolver.join();
    match &drained {
        Ok(()) => run.note("drained: every payment finished, every node quiet".into()),
        Err(why) => {
            run.note(format!(
                "did not drain within {} s: {why}",
                DRAIN_WAIT.as_secs()
            ));
            run.figures
                .violations
                .push(format!("the network did not drain: {why}"));
        }
    }
    // Quiesce (no peer traffic), read each node's hash, stop, replay.
    run.proxy.cut_all();
    let live = live_hashes(&clients)?;
    for i in 0..run.net.nodes.len() {
        procs::stop(&run.node_dir(i));
    }
    let mut replayed = Vec::new();
    let mut replay_mismatches = 0;
    let names: Vec<String> = run.net.nodes.iter().map(|n| n.name.clone()).collect();
    for (i, name) in names.iter().enumerate() {
        let r = check::replay(name, &run.dir.join(name))?;
        // The hash the node logged as it stopped (SIGTERM) is what its WAL holds; it
        // equals the quiet read unless a timer moved the node in between (noted).
        let stopped = procs::stopped_hash(&run.node_dir(i));
        let expected = stopped.clone().unwrap_or_else(|| live[i].clone());
        if stopped.as_ref().is_some_and(|s| *s != live[i]) {
            run.note(format!(
                "{name}: moved between the quiet read ({}) and its stop ({expected})",
                live[i]
            ));
        }
        if r.hash != expected {
            replay_mismatches += 1;
            run.figures.violations.push(format!(
                "{name}: its WAL replays to {} but it reported {expected} as it stopped",
                r.hash
            ));
        }
        replayed.push(r);
    }
    let config = crate::node::config::NodeConfig::read(&run.node_dir(0).join("node.xln"))
        .map_err(|e| e.to_string())?;
    let payments = run.shared.payments().clone();
    let findings = check::check(&config, &run.plan, &replayed, &payments);
    Ok(report(run, &payments, &findings, replay_mismatches))
}

/// Prints the figures; returns whether every check passed.
fn report(
    run: &mut Run,
    payments: &[traffic::Payment],
    f: &check::Findings,
    replay_mismatches: u64,
) -> bool {
    let count =
        |pred: &dyn Fn(&traffic::Payment) -> bool| payments.iter().filter(|p| pred(p)).count();
    let direct = |p: &traffic::Payment| matches!(p.kind, PayKind::Direct { .. });
    let acked = |p: &traffic::Payment| matches!(p.ack, Ack::Acked(_));
    let (kills, partitions) = (run.figures.kills, run.figures.partitions);
    if kills < run.opts.min_kills {
        let why = format!(
            "only {kills} kills, below --min-kills {}",
            run.opts.min_kills
        );
        run.figures.violations.push(why);
    }
    if partitions < run.opts.min_partitions {
        let why = format!(
            "only {partitions} partitions, below --min-partitions {}",
            run.opts.min_partitions
        );
        run.figures.violations.push(why);
    }
    let fig = &run.figures;
    let mut out = String::new();
    let _ = writeln!(out, "== xln chaos: figures");
    let _ = writeln!(
        out,
        "payments sent {} (direct {}, routed {}), acknowledged {}, refused {}, calls broken {}",
        payments.len(),
        count(&direct),
        count(&|p| !direct(p)),
        count(&acked),
        count(&|p| matches!(p.ack, Ack::Refused(_))),
        count(&|p| matches!(p.ack, Ack::Ambiguous(_)))
    );
    let _ = writeln!(
        out,
        "settled: direct applied {}, routed settled {}, routed refunded {}, refused after the ack {}",
        count(&|p| acked(p) && p.outcome == Final::Applied),
        count(&|p| acked(p) && p.outcome == Final::Settled),
        count(&|p| acked(p) && matches!(p.outcome, Final::Failed(_))),
        count(&|p| acked(p) && matches!(p.outcome, Final::Refused(_)))
    );
    let _ = writeln!(
        out,
        "faults: kills {}, partitions {}, torn restarts {} (torn tails truncated {}), restarts {}, stalls {}",
        fig.kills, fig.partitions, fig.torn_restarts, fig.torn_truncated, fig.restarts, fig.stalls
    );
    let _ = writeln!(
        out,
        "checks: divergences {}, accounts disagreeing {}, locks left {}, lost {}, applied twice {}, tokens not conserved {} (of {:?}), WAL replays differing {} of {}, broken calls found applied {}, account txs refused {} (unexplained {}), hub losses (late reveals) {}",
        f.divergences,
        f.accounts_disagreeing,
        f.locks_left,
        f.lost,
        f.applied_twice,
        f.not_conserved,
        f.tokens,
        replay_mismatches,
        run.net.nodes.len(),
        f.ambiguous_applied,
        f.refusals.values().sum::<u64>(),
        f.refusals_unexplained,
        f.hub_losses
    );
    let mut problems: Vec<String> = fig.violations.clone();
    problems.extend(f.problems.iter().cloned());
    let failed = !fig.violations.is_empty()
        || f.divergences
            + f.accounts_disagreeing
            + f.locks_left
            + f.lost
            + f.applied_twice
            + f.not_conserved
            + f.refusals_unexplained
            + replay_mismatches
            > 0;
    for p in &problems {
        let _ = writeln!(out, "  problem: {p}");
    }
    let mut refusals: Vec<(&String, &u64)> = f.refusals.iter().collect();
    refusals.sort_by_key(|r| std::cmp::Reverse(*r.1));
    for (what, n) in refusals {
        let _ = writeln!(out, "  refused in an account: {n} × {what}");
    }
    // Why payments ended other than applied or settled (not failures: refusals the
    // clients were told of, and refunds), the commonest first.
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for p in payments.iter().filter(|p| acked(p)) {
        if let Final::Refused(why) | Final::Failed(why) = &p.outcome {
            *reasons.entry(why.clone()).or_default() += 1;
        }
    }
    let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (why, n) in reasons.iter().take(5) {
        let _ = writeln!(out, "  note: {n} × {why}");
    }
    let _ = writeln!(out, "seed {}", run.opts.seed);
    let _ = writeln!(out, "rerun: {}", rerun_command(&run.opts));
    let _ = writeln!(
        out,
        "result: {}",
        if failed {
            "FAILED"
        } else {
            "every check passed"
        }
    );
    print!("{out}");
    let _ = std::fs::write(run.dir.join("chaos.log"), run.log.join("\n") + "\n" + &out);
    !failed
}

/// The default seed when none is given: from the clock, printed with the figures.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}
