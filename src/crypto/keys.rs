//! secp256k1 keys, Ethereum addresses and recoverable ECDSA signatures.
//!
//! Owns: [`SecretKey`] (validated scalar, deterministic derivation from a seed),
//! [`PublicKey`], [`Address`] (EIP-55 checksummed display), [`Signature`] (65-byte
//! `r || s || v`), and [`sign_digest`] / [`verify`] / [`recover`] over 32-byte digests.
//!
//! Conventions, fixed so every replica agrees:
//! * Signing is deterministic (RFC 6979 nonces) and always produces **low-S**
//!   (`s <= n/2`) signatures.
//! * `v` is **27 or 28** everywhere in this API (`27 + recovery id`, the Ethereum
//!   `ecrecover` convention). Recovery ids 0/1 are accepted only through
//!   [`Signature::from_recovery_id`]; a 65-byte encoding with `v = 0/1` is rejected, so
//!   each signature has exactly one valid byte encoding.
//! * Parsing is strict: `r` and `s` must be in `1..n`, `s` must be low, `v` must be
//!   27/28. [`verify`] additionally checks that `v` is the right parity (it recovers
//!   and compares), so a flipped `v` does not verify.
//! * The digest passed in is signed as-is (no hashing inside); hash with
//!   [`keccak256`] or [`personal_message_hash`](super::personal_message_hash) first.
//! * The curve arithmetic is done by [`super::backend`] (libsecp256k1 by default, k256 on
//!   request); these rules are enforced here, once, for both.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::hex;
use zeroize::Zeroizing;

use super::{backend, keccak256, CryptoError};

/// secp256k1 group order n, big-endian.
const ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
];

/// floor(n / 2), big-endian: the largest accepted (low) `s`.
const HALF_ORDER: [u8; 32] = [
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
];

/// The secp256k1 group order n as big-endian bytes, for callers that validate scalars.
pub const SECP256K1_ORDER: [u8; 32] = ORDER;

/// True if the big-endian scalar is in `1..n`.
fn scalar_in_range(b: &[u8; 32]) -> bool {
    *b != [0u8; 32] && *b < ORDER
}

fn to_array32(bytes: &[u8]) -> Result<[u8; 32], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::InvalidKeyLength {
        got: bytes.len(),
        expected: 32,
    })
}

// ---------------------------------------------------------------------------------------
// Secret keys
// ---------------------------------------------------------------------------------------

/// A secp256k1 secret key: a scalar in `1..n`, with its public key computed once.
/// Construction validates the range, so every `SecretKey` can sign. Its `Debug` output is
/// redacted and its secret bytes are zeroised on drop.
#[derive(Clone)]
pub struct SecretKey {
    secret: Zeroizing<[u8; 32]>,
    public: PublicKey,
}

impl SecretKey {
    /// Parses 32 big-endian bytes. Why: keys arrive from files, seeds or test vectors and
    /// must be validated once at the boundary.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyLength`] unless exactly 32 bytes;
    /// [`CryptoError::ScalarOutOfRange`] if the value is zero or `>= n`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let secret = Zeroizing::new(to_array32(bytes)?);
        if !scalar_in_range(&secret) {
            return Err(CryptoError::ScalarOutOfRange { what: "secret key" });
        }
        let public = backend::public_key(&secret)?;
        Ok(SecretKey { secret, public })
    }

    /// Deterministically derives a key from arbitrary seed bytes (e.g. a name in a
    /// simulation): the scalar is `keccak256(seed)`; if that is zero or `>= n`
    /// (probability ~2^-128) it is re-hashed, `keccak256(previous)`, until valid. Why: test
    /// networks and the REPL need reproducible keys; this matches the ethereum-tests
    /// "seed -> key" convention. Never use a low-entropy seed for real funds. Cannot fail.
    pub fn from_seed(seed: &[u8]) -> Self {
        let mut h = keccak256(seed);
        loop {
            if let Ok(k) = Self::from_bytes(&h) {
                return k;
            }
            h = keccak256(&h);
        }
    }

    /// The 32 big-endian secret bytes. Why: to persist or export the key. Handle the
    /// result as a secret. Cannot fail.
    pub fn to_bytes(&self) -> [u8; 32] {
        *self.secret
    }

    /// The matching public key (the point `k·G`, computed at construction). Cannot fail.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The Ethereum address of this key. Cannot fail.
    pub fn address(&self) -> Address {
        self.public.address()
    }

    /// Signs a 32-byte digest; same as [`sign_digest`].
    ///
    /// # Errors
    /// [`CryptoError::SigningFailed`] with negligible probability (see [`sign_digest`]).
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, CryptoError> {
        sign_digest(self, digest)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<redacted>, address {})", self.address())
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        use k256::elliptic_curve::subtle::ConstantTimeEq;
        self.secret[..].ct_eq(&other.secret[..]).into()
    }
}

impl Eq for SecretKey {}

// ---------------------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------------------

/// A secp256k1 public key (a valid, non-identity curve point).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(secp256k1::PublicKey);

impl PublicKey {
    /// Parses a SEC1 point: 33 bytes compressed (`02/03 || x`) or 65 bytes uncompressed
    /// (`04 || x || y`). Why: keys received from peers must be checked to be on the curve.
    /// Other SEC1 forms (hybrid `06/07`, compact `05`) are refused, so a key has two
    /// accepted encodings, both listed here.
    ///
    /// # Errors
    /// [`CryptoError::InvalidPublicKey`] for any other length, prefix, or off-curve point.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        match (bytes.len(), bytes.first()) {
            (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => secp256k1::PublicKey::from_slice(bytes)
                .map(PublicKey)
                .map_err(|_| CryptoError::InvalidPublicKey),
            _ => Err(CryptoError::InvalidPublicKey),
        }
    }

    pub(super) fn from_libsecp(key: secp256k1::PublicKey) -> Self {
        PublicKey(key)
    }

    /// 65-byte uncompressed SEC1 encoding `04 || x || y`. Cannot fail.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        self.0.serialize_uncompressed()
    }

    /// 33-byte compressed SEC1 encoding `02/03 || x`. Cannot fail.
    pub fn to_compressed(&self) -> [u8; 33] {
        self.0.serialize()
    }

    /// Ethereum address: the last 20 bytes of `keccak256(x || y)` (the 64-byte point without
    /// the `04` prefix). Cannot fail.
    pub fn address(&self) -> Address {
        let unc = self.to_uncompressed();
        let h = keccak256(&unc[1..]);
        let mut a = [0u8; 20];
        a.copy_from_slice(&h[12..]);
        Address(a)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(0x{})", hex::encode(self.to_compressed()))
    }
}

// ---------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------

/// A 20-byte Ethereum address. `Display` prints the EIP-55 checksummed form with `0x`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// Wraps exactly 20 bytes. Why: addresses come out of RLP and ABI payloads as slices.
    ///
    /// # Errors
    /// [`CryptoError::InvalidAddress`] if the slice is not 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 20] = bytes.try_into().map_err(|_| CryptoError::InvalidAddress {
            reason: format!("{} bytes instead of 20", bytes.len()),
        })?;
        Ok(Address(arr))
    }

    /// Parses 40 hex digits with optional `0x`. All-lowercase and all-uppercase are
    /// accepted as-is; mixed case must be the correct EIP-55 checksum (it is a typo check).
    ///
    /// # Errors
    /// [`CryptoError::InvalidAddress`] for a wrong length, a non-hex digit, or a bad checksum.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if digits.len() != 40 {
            return Err(CryptoError::InvalidAddress {
                reason: format!("{} hex digits instead of 40", digits.len()),
            });
        }
        let mut arr = [0u8; 20];
        hex::decode_to_slice(digits, &mut arr).map_err(|e| CryptoError::InvalidAddress {
            reason: format!("not hex: {e}"),
        })?;
        let addr = Address(arr);
        let has_lower = digits.bytes().any(|c| c.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|c| c.is_ascii_uppercase());
        if has_lower && has_upper && addr.to_checksum()[2..] != *digits {
            return Err(CryptoError::InvalidAddress {
                reason: "mixed-case hex with a wrong EIP-55 checksum (probably a typo)".into(),
            });
        }
        Ok(addr)
    }

    /// EIP-55 checksummed hex with `0x`: hex letter `i` is uppercased when nibble `i` of
    /// `keccak256(lowercase_hex)` is >= 8. Cannot fail.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(self.0);
        let h = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (h[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            if c.is_ascii_alphabetic() && nibble >= 8 {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The raw 20 bytes. Cannot fail.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_checksum())
    }
}

impl FromStr for Address {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::from_hex(s)
    }
}

impl From<alloy_primitives::Address> for Address {
    fn from(a: alloy_primitives::Address) -> Self {
        Address(a.0 .0)
    }
}

impl From<Address> for alloy_primitives::Address {
    fn from(a: Address) -> Self {
        alloy_primitives::Address::from(a.0)
    }
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

/// A recoverable ECDSA signature, `r || s || v` (65 bytes), with `v` in **{27, 28}**
/// (`27 + recovery id`). The fields are public for inspection; [`verify`],
/// [`verify_address`], [`recover`] and [`recover_address`] re-validate them (via
/// [`Signature::validate`]), so a hand-built invalid value is rejected, never trusted.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature {
    /// `r`, big-endian, in `1..n`.
    pub r: [u8; 32],
    /// `s`, big-endian, in `1..=n/2` (low-S).
    pub s: [u8; 32],
    /// 27 or 28.
    pub v: u8,
}

impl Signature {
    /// Builds and validates a signature from its parts (`v` = 27/28).
    ///
    /// # Errors
    /// As [`Signature::validate`].
    pub fn new(r: [u8; 32], s: [u8; 32], v: u8) -> Result<Self, CryptoError> {
        let sig = Signature { r, s, v };
        sig.validate()?;
        Ok(sig)
    }

    /// Builds from a raw recovery id (0 or 1, as produced by libsecp256k1 or EIP-2718
    /// typed transactions' `y_parity`), storing `v = 27 + recid`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidRecoveryId`] unless `recid` is 0 or 1; otherwise as
    /// [`Signature::validate`].
    pub fn from_recovery_id(r: [u8; 32], s: [u8; 32], recid: u8) -> Result<Self, CryptoError> {
        if recid > 1 {
            return Err(CryptoError::InvalidRecoveryId { v: recid });
        }
        Self::new(r, s, 27 + recid)
    }

    /// Strictly parses the 65-byte form `r || s || v`. Why: signatures arrive from the
    /// network and must have exactly one accepted encoding.
    ///
    /// # Errors
    /// [`CryptoError::InvalidSignatureLength`] unless 65 bytes; otherwise as
    /// [`Signature::validate`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 65 {
            return Err(CryptoError::InvalidSignatureLength { got: bytes.len() });
        }
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..64]);
        Self::new(r, s, bytes[64])
    }

    /// The 65-byte encoding `r || s || v`. Cannot fail (does not validate; parse it back
    /// with [`Signature::from_bytes`] to check).
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = self.v;
        out
    }

    /// Checks the strict rules: `v` in {27, 28}; `r`, `s` in `1..n`; `s <= n/2`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidRecoveryId`], [`CryptoError::ScalarOutOfRange`] (`what` is
    /// "r" or "s"), or [`CryptoError::HighS`].
    pub fn validate(&self) -> Result<(), CryptoError> {
        if self.v != 27 && self.v != 28 {
            return Err(CryptoError::InvalidRecoveryId { v: self.v });
        }
        if !scalar_in_range(&self.r) {
            return Err(CryptoError::ScalarOutOfRange { what: "r" });
        }
        if !scalar_in_range(&self.s) {
            return Err(CryptoError::ScalarOutOfRange { what: "s" });
        }
        if self.s > HALF_ORDER {
            return Err(CryptoError::HighS);
        }
        Ok(())
    }

    /// The recovery id, `v - 27` (0 or 1).
    ///
    /// # Errors
    /// [`CryptoError::InvalidRecoveryId`] if `v` is not 27/28.
    pub fn recovery_id(&self) -> Result<u8, CryptoError> {
        match self.v {
            27 | 28 => Ok(self.v - 27),
            v => Err(CryptoError::InvalidRecoveryId { v }),
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature {{ r: 0x{}, s: 0x{}, v: {} }}",
            hex::encode(self.r),
            hex::encode(self.s),
            self.v
        )
    }
}

/// Signs a 32-byte digest with RFC 6979 deterministic nonces; the result is low-S with
/// `v` = 27/28. The same (key, digest) always gives the same signature, so replicas can
/// re-sign and compare; both backends ([`super::backend`]) give the same bytes. The digest
/// is used as-is (hash the message first).
///
/// # Errors
/// [`CryptoError::SigningFailed`] only if the RFC 6979 nonce yields `r = 0`, `s = 0` or an
/// `R` whose x-coordinate exceeds n (an unrepresentable recovery id); each has
/// probability below 2^-127. Retrying the same digest gives the same result.
pub fn sign_digest(key: &SecretKey, digest: &[u8; 32]) -> Result<Signature, CryptoError> {
    let sig = backend::sign(&key.secret, digest)?;
    // Both libraries return low-S, in-range signatures; check the strict rules here so
    // the invariant does not depend on a dependency's internals.
    sig.validate().map_err(|_| CryptoError::SigningFailed)?;
    Ok(sig)
}

/// Recovers the public key that produced `sig` over `digest` (Ethereum `ecrecover`).
///
/// # Errors
/// As [`Signature::validate`] for a malformed signature; [`CryptoError::RecoveryFailed`]
/// if no key matches (e.g. `r` is not the x-coordinate of a curve point, or the result
/// is the point at infinity).
pub fn recover(digest: &[u8; 32], sig: &Signature) -> Result<PublicKey, CryptoError> {
    sig.validate()?;
    backend::recover(digest, sig)
}

/// Recovers the signer's address; see [`recover`].
///
/// # Errors
/// As [`recover`].
pub fn recover_address(digest: &[u8; 32], sig: &Signature) -> Result<Address, CryptoError> {
    recover(digest, sig).map(|pk| pk.address())
}

/// Checks that `sig` over `digest` was made by `key`, **including** that `v` is the right
/// parity (verification is done by recovery and comparison), so only the one canonical
/// encoding of a signature is accepted.
///
/// # Errors
/// As [`Signature::validate`]; [`CryptoError::RecoveryFailed`] or
/// [`CryptoError::VerificationFailed`] if the signature is not by `key` over `digest`.
pub fn verify(key: &PublicKey, digest: &[u8; 32], sig: &Signature) -> Result<(), CryptoError> {
    // Recovery yields a valid, non-identity key or an error, so equality with `key` holds
    // exactly when `sig` is `key`'s signature over `digest` with the right parity.
    if recover(digest, sig)? == *key {
        Ok(())
    } else {
        Err(CryptoError::VerificationFailed)
    }
}

/// Checks that `sig` over `digest` was made by the key behind `address` (how xln checks
/// signatures, since entities are identified by address).
///
/// # Errors
/// As [`verify`].
pub fn verify_address(
    address: &Address,
    digest: &[u8; 32],
    sig: &Signature,
) -> Result<(), CryptoError> {
    if recover_address(digest, sig)? == *address {
        Ok(())
    } else {
        Err(CryptoError::VerificationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_order_is_half_of_order() {
        // n is odd, so floor(n/2) * 2 + 1 == n: check via big integers.
        let n = num_bigint::BigUint::from_bytes_be(&ORDER);
        let h = num_bigint::BigUint::from_bytes_be(&HALF_ORDER);
        assert_eq!(h * 2u32 + 1u32, n);
    }

    #[test]
    fn key_one_address() {
        let mut k = [0u8; 32];
        k[31] = 1;
        let sk = SecretKey::from_bytes(&k).unwrap();
        // The generator point's x coordinate (SEC 2).
        assert_eq!(
            hex::encode(&sk.public_key().to_compressed()[1..]),
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
    }

    #[test]
    fn rejects_bad_keys() {
        assert_eq!(
            SecretKey::from_bytes(&[1u8; 31]),
            Err(CryptoError::InvalidKeyLength {
                got: 31,
                expected: 32
            })
        );
        assert_eq!(
            SecretKey::from_bytes(&[0u8; 32]),
            Err(CryptoError::ScalarOutOfRange { what: "secret key" })
        );
        assert_eq!(
            SecretKey::from_bytes(&ORDER),
            Err(CryptoError::ScalarOutOfRange { what: "secret key" })
        );
        let mut below = ORDER;
        below[31] -= 1;
        assert!(SecretKey::from_bytes(&below).is_ok());
    }

    #[test]
    fn flipped_v_does_not_verify() {
        let sk = SecretKey::from_seed(b"alice");
        let d = keccak256(b"frame");
        let mut sig = sign_digest(&sk, &d).unwrap();
        verify(&sk.public_key(), &d, &sig).unwrap();
        sig.v = if sig.v == 27 { 28 } else { 27 };
        assert!(verify(&sk.public_key(), &d, &sig).is_err());
    }

    #[test]
    fn checksum_roundtrip() {
        let a = SecretKey::from_seed(b"bob").address();
        let s = a.to_checksum();
        assert_eq!(Address::from_hex(&s).unwrap(), a);
        assert_eq!(Address::from_hex(&s.to_lowercase()).unwrap(), a);
        // Flip the case of one letter: checksum must fail (if there is a letter).
        if let Some(pos) = s[2..].find(|c: char| c.is_ascii_alphabetic()) {
            let mut bad: Vec<char> = s.chars().collect();
            let c = bad[pos + 2];
            bad[pos + 2] = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
            let bad: String = bad.into_iter().collect();
            let has_mixed = bad[2..].chars().any(|c| c.is_ascii_lowercase())
                && bad[2..].chars().any(|c| c.is_ascii_uppercase());
            if has_mixed {
                assert!(Address::from_hex(&bad).is_err());
            }
        }
    }
}
