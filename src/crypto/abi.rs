//! Solidity ABI encoding and decoding (for on-chain settlement calls and depository
//! proofs), built on alloy-dyn-abi, plus coercion of simple dynamic values ([`AbiArg`],
//! what a script or JSON file provides) into typed ABI values.
//!
//! Encoding is the standard "params" encoding (what follows the 4-byte selector in
//! calldata): the values are encoded as one tuple. Supported types: `bool`, `uintN`,
//! `intN`, `address`, `bytesN`, `bytes`, `string`, `T[]`, `T[k]`, and tuples `(T1,T2,..)`;
//! `function` is rejected.
//!
//! Every value is checked against its type before encoding (structure *and* range: a
//! `uint32` above 2^32-1, an `int8` below -128, or a `bytes4` with non-zero bytes past
//! the fourth are errors), so the encoder never emits calldata a contract would reject.

use alloy_dyn_abi::{DynSolType, DynSolValue};
use alloy_primitives::{hex, I256, U256};
use num_bigint::{BigInt, Sign};

use super::{Address, CryptoError};

/// A simple, untyped value to be coerced to a Solidity type (the shape of JSON or of an
/// interpreter value). See [`coerce`] for which variant fits which type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbiArg {
    /// `true`/`false`, for `bool`.
    Bool(bool),
    /// An integer of any size, for `uintN`, `intN` (and 0/1 for `bool`).
    Int(BigInt),
    /// Text: decimal or `0x`-hex for integers, hex for `address`, `0x`-hex or UTF-8 for
    /// `bytes`/`bytesN`, UTF-8 for `string`.
    Str(String),
    /// Raw bytes, for `bytes`, `bytesN` and (20 bytes) `address`.
    Bytes(Vec<u8>),
    /// A list, for `T[]`, `T[k]` and tuples.
    List(Vec<AbiArg>),
}

/// Parses a Solidity type string such as `uint256` or `(address,bytes32)[]`.
///
/// # Errors
/// [`CryptoError::AbiType`] if it does not parse or is unsupported (`function`).
pub fn parse_type(ty: &str) -> Result<DynSolType, CryptoError> {
    let parsed = DynSolType::parse(ty).map_err(|e| CryptoError::AbiType {
        ty: ty.to_string(),
        reason: e.to_string(),
    })?;
    if contains_function(&parsed) {
        return Err(CryptoError::AbiType {
            ty: ty.to_string(),
            reason: "function types are not supported".into(),
        });
    }
    Ok(parsed)
}

fn contains_function(ty: &DynSolType) -> bool {
    match ty {
        DynSolType::Function => true,
        DynSolType::Array(t) | DynSolType::FixedArray(t, _) => contains_function(t),
        DynSolType::Tuple(ts) => ts.iter().any(contains_function),
        _ => false,
    }
}

/// ABI-encodes `values` as the parameter list `types` (calldata without selector).
/// Why: settlement transactions and proofs checked on-chain need byte-exact ABI.
///
/// # Errors
/// [`CryptoError::AbiType`] for a bad type string; [`CryptoError::AbiValue`] if the
/// counts differ or a value does not match its type or range.
pub fn abi_encode(types: &[&str], values: Vec<DynSolValue>) -> Result<Vec<u8>, CryptoError> {
    if types.len() != values.len() {
        return Err(CryptoError::AbiValue {
            ty: format!("({})", types.join(",")),
            reason: format!("{} values for {} types", values.len(), types.len()),
        });
    }
    for (ty, v) in types.iter().zip(&values) {
        let t = parse_type(ty)?;
        check_value(&t, v)?;
    }
    Ok(DynSolValue::Tuple(values).abi_encode_params())
}

/// Coerces simple values to `types` with [`coerce`], then [`abi_encode`]s them.
///
/// # Errors
/// As [`coerce`] and [`abi_encode`].
pub fn abi_encode_args(types: &[&str], args: &[AbiArg]) -> Result<Vec<u8>, CryptoError> {
    if types.len() != args.len() {
        return Err(CryptoError::AbiValue {
            ty: format!("({})", types.join(",")),
            reason: format!("{} values for {} types", args.len(), types.len()),
        });
    }
    let values = types
        .iter()
        .zip(args)
        .map(|(ty, a)| coerce(&parse_type(ty)?, a))
        .collect::<Result<Vec<_>, _>>()?;
    abi_encode(types, values)
}

/// Decodes parameter-encoded `data` as `types`. Why: reading contract return data and
/// events. Hostile input is safe: lengths and offsets are bounds-checked by alloy.
///
/// # Errors
/// [`CryptoError::AbiType`] for a bad type; [`CryptoError::Abi`] if the data is
/// truncated, has out-of-range offsets, or otherwise does not match.
pub fn abi_decode(types: &[&str], data: &[u8]) -> Result<Vec<DynSolValue>, CryptoError> {
    let parsed = types
        .iter()
        .map(|t| parse_type(t))
        .collect::<Result<Vec<_>, _>>()?;
    match DynSolType::Tuple(parsed).abi_decode_params(data)? {
        DynSolValue::Tuple(vals) => Ok(vals),
        other => Ok(vec![other]),
    }
}

fn value_err(ty: &DynSolType, reason: impl Into<String>) -> CryptoError {
    CryptoError::AbiValue {
        ty: ty.to_string(),
        reason: reason.into(),
    }
}

/// Recursively checks that `v` has the structure of `ty` and that integers and fixed
/// bytes are in range.
fn check_value(ty: &DynSolType, v: &DynSolValue) -> Result<(), CryptoError> {
    if !ty.matches(v) {
        return Err(value_err(ty, format!("value {v:?} has a different type")));
    }
    match (ty, v) {
        (DynSolType::Uint(bits), DynSolValue::Uint(x, _)) if x.bit_len() > *bits => {
            Err(value_err(ty, format!("{x} does not fit in {bits} bits")))
        }
        (DynSolType::Int(bits), DynSolValue::Int(x, _)) if !int_fits(x, *bits) => {
            Err(value_err(ty, format!("{x} does not fit in {bits} bits")))
        }
        (DynSolType::FixedBytes(n), DynSolValue::FixedBytes(w, _))
            if w.0.iter().skip(*n).any(|&b| b != 0) =>
        {
            Err(value_err(ty, format!("non-zero bytes after byte {n}")))
        }
        (DynSolType::Array(t), DynSolValue::Array(vs))
        | (DynSolType::FixedArray(t, _), DynSolValue::FixedArray(vs)) => {
            vs.iter().try_for_each(|v| check_value(t, v))
        }
        (DynSolType::Tuple(ts), DynSolValue::Tuple(vs)) => {
            ts.iter().zip(vs).try_for_each(|(t, v)| check_value(t, v))
        }
        _ => Ok(()),
    }
}

/// True if the two's-complement value fits in `bits` bits (sign-extension check).
fn int_fits(x: &I256, bits: usize) -> bool {
    if bits == 0 || bits >= 256 {
        return bits >= 256;
    }
    let top = x.into_raw() >> (bits - 1);
    top == U256::ZERO || top == (U256::MAX >> (bits - 1))
}

/// Text or bytes to bytes: `0x`-prefixed text is hex, other text is its UTF-8 bytes.
fn arg_bytes(ty: &DynSolType, a: &AbiArg) -> Result<Vec<u8>, CryptoError> {
    match a {
        AbiArg::Bytes(b) => Ok(b.clone()),
        AbiArg::Str(s) => match s.strip_prefix("0x") {
            Some(h) => hex::decode(h).map_err(|e| value_err(ty, format!("bad hex {s:?}: {e}"))),
            None => Ok(s.as_bytes().to_vec()),
        },
        other => Err(value_err(
            ty,
            format!("expected bytes or text, got {other:?}"),
        )),
    }
}

/// An integer argument as a BigInt: `Int` directly, `Str` as decimal or `0x` hex
/// (optionally with a leading `-`).
fn arg_int(ty: &DynSolType, a: &AbiArg) -> Result<BigInt, CryptoError> {
    match a {
        AbiArg::Int(n) => Ok(n.clone()),
        AbiArg::Str(s) => {
            let (neg, body) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let (digits, radix) = match body.strip_prefix("0x") {
                Some(h) => (h, 16),
                None => (body, 10),
            };
            // parse_bytes would accept its own sign and '_' separators; only plain digits here.
            let n = Some(digits)
                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_digit(radix)))
                .and_then(|d| BigInt::parse_bytes(d.as_bytes(), radix))
                .ok_or_else(|| value_err(ty, format!("{s:?} is not an integer")))?;
            Ok(if neg { -n } else { n })
        }
        other => Err(value_err(ty, format!("expected an integer, got {other:?}"))),
    }
}

fn list_items<'a>(ty: &DynSolType, a: &'a AbiArg) -> Result<&'a [AbiArg], CryptoError> {
    match a {
        AbiArg::List(items) => Ok(items),
        other => Err(value_err(ty, format!("expected a list, got {other:?}"))),
    }
}

/// Converts a simple value to the typed ABI value of `ty`:
/// * `bool` ← `Bool`, or `Int` 0/1;
/// * `uintN` ← non-negative `Int` or integer text (decimal / `0x` hex) below 2^N;
/// * `intN` ← `Int` or integer text in `-2^(N-1) .. 2^(N-1)-1`;
/// * `address` ← hex text (EIP-55 checked if mixed case) or 20 `Bytes`;
/// * `bytesN` ← `Bytes`, `0x` hex text, or other text as UTF-8, at most N bytes,
///   right-padded with zeros (Solidity's rule for short literals);
/// * `bytes` ← `Bytes`, `0x` hex text, or other text as UTF-8;
/// * `string` ← `Str`;
/// * `T[]` / `T[k]` / tuples ← `List` (exactly k / as many items as the tuple).
///
/// # Errors
/// [`CryptoError::AbiValue`] naming the type and the mismatch; [`CryptoError::AbiType`]
/// for `function`.
pub fn coerce(ty: &DynSolType, a: &AbiArg) -> Result<DynSolValue, CryptoError> {
    match ty {
        DynSolType::Bool => match a {
            AbiArg::Bool(b) => Ok(DynSolValue::Bool(*b)),
            AbiArg::Int(n) if *n == BigInt::from(0) => Ok(DynSolValue::Bool(false)),
            AbiArg::Int(n) if *n == BigInt::from(1) => Ok(DynSolValue::Bool(true)),
            other => Err(value_err(ty, format!("expected a boolean, got {other:?}"))),
        },
        DynSolType::Uint(bits) => {
            let n = arg_int(ty, a)?;
            let (sign, mag) = n.to_bytes_be();
            if sign == Sign::Minus {
                return Err(value_err(ty, format!("{n} is negative")));
            }
            let x = U256::try_from_be_slice(&mag)
                .filter(|x| x.bit_len() <= *bits)
                .ok_or_else(|| value_err(ty, format!("{n} does not fit in {bits} bits")))?;
            Ok(DynSolValue::Uint(x, *bits))
        }
        DynSolType::Int(bits) => {
            let n = arg_int(ty, a)?;
            let (sign, mag) = n.to_bytes_be();
            let too_big = || value_err(ty, format!("{n} does not fit in {bits} bits"));
            let m = U256::try_from_be_slice(&mag).ok_or_else(too_big)?;
            let raw = if sign == Sign::Minus {
                U256::ZERO.wrapping_sub(m)
            } else {
                m
            };
            let x = I256::from_raw(raw);
            // The sign must survive the conversion (rules out |n| >= 2^255 wrapping).
            if (sign == Sign::Minus) != x.is_negative() || !int_fits(&x, *bits) {
                return Err(too_big());
            }
            Ok(DynSolValue::Int(x, *bits))
        }
        DynSolType::Address => match a {
            AbiArg::Str(s) => Ok(DynSolValue::Address(Address::from_hex(s)?.into())),
            AbiArg::Bytes(b) => Ok(DynSolValue::Address(Address::from_slice(b)?.into())),
            other => Err(value_err(ty, format!("expected an address, got {other:?}"))),
        },
        DynSolType::FixedBytes(n) => {
            let b = arg_bytes(ty, a)?;
            if b.len() > (*n).min(32) {
                return Err(value_err(ty, format!("{} bytes, at most {n}", b.len())));
            }
            let mut word = [0u8; 32];
            word[..b.len()].copy_from_slice(&b);
            Ok(DynSolValue::FixedBytes(word.into(), *n))
        }
        DynSolType::Bytes => Ok(DynSolValue::Bytes(arg_bytes(ty, a)?)),
        DynSolType::String => match a {
            AbiArg::Str(s) => Ok(DynSolValue::String(s.clone())),
            other => Err(value_err(ty, format!("expected text, got {other:?}"))),
        },
        DynSolType::Array(t) => Ok(DynSolValue::Array(
            list_items(ty, a)?
                .iter()
                .map(|x| coerce(t, x))
                .collect::<Result<_, _>>()?,
        )),
        DynSolType::FixedArray(t, k) => {
            let items = list_items(ty, a)?;
            if items.len() != *k {
                return Err(value_err(
                    ty,
                    format!("{} items, expected {k}", items.len()),
                ));
            }
            Ok(DynSolValue::FixedArray(
                items
                    .iter()
                    .map(|x| coerce(t, x))
                    .collect::<Result<_, _>>()?,
            ))
        }
        DynSolType::Tuple(ts) => {
            let items = list_items(ty, a)?;
            if items.len() != ts.len() {
                return Err(value_err(
                    ty,
                    format!("{} items, expected {}", items.len(), ts.len()),
                ));
            }
            Ok(DynSolValue::Tuple(
                ts.iter()
                    .zip(items)
                    .map(|(t, x)| coerce(t, x))
                    .collect::<Result<_, _>>()?,
            ))
        }
        other => Err(CryptoError::AbiType {
            ty: other.to_string(),
            reason: "unsupported type".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        let t = parse_type("uint8").unwrap();
        assert!(coerce(&t, &AbiArg::Int(255.into())).is_ok());
        assert!(coerce(&t, &AbiArg::Int(256.into())).is_err());
        assert!(coerce(&t, &AbiArg::Int((-1).into())).is_err());
        let t = parse_type("int8").unwrap();
        assert!(coerce(&t, &AbiArg::Int((-128).into())).is_ok());
        assert!(coerce(&t, &AbiArg::Int((-129).into())).is_err());
        assert!(coerce(&t, &AbiArg::Int(127.into())).is_ok());
        assert!(coerce(&t, &AbiArg::Int(128.into())).is_err());
        let t = parse_type("int256").unwrap();
        let min: BigInt = -(BigInt::from(1) << 255usize);
        assert!(coerce(&t, &AbiArg::Int(min.clone())).is_ok());
        assert!(coerce(&t, &AbiArg::Int(min - 1)).is_err());
        assert!(coerce(&t, &AbiArg::Int(BigInt::from(1) << 255usize)).is_err());
        assert!(abi_encode(&["uint8"], vec![DynSolValue::Uint(U256::from(300), 8)]).is_err());
        assert!(parse_type("function").is_err());
    }

    #[test]
    fn negative_int_roundtrip() {
        let enc = abi_encode_args(&["int256"], &[AbiArg::Int((-1).into())]).unwrap();
        assert_eq!(enc, vec![0xff; 32]);
        let dec = abi_decode(&["int256"], &enc).unwrap();
        assert_eq!(dec, vec![DynSolValue::Int(I256::MINUS_ONE, 256)]);
    }
}
