//! Hash functions: keccak-256 (Ethereum's hash, used for every xln digest), sha-256
//! (interop, e.g. HTLC hashlocks), and the EIP-191 "personal message" digest.
//!
//! These are total functions: any byte string hashes, nothing here can fail.

use sha2::Digest;

/// Keccak-256 (the original Keccak padding used by Ethereum, *not* NIST SHA3-256).
/// This is the hash of every xln frame, proof and board; it cannot fail.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    alloy_primitives::keccak256(data).0
}

/// SHA-256 (FIPS 180-4), for interoperability with Bitcoin/Lightning hashlocks.
/// It cannot fail.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// EIP-191 version 0x45 digest: `keccak256("\x19Ethereum Signed Message:\n" || len(msg) || msg)`,
/// where `len(msg)` is the decimal byte length. This is what wallets sign for
/// `personal_sign`; use it when a human-facing wallet must co-sign. It cannot fail.
pub fn personal_message_hash(msg: &[u8]) -> [u8; 32] {
    let prefix = format!("\x19Ethereum Signed Message:\n{}", msg.len());
    let mut buf = Vec::with_capacity(prefix.len() + msg.len());
    buf.extend_from_slice(prefix.as_bytes());
    buf.extend_from_slice(msg);
    keccak256(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_message_matches_alloy() {
        for msg in [&b""[..], b"hello", &[0u8; 100][..]] {
            assert_eq!(
                personal_message_hash(msg),
                alloy_primitives::eip191_hash_message(msg).0
            );
        }
    }

    #[test]
    fn keccak_is_not_sha3() {
        // keccak256("") as published by the Ethereum yellow paper (alloy's constant).
        assert_eq!(keccak256(b""), alloy_primitives::KECCAK256_EMPTY.0);
        assert_ne!(keccak256(b""), sha256(b""));
    }
}
