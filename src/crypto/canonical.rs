//! THE canonical encoding of everything xln hashes or signs (account frames, entity
//! frames, proofs, board hashes). There is exactly one: [`Canonical::canonical_rlp`]
//! maps a value to an [`RlpItem`], its RLP encoding is the canonical byte string, and
//! keccak-256 of those bytes is the canonical hash. Two replicas that follow this spec
//! produce identical bytes; anything not covered here must not be hashed.
//!
//! # Specification (v1)
//!
//! | value | RLP item |
//! |---|---|
//! | unsigned integer (`u16`, `u32`, `u64`, `u128`, `usize`, `U256`, `BigUint`) | byte string: minimal big-endian, **zero is the empty string** (`0x80`); no leading zero bytes |
//! | `bool` | the integer 0 or 1 (`0x80` / `0x01`) |
//! | signed integer (`i16`, `i32`, `i64`, `i128`, `BigInt`) | 2-item list `[sign, magnitude]`: `sign` is the integer 0 (x >= 0) or 1 (x < 0), `magnitude` is the unsigned integer abs(x). Zero is `[0, 0]` = `c2 80 80`; "negative zero" `[1, 0]` is never produced |
//! | fixed-size bytes (`[u8; 32]`, `[u8; 20]`, [`Address`] (20), [`Signature`] (65: `r‖s‖v`)) | byte string of exactly that length (no stripping) |
//! | variable bytes (`[u8]`, `&[u8]`, `Vec<u8>`) | byte string |
//! | text (`str`, `String`) | byte string of its UTF-8 |
//! | sequence (`Vec<T>`, `[T]`, `[T; N]` for `T: Canonical`) | list of the elements' items, in order |
//! | `Option<T>` | `None` → empty list `c0`; `Some(x)` → one-item list `[x]` |
//! | tuple `(A, B)`, `(A, B, C)` | list `[a, b]`, `[a, b, c]` |
//! | map (`BTreeMap<K, V>`) | list of 2-item lists `[key, value]`, **sorted by the key's canonical bytes** (ascending, bytewise), not by Rust's `Ord`, so other languages can reproduce it |
//! | struct | [`tagged`]`(TAG, fields)`: the list `[TAG, field_1, ..., field_n]` with the fields in **declaration order** |
//! | enum | each variant is encoded as a struct with its own tag, e.g. `b"xln/tx/payment/v1"` |
//! | [`RlpItem`] | itself |
//!
//! `u8` deliberately does not implement [`Canonical`]: a `Vec<u8>` is a byte string,
//! never a list of small integers.
//!
//! **Domain tags.** `TAG` is a short ASCII byte string `xln/<kind>/v<version>`, e.g.
//! `b"xln/account-frame/v1"`. Every struct kind has its own tag, so two kinds of
//! structure can never encode (and hence hash) alike even when their fields coincide.
//! A tag is never reused: changing a struct's fields means bumping its version. Only
//! tagged structs should be hashed or signed at the top level.
//!
//! Decoding is the strict RLP decoder ([`RlpItem::decode`]) plus the strict integer
//! readers in [`super::rlp`]; since the encoding is injective per type and strict
//! decoding accepts only canonical bytes, `decode(encode(x)) == x` and no second byte
//! string decodes to the same value.

use std::collections::BTreeMap;

use alloy_primitives::U256;
use num_bigint::{BigInt, BigUint, Sign};

use super::{keccak256, rlp::uint_item, Address, RlpItem, Signature};

/// A value with one canonical byte encoding (see the module doc for the spec). Implement
/// `canonical_rlp` for new types (structs via [`tagged`]); the other two methods must not
/// be overridden.
pub trait Canonical {
    /// The value as an RLP item, per the module specification. Cannot fail.
    fn canonical_rlp(&self) -> RlpItem;

    /// The canonical bytes: the RLP encoding of [`Canonical::canonical_rlp`]. Cannot fail.
    fn canonical_bytes(&self) -> Vec<u8> {
        self.canonical_rlp().encode()
    }

    /// keccak-256 of [`Canonical::canonical_bytes`]: the value's identity for signing
    /// and for hash chains. Cannot fail.
    fn canonical_hash(&self) -> [u8; 32] {
        keccak256(&self.canonical_bytes())
    }
}

/// Builds a struct's canonical item: the list `[tag, fields...]`. Why: the domain tag
/// keeps different structure kinds apart; fields must be given in declaration order.
/// Cannot fail.
pub fn tagged(tag: &[u8], fields: Vec<RlpItem>) -> RlpItem {
    let mut items = Vec::with_capacity(fields.len() + 1);
    items.push(RlpItem::Bytes(tag.to_vec()));
    items.extend(fields);
    RlpItem::List(items)
}

/// The signed-integer item `[sign, magnitude]` from a sign and big-endian magnitude.
fn signed_item(negative: bool, magnitude_be: &[u8]) -> RlpItem {
    let mag = uint_item(magnitude_be);
    let negative = negative && !matches!(&mag, RlpItem::Bytes(b) if b.is_empty());
    RlpItem::List(vec![bool_item(negative), mag])
}

fn bool_item(b: bool) -> RlpItem {
    RlpItem::Bytes(if b { vec![1] } else { vec![] })
}

macro_rules! canonical_unsigned {
    ($($t:ty),*) => {$(
        impl Canonical for $t {
            fn canonical_rlp(&self) -> RlpItem {
                uint_item(&self.to_be_bytes())
            }
        }
    )*};
}
canonical_unsigned!(u16, u32, u64, u128, usize);

macro_rules! canonical_signed {
    ($($t:ty),*) => {$(
        impl Canonical for $t {
            fn canonical_rlp(&self) -> RlpItem {
                signed_item(*self < 0, &self.unsigned_abs().to_be_bytes())
            }
        }
    )*};
}
canonical_signed!(i16, i32, i64, i128);

impl Canonical for bool {
    fn canonical_rlp(&self) -> RlpItem {
        bool_item(*self)
    }
}

impl Canonical for U256 {
    fn canonical_rlp(&self) -> RlpItem {
        uint_item(&self.to_be_bytes::<32>())
    }
}

impl Canonical for BigUint {
    fn canonical_rlp(&self) -> RlpItem {
        uint_item(&self.to_bytes_be())
    }
}

impl Canonical for BigInt {
    fn canonical_rlp(&self) -> RlpItem {
        let (sign, mag) = self.to_bytes_be();
        signed_item(sign == Sign::Minus, &mag)
    }
}

impl Canonical for [u8; 32] {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.to_vec())
    }
}

impl Canonical for [u8; 20] {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.to_vec())
    }
}

impl Canonical for Address {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.0.to_vec())
    }
}

impl Canonical for Signature {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.to_bytes().to_vec())
    }
}

impl Canonical for [u8] {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.to_vec())
    }
}

impl Canonical for Vec<u8> {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.clone())
    }
}

impl Canonical for str {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.as_bytes().to_vec())
    }
}

impl Canonical for String {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::Bytes(self.as_bytes().to_vec())
    }
}

impl<T: Canonical> Canonical for [T] {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::List(self.iter().map(Canonical::canonical_rlp).collect())
    }
}

impl<T: Canonical> Canonical for Vec<T> {
    fn canonical_rlp(&self) -> RlpItem {
        self.as_slice().canonical_rlp()
    }
}

impl<T: Canonical, const N: usize> Canonical for [T; N] {
    fn canonical_rlp(&self) -> RlpItem {
        self.as_slice().canonical_rlp()
    }
}

impl<T: Canonical> Canonical for Option<T> {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::List(self.iter().map(Canonical::canonical_rlp).collect())
    }
}

impl<A: Canonical, B: Canonical> Canonical for (A, B) {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::List(vec![self.0.canonical_rlp(), self.1.canonical_rlp()])
    }
}

impl<A: Canonical, B: Canonical, C: Canonical> Canonical for (A, B, C) {
    fn canonical_rlp(&self) -> RlpItem {
        RlpItem::List(vec![
            self.0.canonical_rlp(),
            self.1.canonical_rlp(),
            self.2.canonical_rlp(),
        ])
    }
}

impl<K: Canonical, V: Canonical> Canonical for BTreeMap<K, V> {
    fn canonical_rlp(&self) -> RlpItem {
        let mut entries: Vec<(Vec<u8>, RlpItem)> = self
            .iter()
            .map(|(k, v)| {
                let key = k.canonical_rlp();
                (key.encode(), RlpItem::List(vec![key, v.canonical_rlp()]))
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        RlpItem::List(entries.into_iter().map(|(_, e)| e).collect())
    }
}

impl Canonical for RlpItem {
    fn canonical_rlp(&self) -> RlpItem {
        self.clone()
    }
}

impl<T: Canonical + ?Sized> Canonical for &T {
    fn canonical_rlp(&self) -> RlpItem {
        (**self).canonical_rlp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(x: &impl Canonical) -> String {
        alloy_primitives::hex::encode(x.canonical_bytes())
    }

    #[test]
    fn integers() {
        assert_eq!(hex(&0u64), "80");
        assert_eq!(hex(&127u64), "7f");
        assert_eq!(hex(&128u64), "8180");
        assert_eq!(hex(&1024u128), "820400");
        assert_eq!(hex(&U256::from(1024u64)), "820400");
        assert_eq!(hex(&BigUint::from(1024u64)), "820400");
        assert_eq!(hex(&true), "01");
        assert_eq!(hex(&false), "80");
        assert_eq!(hex(&0i128), "c28080");
        assert_eq!(hex(&-1i128), "c20101");
        assert_eq!(hex(&1i128), "c28001");
        assert_eq!(hex(&BigInt::from(0)), "c28080");
        assert_eq!(hex(&BigInt::from(-300)), "c40182012c");
        assert_eq!(hex(&i128::MIN), hex(&BigInt::from(i128::MIN)));
        assert_eq!(hex(&i64::MIN), hex(&BigInt::from(i64::MIN)));
    }

    #[test]
    fn bytes_and_collections() {
        assert_eq!(hex(&vec![1u8, 2, 3]), "83010203");
        assert_eq!(hex(&&b"\x05"[..]), "05");
        assert_eq!(hex(&vec![1u64, 2]), "c20102");
        assert_eq!(hex(&Option::<u64>::None), "c0");
        assert_eq!(hex(&Some(0u64)), "c180");
        assert_eq!(hex(&[0u8; 32]).len(), 66);
        let mut m = BTreeMap::new();
        m.insert(256u64, true);
        m.insert(2u64, false);
        // keys sorted by canonical bytes: 0x02 < 0x820100
        assert_eq!(hex(&m), "c8c20280c482010001");
    }

    #[test]
    fn tags_separate_kinds() {
        let a = tagged(b"xln/a/v1", vec![1u64.canonical_rlp()]);
        let b = tagged(b"xln/b/v1", vec![1u64.canonical_rlp()]);
        assert_ne!(a.canonical_hash(), b.canonical_hash());
        assert_eq!(RlpItem::decode(&a.canonical_bytes()), Ok(a));
    }
}
