//! Persistent maps (ordered `OrdMap`) and sets (`OrdSet`): every "update" returns a new
//! collection sharing structure with the old. Vectors are in `vectors.rs`.

use std::rc::Rc;

use imbl::{OrdMap, OrdSet};

use super::{bool_value, list_arg, proc_arg, sequence_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn map_arg<'v>(
    a: &'v [Value],
    i: usize,
    who: &str,
) -> Result<&'v Rc<OrdMap<Value, Value>>, LangError> {
    match &a[i] {
        Value::Map(m) => Ok(m),
        v => Err(type_error(who, i, "a map", v)),
    }
}
fn set_arg<'v>(a: &'v [Value], i: usize, who: &str) -> Result<&'v Rc<OrdSet<Value>>, LangError> {
    match &a[i] {
        Value::Set(s) => Ok(s),
        v => Err(type_error(who, i, "a set", v)),
    }
}

fn hash(_: &mut Interp, a: &[Value], _: Span) -> R {
    if a.len() % 2 == 1 {
        return Err(value_error(
            "hash",
            "needs an even number of arguments: key value ...",
        ));
    }
    Ok(Value::Map(Rc::new(
        a.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect(),
    )))
}
fn is_hash(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Map(_)))
}
fn hash_ref(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let m = map_arg(a, 0, "hash-ref")?;
    match (m.get(&a[1]), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) if default.is_procedure() => interp.apply(default, vec![], span),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(LangError::new(
            Code::Value,
            format!(
                "hash-ref: no key {}",
                crate::lang::printer::write_short(&a[1])
            ),
        )
        .with_hint("pass a default as the third argument: (hash-ref m k default)")),
    }
}
fn hash_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    let m = map_arg(a, 0, "hash-set")?;
    Ok(Value::Map(Rc::new(m.update(a[1].clone(), a[2].clone()))))
}
fn hash_remove(_: &mut Interp, a: &[Value], _: Span) -> R {
    let m = map_arg(a, 0, "hash-remove")?;
    Ok(Value::Map(Rc::new(m.without(&a[1]))))
}
fn hash_has_key(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(map_arg(a, 0, "hash-has-key?")?.contains_key(&a[1]))
}
fn hash_keys(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::list(
        map_arg(a, 0, "hash-keys")?
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
    ))
}
fn hash_values(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::list(
        map_arg(a, 0, "hash-values")?
            .values()
            .cloned()
            .collect::<Vec<_>>(),
    ))
}
fn hash_to_list(_: &mut Interp, a: &[Value], _: Span) -> R {
    let m = map_arg(a, 0, "hash->list")?;
    Ok(Value::list(
        m.iter()
            .map(|(k, v)| Value::cons(k.clone(), v.clone()))
            .collect::<Vec<_>>(),
    ))
}
fn list_to_hash(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut m = OrdMap::new();
    for (i, p) in list_arg(a, 0, "list->hash")?.into_iter().enumerate() {
        match p {
            Value::Pair(p) => {
                m.insert(p.0.clone(), p.1.clone());
            }
            other => {
                return Err(type_error(
                    "list->hash",
                    i,
                    "a list of (key . value) pairs",
                    &other,
                ))
            }
        }
    }
    Ok(Value::Map(Rc::new(m)))
}
fn hash_count(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(map_arg(a, 0, "hash-count")?.len() as i64))
}
fn hash_update(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let m = map_arg(a, 0, "hash-update")?;
    let f = proc_arg(a, 2, "hash-update")?;
    let current = match (m.get(&a[1]), a.get(3)) {
        (Some(v), _) => v.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => {
            return Err(value_error(
                "hash-update",
                format!(
                    "no key {} and no default",
                    crate::lang::printer::write_short(&a[1])
                ),
            ))
        }
    };
    let new = interp.apply(&f, vec![current], span)?;
    Ok(Value::Map(Rc::new(m.update(a[1].clone(), new))))
}
fn hash_merge(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut out = (**map_arg(a, 0, "hash-merge")?).clone();
    for i in 1..a.len() {
        out = map_arg(a, i, "hash-merge")?.as_ref().clone().union(out);
    }
    Ok(Value::Map(Rc::new(out)))
}
fn hash_map(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let m = map_arg(a, 0, "hash-map")?.clone();
    let f = proc_arg(a, 1, "hash-map")?;
    let mut out = Vec::new();
    for (k, v) in m.iter() {
        out.push(interp.apply(&f, vec![k.clone(), v.clone()], span)?);
    }
    Ok(Value::list(out))
}
fn hash_for_each(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let m = map_arg(a, 0, "hash-for-each")?.clone();
    let f = proc_arg(a, 1, "hash-for-each")?;
    for (k, v) in m.iter() {
        interp.apply(&f, vec![k.clone(), v.clone()], span)?;
    }
    Ok(Value::Void)
}

fn set(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Set(Rc::new(a.iter().cloned().collect())))
}
fn is_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Set(_)))
}
fn set_add(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Set(Rc::new(
        set_arg(a, 0, "set-add")?.update(a[1].clone()),
    )))
}
fn set_remove(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Set(Rc::new(
        set_arg(a, 0, "set-remove")?.without(&a[1]),
    )))
}
fn set_member(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(set_arg(a, 0, "set-member?")?.contains(&a[1]))
}
fn set_count(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(set_arg(a, 0, "set-count")?.len() as i64))
}
fn set_union(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut out = (**set_arg(a, 0, "set-union")?).clone();
    for i in 1..a.len() {
        out = out.union((**set_arg(a, i, "set-union")?).clone());
    }
    Ok(Value::Set(Rc::new(out)))
}
fn set_intersect(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut out = (**set_arg(a, 0, "set-intersect")?).clone();
    for i in 1..a.len() {
        out = out.intersection((**set_arg(a, i, "set-intersect")?).clone());
    }
    Ok(Value::Set(Rc::new(out)))
}
fn set_subtract(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut out = (**set_arg(a, 0, "set-subtract")?).clone();
    for i in 1..a.len() {
        out = out.relative_complement((**set_arg(a, i, "set-subtract")?).clone());
    }
    Ok(Value::Set(Rc::new(out)))
}
fn subset(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(set_arg(a, 0, "subset?")?.is_subset(&**set_arg(a, 1, "subset?")?))
}
fn set_to_list(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::list(
        set_arg(a, 0, "set->list")?
            .iter()
            .cloned()
            .collect::<Vec<_>>(),
    ))
}
fn list_to_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Set(Rc::new(
        sequence_arg(a, 0, "list->set")?.into_iter().collect(),
    )))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "hash", 0, None, hash, "A persistent ordered map from key value pairs.", "(hash 'a 1 'b 2) => {a 1 b 2}";
    "hash?", 1, Some(1), is_hash, "Is it a map?", "(hash? {}) => #t";
    "hash-ref", 2, Some(3), hash_ref, "Value for a key; the default (or thunk) if absent, else an error.", "(hash-ref {'a 1} 'a) => 1";
    "hash-set", 3, Some(3), hash_set, "A new map with a key set.", "(hash-set {} 'a 1) => {a 1}";
    "hash-remove", 2, Some(2), hash_remove, "A new map without a key.", "(hash-remove {'a 1} 'a) => {}";
    "hash-has-key?", 2, Some(2), hash_has_key, "Is the key present?", "(hash-has-key? {'a 1} 'a) => #t";
    "hash-keys", 1, Some(1), hash_keys, "Keys in order.", "(hash-keys {'b 2 'a 1}) => (a b)";
    "hash-values", 1, Some(1), hash_values, "Values in key order.", "(hash-values {'b 2 'a 1}) => (1 2)";
    "hash->list", 1, Some(1), hash_to_list, "(key . value) pairs in key order.", "(hash->list {'a 1}) => ((a . 1))";
    "list->hash", 1, Some(1), list_to_hash, "A map from (key . value) pairs.", "(list->hash '((a . 1))) => {a 1}";
    "hash-count", 1, Some(1), hash_count, "Number of keys.", "(hash-count {'a 1}) => 1";
    "hash-update", 3, Some(4), hash_update, "A new map with (f old) at a key (old defaults to the 4th argument).", "(hash-update {'a 1} 'a add1) => {a 2}";
    "hash-merge", 1, None, hash_merge, "Merges maps; later maps win on shared keys.", "(hash-merge {'a 1} {'a 2 'b 3}) => {a 2 b 3}";
    "hash-map", 2, Some(2), hash_map, "List of (f key value) in key order.", "(hash-map {'a 1} (lambda (k v) v)) => (1)";
    "hash-for-each", 2, Some(2), hash_for_each, "Calls (f key value) in key order.", "(hash-for-each m (lambda (k v) (display k)))";
    "set", 0, None, set, "A persistent ordered set.", "(set 2 1 2) => #{1 2}";
    "set?", 1, Some(1), is_set, "Is it a set?", "(set? (set)) => #t";
    "set-add", 2, Some(2), set_add, "A new set with an element.", "(set-add (set 1) 2) => #{1 2}";
    "set-remove", 2, Some(2), set_remove, "A new set without an element.", "(set-remove (set 1 2) 1) => #{2}";
    "set-member?", 2, Some(2), set_member, "Is the element in the set?", "(set-member? (set 1) 1) => #t";
    "set-count", 1, Some(1), set_count, "Number of elements.", "(set-count (set 1 2)) => 2";
    "set-union", 1, None, set_union, "Union of sets.", "(set-union (set 1) (set 2)) => #{1 2}";
    "set-intersect", 1, None, set_intersect, "Intersection of sets.", "(set-intersect (set 1 2) (set 2 3)) => #{2}";
    "set-subtract", 1, None, set_subtract, "Elements of the first set not in the others.", "(set-subtract (set 1 2) (set 2)) => #{1}";
    "subset?", 2, Some(2), subset, "Is every element of the first in the second?", "(subset? (set 1) (set 1 2)) => #t";
    "set->list", 1, Some(1), set_to_list, "Elements in order.", "(set->list (set 2 1)) => (1 2)";
    "list->set", 1, Some(1), list_to_set, "A set of a sequence's elements.", "(list->set '(1 1 2)) => #{1 2}";
];
