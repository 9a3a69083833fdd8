//! List builtins (immutable cons lists) and the higher-order procedures: map, filter, folds,
//! sort, apply. Higher-order procedures accept lists, vectors and sets where sensible.

use super::{bool_value, index_arg, list_arg, proc_arg, sequence_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::memory::PAIR_BYTES;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn cons(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::cons(a[0].clone(), a[1].clone()))
}
fn car(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(p) => Ok(p.0.clone()),
        v => Err(type_error("car", 0, "a pair", v)),
    }
}
fn cdr(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(p) => Ok(p.1.clone()),
        v => Err(type_error("cdr", 0, "a pair", v)),
    }
}
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
fn caar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "aa", "caar")
}
fn cadr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ad", "cadr")
}
fn cdar(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "da", "cdar")
}
fn cddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "dd", "cddr")
}
fn caddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "add", "caddr")
}
fn cdddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ddd", "cdddr")
}
fn cadddr(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "addd", "cadddr")
}
fn list(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::list(a.to_vec()))
}
fn cons_star(_: &mut Interp, a: &[Value], _: Span) -> R {
    let (last, init) = a
        .split_last()
        .map(|(l, i)| (l.clone(), i.to_vec()))
        .unwrap_or((Value::Nil, vec![]));
    Ok(Value::list_with_tail(init, last))
}
fn is_list(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_list())
}
fn is_pair(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Pair(_)))
}
fn is_null(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Nil))
}
fn length(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut n = 0i64;
    let mut cur = &a[0];
    loop {
        match cur {
            Value::Nil => return Ok(Value::Int(n)),
            Value::Pair(p) => {
                n += 1;
                cur = &p.1;
            }
            _ => return Err(type_error("length", 0, "a proper list", &a[0])),
        }
    }
}
fn append(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let Some((last, init)) = a.split_last() else {
        return Ok(Value::Nil);
    };
    let mut total = 0u64;
    for (i, l) in init.iter().enumerate() {
        total += proper_length(l).ok_or_else(|| type_error("append", i, "a proper list", l))?;
    }
    interp.reserve_items(total, PAIR_BYTES, "append")?;
    let mut items = Vec::with_capacity(total as usize);
    for l in init {
        items.extend(l.list_to_vec().unwrap_or_default());
    }
    Ok(Value::list_with_tail(items, last.clone()))
}
fn reverse(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut items = list_arg(a, 0, "reverse")?;
    items.reverse();
    Ok(Value::list(items))
}
fn list_ref(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "list-ref")?;
    let i = index_arg(a, 1, "list-ref")?;
    items
        .get(i)
        .cloned()
        .ok_or_else(|| range_error("list-ref", i, items.len()))
}
pub fn range_error(who: &str, i: usize, len: usize) -> LangError {
    LangError::new(
        Code::Range,
        format!("{who}: index {i} is out of range for length {len}"),
    )
    .with_hint(if len == 0 {
        "the collection is empty".to_string()
    } else {
        format!("valid indexes are 0 to {}", len - 1)
    })
}
fn list_tail(_: &mut Interp, a: &[Value], _: Span) -> R {
    let k = index_arg(a, 1, "list-tail")?;
    let mut cur = a[0].clone();
    for _ in 0..k {
        cur = match cur {
            Value::Pair(p) => p.1.clone(),
            _ => {
                return Err(value_error(
                    "list-tail",
                    format!("the list is shorter than {k}"),
                ))
            }
        };
    }
    Ok(cur)
}
fn mem_by(a: &[Value], same: fn(&Value, &Value) -> bool) -> R {
    let mut cur = a[1].clone();
    loop {
        match cur {
            Value::Pair(ref p) => {
                if same(&a[0], &p.0) {
                    return Ok(cur.clone());
                }
                cur = p.1.clone();
            }
            _ => return Ok(Value::Bool(false)),
        }
    }
}
fn memq(_: &mut Interp, a: &[Value], _: Span) -> R {
    mem_by(a, Value::is_eq)
}
fn memv(_: &mut Interp, a: &[Value], _: Span) -> R {
    mem_by(a, Value::is_eqv)
}
fn member(interp: &mut Interp, a: &[Value], span: Span) -> R {
    if a.len() < 3 {
        return mem_by(a, |x, y| x == y);
    }
    // R7RS: an optional third argument replaces equal?.
    let compare = proc_arg(a, 2, "member")?;
    let mut cur = a[1].clone();
    loop {
        match cur {
            Value::Pair(ref p) => {
                if interp
                    .apply(&compare, vec![a[0].clone(), p.0.clone()], span)?
                    .is_true()
                {
                    return Ok(cur.clone());
                }
                cur = p.1.clone();
            }
            _ => return Ok(Value::Bool(false)),
        }
    }
}
fn ass_by(a: &[Value], who: &str, same: fn(&Value, &Value) -> bool) -> R {
    for entry in list_arg(a, 1, who)? {
        if let Value::Pair(p) = &entry {
            if same(&a[0], &p.0) {
                return Ok(entry.clone());
            }
        }
    }
    Ok(Value::Bool(false))
}
fn assq(_: &mut Interp, a: &[Value], _: Span) -> R {
    ass_by(a, "assq", Value::is_eq)
}
fn assv(_: &mut Interp, a: &[Value], _: Span) -> R {
    ass_by(a, "assv", Value::is_eqv)
}
fn assoc(interp: &mut Interp, a: &[Value], span: Span) -> R {
    if a.len() < 3 {
        return ass_by(a, "assoc", |x, y| x == y);
    }
    // R7RS: an optional third argument replaces equal?.
    let compare = proc_arg(a, 2, "assoc")?;
    for entry in list_arg(a, 1, "assoc")? {
        if let Value::Pair(p) = &entry {
            if interp
                .apply(&compare, vec![a[0].clone(), p.0.clone()], span)?
                .is_true()
            {
                return Ok(entry.clone());
            }
        }
    }
    Ok(Value::Bool(false))
}
/// Fresh pairs with the same elements (so the copy is not `eq?` to the original, as R7RS
/// says); an improper tail is kept.
fn list_copy(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let mut items = Vec::new();
    let mut cur = &a[0];
    while let Value::Pair(p) = cur {
        items.push(p.0.clone());
        cur = &p.1;
    }
    interp.reserve_items(items.len() as u64, PAIR_BYTES, "list-copy")?;
    Ok(Value::list_with_tail(items, cur.clone()))
}
fn first(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(p) => Ok(p.0.clone()),
        v => Err(type_error("first", 0, "a non-empty list", v)),
    }
}
fn rest(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Pair(p) => Ok(p.1.clone()),
        v => Err(type_error("rest", 0, "a non-empty list", v)),
    }
}
fn second(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "ad", "second")
}
fn third(_: &mut Interp, a: &[Value], _: Span) -> R {
    cxr(&a[0], "add", "third")
}
fn last(_: &mut Interp, a: &[Value], _: Span) -> R {
    list_arg(a, 0, "last")?
        .pop()
        .ok_or_else(|| value_error("last", "the list is empty"))
}
fn take(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "take")?;
    let n = index_arg(a, 1, "take")?;
    if n > items.len() {
        return Err(range_error("take", n, items.len()));
    }
    Ok(Value::list(items.into_iter().take(n)))
}
fn drop(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "drop")?;
    let n = index_arg(a, 1, "drop")?;
    if n > items.len() {
        return Err(range_error("drop", n, items.len()));
    }
    Ok(Value::list(items.into_iter().skip(n).collect::<Vec<_>>()))
}
/// The length of a proper list, without copying it.
fn proper_length(v: &Value) -> Option<u64> {
    let mut n = 0u64;
    let mut cur = v;
    loop {
        match cur {
            Value::Nil => return Some(n),
            Value::Pair(p) => {
                n += 1;
                cur = &p.1;
            }
            _ => return None,
        }
    }
}
fn make_list(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "make-list")?;
    interp.reserve_items(n as u64, PAIR_BYTES, "make-list")?;
    Ok(Value::list(vec![
        a.get(1).cloned().unwrap_or(Value::Int(0));
        n
    ]))
}
fn iota(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "iota")?;
    interp.reserve_items(n as u64, PAIR_BYTES, "iota")?;
    let start = a.get(1).cloned().unwrap_or(Value::Int(0));
    let step = a.get(2).cloned().unwrap_or(Value::Int(1));
    let mut items = Vec::with_capacity(n);
    let mut cur = start;
    for _ in 0..n {
        items.push(cur.clone());
        cur = crate::lang::number::add(&cur, &step).map_err(|m| value_error("iota", m))?;
    }
    Ok(Value::list(items))
}
fn range(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let (start, end, step) = match a {
        [e] => (0i64, int(e, 0)?, 1i64),
        [s, e] => (int(s, 0)?, int(e, 1)?, 1),
        [s, e, st] => (int(s, 0)?, int(e, 1)?, int(st, 2)?),
        _ => unreachable_arity(),
    };
    if step == 0 {
        return Err(value_error("range", "step must not be zero"));
    }
    let width = i128::from(end) - i128::from(start);
    let count = if (width > 0) == (step > 0) {
        width
            .unsigned_abs()
            .div_ceil(i128::from(step).unsigned_abs())
    } else {
        0
    };
    interp.reserve_items(
        u64::try_from(count).unwrap_or(u64::MAX),
        PAIR_BYTES,
        "range",
    )?;
    let mut items = Vec::new();
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        items.push(Value::Int(i));
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(Value::list(items))
}
fn int(v: &Value, i: usize) -> Result<i64, LangError> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(type_error("range", i, "a small integer", other)),
    }
}
fn unreachable_arity() -> (i64, i64, i64) {
    (0, 0, 1)
}

/// Items of the sequence arguments from index `from`, checked to have equal lengths.
/// Items of the sequence arguments from index `from`, cut to the shortest (R7RS `map`
/// and `for-each` stop when the shortest list runs out).
fn sequences(a: &[Value], from: usize, who: &str) -> Result<Vec<Vec<Value>>, LangError> {
    let mut seqs = (from..a.len())
        .map(|i| sequence_arg(a, i, who))
        .collect::<Result<Vec<_>, _>>()?;
    let shortest = seqs.iter().map(Vec::len).min().unwrap_or(0);
    for s in &mut seqs {
        s.truncate(shortest);
    }
    Ok(seqs)
}

fn map(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "map")?;
    let seqs = sequences(a, 1, "map")?;
    let n = seqs.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(interp.apply(&f, seqs.iter().map(|s| s[i].clone()).collect(), span)?);
    }
    Ok(Value::list(out))
}
fn for_each(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "for-each")?;
    let seqs = sequences(a, 1, "for-each")?;
    for i in 0..seqs.first().map_or(0, Vec::len) {
        interp.apply(&f, seqs.iter().map(|s| s[i].clone()).collect(), span)?;
    }
    Ok(Value::Void)
}
fn append_map(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let mapped = map(interp, a, span)?;
    let lists = mapped.list_to_vec().unwrap_or_default();
    append(
        interp,
        &lists.into_iter().chain([Value::Nil]).collect::<Vec<_>>(),
        span,
    )
}
fn filter(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "filter")?;
    let mut out = Vec::new();
    for x in sequence_arg(a, 1, "filter")? {
        if interp.apply(&f, vec![x.clone()], span)?.is_true() {
            out.push(x);
        }
    }
    Ok(Value::list(out))
}
fn remove(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "remove")?;
    let mut out = Vec::new();
    for x in sequence_arg(a, 1, "remove")? {
        if !interp.apply(&f, vec![x.clone()], span)?.is_true() {
            out.push(x);
        }
    }
    Ok(Value::list(out))
}
fn filter_map(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "filter-map")?;
    let mut out = Vec::new();
    for x in sequence_arg(a, 1, "filter-map")? {
        let v = interp.apply(&f, vec![x], span)?;
        if v.is_true() {
            out.push(v);
        }
    }
    Ok(Value::list(out))
}
fn partition(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "partition")?;
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for x in sequence_arg(a, 1, "partition")? {
        if interp.apply(&f, vec![x.clone()], span)?.is_true() {
            yes.push(x);
        } else {
            no.push(x);
        }
    }
    Ok(Value::Values(
        vec![Value::list(yes), Value::list(no)].into(),
    ))
}
fn foldl(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "foldl")?;
    let seqs = sequences(a, 2, "foldl")?;
    let mut acc = a[1].clone();
    for i in 0..seqs.first().map_or(0, Vec::len) {
        let mut args: Vec<Value> = seqs.iter().map(|s| s[i].clone()).collect();
        args.push(acc);
        acc = interp.apply(&f, args, span)?;
    }
    Ok(acc)
}
fn foldr(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "foldr")?;
    let seqs = sequences(a, 2, "foldr")?;
    let mut acc = a[1].clone();
    for i in (0..seqs.first().map_or(0, Vec::len)).rev() {
        let mut args: Vec<Value> = seqs.iter().map(|s| s[i].clone()).collect();
        args.push(acc);
        acc = interp.apply(&f, args, span)?;
    }
    Ok(acc)
}
fn reduce(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "reduce")?;
    let items = sequence_arg(a, 2, "reduce")?;
    let mut it = items.into_iter();
    let Some(mut acc) = it.next() else {
        return Ok(a[1].clone());
    };
    for x in it {
        acc = interp.apply(&f, vec![x, acc], span)?;
    }
    Ok(acc)
}
fn any(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "ormap")?;
    let seqs = sequences(a, 1, "ormap")?;
    for i in 0..seqs.first().map_or(0, Vec::len) {
        let v = interp.apply(&f, seqs.iter().map(|s| s[i].clone()).collect(), span)?;
        if v.is_true() {
            return Ok(v);
        }
    }
    Ok(Value::Bool(false))
}
fn every(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "andmap")?;
    let seqs = sequences(a, 1, "andmap")?;
    let mut last = Value::Bool(true);
    for i in 0..seqs.first().map_or(0, Vec::len) {
        last = interp.apply(&f, seqs.iter().map(|s| s[i].clone()).collect(), span)?;
        if !last.is_true() {
            return Ok(Value::Bool(false));
        }
    }
    Ok(last)
}
fn count(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "count")?;
    let mut n = 0;
    for x in sequence_arg(a, 1, "count")? {
        if interp.apply(&f, vec![x], span)?.is_true() {
            n += 1;
        }
    }
    Ok(Value::Int(n))
}
fn find(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "findf")?;
    for x in sequence_arg(a, 1, "findf")? {
        if interp.apply(&f, vec![x.clone()], span)?.is_true() {
            return Ok(x);
        }
    }
    Ok(Value::Bool(false))
}
fn list_index(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "list-index")?;
    for (i, x) in sequence_arg(a, 1, "list-index")?.into_iter().enumerate() {
        if interp.apply(&f, vec![x], span)?.is_true() {
            return Ok(Value::Int(i as i64));
        }
    }
    Ok(Value::Bool(false))
}
fn delete(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::list(
        list_arg(a, 1, "delete")?
            .into_iter()
            .filter(|x| *x != a[0])
            .collect::<Vec<_>>(),
    ))
}
// Value's order never looks inside the cells of closures (procedures compare by identity),
// so a set of values cannot be corrupted by interior mutation.
#[allow(clippy::mutable_key_type)]
fn remove_duplicates(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut seen = std::collections::BTreeSet::new();
    let items = list_arg(a, 0, "remove-duplicates")?;
    Ok(Value::list(
        items
            .into_iter()
            .filter(|x| seen.insert(x.clone()))
            .collect::<Vec<_>>(),
    ))
}
fn flatten(_: &mut Interp, a: &[Value], _: Span) -> R {
    fn go(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Nil => {}
            Value::Pair(p) => {
                go(&p.0, out);
                go(&p.1, out);
            }
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    go(&a[0], &mut out);
    Ok(Value::list(out))
}
/// Stable merge sort with a user "less than"; errors from the comparator propagate.
/// `(sort seq [less-than] [#:key extract])`: with `#:key` (Racket), elements are compared by
/// the keys `extract` gives them (computed once per element).
fn sort(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let items = sequence_arg(a, 0, "sort")?;
    let (mut less, mut key) = (None, None);
    let mut i = 1;
    while i < a.len() {
        match &a[i] {
            Value::Keyword(k) if &*k.name() == "key" && i + 1 < a.len() => {
                key = Some(proc_arg(a, i + 1, "sort")?);
                i += 2;
            }
            Value::Keyword(k) => {
                return Err(value_error(
                    "sort",
                    format!("unknown keyword #:{k} (sort takes #:key extract)"),
                ))
            }
            _ if i == 1 => {
                less = Some(proc_arg(a, i, "sort")?);
                i += 1;
            }
            other => return Err(type_error("sort", i, "#:key", other)),
        }
    }
    let mut keyed = Vec::with_capacity(items.len());
    for x in items {
        let k = match &key {
            Some(f) => interp.apply(f, vec![x.clone()], span)?,
            None => x.clone(),
        };
        keyed.push((k, x));
    }
    let sorted: Vec<Value> = merge_sort(interp, keyed, less.as_ref(), span)?
        .into_iter()
        .map(|(_, x)| x)
        .collect();
    Ok(match &a[0] {
        Value::Vector(_) => Value::vector(sorted),
        Value::MVector(_) => Value::mvector(sorted),
        _ => Value::list(sorted),
    })
}
/// Sorts (key, element) pairs by key, stably.
fn merge_sort(
    interp: &mut Interp,
    items: Vec<(Value, Value)>,
    less: Option<&Value>,
    span: Span,
) -> Result<Vec<(Value, Value)>, LangError> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut items = items;
    let right = items.split_off(items.len() / 2);
    let left = merge_sort(interp, items, less, span)?;
    let right = merge_sort(interp, right, less, span)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(x), Some(y)) = (l.peek(), r.peek()) {
        let right_first = match less {
            Some(f) => interp
                .apply(f, vec![y.0.clone(), x.0.clone()], span)?
                .is_true(),
            None => y.0 < x.0,
        };
        if right_first {
            out.extend(r.next());
        } else {
            out.extend(l.next());
        }
    }
    out.extend(l);
    out.extend(r);
    Ok(out)
}
fn apply(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let (f, args) = apply_parts(a)?;
    interp.apply(&f, args, span)
}
/// The procedure and spread arguments of `(apply f x ... list)`; the evaluator calls the
/// procedure itself so that `apply` in tail position is a proper tail call (R7RS 3.5).
pub fn apply_parts(a: &[Value]) -> Result<(Value, Vec<Value>), LangError> {
    let f = proc_arg(a, 0, "apply")?;
    let (last, middle) = match a[1..].split_last() {
        Some((l, m)) => (l, m),
        None => return Ok((f, vec![])),
    };
    let mut args = middle.to_vec();
    args.extend(
        last.list_to_vec()
            .ok_or_else(|| type_error("apply", a.len() - 1, "a proper list", last))?,
    );
    Ok((f, args))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "cons", 2, Some(2), cons, "A new pair (the list constructor).", "(cons 1 '(2 3)) => (1 2 3)";
    "car", 1, Some(1), car, "First element of a pair.", "(car '(1 2)) => 1";
    "cdr", 1, Some(1), cdr, "Rest of a pair.", "(cdr '(1 2)) => (2)";
    "caar", 1, Some(1), caar, "(car (car x)).", "(caar '((1) 2)) => 1";
    "cadr", 1, Some(1), cadr, "(car (cdr x)): the second element.", "(cadr '(1 2 3)) => 2";
    "cdar", 1, Some(1), cdar, "(cdr (car x)).", "(cdar '((1 2))) => (2)";
    "cddr", 1, Some(1), cddr, "(cdr (cdr x)).", "(cddr '(1 2 3)) => (3)";
    "caddr", 1, Some(1), caddr, "The third element.", "(caddr '(1 2 3)) => 3";
    "cdddr", 1, Some(1), cdddr, "(cdr (cdr (cdr x))).", "(cdddr '(1 2 3 4)) => (4)";
    "cadddr", 1, Some(1), cadddr, "The fourth element.", "(cadddr '(1 2 3 4)) => 4";
    "list", 0, None, list, "A list of the arguments.", "(list 1 2 3) => (1 2 3)";
    "cons*", 1, None, cons_star, "Like list, but the last argument is the tail.", "(cons* 1 2 '(3)) => (1 2 3)";
    "list-copy", 1, Some(1), list_copy, "The same list (lists are immutable, so sharing is safe).", "(list-copy '(1 2)) => (1 2)";
    "list?", 1, Some(1), is_list, "Is it a proper list?", "(list? '(1 2)) => #t";
    "pair?", 1, Some(1), is_pair, "Is it a pair?", "(pair? '(1)) => #t";
    "null?", 1, Some(1), is_null, "Is it the empty list?", "(null? '()) => #t";
    "empty?", 1, Some(1), is_null, "Same as null?.", "(empty? '()) => #t";
    "length", 1, Some(1), length, "Number of elements of a proper list.", "(length '(1 2 3)) => 3";
    "append", 0, None, append, "Concatenates lists (the last may be any value).", "(append '(1) '(2 3)) => (1 2 3)";
    "reverse", 1, Some(1), reverse, "The list in reverse order.", "(reverse '(1 2 3)) => (3 2 1)";
    "list-ref", 2, Some(2), list_ref, "Element at a 0-based index.", "(list-ref '(a b c) 1) => b";
    "list-tail", 2, Some(2), list_tail, "The list without its first k elements.", "(list-tail '(1 2 3) 1) => (2 3)";
    "memq", 2, Some(2), memq, "Tail starting at the first eq? element, or #f.", "(memq 'b '(a b c)) => (b c)";
    "memv", 2, Some(2), memv, "Tail starting at the first eqv? element, or #f.", "(memv 2 '(1 2 3)) => (2 3)";
    "member", 2, Some(3), member, "Tail starting at the first equal? (or given comparison) element, or #f.", "(member '(1) '((0) (1))) => ((1))";
    "assq", 2, Some(2), assq, "First pair whose car is eq?, or #f.", "(assq 'b '((a 1) (b 2))) => (b 2)";
    "assv", 2, Some(2), assv, "First pair whose car is eqv?, or #f.", "(assv 2 '((1 a) (2 b))) => (2 b)";
    "assoc", 2, Some(3), assoc, "First pair whose car is equal? (or given comparison), or #f.", "(assoc \"b\" '((\"a\" 1) (\"b\" 2))) => (\"b\" 2)";
    "first", 1, Some(1), first, "First element of a non-empty list.", "(first '(1 2)) => 1";
    "rest", 1, Some(1), rest, "All but the first element.", "(rest '(1 2)) => (2)";
    "second", 1, Some(1), second, "Second element.", "(second '(1 2)) => 2";
    "third", 1, Some(1), third, "Third element.", "(third '(1 2 3)) => 3";
    "last", 1, Some(1), last, "Last element of a non-empty list.", "(last '(1 2 3)) => 3";
    "take", 2, Some(2), take, "The first n elements.", "(take '(1 2 3) 2) => (1 2)";
    "drop", 2, Some(2), drop, "All but the first n elements.", "(drop '(1 2 3) 2) => (3)";
    "make-list", 1, Some(2), make_list, "A list of n copies of a value.", "(make-list 3 'x) => (x x x)";
    "iota", 1, Some(3), iota, "n numbers from start (0) by step (1).", "(iota 3 1) => (1 2 3)";
    "range", 1, Some(3), range, "Integers from start (0) below end, by step (1).", "(range 1 4) => (1 2 3)";
    "map", 2, None, map, "Applies a procedure elementwise over one or more sequences.", "(map + '(1 2) '(10 20)) => (11 22)";
    "for-each", 2, None, for_each, "Applies a procedure for effect.", "(for-each display '(1 2)) prints 12";
    "append-map", 2, None, append_map, "map, then append the resulting lists.", "(append-map (lambda (x) (list x x)) '(1 2)) => (1 1 2 2)";
    "filter", 2, Some(2), filter, "Elements that satisfy the predicate.", "(filter odd? '(1 2 3)) => (1 3)";
    "remove", 2, Some(2), remove, "Elements that do not satisfy the predicate.", "(remove odd? '(1 2 3)) => (2)";
    "filter-map", 2, Some(2), filter_map, "Results of f that are not #f.", "(filter-map (lambda (x) (and (odd? x) (* x x))) '(1 2 3)) => (1 9)";
    "partition", 2, Some(2), partition, "Two values: elements that satisfy and that do not.", "(partition odd? '(1 2 3)) => (1 3) (2)";
    "foldl", 3, None, foldl, "Left fold: (f elem acc), first element first.", "(foldl cons '() '(1 2 3)) => (3 2 1)";
    "foldr", 3, None, foldr, "Right fold: (f elem acc), last element first.", "(foldr cons '() '(1 2 3)) => (1 2 3)";
    "reduce", 3, Some(3), reduce, "Folds without an initial value (returns the default when empty).", "(reduce + 0 '(1 2 3)) => 6";
    "ormap", 2, None, any, "First true result of f, or #f.", "(ormap even? '(1 2)) => #t";
    "any", 2, None, any, "Same as ormap.", "(any even? '(1 3)) => #f";
    "andmap", 2, None, every, "Last result if f is true for all, else #f.", "(andmap odd? '(1 3)) => #t";
    "every", 2, None, every, "Same as andmap.", "(every odd? '(1 2)) => #f";
    "count", 2, Some(2), count, "How many elements satisfy the predicate.", "(count odd? '(1 2 3)) => 2";
    "findf", 2, Some(2), find, "First element satisfying the predicate, or #f.", "(findf even? '(1 2 3)) => 2";
    "list-index", 2, Some(2), list_index, "Index of the first element satisfying the predicate, or #f.", "(list-index even? '(1 2 3)) => 1";
    "delete", 2, Some(2), delete, "The list without elements equal? to x.", "(delete 2 '(1 2 3 2)) => (1 3)";
    "remove-duplicates", 1, Some(1), remove_duplicates, "Keeps the first of each equal? element.", "(remove-duplicates '(1 2 1)) => (1 2)";
    "flatten", 1, Some(1), flatten, "All non-list leaves of a nested list.", "(flatten '(1 (2 (3)))) => (1 2 3)";
    "sort", 1, Some(4), sort, "Stable sort by a less-than procedure (default: the total order), optionally comparing #:key values.", "(sort '((b . 2) (a . 1)) < #:key cdr) => ((a . 1) (b . 2))";
    "apply", 1, None, apply, "Calls f with the arguments, the last spread from a list.", "(apply + 1 '(2 3)) => 6";
];
