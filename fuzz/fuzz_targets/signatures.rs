//! Signature, address, public-key and hanko parsing. Strict parsers accept exactly one
//! encoding (accepted bytes re-encode to themselves); a hanko built from real, bit-flipped
//! and foreign signatures over a 3-of-4 board verifies exactly when every entry is a real
//! board signature and the entries reach the threshold (the oracle checks each entry
//! with both signature backends, which must agree).
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use xln::crypto::{
    keccak256, recover_address, verify_address, with_backend, Address, PublicKey, SecretKey,
    Signature, SignatureBackend,
};
use xln::entity::{Board, Hanko};

#[derive(Arbitrary, Debug)]
enum Entry {
    /// Validator `i`'s real signature over the digest.
    Real(u8),
    /// Validator `i`'s real signature with one bit flipped.
    Flipped(u8, u16),
    /// 65 arbitrary bytes claimed by validator `i`.
    Raw(u8, [u8; 65]),
    /// A stranger's real signature, claimed by validator `i`.
    Stranger(u8),
    /// A stranger's real signature under its own address.
    Outsider,
}

#[derive(Arbitrary, Debug)]
struct Input {
    signature: Vec<u8>,
    address: String,
    public_key: Vec<u8>,
    digest: [u8; 32],
    hanko: Vec<Entry>,
}

fn keys() -> &'static (Vec<SecretKey>, SecretKey, Board) {
    static KEYS: OnceLock<(Vec<SecretKey>, SecretKey, Board)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys: Vec<SecretKey> = (0..4)
            .map(|i| SecretKey::from_seed(format!("fuzz validator {i}").as_bytes()))
            .collect();
        let addresses: Vec<Address> = keys.iter().map(SecretKey::address).collect();
        let board = Board::equal(&addresses, 3).expect("3-of-4 board");
        (keys, SecretKey::from_seed(b"fuzz stranger"), board)
    })
}

fn parsers(input: &Input) {
    if let Ok(sig) = Signature::from_bytes(&input.signature) {
        assert_eq!(sig.to_bytes().as_slice(), input.signature.as_slice());
        let a = with_backend(SignatureBackend::Libsecp256k1, || {
            recover_address(&input.digest, &sig)
        });
        let b = with_backend(SignatureBackend::K256, || {
            recover_address(&input.digest, &sig)
        });
        assert_eq!(a, b, "the backends recover differently from {sig:?}");
    }
    if let Ok(address) = Address::from_hex(&input.address) {
        let text = input.address.as_str();
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        assert_eq!(
            address.to_checksum()[2..].to_lowercase(),
            digits.to_lowercase()
        );
        assert_eq!(Address::from_hex(&address.to_checksum()), Ok(address));
    }
    if let Ok(key) = PublicKey::from_sec1_bytes(&input.public_key) {
        let again = match input.public_key.len() {
            33 => key.to_compressed().to_vec(),
            _ => key.to_uncompressed().to_vec(),
        };
        assert_eq!(
            again, input.public_key,
            "a public key has one encoding per form"
        );
    }
}

fuzz_target!(|input: Input| {
    parsers(&input);
    let (validators, stranger, board) = keys();
    let digest = keccak256(&input.digest);
    let mut hanko = Hanko::default();
    for entry in input.hanko.iter().take(8) {
        let pick = |i: &u8| &validators[usize::from(*i) % 4];
        let (signer, sig) = match entry {
            Entry::Real(i) => (
                pick(i).address(),
                pick(i).sign_digest(&digest).expect("sign"),
            ),
            Entry::Flipped(i, bit) => {
                let mut raw = pick(i).sign_digest(&digest).expect("sign").to_bytes();
                raw[usize::from(*bit / 8) % 65] ^= 1 << (bit % 8);
                match Signature::from_bytes(&raw) {
                    Ok(sig) => (pick(i).address(), sig),
                    Err(_) => continue,
                }
            }
            Entry::Raw(i, raw) => match Signature::from_bytes(raw) {
                Ok(sig) => (pick(i).address(), sig),
                Err(_) => continue,
            },
            Entry::Stranger(i) => (
                pick(i).address(),
                stranger.sign_digest(&digest).expect("sign"),
            ),
            Entry::Outsider => (
                stranger.address(),
                stranger.sign_digest(&digest).expect("sign"),
            ),
        };
        hanko.0.insert(signer, sig);
    }
    let each_valid = hanko.0.iter().all(|(signer, sig)| {
        let a = with_backend(SignatureBackend::Libsecp256k1, || {
            verify_address(signer, &digest, sig)
        });
        let b = with_backend(SignatureBackend::K256, || {
            verify_address(signer, &digest, sig)
        });
        assert_eq!(a, b, "the backends disagree on {sig:?} by {signer}");
        board.contains(signer) && a.is_ok()
    });
    let expected = each_valid && hanko.0.len() >= 3;
    let got = hanko.verify(board, &digest);
    assert_eq!(
        got.is_ok(),
        expected,
        "hanko of {} entries: verify said {got:?}",
        hanko.0.len()
    );
});
