//! Property tests for the crypto layer: hostile input never panics, encodings round-trip,
//! strictness rejects every non-canonical form, signatures and merkle proofs behave.
//! Case counts are chosen so the whole file runs in a few seconds in a debug build.

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::U256;
use num_bigint::{BigInt, BigUint};
use proptest::prelude::*;
use xln::crypto::keys::SECP256K1_ORDER;
use xln::crypto::rlp::uint_item;
use xln::crypto::{
    abi_decode, abi_encode_args, decode_int, decode_u128, decode_u64, keccak256, merkle_proof,
    merkle_root, recover, recover_address, sign_digest, verify, verify_address, verify_proof,
    AbiArg, Canonical, CryptoError, MerkleProof, RlpItem, SecretKey, Signature, MAX_RLP_DEPTH,
};

fn arb_item() -> impl Strategy<Value = RlpItem> {
    let leaf = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..3).prop_map(RlpItem::Bytes),
        3 => prop::collection::vec(any::<u8>(), 0..70).prop_map(RlpItem::Bytes),
        1 => prop::collection::vec(any::<u8>(), 250..300).prop_map(RlpItem::Bytes),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(RlpItem::List)
    })
}

fn arb_key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_filter_map("scalar out of range", |b| SecretKey::from_bytes(&b).ok())
}

/// n - s as a 32-byte word.
fn neg_mod_n(s: &[u8; 32]) -> [u8; 32] {
    let n = BigUint::from_bytes_be(&SECP256K1_ORDER);
    let d = (n - BigUint::from_bytes_be(s)).to_bytes_be();
    let mut w = [0u8; 32];
    w[32 - d.len()..].copy_from_slice(&d);
    w
}

/// A 32-byte value in [n, 2^256).
fn arb_at_least_n() -> impl Strategy<Value = [u8; 32]> {
    let n = BigUint::from_bytes_be(&SECP256K1_ORDER);
    let span = (BigUint::from(1u8) << 256usize) - &n; // about 2^128
    any::<[u8; 32]>().prop_map(move |r| {
        let x = &n + BigUint::from_bytes_be(&r) % &span;
        let b = x.to_bytes_be();
        let mut w = [0u8; 32];
        w[32 - b.len()..].copy_from_slice(&b);
        w
    })
}

const ABI_TYPE_SETS: &[&[&str]] = &[
    &["uint256"],
    &["bytes"],
    &["string", "uint8[]"],
    &["(address,bytes32)[]", "int16"],
    &["bytes4[3]", "bool"],
    &["uint256[][]"],
    &["(string,(bytes,uint64[2]))[]"],
];

/// ABI-shaped noise: 32-byte words that are often small numbers (plausible offsets and
/// lengths), so the decoder is driven past its first checks.
fn arb_abi_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(
            prop_oneof![
                (0u64..200).prop_map(|x| U256::from(x).to_be_bytes::<32>()),
                any::<u64>().prop_map(|x| U256::from(x).to_be_bytes::<32>()),
                any::<[u8; 32]>(),
            ],
            0..12
        )
        .prop_map(|ws| ws.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random bytes never panic the strict decoder, and anything it accepts is canonical:
    /// re-encoding gives back exactly the input.
    #[test]
    fn rlp_decode_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(item) = RlpItem::decode(&bytes) {
            prop_assert_eq!(item.encode(), bytes);
        }
    }

    /// Random bytes never panic signature parsing; an accepted encoding round-trips.
    #[test]
    fn signature_parse_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..80),
                                    full in any::<[u8; 32]>(), v in any::<u8>()) {
        if let Ok(sig) = Signature::from_bytes(&bytes) {
            prop_assert_eq!(sig.to_bytes().to_vec(), bytes);
        }
        let mut raw = [0u8; 65];
        raw[..32].copy_from_slice(&full);
        raw[32..64].copy_from_slice(&keccak256(&full));
        raw[64] = v;
        if let Ok(sig) = Signature::from_bytes(&raw) {
            prop_assert_eq!(sig.to_bytes(), raw);
            // Recovery may fail (r need not be a point's x) but must not panic.
            let _ = recover(&keccak256(b"x"), &sig);
        }
    }

    /// Random (and ABI-shaped) data never panics the ABI decoder.
    #[test]
    fn abi_decode_random_bytes(which in 0..ABI_TYPE_SETS.len(), data in arb_abi_data()) {
        let _ = abi_decode(ABI_TYPE_SETS[which], &data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// encode -> strict decode is the identity on random nested items.
    #[test]
    fn rlp_roundtrip(item in arb_item()) {
        let enc = item.encode();
        prop_assert_eq!(enc.len(), item.encoded_len());
        prop_assert_eq!(RlpItem::decode(&enc), Ok(item));
    }

    /// Every truncation of a valid encoding, and every extension, is rejected.
    #[test]
    fn rlp_truncated_or_extended(item in arb_item(), cut in 1usize..8,
                                 extra in prop::collection::vec(any::<u8>(), 1..4)) {
        let enc = item.encode();
        let cut = cut.min(enc.len());
        prop_assert!(RlpItem::decode(&enc[..enc.len() - cut]).is_err());
        let mut longer = enc.clone();
        longer.extend_from_slice(&extra);
        prop_assert_eq!(
            RlpItem::decode(&longer),
            Err(CryptoError::RlpTrailingBytes { extra: extra.len() })
        );
    }

    /// Non-canonical headers are rejected: a wrapped single byte, long form for a short
    /// payload, and a length with leading zeros.
    #[test]
    fn rlp_non_canonical_headers(b in 0u8..0x80, short in prop::collection::vec(any::<u8>(), 0..56),
                                 long in prop::collection::vec(any::<u8>(), 56..300), list in any::<bool>()) {
        prop_assert_eq!(
            RlpItem::decode(&[0x81, b]),
            Err(CryptoError::Rlp(alloy_rlp::Error::NonCanonicalSingleByte))
        );
        // long form (0xb8 / 0xf8, one length byte) for a payload under 56 bytes
        let mut v = vec![if list { 0xf8 } else { 0xb8 }, short.len() as u8];
        v.extend_from_slice(&short);
        prop_assert!(RlpItem::decode(&v).is_err());
        // two length bytes with a leading zero
        let mut v = vec![if list { 0xf9 } else { 0xb9 }, 0x00, long.len() as u8];
        v.extend_from_slice(&long);
        prop_assert!(RlpItem::decode(&v).is_err());
        // payload length past the end
        let mut v = vec![0xb8, (long.len() + 1).min(255) as u8];
        v.extend_from_slice(&long[..long.len().min(254)]);
        prop_assert_eq!(
            RlpItem::decode(&v),
            Err(CryptoError::Rlp(alloy_rlp::Error::InputTooShort))
        );
    }

    /// Nesting past the limit is an error, not a stack overflow.
    #[test]
    fn rlp_depth_limit(extra in 1usize..200) {
        let mut item = RlpItem::List(vec![]);
        for _ in 0..MAX_RLP_DEPTH - 1 + extra {
            item = RlpItem::List(vec![item]);
        }
        prop_assert_eq!(
            RlpItem::decode(&item.encode()),
            Err(CryptoError::RlpTooDeep { max: MAX_RLP_DEPTH })
        );
    }

    /// Integers: canonical encoding decodes back; leading zeros and oversize are rejected.
    #[test]
    fn rlp_integers(x in any::<u64>(), y in any::<u128>(), pad in 1usize..4) {
        prop_assert_eq!(decode_u64(&RlpItem::decode(&x.canonical_bytes()).unwrap()), Ok(x));
        prop_assert_eq!(decode_u128(&RlpItem::decode(&y.canonical_bytes()).unwrap()), Ok(y));
        let mut padded = vec![0u8; pad];
        padded.extend_from_slice(&x.to_be_bytes());
        prop_assert_eq!(uint_item(&padded), x.canonical_rlp());
        let RlpItem::Bytes(min) = uint_item(&padded) else { unreachable!() };
        let mut with_zero = vec![0u8];
        with_zero.extend_from_slice(&min);
        let with_zero = RlpItem::Bytes(with_zero);
        prop_assert_eq!(decode_int(&with_zero, 16), Err(CryptoError::RlpNonCanonicalInteger));
        if y > u128::from(u64::MAX) {
            let oversized = matches!(
                decode_u64(&y.canonical_rlp()),
                Err(CryptoError::RlpOversizedInteger { max: 8, .. })
            );
            prop_assert!(oversized);
        }
    }

    /// Signed canonical encodings agree between i128 and BigInt.
    #[test]
    fn canonical_signed_agrees(x in any::<i128>()) {
        prop_assert_eq!(x.canonical_bytes(), BigInt::from(x).canonical_bytes());
        prop_assert_eq!(
            U256::from(x.unsigned_abs()).canonical_bytes(),
            x.unsigned_abs().canonical_bytes()
        );
    }

    /// Wrong-length secret keys are rejected with their length.
    #[test]
    fn wrong_length_key(bytes in prop::collection::vec(any::<u8>(), 0..70)) {
        prop_assume!(bytes.len() != 32);
        prop_assert_eq!(
            SecretKey::from_bytes(&bytes),
            Err(CryptoError::InvalidKeyLength { got: bytes.len(), expected: 32 })
        );
    }

    /// Scalars >= n (and zero) are rejected for keys, r and s.
    #[test]
    fn scalars_out_of_range(big in arb_at_least_n(), ok in any::<[u8; 32]>()) {
        prop_assert_eq!(
            SecretKey::from_bytes(&big),
            Err(CryptoError::ScalarOutOfRange { what: "secret key" })
        );
        // Valid values to pair with the bad one: top byte <= 0x7f and second byte 0 keeps
        // them below n/2 (which starts 0x7fff..); keccak output is never all-zero here.
        let low_s = { let mut s = keccak256(&ok); s[0] &= 0x7f; s[1] = 0; s };
        let good_r = { let mut r = keccak256(&low_s); r[0] &= 0x7f; r };
        prop_assert_eq!(Signature::new(big, low_s, 27), Err(CryptoError::ScalarOutOfRange { what: "r" }));
        prop_assert_eq!(Signature::new([0; 32], low_s, 27), Err(CryptoError::ScalarOutOfRange { what: "r" }));
        prop_assert_eq!(Signature::new(good_r, big, 27), Err(CryptoError::ScalarOutOfRange { what: "s" }));
        prop_assert_eq!(Signature::new(good_r, [0; 32], 28), Err(CryptoError::ScalarOutOfRange { what: "s" }));
    }
}

proptest! {
    // Debug-build ECDSA is slow; a modest count still covers random keys and digests.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// sign -> verify -> recover round trip; signatures are low-S, deterministic, and
    /// strict-parse back from their bytes; the high-S twin and a wrong v are rejected.
    #[test]
    fn sign_verify_recover(key in arb_key(), digest in any::<[u8; 32]>(), other in any::<[u8; 32]>(),
                           bad_v in any::<u8>()) {
        let sig = sign_digest(&key, &digest).unwrap();
        prop_assert_eq!(sign_digest(&key, &digest).unwrap(), sig);
        prop_assert_eq!(Signature::from_bytes(&sig.to_bytes()), Ok(sig));
        prop_assert_eq!(verify(&key.public_key(), &digest, &sig), Ok(()));
        prop_assert_eq!(verify_address(&key.address(), &digest, &sig), Ok(()));
        prop_assert_eq!(recover(&digest, &sig), Ok(key.public_key()));
        prop_assert_eq!(recover_address(&digest, &sig), Ok(key.address()));
        if other != digest {
            prop_assert!(verify(&key.public_key(), &other, &sig).is_err());
        }

        // High-S twin: same curve equation, but not the canonical encoding.
        let high = Signature { s: neg_mod_n(&sig.s), v: if sig.v == 27 { 28 } else { 27 }, ..sig };
        prop_assert_eq!(Signature::from_bytes(&high.to_bytes()), Err(CryptoError::HighS));
        prop_assert_eq!(verify(&key.public_key(), &digest, &high), Err(CryptoError::HighS));
        prop_assert_eq!(recover(&digest, &high), Err(CryptoError::HighS));

        // Bad v.
        if bad_v != 27 && bad_v != 28 {
            let mut raw = sig.to_bytes();
            raw[64] = bad_v;
            prop_assert_eq!(Signature::from_bytes(&raw), Err(CryptoError::InvalidRecoveryId { v: bad_v }));
        }
        // Wrong signature length.
        prop_assert_eq!(
            Signature::from_bytes(&sig.to_bytes()[..64]),
            Err(CryptoError::InvalidSignatureLength { got: 64 })
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Differential check: our recovery (one multi-scalar multiplication) agrees with
    /// k256's `recover_from_prehash` on random well-formed (r, s, v, digest), both when a
    /// key exists and when recovery fails.
    #[test]
    fn recover_matches_k256(r in any::<[u8; 32]>(), s in any::<[u8; 32]>(), odd in any::<bool>(),
                            digest in any::<[u8; 32]>()) {
        let mut s = s;
        s[0] &= 0x7f;
        s[1] = 0; // below n/2
        let Ok(sig) = Signature::new(r, s, if odd { 28 } else { 27 }) else {
            return Ok(()); // r >= n or zero: covered elsewhere
        };
        let theirs = k256::ecdsa::Signature::from_scalars(r, s).ok().and_then(|ks| {
            k256::ecdsa::VerifyingKey::recover_from_prehash(
                &digest,
                &ks,
                k256::ecdsa::RecoveryId::new(odd, false),
            )
            .ok()
        });
        let ours = recover(&digest, &sig).ok();
        prop_assert_eq!(
            ours.map(|pk| pk.to_uncompressed().to_vec()),
            theirs.map(|vk| vk.to_encoded_point(false).as_bytes().to_vec())
        );
        if let Some(pk) = ours {
            prop_assert_eq!(verify(&pk, &digest, &sig), Ok(()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every leaf's proof verifies; tampering with the leaf, a sibling, a flag, the
    /// index, the count or the path length makes verification fail (false or error).
    #[test]
    fn merkle_proofs(leaves in prop::collection::vec(any::<[u8; 32]>(), 1..40),
                     pick in any::<prop::sample::Index>(), bit in 0usize..256) {
        let root = merkle_root(&leaves);
        for (i, leaf) in leaves.iter().enumerate() {
            let p = merkle_proof(&leaves, i).unwrap();
            prop_assert_eq!(verify_proof(&root, leaf, &p), Ok(true));
        }
        let i = pick.index(leaves.len());
        let leaf = leaves[i];
        let p = merkle_proof(&leaves, i).unwrap();
        let fails = |q: &MerkleProof, l: &[u8; 32]| verify_proof(&root, l, q) != Ok(true);

        let mut bad_leaf = leaf;
        bad_leaf[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(verify_proof(&root, &bad_leaf, &p), Ok(false));

        if !p.path.is_empty() {
            let k = bit % p.path.len();
            let mut q = p.clone();
            q.path[k].sibling[bit / 8] ^= 1 << (bit % 8);
            prop_assert_eq!(verify_proof(&root, &leaf, &q), Ok(false));

            let mut q = p.clone();
            q.path[k].sibling_is_left = !q.path[k].sibling_is_left;
            let malformed = matches!(
                verify_proof(&root, &leaf, &q),
                Err(CryptoError::MerkleMalformedProof { .. })
            );
            prop_assert!(malformed);

            let mut q = p.clone();
            q.path.pop();
            prop_assert!(verify_proof(&root, &leaf, &q).is_err());
        }
        let mut q = p.clone();
        q.path.push(p.path.first().copied().unwrap_or(xln::crypto::ProofStep { sibling: [0; 32], sibling_is_left: false }));
        prop_assert!(verify_proof(&root, &leaf, &q).is_err());

        if leaves.len() > 1 {
            let mut q = p.clone();
            q.leaf_index = (i + 1) % leaves.len();
            prop_assert!(fails(&q, &leaf));
        }
        // The count is checked for consistency with the index (it is not authenticated by
        // the root: callers take it from the signed frame, see merkle.rs).
        let mut q = p.clone();
        q.leaf_count = i;
        prop_assert!(verify_proof(&root, &leaf, &q).is_err());
        let mut q = p.clone();
        q.leaf_index = leaves.len();
        prop_assert!(verify_proof(&root, &leaf, &q).is_err());

        // Appending a duplicate of the last leaf changes the root (no CVE-2012-2459).
        let mut dup = leaves.clone();
        dup.push(*leaves.last().unwrap());
        prop_assert_ne!(merkle_root(&dup), root);
    }

    /// ABI encode -> decode round trip for coerced simple values.
    #[test]
    fn abi_roundtrip(a in any::<u64>(), b in prop::collection::vec(any::<u8>(), 0..70),
                     s in "[a-z ]{0,40}", xs in prop::collection::vec(any::<u32>(), 0..6),
                     neg in any::<i64>()) {
        let types = ["uint256", "bytes", "string", "uint32[]", "int64"];
        let args = vec![
            AbiArg::Int(a.into()),
            AbiArg::Bytes(b.clone()),
            AbiArg::Str(s.clone()),
            AbiArg::List(xs.iter().map(|&x| AbiArg::Int(x.into())).collect()),
            AbiArg::Int(neg.into()),
        ];
        let enc = abi_encode_args(&types, &args).unwrap();
        prop_assert_eq!(enc.len() % 32, 0);
        let dec = abi_decode(&types, &enc).unwrap();
        prop_assert_eq!(&dec[0], &DynSolValue::Uint(U256::from(a), 256));
        prop_assert_eq!(&dec[1], &DynSolValue::Bytes(b));
        prop_assert_eq!(&dec[2], &DynSolValue::String(s));
        prop_assert_eq!(
            &dec[3],
            &DynSolValue::Array(xs.iter().map(|&x| DynSolValue::Uint(U256::from(x), 32)).collect())
        );
        prop_assert_eq!(&dec[4], &DynSolValue::Int(alloy_primitives::I256::try_from(neg).unwrap(), 64));
    }
}
