//! The crypto layer of xln: everything that is hashed, signed, or encoded for hashing
//! goes through this module, so there is exactly one implementation of each primitive.
//!
//! | file | owns |
//! |---|---|
//! | `hash.rs` | keccak-256, sha-256, EIP-191 personal-message digests |
//! | `keys.rs` | secp256k1 secret/public keys, Ethereum addresses (EIP-55), recoverable signatures |
//! | `backend.rs` | the two ECDSA implementations under `keys.rs` (libsecp256k1 default, k256) and the switch |
//! | `rlp.rs` | the [`RlpItem`] tree, RLP encoding and *strict* decoding, integer helpers |
//! | `abi.rs` | Solidity ABI encoding/decoding of dynamic values, coercion from simple values |
//! | `merkle.rs` | domain-separated merkle roots and inclusion proofs |
//! | `onion.rs` | payment onions: per-hop ECDH + HKDF + ChaCha20-Poly1305 layers of one fixed size |
//! | `canonical.rs` | the [`Canonical`] trait: THE byte encoding of anything hashed or signed |
//! | `readable.rs` | readable serde forms (hex hashes/keys, decimal amounts) for persisted state |
//!
//! Every fallible function returns [`CryptoError`]; nothing here panics on external input.

#![warn(missing_docs)]

pub mod abi;
pub mod backend;
pub mod canonical;
pub mod hash;
pub mod keys;
pub mod merkle;
pub mod onion;
pub mod readable;
pub mod rlp;

pub use abi::{abi_decode, abi_encode, abi_encode_args, coerce, AbiArg};
pub use backend::{with_backend, SignatureBackend};
pub use canonical::{tagged, Canonical};
pub use hash::{keccak256, personal_message_hash, sha256};
pub use keys::{
    recover, recover_address, sign_digest, verify, verify_address, Address, PublicKey, SecretKey,
    Signature,
};
pub use merkle::{merkle_proof, merkle_root, verify_proof, MerkleProof, ProofStep};
pub use rlp::{decode_int, decode_u128, decode_u64, uint_item, RlpItem, MAX_RLP_DEPTH};

/// The single error type of the crypto layer. Each message says what is wrong and what the
/// caller can do about it; none of these is ever produced by a panic path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A secret key, hash or scalar had the wrong number of bytes.
    #[error("invalid key length: got {got} bytes, expected {expected}; pass exactly {expected} raw bytes (not hex text)")]
    InvalidKeyLength {
        /// Bytes received.
        got: usize,
        /// Bytes required.
        expected: usize,
    },
    /// A scalar (secret key, signature r or s) was zero or not below the curve order n.
    #[error("{what} is out of range: it must be in 1..n-1 (secp256k1 order); reject this input, or derive keys with SecretKey::from_seed")]
    ScalarOutOfRange {
        /// Which scalar was out of range ("secret key", "r", "s").
        what: &'static str,
    },
    /// A public key was not a valid SEC1 encoding of a point on secp256k1.
    #[error("invalid public key: expected a 33-byte compressed or 65-byte uncompressed secp256k1 point on the curve; reject this input")]
    InvalidPublicKey,
    /// An address had the wrong length, bad hex, or a wrong EIP-55 checksum.
    #[error("invalid address: {reason}; give 20 bytes or 40 hex digits (all lowercase, all uppercase, or correct EIP-55 mixed case)")]
    InvalidAddress {
        /// What is wrong with it.
        reason: String,
    },
    /// A signature was not exactly 65 bytes (r || s || v).
    #[error("invalid signature length: got {got} bytes, expected 65 (r || s || v)")]
    InvalidSignatureLength {
        /// Bytes received.
        got: usize,
    },
    /// The signature's s was in the upper half of the curve order (malleable form).
    #[error("signature s is above n/2 (high-S, malleable); only low-S signatures are accepted - the signer must normalise s to n - s and flip v")]
    HighS,
    /// The v byte of a signature was not 27 or 28.
    #[error("invalid recovery id v = {v}: xln signatures carry v = 27 or 28 (recovery id 0/1 plus 27); convert 0/1 by adding 27, reject anything else")]
    InvalidRecoveryId {
        /// The byte received.
        v: u8,
    },
    /// Public-key recovery found no valid key for this (digest, signature) pair.
    #[error("public key recovery failed: the signature does not correspond to any key for this digest; reject the signature")]
    RecoveryFailed,
    /// The signature is well formed but was not made by the expected key over this digest.
    #[error("signature verification failed: not signed by the expected key over this digest; reject the message")]
    VerificationFailed,
    /// ECDSA signing failed (probability about 2^-128: a nonce produced r or s = 0 or an x-reduced R).
    #[error("ECDSA signing failed for this key/digest pair (astronomically unlikely); sign a different digest or report a bug")]
    SigningFailed,
    /// The RLP input violated the encoding rules (alloy-rlp's diagnosis).
    #[error(
        "malformed RLP: {0}; the input is not canonical RLP - reject it rather than repairing it"
    )]
    Rlp(alloy_rlp::Error),
    /// Bytes remained after the single top-level RLP item.
    #[error("RLP has {extra} trailing byte(s) after the top-level item; a message must contain exactly one item")]
    RlpTrailingBytes {
        /// Number of unconsumed bytes.
        extra: usize,
    },
    /// RLP lists were nested deeper than the allowed limit.
    #[error("RLP nesting deeper than {max} levels; reject the input (hostile or corrupt)")]
    RlpTooDeep {
        /// The depth limit in force.
        max: usize,
    },
    /// An RLP integer had more bytes than the caller allows.
    #[error("oversized integer: {got} bytes, at most {max} allowed; the value does not fit the expected type - reject it")]
    RlpOversizedInteger {
        /// Bytes in the integer.
        got: usize,
        /// Maximum bytes allowed.
        max: usize,
    },
    /// An RLP integer was not minimal big-endian (it started with a zero byte).
    #[error("RLP integer has a leading zero byte; integers must be minimal big-endian (zero is the empty string 0x80) - reject it")]
    RlpNonCanonicalInteger,
    /// An RLP list appeared where a byte string was required.
    #[error("expected an RLP byte string but found a list; check the field layout of the message")]
    RlpExpectedBytes,
    /// An RLP byte string appeared where a list was required.
    #[error("expected an RLP list but found a byte string; check the field layout of the message")]
    RlpExpectedList,
    /// A Solidity type string could not be parsed or is unsupported.
    #[error("bad ABI type {ty:?}: {reason}; use a Solidity type such as uint256, address, bytes32, bytes, string, T[], (T1,T2)")]
    AbiType {
        /// The type string.
        ty: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A value did not fit the Solidity type it was to be encoded as.
    #[error("ABI value does not fit type {ty}: {reason}; pass a value of that type")]
    AbiValue {
        /// The Solidity type.
        ty: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// ABI encoding or decoding failed inside alloy-dyn-abi (e.g. truncated or malformed data).
    #[error("ABI error: {0}; the data does not match the given types - check the types or reject the data")]
    Abi(String),
    /// A merkle proof was requested for an index that is not in the list.
    #[error(
        "merkle leaf index {index} out of range for {count} leaves; ask for an index below {count}"
    )]
    MerkleIndexOutOfRange {
        /// Index requested.
        index: usize,
        /// Number of leaves.
        count: usize,
    },
    /// A merkle proof's shape does not match its leaf index and count.
    #[error("malformed merkle proof: {reason}; the proof was not produced by merkle_proof for this tree - reject it")]
    MerkleMalformedProof {
        /// What is inconsistent.
        reason: String,
    },
}

impl From<alloy_rlp::Error> for CryptoError {
    fn from(e: alloy_rlp::Error) -> Self {
        CryptoError::Rlp(e)
    }
}

impl From<alloy_dyn_abi::Error> for CryptoError {
    fn from(e: alloy_dyn_abi::Error) -> Self {
        CryptoError::Abi(e.to_string())
    }
}
