//! The numeric tower: exact integers (i64 fast path, BigInt beyond), exact rationals, and
//! explicit floats. Exact arithmetic never overflows and never silently becomes a float.

use std::cmp::Ordering;
use std::rc::Rc;

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::value::Value;

/// Integers above this many bits are refused, so a script cannot exhaust memory with `expt`.
pub const MAX_INTEGER_BITS: u64 = 1 << 20;

pub type NumResult = Result<Value, String>;

pub fn to_bigint(v: &Value) -> Option<BigInt> {
    match v {
        Value::Int(i) => Some(BigInt::from(*i)),
        Value::Big(b) => Some((**b).clone()),
        _ => None,
    }
}

pub fn to_rational(v: &Value) -> Option<BigRational> {
    match v {
        Value::Int(i) => Some(BigRational::from_integer(BigInt::from(*i))),
        Value::Big(b) => Some(BigRational::from_integer((**b).clone())),
        Value::Rational(r) => Some((**r).clone()),
        _ => None,
    }
}

pub fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Big(b) => b.to_f64(),
        Value::Rational(r) => r.to_f64(),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Normalises a rational: integers become `Int`/`Big`.
pub fn from_rational(r: BigRational) -> Value {
    if r.denom().is_one() {
        Value::from_bigint(r.to_integer())
    } else {
        Value::Rational(Rc::new(r))
    }
}

fn is_exact(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Big(_) | Value::Rational(_))
}

fn check_size(v: Value) -> NumResult {
    if let Value::Big(b) = &v {
        if b.bits() > MAX_INTEGER_BITS {
            return Err(format!("integer result exceeds {MAX_INTEGER_BITS} bits"));
        }
    }
    Ok(v)
}

/// Orders two exact numbers.
pub fn compare_exact(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Rational(_), _) | (_, Value::Rational(_)) => to_rational(a).cmp(&to_rational(b)),
        _ => to_bigint(a).cmp(&to_bigint(b)),
    }
}

/// Numeric comparison across exact and inexact numbers.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    if !a.is_number() {
        return Err(not_number(a));
    }
    if !b.is_number() {
        return Err(not_number(b));
    }
    if is_exact(a) && is_exact(b) {
        return Ok(compare_exact(a, b));
    }
    if let (Value::Float(x), Value::Float(y)) = (a, b) {
        return x
            .partial_cmp(y)
            .ok_or_else(|| "cannot compare NaN".to_string());
    }
    // Exact against inexact: compare exactly (a float is an exact binary fraction), so
    // (= 1/3 (inexact 1/3)) is #f and a huge integer is below +inf.0, as in Racket.
    let (exact, float, flipped) = match (a, b) {
        (Value::Float(f), e) => (e, *f, true),
        (e, Value::Float(f)) => (e, *f, false),
        _ => return Err(not_number(a)),
    };
    let ord = if float.is_nan() {
        return Err("cannot compare NaN".to_string());
    } else if float.is_infinite() {
        if float > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    } else {
        let f = BigRational::from_float(float).ok_or_else(|| not_number(b))?;
        to_rational(exact).ok_or_else(|| not_number(exact))?.cmp(&f)
    };
    Ok(if flipped { ord.reverse() } else { ord })
}

pub fn not_number(v: &Value) -> String {
    format!(
        "expected a number, got {} `{}`",
        v.type_name(),
        super::printer::write_string(v)
    )
}

fn binary(
    a: &Value,
    b: &Value,
    small: fn(i64, i64) -> Option<i64>,
    big: fn(BigInt, BigInt) -> BigInt,
    rat: fn(BigRational, BigRational) -> BigRational,
    float: fn(f64, f64) -> f64,
) -> NumResult {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => match small(*x, *y) {
            Some(r) => Ok(Value::Int(r)),
            None => check_size(Value::from_bigint(big(BigInt::from(*x), BigInt::from(*y)))),
        },
        (Value::Float(_), _) | (_, Value::Float(_)) => {
            let x = to_f64(a).ok_or_else(|| not_number(a))?;
            let y = to_f64(b).ok_or_else(|| not_number(b))?;
            Ok(Value::Float(float(x, y)))
        }
        (Value::Rational(_), _) | (_, Value::Rational(_)) => {
            let x = to_rational(a).ok_or_else(|| not_number(a))?;
            let y = to_rational(b).ok_or_else(|| not_number(b))?;
            check_size(from_rational(rat(x, y)))
        }
        _ => {
            let x = to_bigint(a).ok_or_else(|| not_number(a))?;
            let y = to_bigint(b).ok_or_else(|| not_number(b))?;
            check_size(Value::from_bigint(big(x, y)))
        }
    }
}

pub fn add(a: &Value, b: &Value) -> NumResult {
    binary(
        a,
        b,
        i64::checked_add,
        |x, y| x + y,
        |x, y| x + y,
        |x, y| x + y,
    )
}

pub fn sub(a: &Value, b: &Value) -> NumResult {
    binary(
        a,
        b,
        i64::checked_sub,
        |x, y| x - y,
        |x, y| x - y,
        |x, y| x - y,
    )
}

pub fn mul(a: &Value, b: &Value) -> NumResult {
    binary(
        a,
        b,
        i64::checked_mul,
        |x, y| x * y,
        |x, y| x * y,
        |x, y| x * y,
    )
}

pub fn is_zero(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        _ => false,
    }
}

/// Exact division yields a rational; division by exact zero is an error.
pub fn div(a: &Value, b: &Value) -> NumResult {
    if !a.is_number() {
        return Err(not_number(a));
    }
    if !b.is_number() {
        return Err(not_number(b));
    }
    if let (Value::Float(_), _) | (_, Value::Float(_)) = (a, b) {
        let x = to_f64(a).unwrap_or(f64::NAN);
        let y = to_f64(b).unwrap_or(f64::NAN);
        return Ok(Value::Float(x / y));
    }
    if is_zero(b) {
        return Err("division by zero".to_string());
    }
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        if let Some(0) = x.checked_rem(*y) {
            if let Some(q) = x.checked_div(*y) {
                return Ok(Value::Int(q));
            }
        }
    }
    let x = to_rational(a).ok_or_else(|| not_number(a))?;
    let y = to_rational(b).ok_or_else(|| not_number(b))?;
    check_size(from_rational(x / y))
}

/// The operands of an integer division. (The caller's name is added by the builtin.)
fn integers(a: &Value, b: &Value) -> Result<(BigInt, BigInt), String> {
    let x = to_bigint(a).ok_or_else(|| format!("expected an integer, got {}", a.type_name()))?;
    let y = to_bigint(b).ok_or_else(|| format!("expected an integer, got {}", b.type_name()))?;
    if y.is_zero() {
        return Err("division by zero".to_string());
    }
    Ok((x, y))
}

/// Integer division where an operand is an integral float (R7RS: `(quotient 7.0 2)` is 3.0):
/// `None` when neither is a float.
fn float_division(a: &Value, b: &Value, op: fn(f64, f64) -> f64) -> Option<NumResult> {
    if !matches!(a, Value::Float(_)) && !matches!(b, Value::Float(_)) {
        return None;
    }
    let integral = |v: &Value| match v {
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 => Some(*f),
        Value::Float(_) => None,
        other => to_bigint(other).and_then(|n| n.to_f64()),
    };
    Some(match (integral(a), integral(b)) {
        (Some(x), Some(y)) => {
            if y == 0.0 {
                Err("division by zero".to_string())
            } else {
                Ok(Value::Float(op(x, y)))
            }
        }
        (None, _) => Err(format!("expected an integer, got {}", a.type_name())),
        (_, None) => Err(format!("expected an integer, got {}", b.type_name())),
    })
}

/// Truncating quotient (R7RS `quotient` / `truncate-quotient`).
pub fn quotient(a: &Value, b: &Value) -> NumResult {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        if *y != 0 {
            if let Some(q) = x.checked_div(*y) {
                return Ok(Value::Int(q));
            }
        }
    }
    if let Some(r) = float_division(a, b, |x, y| (x / y).trunc()) {
        return r;
    }
    let (x, y) = integers(a, b)?;
    Ok(Value::from_bigint(x / y))
}

/// Remainder with the sign of the dividend (R7RS `remainder`).
pub fn remainder(a: &Value, b: &Value) -> NumResult {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        if *y != 0 {
            if let Some(r) = x.checked_rem(*y) {
                return Ok(Value::Int(r));
            }
        }
    }
    if let Some(r) = float_division(a, b, |x, y| x % y) {
        return r;
    }
    let (x, y) = integers(a, b)?;
    Ok(Value::from_bigint(x % y))
}

/// Remainder with the sign of the divisor (R7RS `modulo` / `floor-remainder`).
pub fn modulo(a: &Value, b: &Value) -> NumResult {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        if *y != 0 {
            if let Some(r) = x.checked_rem_euclid(*y) {
                // rem_euclid is non-negative; modulo takes the divisor's sign.
                let r = if *y < 0 && r != 0 { r + y } else { r };
                return Ok(Value::Int(r));
            }
        }
    }
    if let Some(r) = float_division(a, b, |x, y| x - y * (x / y).floor()) {
        return r;
    }
    let (x, y) = integers(a, b)?;
    Ok(Value::from_bigint(x.mod_floor(&y)))
}

/// Quotient rounded toward negative infinity (R7RS `floor-quotient`).
pub fn floor_quotient(a: &Value, b: &Value) -> NumResult {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        if *y != 0 && !(*x == i64::MIN && *y == -1) {
            return Ok(Value::Int(x.div_floor(y)));
        }
    }
    if let Some(r) = float_division(a, b, |x, y| (x / y).floor()) {
        return r;
    }
    let (x, y) = integers(a, b)?;
    check_size(Value::from_bigint(x.div_floor(&y)))
}

pub fn negate(a: &Value) -> NumResult {
    match a {
        // 0 - x would turn 0.0 into 0.0 instead of -0.0.
        Value::Float(f) => Ok(Value::Float(-f)),
        _ => sub(&Value::Int(0), a),
    }
}

pub fn abs(a: &Value) -> NumResult {
    match a {
        Value::Float(f) => Ok(Value::Float(f.abs())),
        _ if compare(a, &Value::Int(0))? == Ordering::Less => negate(a),
        _ => Ok(a.clone()),
    }
}

/// `expt` with an exact integer exponent stays exact; a float anywhere gives a float.
pub fn expt(base: &Value, exp: &Value) -> NumResult {
    match (base, exp) {
        (_, Value::Float(_)) | (Value::Float(_), _) => {
            let b = to_f64(base).ok_or_else(|| not_number(base))?;
            let e = to_f64(exp).ok_or_else(|| not_number(exp))?;
            Ok(Value::Float(b.powf(e)))
        }
        (_, Value::Int(e)) => {
            let r = to_rational(base).ok_or_else(|| not_number(base))?;
            let magnitude = e.unsigned_abs();
            let base_bits = r.numer().bits().max(r.denom().bits());
            if base_bits > 1 && base_bits.saturating_mul(magnitude) > MAX_INTEGER_BITS {
                return Err(format!("result would exceed {MAX_INTEGER_BITS} bits"));
            }
            if *e < 0 && r.is_zero() {
                return Err("division by zero: zero to a negative power".to_string());
            }
            let Ok(m) = u32::try_from(magnitude) else {
                return Err(
                    "exponent too large: result would exceed the integer size limit".to_string(),
                );
            };
            let p = num_traits::pow::Pow::pow(&r, m);
            Ok(from_rational(if *e < 0 { p.recip() } else { p }))
        }
        (_, Value::Big(_)) => match base {
            Value::Int(0) | Value::Int(1) => Ok(base.clone()),
            _ => Err(format!("result would exceed {MAX_INTEGER_BITS} bits")),
        },
        (_, Value::Rational(_)) => {
            // A fractional power is irrational in general: computed as a float.
            let b = to_f64(base).ok_or_else(|| not_number(base))?;
            let e = to_f64(exp).ok_or_else(|| not_number(exp))?;
            Ok(Value::Float(b.powf(e)))
        }
        _ => Err(format!(
            "exponent must be a number, got {}",
            exp.type_name()
        )),
    }
}

/// Exact integer square root when `n` is a perfect square, else a float.
pub fn sqrt(n: &Value) -> NumResult {
    if let Some(b) = to_bigint(n) {
        if !b.is_negative() {
            let r = b.sqrt();
            if &r * &r == b {
                return Ok(Value::from_bigint(r));
            }
        }
    }
    if let Value::Rational(r) = n {
        if !r.is_negative() {
            let (a, b) = (r.numer().sqrt(), r.denom().sqrt());
            if &a * &a == *r.numer() && &b * &b == *r.denom() {
                return Ok(from_rational(BigRational::new(a, b)));
            }
        }
    }
    let f = to_f64(n).ok_or_else(|| not_number(n))?;
    if f.is_infinite() {
        // An integer too large for a float: its integer square root is, to float
        // precision, the answer.
        if let Some(b) = to_bigint(n).filter(|b| !b.is_negative()) {
            return Ok(Value::Float(b.sqrt().to_f64().unwrap_or(f64::INFINITY)));
        }
    }
    Ok(Value::Float(f.sqrt()))
}

/// Rounding family on exact rationals stays exact; `op` picks floor/ceil/round/truncate.
pub fn round_with(n: &Value, op: &str) -> NumResult {
    match n {
        Value::Int(_) | Value::Big(_) => Ok(n.clone()),
        Value::Float(f) => Ok(Value::Float(match op {
            "floor" => f.floor(),
            "ceiling" => f.ceil(),
            "truncate" => f.trunc(),
            _ => f.round_ties_even(),
        })),
        Value::Rational(r) => Ok(Value::from_bigint(match op {
            "floor" => r.floor().to_integer(),
            "ceiling" => r.ceil().to_integer(),
            "truncate" => r.trunc().to_integer(),
            _ => round_half_even(r),
        })),
        _ => Err(not_number(n)),
    }
}

fn round_half_even(r: &BigRational) -> BigInt {
    let floor = r.floor();
    let diff = r - &floor;
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    let f = floor.to_integer();
    match diff.cmp(&half) {
        Ordering::Less => f,
        Ordering::Greater => f + 1,
        Ordering::Equal => {
            if f.is_even() {
                f
            } else {
                f + 1
            }
        }
    }
}

/// Converts a float to the exact rational it denotes.
pub fn float_to_exact(f: f64) -> NumResult {
    if !f.is_finite() {
        return Err(format!("cannot make {f} exact"));
    }
    BigRational::from_float(f)
        .map(from_rational)
        .ok_or_else(|| format!("cannot make {f} exact"))
}

/// Parses a numeric literal: `42`, `-7`, `0xff`, `-0x10`, `#x1f`, `3/4`, `1.5`, `1e3`,
/// `+inf.0`, `-inf.0`, `+nan.0`. Returns `Ok(None)` when the text is not numeric at all.
pub fn parse_number(text: &str) -> Result<Option<Value>, String> {
    if let Some(prefixed) = parse_prefixed(text) {
        return prefixed.map(Some);
    }
    match text {
        "+inf.0" => return Ok(Some(Value::Float(f64::INFINITY))),
        "-inf.0" => return Ok(Some(Value::Float(f64::NEG_INFINITY))),
        "+nan.0" | "-nan.0" => return Ok(Some(Value::Float(f64::NAN))),
        _ => {}
    }
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let hex = body.strip_prefix("0x").or_else(|| body.strip_prefix("#x"));
    if let Some(digits) = hex {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("malformed hex integer `{text}`"));
        }
        let n = BigInt::parse_bytes(digits.as_bytes(), 16)
            .ok_or_else(|| format!("malformed hex integer `{text}`"))?;
        return Ok(Some(Value::from_bigint(if negative { -n } else { n })));
    }
    // A number starts with a digit, or with `.` and a digit (`.5`, R7RS).
    let starts_numeric = match body.as_bytes() {
        [d, ..] if d.is_ascii_digit() => true,
        [b'.', d, ..] => d.is_ascii_digit(),
        _ => false,
    };
    if !starts_numeric {
        return Ok(None);
    }
    if let Some((num, den)) = body.split_once('/') {
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(num) || !all_digits(den) {
            return Err(format!("malformed rational `{text}`"));
        }
        let n = BigInt::parse_bytes(num.as_bytes(), 10).unwrap_or_default();
        let d = BigInt::parse_bytes(den.as_bytes(), 10).unwrap_or_default();
        if d.is_zero() {
            return Err(format!("rational `{text}` has a zero denominator"));
        }
        let r = BigRational::new(if negative { -n } else { n }, d);
        return Ok(Some(from_rational(r)));
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        if body.len() > 100_000 {
            return Err("integer literal too long".to_string());
        }
        let n = BigInt::parse_bytes(body.as_bytes(), 10).unwrap_or_default();
        return Ok(Some(Value::from_bigint(if negative { -n } else { n })));
    }
    let float_chars = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_chars {
        if let Ok(f) = text.parse::<f64>() {
            return Ok(Some(Value::Float(f)));
        }
    }
    Err(format!("malformed number `{text}`"))
}

/// R7RS number prefixes, in any order: a radix (`#x`, `#o`, `#b`, `#d`; integers in radix
/// 16, 8 or 2) and an exactness (`#e` exact, `#i` inexact). `None` when `text` has none.
fn parse_prefixed(text: &str) -> Option<Result<Value, String>> {
    let mut radix = None;
    let mut exactness = None;
    let mut rest = text;
    while let Some(r) = rest.strip_prefix('#') {
        let mut chars = r.chars();
        match chars.next().map(|c| c.to_ascii_lowercase()) {
            Some('x') if radix.is_none() => radix = Some(16),
            Some('o') if radix.is_none() => radix = Some(8),
            Some('b') if radix.is_none() => radix = Some(2),
            Some('d') if radix.is_none() => radix = Some(10),
            Some(e @ ('e' | 'i')) if exactness.is_none() => exactness = Some(e),
            _ => return None,
        }
        rest = chars.as_str();
    }
    if rest.len() == text.len() {
        return None;
    }
    let malformed = || format!("malformed number `{text}`");
    let value = match radix {
        Some(r) if r != 10 => {
            let (negative, digits) = match rest.as_bytes().first() {
                Some(b'-') => (true, &rest[1..]),
                Some(b'+') => (false, &rest[1..]),
                _ => (false, rest),
            };
            let (num, den) = digits.split_once('/').unwrap_or((digits, "1"));
            let valid = |d: &str| !d.is_empty() && d.chars().all(|c| c.is_digit(r));
            if !valid(num) || !valid(den) {
                return Some(Err(malformed()));
            }
            match (
                BigInt::parse_bytes(num.as_bytes(), r),
                BigInt::parse_bytes(den.as_bytes(), r),
            ) {
                (Some(_), Some(d)) if d.is_zero() => return Some(Err(malformed())),
                (Some(n), Some(d)) => {
                    from_rational(BigRational::new(if negative { -n } else { n }, d))
                }
                _ => return Some(Err(malformed())),
            }
        }
        _ => match parse_number(rest) {
            Ok(Some(v)) if v.is_number() => v,
            Ok(_) => return Some(Err(malformed())),
            Err(e) => return Some(Err(e)),
        },
    };
    Some(match exactness {
        Some('e') => match value {
            Value::Float(f) => float_to_exact(f),
            v => Ok(v),
        },
        Some(_) => to_f64(&value).map(Value::Float).ok_or_else(malformed),
        None => Ok(value),
    })
}

/// Writes a number in a form `parse_number` reads back to an equal value.
pub fn format_number(v: &Value, radix: u32) -> String {
    match v {
        Value::Int(i) if radix == 10 => i.to_string(),
        Value::Int(i) => BigInt::from(*i).to_str_radix(radix),
        Value::Big(b) => b.to_str_radix(radix),
        Value::Rational(r) => format!(
            "{}/{}",
            r.numer().to_str_radix(radix),
            r.denom().to_str_radix(radix)
        ),
        Value::Float(f) => format_float(*f),
        _ => String::new(),
    }
}

fn format_float(f: f64) -> String {
    if f.is_nan() {
        "+nan.0".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+inf.0" } else { "-inf.0" }.to_string()
    } else {
        let s = format!("{f:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    }
}
