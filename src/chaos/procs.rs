//! The node processes of a chaos run: kill -9, restart from the node's own files, stop,
//! and the torn WAL tail a crash in the middle of an append leaves (written here into a
//! killed node's last segment before it restarts, then checked: recovery must truncate
//! exactly those bytes).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::crypto::keccak256;
use crate::node::net::{running_pid, spawn_node, wait_for};
use crate::runtime::SplitMix64;
use crate::storage::{scan_wal, RECORD_HEADER_BYTES, WAL_MAGIC};

/// How long a restarted node may take to answer (recovery replays its WAL).
pub const RESTART_WAIT: Duration = Duration::from_secs(120);

/// Reaps `pid` if it is a child of this process (a killed child stays a zombie, and a
/// zombie still answers `kill(pid, 0)`, until it is waited for). Bounded by `within`.
fn reap(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let mut status = 0;
        // SAFETY: waitpid on one pid with WNOHANG only reads its exit status.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid || r == -1 {
            return true; // reaped, or not our child (then init reaps it)
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// kill -9 of the node in `node_dir`. Returns its pid, or None if it was not running.
pub fn kill9(node_dir: &Path) -> Option<i32> {
    let pid = running_pid(node_dir)?;
    // SAFETY: a signal to the process id this run's node recorded in its data directory.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap(pid, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while running_pid(node_dir).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(pid)
}

/// Stops the node in `node_dir` (SIGTERM, then SIGKILL after 10 s) and reaps it.
pub fn stop(node_dir: &Path) {
    let Some(pid) = running_pid(node_dir) else {
        return;
    };
    // SAFETY: as in kill9.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    if !reap(pid, Duration::from_secs(10)) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        reap(pid, Duration::from_secs(10));
    }
    let _ = std::fs::remove_file(node_dir.join("data").join("node.pid"));
}

/// The state hash the node of `node_dir` logged as it last stopped on SIGTERM (its
/// `node stopped` line in `node.log`), if it did.
pub fn stopped_hash(node_dir: &Path) -> Option<String> {
    let log = std::fs::read_to_string(node_dir.join("node.log")).ok()?;
    // Only a stop after the latest start counts (a start line begins `xln node NAME:`).
    let line = log
        .lines()
        .rev()
        .take_while(|l| !l.starts_with("xln node "))
        .find(|l| l.contains("node stopped"))?;
    let at = line.find("state_hash=")? + "state_hash=".len();
    let hash: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == 'x')
        .collect();
    Some(hash)
}

/// Starts the node of `node_dir` again (`xln node node.xln`) and waits until it answers.
///
/// # Errors
/// It cannot be started or does not answer within [`RESTART_WAIT`].
pub fn restart(exe: &Path, node_dir: &Path, rpc_url: &str) -> Result<(), String> {
    let config = node_dir.join("node.xln");
    // The child handle is dropped: the process is found again by its pid file, reaped by
    // kill9/stop.
    let _child = spawn_node(exe, &config)?;
    wait_for(rpc_url, RESTART_WAIT).map(|_| ())
}

/// The newest segment of a WAL directory.
fn last_segment(wal: &Path) -> Option<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(wal)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    segments.sort();
    segments.pop()
}

/// One record framed as the WAL frames it (see `storage::wal`: check ‖ len ‖ seq ‖ payload).
fn frame(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    let check = keccak256(&out[8..]);
    out[..8].copy_from_slice(&check[..8]);
    out
}

/// What a torn tail wrote.
#[derive(Clone, Debug)]
pub struct TornTail {
    /// Bytes appended to the last segment.
    pub bytes: u64,
    /// How the record was torn.
    pub how: &'static str,
}

/// Appends to the last WAL segment of a stopped node the torn remains of the record it
/// would have written next (the next sequence number, a copy of its last record's
/// payload): either cut short (a write that stopped part-way, possibly inside the header)
/// or complete with its last byte changed (a torn sector). Nothing was fsync'd or
/// acknowledged for it, so recovery must truncate exactly these bytes and lose nothing.
///
/// # Errors
/// The node is running, or its WAL cannot be read or written.
pub fn tear_wal_tail(node_dir: &Path, rng: &mut SplitMix64) -> Result<TornTail, String> {
    if running_pid(node_dir).is_some() {
        return Err("tearing the WAL of a running node".into());
    }
    let wal = node_dir.join("data").join("wal");
    let segment = last_segment(&wal).ok_or_else(|| format!("{}: no segment", wal.display()))?;
    let mut last: Option<(u64, Vec<u8>)> = None;
    let report = scan_wal(&wal, 0, &mut |seq, payload| {
        last = Some((seq, payload.to_vec()));
        Ok(())
    })
    .map_err(|e| format!("{}: {e}", wal.display()))?;
    if let Some(tail) = report.tail {
        // The kill itself tore the last write (a write(2) cut between its pieces): that
        // is the torn tail recovery must truncate.
        return Ok(TornTail {
            bytes: tail.bytes,
            how: "torn by the kill itself",
        });
    }
    let seq = report.last_seq + 1;
    let payload = match last {
        Some((_, p)) if !p.is_empty() => p,
        // The segment began after a snapshot and holds no record yet: any payload will do,
        // the record is torn either way.
        _ => (0..64).map(|_| rng.next_u64() as u8).collect(),
    };
    let mut record = frame(seq, &payload);
    let how = if rng.chance((1, 3)) {
        let last = record.len() - 1;
        record[last] ^= 0x5a;
        "complete, last byte changed"
    } else {
        let keep = 1 + rng.below(record.len() as u64 - 1) as usize;
        record.truncate(keep);
        if keep < RECORD_HEADER_BYTES {
            "cut inside the header"
        } else {
            "cut inside the payload"
        }
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .map_err(|e| format!("{}: {e}", segment.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("{}: {e}", segment.display()))?
        .len();
    if len < WAL_MAGIC.len() as u64 {
        return Err(format!("{}: shorter than its magic", segment.display()));
    }
    file.write_all(&record)
        .and_then(|_| file.sync_data())
        .map_err(|e| format!("{}: {e}", segment.display()))?;
    Ok(TornTail {
        bytes: record.len() as u64,
        how,
    })
}

/// The torn tail a stopped node's WAL has now (0: none): a kill can land between the
/// pieces of one write(2), leaving part of a never-acknowledged batch.
///
/// # Errors
/// The WAL cannot be read, or has damage that is not a torn tail.
pub fn torn_now(node_dir: &Path) -> Result<u64, String> {
    let wal = node_dir.join("data").join("wal");
    let report =
        scan_wal(&wal, 0, &mut |_, _| Ok(())).map_err(|e| format!("{}: {e}", wal.display()))?;
    Ok(report.tail.map_or(0, |t| t.bytes))
}

/// The torn-tail bytes the node's latest start-up line (in `node.log`) says recovery
/// truncated: `Some(0)` for a start without one, None while the line is not there yet.
pub fn truncated_on_start(node_dir: &Path, name: &str, starts_before: usize) -> Option<u64> {
    let log = std::fs::read_to_string(node_dir.join("node.log")).ok()?;
    let marker = format!("xln node {name}: peers on");
    let starts: Vec<&str> = log.lines().filter(|l| l.starts_with(&marker)).collect();
    if starts.len() <= starts_before {
        return None;
    }
    let line = starts.last()?;
    let Some(at) = line.find("torn tail of ") else {
        return Some(0);
    };
    line[at + "torn tail of ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
}

/// How many times the node of `node_dir` has started (its start-up lines in `node.log`).
pub fn starts(node_dir: &Path, name: &str) -> usize {
    let marker = format!("xln node {name}: peers on");
    std::fs::read_to_string(node_dir.join("node.log"))
        .map(|l| l.lines().filter(|l| l.starts_with(&marker)).count())
        .unwrap_or(0)
}
