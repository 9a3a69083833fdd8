//! `cargo bench --bench storage`: WAL appends/s with an fsync per record and with group
//! commit (64 records per fsync), and recovery time for a store of 1,000,000 records
//! (scan + checksum + decode + apply, and the raw scan alone). Records are small runtime
//! inputs (`run-ticks 1`: 33 payload bytes + 20 header bytes) in a temp directory; the
//! figures are medians via `xln::bench::measure`.

use std::path::PathBuf;

use xln::bench::measure;
use xln::runtime::RuntimeInput;
use xln::storage::{scan_wal, Store, StoreOptions, SyncPolicy, Wal};

const RECOVERY_RECORDS: u64 = 1_000_000;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xln-bench-storage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn open(dir: &std::path::Path, policy: SyncPolicy) -> Wal {
    Wal::open(dir, 1, 0, policy, &mut |_, _| Ok(()))
        .expect("a WAL in the temp dir")
        .0
}

fn main() {
    let payload = RuntimeInput::RunTicks { ticks: 1 }.encode();
    println!("record: {} payload bytes + 20 header bytes", payload.len());

    let dir = tmp("fsync");
    let mut wal = open(&dir, SyncPolicy::EveryRecord);
    measure("wal append, fsync per record", 5, 100, |_| {
        wal.append(&payload).expect("append")
    });
    drop(wal);
    let _ = std::fs::remove_dir_all(&dir);

    let dir = tmp("group");
    let mut wal = open(&dir, SyncPolicy::Group(64));
    measure("wal append, group commit of 64", 5, 6_400, |_| {
        wal.append(&payload).expect("append")
    });
    drop(wal);
    let _ = std::fs::remove_dir_all(&dir);

    let dir = tmp("recovery");
    let options = StoreOptions {
        sync: SyncPolicy::Group(4_096),
        snapshot_every: None,
    };
    let (mut store, _) = Store::open(&dir, options).expect("a store in the temp dir");
    let input = RuntimeInput::RunTicks { ticks: 1 };
    for _ in 0..RECOVERY_RECORDS {
        store.log(&input).expect("log");
    }
    store.flush().expect("flush");
    drop(store);
    let wal_dir = dir.join("wal");
    measure("scan 1,000,000 records (checksums only)", 3, 1, |_| {
        scan_wal(&wal_dir, 0, &mut |_, _| Ok(()))
            .expect("scan")
            .last_seq
    });
    let m = measure("recover 1,000,000 records (decode + apply)", 3, 1, |_| {
        let r = Store::recover_read_only(&dir).expect("recovery");
        assert_eq!(r.inputs, RECOVERY_RECORDS);
        assert_eq!(r.runtime.now(), RECOVERY_RECORDS);
        r.inputs
    });
    println!(
        "recovery: {:.0} records/s",
        RECOVERY_RECORDS as f64 / m.median_per_iteration.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
