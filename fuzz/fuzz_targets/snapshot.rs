//! Snapshot documents and the runtime state inside them. Two modes, by the first byte:
//! a whole document (`parse_snapshot`: if it is accepted, its state hash is the restored
//! runtime's, and writing the runtime again gives a document that parses back to the same
//! hash); or a bare state body (`value_to_runtime`, past the section hashes a mutated
//! document almost never gets by): a body that restores round-trips through
//! `runtime_to_value` to the same state hash.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use xln::storage::{
    parse_snapshot, runtime_state_hash, runtime_to_value, snapshot_document, value_to_runtime,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(snapshot) = parse_snapshot(text, Path::new("<fuzz>")) else {
            return;
        };
        let hash = runtime_state_hash(&snapshot.runtime).expect("a restored runtime hashes");
        assert_eq!(
            hash, snapshot.state_hash,
            "restored state differs from its header"
        );
        let (doc, doc_hash) = snapshot_document(&snapshot.runtime, snapshot.inputs).expect("write");
        assert_eq!(doc_hash, hash);
        let again =
            parse_snapshot(&doc, Path::new("<rewritten>")).expect("a written document parses");
        assert_eq!(again.state_hash, hash);
        assert_eq!(again.inputs, snapshot.inputs);
    } else {
        let Ok(value) = lexpr::from_str(text) else {
            return;
        };
        let Ok(runtime) = value_to_runtime(&value) else {
            return;
        };
        let hash = runtime_state_hash(&runtime).expect("a restored runtime hashes");
        let value2 = runtime_to_value(&runtime).expect("serializes");
        let runtime2 = value_to_runtime(&value2).expect("its own form restores");
        assert_eq!(
            runtime_state_hash(&runtime2).expect("hash"),
            hash,
            "body does not round-trip"
        );
    }
});
