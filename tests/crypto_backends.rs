//! The two signature backends (libsecp256k1, the default, and k256) checked against each
//! other: for random keys and digests they derive the same public key, produce
//! byte-identical RFC 6979 signatures (replay determinism depends on it), verify each
//! other's signatures and recover the same key and address; for random well-formed
//! `(r, s, v)` both recover the same key or both refuse with the same error; and both
//! refuse the same malformed inputs. Also checks the `SignatureBackend` switch itself.
//!
//! To run the whole suite on k256 instead: `XLN_SIGNATURE_BACKEND=k256 cargo test`.

use proptest::prelude::*;
use xln::crypto::backend::active;
use xln::crypto::keys::SECP256K1_ORDER;
use xln::crypto::{
    keccak256, recover, recover_address, sign_digest, verify, verify_address, with_backend,
    CryptoError, PublicKey, SecretKey, Signature, SignatureBackend,
};

const LIBSECP: SignatureBackend = SignatureBackend::Libsecp256k1;
const K256: SignatureBackend = SignatureBackend::K256;

fn on<R>(backend: SignatureBackend, f: impl FnOnce() -> R) -> R {
    with_backend(backend, f)
}

/// n - s as a 32-byte word, by byte-wise subtraction.
fn neg_mod_n(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(SECP256K1_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = (d + 256 * borrow) as u8;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Same key, same digest: both backends give the same public key and the same
    /// signature bytes; each verifies and recovers the other's.
    #[test]
    fn backends_agree_on_sign_verify_recover(secret in any::<[u8; 32]>(), digest in any::<[u8; 32]>(),
                                             other in any::<[u8; 32]>()) {
        let a = on(LIBSECP, || SecretKey::from_bytes(&secret));
        let b = on(K256, || SecretKey::from_bytes(&secret));
        prop_assert_eq!(a.is_ok(), b.is_ok());
        let (Ok(a), Ok(b)) = (a, b) else { return Ok(()); };
        prop_assert_eq!(a.public_key(), b.public_key());
        prop_assert_eq!(a.address(), b.address());
        let key = a;

        let sig_a = on(LIBSECP, || sign_digest(&key, &digest)).unwrap();
        let sig_b = on(K256, || sign_digest(&key, &digest)).unwrap();
        prop_assert_eq!(sig_a.to_bytes(), sig_b.to_bytes(), "RFC 6979 signatures differ");

        for backend in SignatureBackend::ALL {
            on(backend, || -> Result<(), TestCaseError> {
                prop_assert_eq!(verify(&key.public_key(), &digest, &sig_a), Ok(()));
                prop_assert_eq!(verify_address(&key.address(), &digest, &sig_a), Ok(()));
                prop_assert_eq!(recover(&digest, &sig_a), Ok(key.public_key()));
                prop_assert_eq!(recover_address(&digest, &sig_a), Ok(key.address()));
                if other != digest {
                    prop_assert_eq!(verify(&key.public_key(), &other, &sig_a),
                                    Err(CryptoError::VerificationFailed));
                }
                let flipped = Signature { v: if sig_a.v == 27 { 28 } else { 27 }, ..sig_a };
                prop_assert!(verify(&key.public_key(), &digest, &flipped).is_err());
                let high = Signature { s: neg_mod_n(&sig_a.s), ..flipped };
                prop_assert_eq!(recover(&digest, &high), Err(CryptoError::HighS));
                Ok(())
            })?;
        }
    }

    /// Arbitrary well-formed `(r, s, v)` over an arbitrary digest: both backends recover the
    /// same key, or both refuse with the same error (most `r` are not an x-coordinate).
    #[test]
    fn backends_agree_on_arbitrary_recovery(r in any::<[u8; 32]>(), s in any::<[u8; 32]>(),
                                            odd in any::<bool>(), digest in any::<[u8; 32]>()) {
        let mut s = s;
        s[0] &= 0x7f; // low-S
        let Ok(sig) = Signature::new(r, s, if odd { 28 } else { 27 }) else {
            return Ok(()); // r >= n or zero: refused before any backend runs
        };
        let a = on(LIBSECP, || recover(&digest, &sig));
        let b = on(K256, || recover(&digest, &sig));
        prop_assert_eq!(&a, &b);
        if let Ok(key) = a {
            prop_assert_eq!(on(LIBSECP, || verify(&key, &digest, &sig)), Ok(()));
            prop_assert_eq!(on(K256, || verify(&key, &digest, &sig)), Ok(()));
        }
    }

    /// Raw 65-byte signatures from anywhere: both backends accept or refuse alike.
    #[test]
    fn backends_agree_on_raw_bytes(raw in prop::collection::vec(any::<u8>(), 65), digest in any::<[u8; 32]>()) {
        let parsed = Signature::from_bytes(&raw);
        if let Ok(sig) = parsed {
            let a = on(LIBSECP, || recover_address(&digest, &sig));
            let b = on(K256, || recover_address(&digest, &sig));
            prop_assert_eq!(a, b);
        }
    }
}

/// The edge cases, named: r or s zero or `>= n`, high-S, v other than 27/28 (0/1 only
/// through `from_recovery_id`), an `r` that is no x-coordinate; identical refusals.
#[test]
fn backends_refuse_the_same_malformed_signatures() {
    let key = SecretKey::from_seed(b"edge cases");
    let digest = keccak256(b"edge");
    let good = sign_digest(&key, &digest).unwrap();
    let cases: Vec<(&str, Signature, CryptoError)> = vec![
        (
            "r = 0",
            Signature { r: [0; 32], ..good },
            CryptoError::ScalarOutOfRange { what: "r" },
        ),
        (
            "s = 0",
            Signature { s: [0; 32], ..good },
            CryptoError::ScalarOutOfRange { what: "s" },
        ),
        (
            "r = n",
            Signature {
                r: SECP256K1_ORDER,
                ..good
            },
            CryptoError::ScalarOutOfRange { what: "r" },
        ),
        (
            "s = n - s",
            Signature {
                s: neg_mod_n(&good.s),
                ..good
            },
            CryptoError::HighS,
        ),
        (
            "v = 0",
            Signature { v: 0, ..good },
            CryptoError::InvalidRecoveryId { v: 0 },
        ),
        (
            "v = 1",
            Signature { v: 1, ..good },
            CryptoError::InvalidRecoveryId { v: 1 },
        ),
        (
            "v = 29",
            Signature { v: 29, ..good },
            CryptoError::InvalidRecoveryId { v: 29 },
        ),
        // x = 5: x^3 + 7 = 132 is not a square mod p, so no curve point has this x.
        (
            "r not an x-coordinate",
            Signature {
                r: {
                    let mut r = [0u8; 32];
                    r[31] = 5;
                    r
                },
                ..good
            },
            CryptoError::RecoveryFailed,
        ),
    ];
    for (name, sig, expected) in cases {
        for backend in SignatureBackend::ALL {
            let got = on(backend, || recover(&digest, &sig));
            assert_eq!(got, Err(expected.clone()), "{name} on {}", backend.name());
            let got = on(backend, || verify(&key.public_key(), &digest, &sig));
            assert_eq!(
                got,
                Err(expected.clone()),
                "{name} (verify) on {}",
                backend.name()
            );
        }
    }
    // 0/1 are accepted only through the explicit constructor, which stores 27/28.
    let from_id = Signature::from_recovery_id(good.r, good.s, good.v - 27).unwrap();
    assert_eq!(from_id, good);
    assert_eq!(
        Signature::from_recovery_id(good.r, good.s, 2),
        Err(CryptoError::InvalidRecoveryId { v: 2 })
    );
}

/// Public keys: both SEC1 forms parse to the same key; hybrid (06/07), compact (05) and
/// off-curve points are refused.
#[test]
fn public_key_encodings() {
    let key = SecretKey::from_seed(b"sec1").public_key();
    let unc = key.to_uncompressed();
    let comp = key.to_compressed();
    assert_eq!(PublicKey::from_sec1_bytes(&unc), Ok(key));
    assert_eq!(PublicKey::from_sec1_bytes(&comp), Ok(key));
    let mut hybrid = unc;
    hybrid[0] = 0x06 + (unc[64] & 1);
    assert_eq!(
        PublicKey::from_sec1_bytes(&hybrid),
        Err(CryptoError::InvalidPublicKey)
    );
    let mut compact = comp;
    compact[0] = 0x05;
    assert_eq!(
        PublicKey::from_sec1_bytes(&compact),
        Err(CryptoError::InvalidPublicKey)
    );
    let mut off_curve = unc;
    off_curve[64] ^= 1;
    assert_eq!(
        PublicKey::from_sec1_bytes(&off_curve),
        Err(CryptoError::InvalidPublicKey)
    );
    assert_eq!(
        PublicKey::from_sec1_bytes(&unc[..64]),
        Err(CryptoError::InvalidPublicKey)
    );
}

/// The default backend is libsecp256k1 unless `XLN_SIGNATURE_BACKEND` says otherwise.
#[test]
fn default_backend_follows_the_environment() {
    let expected = match std::env::var(xln::crypto::backend::BACKEND_ENV) {
        Ok(name) => SignatureBackend::from_name(&name).unwrap_or(LIBSECP),
        Err(_) => LIBSECP,
    };
    assert_eq!(active(), expected);
}
