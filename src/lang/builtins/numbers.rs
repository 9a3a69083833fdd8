//! Numeric builtins: exact arithmetic on unbounded integers and rationals, comparisons,
//! rounding, bit operations, and explicit conversion to and from floats.

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};

use super::{bool_value, int_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::{self as num, NumResult};
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn arith(who: &str) -> impl Fn(String) -> LangError + '_ {
    move |m| {
        let code = if m.contains("division by zero")
            || m.contains("exceed")
            || m.contains("cannot make")
        {
            Code::Arithmetic
        } else {
            Code::Type
        };
        LangError::new(code, format!("{who}: {m}"))
    }
}

fn number_check(args: &[Value], who: &str) -> Result<(), LangError> {
    for (i, a) in args.iter().enumerate() {
        if !a.is_number() {
            return Err(type_error(who, i, "a number", a));
        }
    }
    Ok(())
}

fn fold(args: &[Value], who: &str, init: Value, op: fn(&Value, &Value) -> NumResult) -> R {
    number_check(args, who)?;
    let mut acc = init;
    for a in args {
        acc = op(&acc, a).map_err(arith(who))?;
    }
    Ok(acc)
}

fn add(_: &mut Interp, args: &[Value], _: Span) -> R {
    if let [Value::Int(a), Value::Int(b)] = args {
        if let Some(s) = a.checked_add(*b) {
            return Ok(Value::Int(s));
        }
    }
    fold(args, "+", Value::Int(0), num::add)
}
fn mul(_: &mut Interp, args: &[Value], _: Span) -> R {
    fold(args, "*", Value::Int(1), num::mul)
}
fn sub(_: &mut Interp, args: &[Value], _: Span) -> R {
    if let [Value::Int(a), Value::Int(b)] = args {
        if let Some(s) = a.checked_sub(*b) {
            return Ok(Value::Int(s));
        }
    }
    number_check(args, "-")?;
    if args.len() == 1 {
        return num::negate(&args[0]).map_err(arith("-"));
    }
    let mut acc = args[0].clone();
    for a in &args[1..] {
        acc = num::sub(&acc, a).map_err(arith("-"))?;
    }
    Ok(acc)
}
fn div(_: &mut Interp, args: &[Value], _: Span) -> R {
    number_check(args, "/")?;
    if args.len() == 1 {
        return num::div(&Value::Int(1), &args[0]).map_err(arith("/"));
    }
    let mut acc = args[0].clone();
    for a in &args[1..] {
        acc = num::div(&acc, a).map_err(arith("/"))?;
    }
    Ok(acc)
}

fn compare_chain(args: &[Value], who: &str, ok: fn(Ordering) -> bool) -> R {
    for (i, a) in args.iter().enumerate() {
        if !a.is_number() {
            return Err(type_error(who, i, "a number", a));
        }
    }
    for w in args.windows(2) {
        let ord = if let (Value::Int(a), Value::Int(b)) = (&w[0], &w[1]) {
            a.cmp(b)
        } else {
            match num::compare(&w[0], &w[1]) {
                Ok(o) => o,
                // Both are numbers, so the only failure is NaN, which compares false.
                Err(_) => return Ok(Value::Bool(false)),
            }
        };
        if !ok(ord) {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}
fn num_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chain(a, "=", |o| o == Ordering::Equal)
}
fn num_lt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chain(a, "<", |o| o == Ordering::Less)
}
fn num_gt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chain(a, ">", |o| o == Ordering::Greater)
}
fn num_le(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chain(a, "<=", |o| o != Ordering::Greater)
}
fn num_ge(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chain(a, ">=", |o| o != Ordering::Less)
}

fn quotient(_: &mut Interp, a: &[Value], _: Span) -> R {
    num::quotient(&a[0], &a[1]).map_err(arith("quotient"))
}
fn remainder(_: &mut Interp, a: &[Value], _: Span) -> R {
    num::remainder(&a[0], &a[1]).map_err(arith("remainder"))
}
fn modulo(_: &mut Interp, a: &[Value], _: Span) -> R {
    num::modulo(&a[0], &a[1]).map_err(arith("modulo"))
}
fn floor_quotient(_: &mut Interp, a: &[Value], _: Span) -> R {
    num::floor_quotient(&a[0], &a[1]).map_err(arith("floor-quotient"))
}
fn floor_div(_: &mut Interp, a: &[Value], _: Span) -> R {
    let q = num::floor_quotient(&a[0], &a[1]).map_err(arith("floor/"))?;
    let r = num::modulo(&a[0], &a[1]).map_err(arith("floor/"))?;
    Ok(Value::Values(vec![q, r].into()))
}
fn truncate_div(_: &mut Interp, a: &[Value], _: Span) -> R {
    let q = num::quotient(&a[0], &a[1]).map_err(arith("truncate/"))?;
    let r = num::remainder(&a[0], &a[1]).map_err(arith("truncate/"))?;
    Ok(Value::Values(vec![q, r].into()))
}
fn abs(_: &mut Interp, a: &[Value], _: Span) -> R {
    num::abs(&a[0]).map_err(arith("abs"))
}
fn extreme(args: &[Value], who: &str, want: Ordering) -> R {
    number_check(args, who)?;
    if let Some(nan) = args
        .iter()
        .find(|a| matches!(a, Value::Float(f) if f.is_nan()))
    {
        return Ok(nan.clone());
    }
    let mut best = args[0].clone();
    for a in &args[1..] {
        if num::compare(a, &best).map_err(arith(who))? == want {
            best = a.clone();
        }
    }
    // R7RS: if any argument is inexact, so is the result.
    if args.iter().any(|a| matches!(a, Value::Float(_))) {
        if let Some(f) = num::to_f64(&best) {
            return Ok(Value::Float(f));
        }
    }
    Ok(best)
}
fn min(_: &mut Interp, a: &[Value], _: Span) -> R {
    extreme(a, "min", Ordering::Less)
}
fn max(_: &mut Interp, a: &[Value], _: Span) -> R {
    extreme(a, "max", Ordering::Greater)
}
/// Integer argument `i`, accepting an inexact integer (the result is then inexact).
fn integer_arg(a: &[Value], i: usize, who: &str, inexact: &mut bool) -> Result<BigInt, LangError> {
    if let Value::Float(f) = &a[i] {
        if f.fract() == 0.0 && f.is_finite() {
            *inexact = true;
            return num::float_to_exact(*f)
                .ok()
                .and_then(|v| num::to_bigint(&v))
                .ok_or_else(|| type_error(who, i, "an integer", &a[i]));
        }
    }
    int_arg(a, i, who)
}
fn maybe_inexact(v: BigInt, inexact: bool) -> Value {
    let v = Value::from_bigint(v);
    if inexact {
        Value::Float(num::to_f64(&v).unwrap_or(f64::NAN))
    } else {
        v
    }
}
fn gcd(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut acc = BigInt::zero();
    let mut inexact = false;
    for i in 0..a.len() {
        acc = acc.gcd(&integer_arg(a, i, "gcd", &mut inexact)?);
    }
    Ok(maybe_inexact(acc, inexact))
}
fn lcm(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut acc = BigInt::from(1);
    let mut inexact = false;
    for i in 0..a.len() {
        acc = acc.lcm(&integer_arg(a, i, "lcm", &mut inexact)?);
    }
    Ok(maybe_inexact(acc.abs(), inexact))
}
fn expt(_: &mut Interp, a: &[Value], _: Span) -> R {
    number_check(a, "expt")?;
    num::expt(&a[0], &a[1]).map_err(arith("expt"))
}
fn sqrt(_: &mut Interp, a: &[Value], _: Span) -> R {
    number_check(a, "sqrt")?;
    num::sqrt(&a[0]).map_err(arith("sqrt"))
}
fn integer_sqrt(_: &mut Interp, a: &[Value], _: Span) -> R {
    let n = int_arg(a, 0, "integer-sqrt")?;
    if n.is_negative() {
        return Err(value_error("integer-sqrt", "argument must be non-negative"));
    }
    Ok(Value::from_bigint(n.sqrt()))
}
fn exact_integer_sqrt(_: &mut Interp, a: &[Value], _: Span) -> R {
    let n = int_arg(a, 0, "exact-integer-sqrt")?;
    if n.is_negative() {
        return Err(value_error(
            "exact-integer-sqrt",
            "argument must be non-negative",
        ));
    }
    let s = n.sqrt();
    let rest = &n - &s * &s;
    Ok(Value::Values(
        vec![Value::from_bigint(s), Value::from_bigint(rest)].into(),
    ))
}
fn float_of(a: &[Value], i: usize, who: &str) -> Result<f64, LangError> {
    num::to_f64(&a[i]).ok_or_else(|| type_error(who, i, "a number", &a[i]))
}
fn float_test(a: &[Value], who: &str, test: fn(f64) -> bool) -> R {
    let f = float_of(a, 0, who)?;
    bool_value(match &a[0] {
        Value::Float(_) => test(f),
        // Exact numbers are always finite (and never NaN).
        _ => test(0.0),
    })
}
fn is_nan(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_test(a, "nan?", f64::is_nan)
}
fn is_infinite(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_test(a, "infinite?", f64::is_infinite)
}
fn is_finite(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_test(a, "finite?", f64::is_finite)
}
fn float_fn(a: &[Value], who: &str, f: fn(f64) -> f64) -> R {
    Ok(Value::Float(f(float_of(a, 0, who)?)))
}
fn exp(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_fn(a, "exp", f64::exp)
}
fn log(_: &mut Interp, a: &[Value], _: Span) -> R {
    let x = float_of(a, 0, "log")?;
    match a.get(1) {
        Some(_) => Ok(Value::Float(x.ln() / float_of(a, 1, "log")?.ln())),
        None => Ok(Value::Float(x.ln())),
    }
}
fn sin(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_fn(a, "sin", f64::sin)
}
fn cos(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_fn(a, "cos", f64::cos)
}
fn tan(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_fn(a, "tan", f64::tan)
}
fn asin(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_fn(a, "asin", f64::asin)
}
fn acos(_: &mut Interp, a: &[Value], _: Span) -> R {
    float_fn(a, "acos", f64::acos)
}
fn atan(_: &mut Interp, a: &[Value], _: Span) -> R {
    let y = float_of(a, 0, "atan")?;
    match a.get(1) {
        Some(_) => Ok(Value::Float(y.atan2(float_of(a, 1, "atan")?))),
        None => Ok(Value::Float(y.atan())),
    }
}
fn rounding(a: &[Value], op: &str) -> R {
    number_check(a, op)?;
    num::round_with(&a[0], op).map_err(arith(op))
}
fn floor(_: &mut Interp, a: &[Value], _: Span) -> R {
    rounding(a, "floor")
}
fn ceiling(_: &mut Interp, a: &[Value], _: Span) -> R {
    rounding(a, "ceiling")
}
fn round(_: &mut Interp, a: &[Value], _: Span) -> R {
    rounding(a, "round")
}
fn truncate(_: &mut Interp, a: &[Value], _: Span) -> R {
    rounding(a, "truncate")
}
fn numerator(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Rational(r) => Ok(Value::from_bigint(r.numer().clone())),
        v @ (Value::Int(_) | Value::Big(_)) => Ok(v.clone()),
        Value::Float(f) if f.is_finite() => {
            let e = num::float_to_exact(*f).map_err(arith("numerator"))?;
            let n = num::to_rational(&e)
                .map(|r| r.numer().clone())
                .unwrap_or_default();
            Ok(Value::Float(
                num::to_f64(&Value::from_bigint(n)).unwrap_or(f64::NAN),
            ))
        }
        v => Err(type_error("numerator", 0, "a rational number", v)),
    }
}
fn denominator(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Rational(r) => Ok(Value::from_bigint(r.denom().clone())),
        Value::Int(_) | Value::Big(_) => Ok(Value::Int(1)),
        Value::Float(f) if f.is_finite() => {
            let e = num::float_to_exact(*f).map_err(arith("denominator"))?;
            let d = num::to_rational(&e)
                .map(|r| r.denom().clone())
                .unwrap_or_default();
            Ok(Value::Float(
                num::to_f64(&Value::from_bigint(d)).unwrap_or(f64::NAN),
            ))
        }
        v => Err(type_error("denominator", 0, "a rational number", v)),
    }
}
fn inexact(_: &mut Interp, a: &[Value], _: Span) -> R {
    num::to_f64(&a[0])
        .map(Value::Float)
        .ok_or_else(|| type_error("inexact", 0, "a number", &a[0]))
}
fn exact(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Float(f) => num::float_to_exact(*f).map_err(arith("exact")),
        v if v.is_number() => Ok(v.clone()),
        v => Err(type_error("exact", 0, "a number", v)),
    }
}
fn is_number(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_number())
}
fn is_integer(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(match &a[0] {
        Value::Int(_) | Value::Big(_) => true,
        Value::Float(f) => f.fract() == 0.0 && f.is_finite(),
        _ => false,
    })
}
fn is_exact_integer(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Int(_) | Value::Big(_)))
}
fn is_rational(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(match &a[0] {
        Value::Int(_) | Value::Big(_) | Value::Rational(_) => true,
        Value::Float(f) => f.is_finite(),
        _ => false,
    })
}
fn is_exact(_: &mut Interp, a: &[Value], _: Span) -> R {
    if !a[0].is_number() {
        return Err(type_error("exact?", 0, "a number", &a[0]));
    }
    bool_value(!matches!(a[0], Value::Float(_)))
}
fn is_inexact(_: &mut Interp, a: &[Value], _: Span) -> R {
    if !a[0].is_number() {
        return Err(type_error("inexact?", 0, "a number", &a[0]));
    }
    bool_value(matches!(a[0], Value::Float(_)))
}
fn sign_of(a: &[Value], who: &str) -> Result<Ordering, LangError> {
    if !a[0].is_number() {
        return Err(type_error(who, 0, "a number", &a[0]));
    }
    num::compare(&a[0], &Value::Int(0)).map_err(arith(who))
}
fn is_zero(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(sign_of(a, "zero?")? == Ordering::Equal)
}
fn is_positive(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(sign_of(a, "positive?")? == Ordering::Greater)
}
fn is_negative(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(sign_of(a, "negative?")? == Ordering::Less)
}
fn is_odd(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(int_arg(a, 0, "odd?")?.is_odd())
}
fn is_even(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(int_arg(a, 0, "even?")?.is_even())
}
fn add1(_: &mut Interp, a: &[Value], _: Span) -> R {
    number_check(a, "add1")?;
    num::add(&a[0], &Value::Int(1)).map_err(arith("add1"))
}
fn sub1(_: &mut Interp, a: &[Value], _: Span) -> R {
    number_check(a, "sub1")?;
    num::sub(&a[0], &Value::Int(1)).map_err(arith("sub1"))
}
fn square(_: &mut Interp, a: &[Value], _: Span) -> R {
    number_check(a, "square")?;
    num::mul(&a[0], &a[0]).map_err(arith("square"))
}
fn number_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    if !a[0].is_number() {
        return Err(type_error("number->string", 0, "a number", &a[0]));
    }
    let radix = match a.get(1) {
        None => 10,
        Some(Value::Int(r)) if [2, 8, 10, 16].contains(r) => *r as u32,
        Some(v) => {
            return Err(type_error(
                "number->string",
                1,
                "a radix of 2, 8, 10 or 16",
                v,
            ))
        }
    };
    Ok(Value::string(&num::format_number(&a[0], radix)))
}
fn string_to_number(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = super::str_arg(a, 0, "string->number")?;
    let radix = match a.get(1) {
        None => 10,
        Some(Value::Int(r)) if [2, 8, 10, 16].contains(r) => *r as u32,
        Some(v) => {
            return Err(type_error(
                "string->number",
                1,
                "a radix of 2, 8, 10 or 16",
                v,
            ))
        }
    };
    if radix != 10 {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, &**s),
        };
        return Ok(match BigInt::parse_bytes(digits.as_bytes(), radix) {
            Some(n) if !digits.is_empty() => Value::from_bigint(if neg { -n } else { n }),
            _ => Value::Bool(false),
        });
    }
    Ok(num::parse_number(s)
        .ok()
        .flatten()
        .unwrap_or(Value::Bool(false)))
}
fn bit_op(a: &[Value], who: &str, init: BigInt, op: fn(BigInt, BigInt) -> BigInt) -> R {
    let mut acc = init;
    for i in 0..a.len() {
        acc = op(acc, int_arg(a, i, who)?);
    }
    Ok(Value::from_bigint(acc))
}
fn bitwise_and(_: &mut Interp, a: &[Value], _: Span) -> R {
    bit_op(a, "bitwise-and", BigInt::from(-1), |x, y| x & y)
}
fn bitwise_or(_: &mut Interp, a: &[Value], _: Span) -> R {
    bit_op(a, "bitwise-ior", BigInt::zero(), |x, y| x | y)
}
fn bitwise_xor(_: &mut Interp, a: &[Value], _: Span) -> R {
    bit_op(a, "bitwise-xor", BigInt::zero(), |x, y| x ^ y)
}
fn arithmetic_shift(_: &mut Interp, a: &[Value], _: Span) -> R {
    let n = int_arg(a, 0, "arithmetic-shift")?;
    let by = int_arg(a, 1, "arithmetic-shift")?
        .to_i64()
        .unwrap_or(i64::MAX);
    if by > num::MAX_INTEGER_BITS as i64 {
        return Err(LangError::new(
            Code::Arithmetic,
            "arithmetic-shift: result too large",
        ));
    }
    Ok(Value::from_bigint(if by >= 0 {
        n << by as u64
    } else {
        n >> by.unsigned_abs().min(u64::MAX / 2)
    }))
}
fn integer_length(_: &mut Interp, a: &[Value], _: Span) -> R {
    let n = int_arg(a, 0, "integer-length")?;
    let bits = if n.is_negative() {
        (-(n + BigInt::from(1))).bits()
    } else {
        n.bits()
    };
    Ok(Value::Int(bits as i64))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "+", 0, None, add, "Sum of the arguments (exact unless a float is involved).", "(+ 1 2 3) => 6";
    "-", 1, None, sub, "Difference, or negation with one argument.", "(- 10 3) => 7";
    "*", 0, None, mul, "Product; exact integers never overflow.", "(* 99999999999 99999999999) => 9999999999800000000001";
    "/", 1, None, div, "Division; exact operands give an exact rational.", "(/ 1 3) => 1/3";
    "=", 1, None, num_eq, "Numeric equality across the tower.", "(= 1 1 1) => #t";
    "<", 1, None, num_lt, "Strictly increasing.", "(< 1 2 3) => #t";
    ">", 1, None, num_gt, "Strictly decreasing.", "(> 3 2 1) => #t";
    "<=", 1, None, num_le, "Non-decreasing.", "(<= 1 1 2) => #t";
    ">=", 1, None, num_ge, "Non-increasing.", "(>= 2 2 1) => #t";
    "quotient", 2, Some(2), quotient, "Integer division truncating toward zero.", "(quotient 7 2) => 3";
    "remainder", 2, Some(2), remainder, "Remainder with the dividend's sign.", "(remainder -7 2) => -1";
    "modulo", 2, Some(2), modulo, "Remainder with the divisor's sign.", "(modulo -7 2) => 1";
    "floor-quotient", 2, Some(2), floor_quotient, "Integer division rounding toward negative infinity.", "(floor-quotient -7 2) => -4";
    "floor-remainder", 2, Some(2), modulo, "Same as modulo: the remainder of floor-quotient.", "(floor-remainder -7 2) => 1";
    "truncate-quotient", 2, Some(2), quotient, "Same as quotient.", "(truncate-quotient -7 2) => -3";
    "truncate-remainder", 2, Some(2), remainder, "Same as remainder.", "(truncate-remainder -7 2) => -1";
    "floor/", 2, Some(2), floor_div, "Two values: floor-quotient and floor-remainder.", "(call-with-values (lambda () (floor/ -7 2)) list) => (-4 1)";
    "truncate/", 2, Some(2), truncate_div, "Two values: truncate-quotient and truncate-remainder.", "(call-with-values (lambda () (truncate/ -7 2)) list) => (-3 -1)";
    "abs", 1, Some(1), abs, "Absolute value.", "(abs -5) => 5";
    "min", 1, None, min, "Smallest argument.", "(min 3 1 2) => 1";
    "max", 1, None, max, "Largest argument.", "(max 3 1 2) => 3";
    "gcd", 0, None, gcd, "Greatest common divisor.", "(gcd 12 18) => 6";
    "lcm", 0, None, lcm, "Least common multiple.", "(lcm 4 6) => 12";
    "expt", 2, Some(2), expt, "Power; exact base and integer exponent stay exact.", "(expt 2 100) => 1267650600228229401496703205376";
    "sqrt", 1, Some(1), sqrt, "Square root: exact for perfect squares, else a float.", "(sqrt 16) => 4";
    "integer-sqrt", 1, Some(1), integer_sqrt, "Floor of the square root of a non-negative integer.", "(integer-sqrt 17) => 4";
    "exact-integer-sqrt", 1, Some(1), exact_integer_sqrt, "Two values: s and n - s*s, where s is the integer square root.", "(call-with-values (lambda () (exact-integer-sqrt 17)) list) => (4 1)";
    "nan?", 1, Some(1), is_nan, "Is the number a float NaN?", "(nan? +nan.0) => #t";
    "infinite?", 1, Some(1), is_infinite, "Is the number a float infinity?", "(infinite? -inf.0) => #t";
    "finite?", 1, Some(1), is_finite, "Is the number neither infinite nor NaN?", "(finite? 1/2) => #t";
    "exp", 1, Some(1), exp, "e to a power (a float).", "(exp 0) => 1.0";
    "log", 1, Some(2), log, "Natural logarithm, or logarithm in a base (a float).", "(log 100 10) => 2.0";
    "sin", 1, Some(1), sin, "Sine of radians (a float).", "(sin 0) => 0.0";
    "cos", 1, Some(1), cos, "Cosine of radians (a float).", "(cos 0) => 1.0";
    "tan", 1, Some(1), tan, "Tangent of radians (a float).", "(tan 0) => 0.0";
    "asin", 1, Some(1), asin, "Arcsine in radians (a float).", "(asin 0) => 0.0";
    "acos", 1, Some(1), acos, "Arccosine in radians (a float).", "(acos 1) => 0.0";
    "atan", 1, Some(2), atan, "Arctangent; with two arguments, of y/x using both signs.", "(atan 0) => 0.0";
    "floor", 1, Some(1), floor, "Largest integer not above.", "(floor 7/2) => 3";
    "ceiling", 1, Some(1), ceiling, "Smallest integer not below.", "(ceiling 7/2) => 4";
    "round", 1, Some(1), round, "Nearest integer, ties to even.", "(round 5/2) => 2";
    "truncate", 1, Some(1), truncate, "Integer part, toward zero.", "(truncate -7/2) => -3";
    "numerator", 1, Some(1), numerator, "Numerator of an exact number.", "(numerator 6/4) => 3";
    "denominator", 1, Some(1), denominator, "Denominator of an exact number.", "(denominator 6/4) => 2";
    "inexact", 1, Some(1), inexact, "Converts to a float (explicitly).", "(inexact 1/4) => 0.25";
    "exact->inexact", 1, Some(1), inexact, "Same as inexact.", "(exact->inexact 1/2) => 0.5";
    "exact", 1, Some(1), exact, "Converts a float to the exact rational it denotes.", "(exact 0.5) => 1/2";
    "inexact->exact", 1, Some(1), exact, "Same as exact.", "(inexact->exact 0.25) => 1/4";
    "number?", 1, Some(1), is_number, "Is it a number?", "(number? 1/2) => #t";
    "integer?", 1, Some(1), is_integer, "Is it an integer (an integral float counts)?", "(integer? 4) => #t";
    "exact-integer?", 1, Some(1), is_exact_integer, "Is it an exact integer?", "(exact-integer? 4) => #t";
    "rational?", 1, Some(1), is_rational, "Is it a rational number?", "(rational? 1/3) => #t";
    "real?", 1, Some(1), is_number, "Is it a real number (every number here is real)?", "(real? 1.5) => #t";
    "exact?", 1, Some(1), is_exact, "Is the number exact?", "(exact? 1/3) => #t";
    "inexact?", 1, Some(1), is_inexact, "Is the number a float?", "(inexact? 1.5) => #t";
    "zero?", 1, Some(1), is_zero, "Is it zero?", "(zero? 0) => #t";
    "positive?", 1, Some(1), is_positive, "Is it greater than zero?", "(positive? 3) => #t";
    "negative?", 1, Some(1), is_negative, "Is it less than zero?", "(negative? -3) => #t";
    "odd?", 1, Some(1), is_odd, "Is the integer odd?", "(odd? 3) => #t";
    "even?", 1, Some(1), is_even, "Is the integer even?", "(even? 4) => #t";
    "add1", 1, Some(1), add1, "Adds one.", "(add1 41) => 42";
    "sub1", 1, Some(1), sub1, "Subtracts one.", "(sub1 43) => 42";
    "square", 1, Some(1), square, "Multiplies a number by itself.", "(square 12) => 144";
    "number->string", 1, Some(2), number_to_string, "Text of a number, in radix 2, 8, 10 or 16.", "(number->string 255 16) => \"ff\"";
    "string->number", 1, Some(2), string_to_number, "Parses a number, or #f.", "(string->number \"3/4\") => 3/4";
    "bitwise-and", 0, None, bitwise_and, "Bitwise and of integers (two's complement).", "(bitwise-and 12 10) => 8";
    "bitwise-ior", 0, None, bitwise_or, "Bitwise inclusive or.", "(bitwise-ior 12 10) => 14";
    "bitwise-xor", 0, None, bitwise_xor, "Bitwise exclusive or.", "(bitwise-xor 12 10) => 6";
    "arithmetic-shift", 2, Some(2), arithmetic_shift, "Shifts left (positive) or right (negative).", "(arithmetic-shift 1 10) => 1024";
    "integer-length", 1, Some(1), integer_length, "Number of bits needed to represent the integer.", "(integer-length 255) => 8";
];
