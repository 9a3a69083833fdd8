//! The two secp256k1 ECDSA implementations behind [`keys`](super::keys), and the switch
//! between them.
//!
//! Owns: [`SignatureBackend`] (Bitcoin Core's libsecp256k1, the default, or RustCrypto's
//! k256), how the active one is chosen ([`active`], [`with_backend`], the
//! `XLN_SIGNATURE_BACKEND` environment variable), and the three primitives each backend
//! provides: public key from a secret scalar, RFC 6979 recoverable signing, and public-key
//! recovery. Everything else (strict parsing, low-S, strict `v`, verify-by-recovery,
//! addresses) lives once in `keys.rs` on top of these, so both backends obey the same rules.
//!
//! Why two: libsecp256k1 is about 3x faster, and signatures are the floor of every frame;
//! k256 stays because the embedded EVM's `ecrecover` (revm) and alloy use it, and because
//! a second, independent implementation checked against the first (tests/crypto_props.rs,
//! tests/crypto_vectors.rs, benches/crypto.rs) catches a fault in either. Both sign with
//! RFC 6979 (HMAC-SHA256, no extra data), so their signatures are byte-identical; replay
//! determinism does not depend on which one a process uses.

use std::cell::Cell;
use std::sync::OnceLock;

use k256::ecdsa::hazmat::SignPrimitive;
use k256::elliptic_curve::ops::{LinearCombination, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::subtle::Choice;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, FieldBytes, NonZeroScalar, ProjectivePoint, Scalar};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{All, Message, Secp256k1};

use super::keys::{PublicKey, Signature};
use super::CryptoError;

/// Which secp256k1 implementation signs, derives keys and recovers. Results are identical
/// (checked by tests); only the speed differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureBackend {
    /// Bitcoin Core's libsecp256k1 (C, through the `secp256k1` crate): the default.
    Libsecp256k1,
    /// RustCrypto's pure-Rust k256: the reference the default is checked against.
    K256,
}

impl SignatureBackend {
    /// Both backends, default first: for tests and benchmarks that run each.
    pub const ALL: [SignatureBackend; 2] = [SignatureBackend::Libsecp256k1, SignatureBackend::K256];

    /// The name used by `XLN_SIGNATURE_BACKEND` and in benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            SignatureBackend::Libsecp256k1 => "libsecp256k1",
            SignatureBackend::K256 => "k256",
        }
    }

    /// Parses a backend name ("libsecp256k1" or "secp256k1", "k256"; any case).
    ///
    /// # Errors
    /// Returns the offending text for any other name.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "libsecp256k1" | "secp256k1" => Ok(SignatureBackend::Libsecp256k1),
            "k256" => Ok(SignatureBackend::K256),
            _ => Err(name.to_string()),
        }
    }
}

/// The environment variable that sets the process default, e.g.
/// `XLN_SIGNATURE_BACKEND=k256 cargo test` runs the whole suite on k256.
pub const BACKEND_ENV: &str = "XLN_SIGNATURE_BACKEND";

thread_local! {
    /// A per-thread override set by [`with_backend`]; per thread so that parallel tests
    /// comparing the backends do not change each other's.
    static OVERRIDE: Cell<Option<SignatureBackend>> = const { Cell::new(None) };
}

/// The process default: `XLN_SIGNATURE_BACKEND` if set to a known name, else
/// libsecp256k1. Read once. An unknown name is reported on stderr once and ignored (this
/// is a developer knob, not protocol input: both backends give the same results).
fn process_default() -> SignatureBackend {
    static DEFAULT: OnceLock<SignatureBackend> = OnceLock::new();
    *DEFAULT.get_or_init(|| match std::env::var(BACKEND_ENV) {
        Ok(name) => SignatureBackend::from_name(&name).unwrap_or_else(|bad| {
            eprintln!(
                "xln: {BACKEND_ENV}={bad:?} is not a signature backend (use libsecp256k1 or \
                 k256); using libsecp256k1"
            );
            SignatureBackend::Libsecp256k1
        }),
        Err(_) => SignatureBackend::Libsecp256k1,
    })
}

/// The backend this thread uses now: the [`with_backend`] override if one is in force,
/// else the process default. Cannot fail.
pub fn active() -> SignatureBackend {
    OVERRIDE.with(Cell::get).unwrap_or_else(process_default)
}

/// Runs `f` with `backend` active on this thread, then restores the previous choice (also
/// if `f` panics). Why: tests and benchmarks run the same code on both backends in one
/// process. Cannot fail.
pub fn with_backend<R>(backend: SignatureBackend, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<SignatureBackend>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|c| c.replace(Some(backend))));
    f()
}

// ---------------------------------------------------------------------------------------
// The primitives, dispatched
// ---------------------------------------------------------------------------------------

/// The public key of a secret scalar already checked to be in `1..n`.
pub(super) fn public_key(secret: &[u8; 32]) -> Result<PublicKey, CryptoError> {
    match active() {
        SignatureBackend::Libsecp256k1 => libsecp::public_key(secret),
        SignatureBackend::K256 => k256_impl::public_key(secret),
    }
}

/// RFC 6979 recoverable signature `(r, s, recovery id)`, low-S, recovery id 0/1.
pub(super) fn sign(secret: &[u8; 32], digest: &[u8; 32]) -> Result<Signature, CryptoError> {
    match active() {
        SignatureBackend::Libsecp256k1 => libsecp::sign(secret, digest),
        SignatureBackend::K256 => k256_impl::sign(secret, digest),
    }
}

/// The key that made `sig` over `digest`; `sig` has been validated (strict rules) already.
pub(super) fn recover(digest: &[u8; 32], sig: &Signature) -> Result<PublicKey, CryptoError> {
    match active() {
        SignatureBackend::Libsecp256k1 => libsecp::recover(digest, sig),
        SignatureBackend::K256 => k256_impl::recover(digest, sig),
    }
}

/// Builds the xln signature from a recovery id, refusing the x-reduced ids 2/3 (R.x >= n,
/// probability ~2^-127) that `v = 27/28` cannot carry.
fn signature_from_parts(r: [u8; 32], s: [u8; 32], recid: u8) -> Result<Signature, CryptoError> {
    if recid > 1 {
        return Err(CryptoError::SigningFailed);
    }
    Ok(Signature {
        r,
        s,
        v: 27 + recid,
    })
}

/// libsecp256k1 through the `secp256k1` crate: one process-wide context (creating one
/// costs far more than a signature), no allocation per call.
mod libsecp {
    use super::*;

    /// The shared context. libsecp256k1's multiplication tables are static; the context
    /// carries the signing blinding, seeded once from the OS when it can be (blinding
    /// protects the secret from side channels and never changes a signature's bytes, so
    /// determinism does not depend on it).
    fn context() -> &'static Secp256k1<All> {
        static CONTEXT: OnceLock<Secp256k1<All>> = OnceLock::new();
        CONTEXT.get_or_init(|| {
            let mut context = Secp256k1::new();
            let mut seed = [0u8; 32];
            if std::fs::File::open("/dev/urandom")
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))
                .is_ok()
            {
                context.seeded_randomize(&seed);
            }
            context
        })
    }

    fn secret_key(secret: &[u8; 32]) -> Result<secp256k1::SecretKey, CryptoError> {
        secp256k1::SecretKey::from_byte_array(*secret)
            .map_err(|_| CryptoError::ScalarOutOfRange { what: "secret key" })
    }

    pub(super) fn public_key(secret: &[u8; 32]) -> Result<PublicKey, CryptoError> {
        let mut key = secret_key(secret)?;
        let public = secp256k1::PublicKey::from_secret_key(context(), &key);
        key.non_secure_erase();
        Ok(PublicKey::from_libsecp(public))
    }

    pub(super) fn sign(secret: &[u8; 32], digest: &[u8; 32]) -> Result<Signature, CryptoError> {
        let mut key = secret_key(secret)?;
        // libsecp256k1's default nonce function is RFC 6979 (HMAC-SHA256) and it always
        // returns low-S, as k256 does.
        let sig = context().sign_ecdsa_recoverable(Message::from_digest(*digest), &key);
        key.non_secure_erase();
        let (recid, compact) = sig.serialize_compact();
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&compact[..32]);
        s.copy_from_slice(&compact[32..]);
        let recid = u8::try_from(i32::from(recid)).map_err(|_| CryptoError::SigningFailed)?;
        signature_from_parts(r, s, recid)
    }

    pub(super) fn recover(digest: &[u8; 32], sig: &Signature) -> Result<PublicKey, CryptoError> {
        let recid = RecoveryId::try_from(i32::from(sig.recovery_id()?))
            .map_err(|_| CryptoError::InvalidRecoveryId { v: sig.v })?;
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(&sig.r);
        compact[32..].copy_from_slice(&sig.s);
        let recoverable = RecoverableSignature::from_compact(&compact, recid)
            .map_err(|_| CryptoError::RecoveryFailed)?;
        context()
            .recover_ecdsa(Message::from_digest(*digest), &recoverable)
            .map(PublicKey::from_libsecp)
            .map_err(|_| CryptoError::RecoveryFailed)
    }
}

/// RustCrypto's k256, as xln used it before libsecp256k1 (the same code paths).
mod k256_impl {
    use super::*;

    fn scalar(secret: &[u8; 32]) -> Result<NonZeroScalar, CryptoError> {
        Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(FieldBytes::from(*secret)))
            .ok_or(CryptoError::ScalarOutOfRange { what: "secret key" })
    }

    fn from_point(point: &ProjectivePoint) -> Result<PublicKey, CryptoError> {
        let encoded = point.to_affine().to_encoded_point(false);
        PublicKey::from_sec1_bytes(encoded.as_bytes()).map_err(|_| CryptoError::RecoveryFailed)
    }

    pub(super) fn public_key(secret: &[u8; 32]) -> Result<PublicKey, CryptoError> {
        from_point(&(ProjectivePoint::GENERATOR * *scalar(secret)?))
    }

    pub(super) fn sign(secret: &[u8; 32], digest: &[u8; 32]) -> Result<Signature, CryptoError> {
        // What `SigningKey::sign_prehash_recoverable` does, without building a SigningKey
        // (which would multiply out the public key on every call).
        let (sig, recid) = scalar(secret)?
            .try_sign_prehashed_rfc6979::<sha2::Sha256>(&FieldBytes::from(*digest), &[])
            .map_err(|_| CryptoError::SigningFailed)?;
        let recid = recid.ok_or(CryptoError::SigningFailed)?;
        if recid.is_x_reduced() {
            return Err(CryptoError::SigningFailed);
        }
        // k256 already normalises to low-S and flips the recovery id accordingly; keep a
        // defensive check so the invariant does not depend on a dependency's internals.
        let (sig, y_odd) = match sig.normalize_s() {
            Some(low) => (low, !recid.is_y_odd()),
            None => (sig, recid.is_y_odd()),
        };
        let bytes = sig.to_bytes();
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..64]);
        signature_from_parts(r, s, u8::from(y_odd))
    }

    /// `Q = r^-1 (s·R - z·G)` where `R` is the curve point with x-coordinate `r` and
    /// y-parity `v - 27`: one multi-scalar multiplication.
    pub(super) fn recover(digest: &[u8; 32], sig: &Signature) -> Result<PublicKey, CryptoError> {
        let r = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(sig.r)))
            .ok_or(CryptoError::ScalarOutOfRange { what: "r" })?;
        let s = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(sig.s)))
            .ok_or(CryptoError::ScalarOutOfRange { what: "s" })?;
        let z = <Scalar as Reduce<k256::U256>>::reduce_bytes(&FieldBytes::from(*digest));
        let y_odd = Choice::from(u8::from(sig.v == 28));
        let big_r =
            Option::<AffinePoint>::from(AffinePoint::decompress(&FieldBytes::from(sig.r), y_odd))
                .ok_or(CryptoError::RecoveryFailed)?;
        let r_inv = Option::<Scalar>::from(r.invert()).ok_or(CryptoError::RecoveryFailed)?;
        let u1 = -(r_inv * z);
        let u2 = r_inv * s;
        let q = ProjectivePoint::lincomb(
            &ProjectivePoint::GENERATOR,
            &u1,
            &ProjectivePoint::from(big_r),
            &u2,
        );
        if q == ProjectivePoint::IDENTITY {
            return Err(CryptoError::RecoveryFailed);
        }
        from_point(&q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_is_scoped_and_restored() {
        let before = active();
        with_backend(SignatureBackend::K256, || {
            assert_eq!(active(), SignatureBackend::K256);
            with_backend(SignatureBackend::Libsecp256k1, || {
                assert_eq!(active(), SignatureBackend::Libsecp256k1);
            });
            assert_eq!(active(), SignatureBackend::K256);
        });
        assert_eq!(active(), before);
        let caught = std::panic::catch_unwind(|| {
            with_backend(SignatureBackend::K256, || panic!("inside"));
        });
        assert!(caught.is_err());
        assert_eq!(
            active(),
            before,
            "a panic inside must not leak the override"
        );
    }

    #[test]
    fn names_round_trip() {
        for b in SignatureBackend::ALL {
            assert_eq!(SignatureBackend::from_name(b.name()), Ok(b));
        }
        assert_eq!(
            SignatureBackend::from_name("SECP256K1"),
            Ok(SignatureBackend::Libsecp256k1)
        );
        assert!(SignatureBackend::from_name("openssl").is_err());
    }
}
