//! Character builtins (R7RS 6.6): predicates, case mapping and comparisons, with the
//! case-insensitive forms comparing case-folded characters.

use super::strings::char_arg;
use super::{bool_value, index_arg, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn is_char(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Char(_)))
}
fn char_to_integer(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(char_arg(a, 0, "char->integer")? as i64))
}
fn integer_to_char(_: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "integer->char")?;
    u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .map(Value::Char)
        .ok_or_else(|| {
            value_error(
                "integer->char",
                format!("{n} is not a Unicode scalar value"),
            )
        })
}
fn char_test(a: &[Value], who: &str, f: fn(char) -> bool) -> R {
    bool_value(f(char_arg(a, 0, who)?))
}
fn alphabetic(_: &mut Interp, a: &[Value], _: Span) -> R {
    char_test(a, "char-alphabetic?", char::is_alphabetic)
}
fn numeric(_: &mut Interp, a: &[Value], _: Span) -> R {
    char_test(a, "char-numeric?", |c| decimal_digit(c).is_some())
}
fn whitespace(_: &mut Interp, a: &[Value], _: Span) -> R {
    char_test(a, "char-whitespace?", char::is_whitespace)
}
fn upper(_: &mut Interp, a: &[Value], _: Span) -> R {
    char_test(a, "char-upper-case?", char::is_uppercase)
}
fn lower(_: &mut Interp, a: &[Value], _: Span) -> R {
    char_test(a, "char-lower-case?", char::is_lowercase)
}
/// A character's single-character case mapping; characters whose mapping is several
/// characters (`ß` upper-cases to "SS") map to themselves, as in R7RS.
fn single_char<I: Iterator<Item = char>>(c: char, mut mapped: I) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}
fn char_upcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    let c = char_arg(a, 0, "char-upcase")?;
    Ok(Value::Char(single_char(c, c.to_uppercase())))
}
fn char_downcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    let c = char_arg(a, 0, "char-downcase")?;
    Ok(Value::Char(single_char(c, c.to_lowercase())))
}
fn char_foldcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    let c = char_arg(a, 0, "char-foldcase")?;
    Ok(Value::Char(single_char(c, c.to_lowercase())))
}
fn compare_chars(a: &[Value], who: &str, ok: fn(std::cmp::Ordering) -> bool) -> R {
    for i in 1..a.len() {
        if !ok(char_arg(a, i - 1, who)?.cmp(&char_arg(a, i, who)?)) {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}
fn char_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars(a, "char=?", |o| o.is_eq())
}
fn char_lt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars(a, "char<?", |o| o.is_lt())
}
fn char_gt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars(a, "char>?", |o| o.is_gt())
}
fn char_le(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars(a, "char<=?", |o| o.is_le())
}
fn char_ge(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars(a, "char>=?", |o| o.is_ge())
}
fn fold(c: char) -> char {
    single_char(c, c.to_lowercase())
}
fn compare_chars_ci(a: &[Value], who: &str, ok: fn(std::cmp::Ordering) -> bool) -> R {
    for i in 1..a.len() {
        if !ok(fold(char_arg(a, i - 1, who)?).cmp(&fold(char_arg(a, i, who)?))) {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}
fn char_ci_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars_ci(a, "char-ci=?", |o| o.is_eq())
}
fn char_ci_lt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars_ci(a, "char-ci<?", |o| o.is_lt())
}
fn char_ci_gt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars_ci(a, "char-ci>?", |o| o.is_gt())
}
fn char_ci_le(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars_ci(a, "char-ci<=?", |o| o.is_le())
}
fn char_ci_ge(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_chars_ci(a, "char-ci>=?", |o| o.is_ge())
}
/// The first code point of each run of ten decimal digits (Unicode category Nd) that
/// `digit-value` knows, beyond ASCII: Arabic-Indic through Tibetan, Myanmar, Khmer,
/// Mongolian, and fullwidth forms.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
];
/// The value of a decimal digit character (any script in `DIGIT_ZEROS`, and ASCII).
pub fn decimal_digit(c: char) -> Option<u32> {
    if let Some(d) = c.to_digit(10) {
        return Some(d);
    }
    let code = c as u32;
    DIGIT_ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&code))
        .map(|z| code - z)
}
fn digit_value(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(decimal_digit(char_arg(a, 0, "digit-value")?)
        .map(|d| Value::Int(d as i64))
        .unwrap_or(Value::Bool(false)))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "char?", 1, Some(1), is_char, "Is it a character?", "(char? #\\a) => #t";
    "char->integer", 1, Some(1), char_to_integer, "Unicode scalar value.", "(char->integer #\\A) => 65";
    "integer->char", 1, Some(1), integer_to_char, "Character with this scalar value.", "(integer->char 955) => #\\λ";
    "char-alphabetic?", 1, Some(1), alphabetic, "Is it a letter?", "(char-alphabetic? #\\a) => #t";
    "char-numeric?", 1, Some(1), numeric, "Is it a decimal digit (any script)?", "(char-numeric? #\\1) => #t";
    "char-whitespace?", 1, Some(1), whitespace, "Is it whitespace?", "(char-whitespace? #\\space) => #t";
    "char-upper-case?", 1, Some(1), upper, "Is it upper case?", "(char-upper-case? #\\A) => #t";
    "char-lower-case?", 1, Some(1), lower, "Is it lower case?", "(char-lower-case? #\\a) => #t";
    "char-upcase", 1, Some(1), char_upcase, "Upper-case character.", "(char-upcase #\\a) => #\\A";
    "char-downcase", 1, Some(1), char_downcase, "Lower-case character.", "(char-downcase #\\A) => #\\a";
    "char-foldcase", 1, Some(1), char_foldcase, "Case-folded character.", "(char-foldcase #\\A) => #\\a";
    "char<=?", 1, None, char_le, "Non-decreasing code points?", "(char<=? #\\a #\\a) => #t";
    "char>=?", 1, None, char_ge, "Non-increasing code points?", "(char>=? #\\b #\\a) => #t";
    "char-ci=?", 1, None, char_ci_eq, "Equal ignoring case?", "(char-ci=? #\\A #\\a) => #t";
    "char-ci<?", 1, None, char_ci_lt, "Increasing, ignoring case?", "(char-ci<? #\\a #\\B) => #t";
    "char-ci>?", 1, None, char_ci_gt, "Decreasing, ignoring case?", "(char-ci>? #\\B #\\a) => #t";
    "char-ci<=?", 1, None, char_ci_le, "Non-decreasing, ignoring case?", "(char-ci<=? #\\a #\\A) => #t";
    "char-ci>=?", 1, None, char_ci_ge, "Non-increasing, ignoring case?", "(char-ci>=? #\\b #\\A) => #t";
    "char=?", 1, None, char_eq, "Are the characters equal?", "(char=? #\\a #\\a) => #t";
    "char<?", 1, None, char_lt, "Increasing code points?", "(char<? #\\a #\\b) => #t";
    "char>?", 1, None, char_gt, "Decreasing code points?", "(char>? #\\b #\\a) => #t";
    "digit-value", 1, Some(1), digit_value, "Value of a decimal digit, or #f.", "(digit-value #\\7) => 7";
];
