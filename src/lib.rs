//! xln: the XLN payment network as a library. The `xln` binary (src/main.rs) is a thin
//! shell over these layers; see README.md and lang/REFERENCE.md.
//!
//! Layers: `lang` (reader, expander, compiler, evaluator), `crypto` (hashes, keys,
//! signatures, RLP, ABI, merkle, canonical encoding), `cli` and `repl` (the command line),
//! `storage` (write-ahead log, snapshots, recovery, time travel), `chain` (the
//! jurisdiction: embedded revm or a JSON-RPC node), `error` (host errors and the single
//! reporting path), `bench` (median timing), `account`, `entity`, `runtime`, `routing`,
//! `netting` (the protocol machines), `arch` (the architecture as data), `host` (the
//! boundary between machines and their hosts), `node` (the process host) and `chaos`
//! (a network of node processes under faults, checked).

pub mod account;
pub mod arch;
pub mod bench;
pub mod bindings;
pub mod chain;
pub mod chaos;
pub mod cli;
pub mod crypto;
pub mod entity;
pub mod error;
pub mod host;
pub mod lang;
pub mod netting;
pub mod node;
pub mod repl;
pub mod routing;
pub mod runtime;
pub mod sandbox;
pub mod storage;
