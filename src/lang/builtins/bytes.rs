//! Byte-string builtins: construction, hex in and out, concatenation, slicing, and
//! big-endian integer conversion (the shapes hashes, keys and signatures come in). They
//! accept R7RS bytevectors too and return immutable byte strings (`bytevectors.rs` has
//! the R7RS procedures).

use std::rc::Rc;

use num_bigint::{BigInt, Sign};
use num_traits::Signed;

use std::borrow::Cow;

use super::strings::text_arg as str_arg;
use super::{bool_value, index_arg, int_arg, list_arg, type_error, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::printer::hex;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

/// The bytes of argument `i`, of either kind (a bytevector's are copied, so callbacks may
/// change it).
pub fn octets<'v>(a: &'v [Value], i: usize, who: &str) -> Result<Cow<'v, [u8]>, LangError> {
    match &a[i] {
        Value::Bytes(b) => Ok(Cow::Borrowed(&**b)),
        Value::MBytes(b) => Ok(Cow::Owned(b.borrow().clone())),
        v => Err(type_error(who, i, "bytes", v)),
    }
}

pub fn byte_value(v: &Value, i: usize, who: &str) -> Result<u8, LangError> {
    match v {
        Value::Int(n) if (0..=255).contains(n) => Ok(*n as u8),
        v => Err(type_error(who, i, "a byte (0 to 255)", v)),
    }
}
fn is_bytes(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Bytes(_) | Value::MBytes(_)))
}
fn bytes(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = a
        .iter()
        .enumerate()
        .map(|(i, v)| byte_value(v, i, "bytes"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Bytes(Rc::from(b)))
}
fn make_bytes(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "make-bytes")?;
    interp.reserve(n as u64, "make-bytes")?;
    let fill = match a.get(1) {
        Some(v) => byte_value(v, 1, "make-bytes")?,
        None => 0,
    };
    Ok(Value::Bytes(Rc::from(vec![fill; n])))
}
fn bytes_length(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(octets(a, 0, "bytes-length")?.len() as i64))
}
fn bytes_ref(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "bytes-ref")?;
    let i = index_arg(a, 1, "bytes-ref")?;
    b.get(i)
        .map(|x| Value::Int(*x as i64))
        .ok_or_else(|| super::lists::range_error("bytes-ref", i, b.len()))
}
fn bytes_append(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let mut total = 0u64;
    for i in 0..a.len() {
        total += octets(a, i, "bytes-append")?.len() as u64;
    }
    interp.reserve(total, "bytes-append")?;
    let mut out = Vec::with_capacity(total as usize);
    for i in 0..a.len() {
        out.extend_from_slice(&octets(a, i, "bytes-append")?);
    }
    Ok(Value::Bytes(Rc::from(out)))
}
fn subbytes(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "subbytes")?;
    let start = index_arg(a, 1, "subbytes")?;
    let end = if a.len() > 2 {
        index_arg(a, 2, "subbytes")?
    } else {
        b.len()
    };
    if start > end || end > b.len() {
        return Err(value_error(
            "subbytes",
            format!("range {start}..{end} is outside {} bytes", b.len()),
        ));
    }
    Ok(Value::bytes(&b[start..end]))
}
fn bytes_to_hex(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(&hex(&octets(a, 0, "bytes->hex")?)))
}
fn hex_to_bytes(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = str_arg(a, 0, "hex->bytes")?;
    crate::lang::reader::decode_hex(&s)
        .map(|b| Value::Bytes(Rc::from(b)))
        .map_err(|m| value_error("hex->bytes", m))
}
fn string_to_bytes(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::bytes(str_arg(a, 0, "string->bytes")?.as_bytes()))
}
fn bytes_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "bytes->string")?;
    std::str::from_utf8(&b)
        .map(Value::string)
        .map_err(|e| value_error("bytes->string", format!("not valid UTF-8: {e}")))
}
fn bytes_to_list(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = octets(a, 0, "bytes->list")?.len() as u64;
    interp.reserve_items(n, crate::lang::memory::PAIR_BYTES, "bytes->list")?;
    Ok(Value::list(
        octets(a, 0, "bytes->list")?
            .iter()
            .map(|b| Value::Int(*b as i64))
            .collect::<Vec<_>>(),
    ))
}
fn list_to_bytes(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "list->bytes")?;
    let b = items
        .iter()
        .enumerate()
        .map(|(i, v)| byte_value(v, i, "list->bytes"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Bytes(Rc::from(b)))
}
/// Big-endian unsigned encoding, left-padded to `width` bytes if given.
fn integer_to_bytes(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = int_arg(a, 0, "integer->bytes")?;
    if n.is_negative() {
        return Err(value_error(
            "integer->bytes",
            "the integer must be non-negative",
        ));
    }
    let (_, mut raw) = n.to_bytes_be();
    if raw == [0] {
        raw.clear();
    }
    if a.len() > 1 {
        let width = index_arg(a, 1, "integer->bytes")?;
        interp.reserve(width as u64, "integer->bytes")?;
        if raw.len() > width {
            return Err(value_error(
                "integer->bytes",
                format!("{n} does not fit in {width} bytes"),
            ));
        }
        let mut padded = vec![0u8; width - raw.len()];
        padded.extend(raw);
        raw = padded;
    }
    Ok(Value::Bytes(Rc::from(raw)))
}
fn bytes_to_integer(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "bytes->integer")?;
    Ok(Value::from_bigint(BigInt::from_bytes_be(Sign::Plus, &b)))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "bytes?", 1, Some(1), is_bytes, "Is it a byte string?", "(bytes? #x\"00ff\") => #t";
    "bytes", 0, None, bytes, "Bytes from integers 0..255.", "(bytes 0 255) => #x\"00ff\"";
    "make-bytes", 1, Some(2), make_bytes, "n copies of a byte (default 0).", "(make-bytes 2 1) => #x\"0101\"";
    "bytes-length", 1, Some(1), bytes_length, "Number of bytes.", "(bytes-length #x\"00ff\") => 2";
    "bytes-ref", 2, Some(2), bytes_ref, "Byte at an index, as an integer.", "(bytes-ref #x\"00ff\" 1) => 255";
    "bytes-append", 0, None, bytes_append, "Concatenates byte strings.", "(bytes-append #x\"01\" #x\"02\") => #x\"0102\"";
    "subbytes", 2, Some(3), subbytes, "Bytes from start to end (exclusive).", "(subbytes #x\"010203\" 1) => #x\"0203\"";
    "bytes->hex", 1, Some(1), bytes_to_hex, "Lower-case hex text (no 0x).", "(bytes->hex #x\"00ff\") => \"00ff\"";
    "hex->bytes", 1, Some(1), hex_to_bytes, "Bytes from hex text (0x prefix optional).", "(hex->bytes \"0x00ff\") => #x\"00ff\"";
    "string->bytes", 1, Some(1), string_to_bytes, "UTF-8 encoding of a string.", "(string->bytes \"hi\") => #x\"6869\"";
    "bytes->string", 1, Some(1), bytes_to_string, "Decodes UTF-8 (error if invalid).", "(bytes->string #x\"6869\") => \"hi\"";
    "bytes->list", 1, Some(1), bytes_to_list, "The bytes as a list of integers.", "(bytes->list #x\"0102\") => (1 2)";
    "list->bytes", 1, Some(1), list_to_bytes, "Bytes from a list of integers.", "(list->bytes '(1 2)) => #x\"0102\"";
    "integer->bytes", 1, Some(2), integer_to_bytes, "Big-endian bytes of a non-negative integer, optionally padded.", "(integer->bytes 258 4) => #x\"00000102\"";
    "bytes->integer", 1, Some(1), bytes_to_integer, "Big-endian unsigned integer of the bytes.", "(bytes->integer #x\"0102\") => 258";
];
