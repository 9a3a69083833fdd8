//! The architecture as data: the layers, the machines in them (their states, inputs and
//! transaction kinds) and which layer feeds which, built from the code's own tables
//! (`AccountTx::KINDS`, `EntityTx::KINDS`, `Behaviour::ALL`, ...) so it cannot drift, plus
//! queries ([`Architecture::path`]) and validation ([`validate`]).
//!
//! | file | owns |
//! |---|---|
//! | `kinds.rs` | one sample of every tx kind, the handler check (the dispatch applies it), the script-surface table and the scan of `scripts/*.xln` |
//! | `render.rs` | the text tree and Graphviz DOT of the layers and of a live account network |

#![warn(missing_docs)]

mod kinds;
mod render;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use kinds::{validate, KindCheck, Validation};
pub use render::{layers_dot, network_dot, tree, NetworkEdge};

use crate::account::AccountTx;
use crate::entity::{EntityTx, VoteKind};
use crate::runtime::Behaviour;

/// Whether a layer's folder exists in `src/` yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Built: `src/<folder>/` exists and is a module of the crate.
    Built,
    /// In DESIGN.md's diagram, not in this tree yet.
    Planned,
}

impl Status {
    /// "built" or "planned".
    pub fn name(self) -> &'static str {
        match self {
            Status::Built => "built",
            Status::Planned => "planned",
        }
    }
}

/// One layer: a folder under `src/` (or planned one) and what it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The layer's name (also its folder, `src/<name>/`).
    pub name: &'static str,
    /// Built or planned.
    pub status: Status,
    /// What it owns, in one line.
    pub owns: &'static str,
}

/// One state machine: its layer, its states, the inputs it takes, its transaction kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The machine's name.
    pub name: &'static str,
    /// The layer it lives in.
    pub layer: &'static str,
    /// Its states (or the modes it can be in).
    pub states: Vec<&'static str>,
    /// The messages or inputs it handles.
    pub inputs: Vec<&'static str>,
    /// Its transaction kinds, from the machine's own tx enum (empty if it has none).
    pub tx_kinds: Vec<&'static str>,
}

/// The whole architecture: layers, machines, and "layer A feeds layer B" edges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Architecture {
    /// Every layer, in DESIGN.md's order.
    pub layers: Vec<Layer>,
    /// Every machine.
    pub machines: Vec<Machine>,
    /// (from, to): `from` feeds inputs to `to` (calls it, or delivers its outputs).
    pub feeds: Vec<(&'static str, &'static str)>,
}

/// The layers: every folder of `src/` (a test keeps this in step with `src/lib.rs`) and the
/// two of DESIGN.md's diagram still to come.
const LAYERS: [(&str, Status, &str); 17] = [
    (
        "lang",
        Status::Built,
        "reader, expander, compiler, evaluator, diagnostics, printer",
    ),
    ("repl", Status::Built, "the interactive prompt"),
    ("cli", Status::Built, "the `xln` command"),
    (
        "bindings",
        Status::Built,
        "the native layers' primitives exposed to scripts",
    ),
    (
        "crypto",
        Status::Built,
        "keccak/sha-256, secp256k1, RLP, ABI, merkle, canonical encoding",
    ),
    (
        "account",
        Status::Built,
        "bilateral 2-of-2 accounts: deltas, RCPAN, frames, subcontracts",
    ),
    (
        "entity",
        Status::Built,
        "BFT entities: boards, proposer, votes, entity transactions",
    ),
    (
        "runtime",
        Status::Built,
        "the tick loop over replicas; seeded faults; byzantine behaviours",
    ),
    (
        "routing",
        Status::Built,
        "gossip profiles (CRDT), channel graph, pathfinding",
    ),
    (
        "netting",
        Status::Built,
        "offsetting obligations: plan and atomic execution",
    ),
    ("arch", Status::Built, "the architecture as queryable data"),
    ("storage", Status::Built, "write-ahead log and snapshots"),
    (
        "chain",
        Status::Built,
        "the Jurisdiction: embedded revm or a JSON-RPC node",
    ),
    (
        "sandbox",
        Status::Built,
        "the subcontract engine: xln code by hash, run deterministically in a fresh interpreter",
    ),
    (
        "host",
        Status::Built,
        "the host boundary: Transport, Store, Signer, the per-replica input log, the one driver",
    ),
    (
        "node",
        Status::Built,
        "the process host: config, key files, Noise-over-WebSocket peers, WAL, JSON-RPC",
    ),
    (
        "chaos",
        Status::Built,
        "a network of node processes under kills, partitions and torn WALs, checked after",
    ),
];

/// Who feeds whom (DESIGN.md's diagram, plus the calls the code makes).
const FEEDS: [(&str, &str); 34] = [
    ("repl", "lang"),
    ("cli", "lang"),
    ("lang", "bindings"),
    ("bindings", "runtime"),
    ("bindings", "account"),
    ("bindings", "routing"),
    ("bindings", "netting"),
    ("bindings", "arch"),
    ("bindings", "chain"),
    ("bindings", "storage"),
    ("storage", "runtime"),
    ("entity", "account"),
    ("chain", "crypto"),
    ("runtime", "entity"),
    ("routing", "account"),
    ("netting", "account"),
    ("account", "crypto"),
    ("entity", "crypto"),
    ("entity", "storage"),
    ("entity", "chain"),
    ("chain", "entity"),
    ("account", "chain"),
    ("bindings", "sandbox"),
    ("runtime", "sandbox"),
    ("sandbox", "lang"),
    ("sandbox", "account"),
    ("entity", "routing"),
    ("runtime", "host"),
    ("node", "host"),
    ("host", "entity"),
    ("cli", "node"),
    ("bindings", "node"),
    ("cli", "chaos"),
    ("chaos", "node"),
];

/// The architecture as it is in this build.
pub fn architecture() -> Architecture {
    Architecture {
        layers: LAYERS
            .iter()
            .map(|&(name, status, owns)| Layer { name, status, owns })
            .collect(),
        machines: machines(),
        feeds: FEEDS.to_vec(),
    }
}

fn machines() -> Vec<Machine> {
    vec![
        Machine {
            name: "account",
            layer: "account",
            states: vec!["ready", "frame-in-flight"],
            inputs: vec!["propose", "ack"],
            tx_kinds: AccountTx::KINDS.to_vec(),
        },
        Machine {
            name: "entity",
            layer: "entity",
            states: [
                "propose",
                VoteKind::Prevote.name(),
                VoteKind::Precommit.name(),
                "commit",
                "view-change",
            ]
            .to_vec(),
            inputs: vec![
                "tx",
                "proposal",
                VoteKind::Prevote.name(),
                VoteKind::Precommit.name(),
                "view-change",
                "commit",
                "sync-request",
                "account-part",
            ],
            tx_kinds: EntityTx::KINDS.to_vec(),
        },
        Machine {
            name: "runtime",
            layer: "runtime",
            states: Behaviour::ALL.iter().map(|b| b.name()).collect(),
            inputs: vec!["tick", "submit", "deliver", "drop", "duplicate", "delay"],
            tx_kinds: Vec::new(),
        },
        Machine {
            name: "routing-gossip",
            layer: "routing",
            states: vec!["profile (last write wins per entity)"],
            inputs: vec!["announce", "sync"],
            tx_kinds: Vec::new(),
        },
        Machine {
            name: "netting",
            layer: "netting",
            states: vec!["planned", "applied", "aborted"],
            inputs: vec!["positions", "plan"],
            tx_kinds: Vec::new(),
        },
    ]
}

impl Architecture {
    /// The layers from `from` to `to` along "feeds" edges (shortest, ties by table order),
    /// or None if `to` cannot be reached.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<&'static str>> {
        let start = self.layers.iter().find(|l| l.name == from)?.name;
        let mut came_from: BTreeMap<&'static str, &'static str> = BTreeMap::new();
        let mut seen = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            if at == to {
                let mut path = vec![at];
                let mut cur = at;
                while let Some(prev) = came_from.get(cur) {
                    path.push(prev);
                    cur = prev;
                }
                path.reverse();
                return Some(path);
            }
            for &(a, b) in &self.feeds {
                if a == at && seen.insert(b) {
                    came_from.insert(b, a);
                    queue.push_back(b);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_of_the_crate_is_a_built_layer_and_every_built_layer_exists() {
        let lib = include_str!("../lib.rs");
        let modules: BTreeSet<&str> = lib
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|m| m.trim_end_matches(';'))
            .collect();
        let arch = architecture();
        for layer in &arch.layers {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
            let exists = std::path::Path::new(&format!("{dir}{}", layer.name)).is_dir();
            assert_eq!(
                exists,
                layer.status == Status::Built,
                "layer {} is {:?} but src/{} exists: {exists}",
                layer.name,
                layer.status,
                layer.name
            );
        }
        for m in modules {
            let folder = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/")).join(m);
            if folder.is_dir() {
                assert!(
                    arch.layers.iter().any(|l| l.name == m),
                    "src/{m}/ is not a layer in arch"
                );
            }
        }
    }

    #[test]
    fn feeds_name_only_layers_and_paths_follow_them() {
        let arch = architecture();
        for (a, b) in &arch.feeds {
            assert!(arch.layers.iter().any(|l| l.name == *a), "{a}");
            assert!(arch.layers.iter().any(|l| l.name == *b), "{b}");
        }
        assert_eq!(
            arch.path("repl", "crypto"),
            Some(vec!["repl", "lang", "bindings", "account", "crypto"])
        );
        assert_eq!(arch.path("crypto", "lang"), None);
    }
}
