//! Vectors, both kinds. R7RS vectors (`vector`, `make-vector`, `#(...)`) are mutable in
//! place (`vector-set!`, `vector-fill!`, `vector-copy!`); the language's persistent
//! vectors (`[...]`, `persistent-vector`) never change, and `vector-set` / `vector-push`
//! return new vectors of the same kind. Reading procedures accept either kind.

use std::rc::Rc;

use imbl::Vector;

use super::{bool_value, index_arg, list_arg, proc_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::memory::{PAIR_BYTES, SLOT_BYTES};
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

/// A borrowed view of either kind of vector.
enum View<'a> {
    Persistent(&'a Rc<Vector<Value>>),
    Mutable(std::cell::Ref<'a, Vec<Value>>),
}

impl View<'_> {
    fn len(&self) -> usize {
        match self {
            View::Persistent(v) => v.len(),
            View::Mutable(v) => v.len(),
        }
    }
    fn get(&self, i: usize) -> Option<Value> {
        match self {
            View::Persistent(v) => v.get(i).cloned(),
            View::Mutable(v) => v.get(i).cloned(),
        }
    }
    fn range(&self, start: usize, end: usize) -> Vec<Value> {
        match self {
            View::Persistent(v) => v.iter().skip(start).take(end - start).cloned().collect(),
            View::Mutable(v) => v[start..end].to_vec(),
        }
    }
}

fn view<'a>(a: &'a [Value], i: usize, who: &str) -> Result<View<'a>, LangError> {
    match &a[i] {
        Value::Vector(v) => Ok(View::Persistent(v)),
        Value::MVector(v) => Ok(View::Mutable(v.borrow())),
        v => Err(type_error(who, i, "a vector", v)),
    }
}

/// The elements of vector argument `i`, copied (so callbacks may change the vector).
pub fn vector_items(a: &[Value], i: usize, who: &str) -> Result<Vec<Value>, LangError> {
    let v = view(a, i, who)?;
    Ok(v.range(0, v.len()))
}

/// The optional start and end (arguments `from` and `from + 1`) of a vector of `len`.
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
            format!("{who}: range {start}..{end} is outside a vector of length {len}"),
        ));
    }
    Ok((start, end))
}

/// The writable storage of a mutable, non-literal vector argument.
fn writable<'a>(
    a: &'a [Value],
    i: usize,
    who: &str,
) -> Result<&'a crate::lang::value::MVec, LangError> {
    match &a[i] {
        Value::MVector(v) if v.is_literal() => Err(value_error(
            who,
            "a literal vector is a constant and cannot be changed",
        )
        .with_hint("copy it first: (vector-copy #(...))")),
        Value::MVector(v) => Ok(v),
        Value::Vector(_) => Err(value_error(
            who,
            "[...] vectors are persistent and cannot be changed in place",
        )
        .with_hint("use (vector-set v i x), which returns a new vector, or make an R7RS vector with (vector ...)")),
        v => Err(type_error(who, i, "a vector", v)),
    }
}

/// A vector of the same kind as argument `i` holding `items`.
fn same_kind(a: &[Value], i: usize, items: Vec<Value>) -> Value {
    match &a[i] {
        Value::Vector(_) => Value::vector(items),
        _ => Value::mvector(items),
    }
}

fn vector(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::mvector(a.to_vec()))
}
fn persistent_vector(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::vector(a.iter().cloned()))
}
fn make_vector(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "make-vector")?;
    interp.reserve_items(n as u64, SLOT_BYTES, "make-vector")?;
    let fill = a.get(1).cloned().unwrap_or(Value::Int(0));
    Ok(Value::mvector(vec![fill; n]))
}
fn is_vector(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Vector(_) | Value::MVector(_)))
}
fn is_persistent_vector(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Vector(_)))
}
fn vector_length(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(view(a, 0, "vector-length")?.len() as i64))
}
fn vector_ref(_: &mut Interp, a: &[Value], _: Span) -> R {
    let v = view(a, 0, "vector-ref")?;
    let i = index_arg(a, 1, "vector-ref")?;
    v.get(i)
        .ok_or_else(|| super::lists::range_error("vector-ref", i, v.len()))
}
fn vector_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    let i = index_arg(a, 1, "vector-set")?;
    match &a[0] {
        Value::Vector(v) if i < v.len() => Ok(Value::Vector(Rc::new(v.update(i, a[2].clone())))),
        _ => {
            let mut items = vector_items(a, 0, "vector-set")?;
            let len = items.len();
            let slot = items
                .get_mut(i)
                .ok_or_else(|| super::lists::range_error("vector-set", i, len))?;
            *slot = a[2].clone();
            Ok(same_kind(a, 0, items))
        }
    }
}
fn vector_set_bang(_: &mut Interp, a: &[Value], _: Span) -> R {
    let v = writable(a, 0, "vector-set!")?;
    let i = index_arg(a, 1, "vector-set!")?;
    let mut items = v.borrow_mut();
    let len = items.len();
    match items.get_mut(i) {
        Some(slot) => *slot = a[2].clone(),
        None => return Err(super::lists::range_error("vector-set!", i, len)),
    }
    Ok(Value::Void)
}
fn vector_fill(_: &mut Interp, a: &[Value], _: Span) -> R {
    let v = writable(a, 0, "vector-fill!")?;
    let len = v.borrow().len();
    let (start, end) = bounds(a, 2, len, "vector-fill!")?;
    for slot in &mut v.borrow_mut()[start..end] {
        *slot = a[1].clone();
    }
    Ok(Value::Void)
}
/// `(vector-copy! to at from [start end])`, correct when `to` and `from` overlap.
fn vector_copy_bang(_: &mut Interp, a: &[Value], _: Span) -> R {
    let at = index_arg(a, 1, "vector-copy!")?;
    let source = {
        let from = view(a, 2, "vector-copy!")?;
        let (start, end) = bounds(a, 3, from.len(), "vector-copy!")?;
        from.range(start, end)
    };
    let to = writable(a, 0, "vector-copy!")?;
    let mut items = to.borrow_mut();
    if at > items.len() || items.len() - at < source.len() {
        return Err(LangError::new(
            Code::Range,
            format!(
                "vector-copy!: {} elements do not fit at {at} in a vector of length {}",
                source.len(),
                items.len()
            ),
        ));
    }
    items[at..at + source.len()].clone_from_slice(&source);
    Ok(Value::Void)
}
fn vector_push(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Vector(v) => {
            let mut v = (**v).clone();
            v.push_back(a[1].clone());
            Ok(Value::Vector(Rc::new(v)))
        }
        _ => {
            let mut items = vector_items(a, 0, "vector-push")?;
            items.push(a[1].clone());
            Ok(Value::mvector(items))
        }
    }
}
fn vector_to_list(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let items = {
        let v = view(a, 0, "vector->list")?;
        let (start, end) = bounds(a, 1, v.len(), "vector->list")?;
        v.range(start, end)
    };
    interp.reserve_items(items.len() as u64, PAIR_BYTES, "vector->list")?;
    Ok(Value::list(items))
}
fn list_to_vector(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::mvector(list_arg(a, 0, "list->vector")?))
}
fn vector_to_persistent(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Vector(_) => Ok(a[0].clone()),
        _ => Ok(Value::vector(vector_items(
            a,
            0,
            "vector->persistent-vector",
        )?)),
    }
}
/// The element columns of the vectors from argument 1 on, cut to the shortest (R7RS).
fn columns(a: &[Value], who: &str) -> Result<(Vec<Vec<Value>>, usize), LangError> {
    let cols = (1..a.len())
        .map(|i| vector_items(a, i, who))
        .collect::<Result<Vec<_>, _>>()?;
    let n = cols.iter().map(Vec::len).min().unwrap_or(0);
    Ok((cols, n))
}
fn vector_map(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "vector-map")?;
    let (cols, n) = columns(a, "vector-map")?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(interp.apply(&f, cols.iter().map(|c| c[i].clone()).collect(), span)?);
    }
    Ok(same_kind(a, 1, out))
}
fn vector_for_each(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "vector-for-each")?;
    let (cols, n) = columns(a, "vector-for-each")?;
    for i in 0..n {
        interp.apply(&f, cols.iter().map(|c| c[i].clone()).collect(), span)?;
    }
    Ok(Value::Void)
}
fn vector_append(interp: &mut Interp, a: &[Value], _: Span) -> R {
    if !a.is_empty() && a.iter().all(|v| matches!(v, Value::Vector(_))) {
        let mut out = Vector::new();
        for v in a {
            if let Value::Vector(v) = v {
                out.append((**v).clone());
            }
        }
        return Ok(Value::Vector(Rc::new(out)));
    }
    let mut total = 0u64;
    for i in 0..a.len() {
        total += view(a, i, "vector-append")?.len() as u64;
    }
    interp.reserve_items(total, SLOT_BYTES, "vector-append")?;
    let mut out = Vec::with_capacity(total as usize);
    for i in 0..a.len() {
        out.extend(vector_items(a, i, "vector-append")?);
    }
    Ok(Value::mvector(out))
}
fn vector_slice(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = {
        let v = view(a, 0, "vector-slice")?;
        let (start, end) = bounds(a, 1, v.len(), "vector-slice")?;
        if let View::Persistent(p) = &v {
            return Ok(Value::Vector(Rc::new((***p).clone().slice(start..end))));
        }
        v.range(start, end)
    };
    Ok(Value::mvector(items))
}
/// R7RS `vector-copy`: a new mutable vector (also from a persistent one).
fn vector_copy(_: &mut Interp, a: &[Value], _: Span) -> R {
    let v = view(a, 0, "vector-copy")?;
    let (start, end) = bounds(a, 1, v.len(), "vector-copy")?;
    Ok(Value::mvector(v.range(start, end)))
}
fn vector_fold(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "vector-fold")?;
    let mut acc = a[1].clone();
    for x in vector_items(a, 2, "vector-fold")? {
        acc = interp.apply(&f, vec![x, acc], span)?;
    }
    Ok(acc)
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "vector", 0, None, vector, "A new R7RS (mutable) vector of the arguments.", "(vector 1 2) => #(1 2)";
    "make-vector", 1, Some(2), make_vector, "A new R7RS vector of n copies of a value (default 0).", "(make-vector 2 'x) => #(x x)";
    "persistent-vector", 0, None, persistent_vector, "A persistent vector of the arguments (what [...] builds).", "(persistent-vector 1 2) => [1 2]";
    "vector?", 1, Some(1), is_vector, "Is it a vector (either kind)?", "(vector? [1]) => #t";
    "persistent-vector?", 1, Some(1), is_persistent_vector, "Is it a persistent vector?", "(persistent-vector? (vector 1)) => #f";
    "vector-length", 1, Some(1), vector_length, "Number of elements.", "(vector-length [1 2]) => 2";
    "vector-ref", 2, Some(2), vector_ref, "Element at a 0-based index.", "(vector-ref #(a b) 1) => b";
    "vector-set", 3, Some(3), vector_set, "A new vector (of the same kind) with one element replaced.", "(vector-set [1 2] 0 9) => [9 2]";
    "vector-set!", 3, Some(3), vector_set_bang, "Replaces an element of an R7RS vector in place (persistent and literal vectors refuse).", "(let ([v (vector 1 2)]) (vector-set! v 0 9) v) => #(9 2)";
    "vector-fill!", 2, Some(4), vector_fill, "Stores a value in every element (from start to end) of an R7RS vector.", "(let ([v (make-vector 3 0)]) (vector-fill! v 7 1) v) => #(0 7 7)";
    "vector-copy!", 3, Some(5), vector_copy_bang, "(vector-copy! to at from [start end]): copies elements into an R7RS vector.", "(let ([v (vector 1 2 3)]) (vector-copy! v 0 #(8 9)) v) => #(8 9 3)";
    "vector-push", 2, Some(2), vector_push, "A new vector (of the same kind) with an element appended.", "(vector-push [1] 2) => [1 2]";
    "vector->list", 1, Some(3), vector_to_list, "The elements (from start to end) as a list.", "(vector->list #(1 2 3) 1) => (2 3)";
    "list->vector", 1, Some(1), list_to_vector, "A new R7RS vector of a list's elements.", "(list->vector '(1 2)) => #(1 2)";
    "vector->persistent-vector", 1, Some(1), vector_to_persistent, "A persistent vector of the same elements.", "(vector->persistent-vector (vector 1 2)) => [1 2]";
    "vector-map", 2, None, vector_map, "Maps over vectors (to the shortest), giving a vector of the first's kind.", "(vector-map + #(1 2) #(10 20)) => #(11 22)";
    "vector-for-each", 2, None, vector_for_each, "Applies a procedure to the elements of vectors for effect.", "(vector-for-each display #(1 2)) prints 12";
    "vector-append", 0, None, vector_append, "Concatenates vectors: persistent if all are, else a new R7RS vector.", "(vector-append #(1) #(2)) => #(1 2)";
    "vector-slice", 2, Some(3), vector_slice, "Elements from start to end (exclusive), same kind.", "(vector-slice [1 2 3] 1) => [2 3]";
    "vector-copy", 1, Some(3), vector_copy, "A new R7RS vector of the elements from start (0) to end (the length).", "(vector-copy #(1 2 3) 1) => #(2 3)";
    "vector-fold", 3, Some(3), vector_fold, "Left fold over a vector: (f elem acc).", "(vector-fold + 0 [1 2 3]) => 6";
];
