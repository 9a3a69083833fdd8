//! RLP (Ethereum Recursive Length Prefix): the [`RlpItem`] tree, its encoding, and a
//! **strict** decoder built on `alloy_rlp::Header` (no second RLP implementation).
//!
//! Strictness matters because RLP is what xln hashes and signs: if two byte strings
//! decoded to the same item, a signed message could be re-encoded into a different
//! hash. [`RlpItem::decode`] therefore accepts exactly the bytes [`RlpItem::encode`]
//! produces and rejects:
//! * a long-form length (`0xb8..`/`0xf8..`) for a payload shorter than 56 bytes;
//! * a length-of-length with leading zero bytes;
//! * a single byte `< 0x80` wrapped as `0x81 xx`;
//! * a payload (or a list child) running past the end of its container;
//! * trailing bytes after the top-level item;
//! * list nesting deeper than [`MAX_RLP_DEPTH`] (so hostile input cannot exhaust the stack).
//!
//! Integers are byte strings holding the minimal big-endian representation; zero is the
//! empty string (`0x80`). [`uint_item`] builds one; [`decode_int`], [`decode_u64`] and
//! [`decode_u128`] read one back strictly (no leading zero byte, bounded size).

use alloy_rlp::Header;

use super::CryptoError;

/// Maximum list nesting accepted by [`RlpItem::decode`]. Deep enough for every xln
/// structure (they nest a handful of levels), shallow enough that recursion is safe.
pub const MAX_RLP_DEPTH: usize = 64;

/// One RLP value: a byte string or a list of values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RlpItem {
    /// A byte string (also how integers are represented).
    Bytes(Vec<u8>),
    /// A list of items.
    List(Vec<RlpItem>),
}

impl RlpItem {
    /// Encodes to RLP bytes. Cannot fail.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out` (avoids an allocation per nested item). Cannot fail.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            RlpItem::Bytes(b) => {
                if b.len() == 1 && b[0] < 0x80 {
                    out.push(b[0]);
                } else {
                    Header {
                        list: false,
                        payload_length: b.len(),
                    }
                    .encode(out);
                    out.extend_from_slice(b);
                }
            }
            RlpItem::List(items) => {
                Header {
                    list: true,
                    payload_length: items.iter().map(RlpItem::encoded_len).sum(),
                }
                .encode(out);
                for it in items {
                    it.encode_into(out);
                }
            }
        }
    }

    /// Number of bytes [`RlpItem::encode`] will produce. Cannot fail.
    pub fn encoded_len(&self) -> usize {
        match self {
            RlpItem::Bytes(b) if b.len() == 1 && b[0] < 0x80 => 1,
            RlpItem::Bytes(b) => alloy_rlp::length_of_length(b.len()) + b.len(),
            RlpItem::List(items) => {
                let payload: usize = items.iter().map(RlpItem::encoded_len).sum();
                alloy_rlp::length_of_length(payload) + payload
            }
        }
    }

    /// Strictly decodes exactly one item occupying all of `bytes`, with nesting limited
    /// to [`MAX_RLP_DEPTH`]. Why: every RLP message from a peer goes through here.
    ///
    /// # Errors
    /// [`CryptoError::Rlp`] for non-canonical or truncated encodings (see module doc),
    /// [`CryptoError::RlpTrailingBytes`], [`CryptoError::RlpTooDeep`].
    pub fn decode(bytes: &[u8]) -> Result<RlpItem, CryptoError> {
        Self::decode_with_max_depth(bytes, MAX_RLP_DEPTH)
    }

    /// As [`RlpItem::decode`] with a caller-chosen nesting limit (a top-level list has
    /// depth 1; a byte string has depth 0).
    ///
    /// # Errors
    /// As [`RlpItem::decode`].
    pub fn decode_with_max_depth(bytes: &[u8], max_depth: usize) -> Result<RlpItem, CryptoError> {
        let mut buf = bytes;
        let item = decode_item(&mut buf, 0, max_depth)?;
        if !buf.is_empty() {
            return Err(CryptoError::RlpTrailingBytes { extra: buf.len() });
        }
        Ok(item)
    }

    /// The byte string, or `None` for a list. Cannot fail.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RlpItem::Bytes(b) => Some(b),
            RlpItem::List(_) => None,
        }
    }

    /// The list items, or `None` for a byte string. Cannot fail.
    pub fn as_list(&self) -> Option<&[RlpItem]> {
        match self {
            RlpItem::List(l) => Some(l),
            RlpItem::Bytes(_) => None,
        }
    }

    /// The byte string, or an error naming the mismatch (for field-by-field decoding).
    ///
    /// # Errors
    /// [`CryptoError::RlpExpectedBytes`] if this is a list.
    pub fn bytes(&self) -> Result<&[u8], CryptoError> {
        self.as_bytes().ok_or(CryptoError::RlpExpectedBytes)
    }

    /// The list items, or an error naming the mismatch (for field-by-field decoding).
    ///
    /// # Errors
    /// [`CryptoError::RlpExpectedList`] if this is a byte string.
    pub fn list(&self) -> Result<&[RlpItem], CryptoError> {
        self.as_list().ok_or(CryptoError::RlpExpectedList)
    }
}

/// Decodes one item from the front of `buf`, advancing it. `depth` is the nesting level
/// of the list that contains this item.
fn decode_item(buf: &mut &[u8], depth: usize, max_depth: usize) -> Result<RlpItem, CryptoError> {
    // Header::decode enforces: canonical single byte, no long form below 56 bytes, no
    // leading zero in the length, and that the payload fits in `buf`.
    let first = *buf.first().ok_or(alloy_rlp::Error::InputTooShort)?;
    let header = Header::decode(buf)?;
    if first < 0x80 {
        // A single byte is its own payload; Header::decode does not consume it.
        let (b, rest) = buf.split_first().ok_or(alloy_rlp::Error::InputTooShort)?;
        *buf = rest;
        return Ok(RlpItem::Bytes(vec![*b]));
    }
    if buf.len() < header.payload_length {
        return Err(alloy_rlp::Error::InputTooShort.into());
    }
    let (mut payload, rest) = buf.split_at(header.payload_length);
    *buf = rest;
    if !header.list {
        return Ok(RlpItem::Bytes(payload.to_vec()));
    }
    if depth >= max_depth {
        return Err(CryptoError::RlpTooDeep { max: max_depth });
    }
    let mut items = Vec::new();
    while !payload.is_empty() {
        items.push(decode_item(&mut payload, depth + 1, max_depth)?);
    }
    Ok(RlpItem::List(items))
}

/// An unsigned integer as an RLP item: minimal big-endian bytes, zero as the empty
/// string. `be` may carry leading zero bytes (they are stripped), so any fixed-width
/// big-endian buffer works. Cannot fail.
pub fn uint_item(be: &[u8]) -> RlpItem {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    RlpItem::Bytes(be[start..].to_vec())
}

/// Reads an unsigned integer item strictly, returning its minimal big-endian bytes
/// (empty for zero). Why: integers in signed data must have one encoding only.
///
/// # Errors
/// [`CryptoError::RlpExpectedBytes`] for a list; [`CryptoError::RlpNonCanonicalInteger`]
/// if the first byte is zero; [`CryptoError::RlpOversizedInteger`] if longer than
/// `max_bytes`.
pub fn decode_int(item: &RlpItem, max_bytes: usize) -> Result<&[u8], CryptoError> {
    let b = item.bytes()?;
    if b.len() > max_bytes {
        return Err(CryptoError::RlpOversizedInteger {
            got: b.len(),
            max: max_bytes,
        });
    }
    if b.first() == Some(&0) {
        return Err(CryptoError::RlpNonCanonicalInteger);
    }
    Ok(b)
}

/// Reads a `u64` item strictly; see [`decode_int`].
///
/// # Errors
/// As [`decode_int`] with `max_bytes = 8`.
pub fn decode_u64(item: &RlpItem) -> Result<u64, CryptoError> {
    let b = decode_int(item, 8)?;
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Reads a `u128` item strictly; see [`decode_int`].
///
/// # Errors
/// As [`decode_int`] with `max_bytes = 16`.
pub fn decode_u128(item: &RlpItem) -> Result<u128, CryptoError> {
    let b = decode_int(item, 16)?;
    Ok(b.iter().fold(0u128, |acc, &x| (acc << 8) | u128::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &[u8]) -> CryptoError {
        RlpItem::decode(bytes).unwrap_err()
    }

    #[test]
    fn strictness() {
        // 0x81 0x05: single byte wrapped.
        assert_eq!(
            err(&[0x81, 0x05]),
            CryptoError::Rlp(alloy_rlp::Error::NonCanonicalSingleByte)
        );
        // long form for a 1-byte payload
        assert_eq!(
            err(&[0xb8, 0x01, 0x80]),
            CryptoError::Rlp(alloy_rlp::Error::NonCanonicalSize)
        );
        // leading zero in length-of-length
        let mut v = vec![0xb9, 0x00, 0x40];
        v.extend([0u8; 64]);
        assert_eq!(err(&v), CryptoError::Rlp(alloy_rlp::Error::LeadingZero));
        // payload past end
        assert_eq!(
            err(&[0x83, 0x01]),
            CryptoError::Rlp(alloy_rlp::Error::InputTooShort)
        );
        // list child past list end
        assert!(RlpItem::decode(&[0xc1, 0x82, 0x01, 0x02]).is_err());
        // trailing
        assert_eq!(
            err(&[0x80, 0x80]),
            CryptoError::RlpTrailingBytes { extra: 1 }
        );
        assert_eq!(err(&[]), CryptoError::Rlp(alloy_rlp::Error::InputTooShort));
    }

    #[test]
    fn depth_limit() {
        let mut deep = RlpItem::List(vec![]);
        for _ in 0..MAX_RLP_DEPTH - 1 {
            deep = RlpItem::List(vec![deep]);
        }
        assert!(RlpItem::decode(&deep.encode()).is_ok());
        let deeper = RlpItem::List(vec![deep]);
        assert_eq!(
            RlpItem::decode(&deeper.encode()),
            Err(CryptoError::RlpTooDeep { max: MAX_RLP_DEPTH })
        );
        // A hostile 100k-deep prefix must not overflow the stack.
        let mut hostile = Vec::new();
        for _ in 0..100_000 {
            hostile.extend([0xf8, 0x40]);
        }
        assert!(RlpItem::decode(&hostile).is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(uint_item(&[0, 0]).encode(), vec![0x80]);
        assert_eq!(uint_item(&[0, 0x7f]).encode(), vec![0x7f]);
        assert_eq!(
            uint_item(&1024u64.to_be_bytes()).encode(),
            vec![0x82, 0x04, 0x00]
        );
        assert_eq!(
            decode_u64(&uint_item(&u64::MAX.to_be_bytes())),
            Ok(u64::MAX)
        );
        assert_eq!(
            decode_u64(&RlpItem::Bytes(vec![0, 1])),
            Err(CryptoError::RlpNonCanonicalInteger)
        );
        assert_eq!(
            decode_u64(&RlpItem::Bytes(vec![1; 9])),
            Err(CryptoError::RlpOversizedInteger { got: 9, max: 8 })
        );
        assert_eq!(decode_u128(&RlpItem::Bytes(vec![])), Ok(0));
    }
}
