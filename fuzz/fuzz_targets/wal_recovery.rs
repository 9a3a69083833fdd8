//! WAL recovery of an arbitrary directory image. A log of fuzz-chosen records (rolled into
//! several segments) is written with `Wal`, then damaged: a torn tail (the last segment cut
//! anywhere), a flipped byte anywhere, garbage appended, or segments replaced by raw bytes.
//! Properties: recovery never panics; whatever it returns is an exact prefix of what was
//! written (no record altered, none invented); a cut tail is always recovered (never
//! "corrupt"), keeping every record that lies wholly before the cut; damage never costs a
//! record before it; after `Wal::open` truncates a torn tail the log appends and rescans
//! to the same prefix plus the new record.
//!
//! A second mode (first byte odd) takes the rest of the input as the bytes of one segment
//! file (seeded with real segments from `xln run --store`): an independent reader of the
//! format finds the clean prefix (valid, consecutively numbered records from the start);
//! recovery returns exactly that prefix, or refuses the log as corrupt, and never anything
//! else.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use xln::crypto::keccak256;
use xln::storage::{scan_wal, StoreError, SyncPolicy, Wal, WAL_MAGIC};
use xln_fuzz::ScratchDir;

#[derive(Arbitrary, Debug)]
enum Damage {
    None,
    /// Cut the last segment to this many bytes (modulo its length + 1).
    Truncate(u32),
    /// XOR `mask` (made non-zero) into the byte at this offset of all segments' bytes.
    Flip(u32, u8),
    /// Append these bytes to the last segment.
    Append(Vec<u8>),
    /// Replace the directory with segments (name seq, bytes).
    Raw(Vec<(u8, Vec<u8>)>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<Vec<u8>>,
    /// Roll to a new segment after record i when bit i % 64 is set.
    rolls: u64,
    damage: Damage,
}

/// The segment files, oldest first.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

/// (file index, end offset) of every record, in order, from the clean files.
fn record_ends(files: &[PathBuf]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let bytes = fs::read(f).expect("read segment");
        let mut off = WAL_MAGIC.len();
        while off + 20 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().expect("4")) as usize;
            off += 20 + len;
            out.push((i, off));
        }
    }
    out
}

fn scan(dir: &Path) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let mut got = Vec::new();
    scan_wal(dir, 0, &mut |seq, payload| {
        got.push((seq, payload.to_vec()));
        Ok(())
    })?;
    Ok(got)
}

fn assert_prefix(got: &[(u64, Vec<u8>)], written: &[Vec<u8>], at_least: usize, what: &str) {
    assert!(
        got.len() <= written.len(),
        "{what}: recovered more records than written"
    );
    for (i, (seq, payload)) in got.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "{what}: record numbers");
        assert_eq!(payload, &written[i], "{what}: record {seq} altered");
    }
    assert!(
        got.len() >= at_least,
        "{what}: lost records: {} recovered, {at_least} lie wholly before the damage",
        got.len()
    );
}

/// Opens the log (truncating a torn tail), appends one record, and checks the rescan.
fn reopen_and_append(dir: &Path, before: &[(u64, Vec<u8>)]) {
    let (mut wal, _) = Wal::open(dir, 1, 0, SyncPolicy::EveryRecord, &mut |_, _| Ok(()))
        .expect("a log that scans also opens");
    assert_eq!(wal.next_seq(), before.len() as u64 + 1);
    wal.append(b"after recovery")
        .expect("append after recovery");
    drop(wal);
    let again = scan(dir).expect("rescan after recovery");
    assert_eq!(
        &again[..before.len()],
        before,
        "recovery changed the records"
    );
    assert_eq!(again.len(), before.len() + 1);
    assert_eq!(again[before.len()].1, b"after recovery");
}

/// The clean prefix of one segment starting at record 1, read independently of
/// `storage::wal`: (payloads, whether bytes remain after it).
fn clean_prefix(bytes: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    if bytes.len() < WAL_MAGIC.len() || &bytes[..WAL_MAGIC.len()] != WAL_MAGIC {
        return (out, !bytes.is_empty());
    }
    let mut off = WAL_MAGIC.len();
    while bytes.len() >= off + 20 {
        let len = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().expect("4")) as usize;
        let seq = u64::from_le_bytes(bytes[off + 12..off + 20].try_into().expect("8"));
        let Some(payload) = bytes.get(off + 20..off + 20 + len) else {
            break;
        };
        if keccak256(&bytes[off + 8..off + 20 + len])[..8] != bytes[off..off + 8]
            || seq != out.len() as u64 + 1
        {
            break;
        }
        out.push(payload.to_vec());
        off += 20 + len;
    }
    (out, off < bytes.len())
}

fn raw_segment(bytes: &[u8]) {
    let scratch = ScratchDir::new("walraw");
    let dir = scratch.path();
    fs::write(dir.join(format!("{:020}.wal", 1)), bytes).expect("write segment");
    let (prefix, _) = clean_prefix(bytes);
    match scan(dir) {
        Ok(got) => {
            assert_prefix(&got, &prefix, prefix.len(), "raw segment");
            assert_eq!(
                got.len(),
                prefix.len(),
                "raw segment: recovered records beyond the clean prefix"
            );
            reopen_and_append(dir, &got);
        }
        Err(StoreError::WalCorrupt { .. }) => {
            let opened = Wal::open(dir, 1, 0, SyncPolicy::EveryRecord, &mut |_, _| Ok(()));
            assert!(opened.is_err(), "a log refused by scan was opened");
            assert_eq!(
                fs::read(dir.join(format!("{:020}.wal", 1))).expect("read"),
                bytes,
                "a refused log was changed"
            );
        }
        Err(e) => panic!("raw segment: unexpected error {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => raw_segment(rest),
        Some((_, rest)) => {
            if let Ok(input) = Input::arbitrary_take_rest(arbitrary::Unstructured::new(rest)) {
                structured(input);
            }
        }
        None => {}
    }
});

fn structured(input: Input) {
    let scratch = ScratchDir::new("wal");
    let dir = scratch.path();
    let written: Vec<Vec<u8>> = input
        .records
        .iter()
        .take(48)
        .map(|r| r[..r.len().min(300)].to_vec())
        .collect();
    {
        let (mut wal, _) = Wal::open(dir, 1, 0, SyncPolicy::Group(1 << 20), &mut |_, _| Ok(()))
            .expect("open an empty log");
        for (i, r) in written.iter().enumerate() {
            wal.append(r).expect("append");
            if input.rolls >> (i % 64) & 1 == 1 {
                wal.roll().expect("roll");
            }
        }
        wal.sync().expect("sync");
    }
    let files = segment_files(dir);
    let ends = record_ends(&files);
    assert_eq!(ends.len(), written.len(), "the clean log has every record");
    let last = files.len() - 1;
    match input.damage {
        Damage::None => {
            let got = scan(dir).expect("a clean log scans");
            assert_prefix(&got, &written, written.len(), "clean");
        }
        Damage::Truncate(cut) => {
            let bytes = fs::read(&files[last]).expect("read");
            let cut = cut as usize % (bytes.len() + 1);
            fs::write(&files[last], &bytes[..cut]).expect("cut");
            let kept = ends
                .iter()
                .filter(|(f, end)| *f < last || *end <= cut)
                .count();
            let got = scan(dir).expect("a torn tail is recovered, never corruption");
            assert_prefix(&got, &written, kept, "torn tail");
            assert_eq!(got.len(), kept, "torn tail: records past the cut");
            reopen_and_append(dir, &got);
        }
        Damage::Flip(at, mask) => {
            let sizes: Vec<usize> = files
                .iter()
                .map(|f| fs::metadata(f).expect("size").len() as usize)
                .collect();
            let total: usize = sizes.iter().sum();
            let mut at = at as usize % total.max(1);
            let mut file = 0;
            while at >= sizes[file] {
                at -= sizes[file];
                file += 1;
            }
            let mut bytes = fs::read(&files[file]).expect("read");
            bytes[at] ^= mask.max(1);
            fs::write(&files[file], &bytes).expect("flip");
            // Records that end at or before the flipped byte are intact.
            let intact = ends
                .iter()
                .take_while(|(f, end)| *f < file || (*f == file && *end <= at))
                .count();
            match scan(dir) {
                Ok(got) => {
                    assert_prefix(&got, &written, intact, "flipped byte");
                    reopen_and_append(dir, &got);
                }
                Err(StoreError::WalCorrupt { .. }) => {}
                Err(e) => panic!("flipped byte: unexpected error {e}"),
            }
        }
        Damage::Append(garbage) => {
            let mut bytes = fs::read(&files[last]).expect("read");
            bytes.extend_from_slice(&garbage[..garbage.len().min(600)]);
            fs::write(&files[last], &bytes).expect("append garbage");
            match scan(dir) {
                Ok(got) => {
                    assert_prefix(&got, &written, written.len(), "garbage tail");
                    reopen_and_append(dir, &got[..written.len().min(got.len())]);
                }
                Err(StoreError::WalCorrupt { .. }) => {}
                Err(e) => panic!("garbage tail: unexpected error {e}"),
            }
        }
        Damage::Raw(segments) => {
            for f in &files {
                fs::remove_file(f).expect("remove");
            }
            for (seq, bytes) in segments.iter().take(4) {
                let name = dir.join(format!("{:020}.wal", u64::from(*seq) + 1));
                fs::write(name, &bytes[..bytes.len().min(2000)]).expect("write raw segment");
            }
            if let Ok(got) = scan(dir) {
                for pair in got.windows(2) {
                    assert_eq!(pair[1].0, pair[0].0 + 1, "raw image: a gap was accepted");
                }
                let (mut wal, _) =
                    Wal::open(dir, 1, 0, SyncPolicy::EveryRecord, &mut |_, _| Ok(()))
                        .expect("a raw image that scans also opens");
                wal.append(b"after").expect("append");
                drop(wal);
                let again = scan(dir).expect("rescan");
                assert_eq!(
                    &again[..got.len()],
                    got.as_slice(),
                    "raw image: recovery changed records"
                );
                assert_eq!(again.len(), got.len() + 1);
            }
        }
    }
}
