//! A node's data directory: the write-ahead log of [`HostRecord`]s (`crate::storage`'s WAL:
//! checksummed, numbered 1, 2, 3, ... with no gap, torn tail truncated on open) and
//! snapshots of its replicas. Recovery = newest snapshot + replay of the records after it,
//! through [`Replicas`] (the driver, sending nothing).
//!
//! ```text
//! DATA/wal/00000000000000000001.wal     host records
//! DATA/snapshots/00000000000000004096.sexp
//! ```
//!
//! A snapshot is `(xln-node-snapshot (format 1) (records N) (state-hash "0x…") (body-hash
//! "0x…"))` followed by the replicas and the tx outcomes known (so a node still answers for
//! txs committed before it) in serde's S-expression form; the body hash is checked
//! on read, so an edited or truncated snapshot is refused (and an older one, or the WAL
//! from the start, is used instead only if nothing was pruned).

use std::fs;
use std::path::{Path, PathBuf};

use super::core::{Ledger, Outcome};
use crate::crypto::keccak256;
use crate::crypto::readable::{from_hex, to_hex};
use crate::host::{self, HostError, HostRecord, ReplicaId, Replicas, Reports, Signer};
use crate::sandbox::SandboxEngine;
use crate::storage::{scan_wal, write_snapshot_atomically, StoreError, SyncPolicy, Wal};

/// The snapshot format this code writes and reads.
pub const NODE_SNAPSHOT_FORMAT: u64 = 1;

/// By default a snapshot is taken every this many records (`#:snapshot-every` sets it).
pub const SNAPSHOT_EVERY_RECORDS: u64 = 20_000;

/// What recovery found.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// Records in the log (the last one's number).
    pub records: u64,
    /// The records the snapshot covered (0: none).
    pub snapshot: u64,
    /// Records replayed after it.
    pub replayed: u64,
    /// A torn tail truncated, if any (bytes).
    pub torn_bytes: Option<u64>,
}

/// An open data directory.
pub struct NodeStore {
    dir: PathBuf,
    wal: Wal,
    records: u64,
    last_snapshot: u64,
    snapshot_every: u64,
}

fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

fn snapshot_dir(dir: &Path) -> PathBuf {
    dir.join("snapshots")
}

fn record_error(seq: u64, reason: String) -> StoreError {
    StoreError::Record { seq, reason }
}

/// What a snapshot restores: the records it covers, the replicas and the outcomes.
type Restored = (u64, (Replicas, Ledger));

/// The newest readable snapshot.
fn newest_snapshot(dir: &Path) -> Result<Option<Restored>, StoreError> {
    let mut found = crate::storage::snapshots(dir)?;
    found.sort();
    match found.pop() {
        Some((n, path)) => read_snapshot(&path).map(|r| Some((n, r))),
        None => Ok(None),
    }
}

/// A snapshot's body.
#[derive(serde::Serialize, serde::Deserialize)]
struct Body {
    replicas: Vec<(ReplicaId, crate::entity::EntityReplica)>,
    #[serde(with = "crate::crypto::readable")]
    outcome_hashes: Vec<[u8; 32]>,
    outcomes: Vec<Outcome>,
}

fn read_snapshot(path: &Path) -> Result<(Replicas, Ledger), StoreError> {
    let bad = |line: usize, reason: String| StoreError::Snapshot {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let text = fs::read_to_string(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let (header, body) = text
        .split_once('\n')
        .ok_or_else(|| bad(1, "no body after the header".into()))?;
    let header = lexpr::from_str(header).map_err(|e| bad(1, format!("header: {e}")))?;
    let field = |name: &str| {
        header
            .list_iter()
            .and_then(|mut it| {
                it.find(|f| f.as_pair().and_then(|(k, _)| k.as_symbol()) == Some(name))
            })
            .and_then(|f| {
                f.as_pair()
                    .and_then(|(_, rest)| rest.as_pair())
                    .map(|(v, _)| v.clone())
            })
            .ok_or_else(|| bad(1, format!("header has no ({name} …)")))
    };
    if field("format")?.as_u64() != Some(NODE_SNAPSHOT_FORMAT) {
        return Err(bad(1, format!("not format {NODE_SNAPSHOT_FORMAT}")));
    }
    let recorded = field("body-hash")?
        .as_str()
        .and_then(|h| from_hex(h).ok())
        .ok_or_else(|| bad(1, "bad body-hash".into()))?;
    if keccak256(body.as_bytes()).to_vec() != recorded {
        return Err(bad(
            2,
            "the body does not match its hash (edited or truncated)".into(),
        ));
    }
    let body: Body = serde_lexpr::from_str(body).map_err(|e| bad(2, e.to_string()))?;
    let mut replicas = Replicas::new();
    for (id, r) in body.replicas {
        replicas.insert(id, r);
    }
    let mut ledger = Ledger::default();
    for (h, o) in body.outcome_hashes.into_iter().zip(body.outcomes) {
        ledger.record(h, o);
    }
    Ok((replicas, ledger))
}

/// Replays every record of `dir`'s WAL after `after` into `replicas`.
fn replay(
    dir: &Path,
    after: u64,
    replicas: &mut Replicas,
    signer: &dyn Signer,
    reports: &mut dyn Reports,
) -> Result<(u64, crate::storage::WalReport), StoreError> {
    let mut replayed = 0;
    // A fresh engine gives the same results as the live one (no call leaves state in it).
    let mut engine = SandboxEngine::new();
    let report = scan_wal(&wal_dir(dir), after, &mut |seq, payload| {
        let record = HostRecord::decode(payload).map_err(|e| record_error(seq, e.to_string()))?;
        replicas
            .apply_reporting(&record, signer, &mut engine, reports)
            .map_err(|e| record_error(seq, e.to_string()))?;
        replayed += 1;
        Ok(())
    })?;
    Ok((replayed, report))
}

/// Recovers `dir` without changing anything (for `xln wal verify`).
///
/// # Errors
/// As [`NodeStore::open`].
pub fn recover_read_only(
    dir: &Path,
    signer: &dyn Signer,
) -> Result<(Replicas, Recovery), StoreError> {
    let (snapshot, (mut replicas, _)) = newest_snapshot(dir)?.unwrap_or_default();
    let (replayed, report) = replay(dir, snapshot, &mut replicas, signer, &mut host::Discard)?;
    let recovery = Recovery {
        records: report.last_seq.max(snapshot),
        snapshot,
        replayed,
        torn_bytes: report.tail.map(|t| t.bytes),
    };
    Ok((replicas, recovery))
}

/// Whether `dir` holds a node's data: its first WAL record is a host record, or (when the
/// WAL after the newest snapshot holds no record yet) a snapshot is a node snapshot.
pub fn is_node_store(dir: &Path) -> bool {
    let node_snapshot = crate::storage::snapshots(dir)
        .ok()
        .and_then(|s| s.last().cloned())
        .is_some_and(|(_, path)| {
            let mut head = [0u8; 18];
            fs::File::open(path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && &head == b"(xln-node-snapshot"
        });
    if node_snapshot {
        return true;
    }
    let mut first = None;
    let _ = scan_wal(&wal_dir(dir), 0, &mut |_, payload| {
        if first.is_none() {
            first = Some(HostRecord::is_host_record(payload));
        }
        Err(StoreError::Unavailable("stop".into()))
    });
    first.unwrap_or(false)
}

impl NodeStore {
    /// Opens (creating) `dir`, recovering its replicas: newest snapshot, then the WAL after
    /// it (a torn tail is truncated). `reports` receives the replayed replicas' reports
    /// on top of the snapshot's outcomes (so a node answers for txs it committed before a
    /// restart); `ledger` must be empty.
    ///
    /// # Errors
    /// I/O errors, [`StoreError::WalCorrupt`], [`StoreError::Record`] for a record that
    /// does not decode or replay, [`StoreError::Snapshot`] for a damaged snapshot.
    pub fn open(
        dir: &Path,
        group_commit: usize,
        signer: &dyn Signer,
        ledger: &mut Ledger,
    ) -> Result<(NodeStore, Replicas, Recovery), StoreError> {
        for d in [snapshot_dir(dir), wal_dir(dir)] {
            fs::create_dir_all(&d).map_err(|e| StoreError::Io {
                path: d.clone(),
                reason: e.to_string(),
            })?;
        }
        let (snapshot, (mut replicas, known)) = newest_snapshot(dir)?.unwrap_or_default();
        *ledger = known;
        let reports: &mut dyn Reports = ledger;
        let mut replayed = 0;
        let mut failure = None;
        let mut engine = SandboxEngine::new();
        let (wal, report) = Wal::open(
            &wal_dir(dir),
            snapshot + 1,
            snapshot,
            SyncPolicy::Group(group_commit.max(1)),
            &mut |seq, payload| {
                let record =
                    HostRecord::decode(payload).map_err(|e| record_error(seq, e.to_string()))?;
                if let Err(e) = replicas.apply_reporting(&record, signer, &mut engine, reports) {
                    failure.get_or_insert(record_error(seq, e.to_string()));
                }
                replayed += 1;
                Ok(())
            },
        )?;
        if let Some(e) = failure {
            return Err(e);
        }
        let records = report.last_seq.max(snapshot);
        let recovery = Recovery {
            records,
            snapshot,
            replayed,
            torn_bytes: report.tail.map(|t| t.bytes),
        };
        let store = NodeStore {
            dir: dir.to_path_buf(),
            wal,
            records,
            last_snapshot: snapshot,
            snapshot_every: SNAPSHOT_EVERY_RECORDS,
        };
        Ok((store, replicas, recovery))
    }

    /// Takes a snapshot every `records` records from now on.
    pub fn set_snapshot_every(&mut self, records: u64) {
        self.snapshot_every = records.max(1);
    }

    /// Records appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Makes every appended record durable (the group commit's fsync).
    ///
    /// # Errors
    /// I/O errors: the node must stop (its memory is ahead of its disk).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let result = self.wal.sync();
        metrics::histogram!(super::metrics::WAL_FSYNC).record(started.elapsed().as_secs_f64());
        result
    }

    /// Records waiting for [`NodeStore::sync`].
    pub fn pending(&self) -> usize {
        self.wal.buffered()
    }

    /// Writes a snapshot of `replicas` (the state after every appended record) if
    /// the snapshot interval (default [`SNAPSHOT_EVERY_RECORDS`]) passed since the last one, then starts a new
    /// WAL segment and prunes the segments and snapshots it covers.
    ///
    /// # Errors
    /// I/O errors.
    pub fn maybe_snapshot(
        &mut self,
        replicas: &Replicas,
        ledger: &Ledger,
    ) -> Result<bool, StoreError> {
        if self.records < self.last_snapshot.saturating_add(self.snapshot_every) {
            return Ok(false);
        }
        self.snapshot(replicas, ledger)?;
        Ok(true)
    }

    /// Writes a snapshot now (see [`NodeStore::maybe_snapshot`]).
    ///
    /// # Errors
    /// I/O errors.
    pub fn snapshot(
        &mut self,
        replicas: &Replicas,
        ledger: &Ledger,
    ) -> Result<PathBuf, StoreError> {
        self.wal.sync()?;
        let (outcome_hashes, outcomes) = ledger.in_order().into_iter().unzip();
        let body = Body {
            replicas: replicas.iter().map(|(id, r)| (*id, r.clone())).collect(),
            outcome_hashes,
            outcomes,
        };
        let body = serde_lexpr::to_string(&body)
            .map_err(|e| StoreError::Unavailable(format!("cannot serialize the replicas: {e}")))?;
        let doc = format!(
            "(xln-node-snapshot (format {NODE_SNAPSHOT_FORMAT}) (records {}) (state-hash \"{}\") (body-hash \"{}\"))\n{body}",
            self.records,
            to_hex(&replicas.state_hash()),
            to_hex(&keccak256(body.as_bytes()))
        );
        let path = snapshot_dir(&self.dir).join(format!("{:020}.sexp", self.records));
        write_snapshot_atomically(&path, &doc)?;
        self.last_snapshot = self.records;
        self.wal.roll()?;
        Wal::prune(&wal_dir(&self.dir), self.last_snapshot)?;
        for (n, old) in crate::storage::snapshots(&self.dir)? {
            if n < self.last_snapshot {
                let _ = fs::remove_file(old);
            }
        }
        Ok(path)
    }
}

impl host::Store for NodeStore {
    fn append(&mut self, record: &[u8]) -> Result<(), HostError> {
        let started = std::time::Instant::now();
        let seq = self
            .wal
            .append(record)
            .map_err(|e| HostError::Store(e.to_string()))?;
        metrics::histogram!(super::metrics::WAL_APPEND).record(started.elapsed().as_secs_f64());
        self.records = seq;
        Ok(())
    }
}
