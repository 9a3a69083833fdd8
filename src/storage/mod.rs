//! Persistence of the runtime: nothing a replica accepted is lost, and any past state can
//! be rebuilt. Adapters at the edge: the runtime stays pure; this layer owns the disk.
//!
//! | file | owns |
//! |---|---|
//! | `wal.rs` | the write-ahead log: segment files, record framing, fsync and group commit, torn-tail vs corruption |
//! | `sexpr.rs` | the pretty printer that makes snapshot documents readable (and line-addressable) |
//! | `snapshot.rs` | snapshot documents: sections with hashes, atomic write, strict read, the runtime state hash |
//! | `store.rs` | [`Store`]: a directory of WAL + snapshots; recovery, logging, periodic snapshots, pruning, time travel |
//! | `history.rs` | [`entity_history`]: an entity's committed heights and the inputs that committed them |
//! | `diff.rs` | [`state_diff`]: a readable structural diff of two runtime states |
//!
//! # Layout of a store directory
//!
//! ```text
//! DIR/wal/00000000000000000001.wal        segments, named by their first sequence number
//! DIR/snapshots/00000000000000000120.sexp snapshots, named by the inputs they cover
//! ```
//!
//! The WAL holds one record per accepted [`RuntimeInput`](crate::runtime::RuntimeInput),
//! numbered 1, 2, 3, ... with no gap for the life of the store. A snapshot named `N` is
//! the state after inputs `1..=N`; recovery loads the newest readable snapshot and replays
//! the records after it. See each file for its format and failure cases.

mod diff;
mod history;
mod sexpr;
mod snapshot;
mod store;
mod wal;

pub use diff::{state_diff, DiffEntry};
pub use history::{entity_history, HistoryEntry};
pub use snapshot::{
    parse_snapshot, read_snapshot, runtime_state_hash, runtime_to_value, snapshot_document,
    value_to_runtime, write_snapshot_atomically, Snapshot, SNAPSHOT_FORMAT,
};
pub use store::{snapshots, Recovered, Store, StoreOptions};
pub use wal::{
    scan as scan_wal, SegmentInfo, SyncPolicy, TailDamage, Wal, WalReport, RECORD_BYTES_MAX,
    RECORD_HEADER_BYTES, WAL_MAGIC,
};

use std::path::{Path, PathBuf};

/// The single error type of the storage layer. Every variant names the file and, where
/// there is one, the offset or line, and says what is wrong. Persisted files are never
/// changed on an error, except the documented truncation of a torn WAL tail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The operating system refused a file operation.
    #[error("{path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// A WAL record that is damaged while valid records follow it: not a torn tail, so it
    /// is never skipped or truncated. Restore the segment from a backup, or copy the
    /// records before `offset` out with `xln wal inspect`.
    #[error("{segment}: corrupt WAL record at offset {offset} (expected record {seq}): {reason}; valid records follow, so this is not a torn tail and nothing was truncated")]
    WalCorrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the damaged record in the segment.
        offset: u64,
        /// The sequence number expected there.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A snapshot document that is truncated, unparsable or edited.
    #[error("{path}:{line}: {reason}")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// The 1-based line of the problem (the section's first line for a hash mismatch).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A logged record that does not decode or apply.
    #[error("WAL record {seq}: {reason}")]
    Record {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A request the store cannot answer (an input number past the end, or pruned).
    #[error("{0}")]
    Unavailable(String),
}

pub(crate) fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// fsyncs a directory, so a file created or renamed in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

/// `0x` hex of a hash, for reports.
pub fn hex32(h: &[u8; 32]) -> String {
    crate::crypto::readable::to_hex(h)
}
