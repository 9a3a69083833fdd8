//! Crypto-layer benchmark (`cargo bench --bench crypto`): ECDSA sign / verify / recover
//! throughput on both signature backends (libsecp256k1, the default, and k256) with their
//! ratios measured in the same run, keccak-256 and sha-256 bandwidth over 1 MiB, RLP
//! encode/decode of a ~1 KB nested item, and a 1024-leaf merkle root. Uses
//! `xln::bench::measure` (medians); the whole run takes a few seconds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use xln::bench::{format_duration, measure};
use xln::crypto::{
    keccak256, merkle_root, recover_address, sha256, sign_digest, verify, with_backend, RlpItem,
    SecretKey, Signature, SignatureBackend,
};

/// The issue-17 acceptance bound: libsecp256k1 at least this many times k256's rate.
const REQUIRED_SPEEDUP: f64 = 2.5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Times `op` on both backends with samples interleaved (libsecp256k1, k256, libsecp256k1,
/// ...), so a change in the machine's load hits both alike; prints each backend's median
/// time per call and rate, and the median of the per-sample speed-ups.
fn compare_backends(name: &str, samples: usize, iterations: u64, op: impl Fn(u64) -> bool) -> f64 {
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for _ in 0..samples {
        let mut pair = [Duration::ZERO; 2];
        for (slot, backend) in SignatureBackend::ALL.into_iter().enumerate() {
            pair[slot] = with_backend(backend, || {
                let start = Instant::now();
                for i in 0..iterations {
                    assert!(black_box(op(i)), "{name} failed on {}", backend.name());
                }
                start.elapsed() / iterations as u32
            });
            times[slot].push(pair[slot]);
        }
        ratios.push(pair[1].as_secs_f64() / pair[0].as_secs_f64());
    }
    for (slot, backend) in SignatureBackend::ALL.into_iter().enumerate() {
        let t = median(times[slot].iter().map(Duration::as_secs_f64).collect());
        println!(
            "{:<44} median {:>12}  ({:>10.1}/s, {samples} samples x {iterations} iters)",
            format!("{name} [{}]", backend.name()),
            format_duration(Duration::from_secs_f64(t)),
            1.0 / t
        );
    }
    let speedup = median(ratios);
    println!(
        "{:<44} {speedup:>5.2}x  (median of per-sample k256/libsecp256k1 time ratios; need >= {REQUIRED_SPEEDUP}x: {})",
        format!("  => {name} speed-up"),
        if speedup >= REQUIRED_SPEEDUP { "met" } else { "NOT met" }
    );
    speedup
}

fn signature_backends(key: &SecretKey, digests: &[[u8; 32]], sigs: &[Signature]) {
    println!("== ECDSA secp256k1: libsecp256k1 (default) vs k256, interleaved samples ==");
    let pk = key.public_key();
    let address = key.address();
    let n = digests.len();
    compare_backends("sign_digest (RFC 6979, low-S)", 11, 200, |i| {
        sign_digest(key, &digests[i as usize % n]).is_ok()
    });
    compare_backends("verify (by recovery, strict v)", 11, 200, |i| {
        let j = i as usize % n;
        verify(&pk, &digests[j], &sigs[j]).is_ok()
    });
    compare_backends("recover_address", 11, 200, |i| {
        let j = i as usize % n;
        recover_address(&digests[j], &sigs[j]) == Ok(address)
    });
}

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
    let digests: Vec<[u8; 32]> = (0u64..256).map(|i| keccak256(&i.to_be_bytes())).collect();
    let sigs: Vec<_> = digests
        .iter()
        .map(|d| sign_digest(&key, d).expect("signing a fixed digest"))
        .collect();

    signature_backends(&key, &digests, &sigs);

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
