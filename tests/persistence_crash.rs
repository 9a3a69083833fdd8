//! Crash test: a child `xln run tests/fixtures/workload.xln --store DIR` is killed with
//! SIGKILL at seeded random points of its progress and restarted, again and again. A kill
//! point is a number of logged records drawn from the seed: the test watches the WAL grow
//! (a read-only scan) and kills once the child has logged that many, or (one kill in
//! eight) at once, while it is still recovering and re-checking its log. So a kill means
//! the same on a fast idle machine and a slow loaded one; no wall-clock guess is involved. After every kill the
//! store must recover, hold exactly a prefix of the inputs a clean run logs (nothing lost,
//! nothing applied twice), and its state hash must equal the clean run's after the same
//! number of inputs. The restarted child itself checks that re-running the script
//! reproduces the logged inputs and the recovered state hash before it logs anything new.
//!
//! `XLN_CRASH_SEED` varies the kill times, `XLN_CRASH_KILLS` the number of kills (default
//! 50). Every failure prints the seed and how to rerun it.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xln::runtime::{Runtime, RuntimeInput, SplitMix64};
use xln::storage::{runtime_state_hash, scan_wal, Store};

/// A guard against a hung child only (never reached by a healthy run, however slow).
const CHILD_HANG_MAX: Duration = Duration::from_secs(600);

const ROUNDS: &str = "20";
const SNAPSHOT_EVERY: &str = "16";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn workload() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workload.xln")
}

fn child(dir: &Path, log: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xln"));
    c.arg("run")
        .arg(workload())
        .arg("--store")
        .arg(dir)
        .arg("--snapshot-every")
        .arg(SNAPSHOT_EVERY)
        .arg(ROUNDS)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("a log file in the temp dir"));
    c
}

/// Records in the store's WAL now (a read-only scan; a record being written is a torn
/// tail and not counted; 0 before the log exists).
fn logged_records(dir: &Path) -> u64 {
    scan_wal(&dir.join("wal"), 0, &mut |_, _| Ok(())).map_or(0, |r| r.last_seq)
}

/// The WAL's total size in bytes: a cheap signal that a record may have been added.
fn wal_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("wal")).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

/// Waits until the child has logged `target` records (then kills it with SIGKILL, at once
/// if `target` is `None`) or has exited by itself. Returns its exit status, and whether
/// the signal was sent (a child may still finish just before the signal lands). The WAL
/// is rescanned only when it grew.
fn kill_at_record(
    proc: &mut Child,
    dir: &Path,
    target: Option<u64>,
) -> (std::process::ExitStatus, bool) {
    let started = Instant::now();
    let mut seen_bytes = u64::MAX;
    loop {
        if let Some(status) = proc.try_wait().expect("child status") {
            return (status, false);
        }
        let reached = match target {
            None => true,
            Some(t) => {
                let bytes = wal_bytes(dir);
                let grew = bytes != seen_bytes;
                seen_bytes = bytes;
                grew && logged_records(dir) >= t
            }
        };
        if reached {
            proc.kill().expect("SIGKILL the child");
            return (proc.wait().expect("child status"), true);
        }
        assert!(
            started.elapsed() < CHILD_HANG_MAX,
            "the child ran for over {CHILD_HANG_MAX:?} without reaching its kill point: hung"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xln-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// On a thread with the CLI's large stack, as `xln run` runs: the test replays and
/// recovers runtimes in process, and their inputs run subcontracts in the sandbox's
/// interpreter (the default 2 MiB test thread is too small for it in a debug build).
#[test]
fn sigkill_at_random_moments_loses_nothing_and_duplicates_nothing() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(crash_test)
        .expect("test thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn crash_test() {
    let seed = env_u64("XLN_CRASH_SEED", 7);
    let kills = env_u64("XLN_CRASH_KILLS", 50);
    let rerun = format!("rerun with XLN_CRASH_SEED={seed} XLN_CRASH_KILLS={kills} cargo test --test persistence_crash");
    let root = tmp("root");
    std::fs::create_dir_all(&root).unwrap();
    let log = root.join("child.log");

    // The clean run: its inputs, and the state hash after every prefix of them.
    let clean_dir = root.join("clean");
    let started = Instant::now();
    let status = child(&clean_dir, &log).status().unwrap();
    let full_run = started.elapsed(); // reported only
    assert!(
        status.success(),
        "clean run failed: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let total = Store::recover_read_only(&clean_dir).unwrap().inputs;
    let (clean, _) = Store::read_inputs(&clean_dir, 1, total).unwrap();
    let clean: Vec<RuntimeInput> = clean.into_iter().map(|(_, i)| i).collect();
    assert_eq!(clean.len() as u64, total);
    let mut rt = Runtime::new(0);
    let mut hashes = vec![runtime_state_hash(&rt).unwrap()];
    for input in &clean {
        rt.apply(input).unwrap();
        hashes.push(runtime_state_hash(&rt).unwrap());
    }

    // Kill, recover, compare, restart.
    let mut rng = SplitMix64::new(seed);
    let dir = root.join("crashing");
    let (mut previous, mut completed, mut mid_run) = (0u64, 0u32, 0u32);
    for kill in 0..kills {
        // The restarted child re-checks `previous` inputs, then logs the rest: kill it once
        // it has logged a record drawn from those it has left (or at once, 1 in 8).
        let target = (rng.below(8) != 0).then(|| previous + 1 + rng.below(total - previous));
        let mut proc = child(&dir, &log).spawn().unwrap();
        let (status, signalled) = kill_at_record(&mut proc, &dir, target);
        // Killed, or it finished just before the signal landed: both are fine.
        let killed = signalled && !status.success();
        assert!(
            killed || status.success(),
            "kill {kill}: the child failed on its own: {}\n{rerun}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let rec = Store::recover_read_only(&dir)
            .unwrap_or_else(|e| panic!("kill {kill}: recovery failed: {e}\n{rerun}"));
        let n = rec.inputs;
        assert!(
            n <= total,
            "kill {kill}: {n} inputs, more than the clean run's {total}\n{rerun}"
        );
        assert!(
            n >= previous,
            "kill {kill}: {n} inputs after {previous}: accepted inputs were lost\n{rerun}"
        );
        let (logged, _) = Store::read_inputs(&dir, 1, n).unwrap();
        let logged: Vec<RuntimeInput> = logged.into_iter().map(|(_, i)| i).collect();
        let oldest = n - logged.len() as u64; // inputs before it were pruned (never, here)
        assert_eq!(
            &logged[..],
            &clean[oldest as usize..n as usize],
            "kill {kill}: the log is not the clean run's inputs (lost or duplicated)\n{rerun}"
        );
        assert_eq!(
            rec.state_hash, hashes[n as usize],
            "kill {kill}: state hash after {n} inputs differs from the clean run\n{rerun}"
        );
        if let Some(t) = target.filter(|_| killed) {
            assert!(
                n >= t,
                "kill {kill}: killed after record {t} was logged, yet {n} recovered\n{rerun}"
            );
        }
        previous = n;
        if n == total {
            completed += 1;
            std::fs::remove_dir_all(&dir).unwrap();
            previous = 0;
        } else if killed {
            mid_run += 1;
        }
    }
    eprintln!(
        "crash test: seed {seed}, {kills} kills ({mid_run} mid-run), {completed} runs completed, {total} inputs per run, clean run {full_run:?}"
    );
    assert!(
        mid_run >= kills as u32 / 2,
        "too few kills landed mid-run ({mid_run}); {rerun}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
