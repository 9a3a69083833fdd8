//! `xln net up NETWORK.xln [--dir DIR]` and `xln net down [DIR]`: a whole local network of
//! node processes from one file. `up` writes every node's configuration, key files and data
//! directory under DIR (default `xln-net`), starts one `xln node` process per node, waits
//! until each answers, opens the accounts the file asks for, and prints where each node
//! listens. Running `up` again on the same DIR restarts the same network with its data
//! (keys are made once, in `DIR/layout.xln`'s order; each entity's onion secret for routed
//! payments is made with them and written to every node hosting one of its validators). `down` stops every node of DIR.
//!
//! ```scheme
//! (network #:name "demo" #:base-port 7100)        ; node i: peers on base+2i, RPC on base+2i+1
//! (entity #:name "hub" #:validators 4 #:threshold 3 #:reserves (("treasury" 1 1000)))
//! (entity #:name "alice" #:validators 1)
//! (node #:name "hub-0" #:hosts (("hub" 0)))       ; (entity validator-index) pairs;
//!                                                 ; optional #:tick-ms, #:batch-ms per node
//! (node #:name "alice" #:hosts (("alice" 0)))
//! (account #:between ("alice" "hub") #:credit ((1 1000)))   ; both extend credit
//! ```
//!
//! Optional `network` keys: `#:host` (default 127.0.0.1), `#:tick-ms`, `#:batch-ms`,
//! `#:snapshot-every` (records between each node's snapshots),
//! `#:proxy-base-port P` (peer URLs go through `P + i × nodes + j` for the dial from node i
//! to node j, so a test can cut links with a fault-injecting proxy), `#:log-level` and
//! `#:log-format` (written into every node file; `xln net up --log-level/--log-format`
//! override them). Every node's page (`http://` its RPC address) shows the whole network:
//! each node file names its peers' RPC WebSockets (`#:rpc`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use num_bigint::BigInt;
use serde_json::json;

use super::client::NodeClient;
use super::config::{forms, list, number, read_forms, reserves, text, ConfigError, Form};
use super::keys::{fresh_key, fresh_onion, write_key, write_onion};
use crate::crypto::Address;
use crate::entity::{Holder, TokenId};

/// How long `up` waits for every node to answer.
pub const START_WAIT_MS: u64 = 60_000;

/// One entity of the network file.
#[derive(Clone, Debug)]
pub struct NetEntity {
    /// Its name.
    pub name: String,
    /// Number of (equal-share) validators.
    pub validators: usize,
    /// The threshold.
    pub threshold: u64,
    /// Genesis reserves.
    pub reserves: Vec<(Holder, TokenId, BigInt)>,
}

/// An account to open: (a, b, [(token, credit each side extends)]).
pub type NetAccount = (String, String, Vec<(TokenId, BigInt)>);

/// One node of the network file.
#[derive(Clone, Debug)]
pub struct NetNode {
    /// Its name.
    pub name: String,
    /// (entity, validator index) it hosts.
    pub hosts: Vec<(String, usize)>,
    /// Its own tick period, if not the network's.
    pub tick_ms: Option<u64>,
    /// Its own batching delay, if not the network's.
    pub batch_ms: Option<u64>,
}

/// A network file.
#[derive(Clone, Debug)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// The host every node binds.
    pub host: String,
    /// The first port.
    pub base_port: u16,
    /// Milliseconds between ticks.
    pub tick_ms: u64,
    /// The proposers' batching delay in milliseconds.
    pub batch_ms: u64,
    /// Records between each node's snapshots, if not the default.
    pub snapshot_every: Option<u64>,
    /// Peer dials go through a proxy at `proxy_base_port + i × nodes + j`.
    pub proxy_base_port: Option<u16>,
    /// Every node's log filter, if set.
    pub log_level: Option<String>,
    /// Every node's log format, if set.
    pub log_format: Option<String>,
    /// The entities.
    pub entities: Vec<NetEntity>,
    /// The nodes.
    pub nodes: Vec<NetNode>,
    /// Accounts to open.
    pub accounts: Vec<NetAccount>,
}

fn port(form: &Form<'_>, key: &str, default: u64) -> Result<u16, ConfigError> {
    let n = form.number_or(key, default)?;
    u16::try_from(n).map_err(|_| ConfigError {
        at: crate::lang::source::describe(form.span),
        message: format!("#:{key} {n} is not a port"),
    })
}

impl Network {
    /// Reads a network file.
    ///
    /// # Errors
    /// [`ConfigError`] naming `file:line:col`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let (syntax, whole) = read_forms(path)?;
        let mut net = Network {
            name: "xln".into(),
            host: "127.0.0.1".into(),
            base_port: 7100,
            tick_ms: 50,
            batch_ms: 0,
            snapshot_every: None,
            proxy_base_port: None,
            log_level: None,
            log_format: None,
            entities: Vec::new(),
            nodes: Vec::new(),
            accounts: Vec::new(),
        };
        let at = |span| crate::lang::source::describe(span);
        for form in forms(&syntax)? {
            match form.head.as_str() {
                "network" => {
                    form.only(&["name", "host", "base-port", "tick-ms", "batch-ms", "snapshot-every", "proxy-base-port", "log-level", "log-format"])?;
                    net.log_level = form.text_or("log-level")?;
                    net.log_format = form.text_or("log-format")?;
                    if let Some(v) = form.get("snapshot-every") {
                        net.snapshot_every = Some(number(v, "snapshot-every")?);
                    }
                    net.name = form.text_or("name")?.unwrap_or(net.name);
                    net.host = form.text_or("host")?.unwrap_or(net.host);
                    net.base_port = port(&form, "base-port", 7100)?;
                    net.tick_ms = form.number_or("tick-ms", 50)?;
                    net.batch_ms = form.number_or("batch-ms", 0)?;
                    if form.get("proxy-base-port").is_some() {
                        net.proxy_base_port = Some(port(&form, "proxy-base-port", 0)?);
                    }
                }
                "entity" => {
                    form.only(&["name", "validators", "threshold", "reserves"])?;
                    let validators = form.number_or("validators", 1)?;
                    net.entities.push(NetEntity {
                        name: form.text("name")?,
                        validators: usize::try_from(validators).unwrap_or(usize::MAX).max(1),
                        threshold: form.number_or("threshold", validators)?,
                        reserves: form.get("reserves").map_or(Ok(Vec::new()), reserves)?,
                    });
                }
                "node" => {
                    form.only(&["name", "hosts", "tick-ms", "batch-ms"])?;
                    let hosts = list(form.need("hosts")?, "hosts")?
                        .iter()
                        .map(|h| match h.list() {
                            Some([e, i]) => Ok((text(e, "entity")?, number(i, "a validator index")? as usize)),
                            _ => Err(ConfigError { at: at(h.span), message: "a host is (\"entity\" validator-index)".into() }),
                        })
                        .collect::<Result<_, _>>()?;
                    let opt = |k: &str| form.get(k).map(|v| number(v, k)).transpose();
                    net.nodes.push(NetNode {
                        name: form.text("name")?,
                        hosts,
                        tick_ms: opt("tick-ms")?,
                        batch_ms: opt("batch-ms")?,
                    });
                }
                "account" => {
                    form.only(&["between", "credit"])?;
                    let between = list(form.need("between")?, "between")?;
                    let [a, b] = between else {
                        return Err(ConfigError { at: at(form.span), message: "#:between takes two entity names".into() });
                    };
                    let credit = match form.get("credit") {
                        None => Vec::new(),
                        Some(c) => list(c, "credit")?
                            .iter()
                            .map(|p| match p.list() {
                                Some([t, amount]) => Ok((number(t, "a token")?, super::config::integer(amount, "a credit")?)),
                                _ => Err(ConfigError { at: at(p.span), message: "a credit is (token amount)".into() }),
                            })
                            .collect::<Result<_, _>>()?,
                    };
                    net.accounts.push((text(a, "entity")?, text(b, "entity")?, credit));
                }
                other => return Err(ConfigError { at: at(form.span), message: format!("unknown form `{other}`; a network file has network, entity, node and account forms") }),
            }
        }
        net.check(&at(whole))?;
        Ok(net)
    }

    fn check(&self, at: &str) -> Result<(), ConfigError> {
        let bad = |message: String| {
            Err(ConfigError {
                at: at.to_string(),
                message,
            })
        };
        for n in &self.nodes {
            for (e, i) in &n.hosts {
                match self.entities.iter().find(|x| x.name == *e) {
                    None => return bad(format!("node {:?} hosts unknown entity {e:?}", n.name)),
                    Some(x) if *i >= x.validators => {
                        return bad(format!(
                            "node {:?}: entity {e:?} has no validator {i}",
                            n.name
                        ))
                    }
                    _ => {}
                }
            }
        }
        for e in &self.entities {
            for i in 0..e.validators {
                let hosts = self
                    .nodes
                    .iter()
                    .filter(|n| n.hosts.contains(&(e.name.clone(), i)))
                    .count();
                if hosts != 1 {
                    return bad(format!("validator {i} of {:?} is hosted by {hosts} nodes; exactly one must host it", e.name));
                }
            }
        }
        Ok(())
    }

    /// The peer port of node `i`.
    pub fn peer_port(&self, i: usize) -> u16 {
        self.base_port + 2 * i as u16
    }

    /// The RPC port of node `i`.
    pub fn rpc_port(&self, i: usize) -> u16 {
        self.base_port + 2 * i as u16 + 1
    }

    /// The URL node `from` dials to reach node `to`.
    pub fn dial_url(&self, from: usize, to: usize) -> String {
        let port = match self.proxy_base_port {
            Some(p) => p + (from * self.nodes.len() + to) as u16,
            None => self.peer_port(to),
        };
        format!("ws://{}:{port}", self.host)
    }
}

/// Each entity's validator addresses, made once and kept in `DIR/layout.xln`.
fn layout(dir: &Path, net: &Network) -> Result<BTreeMap<String, Vec<Address>>, String> {
    let path = dir.join("layout.xln");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let value = lexpr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = BTreeMap::new();
        for entry in value.list_iter().ok_or("layout is a list")? {
            let mut items = entry.list_iter().ok_or("a layout entry is a list")?;
            let name = items
                .next()
                .and_then(|v| v.as_str())
                .ok_or("entity name")?
                .to_string();
            let addrs = items
                .map(|v| {
                    v.as_str()
                        .and_then(|s| Address::from_hex(s).ok())
                        .ok_or("an address")
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.insert(name, addrs);
        }
        return Ok(out);
    }
    let node_of = |e: &str, i: usize| {
        net.nodes
            .iter()
            .position(|n| n.hosts.contains(&(e.to_string(), i)))
    };
    let mut out = BTreeMap::new();
    let mut text = String::from(";; validator addresses of each entity (made by xln net up)\n(");
    for e in &net.entities {
        let mut addrs = Vec::new();
        for i in 0..e.validators {
            let key = fresh_key().map_err(|e| e.to_string())?;
            let node = node_of(&e.name, i).ok_or("unhosted validator")?;
            write_key(&dir.join(&net.nodes[node].name).join("keys"), &key)
                .map_err(|e| e.to_string())?;
            addrs.push(key.address());
        }
        // The onion secret the entity's validators share: the same file on every node that
        // hosts one of them (the board is the one node files describe: equal shares).
        let board = crate::entity::Board::new(
            addrs
                .iter()
                .map(|a| crate::entity::Validator::new(*a, 1))
                .collect(),
            e.threshold,
        )
        .map_err(|err| format!("entity {:?}: {err}", e.name))?;
        let onion = fresh_onion().map_err(|e| e.to_string())?;
        for i in 0..e.validators {
            let node = node_of(&e.name, i).ok_or("unhosted validator")?;
            write_onion(
                &dir.join(&net.nodes[node].name).join("keys"),
                &board.entity_id(),
                &onion,
            )
            .map_err(|e| e.to_string())?;
        }
        let _ = write!(text, "\n (\"{}\"", e.name);
        for a in &addrs {
            let _ = write!(text, " \"{}\"", a.to_checksum());
        }
        text.push(')');
        out.insert(e.name.clone(), addrs);
    }
    text.push_str(")\n");
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

fn node_file(net: &Network, i: usize, addrs: &BTreeMap<String, Vec<Address>>) -> String {
    let node = &net.nodes[i];
    let mut s = format!(
        ";; node {} of network {} (written by xln net up)\n(node #:name \"{}\" #:listen \"{}:{}\" #:rpc \"{}:{}\" #:data \"data\" #:keys \"keys\" #:tick-ms {} #:batch-ms {}{}{})\n",
        node.name,
        net.name,
        node.name,
        net.host,
        net.peer_port(i),
        net.host,
        net.rpc_port(i),
        node.tick_ms.unwrap_or(net.tick_ms),
        node.batch_ms.unwrap_or(net.batch_ms),
        net.snapshot_every
            .map_or(String::new(), |n| format!(" #:snapshot-every {n}")),
        [("log-level", &net.log_level), ("log-format", &net.log_format)]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!(" #:{k} {v:?}")))
            .collect::<String>()
    );
    for e in &net.entities {
        let validators: Vec<String> = addrs[&e.name]
            .iter()
            .map(|a| format!("\"{}\"", a.to_checksum()))
            .collect();
        let reserves: Vec<String> = e
            .reserves
            .iter()
            .map(|(h, t, a)| {
                format!(
                    "(\"{}\" {t} {a})",
                    match h {
                        Holder::Name(n) => n.clone(),
                        Holder::Address(a) => a.to_checksum(),
                    }
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "(entity #:name \"{}\" #:threshold {} #:validators ({}) #:reserves ({}))",
            e.name,
            e.threshold,
            validators.join(" "),
            reserves.join(" ")
        );
    }
    for (e, v) in &node.hosts {
        let _ = writeln!(
            s,
            "(replica #:entity \"{e}\" #:validator \"{}\")",
            addrs[e][*v].to_checksum()
        );
    }
    for (j, other) in net.nodes.iter().enumerate().filter(|(j, _)| *j != i) {
        let validators: Vec<String> = other
            .hosts
            .iter()
            .map(|(e, v)| format!("\"{}\"", addrs[e][*v].to_checksum()))
            .collect();
        let _ = writeln!(
            s,
            "(peer #:name \"{}\" #:url \"{}\" #:rpc \"ws://{}:{}\" #:validators ({}))",
            other.name,
            net.dial_url(i, j),
            net.host,
            net.rpc_port(j),
            validators.join(" ")
        );
    }
    s
}

/// The pid recorded by a running node of `node_dir`, if that process is alive.
pub fn running_pid(node_dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(node_dir.join("data").join("node.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    (unsafe { libc::kill(pid, 0) } == 0).then_some(pid)
}

/// Writes every node's files under `dir` (keys made once). Returns each node's config path.
///
/// # Errors
/// I/O and key errors.
pub fn write_network(dir: &Path, net: &Network) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let addrs = layout(dir, net)?;
    let mut configs = Vec::new();
    for (i, node) in net.nodes.iter().enumerate() {
        let node_dir = dir.join(&node.name);
        std::fs::create_dir_all(node_dir.join("data")).map_err(|e| e.to_string())?;
        let path = node_dir.join("node.xln");
        std::fs::write(&path, node_file(net, i, &addrs))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        configs.push(path);
    }
    Ok(configs)
}

/// Starts `XLN node CONFIG` (XLN: the path of the `xln` binary) detached, its output
/// appended to `node.log` beside the config.
///
/// # Errors
/// The process cannot be started.
pub fn spawn_node(exe: &Path, config: &Path) -> Result<std::process::Child, String> {
    use std::os::unix::process::CommandExt;
    let log_path = config.with_file_name("node.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    Command::new(exe)
        .arg("node")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start a node: {e}"))
}

/// Waits until the node at `url` answers, or `timeout`.
pub fn wait_for(url: &str, timeout: Duration) -> Result<NodeClient, String> {
    let deadline = Instant::now() + timeout;
    let client = NodeClient::connect(url, None)?;
    loop {
        match client.status() {
            Ok(_) => return Ok(client),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "{url} did not answer within {} ms: {e}",
                    timeout.as_millis()
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The RPC URL of each node.
pub fn rpc_urls(net: &Network) -> Vec<String> {
    (0..net.nodes.len())
        .map(|i| format!("http://{}:{}", net.host, net.rpc_port(i)))
        .collect()
}

/// Opens the accounts the file names (skipping open ones) and sets their credit.
fn open_accounts(net: &Network, clients: &[NodeClient]) -> Result<(), String> {
    let client_of = |e: &str| {
        net.nodes
            .iter()
            .position(|n| n.hosts.iter().any(|(x, _)| x == e))
            .map(|i| &clients[i])
            .ok_or(format!("no node hosts {e:?}"))
    };
    for (a, b, credit) in &net.accounts {
        for (me, peer) in [(a, b), (b, a)] {
            let c = client_of(me)?;
            if c.account(me, peer, 0)
                .map(|v| v.get("error").is_none())
                .unwrap_or(false)
            {
                continue;
            }
            c.submit(me, json!({ "kind": "open-account", "peer": peer }))?;
        }
        let deadline = Instant::now() + Duration::from_millis(START_WAIT_MS);
        for (me, peer) in [(a, b), (b, a)] {
            let c = client_of(me)?;
            while c.account(me, peer, 0)?.get("error").is_some() {
                if Instant::now() > deadline {
                    return Err(format!("the account {me} - {peer} did not open"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // The limit a side extends is the other side's: left sets right_credit_limit.
        let extended = |view: &serde_json::Value| {
            let key = if view["side"] == "left" {
                "right_credit_limit"
            } else {
                "left_credit_limit"
            };
            view[key].as_str().map(str::to_string)
        };
        for (token, amount) in credit {
            for (me, peer) in [(a, b), (b, a)] {
                let view = client_of(me)?.account(me, peer, *token)?;
                if extended(&view) != Some(amount.to_string()) {
                    client_of(me)?.submit(me, json!({ "kind": "set-credit", "peer": peer, "token": token, "amount": amount.to_string() }))?;
                }
            }
            // Both sides see both limits before `up` returns, so the first payment fits.
            for (me, peer) in [(a, b), (b, a)] {
                loop {
                    let mine = client_of(me)?.account(me, peer, *token)?;
                    let theirs = client_of(peer)?.account(peer, me, *token)?;
                    let settled = mine["in_flight"] == json!(false)
                        && theirs["in_flight"] == json!(false)
                        && mine["state_hash"] == theirs["state_hash"]
                        && extended(&mine) == Some(amount.to_string());
                    if settled {
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(format!(
                            "the credit of the account {me} - {peer} did not settle"
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    Ok(())
}

/// `xln net up`.
///
/// # Errors
/// A message saying what failed.
pub fn up(file: &Path, dir: &Path) -> Result<String, String> {
    up_logging(file, dir, None, None)
}

/// `xln net up --log-level L --log-format F`: as [`up`], the nodes' logs as given.
///
/// # Errors
/// A message saying what failed.
pub fn up_logging(
    file: &Path,
    dir: &Path,
    log_level: Option<&str>,
    log_format: Option<&str>,
) -> Result<String, String> {
    let mut net = Network::read(file).map_err(|e| e.to_string())?;
    if let Some(l) = log_level {
        net.log_level = Some(l.to_string());
    }
    if let Some(f) = log_format {
        super::log::LogFormat::parse(f)?;
        net.log_format = Some(f.to_string());
    }
    let configs = write_network(dir, &net)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    for (node, config) in net.nodes.iter().zip(&configs) {
        let node_dir = config.parent().unwrap_or(dir);
        if running_pid(node_dir).is_none() {
            spawn_node(&exe, config).map_err(|e| format!("{}: {e}", node.name))?;
        }
    }
    let urls = rpc_urls(&net);
    let mut clients = Vec::new();
    for url in &urls {
        clients.push(wait_for(url, Duration::from_millis(START_WAIT_MS))?);
    }
    open_accounts(&net, &clients)?;
    let mut out = format!("network {} up in {}\n", net.name, dir.display());
    for (i, node) in net.nodes.iter().enumerate() {
        let hosts: Vec<String> = node.hosts.iter().map(|(e, v)| format!("{e}#{v}")).collect();
        let pid = running_pid(&dir.join(&node.name)).map_or("?".into(), |p| p.to_string());
        let _ = writeln!(
            out,
            "  {:<10} pid {:<8} peers ws://{}:{}  rpc {}  web {}/  hosts {}  config {}",
            node.name,
            pid,
            net.host,
            net.peer_port(i),
            urls[i],
            urls[i],
            hosts.join(" "),
            configs[i].display()
        );
    }
    let _ = writeln!(out, "stop it with: xln net down {}", dir.display());
    Ok(out)
}

/// `xln net down`: SIGTERM to every node of `dir`, then SIGKILL to any still alive after 5 s.
///
/// # Errors
/// `dir` cannot be read.
pub fn down(dir: &Path) -> Result<String, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut stopped = Vec::new();
    for entry in entries.flatten() {
        let node_dir = entry.path();
        if let Some(pid) = running_pid(&node_dir) {
            // SAFETY: sending a signal to a process id this network's node recorded.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            stopped.push((node_dir, pid));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for (node_dir, pid) in &stopped {
        while running_pid(node_dir).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if running_pid(node_dir).is_some() {
            // SAFETY: as above.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_file(node_dir.join("data").join("node.pid"));
    }
    Ok(format!(
        "stopped {} nodes of {}",
        stopped.len(),
        dir.display()
    ))
}
