//! The crypto layer checked byte-for-byte against test vectors written by others
//! (ethereum/tests and ethers.js), read at test time from `../shared/vectors`.
//! No expected value is typed by hand; each test asserts the exact number of cases so a
//! missing or truncated file cannot pass silently.

use std::io::Read;
use std::path::PathBuf;

use alloy_primitives::hex;
use num_bigint::{BigInt, BigUint};
use serde_json::Value;
use xln::crypto::rlp::uint_item;
use xln::crypto::{
    abi_encode_args, keccak256, recover_address, sha256, sign_digest, verify, verify_address,
    with_backend, AbiArg, Address, CryptoError, RlpItem, SecretKey, Signature, SignatureBackend,
};

fn vectors_dir() -> PathBuf {
    // `../shared/vectors` beside the checkout; XLN_VECTORS_DIR for a clone elsewhere.
    let dir = std::env::var_os("XLN_VECTORS_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors")),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "test vectors directory {} is missing: these tests need the shared vectors \
         (ethereum-tests/, ethers/) next to the crate, or set XLN_VECTORS_DIR; restore it rather than skipping",
        dir.display()
    );
    dir
}

fn read_bytes(rel: &str) -> Vec<u8> {
    let path = vectors_dir().join(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read vector file {}: {e}", path.display()))
}

fn read_json(rel: &str) -> Value {
    serde_json::from_slice(&read_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: bad JSON: {e}"))
}

fn read_gz_json(rel: &str) -> Value {
    let raw = read_bytes(rel);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{rel}: bad gzip: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: bad JSON: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

/// Decimal string to a 32-byte big-endian word.
fn decimal_to_word(s: &str) -> [u8; 32] {
    let n = BigUint::parse_bytes(s.as_bytes(), 10).unwrap_or_else(|| panic!("bad decimal {s}"));
    let b = n.to_bytes_be();
    assert!(b.len() <= 32, "{s} does not fit in 32 bytes");
    let mut w = [0u8; 32];
    w[32 - b.len()..].copy_from_slice(&b);
    w
}

/// ethereum-tests RLP input: "#<decimal>" big integer, JSON integer, string bytes, list.
fn rlptest_item(v: &Value) -> RlpItem {
    match v {
        Value::String(s) => match s.strip_prefix('#') {
            Some(dec) => {
                let n = BigUint::parse_bytes(dec.as_bytes(), 10).expect("bad #bigint");
                uint_item(&n.to_bytes_be())
            }
            None => RlpItem::Bytes(s.as_bytes().to_vec()),
        },
        Value::Number(n) => {
            let n = n.as_u64().expect("rlptest integers are non-negative u64");
            uint_item(&n.to_be_bytes())
        }
        Value::Array(a) => RlpItem::List(a.iter().map(rlptest_item).collect()),
        other => panic!("unexpected rlptest input {other}"),
    }
}

#[test]
fn rlp_ethereum_tests() {
    let json = read_json("ethereum-tests/rlptest.json");
    let cases = json.as_object().expect("rlptest.json is an object");
    let mut n = 0;
    for (name, case) in cases {
        let item = rlptest_item(&case["in"]);
        let out = unhex(case["out"].as_str().expect("out is hex"));
        assert_eq!(item.encode(), out, "{name}: encoding differs");
        assert_eq!(item.encoded_len(), out.len(), "{name}: encoded_len differs");
        assert_eq!(
            RlpItem::decode(&out).as_ref(),
            Ok(&item),
            "{name}: strict decode"
        );
        n += 1;
    }
    println!("rlptest.json: {n}/28 cases passed");
    assert_eq!(n, 28);
}

fn ethers_rlp_item(v: &Value) -> RlpItem {
    match v {
        Value::String(s) => RlpItem::Bytes(unhex(s)),
        Value::Array(a) => RlpItem::List(a.iter().map(ethers_rlp_item).collect()),
        other => panic!("unexpected ethers rlp value {other}"),
    }
}

#[test]
fn rlp_ethers() {
    let json = read_gz_json("ethers/rlp.json.gz");
    let cases = json.as_array().expect("rlp.json is an array");
    let mut n = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let item = ethers_rlp_item(&case["decoded"]);
        let encoded = unhex(case["encoded"].as_str().expect("encoded is hex"));
        assert_eq!(item.encode(), encoded, "{name}: encoding differs");
        assert_eq!(
            RlpItem::decode(&encoded).as_ref(),
            Ok(&item),
            "{name}: strict decode"
        );
        n += 1;
    }
    println!("ethers rlp.json.gz: {n}/61 cases passed");
    assert_eq!(n, 61);
}

#[test]
fn hashes_ethers() {
    let json = read_gz_json("ethers/hashes.json.gz");
    let cases = json.as_array().expect("hashes.json is an array");
    let mut n = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let data = unhex(case["data"].as_str().expect("data"));
        let k = unhex(case["keccak256"].as_str().expect("keccak256"));
        let s = unhex(case["sha256"].as_str().expect("sha256"));
        assert_eq!(keccak256(&data).to_vec(), k, "{name}: keccak256");
        assert_eq!(sha256(&data).to_vec(), s, "{name}: sha256");
        n += 1;
    }
    println!("ethers hashes.json.gz: {n}/257 inputs passed (keccak-256 and sha-256)");
    assert_eq!(n, 257);
}

/// Key -> address runs on both signature backends (the public key is derived by the
/// active one).
#[test]
fn accounts_ethers() {
    for backend in SignatureBackend::ALL {
        with_backend(backend, || accounts_ethers_on(backend));
    }
}

fn accounts_ethers_on(backend: SignatureBackend) {
    let json = read_gz_json("ethers/accounts.json.gz");
    let cases = json.as_array().expect("accounts.json is an array");
    let mut n = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let key = SecretKey::from_bytes(&unhex(case["privateKey"].as_str().expect("privateKey")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = case["address"].as_str().expect("address");
        let addr = key.address();
        assert_eq!(
            addr.0.to_vec(),
            unhex(&expected.to_lowercase()),
            "{name}: address bytes"
        );
        assert_eq!(addr.to_checksum(), expected, "{name}: EIP-55 checksum");
        assert_eq!(addr.to_string(), expected, "{name}: Display");
        assert_eq!(
            Address::from_hex(expected),
            Ok(addr),
            "{name}: parse checksummed"
        );
        n += 1;
    }
    println!(
        "ethers accounts.json.gz on {}: {n}/259 keys -> address (bytes and EIP-55) passed",
        backend.name()
    );
    assert_eq!(n, 259);
}

/// The secp256k1 order, derived (not typed) from the key module's constant.
fn order() -> BigUint {
    BigUint::from_bytes_be(&xln::crypto::keys::SECP256K1_ORDER)
}

/// keyaddrtest.json: seed -> key (keccak256(seed)), key -> address, and the
/// `sig_of_emptystring` signatures.
///
/// Finding about the upstream signatures: neither (r, s) pair verifies under its own key
/// over keccak256("") -- nor over the EIP-191 hash of "", sha256(""), double-sha256(""),
/// the Bitcoin signed-message hash of "", NIST sha3-256(""), keccak256(keccak256("")),
/// the zero digest, with r/s swapped or byte-reversed (checked while writing this test).
/// Nethermind ignores this test ("test values seem wrong") and ethereum-haskell carries a
/// FIXME for the same reason. So the signatures cannot be reproduced by any correct
/// signer; this test checks everything in the file that *is* checkable:
/// * key == keccak256(seed) and key -> address, exactly;
/// * our RFC 6979 signature over keccak256("") recovers to that address, is low-S, and
///   is deterministic;
/// * the vector signatures parse as expected under strict rules (the "horse" one has
///   s > n/2 and must be rejected with HighS; the low-S one parses) and do NOT verify
///   for the listed key -- if upstream ever fixes them this assertion fails, and the test
///   should then compare r/s/v exactly.
#[test]
fn keyaddr_ethereum_tests() {
    for backend in SignatureBackend::ALL {
        with_backend(backend, || keyaddr_on(backend));
    }
}

fn keyaddr_on(backend: SignatureBackend) {
    let json = read_json("ethereum-tests/keyaddrtest.json");
    let cases = json.as_array().expect("keyaddrtest.json is an array");
    let digest = keccak256(b""); // sig_of_emptystring: keccak256 of zero bytes (not EIP-191)
    let half_n = order() / 2u32;
    let (mut n, mut vector_sigs_verifying, mut high_s) = (0, 0, 0);
    for case in cases {
        let seed = case["seed"].as_str().expect("seed");
        let key = SecretKey::from_bytes(&unhex(case["key"].as_str().expect("key"))).unwrap();
        assert_eq!(
            SecretKey::from_seed(seed.as_bytes()),
            key,
            "{seed}: key = keccak256(seed)"
        );
        let addr = Address::from_slice(&unhex(case["addr"].as_str().expect("addr"))).unwrap();
        assert_eq!(key.address(), addr, "{seed}: address");

        let ours = sign_digest(&key, &digest).unwrap();
        assert_eq!(
            sign_digest(&key, &digest).unwrap(),
            ours,
            "{seed}: deterministic"
        );
        assert_eq!(recover_address(&digest, &ours), Ok(addr), "{seed}: recover");
        verify(&key.public_key(), &digest, &ours).unwrap();
        assert!(BigUint::from_bytes_be(&ours.s) <= half_n, "{seed}: low-S");

        let sv = &case["sig_of_emptystring"];
        let v: u8 = sv["v"].as_str().expect("v").parse().expect("v decimal");
        let r = decimal_to_word(sv["r"].as_str().expect("r"));
        let s = decimal_to_word(sv["s"].as_str().expect("s"));
        let mut raw = [0u8; 65];
        raw[..32].copy_from_slice(&r);
        raw[32..64].copy_from_slice(&s);
        raw[64] = v;
        let s_big = BigUint::from_bytes_be(&s);
        // Normalise to the low-S twin (n - s, v flipped) to test it against the key.
        let candidate = if s_big > half_n {
            assert_eq!(
                Signature::from_bytes(&raw),
                Err(CryptoError::HighS),
                "{seed}"
            );
            high_s += 1;
            let low = (order() - s_big).to_bytes_be();
            let mut w = [0u8; 32];
            w[32 - low.len()..].copy_from_slice(&low);
            Signature::new(r, w, if v == 27 { 28 } else { 27 }).unwrap()
        } else {
            Signature::from_bytes(&raw).unwrap()
        };
        for vv in [27, 28] {
            let sig = Signature { v: vv, ..candidate };
            if verify_address(&addr, &digest, &sig).is_ok() {
                vector_sigs_verifying += 1;
            }
        }
        n += 1;
    }
    println!(
        "keyaddrtest.json on {}: {n}/2 cases passed (seed->key, key->address, our signature over \
         keccak256(\"\") recovers); upstream sig_of_emptystring verifying: \
         {vector_sigs_verifying}/2 (known-bad upstream, {high_s} of them high-S)",
        backend.name()
    );
    assert_eq!(n, 2);
    assert_eq!(
        vector_sigs_verifying, 0,
        "an upstream keyaddrtest signature now verifies: the vector was fixed, so compare \
         r/s/v exactly instead of this known-defect check"
    );
    assert_eq!(high_s, 1);
}

fn abi_arg(v: &Value) -> AbiArg {
    match v {
        Value::Bool(b) => AbiArg::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => AbiArg::Int(BigInt::from(u)),
            (None, Some(i)) => AbiArg::Int(BigInt::from(i)),
            _ => panic!("non-integer number {n}"),
        },
        Value::String(s) => AbiArg::Str(s.clone()),
        Value::Array(a) => AbiArg::List(a.iter().map(abi_arg).collect()),
        other => panic!("unexpected ABI arg {other}"),
    }
}

#[test]
fn abi_ethereum_tests() {
    let json = read_json("ethereum-tests/basic_abi_tests.json");
    let cases = json.as_object().expect("basic_abi_tests.json is an object");
    let mut n = 0;
    for (name, case) in cases {
        let types: Vec<&str> = case["types"]
            .as_array()
            .expect("types")
            .iter()
            .map(|t| t.as_str().expect("type string"))
            .collect();
        let args: Vec<AbiArg> = case["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(abi_arg)
            .collect();
        let result = unhex(case["result"].as_str().expect("result"));
        let enc = abi_encode_args(&types, &args).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex::encode(&enc),
            hex::encode(&result),
            "{name}: ABI encoding"
        );
        n += 1;
    }
    println!("basic_abi_tests.json: {n}/3 cases passed");
    assert_eq!(n, 3);
}
