//! The rest of R7RS 6.2 for a real-only tower: `rationalize`, and the `(scheme complex)`
//! accessors on real numbers (complex numbers themselves are not provided: a deliberate
//! difference listed in lang/REFERENCE.md).

use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use super::{bool_value, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number as num;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn real(a: &[Value], i: usize, who: &str) -> Result<(), LangError> {
    if a[i].is_number() {
        Ok(())
    } else {
        Err(type_error(who, i, "a real number", &a[i]))
    }
}

/// The simplest rational in the closed interval [lo, hi], 0 < lo <= hi (Stern-Brocot).
fn simplest_positive(lo: &BigRational, hi: &BigRational) -> BigRational {
    let fl = lo.floor();
    if fl == *lo {
        return fl;
    }
    if fl < hi.floor() {
        return fl + BigRational::one();
    }
    let inner = simplest_positive(&(hi - &fl).recip(), &(lo - &fl).recip());
    fl + inner.recip()
}

fn simplest_between(lo: &BigRational, hi: &BigRational) -> BigRational {
    if lo.is_positive() {
        simplest_positive(lo, hi)
    } else if hi.is_negative() {
        -simplest_positive(&-hi, &-lo)
    } else {
        BigRational::zero()
    }
}

/// `(rationalize x y)`: the simplest rational differing from x by at most y (inexact if
/// either argument is).
fn rationalize(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "rationalize")?;
    real(a, 1, "rationalize")?;
    let inexact = matches!(a[0], Value::Float(_)) || matches!(a[1], Value::Float(_));
    if let (Value::Float(x), _) | (_, Value::Float(x)) = (&a[0], &a[1]) {
        if !x.is_finite() {
            return Ok(Value::Float(f64::NAN));
        }
    }
    let exact = |v: &Value| match v {
        Value::Float(f) => num::float_to_exact(*f)
            .ok()
            .and_then(|e| num::to_rational(&e)),
        other => num::to_rational(other),
    };
    let (Some(x), Some(y)) = (exact(&a[0]), exact(&a[1])) else {
        return Err(value_error("rationalize", "the arguments must be finite"));
    };
    let y = y.abs();
    let r = num::from_rational(simplest_between(&(&x - &y), &(&x + &y)));
    if inexact {
        Ok(Value::Float(num::to_f64(&r).unwrap_or(f64::NAN)))
    } else {
        Ok(r)
    }
}
fn is_complex(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_number())
}
fn real_part(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "real-part")?;
    Ok(a[0].clone())
}
fn imag_part(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "imag-part")?;
    Ok(Value::Int(0))
}
fn magnitude(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "magnitude")?;
    num::abs(&a[0]).map_err(|m| value_error("magnitude", m))
}
fn angle(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "angle")?;
    let negative = num::compare(&a[0], &Value::Int(0))
        .map_err(|m| value_error("angle", m))?
        .is_lt();
    Ok(match (&a[0], negative) {
        (_, true) => Value::Float(std::f64::consts::PI),
        (Value::Float(_), false) => Value::Float(0.0),
        (_, false) => Value::Int(0),
    })
}
fn only_real(who: &str, imaginary: &Value) -> R {
    Err(LangError::new(
        Code::Arithmetic,
        format!(
            "{who}: complex numbers are not provided (imaginary part {})",
            crate::lang::printer::write_short(imaginary)
        ),
    )
    .with_hint("numbers are exact integers and rationals, and inexact reals"))
}
fn make_rectangular(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "make-rectangular")?;
    real(a, 1, "make-rectangular")?;
    if num::is_zero(&a[1]) {
        Ok(a[0].clone())
    } else {
        only_real("make-rectangular", &a[1])
    }
}
fn make_polar(_: &mut Interp, a: &[Value], _: Span) -> R {
    real(a, 0, "make-polar")?;
    real(a, 1, "make-polar")?;
    if num::is_zero(&a[1]) {
        Ok(a[0].clone())
    } else {
        let m = num::to_f64(&a[0]).unwrap_or(0.0);
        let t = num::to_f64(&a[1]).unwrap_or(0.0);
        if m == 0.0 || t.sin() == 0.0 {
            Ok(Value::Float(m * t.cos()))
        } else {
            only_real("make-polar", &Value::Float(m * t.sin()))
        }
    }
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "rationalize", 2, Some(2), rationalize, "The simplest rational within y of x (inexact if either is).", "(rationalize 3/10 1/10) => 1/3";
    "complex?", 1, Some(1), is_complex, "Is it a number? (every number here is real).", "(complex? 3) => #t";
    "real-part", 1, Some(1), real_part, "The real part: the number itself.", "(real-part 5) => 5";
    "imag-part", 1, Some(1), imag_part, "The imaginary part: always 0 here.", "(imag-part 5) => 0";
    "magnitude", 1, Some(1), magnitude, "The absolute value.", "(magnitude -5) => 5";
    "angle", 1, Some(1), angle, "0 for a non-negative number, pi for a negative one.", "(angle -1) => 3.141592653589793";
    "make-rectangular", 2, Some(2), make_rectangular, "x + 0i is x; a non-zero imaginary part is an error (no complex numbers).", "(make-rectangular 3 0) => 3";
    "make-polar", 2, Some(2), make_polar, "A real given magnitude and angle 0 or pi; otherwise an error.", "(make-polar 2 0) => 2";
];
