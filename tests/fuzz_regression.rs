//! The fuzz targets' committed seed corpora (`fuzz/seeds/<target>/`) and the regression
//! tests of what the fuzzers found (see the README's "Fuzzing" section).
//!
//! Seeds are real encodings made by the current code: runtime inputs and their RLP,
//! snapshot documents and bodies, WAL segments (clean and torn), small valid gossip maps,
//! an RPC receipt. `committed_seeds_are_current` regenerates them in memory and checks that
//! each committed file is byte-identical and still accepted by its decoder, so a format
//! change that leaves the corpora stale fails here. To rewrite them after such a change:
//! `XLN_WRITE_FUZZ_SEEDS=1 cargo test --test fuzz_regression`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use num_bigint::BigInt;
use xln::crypto::{tagged, RlpItem};
use xln::entity::{EntityConfig, EntityTx, Holder};
use xln::routing::parse_gossmap;
use xln::runtime::{Behaviour, Runtime, RuntimeInput};
use xln::storage::{
    parse_snapshot, runtime_to_value, scan_wal, snapshot_document, value_to_runtime, SyncPolicy,
    Wal,
};

fn seeds_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds"))
}

/// A small, real history: two entities, a network model, payments, an account.
fn sample_inputs() -> Vec<RuntimeInput> {
    let reserves = vec![
        (Holder::from("alice"), 1, BigInt::from(100)),
        (Holder::from("bob"), 1, BigInt::from(50)),
    ];
    let mut inputs = vec![
        RuntimeInput::Reset { seed: 42 },
        RuntimeInput::SetEntityConfig(EntityConfig::default()),
        RuntimeInput::AddEntity {
            name: "hub".into(),
            validators: 4,
            threshold: 3,
            reserves,
        },
        RuntimeInput::AddEntity {
            name: "shop".into(),
            validators: 1,
            threshold: 1,
            reserves: Vec::new(),
        },
        RuntimeInput::SetNetwork {
            loss: (1, 20),
            duplicate: (1, 50),
            max_delay: 2,
            seed: 3,
        },
        RuntimeInput::Submit {
            entity: 0,
            tx: EntityTx::Payment {
                from: "alice".into(),
                to: "bob".into(),
                token: 1,
                amount: BigInt::from(7),
            },
        },
        RuntimeInput::SubmitTo {
            entity: 0,
            replica: 2,
            tx: EntityTx::Message {
                text: "hello".into(),
            },
        },
        RuntimeInput::SetBehaviour {
            entity: 0,
            replica: 3,
            behaviour: Behaviour::Silent,
        },
        RuntimeInput::RunTicks { ticks: 5 },
        RuntimeInput::HealNetwork,
        RuntimeInput::RunUntilQuiet { max_ticks: 500 },
    ];
    let mut rt = Runtime::new(42);
    for input in &inputs[..4] {
        rt.apply(input).expect("sample input applies");
    }
    let shop = rt.entity_id(1).expect("shop");
    let board = rt.genesis_board(1).expect("board").clone();
    inputs.push(RuntimeInput::Submit {
        entity: 0,
        tx: EntityTx::OpenAccount {
            peer: shop,
            peer_board: board,
        },
    });
    inputs.push(RuntimeInput::Submit {
        entity: 0,
        tx: EntityTx::Account {
            peer: shop,
            tx: xln::account::AccountTx::Pay {
                token: 1,
                amount: BigInt::from(3),
            },
        },
    });
    inputs
}

/// BOLT #1 bigsize, minimal.
fn bigsize(v: u64, out: &mut Vec<u8>) {
    match v {
        0..=0xfc => out.push(v as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend((v as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend((v as u32).to_be_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend(v.to_be_bytes());
        }
    }
}

/// A valid gossip map of `channels` (start, end, capacity sat) with per-direction values
/// drawn from `k`, sharing templates the way Core Lightning's files do.
fn gossmap(channels: &[(u64, u64, u64)], k: u64) -> Vec<u8> {
    let mut out = xln::routing::lightning::GOSSMAP_HEADER.to_vec();
    let n = channels.len() as u64;
    bigsize(n, &mut out);
    for (s, _, _) in channels {
        bigsize(*s, &mut out);
    }
    for (_, e, _) in channels {
        bigsize(*e, &mut out);
    }
    bigsize(1, &mut out); // direction 1 disabled
    bigsize(2 * n, &mut out); // end of the disabled list
    let section = |out: &mut Vec<u8>, values: &[u64], items: u64| {
        bigsize(values.len() as u64, out);
        for v in values {
            bigsize(*v, out);
        }
        for i in 0..items {
            bigsize(i % values.len() as u64, out);
        }
    };
    let caps: Vec<u64> = channels.iter().map(|c| c.2).collect();
    section(&mut out, &caps, n);
    section(&mut out, &[0, 1000 * k], 2 * n); // htlc minimums
    section(&mut out, &[0, 1, 5_000_000], 2 * n); // htlc maximums (0 = capacity, 1 = 99%)
    section(&mut out, &[1000, 0], 2 * n); // base fees
    section(&mut out, &[1, 100 * k], 2 * n); // ppm
    section(&mut out, &[6, 144, 40], 2 * n); // cltv deltas
    out
}

/// A receipt as anvil returns it for a deposit (one `Depository.ReserveUpdated` log, whose
/// signature hash replaces `RESERVE_UPDATED`).
const RECEIPT_JSON: &str = r#"{"type":"0x2","status":"0x1","cumulativeGasUsed":"0xb3b0","logs":[{"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3","topics":["RESERVE_UPDATED","0x0000000000000000000000000000000000000000000000000000000000000001","0x0000000000000000000000000000000000000000000000000000000000000001"],"data":"0x00000000000000000000000000000000000000000000000000000000000003e8","blockHash":"0x2f1c7a8f0b4a6f2a6d0f0d5e5d5b1e4a1e0c7a9b3b2a1f0e9d8c7b6a5f4e3d2c","blockNumber":"0x3","blockTimestamp":"0x6650f0a1","transactionHash":"0x9c1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e","transactionIndex":"0x0","logIndex":"0x0","removed":false}],"logsBloom":"0x00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000","transactionHash":"0x9c1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e","transactionIndex":"0x0","blockHash":"0x2f1c7a8f0b4a6f2a6d0f0d5e5d5b1e4a1e0c7a9b3b2a1f0e9d8c7b6a5f4e3d2c","blockNumber":"0x3","gasUsed":"0xb3b0","effectiveGasPrice":"0x3b9aca00","from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":"0x5fbdb2315678afecb367f032d93f642f64180aa3","contractAddress":null}"#;

/// Every seed, by target and file name.
fn generate() -> BTreeMap<(&'static str, String), Vec<u8>> {
    let mut seeds = BTreeMap::new();
    let mut put = |target: &'static str, name: String, bytes: Vec<u8>| {
        seeds.insert((target, name), bytes);
    };
    let inputs = sample_inputs();
    for (i, input) in inputs.iter().enumerate() {
        put("runtime_input", format!("input-{i:02}.bin"), input.encode());
        if i < 4 {
            put("rlp", format!("input-{i:02}.rlp"), input.encode());
        }
    }
    let nested = tagged(
        b"xln/fuzz/v1",
        vec![
            RlpItem::Bytes(vec![]),
            RlpItem::Bytes(vec![0x7f]),
            RlpItem::Bytes(vec![0x80]),
            RlpItem::Bytes(vec![0xab; 56]),
            RlpItem::List(vec![RlpItem::List(vec![]), RlpItem::Bytes(vec![1; 60])]),
        ],
    );
    put("rlp", "nested.rlp".into(), nested.encode());

    let mut rt = Runtime::new(42);
    for input in &inputs[..5] {
        rt.apply(input).expect("sample input applies");
    }
    let (doc, _) = snapshot_document(&rt, 5).expect("snapshot");
    put(
        "snapshot",
        "document-5.sexp".into(),
        [b"\0", doc.as_bytes()].concat(),
    );
    let body = lexpr::to_string(&runtime_to_value(&rt).expect("value")).expect("print");
    put(
        "snapshot",
        "body-5.sexp".into(),
        [b"\x01", body.as_bytes()].concat(),
    );
    let small = Runtime::new(1);
    let (doc, _) = snapshot_document(&small, 0).expect("snapshot");
    put(
        "snapshot",
        "document-empty.sexp".into(),
        [b"\0", doc.as_bytes()].concat(),
    );

    let segment = wal_segment(&inputs);
    put(
        "wal_recovery",
        "segment.wal".into(),
        [b"\x01", &segment[..]].concat(),
    );
    let torn = &segment[..segment.len() - 7];
    put(
        "wal_recovery",
        "segment-torn.wal".into(),
        [b"\x01", torn].concat(),
    );
    put(
        "wal_recovery",
        "structured".into(),
        b"\0\x03\x02ab\x01c\x00\x05\x00\x00\x00\x02\x10\x00\x00\x00".to_vec(),
    );

    put(
        "gossmap",
        "one-channel.gossmap".into(),
        gossmap(&[(0, 1, 100_000)], 1),
    );
    let ring: Vec<(u64, u64, u64)> = (0..6).map(|i| (i, (i + 1) % 6, 20_000 * (i + 1))).collect();
    put("gossmap", "ring-6.gossmap".into(), gossmap(&ring, 3));
    put(
        "gossmap",
        "star-4.gossmap".into(),
        gossmap(
            &[(0, 1, 5), (0, 2, 70_000), (0, 3, 16_777_216), (0, 4, 300)],
            2,
        ),
    );

    let topic = <xln::chain::contracts::Depository::ReserveUpdated as alloy_sol_types::SolEvent>::SIGNATURE_HASH;
    let receipt = RECEIPT_JSON.replace("RESERVE_UPDATED", &topic.to_string());
    put("chain_rpc", "receipt.json".into(), receipt.into_bytes());
    for name in ["rcpan.xln", "bilateral.xln", "htlc.xln"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name);
        let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        put("reader", name.into(), text);
    }
    seeds
}

/// One WAL segment holding `inputs`, written by the real `Wal`.
fn wal_segment(inputs: &[RuntimeInput]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("xln-seed-wal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut wal, _) =
        Wal::open(&dir, 1, 0, SyncPolicy::Group(64), &mut |_, _| Ok(())).expect("open wal");
    for input in inputs {
        wal.append(&input.encode()).expect("append");
    }
    wal.sync().expect("sync");
    drop(wal);
    let bytes = std::fs::read(dir.join(format!("{:020}.wal", 1))).expect("segment");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

/// Each seed is accepted by the decoder its target exercises.
fn check_accepted(target: &str, bytes: &[u8]) -> Result<(), String> {
    match target {
        "runtime_input" => RuntimeInput::decode(bytes)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "rlp" => RlpItem::decode(bytes)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "snapshot" => {
            let text = std::str::from_utf8(&bytes[1..]).map_err(|e| e.to_string())?;
            if bytes[0] == 0 {
                parse_snapshot(text, Path::new("<seed>"))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else {
                let v = lexpr::from_str(text).map_err(|e| e.to_string())?;
                value_to_runtime(&v).map(|_| ())
            }
        }
        "wal_recovery" if bytes[0] == 1 => {
            let dir = std::env::temp_dir().join(format!("xln-seed-check-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            std::fs::write(dir.join(format!("{:020}.wal", 1)), &bytes[1..])
                .map_err(|e| e.to_string())?;
            let mut n = 0;
            let r = scan_wal(&dir, 0, &mut |_, p| {
                n += 1;
                RuntimeInput::decode(p)
                    .map(|_| ())
                    .map_err(|e| xln::storage::StoreError::Record {
                        seq: n,
                        reason: e.to_string(),
                    })
            });
            let _ = std::fs::remove_dir_all(&dir);
            match r {
                Ok(_) if n > 0 => Ok(()),
                Ok(_) => Err("no records".into()),
                Err(e) => Err(e.to_string()),
            }
        }
        "gossmap" => parse_gossmap(bytes).map(|_| ()).map_err(|e| e.to_string()),
        "chain_rpc" => serde_json::from_slice::<alloy::rpc::types::TransactionReceipt>(bytes)
            .map_err(|e| e.to_string())
            .and_then(|r| xln::chain::rpc::receipt_from_rpc(&r).map_err(|e| format!("{e:?}")))
            .and_then(
                |r| match r.logs.first().map(xln::chain::ChainEvent::decode) {
                    Some(Ok(Some(_))) => Ok(()),
                    other => Err(format!("the receipt's log is not our event: {other:?}")),
                },
            ),
        _ => Ok(()),
    }
}

#[test]
fn committed_seeds_are_current() {
    let seeds = generate();
    let write = std::env::var("XLN_WRITE_FUZZ_SEEDS").is_ok_and(|v| v == "1");
    for ((target, name), bytes) in &seeds {
        let path = seeds_dir().join(target).join(name);
        if write {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, bytes).expect("write seed");
        }
        check_accepted(target, bytes)
            .unwrap_or_else(|e| panic!("seed {target}/{name} is refused: {e}"));
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with XLN_WRITE_FUZZ_SEEDS=1 cargo test --test fuzz_regression",
                path.display()
            )
        });
        assert!(
            committed == *bytes,
            "{} is stale (the encoding changed); regenerate with XLN_WRITE_FUZZ_SEEDS=1 cargo test --test fuzz_regression",
            path.display()
        );
    }
    println!("{} seeds current", seeds.len());
    assert!(seeds.len() >= 25);
}

/// fuzz `chain_events` finding: a log of ours with bytes after its fields (or an extra
/// topic) was accepted as the event its prefix encodes, so two different logs gave one
/// event. Now only the exact form the contract emits decodes; the rest is `Inconsistent`.
#[test]
fn chain_event_logs_are_decoded_strictly() {
    use alloy_primitives::{Address, Bytes, B256, U256};
    use alloy_sol_types::SolEvent;
    use xln::chain::contracts::EntityRegistry::EntityRegistered;
    use xln::chain::{ChainError, ChainEvent, RawLog};
    let event = EntityRegistered {
        entity: U256::from(7),
        boardHash: B256::repeat_byte(0x32),
    };
    let data = event.encode_log_data();
    let log = |topics: Vec<B256>, bytes: Vec<u8>| RawLog {
        block: 1,
        log_index: 0,
        address: Address::ZERO,
        topics,
        data: Bytes::from(bytes),
    };
    let exact = log(data.topics().to_vec(), data.data.to_vec());
    assert_eq!(
        ChainEvent::decode(&exact),
        Ok(Some(ChainEvent::EntityRegistered {
            entity: U256::from(7),
            board_hash: [0x32; 32]
        }))
    );
    let trailing = log(
        data.topics().to_vec(),
        [&data.data[..], &[0xff, 0xff]].concat(),
    );
    assert!(matches!(
        ChainEvent::decode(&trailing),
        Err(ChainError::Inconsistent { .. })
    ));
    let mut topics = data.topics().to_vec();
    topics.push(B256::ZERO);
    let extra_topic = log(topics, data.data.to_vec());
    assert!(matches!(
        ChainEvent::decode(&extra_topic),
        Err(ChainError::Inconsistent { .. })
    ));
}

/// fuzz `runtime_input` finding: `AddEntity` with a huge validator count (a canonical
/// input, e.g. from a WAL record or a script) derived that many keys before the board was
/// checked, and aborted the process allocating ~200 GB. Now it is refused at once and the
/// runtime is unchanged.
#[test]
fn add_entity_with_a_huge_validator_count_is_refused() {
    let input = RuntimeInput::AddEntity {
        name: "huge".into(),
        validators: 25_170_915_913,
        threshold: 1,
        reserves: Vec::new(),
    };
    let decoded = RuntimeInput::decode(&input.encode()).expect("a canonical input");
    let mut rt = Runtime::new(1);
    let err = rt.apply(&decoded).expect_err("refused");
    assert!(err.to_string().contains("at most 256"), "{err}");
    assert_eq!(rt.entity_count(), 0);
    let too_many = xln::entity::BOARD_VALIDATORS_MAX + 1;
    assert!(rt.add_entity(too_many, 1, Vec::new()).is_err());
    assert_eq!(rt.add_entity(3, 2, Vec::new()).expect("a small board"), 0);
}
