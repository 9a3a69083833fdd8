//! R7RS bytevectors (6.9): `bytevector`, `make-bytevector`, `bytevector-u8-set!`, ...
//! They are mutable in place and print as `#u8(...)`; `#u8(...)` literals are read-only.
//! The reading procedures also accept the language's immutable byte strings (`#x"..."`).

use super::bytes::{byte_value, octets};
use super::strings::text_arg;
use super::{bool_value, index_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{MBytes, Primitive, Value};

type R = Result<Value, LangError>;

/// Optional start and end (arguments `from`, `from + 1`) within `len`.
fn bounds(a: &[Value], from: usize, len: usize, who: &str) -> Result<(usize, usize), LangError> {
    let start = if a.len() > from {
        index_arg(a, from, who)?
    } else {
        0
    };
    let end = if a.len() > from + 1 {
        index_arg(a, from + 1, who)?
    } else {
        len
    };
    if start > end || end > len {
        return Err(LangError::new(
            Code::Range,
            format!("{who}: range {start}..{end} is outside {len} bytes"),
        ));
    }
    Ok((start, end))
}

fn writable<'a>(a: &'a [Value], i: usize, who: &str) -> Result<&'a MBytes, LangError> {
    match &a[i] {
        Value::MBytes(b) if b.is_literal() => Err(value_error(
            who,
            "a literal bytevector is a constant and cannot be changed",
        )
        .with_hint("copy it first: (bytevector-copy #u8(...))")),
        Value::MBytes(b) => Ok(b),
        Value::Bytes(_) => Err(value_error(who, "#x\"...\" byte strings are immutable")
            .with_hint("make a bytevector with (bytevector-copy b)")),
        v => Err(type_error(who, i, "a bytevector", v)),
    }
}

fn bytevector(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = a
        .iter()
        .enumerate()
        .map(|(i, v)| byte_value(v, i, "bytevector"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::mbytes(b))
}
fn make_bytevector(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "make-bytevector")?;
    let fill = match a.get(1) {
        Some(v) => byte_value(v, 1, "make-bytevector")?,
        None => 0,
    };
    interp.reserve(n as u64, "make-bytevector")?;
    Ok(Value::mbytes(vec![fill; n]))
}
fn is_bytevector(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::MBytes(_) | Value::Bytes(_)))
}
fn bytevector_length(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(octets(a, 0, "bytevector-length")?.len() as i64))
}
fn bytevector_u8_ref(_: &mut Interp, a: &[Value], _: Span) -> R {
    let i = index_arg(a, 1, "bytevector-u8-ref")?;
    let b = octets(a, 0, "bytevector-u8-ref")?;
    b.get(i)
        .map(|x| Value::Int(i64::from(*x)))
        .ok_or_else(|| super::lists::range_error("bytevector-u8-ref", i, b.len()))
}
fn bytevector_u8_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = writable(a, 0, "bytevector-u8-set!")?;
    let i = index_arg(a, 1, "bytevector-u8-set!")?;
    let x = byte_value(&a[2], 2, "bytevector-u8-set!")?;
    let mut bytes = b.borrow_mut();
    let len = bytes.len();
    match bytes.get_mut(i) {
        Some(slot) => *slot = x,
        None => return Err(super::lists::range_error("bytevector-u8-set!", i, len)),
    }
    Ok(Value::Void)
}
fn bytevector_copy(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "bytevector-copy")?;
    let (start, end) = bounds(a, 1, b.len(), "bytevector-copy")?;
    Ok(Value::mbytes(b[start..end].to_vec()))
}
/// `(bytevector-copy! to at from [start end])`, correct when `to` and `from` overlap.
fn bytevector_copy_bang(_: &mut Interp, a: &[Value], _: Span) -> R {
    let at = index_arg(a, 1, "bytevector-copy!")?;
    let source = {
        let from = octets(a, 2, "bytevector-copy!")?;
        let (start, end) = bounds(a, 3, from.len(), "bytevector-copy!")?;
        from[start..end].to_vec()
    };
    let to = writable(a, 0, "bytevector-copy!")?;
    let mut bytes = to.borrow_mut();
    if at > bytes.len() || bytes.len() - at < source.len() {
        return Err(LangError::new(
            Code::Range,
            format!(
                "bytevector-copy!: {} bytes do not fit at {at} in {} bytes",
                source.len(),
                bytes.len()
            ),
        ));
    }
    bytes[at..at + source.len()].copy_from_slice(&source);
    Ok(Value::Void)
}
fn bytevector_append(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let mut total = 0u64;
    for i in 0..a.len() {
        total += octets(a, i, "bytevector-append")?.len() as u64;
    }
    interp.reserve(total, "bytevector-append")?;
    let mut out = Vec::with_capacity(total as usize);
    for i in 0..a.len() {
        out.extend_from_slice(&octets(a, i, "bytevector-append")?);
    }
    Ok(Value::mbytes(out))
}
fn utf8_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "utf8->string")?;
    let (start, end) = bounds(a, 1, b.len(), "utf8->string")?;
    std::str::from_utf8(&b[start..end])
        .map(Value::string)
        .map_err(|e| value_error("utf8->string", format!("not valid UTF-8: {e}")))
}
fn string_to_utf8(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = text_arg(a, 0, "string->utf8")?;
    let chars: Vec<char> = s.chars().collect();
    let (start, end) = bounds(a, 1, chars.len(), "string->utf8")?;
    let text: String = chars[start..end].iter().collect();
    Ok(Value::mbytes(text.into_bytes()))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "bytevector", 0, None, bytevector, "A new bytevector of the given bytes.", "(bytevector 1 2) => #u8(1 2)";
    "make-bytevector", 1, Some(2), make_bytevector, "A new bytevector of n copies of a byte (default 0).", "(make-bytevector 2 7) => #u8(7 7)";
    "bytevector?", 1, Some(1), is_bytevector, "Is it a bytevector (or an immutable byte string)?", "(bytevector? #u8(1)) => #t";
    "bytevector-length", 1, Some(1), bytevector_length, "Number of bytes.", "(bytevector-length #u8(1 2)) => 2";
    "bytevector-u8-ref", 2, Some(2), bytevector_u8_ref, "The byte at an index.", "(bytevector-u8-ref #u8(5 6) 1) => 6";
    "bytevector-u8-set!", 3, Some(3), bytevector_u8_set, "Replaces a byte in place.", "(let ([b (bytevector 1 2)]) (bytevector-u8-set! b 0 9) b) => #u8(9 2)";
    "bytevector-copy", 1, Some(3), bytevector_copy, "A new bytevector of the bytes from start to end.", "(bytevector-copy #u8(1 2 3) 1) => #u8(2 3)";
    "bytevector-copy!", 3, Some(5), bytevector_copy_bang, "(bytevector-copy! to at from [start end]): copies bytes in place.", "(let ([b (make-bytevector 3 0)]) (bytevector-copy! b 1 #u8(7 8)) b) => #u8(0 7 8)";
    "bytevector-append", 0, None, bytevector_append, "A new bytevector of the bytes of each in turn.", "(bytevector-append #u8(1) #u8(2)) => #u8(1 2)";
    "utf8->string", 1, Some(3), utf8_to_string, "Decodes UTF-8 bytes (from start to end) into a string.", "(utf8->string #u8(104 105)) => \"hi\"";
    "string->utf8", 1, Some(3), string_to_utf8, "The UTF-8 encoding of a string's characters (from start to end).", "(string->utf8 \"hi\") => #u8(104 105)";
];
