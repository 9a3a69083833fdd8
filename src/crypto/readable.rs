//! Readable serde forms for persisted state: hashes, byte strings, keys, addresses and
//! signatures as `0x` hex strings, amounts ([`BigInt`]) as exact decimal strings. Why: a
//! snapshot must be a document a person can read and diff, and serde's defaults would
//! print a hash as a vector of 32 small integers and a `BigInt` as its u32 digits.
//!
//! Fields whose type holds a hash or an amount (also inside maps, vectors, options and
//! tuples) use `#[serde(with = "crate::crypto::readable")]`; the [`Readable`] trait maps
//! such a type to a serde-friendly representation and back. Maps become lists of
//! `#(key value)` pairs, so keys of any type (tuples, hashes) stay readable.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use num_bigint::BigInt;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Address, SecretKey, Signature};
use alloy_primitives::hex;

/// A type with a readable persisted representation. Implemented for hashes, amounts and
/// containers of them; [`plain_readable!`](crate::plain_readable) implements it as the
/// identity for types that already serialize readably.
pub trait Readable: Sized {
    /// The serde-friendly representation.
    type Repr: Serialize + DeserializeOwned;
    /// The value as its representation. Cannot fail.
    fn to_repr(&self) -> Self::Repr;
    /// The value back from its representation.
    ///
    /// # Errors
    /// A message naming what is malformed (bad hex, wrong length, not a decimal integer).
    fn from_repr(repr: Self::Repr) -> Result<Self, String>;
}

/// `serialize_with` for any [`Readable`] field.
///
/// # Errors
/// Whatever the serializer reports.
pub fn serialize<T: Readable, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    value.to_repr().serialize(s)
}

/// `deserialize_with` for any [`Readable`] field.
///
/// # Errors
/// The deserializer's errors, or the representation's own (bad hex, bad integer).
pub fn deserialize<'de, T: Readable, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let repr = T::Repr::deserialize(d)?;
    T::from_repr(repr).map_err(D::Error::custom)
}

/// `0x`-prefixed lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Parses `0x`-prefixed hex.
///
/// # Errors
/// A message if the prefix is missing or a digit is not hex.
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| format!("expected 0x-prefixed hex, got {text:?}"))?;
    hex::decode(digits).map_err(|e| format!("bad hex {text:?}: {e}"))
}

fn fixed<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let bytes = from_hex(text)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("expected {N} bytes of hex, got {} in {text:?}", bytes.len()))
}

impl Readable for [u8; 32] {
    type Repr = String;
    fn to_repr(&self) -> String {
        to_hex(self)
    }
    fn from_repr(repr: String) -> Result<Self, String> {
        fixed::<32>(&repr)
    }
}

/// Byte strings (payloads) as hex. `u8` itself is not [`Readable`], so this cannot clash
/// with the generic `Vec<T>` form.
impl Readable for Vec<u8> {
    type Repr = String;
    fn to_repr(&self) -> String {
        to_hex(self)
    }
    fn from_repr(repr: String) -> Result<Self, String> {
        from_hex(&repr)
    }
}

impl Readable for BigInt {
    type Repr = String;
    fn to_repr(&self) -> String {
        self.to_string()
    }
    fn from_repr(repr: String) -> Result<Self, String> {
        repr.parse()
            .map_err(|_| format!("expected a decimal integer, got {repr:?}"))
    }
}

impl<T: Readable> Readable for Option<T> {
    type Repr = Option<T::Repr>;
    fn to_repr(&self) -> Self::Repr {
        self.as_ref().map(T::to_repr)
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        repr.map(T::from_repr).transpose()
    }
}

impl<T: Readable> Readable for Vec<T> {
    type Repr = Vec<T::Repr>;
    fn to_repr(&self) -> Self::Repr {
        self.iter().map(T::to_repr).collect()
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        repr.into_iter().map(T::from_repr).collect()
    }
}

impl<T: Readable> Readable for VecDeque<T> {
    type Repr = Vec<T::Repr>;
    fn to_repr(&self) -> Self::Repr {
        self.iter().map(T::to_repr).collect()
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        repr.into_iter().map(T::from_repr).collect()
    }
}

impl<T: Readable + Ord> Readable for BTreeSet<T> {
    type Repr = Vec<T::Repr>;
    fn to_repr(&self) -> Self::Repr {
        self.iter().map(T::to_repr).collect()
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        repr.into_iter().map(T::from_repr).collect()
    }
}

impl<K: Readable + Ord, V: Readable> Readable for BTreeMap<K, V> {
    type Repr = Vec<(K::Repr, V::Repr)>;
    fn to_repr(&self) -> Self::Repr {
        self.iter()
            .map(|(k, v)| (k.to_repr(), v.to_repr()))
            .collect()
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (k, v) in repr {
            if map.insert(K::from_repr(k)?, V::from_repr(v)?).is_some() {
                return Err("a map lists one key twice".into());
            }
        }
        Ok(map)
    }
}

impl<A: Readable, B: Readable> Readable for (A, B) {
    type Repr = (A::Repr, B::Repr);
    fn to_repr(&self) -> Self::Repr {
        (self.0.to_repr(), self.1.to_repr())
    }
    fn from_repr((a, b): Self::Repr) -> Result<Self, String> {
        Ok((A::from_repr(a)?, B::from_repr(b)?))
    }
}

impl<A: Readable, B: Readable, C: Readable> Readable for (A, B, C) {
    type Repr = (A::Repr, B::Repr, C::Repr);
    fn to_repr(&self) -> Self::Repr {
        (self.0.to_repr(), self.1.to_repr(), self.2.to_repr())
    }
    fn from_repr((a, b, c): Self::Repr) -> Result<Self, String> {
        Ok((A::from_repr(a)?, B::from_repr(b)?, C::from_repr(c)?))
    }
}

/// Implements [`Readable`] as the identity for types whose serde form is already readable
/// (so they can sit inside a container next to a hash or an amount).
#[macro_export]
macro_rules! plain_readable {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::crypto::readable::Readable for $t {
            type Repr = $t;
            fn to_repr(&self) -> $t {
                self.clone()
            }
            fn from_repr(repr: $t) -> Result<Self, String> {
                Ok(repr)
            }
        }
    )*};
}

plain_readable!(u64, usize, bool, String, Address);

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        fixed::<20>(&text).map(Address).map_err(D::Error::custom)
    }
}

/// A signature as the hex of `r ‖ s ‖ v` (65 bytes). Read back as-is, without the range
/// checks of [`Signature::new`]: persisted state must restore exactly, and every use of a
/// signature re-validates it anyway.
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(&self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let b = fixed::<65>(&text).map_err(D::Error::custom)?;
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&b[..32]);
        s.copy_from_slice(&b[32..64]);
        Ok(Signature { r, s, v: b[64] })
    }
}

/// A secret key as hex. Only the simulator persists keys (they derive from its public
/// seed); a snapshot of real keys must be protected like the keys themselves.
impl Serialize for SecretKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(&self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let b = fixed::<32>(&text).map_err(D::Error::custom)?;
        SecretKey::from_bytes(&b).map_err(|e| D::Error::custom(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_and_reject_bad_text() {
        let h = [7u8; 32];
        assert_eq!(<[u8; 32]>::from_repr(h.to_repr()), Ok(h));
        assert!(<[u8; 32]>::from_repr("0x01".into()).is_err());
        assert!(<[u8; 32]>::from_repr("07".repeat(32)).is_err());
        let n: BigInt = "-123456789012345678901234567890".parse().unwrap();
        assert_eq!(n.to_repr(), "-123456789012345678901234567890");
        assert_eq!(BigInt::from_repr(n.to_repr()), Ok(n));
        assert!(BigInt::from_repr("12x".into()).is_err());
        let m: BTreeMap<u64, BigInt> = [(1, BigInt::from(5)), (2, BigInt::from(-5))].into();
        assert_eq!(BTreeMap::from_repr(m.to_repr()), Ok(m));
        assert!(
            BTreeMap::<u64, BigInt>::from_repr(vec![(1, "1".into()), (1, "2".into())]).is_err()
        );
    }
}
