//! Payment onions: the route of a multi-hop payment wrapped once per hop, so that each hop
//! learns only its own instructions (where to forward, how much, with which timeout) and an
//! opaque onion for the next hop; the receiver learns it is the receiver.
//!
//! # Construction (reviewed primitives only)
//! A layer for a hop with onion public key `P` is
//! `E (33 bytes, compressed) || len (u16, big-endian) || AEAD(k, plaintext)`, padded to
//! exactly [`ONION_BYTES`], where `E = e·G` for a one-time scalar `e`, the shared secret is
//! the x-coordinate of `e·P` (ECDH on secp256k1, k256), `k = HKDF-SHA256(salt =
//! "xln/onion/v1", ikm = shared, info = "key")`, and the AEAD is ChaCha20-Poly1305 with a
//! zero nonce (each key encrypts exactly one message) and the payment's hashlock as
//! associated data, so an onion cannot be moved onto another lock. The plaintext is
//! `u16 payload length || payload || inner layer (unpadded)`. Peeling decrypts, splits, and
//! re-pads the inner layer to [`ONION_BYTES`], so every hop sees an onion of the same size
//! whatever its position. Padding bytes come from HKDF of the same secret (`info = "pad"`).
//!
//! Deterministic: the one-time scalars derive from a seed the caller supplies (the sender
//! entity's secret and the payment), so a replayed log rebuilds the same onion.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::Sha256;

use super::keccak256;

/// Size of every onion, in bytes.
pub const ONION_BYTES: usize = 2_048;

/// Most hops one onion can carry (the routing layer keeps routes shorter).
pub const ONION_HOPS_MAX: usize = 12;

/// Longest payload of one hop, in bytes.
pub const HOP_PAYLOAD_BYTES_MAX: usize = 256;

const HEADER_BYTES: usize = 33 + 2;
const TAG_BYTES: usize = 16;

/// Why an onion could not be built or peeled. Peeling errors mean the onion is not for us
/// or was tampered with: the hop fails the payment back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OnionError {
    /// Wrong total size.
    #[error("an onion is exactly {ONION_BYTES} bytes, got {0}")]
    Size(usize),
    /// Too many hops or a payload too long to fit.
    #[error("the route does not fit an onion: {0}")]
    TooLarge(String),
    /// A public key that is not a secp256k1 point.
    #[error("hop {0}'s onion key is not a valid secp256k1 public key")]
    BadKey(usize),
    /// Decryption failed: not encrypted to this key, or altered.
    #[error("the onion does not decrypt with this entity's key (not for us, or altered)")]
    Undecryptable,
    /// Decrypted, but the layout is wrong.
    #[error("the decrypted onion layer is malformed: {0}")]
    Malformed(&'static str),
}

/// A hop's onion secret (32 bytes, a secp256k1 scalar) and its public key.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OnionSecret(#[serde(with = "crate::crypto::readable")] pub [u8; 32]);

impl std::fmt::Debug for OnionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnionSecret(..)")
    }
}

impl OnionSecret {
    /// A secret derived from `seed` (any bytes): keccak with a counter until it is a valid
    /// scalar (the chance of a retry is about 2^-128).
    pub fn from_seed(seed: &[u8]) -> Self {
        OnionSecret(scalar_from(seed))
    }

    /// The compressed public key (what profiles advertise).
    pub fn public_key(&self) -> [u8; 33] {
        match k256::SecretKey::from_slice(&self.0) {
            Ok(sk) => compressed(&sk.public_key()),
            // Unreachable for secrets made by from_seed; a zero key encrypts to no one.
            Err(_) => [0; 33],
        }
    }
}

fn scalar_from(seed: &[u8]) -> [u8; 32] {
    let mut counter = 0u64;
    loop {
        let mut input = seed.to_vec();
        input.extend_from_slice(&counter.to_be_bytes());
        let candidate = keccak256(&input);
        if k256::SecretKey::from_slice(&candidate).is_ok() {
            return candidate;
        }
        counter += 1;
    }
}

fn compressed(pk: &k256::PublicKey) -> [u8; 33] {
    let point = pk.to_encoded_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    out
}

fn keys(shared: &[u8]) -> ([u8; 32], Hkdf<Sha256>) {
    let hk = Hkdf::<Sha256>::new(Some(b"xln/onion/v1"), shared);
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8,160-byte output limit.
    let _ = hk.expand(b"key", &mut key);
    (key, hk)
}

fn pad(hk: &Hkdf<Sha256>, layer: &mut Vec<u8>) {
    let need = ONION_BYTES.saturating_sub(layer.len());
    let mut padding = vec![0u8; need];
    for (i, chunk) in padding.chunks_mut(255 * 32).enumerate() {
        let info = [b"pad".as_slice(), &(i as u32).to_be_bytes()].concat();
        let _ = hk.expand(&info, chunk);
    }
    layer.extend_from_slice(&padding);
}

/// Builds the onion for `hops` (each: the hop's onion public key and its payload, first hop
/// first) bound to `hashlock`; the one-time keys derive from `seed`.
///
/// # Errors
/// [`OnionError::TooLarge`] (too many hops, a payload too long, or the layers do not fit
/// [`ONION_BYTES`]), [`OnionError::BadKey`].
pub fn build_onion(
    hops: &[([u8; 33], Vec<u8>)],
    hashlock: &[u8; 32],
    seed: &[u8; 32],
) -> Result<Vec<u8>, OnionError> {
    if hops.is_empty() || hops.len() > ONION_HOPS_MAX {
        return Err(OnionError::TooLarge(format!(
            "{} hops, 1..={ONION_HOPS_MAX} allowed",
            hops.len()
        )));
    }
    let mut inner: Vec<u8> = Vec::new();
    let mut last_hk = None;
    for (index, (key, payload)) in hops.iter().enumerate().rev() {
        if payload.len() > HOP_PAYLOAD_BYTES_MAX {
            return Err(OnionError::TooLarge(format!(
                "hop {index}'s payload is {} bytes, at most {HOP_PAYLOAD_BYTES_MAX}",
                payload.len()
            )));
        }
        let recipient =
            k256::PublicKey::from_sec1_bytes(key).map_err(|_| OnionError::BadKey(index))?;
        let eph_seed = [seed.as_slice(), hashlock, &(index as u64).to_be_bytes()].concat();
        let eph = k256::SecretKey::from_slice(&scalar_from(&eph_seed))
            .map_err(|_| OnionError::BadKey(index))?;
        let shared = k256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), recipient.as_affine());
        let (key, hk) = keys(&shared.raw_secret_bytes()[..]);
        let mut plaintext = Vec::with_capacity(2 + payload.len() + inner.len());
        plaintext.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        plaintext.extend_from_slice(payload);
        plaintext.extend_from_slice(&inner);
        let cipher = ChaCha20Poly1305::new(&Key::from(key));
        let ciphertext = cipher
            .encrypt(
                &Nonce::default(),
                Payload {
                    msg: &plaintext,
                    aad: hashlock,
                },
            )
            .map_err(|_| OnionError::TooLarge("encryption failed".into()))?;
        let mut layer = Vec::with_capacity(HEADER_BYTES + ciphertext.len());
        layer.extend_from_slice(&compressed(&eph.public_key()));
        layer.extend_from_slice(&(ciphertext.len() as u16).to_be_bytes());
        layer.extend_from_slice(&ciphertext);
        if layer.len() > ONION_BYTES {
            return Err(OnionError::TooLarge(format!(
                "the layers need {} bytes, an onion has {ONION_BYTES}",
                layer.len()
            )));
        }
        inner = layer;
        last_hk = Some(hk);
    }
    if let Some(hk) = last_hk {
        pad(&hk, &mut inner);
    }
    Ok(inner)
}

/// What peeling one layer gives: this hop's payload, and the onion for the next hop (None
/// when this hop is the last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peeled {
    /// This hop's payload.
    pub payload: Vec<u8>,
    /// The next hop's onion, re-padded to [`ONION_BYTES`].
    pub next: Option<Vec<u8>>,
}

/// Peels one layer with `secret` for the lock `hashlock`.
///
/// # Errors
/// [`OnionError::Size`], [`OnionError::Undecryptable`], [`OnionError::Malformed`]. Never
/// panics on any bytes.
pub fn peel_onion(
    secret: &OnionSecret,
    onion: &[u8],
    hashlock: &[u8; 32],
) -> Result<Peeled, OnionError> {
    if onion.len() != ONION_BYTES {
        return Err(OnionError::Size(onion.len()));
    }
    let eph =
        k256::PublicKey::from_sec1_bytes(&onion[..33]).map_err(|_| OnionError::Undecryptable)?;
    let ct_len = usize::from(u16::from_be_bytes([onion[33], onion[34]]));
    let ciphertext = onion
        .get(HEADER_BYTES..HEADER_BYTES + ct_len)
        .ok_or(OnionError::Malformed("ciphertext length beyond the onion"))?;
    if ct_len < TAG_BYTES + 2 {
        return Err(OnionError::Malformed("ciphertext too short"));
    }
    let sk = k256::SecretKey::from_slice(&secret.0).map_err(|_| OnionError::Undecryptable)?;
    let shared = k256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), eph.as_affine());
    let (key, hk) = keys(&shared.raw_secret_bytes()[..]);
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let plaintext = cipher
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: ciphertext,
                aad: hashlock,
            },
        )
        .map_err(|_| OnionError::Undecryptable)?;
    let payload_len = usize::from(u16::from_be_bytes([plaintext[0], plaintext[1]]));
    let payload = plaintext
        .get(2..2 + payload_len)
        .ok_or(OnionError::Malformed("payload length beyond the layer"))?
        .to_vec();
    let rest = &plaintext[2 + payload_len..];
    let next = if rest.is_empty() {
        None
    } else {
        if rest.len() < HEADER_BYTES + TAG_BYTES || rest.len() > ONION_BYTES {
            return Err(OnionError::Malformed("inner layer of impossible size"));
        }
        let mut inner = rest.to_vec();
        pad(&hk, &mut inner);
        Some(inner)
    };
    Ok(Peeled { payload, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hop_peels_its_own_layer_and_sees_the_same_size() {
        let secrets: Vec<OnionSecret> = (0..4u8).map(|i| OnionSecret::from_seed(&[i])).collect();
        let hops: Vec<([u8; 33], Vec<u8>)> = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| (s.public_key(), vec![i as u8; 10 + i]))
            .collect();
        let lock = [7u8; 32];
        let onion = build_onion(&hops, &lock, &[1; 32]).unwrap();
        assert_eq!(onion.len(), ONION_BYTES);
        assert_eq!(onion, build_onion(&hops, &lock, &[1; 32]).unwrap());
        let mut current = onion;
        for (i, s) in secrets.iter().enumerate() {
            assert_eq!(
                peel_onion(&secrets[(i + 1) % 4], &current, &lock),
                Err(OnionError::Undecryptable),
                "another hop's key does not open layer {i}"
            );
            assert_eq!(
                peel_onion(s, &current, &[8; 32]),
                Err(OnionError::Undecryptable)
            );
            let peeled = peel_onion(s, &current, &lock).unwrap();
            assert_eq!(peeled.payload, vec![i as u8; 10 + i]);
            match peeled.next {
                Some(next) => {
                    assert_eq!(next.len(), ONION_BYTES);
                    current = next;
                }
                None => assert_eq!(i, 3),
            }
        }
    }

    #[test]
    fn garbage_and_tampering_are_refused_not_panics() {
        let s = OnionSecret::from_seed(b"x");
        let lock = [0u8; 32];
        let mut onion = build_onion(&[(s.public_key(), vec![1, 2, 3])], &lock, &[2; 32]).unwrap();
        assert!(peel_onion(&s, &onion, &lock).unwrap().next.is_none());
        onion[40] ^= 1;
        assert_eq!(
            peel_onion(&s, &onion, &lock),
            Err(OnionError::Undecryptable)
        );
        assert_eq!(peel_onion(&s, &[0u8; 10], &lock), Err(OnionError::Size(10)));
        for fill in [0u8, 2, 0xff] {
            assert!(peel_onion(&s, &vec![fill; ONION_BYTES], &lock).is_err());
        }
        let too_many: Vec<_> = (0..ONION_HOPS_MAX + 1)
            .map(|_| (s.public_key(), vec![]))
            .collect();
        assert!(matches!(
            build_onion(&too_many, &lock, &[0; 32]),
            Err(OnionError::TooLarge(_))
        ));
        assert!(matches!(
            build_onion(&[([9u8; 33], vec![])], &lock, &[0; 32]),
            Err(OnionError::BadKey(0))
        ));
    }
}
