//! Crypto-layer benchmark (`cargo bench --bench crypto`): ECDSA sign / verify / recover
//! throughput, keccak-256 and sha-256 bandwidth over 1 MiB, RLP encode/decode of a ~1 KB
//! nested item, and a 1024-leaf merkle root. Uses `xln::bench::measure` (medians);
//! the whole run takes a few seconds.

use std::hint::black_box;

use xln::bench::measure;
use xln::crypto::{
    keccak256, merkle_root, recover_address, sha256, sign_digest, verify, RlpItem, SecretKey,
};

/// A deterministic ~1 KB nested item shaped like a frame: header fields, a list of
/// transfers, and a list of signatures.
fn frame_like_item() -> RlpItem {
    let b = |seed: u64, len: usize| -> RlpItem {
        let h = keccak256(&seed.to_be_bytes());
        RlpItem::Bytes(h.iter().cycle().take(len).copied().collect())
    };
    let transfers = (0..8)
        .map(|i| {
            RlpItem::List(vec![
                b(i, 20),
                b(i + 100, 20),
                b(i + 200, 9),
                RlpItem::List(vec![b(i + 300, 1), b(i + 400, 32)]),
            ])
        })
        .collect();
    let sigs = (0..4).map(|i| b(i + 500, 65)).collect();
    RlpItem::List(vec![
        RlpItem::Bytes(b"xln/account-frame/v1".to_vec()),
        b(1, 8),
        b(2, 32),
        RlpItem::List(transfers),
        RlpItem::List(sigs),
    ])
}

fn main() {
    let key = SecretKey::from_seed(b"bench");
    let pk = key.public_key();
    let digests: Vec<[u8; 32]> = (0u64..256).map(|i| keccak256(&i.to_be_bytes())).collect();
    let sigs: Vec<_> = digests
        .iter()
        .map(|d| sign_digest(&key, d).expect("signing a fixed digest"))
        .collect();

    println!("== ECDSA secp256k1 (k256) ==");
    measure("sign_digest (RFC 6979, low-S)", 11, 200, |i| {
        sign_digest(&key, &digests[i as usize % 256])
    });
    measure("verify (by recovery, strict v)", 11, 200, |i| {
        let j = i as usize % 256;
        verify(&pk, &digests[j], &sigs[j])
    });
    measure("recover_address", 11, 200, |i| {
        let j = i as usize % 256;
        recover_address(&digests[j], &sigs[j])
    });

    println!("== hashing, 1 MiB input ==");
    let mib: Vec<u8> = (0..1usize << 20).map(|i| (i * 31 + 7) as u8).collect();
    for (name, f) in [
        ("keccak256 1 MiB", keccak256 as fn(&[u8]) -> [u8; 32]),
        ("sha256 1 MiB", sha256 as fn(&[u8]) -> [u8; 32]),
    ] {
        let m = measure(name, 11, 8, |_| f(black_box(&mib)));
        let secs = m.median_per_iteration.as_secs_f64();
        println!(
            "{:<44} {:>8.1} MB/s ({:.1} MiB/s)",
            format!("  => {name} throughput"),
            mib.len() as f64 / 1e6 / secs,
            1.0 / secs
        );
    }

    println!("== RLP, ~1 KB nested item ==");
    let item = frame_like_item();
    let enc = item.encode();
    println!("  item encodes to {} bytes", enc.len());
    measure("RlpItem::encode (~1 KB)", 11, 5_000, |_| {
        black_box(&item).encode()
    });
    measure("RlpItem::decode strict (~1 KB)", 11, 5_000, |_| {
        RlpItem::decode(black_box(&enc))
    });

    println!("== merkle ==");
    let leaves: Vec<[u8; 32]> = digests.iter().cycle().take(1024).copied().collect();
    measure("merkle_root 1024 leaves", 11, 50, |_| {
        merkle_root(black_box(&leaves))
    });
}
