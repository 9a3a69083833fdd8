//! The process host: `xln node CONFIG` runs the replicas a configuration names (one
//! validator of a board, or the single validator of a 1-of-1 entity; several of either) as
//! one process with its own data directory, key files and peers. The same machines run
//! here as in the simulator, through the same driver ([`crate::host::drive`]).
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`run`]: start-up (config, keys, recovery, genesis), the threads and tasks |
//! | `config.rs` | node files: S-expression data, `file:line:col` errors |
//! | `keys.rs` | owner-only validator key files; the [`Signer`](crate::host::Signer) of a node |
//! | `store.rs` | the data directory: WAL of host records, snapshots, recovery by replay |
//! | `core.rs` | the core thread: batches, the driver, group commit, routing, outcomes |
//! | `session.rs` | Noise over WebSocket, mutual authentication by validator key, framing |
//! | `peers.rs` | listening and dialing, reconnects with backoff and jitter, the connection limits |
//! | `rpc.rs` | the JSON-RPC client API |
//! | `client.rs` | a blocking JSON-RPC client (the REPL, `xln net up`, tests, the bench) |
//! | `net.rs` | `xln net up` / `xln net down`: a local network of node processes from one file |
//! | `bench.rs` | `xln bench net`: payments through a hub over real sockets, against the signature floor |
//! | `web.rs` | the HTTP pages on the RPC port: the live web view, `/metrics`, `/api/network`; `xln_view` |
//! | `metrics.rs` | the metrics' names and the Prometheus recorder |
//! | `telemetry.rs` | after each batch: metrics read off the state, payment log lines, the web view's events |
//! | `log.rs` | structured logs (`tracing`): level and format |
//!
//! Threads: the core runs on the main thread (it alone touches replicas and disk); a tokio
//! runtime runs the peer sessions, the ticker and the RPC server, and talks to the core
//! through one bounded channel. Every input the core accepts is in the WAL (fsync'd, a
//! batch per fsync) before any message or answer it caused leaves the process.

pub mod bench;
pub mod client;
pub mod config;
pub mod core;
pub mod keys;
pub mod log;
pub mod metrics;
pub mod net;
pub mod peers;
pub mod rpc;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod web;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use self::config::NodeConfig;
use self::core::{Core, CoreEvent, Directory, Ledger, PeerQueue};
use self::keys::KeyRing;
use self::store::NodeStore;
use crate::host::{HostRecord, ReplicaId, Signer, Store};
use crate::sandbox::SandboxEngine;

/// Inputs waiting for the core at most (peers then wait: backpressure on their sockets).
pub const CORE_QUEUE_MAX: usize = 65_536;

fn os_seed() -> u64 {
    let mut b = [0u8; 8];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if ok {
        u64::from_le_bytes(b)
    } else {
        std::process::id() as u64
    }
}

/// Starts any configured replica the data directory does not hold yet: its genesis is
/// logged (and fsync'd) as the replica's first record.
fn start_missing_replicas(
    config: &NodeConfig,
    store: &mut NodeStore,
    replicas: &mut crate::host::Replicas,
    keys: &KeyRing,
) -> Result<usize, String> {
    let mut started = 0;
    for (name, validator) in &config.replicas {
        let spec = config
            .entity(name)
            .ok_or_else(|| format!("no entity {name:?}"))?;
        let id = ReplicaId {
            entity: spec.id(),
            validator: *validator,
        };
        if replicas.get(&id).is_some() {
            continue;
        }
        let onion_key = keys
            .onion_secret(&id.entity)
            .map(|s| s.public_key().to_vec())
            .unwrap_or_default();
        let record = HostRecord::Genesis {
            validator: *validator,
            board: spec.board.clone(),
            reserves: spec.reserves.clone(),
            config: config.entity_config.clone(),
            onion_key,
        };
        replicas
            .apply(&record, keys, &mut SandboxEngine::new())
            .map_err(|e| format!("entity {name:?}: {e}"))?;
        store.append(&record.encode()).map_err(|e| e.to_string())?;
        started += 1;
    }
    store.sync().map_err(|e| e.to_string())?;
    Ok(started)
}

fn directory(config: &NodeConfig) -> Directory {
    let entities = config
        .entities
        .iter()
        .map(|e| (e.id(), (e.name.clone(), e.board.clone())))
        .collect();
    let mut host_of = BTreeMap::new();
    for (i, p) in config.peers.iter().enumerate() {
        for v in &p.validators {
            host_of.insert(*v, i);
        }
    }
    Directory { entities, host_of }
}

/// `xln node CONFIG`: runs until killed. Returns the exit code (1 with a message on a
/// configuration, key or storage error).
pub fn run(config_path: &Path) -> i32 {
    run_logging(config_path, None, None)
}

/// `xln node CONFIG --log-level L --log-format F` (each overrides the node file's).
pub fn run_logging(config_path: &Path, log_level: Option<&str>, log_format: Option<&str>) -> i32 {
    match start(config_path, log_level, log_format) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("xln node: {message}");
            1
        }
    }
}

fn start(
    config_path: &Path,
    log_level: Option<&str>,
    log_format: Option<&str>,
) -> Result<(), String> {
    let config = NodeConfig::read(config_path).map_err(|e| e.to_string())?;
    let format = log::LogFormat::parse(
        log_format
            .or(config.log_format.as_deref())
            .unwrap_or("text"),
    )?;
    log::init(&log::level(log_level, config.log_level.as_deref()), format)?;
    metrics::install()?;
    let name = config.name.clone();
    let validators: Vec<_> = config.replicas.iter().map(|(_, v)| *v).collect();
    let hosted = config
        .replicas
        .iter()
        .filter_map(|(name, _)| config.entity(name).map(config::EntitySpec::id));
    let keys = KeyRing::read(&config.keys, validators)
        .and_then(|k| k.with_onions(&config.keys, hosted))
        .map_err(|e| e.to_string())?;
    let mut ledger = Ledger::default();
    let (mut store, mut replicas, recovery) =
        NodeStore::open(&config.data, config.group_commit, &keys, &mut ledger)
            .map_err(|e| e.to_string())?;
    store.set_snapshot_every(config.snapshot_every);
    let started = start_missing_replicas(&config, &mut store, &mut replicas, &keys)?;
    let pid_file = config.data.join("node.pid");
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .map_err(|e| format!("{}: {e}", pid_file.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))?;
    let (core_tx, core_rx) = mpsc::channel(CORE_QUEUE_MAX);
    let (events, _) = broadcast::channel(4_096);
    let dir = directory(&config);
    let secret: Vec<_> = keys.keys().cloned().collect();
    let mut peers = Vec::new();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|e| format!("cannot listen for peers on {}: {e}", config.listen))?;
    let listen_ctx = Arc::new(peers::ListenContext {
        name: name.clone(),
        keys: secret.clone(),
        known: config
            .peers
            .iter()
            .flat_map(|p| p.validators.iter().map(move |v| (*v, p.name.clone())))
            .collect(),
        core: core_tx.clone(),
        open: AtomicUsize::new(0),
    });
    runtime.spawn(peers::listen(listener, listen_ctx));
    let seed = os_seed();
    for (i, p) in config.peers.iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        peers.push(PeerQueue {
            name: p.name.clone(),
            sender: tx,
            pending: pending.clone(),
        });
        let ctx = peers::DialContext {
            name: name.clone(),
            peer: p.name.clone(),
            url: p.url.clone(),
            validators: p.validators.clone(),
            keys: secret.clone(),
            pending,
            jitter_seed: seed.wrapping_add(i as u64),
        };
        runtime.spawn(peers::dial(ctx, rx));
    }
    let rpc_ctx = rpc::RpcContext {
        core: core_tx.clone(),
        events: events.clone(),
        token: config.rpc_token.clone(),
        entities: rpc::entity_boards(&dir),
    };
    let site = Arc::new(web::Site::new(&config));
    let (_rpc, rpc_addr) = runtime.block_on(rpc::serve(config.rpc, rpc_ctx, site))?;
    let tick = core_tx.clone();
    let tick_ms = config.tick_ms;
    runtime.spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_millis(tick_ms));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            // A busy core skips ticks rather than queueing them.
            if let Err(mpsc::error::TrySendError::Closed(_)) = tick.try_send(CoreEvent::Tick) {
                return;
            }
        }
    });
    // SIGTERM or Ctrl-C: the core finishes its batch (fsynced), logs `node stopped` with
    // the state hash its WAL holds, and exits 0. (SIGKILL is survived by recovery.)
    let stop = core_tx.clone();
    runtime.spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let _ = stop.send(CoreEvent::Shutdown).await;
    });
    // The line people read at start (JSON logs get the `node started` event alone).
    if format == log::LogFormat::Text {
        println!(
        "xln node {name}: peers on ws://{}, clients on http://{rpc_addr} and ws://{rpc_addr}, data {} ({} records: snapshot {}, replayed {}{}; {started} new replicas), state hash {}",
        config.listen,
        config.data.display(),
        recovery.records,
        recovery.snapshot,
        recovery.replayed,
        recovery.torn_bytes.map_or(String::new(), |b| format!(", torn tail of {b} bytes truncated")),
        crate::crypto::readable::to_hex(&replicas.state_hash()),
    );
    }
    tracing::info!(
        node = %name,
        peers = %config.listen,
        rpc = %rpc_addr,
        web = %format!("http://{rpc_addr}/"),
        records = recovery.records,
        replicas = replicas.ids().len(),
        state_hash = %crate::crypto::readable::to_hex(&replicas.state_hash()),
        "node started"
    );
    let mut core = Core::new(name, replicas, keys, store, dir, peers, ledger, events);
    let result = core.run(core_rx);
    let _ = std::fs::remove_file(&pid_file);
    runtime.shutdown_background();
    result
}
