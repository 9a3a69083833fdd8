//! The storage subcommands: `xln snapshot dump|load|diff` and `xln wal inspect|verify|prune`,
//! with human-readable output. Everything except `wal prune` and `snapshot load --into` is
//! read-only (a torn WAL tail is reported, not truncated).

use std::path::{Path, PathBuf};

use super::{report, usage_error};
use crate::error::{HostCode, HostError};
use crate::runtime::Runtime;
use crate::storage::{
    hex32, read_snapshot, runtime_state_hash, snapshot_document, state_diff,
    write_snapshot_atomically, Recovered, Store, StoreError, StoreOptions,
};

pub const SNAPSHOT_USAGE: &str = "\
    xln snapshot dump DIR [N]      print the snapshot document of a store's state (after input N)
    xln snapshot load FILE [--into DIR]
                                   check a snapshot and print its summary (or start store DIR from it)
    xln snapshot diff A B          differences between two states: snapshot files or DIR:N";

pub const WAL_USAGE: &str = "\
    xln wal inspect DIR [FROM [TO]] list segments and records (inputs FROM..=TO)
    xln wal verify DIR [--keys K]  recover read-only; print inputs and the state hash (a node's
                                   data directory: each replica's hash; keys from K or DIR/../keys)
    xln wal prune DIR              delete WAL segments and snapshots behind the newest snapshot";

fn storage_failure(e: StoreError, color: bool) -> i32 {
    report(
        HostError::new(HostCode::Storage, e.to_string()).into(),
        color,
    )
}

fn number(arg: Option<&String>, what: &str) -> Result<Option<u64>, String> {
    arg.map(|a| {
        a.parse::<u64>()
            .map_err(|_| format!("{what} must be a non-negative integer, got `{a}`"))
    })
    .transpose()
}

/// `xln snapshot ...`.
pub fn snapshot_command(args: &[String], color: bool) -> i32 {
    let usage = |m: &str| usage_error(&format!("{m}\nusage:\n{SNAPSHOT_USAGE}"), color);
    match args {
        [cmd, dir, rest @ ..] if cmd == "dump" && rest.len() <= 1 => {
            let n = match number(rest.first(), "N") {
                Ok(n) => n,
                Err(m) => return usage(&m),
            };
            match dump(Path::new(dir), n) {
                Ok(doc) => {
                    print!("{doc}");
                    0
                }
                Err(e) => storage_failure(e, color),
            }
        }
        [cmd, file] if cmd == "load" => match read_snapshot(Path::new(file)) {
            Ok(s) => {
                println!("{}", summary(file, s.inputs, &s.runtime, s.state_hash));
                0
            }
            Err(e) => storage_failure(e, color),
        },
        [cmd, file, flag, dir] if cmd == "load" && flag == "--into" => {
            match load_into(Path::new(file), Path::new(dir)) {
                Ok(msg) => {
                    println!("{msg}");
                    0
                }
                Err(e) => storage_failure(e, color),
            }
        }
        [cmd, a, b] if cmd == "diff" => match (state_at(a), state_at(b)) {
            (Ok(x), Ok(y)) => print_diff(a, b, &x, &y),
            (Err(e), _) | (_, Err(e)) => storage_failure(e, color),
        },
        _ => usage("`xln snapshot` needs dump, load or diff"),
    }
}

fn summary(what: &str, inputs: u64, rt: &Runtime, recorded: [u8; 32]) -> String {
    let actual = runtime_state_hash(rt).unwrap_or_default();
    format!(
        "{what}: ok, the state after {inputs} inputs: tick {}, {} entities, {} timeline events\nrecorded state hash {}\nrestored state hash {} ({})",
        rt.now(),
        rt.entity_count(),
        rt.timeline().len(),
        hex32(&recorded),
        hex32(&actual),
        if actual == recorded { "equal" } else { "DIFFERENT" },
    )
}

fn dump(dir: &Path, n: Option<u64>) -> Result<String, StoreError> {
    let (runtime, inputs) = match n {
        Some(n) => (Store::replay_to(dir, n)?, n),
        None => {
            let r = Store::recover_read_only(dir)?;
            (r.runtime, r.inputs)
        }
    };
    snapshot_document(&runtime, inputs)
        .map(|(doc, _)| doc)
        .map_err(StoreError::Unavailable)
}

fn load_into(file: &Path, dir: &Path) -> Result<String, StoreError> {
    let snap = read_snapshot(file)?;
    if dir.join("wal").exists() || dir.join("snapshots").exists() {
        return Err(StoreError::Unavailable(format!(
            "{} is already a store; load a snapshot only into a new directory",
            dir.display()
        )));
    }
    let sdir = dir.join("snapshots");
    std::fs::create_dir_all(&sdir).map_err(|e| crate::storage::StoreError::Io {
        path: sdir.clone(),
        reason: e.to_string(),
    })?;
    let (doc, _) =
        snapshot_document(&snap.runtime, snap.inputs).map_err(StoreError::Unavailable)?;
    write_snapshot_atomically(&sdir.join(format!("{:020}.sexp", snap.inputs)), &doc)?;
    let (_, rec) = Store::open(dir, StoreOptions::default())?;
    Ok(format!(
        "{}: a new store at input {}, state hash {}",
        dir.display(),
        rec.inputs,
        hex32(&rec.state_hash)
    ))
}

/// A state named `DIR:N` (replayed from a store) or a snapshot file.
fn state_at(spec: &str) -> Result<Runtime, StoreError> {
    if let Some((dir, n)) = spec.rsplit_once(':') {
        if let Ok(n) = n.parse::<u64>() {
            if Path::new(dir).is_dir() {
                return Store::replay_to(Path::new(dir), n);
            }
        }
    }
    let path = PathBuf::from(spec);
    if path.is_dir() {
        return Store::recover_read_only(&path).map(|r| r.runtime);
    }
    read_snapshot(&path).map(|s| s.runtime)
}

fn print_diff(a: &str, b: &str, x: &Runtime, y: &Runtime) -> i32 {
    match state_diff(x, y) {
        Ok(d) if d.is_empty() => {
            println!("{a} and {b}: equal states");
            0
        }
        Ok(d) => {
            println!("--- {a}\n+++ {b}\n{} differences", d.len());
            for e in d {
                println!("{}", e.path);
                if let Some(l) = e.left {
                    println!("  - {l}");
                }
                if let Some(r) = e.right {
                    println!("  + {r}");
                }
            }
            0
        }
        Err(e) => {
            eprintln!("xln: {e}");
            1
        }
    }
}

/// `xln wal ...`.
pub fn wal_command(args: &[String], color: bool) -> i32 {
    let usage = |m: &str| usage_error(&format!("{m}\nusage:\n{WAL_USAGE}"), color);
    match args {
        [cmd, dir, rest @ ..] if cmd == "inspect" && rest.len() <= 2 => {
            let (from, to) = match (number(rest.first(), "FROM"), number(rest.get(1), "TO")) {
                (Ok(f), Ok(t)) => (f.unwrap_or(1), t.unwrap_or(u64::MAX)),
                (Err(m), _) | (_, Err(m)) => return usage(&m),
            };
            inspect(Path::new(dir), from, to).unwrap_or_else(|e| storage_failure(e, color))
        }
        [cmd, dir, rest @ ..]
            if cmd == "verify" && crate::node::store::is_node_store(Path::new(dir)) =>
        {
            let keys = match rest {
                [] => None,
                [flag, keys] if flag == "--keys" => Some(PathBuf::from(keys)),
                _ => return usage("`xln wal verify DIR [--keys KEYS]`"),
            };
            verify_node(Path::new(dir), keys)
                .unwrap_or_else(|e| report(HostError::new(HostCode::Storage, e).into(), color))
        }
        [cmd, dir] if cmd == "verify" => match Store::recover_read_only(Path::new(dir)) {
            Ok(r) => {
                print_recovery(Path::new(dir), &r);
                0
            }
            Err(e) => storage_failure(e, color),
        },
        [cmd, dir] if cmd == "prune" => match prune(Path::new(dir)) {
            Ok(deleted) => {
                println!(
                    "{}: deleted {} files behind the newest snapshot",
                    dir,
                    deleted.len()
                );
                for d in deleted {
                    println!("  {}", d.display());
                }
                0
            }
            Err(e) => storage_failure(e, color),
        },
        _ => usage("`xln wal` needs inspect, verify or prune and a store DIR"),
    }
}

/// `xln wal verify` on a node's data directory: replays its host records (with the node's
/// validator keys, from `--keys` or `DIR/../keys`) and prints each replica's height and
/// state hash and the node's state hash — what the live node reports.
fn verify_node(dir: &Path, keys: Option<PathBuf>) -> Result<i32, String> {
    let keys = keys.unwrap_or_else(|| dir.join("..").join("keys"));
    let ring = crate::node::keys::KeyRing::read_dir(&keys).map_err(|e| e.to_string())?;
    let (replicas, r) =
        crate::node::store::recover_read_only(dir, &ring).map_err(|e| e.to_string())?;
    println!("{}: ok (a node's data directory)", dir.display());
    println!("records {}", r.records);
    println!(
        "snapshot {} (replayed {} WAL records)",
        r.snapshot, r.replayed
    );
    for (id, replica) in replicas.iter() {
        println!(
            "replica entity {} validator {} height {} state-hash {}",
            crate::crypto::readable::to_hex(&id.entity),
            id.validator,
            replica.height(),
            hex32(&replica.state_hash())
        );
    }
    println!("state-hash {}", hex32(&replicas.state_hash()));
    match r.torn_bytes {
        Some(b) => println!("torn-tail {b} bytes: recovery will truncate it"),
        None => println!("torn-tail none"),
    }
    Ok(0)
}

fn print_recovery(dir: &Path, r: &Recovered) {
    println!("{}: ok", dir.display());
    println!("inputs {}", r.inputs);
    println!(
        "snapshot {} (replayed {} WAL records)",
        r.snapshot, r.replayed
    );
    println!("state-hash {}", hex32(&r.state_hash));
    for s in &r.wal.segments {
        println!(
            "segment {} first {} records {} bytes {}",
            s.path.display(),
            s.first_seq,
            s.records,
            s.bytes
        );
    }
    match r.tail() {
        Some(t) => println!(
            "torn-tail {} bytes at offset {} of {} ({}): recovery will truncate it",
            t.bytes,
            t.offset,
            t.segment.display(),
            t.reason
        ),
        None => println!("torn-tail none"),
    }
}

fn inspect(dir: &Path, from: u64, to: u64) -> Result<i32, StoreError> {
    let (inputs, report) = Store::read_inputs(dir, from, to)?;
    for s in &report.segments {
        println!(
            "segment {} first {} records {} bytes {}",
            s.path.display(),
            s.first_seq,
            s.records,
            s.bytes
        );
    }
    for (seq, input) in inputs {
        println!("{seq:>8}  {input}");
    }
    if let Some(t) = &report.tail {
        println!(
            "torn tail: {} bytes at offset {} of {} ({})",
            t.bytes,
            t.offset,
            t.segment.display(),
            t.reason
        );
    }
    Ok(0)
}

fn prune(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let options = StoreOptions {
        snapshot_every: None,
        ..StoreOptions::default()
    };
    let (mut store, _) = Store::open(dir, options)?;
    store.prune()
}
