//! The rest of R7RS `(scheme cxr)` (the three- and four-letter car/cdr compositions not in
//! `lists.rs`), and the pair mutators, which the language refuses: pairs are immutable, so
//! lists can be shared by protocol state and used as map keys (a deliberate difference from
//! R7RS, listed in lang/REFERENCE.md).

use super::type_error;
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

/// c[ad]+r: applies the letters right to left.
fn cxr(v: &Value, path: &str, who: &str) -> R {
    let mut cur = v.clone();
    for c in path.chars().rev() {
        cur = match (&cur, c) {
            (Value::Pair(p), 'a') => p.0.clone(),
            (Value::Pair(p), _) => p.1.clone(),
            (other, _) => return Err(type_error(who, 0, "a list deep enough", other)),
        };
    }
    Ok(cur)
}

fn caaar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aaa", "caaar")
}
fn caadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aad", "caadr")
}
fn cadar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ada", "cadar")
}
fn cdaar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "daa", "cdaar")
}
fn cdadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "dad", "cdadr")
}
fn cddar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "dda", "cddar")
}
fn caaaar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aaaa", "caaaar")
}
fn caaadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aaad", "caaadr")
}
fn caadar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aada", "caadar")
}
fn caaddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aadd", "caaddr")
}
fn cadaar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "adaa", "cadaar")
}
fn cadadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "adad", "cadadr")
}
fn caddar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "adda", "caddar")
}
fn cdaaar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "daaa", "cdaaar")
}
fn cdaadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "daad", "cdaadr")
}
fn cdadar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "dada", "cdadar")
}
fn cdaddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "dadd", "cdaddr")
}
fn cddaar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ddaa", "cddaar")
}
fn cddadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ddad", "cddadr")
}
fn cdddar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ddda", "cdddar")
}
fn cddddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "dddd", "cddddr")
}

fn immutable_pairs(who: &str) -> R {
    Err(LangError::new(
        Code::Value,
        format!("{who}: pairs are immutable in xln (lists are values, shared safely and usable as map keys)"),
    )
    .with_hint("build a new list instead, or keep mutable state in a box or an R7RS vector"))
}
fn set_car(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(_) => immutable_pairs("set-car!"),
        v => Err(type_error("set-car!", 0, "a pair", v)),
    }
}
fn set_cdr(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(_) => immutable_pairs("set-cdr!"),
        v => Err(type_error("set-cdr!", 0, "a pair", v)),
    }
}
fn list_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(_) => immutable_pairs("list-set!"),
        v => Err(type_error("list-set!", 0, "a list", v)),
    }
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "caaar", 1, Some(1), caaar, "(car (car (car x))).", "(caaar '(((x)))) => x";
    "caadr", 1, Some(1), caadr, "(car (car (cdr x))).", "(caadr '(_ . ((x)))) => x";
    "cadar", 1, Some(1), cadar, "(car (cdr (car x))).", "(cadar '((_ . (x)))) => x";
    "cdaar", 1, Some(1), cdaar, "(cdr (car (car x))).", "(cdaar '(((_ . x)))) => x";
    "cdadr", 1, Some(1), cdadr, "(cdr (car (cdr x))).", "(cdadr '(_ . ((_ . x)))) => x";
    "cddar", 1, Some(1), cddar, "(cdr (cdr (car x))).", "(cddar '((_ . (_ . x)))) => x";
    "caaaar", 1, Some(1), caaaar, "(car (car (car (car x)))).", "(caaaar '((((x))))) => x";
    "caaadr", 1, Some(1), caaadr, "(car (car (car (cdr x)))).", "(caaadr '(_ . (((x))))) => x";
    "caadar", 1, Some(1), caadar, "(car (car (cdr (car x)))).", "(caadar '((_ . ((x))))) => x";
    "caaddr", 1, Some(1), caaddr, "(car (car (cdr (cdr x)))).", "(caaddr '(_ . (_ . ((x))))) => x";
    "cadaar", 1, Some(1), cadaar, "(car (cdr (car (car x)))).", "(cadaar '(((_ . (x))))) => x";
    "cadadr", 1, Some(1), cadadr, "(car (cdr (car (cdr x)))).", "(cadadr '(_ . ((_ . (x))))) => x";
    "caddar", 1, Some(1), caddar, "(car (cdr (cdr (car x)))).", "(caddar '((_ . (_ . (x))))) => x";
    "cdaaar", 1, Some(1), cdaaar, "(cdr (car (car (car x)))).", "(cdaaar '((((_ . x))))) => x";
    "cdaadr", 1, Some(1), cdaadr, "(cdr (car (car (cdr x)))).", "(cdaadr '(_ . (((_ . x))))) => x";
    "cdadar", 1, Some(1), cdadar, "(cdr (car (cdr (car x)))).", "(cdadar '((_ . ((_ . x))))) => x";
    "cdaddr", 1, Some(1), cdaddr, "(cdr (car (cdr (cdr x)))).", "(cdaddr '(_ . (_ . ((_ . x))))) => x";
    "cddaar", 1, Some(1), cddaar, "(cdr (cdr (car (car x)))).", "(cddaar '(((_ . (_ . x))))) => x";
    "cddadr", 1, Some(1), cddadr, "(cdr (cdr (car (cdr x)))).", "(cddadr '(_ . ((_ . (_ . x))))) => x";
    "cdddar", 1, Some(1), cdddar, "(cdr (cdr (cdr (car x)))).", "(cdddar '((_ . (_ . (_ . x))))) => x";
    "cddddr", 1, Some(1), cddddr, "(cdr (cdr (cdr (cdr x)))).", "(cddddr '(_ . (_ . (_ . (_ . x))))) => x";
    "set-car!", 2, Some(2), set_car, "Refused: pairs are immutable here (a deliberate difference from R7RS); error E014.", "(set-car! (list 1) 2) ; error E014";
    "set-cdr!", 2, Some(2), set_cdr, "Refused: pairs are immutable here (a deliberate difference from R7RS); error E014.", "(set-cdr! (list 1) '()) ; error E014";
    "list-set!", 3, Some(3), list_set, "Refused: lists are immutable here (a deliberate difference from R7RS); error E014.", "(list-set! (list 1 2) 0 'x) ; error E014";
];
