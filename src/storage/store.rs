//! [`Store`]: one directory holding a runtime's write-ahead log and snapshots. Opening it
//! recovers the state (newest snapshot + WAL replay, a torn tail truncated and reported);
//! [`Store::log`] makes an accepted input durable; snapshots are taken on request or every
//! `snapshot_every` inputs; segments and snapshots behind the newest snapshot can be
//! pruned; [`Store::replay_to`] rebuilds the state after any input number (time travel).

use std::fs;
use std::path::{Path, PathBuf};

use super::snapshot::{read_snapshot, snapshot_document, snapshot_path, write_snapshot_atomically};
use super::wal::{scan, SyncPolicy, TailDamage, Wal, WalReport};
use super::{io_error, runtime_state_hash, StoreError};
use crate::runtime::{Runtime, RuntimeInput};

/// How a store syncs and snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// When WAL records reach the disk (default: every record, before its outputs).
    pub sync: SyncPolicy,
    /// Take a snapshot every this many inputs (bounds recovery time); `None` only on request.
    pub snapshot_every: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sync: SyncPolicy::EveryRecord,
            snapshot_every: Some(1_000),
        }
    }
}

/// What recovery rebuilt.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The recovered runtime.
    pub runtime: Runtime,
    /// Accepted inputs so far (the number of the last one).
    pub inputs: u64,
    /// The runtime state hash.
    pub state_hash: [u8; 32],
    /// The inputs covered by the snapshot recovery started from (0: none).
    pub snapshot: u64,
    /// WAL records replayed on top of it.
    pub replayed: u64,
    /// The WAL as scanned (segments, and a torn tail that was truncated).
    pub wal: WalReport,
}

/// An open store. See the module documentation.
pub struct Store {
    dir: PathBuf,
    wal: Wal,
    inputs: u64,
    last_snapshot: u64,
    options: StoreOptions,
}

pub(crate) fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

fn snapshot_dir(dir: &Path) -> PathBuf {
    dir.join("snapshots")
}

/// The snapshots of a store, oldest first, as (inputs covered, path).
///
/// # Errors
/// I/O errors reading the directory.
pub fn snapshots(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let sdir = snapshot_dir(dir);
    if !sdir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(&sdir).map_err(|e| io_error(&sdir, e))? {
        let path = entry.map_err(|e| io_error(&sdir, e))?.path();
        let n = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".sexp"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = n {
            out.push((n, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The runtime to start replay from: the newest snapshot covering at most `limit` inputs.
pub(crate) fn base(dir: &Path, limit: u64) -> Result<(Runtime, u64), StoreError> {
    match snapshots(dir)?.into_iter().rev().find(|(n, _)| *n <= limit) {
        Some((n, path)) => {
            let snap = read_snapshot(&path)?;
            if snap.inputs != n {
                return Err(StoreError::Snapshot {
                    path,
                    line: 3,
                    reason: format!(
                        "the file name says {n} inputs but the header says {}",
                        snap.inputs
                    ),
                });
            }
            Ok((snap.runtime, n))
        }
        None => Ok((Runtime::new(0), 0)),
    }
}

/// A visitor that decodes each record and applies it, up to input `until`.
fn replayer<'a>(
    runtime: &'a mut Runtime,
    replayed: &'a mut u64,
    until: u64,
) -> impl FnMut(u64, &[u8]) -> Result<(), StoreError> + 'a {
    move |seq, payload| {
        if seq > until {
            return Ok(());
        }
        let input = RuntimeInput::decode(payload).map_err(|e| StoreError::Record {
            seq,
            reason: e.to_string(),
        })?;
        runtime.apply(&input).map_err(|e| StoreError::Record {
            seq,
            reason: format!("{input}: accepted when logged, refused on replay: {e}"),
        })?;
        *replayed += 1;
        Ok(())
    }
}

fn check_continuity(report: &WalReport, base: u64) -> Result<(), StoreError> {
    if let Some(first) = report.segments.first() {
        if first.first_seq > base + 1 {
            return Err(StoreError::Unavailable(format!(
                "the WAL starts at input {} but the snapshot used covers only {base}: inputs {}..{} are missing",
                first.first_seq,
                base + 1,
                first.first_seq - 1
            )));
        }
    }
    if report.last_seq < base && !report.segments.is_empty() {
        return Err(StoreError::Unavailable(format!(
            "the WAL ends at input {} before the snapshot's {base}: the log lost records",
            report.last_seq
        )));
    }
    Ok(())
}

fn state_hash(runtime: &Runtime) -> Result<[u8; 32], StoreError> {
    runtime_state_hash(runtime).map_err(StoreError::Unavailable)
}

/// Removes temporary files a crash during a snapshot write may have left.
fn remove_temporaries(dir: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "tmp") {
            fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        }
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the store in `dir` and recovers its state: the newest
    /// snapshot, then every WAL record after it. A torn WAL tail is truncated and reported
    /// in [`Recovered::wal`]; leftover temporary snapshot files are removed.
    ///
    /// # Errors
    /// I/O errors; [`StoreError::Snapshot`] for an unreadable newest snapshot;
    /// [`StoreError::WalCorrupt`] for corruption before the tail; [`StoreError::Record`]
    /// for a record that does not decode or apply; [`StoreError::Unavailable`] if records
    /// between the snapshot and the WAL are missing.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<(Store, Recovered), StoreError> {
        let sdir = snapshot_dir(dir);
        fs::create_dir_all(&sdir).map_err(|e| io_error(&sdir, e))?;
        remove_temporaries(&sdir)?;
        let (mut runtime, snapshot) = base(dir, u64::MAX)?;
        let mut replayed = 0;
        let (wal, report) = {
            let mut visit = replayer(&mut runtime, &mut replayed, u64::MAX);
            Wal::open(
                &wal_dir(dir),
                snapshot + 1,
                snapshot,
                options.sync,
                &mut visit,
            )?
        };
        check_continuity(&report, snapshot)?;
        let inputs = report.last_seq.max(snapshot);
        let recovered = Recovered {
            state_hash: state_hash(&runtime)?,
            runtime,
            inputs,
            snapshot,
            replayed,
            wal: report,
        };
        let store = Store {
            dir: dir.to_path_buf(),
            wal,
            inputs,
            last_snapshot: snapshot,
            options,
        };
        Ok((store, recovered))
    }

    /// Recovers the state of `dir` without changing anything (a torn tail is reported,
    /// not truncated). For `xln wal verify` and inspection.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn recover_read_only(dir: &Path) -> Result<Recovered, StoreError> {
        let (mut runtime, snapshot) = base(dir, u64::MAX)?;
        let mut replayed = 0;
        let report = {
            let mut visit = replayer(&mut runtime, &mut replayed, u64::MAX);
            scan(&wal_dir(dir), snapshot, &mut visit)?
        };
        check_continuity(&report, snapshot)?;
        Ok(Recovered {
            state_hash: state_hash(&runtime)?,
            inputs: report.last_seq.max(snapshot),
            runtime,
            snapshot,
            replayed,
            wal: report,
        })
    }

    /// The state after input `n` (0: the empty runtime), rebuilt from the newest snapshot
    /// at or before `n` and the WAL.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the store holds fewer than `n` inputs or the records
    /// before `n` were pruned; otherwise as [`Store::recover_read_only`].
    pub fn replay_to(dir: &Path, n: u64) -> Result<Runtime, StoreError> {
        let (mut runtime, snapshot) = base(dir, n)?;
        let mut replayed = 0;
        let report = {
            let mut visit = replayer(&mut runtime, &mut replayed, n);
            scan(&wal_dir(dir), snapshot, &mut visit)?
        };
        check_continuity(&report, snapshot)?;
        if snapshot + replayed < n {
            return Err(StoreError::Unavailable(format!(
                "input {n} is past the end: the store holds {} inputs",
                report.last_seq.max(snapshot)
            )));
        }
        Ok(runtime)
    }

    /// The logged inputs numbered `from..=to` that the WAL still holds, in order.
    ///
    /// # Errors
    /// As [`scan`]; [`StoreError::Record`] for a record that does not decode.
    pub fn read_inputs(
        dir: &Path,
        from: u64,
        to: u64,
    ) -> Result<(Vec<(u64, RuntimeInput)>, WalReport), StoreError> {
        let mut out = Vec::new();
        let report = scan(
            &wal_dir(dir),
            from.saturating_sub(1),
            &mut |seq, payload| {
                if seq <= to {
                    let input = RuntimeInput::decode(payload).map_err(|e| StoreError::Record {
                        seq,
                        reason: e.to_string(),
                    })?;
                    out.push((seq, input));
                }
                Ok(())
            },
        )?;
        Ok((out, report))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Accepted inputs so far.
    pub fn inputs(&self) -> u64 {
        self.inputs
    }

    /// The inputs covered by the newest snapshot.
    pub fn last_snapshot(&self) -> u64 {
        self.last_snapshot
    }

    /// Logs an accepted input; returns its number. With the default sync policy it is on
    /// disk when this returns, so the input's outputs may be released.
    ///
    /// # Errors
    /// I/O errors: the input is then not durable and must not be acknowledged.
    pub fn log(&mut self, input: &RuntimeInput) -> Result<u64, StoreError> {
        let seq = self.wal.append(&input.encode())?;
        self.inputs = seq;
        Ok(seq)
    }

    /// Makes every logged input durable (group commit).
    ///
    /// # Errors
    /// I/O errors.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.wal.sync()
    }

    /// Takes a snapshot if `snapshot_every` inputs have passed since the last one.
    ///
    /// # Errors
    /// As [`Store::snapshot`].
    pub fn maybe_snapshot(&mut self, runtime: &Runtime) -> Result<Option<PathBuf>, StoreError> {
        match self.options.snapshot_every {
            Some(every) if self.inputs >= self.last_snapshot.saturating_add(every.max(1)) => {
                Ok(Some(self.snapshot(runtime)?.0))
            }
            _ => Ok(None),
        }
    }

    /// Writes a snapshot of `runtime` (which must be the state after every logged input)
    /// atomically, then starts a new WAL segment. Returns its path and the state hash.
    ///
    /// # Errors
    /// I/O errors.
    pub fn snapshot(&mut self, runtime: &Runtime) -> Result<(PathBuf, [u8; 32]), StoreError> {
        self.wal.sync()?;
        let (doc, hash) =
            snapshot_document(runtime, self.inputs).map_err(StoreError::Unavailable)?;
        let path = snapshot_path(&snapshot_dir(&self.dir), self.inputs);
        write_snapshot_atomically(&path, &doc)?;
        self.last_snapshot = self.inputs;
        self.wal.roll()?;
        Ok((path, hash))
    }

    /// Deletes the WAL segments and the older snapshots behind the newest snapshot.
    /// Afterwards, time travel reaches back only to that snapshot. Returns what was deleted.
    ///
    /// # Errors
    /// I/O errors.
    pub fn prune(&mut self) -> Result<Vec<PathBuf>, StoreError> {
        let mut deleted = Wal::prune(&wal_dir(&self.dir), self.last_snapshot)?;
        for (n, path) in snapshots(&self.dir)? {
            if n < self.last_snapshot {
                fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
                deleted.push(path);
            }
        }
        Ok(deleted)
    }
}

impl Recovered {
    /// The torn tail recovery truncated, if any.
    pub fn tail(&self) -> Option<&TailDamage> {
        self.wal.tail.as_ref()
    }
}
