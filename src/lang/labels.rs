//! Datum labels (R7RS 2.4): `#0=datum` names a datum and `#0#` refers to it, so read data
//! can share structure, and be cyclic through vectors. The parser marks labels with two
//! uninterned symbols; `resolve_all` turns each labelled datum into a constant value
//! right after reading, so the rest of the system never sees a label. Lists are immutable
//! here, so a label that refers to a list from inside that list is a read error.

use std::collections::HashMap;

use super::diagnostics::{Code, LangError};
use super::source::Span;
use super::symbol::Sym;
use super::syntax::{Datum, Syntax};
use super::value::Value;

thread_local! {
    static MARKERS: (Sym, Sym) = (
        Sym::gensym_named("#label="),
        Sym::gensym_named("#label#"),
    );
}

fn markers() -> (Sym, Sym) {
    MARKERS.with(|m| *m)
}

/// The parser's node for `#n=datum`.
pub fn definition(n: u64, datum: Syntax, span: Span) -> Datum {
    let (def, _) = markers();
    Datum::List(vec![
        Syntax::new(Datum::Symbol(def), span),
        Syntax::new(Datum::Atom(Value::Int(n as i64)), span),
        datum,
    ])
}

/// The parser's node for `#n#`.
pub fn reference(n: u64, span: Span) -> Datum {
    let (_, r) = markers();
    Datum::List(vec![
        Syntax::new(Datum::Symbol(r), span),
        Syntax::new(Datum::Atom(Value::Int(n as i64)), span),
    ])
}

/// What a label stands for while its datum is being built.
enum Slot {
    InProgress,
    Done(Value),
}

/// A label node's number, if `s` is one of the parser's label markers of kind `want`.
fn marker(s: &Syntax, want: Sym) -> Option<(u64, Option<&Syntax>)> {
    let items = s.list()?;
    if items.first()?.symbol()? != want {
        return None;
    }
    let n = match items.get(1)?.datum {
        Datum::Atom(Value::Int(n)) => n as u64,
        _ => return None,
    };
    Some((n, items.get(2)))
}

fn has_labels(s: &Syntax) -> bool {
    let (def, r) = markers();
    match &s.datum {
        Datum::Symbol(x) => *x == def || *x == r,
        Datum::List(items)
        | Datum::Vector(items)
        | Datum::ConstVector(items)
        | Datum::Map(items)
        | Datum::Set(items)
        | Datum::Struct(items) => items.iter().any(has_labels),
        Datum::Dotted(items, tail) => items.iter().any(has_labels) || has_labels(tail),
        Datum::Atom(_) => false,
    }
}

/// Replaces every labelled datum and label reference in `forms` by its value; labels are
/// scoped to one top-level datum.
pub fn resolve_all(forms: Vec<Syntax>) -> Result<Vec<Syntax>, LangError> {
    forms
        .into_iter()
        .map(|f| {
            if has_labels(&f) {
                resolve(&f, &mut HashMap::new())
            } else {
                Ok(f)
            }
        })
        .collect()
}

fn resolve(s: &Syntax, table: &mut HashMap<u64, Slot>) -> Result<Syntax, LangError> {
    let (def, r) = markers();
    if marker(s, def).is_some() || marker(s, r).is_some() {
        return Ok(Syntax::new(Datum::Atom(value_of(s, table)?), s.span));
    }
    let all = |items: &[Syntax], table: &mut HashMap<u64, Slot>| {
        items
            .iter()
            .map(|i| resolve(i, table))
            .collect::<Result<Vec<_>, _>>()
    };
    let datum = match &s.datum {
        Datum::List(items) => Datum::List(all(items, table)?),
        Datum::Dotted(items, tail) => {
            Datum::Dotted(all(items, table)?, Box::new(resolve(tail, table)?))
        }
        Datum::Vector(items) => Datum::Vector(all(items, table)?),
        Datum::ConstVector(items) => Datum::ConstVector(all(items, table)?),
        Datum::Map(items) => Datum::Map(all(items, table)?),
        Datum::Set(items) => Datum::Set(all(items, table)?),
        Datum::Struct(items) => Datum::Struct(all(items, table)?),
        other => other.clone(),
    };
    Ok(Syntax::new(datum, s.span))
}

fn label_error(s: &Syntax, message: String) -> LangError {
    LangError::new(Code::Read, message).with_span(s.span)
}

/// The value a datum denotes, with labels resolved.
fn value_of(s: &Syntax, table: &mut HashMap<u64, Slot>) -> Result<Value, LangError> {
    let (def, r) = markers();
    if let Some((n, Some(inner))) = marker(s, def) {
        if let Datum::ConstVector(items) = &inner.datum {
            // A vector can contain itself: make it first, then fill it.
            let v = Value::literal_mvector(Vec::new());
            table.insert(n, Slot::Done(v.clone()));
            let values = items
                .iter()
                .map(|i| value_of(i, table))
                .collect::<Result<Vec<_>, _>>()?;
            if let Value::MVector(m) = &v {
                *m.0.borrow_mut() = values;
            }
            return Ok(v);
        }
        table.insert(n, Slot::InProgress);
        let v = value_of(inner, table)?;
        table.insert(n, Slot::Done(v.clone()));
        return Ok(v);
    }
    if let Some((n, _)) = marker(s, r) {
        return match table.get(&n) {
            Some(Slot::Done(v)) => Ok(v.clone()),
            Some(Slot::InProgress) => Err(label_error(
                s,
                format!("`#{n}#` refers to a list from inside it: lists are immutable, so they cannot be cyclic"),
            )
            .with_hint("a cycle can go through a vector: #0=#(a #0#)")),
            None => Err(label_error(s, format!("`#{n}#` refers to a label not defined before it"))),
        };
    }
    let all = |items: &[Syntax], table: &mut HashMap<u64, Slot>| {
        items
            .iter()
            .map(|i| value_of(i, table))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match &s.datum {
        Datum::List(items) => Value::list(all(items, table)?),
        Datum::Dotted(items, tail) => {
            Value::list_with_tail(all(items, table)?, value_of(tail, table)?)
        }
        Datum::Vector(items) => Value::vector(all(items, table)?),
        Datum::ConstVector(items) => Value::literal_mvector(all(items, table)?),
        _ => s.to_value(),
    })
}
