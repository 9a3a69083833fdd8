//! Shared by the node tests: a local network of real `xln node` processes started with
//! `xln net up` in a temporary directory, clients of every node, kill -9 and restart, and
//! waiting on observed progress (never on elapsed time alone: every wait is bounded and
//! polls what the nodes report).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
use xln::node::client::NodeClient;
use xln::node::net::{rpc_urls, running_pid, spawn_node, wait_for, Network};

/// Generous bound for anything a loaded 2-core machine must finish.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub fn xln() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xln"));
    c.env("NO_COLOR", "1");
    c
}

/// A base port per test binary and process, so parallel runs do not collide.
pub fn base_port(slot: u16) -> u16 {
    20_000 + slot * 1_000 + (std::process::id() % 40) as u16 * 20
}

pub struct TestNet {
    pub dir: PathBuf,
    pub net: Network,
    pub clients: Vec<NodeClient>,
    children: Vec<Child>,
}

impl TestNet {
    /// `xln net up` of `text` (a network file) in a fresh temporary directory.
    pub fn up(name: &str, text: &str) -> TestNet {
        let dir = std::env::temp_dir().join(format!("xln-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("network.xln");
        std::fs::write(&file, text).expect("network file");
        let out = xln()
            .args(["net", "up"])
            .arg(&file)
            .arg("--dir")
            .arg(dir.join("net"))
            .output()
            .expect("xln net up");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "net up failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{stdout}");
        let net = Network::read(&file).expect("the network file");
        let clients = rpc_urls(&net)
            .iter()
            .map(|u| NodeClient::connect(u, None).expect("client"))
            .collect();
        TestNet {
            dir: dir.join("net"),
            net,
            clients,
            children: Vec::new(),
        }
    }

    pub fn index(&self, node: &str) -> usize {
        self.net
            .nodes
            .iter()
            .position(|n| n.name == node)
            .expect("a node of the network")
    }

    pub fn client(&self, node: &str) -> &NodeClient {
        &self.clients[self.index(node)]
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join(node)
    }

    /// kill -9 of a node; waits until the process is gone.
    pub fn kill9(&mut self, node: &str) {
        let dir = self.node_dir(node);
        let pid = running_pid(&dir).expect("the node runs");
        // SAFETY: a process this test's network started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        for child in &mut self.children {
            if child.id() as i32 == pid {
                let _ = child.wait();
            }
        }
        let deadline = Instant::now() + PATIENCE;
        while running_pid(&dir).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("killed -9 node {node} (pid {pid})");
    }

    /// Restarts a node from its config (its data directory recovers).
    pub fn restart(&mut self, node: &str) {
        let config = self.node_dir(node).join("node.xln");
        let exe = Path::new(env!("CARGO_BIN_EXE_xln"));
        let child = spawn_node(exe, &config).expect("restart");
        self.children.push(child);
        let url = rpc_urls(&self.net)[self.index(node)].clone();
        let fresh = wait_for(&url, PATIENCE).expect("the restarted node answers");
        // The old client's pooled connection died with the process: its next call would
        // fail to send. Talk to the new process on a new connection.
        let i = self.index(node);
        self.clients[i] = fresh;
        println!("restarted node {node}");
    }

    pub fn log(&self, node: &str) -> String {
        std::fs::read_to_string(self.node_dir(node).join("node.log")).unwrap_or_default()
    }

    /// Waits until `f` holds, polling; panics with `what` after [`PATIENCE`].
    pub fn wait_until(&self, what: &str, mut f: impl FnMut(&TestNet) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !f(self) {
            assert!(Instant::now() < deadline, "gave up waiting for: {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every node idle, twice in a row with the same heights.
    pub fn wait_quiet(&self) {
        for c in &self.clients {
            assert!(
                c.wait_quiet(PATIENCE).expect("status"),
                "{} did not go quiet",
                c.url
            );
        }
    }

    pub fn status(&self, node: &str) -> Value {
        self.client(node).status().expect("status")
    }

    /// `(entity, height, state hash)` of every replica on every node.
    pub fn replica_hashes(&self) -> Vec<(String, u64, String)> {
        let mut out = Vec::new();
        for c in &self.clients {
            let s = c.status().expect("status");
            for r in s["replicas"].as_array().expect("replicas") {
                out.push((
                    r["name"].as_str().unwrap_or("").to_string(),
                    r["height"].as_u64().unwrap_or(0),
                    r["state_hash"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
        out
    }

    /// The node state hash `xln wal verify` gives for `node`'s data directory.
    pub fn verified_hash(&self, node: &str) -> String {
        let out = xln()
            .args(["wal", "verify"])
            .arg(self.node_dir(node).join("data"))
            .output()
            .expect("xln wal verify");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .find_map(|l| l.strip_prefix("state-hash "))
            .expect("a state hash")
            .to_string()
    }

    pub fn down(&mut self) {
        let _ = xln().args(["net", "down"]).arg(&self.dir).output();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        self.down();
    }
}

/// Δ of an account as one side reports it.
pub fn delta(view: &Value) -> i64 {
    view["delta"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a delta")
}

pub fn keys_of(net: &TestNet, node: &str) -> PathBuf {
    net.node_dir(node).join("keys")
}

pub fn read_file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
