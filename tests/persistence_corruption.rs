//! Persistence: snapshots restore exactly, recovery equals an uninterrupted run, and every
//! kind of damage is reported the way storage/ promises (torn WAL tail truncated, corrupt
//! middle refused with its offset, truncated or edited snapshots refused with the line).

use std::fs;
use std::path::{Path, PathBuf};

use num_bigint::BigInt;
use xln::entity::EntityTx;
use xln::runtime::{Behaviour, Runtime, RuntimeInput};
use xln::storage::{
    parse_snapshot, runtime_state_hash, runtime_to_value, snapshot_document, Store, StoreError,
    StoreOptions, RECORD_HEADER_BYTES, WAL_MAGIC,
};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xln-persist-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn pay(from: &str, to: &str, amount: u64) -> EntityTx {
    EntityTx::Payment {
        from: from.into(),
        to: to.into(),
        token: 1,
        amount: BigInt::from(amount),
    }
}

/// A small workload touching every kind of input.
fn workload() -> Vec<RuntimeInput> {
    let mut v = vec![
        RuntimeInput::Reset { seed: 11 },
        RuntimeInput::AddEntity {
            name: "hub".into(),
            validators: 4,
            threshold: 3,
            reserves: vec![("alice".into(), 1, BigInt::from(1_000))],
        },
        RuntimeInput::AddEntity {
            name: "shop".into(),
            validators: 1,
            threshold: 1,
            reserves: vec![],
        },
        RuntimeInput::SetNetwork {
            loss: (1, 10),
            duplicate: (1, 20),
            max_delay: 2,
            seed: 5,
        },
        RuntimeInput::SetBehaviour {
            entity: 0,
            replica: 3,
            behaviour: Behaviour::ReplayOld,
        },
    ];
    for i in 0..6 {
        v.push(RuntimeInput::Submit {
            entity: 0,
            tx: pay("alice", "bob", 10 + i),
        });
        v.push(RuntimeInput::RunTicks { ticks: 4 });
    }
    v.push(RuntimeInput::Submit {
        entity: 1,
        tx: EntityTx::Message {
            text: "line one\nline \"two\"".into(),
        },
    });
    v.push(RuntimeInput::HealNetwork);
    v.push(RuntimeInput::RunUntilQuiet { max_ticks: 500 });
    v
}

fn run(inputs: &[RuntimeInput]) -> Runtime {
    let mut rt = Runtime::new(0);
    for i in inputs {
        rt.apply(i).unwrap();
    }
    rt
}

fn hash(rt: &Runtime) -> [u8; 32] {
    runtime_state_hash(rt).unwrap()
}

fn no_snapshots() -> StoreOptions {
    StoreOptions {
        snapshot_every: None,
        ..StoreOptions::default()
    }
}

fn log_all(dir: &Path, inputs: &[RuntimeInput], options: StoreOptions) -> Runtime {
    let (mut store, rec) = Store::open(dir, options).unwrap();
    let mut rt = rec.runtime;
    for i in inputs {
        rt.apply(i).unwrap();
        store.log(i).unwrap();
        store.maybe_snapshot(&rt).unwrap();
    }
    rt
}

fn only_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

#[test]
fn a_snapshot_restores_the_runtime_exactly() {
    let inputs = workload();
    let rt = run(&inputs);
    let (doc, h) = snapshot_document(&rt, inputs.len() as u64).unwrap();
    assert_eq!(h, hash(&rt));
    assert!(doc.lines().count() > 50, "the document is pretty-printed");
    let snap = parse_snapshot(&doc, Path::new("mem")).unwrap();
    assert_eq!(snap.inputs, inputs.len() as u64);
    assert_eq!(hash(&snap.runtime), h);
    assert_eq!(runtime_to_value(&snap.runtime), runtime_to_value(&rt));
    // The restored runtime behaves identically from here on.
    let (mut a, mut b) = (rt, snap.runtime);
    let more = [
        RuntimeInput::Submit {
            entity: 0,
            tx: pay("alice", "carol", 7),
        },
        RuntimeInput::SetNetwork {
            loss: (1, 3),
            duplicate: (0, 1),
            max_delay: 3,
            seed: 1,
        },
        RuntimeInput::RunTicks { ticks: 30 },
    ];
    for i in &more {
        assert_eq!(a.apply(i).unwrap(), b.apply(i).unwrap());
    }
    assert_eq!(hash(&a), hash(&b));
}

#[test]
fn recovery_equals_an_uninterrupted_run_with_and_without_snapshots() {
    let inputs = workload();
    let clean = hash(&run(&inputs));
    for (name, every) in [("nosnap", None), ("snap", Some(4))] {
        let dir = tmp(name);
        let options = StoreOptions {
            snapshot_every: every,
            ..StoreOptions::default()
        };
        let half = inputs.len() / 2;
        drop(log_all(&dir, &inputs[..half], options));
        // "Crash": the runtime is gone; reopen and continue.
        let (mut store, rec) = Store::open(&dir, options).unwrap();
        assert_eq!(rec.inputs, half as u64);
        assert_eq!(rec.state_hash, hash(&run(&inputs[..half])));
        assert!(rec.tail().is_none());
        let mut rt = rec.runtime;
        for i in &inputs[half..] {
            rt.apply(i).unwrap();
            store.log(i).unwrap();
            store.maybe_snapshot(&rt).unwrap();
        }
        drop(store);
        let (_, rec) = Store::open(&dir, options).unwrap();
        assert_eq!(rec.state_hash, clean, "{name}");
        if every.is_some() {
            assert!(rec.snapshot > 0 && rec.replayed < inputs.len() as u64);
        }
        // Time travel: any input number.
        for n in [0, 1, 5, half as u64, inputs.len() as u64] {
            let past = Store::replay_to(&dir, n).unwrap();
            assert_eq!(
                hash(&past),
                hash(&run(&inputs[..n as usize])),
                "replay to {n}"
            );
        }
        assert!(matches!(
            Store::replay_to(&dir, inputs.len() as u64 + 1),
            Err(StoreError::Unavailable(_))
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn pruning_drops_what_the_snapshot_covers_and_keeps_recovery_exact() {
    let inputs = workload();
    let dir = tmp("prune");
    let rt = log_all(&dir, &inputs[..10], no_snapshots());
    let (mut store, _) = Store::open(&dir, no_snapshots()).unwrap();
    store.snapshot(&rt).unwrap();
    let mut rt = rt;
    for i in &inputs[10..] {
        rt.apply(i).unwrap();
        store.log(i).unwrap();
    }
    let deleted = store.prune().unwrap();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    drop(store);
    let (_, rec) = Store::open(&dir, no_snapshots()).unwrap();
    assert_eq!(rec.state_hash, hash(&run(&inputs)));
    assert_eq!(rec.snapshot, 10);
    assert!(matches!(
        Store::replay_to(&dir, 3),
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(
        hash(&Store::replay_to(&dir, 12).unwrap()),
        hash(&run(&inputs[..12]))
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_byte_in_the_tail_is_reported_and_truncated() {
    let inputs = workload();
    let dir = tmp("tail");
    log_all(&dir, &inputs, no_snapshots());
    let seg = only_segment(&dir);
    let mut bytes = fs::read(&seg).unwrap();
    let len = bytes.len();
    bytes[len - 2] ^= 0x40; // inside the last record's payload
    fs::write(&seg, &bytes).unwrap();

    let verify = Store::recover_read_only(&dir).unwrap();
    let tail = verify.tail().expect("reported");
    assert_eq!(tail.reason, "checksum mismatch");
    assert_eq!(fs::read(&seg).unwrap().len(), len, "verify changes nothing");

    let (_, rec) = Store::open(&dir, no_snapshots()).unwrap();
    let tail = rec.tail().expect("reported").clone();
    assert_eq!(rec.inputs, inputs.len() as u64 - 1);
    assert_eq!(rec.state_hash, hash(&run(&inputs[..inputs.len() - 1])));
    assert_eq!(fs::read(&seg).unwrap().len() as u64, tail.offset);
    let (_, again) = Store::open(&dir, no_snapshots()).unwrap();
    assert!(again.tail().is_none(), "truncated for good");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_write_is_truncated() {
    let inputs = workload();
    let dir = tmp("torn");
    log_all(&dir, &inputs, no_snapshots());
    let seg = only_segment(&dir);
    let bytes = fs::read(&seg).unwrap();
    for cut in [3usize, RECORD_HEADER_BYTES + 1] {
        fs::write(&seg, &bytes[..bytes.len() - cut]).unwrap();
        let rec = Store::recover_read_only(&dir).unwrap();
        assert_eq!(rec.inputs, inputs.len() as u64 - 1, "cut {cut}");
        assert!(rec.tail().is_some());
    }
    // A segment whose very header is torn.
    fs::write(&seg, &WAL_MAGIC[..3]).unwrap();
    let (mut store, rec) = Store::open(&dir, no_snapshots()).unwrap();
    assert_eq!(rec.inputs, 0);
    assert_eq!(rec.tail().unwrap().offset, 0);
    store.log(&inputs[0]).unwrap();
    drop(store);
    assert_eq!(Store::recover_read_only(&dir).unwrap().inputs, 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_byte_in_the_middle_is_an_error_naming_the_offset() {
    let inputs = workload();
    let dir = tmp("middle");
    log_all(&dir, &inputs, no_snapshots());
    let seg = only_segment(&dir);
    let original = fs::read(&seg).unwrap();
    // Offsets of the first three records.
    let mut offsets = vec![WAL_MAGIC.len()];
    for _ in 0..3 {
        let o = *offsets.last().unwrap();
        let len = u32::from_le_bytes(original[o + 8..o + 12].try_into().unwrap()) as usize;
        offsets.push(o + RECORD_HEADER_BYTES + len);
    }
    // A payload byte, the length field, and the sequence number of record 3.
    for (what, at) in [
        ("payload", offsets[2] + 21),
        ("length", offsets[2] + 9),
        ("seq", offsets[2] + 13),
    ] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        fs::write(&seg, &bytes).unwrap();
        for result in [
            Store::recover_read_only(&dir).map(|_| ()),
            Store::open(&dir, no_snapshots()).map(|_| ()),
        ] {
            match result {
                Err(StoreError::WalCorrupt { offset, seq, .. }) => {
                    assert_eq!((offset, seq), (offsets[2] as u64, 3), "{what}");
                }
                other => panic!("{what}: expected corruption, got {other:?}"),
            }
        }
        assert_eq!(fs::read(&seg).unwrap(), bytes, "{what}: nothing truncated");
        let msg = Store::recover_read_only(&dir).unwrap_err().to_string();
        assert!(msg.contains(&format!("offset {}", offsets[2])), "{msg}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

fn snapshot_text() -> String {
    let inputs = workload();
    snapshot_document(&run(&inputs), inputs.len() as u64)
        .unwrap()
        .0
}

fn snapshot_error(text: &str) -> (usize, String) {
    match parse_snapshot(text, Path::new("snap.sexp")) {
        Err(StoreError::Snapshot { line, reason, .. }) => (line, reason),
        Err(other) => panic!("expected a snapshot error, got {other}"),
        Ok(_) => panic!("a damaged snapshot was accepted"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
}

#[test]
fn a_truncated_snapshot_is_refused_with_the_line() {
    let text = snapshot_text();
    let lines: Vec<&str> = text.lines().collect();
    // Cut in the middle of the entity 0 section.
    let start = line_of(&text, "(section \"entity 0\"");
    let cut = lines[..start + 5].join("\n");
    let (line, reason) = snapshot_error(&cut);
    assert_eq!(line, start + 5, "{reason}");
    assert!(reason.contains("truncated"), "{reason}");
    // Cut cleanly between forms: the end is missing.
    let timeline = line_of(&text, "(section \"timeline\"");
    let (_, reason) = snapshot_error(&lines[..timeline - 1].join("\n"));
    assert!(
        reason.contains("truncated") && reason.contains("no (end"),
        "{reason}"
    );
    assert!(snapshot_error("").1.contains("empty"));
}

#[test]
fn a_hand_edited_snapshot_is_refused_with_the_line_of_the_section() {
    let text = snapshot_text();
    // Change the seed-derived tick in the runtime section.
    let runtime_line = line_of(&text, "(section \"runtime\"");
    let edited = text.replacen("(seed . 11)", "(seed . 12)", 1);
    assert_ne!(edited, text);
    let (line, reason) = snapshot_error(&edited);
    assert_eq!(line, runtime_line);
    assert!(reason.contains("\"runtime\" was edited"), "{reason}");
    // Change a height inside entity 0: the section's first line is named.
    let entity_line = line_of(&text, "(section \"entity 0\"");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let at = (entity_line..lines.len())
        .find(|i| lines[*i].contains("(height . "))
        .unwrap();
    lines[at] = lines[at].replacen("(height . ", "(height . 9", 1);
    let (line, reason) = snapshot_error(&lines.join("\n"));
    assert_eq!(line, entity_line, "{reason}");
    assert!(reason.contains("\"entity 0\" was edited"), "{reason}");
    // A broken form reports its own line.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[entity_line + 2] = format!("{} #<bad", lines[entity_line + 2]);
    let (line, reason) = snapshot_error(&lines.join("\n"));
    assert_eq!(line, entity_line + 3, "{reason}");
    // The header's state hash must match the sections.
    let head = line_of(&text, "(xln-snapshot");
    let h = text.lines().nth(head - 1).unwrap();
    let hex_at = h.find("0x").unwrap() + 2;
    let mut forged = h.to_string();
    let flipped = if &h[hex_at..hex_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    forged.replace_range(hex_at..hex_at + 1, flipped);
    let (line, _) = snapshot_error(&text.replacen(h, &forged, 1));
    assert!(line == head || line == text.lines().count(), "{line}");
    // Text at column 0 that is not a form.
    let (line, _) = snapshot_error(&text.replacen("\n ", "\nx", 1));
    assert!(line > head);
}
