//! Builtin procedures, grouped by family (one file each). Every builtin carries a doc line
//! and an example; `lang/REFERENCE.md` is checked against this registry by a test.

pub mod bytes;
pub mod bytevectors;
pub mod chars;
pub mod collections;
pub mod control;
pub mod cxr;
pub mod io;
pub mod lazy;
pub mod lists;
pub mod numbers;
pub mod ports;
pub mod reals;
pub mod strings;
pub mod structs;
pub mod system;
pub mod testing;
pub mod vectors;

use std::rc::Rc;

use num_bigint::BigInt;

use super::diagnostics::{Code, LangError};
use super::module::Module;
use super::printer::write_short;
use super::value::{Primitive, Value};

/// Every builtin table, in the order the reference lists them.
/// Native layers' bindings (crypto, accounts, ...) are listed by `crate::bindings::tables`.
pub fn tables() -> Vec<(&'static str, &'static [Primitive])> {
    let mut all = lang_tables();
    all.extend(crate::bindings::tables());
    all
}

/// The language's own builtin tables (no native layer's bindings): what a sandboxed
/// interpreter starts from.
pub fn lang_tables() -> Vec<(&'static str, &'static [Primitive])> {
    vec![
        ("Numbers", numbers::PRIMITIVES),
        (
            "Numbers: rationalize and the complex accessors",
            reals::PRIMITIVES,
        ),
        ("Lists and higher-order procedures", lists::PRIMITIVES),
        ("Pairs: more car/cdr compositions", cxr::PRIMITIVES),
        ("Strings, symbols and keywords", strings::PRIMITIVES),
        ("Characters", chars::PRIMITIVES),
        ("Bytes", bytes::PRIMITIVES),
        ("Bytevectors", bytevectors::PRIMITIVES),
        ("Vectors", vectors::PRIMITIVES),
        ("Maps and sets", collections::PRIMITIVES),
        ("Structs", structs::PRIMITIVES),
        ("Control, equality and errors", control::PRIMITIVES),
        ("Promises and parameters", lazy::PRIMITIVES),
        ("Ports, input and output", ports::PRIMITIVES),
        ("Formatting and evaluation", io::PRIMITIVES),
        ("Files, time and the process", system::PRIMITIVES),
        ("Testing", testing::PRIMITIVES),
    ]
}

/// Defines every builtin of `tables` in the root module.
pub fn install(module: &Rc<Module>, tables: &[(&'static str, &'static [Primitive])]) {
    for (_, table) in tables {
        for p in table.iter() {
            module.define(super::symbol::Sym::new(p.name), Value::Primitive(p));
        }
    }
}

/// Registers extra primitives from another layer (crypto, accounts, ...) in the builtins.
pub fn install_table(module: &Rc<Module>, table: &'static [Primitive]) {
    for p in table {
        module.define(super::symbol::Sym::new(p.name), Value::Primitive(p));
    }
}

/// The builtin named `name` as a value (used by expansions that must not be shadowed).
pub fn primitive(name: &str) -> Value {
    for (_, table) in tables() {
        if let Some(p) = table.iter().find(|p| p.name == name) {
            return Value::Primitive(p);
        }
    }
    Value::Void
}

/// Finds a builtin's documentation by name across all tables (including extensions).
pub fn find_primitive(name: &str) -> Option<&'static Primitive> {
    tables()
        .iter()
        .flat_map(|(_, t)| t.iter())
        .find(|p| p.name == name)
}

/// Is `p` one of the language's own builtins (as opposed to a native layer's binding)?
pub fn is_lang_primitive(p: &Primitive) -> bool {
    lang_tables()
        .iter()
        .any(|(_, t)| t.as_ptr_range().contains(&(p as *const Primitive)))
}

/// True for the R7RS mutable kinds (string, bytevector, vector).
pub fn is_r7rs_mutable(v: &Value) -> bool {
    matches!(v, Value::MString(_) | Value::MBytes(_) | Value::MVector(_))
}

/// An immutable snapshot of an R7RS mutable string, bytevector or vector (anything else as
/// is): what native layers' bindings receive, since they take `Str`, `Bytes` and `Vector`.
pub fn freeze(v: &Value) -> Value {
    match v {
        Value::MString(s) => Value::string(&s.borrow()),
        Value::MBytes(b) => Value::bytes(&b.borrow()),
        Value::MVector(items) => Value::vector(items.borrow().iter().cloned()),
        other => other.clone(),
    }
}

pub fn type_error(who: &str, position: usize, expected: &str, got: &Value) -> LangError {
    LangError::new(
        Code::Type,
        format!(
            "{who}: argument {} must be {expected}, got {} `{}`",
            position + 1,
            got.type_name(),
            write_short(got)
        ),
    )
}

pub fn value_error(who: &str, message: impl std::fmt::Display) -> LangError {
    LangError::new(Code::Value, format!("{who}: {message}"))
}

pub fn int_arg(args: &[Value], i: usize, who: &str) -> Result<BigInt, LangError> {
    super::number::to_bigint(&args[i]).ok_or_else(|| type_error(who, i, "an integer", &args[i]))
}

/// A non-negative index that fits in memory.
pub fn index_arg(args: &[Value], i: usize, who: &str) -> Result<usize, LangError> {
    match &args[i] {
        Value::Int(n) if *n >= 0 => Ok(*n as usize),
        other => Err(type_error(who, i, "a non-negative integer index", other)),
    }
}

pub fn str_arg<'v>(args: &'v [Value], i: usize, who: &str) -> Result<&'v Rc<str>, LangError> {
    match &args[i] {
        Value::Str(s) => Ok(s),
        other => Err(type_error(who, i, "a string", other)),
    }
}

pub fn bytes_arg<'v>(args: &'v [Value], i: usize, who: &str) -> Result<&'v Rc<[u8]>, LangError> {
    match &args[i] {
        Value::Bytes(b) => Ok(b),
        other => Err(type_error(who, i, "bytes", other)),
    }
}

pub fn list_arg(args: &[Value], i: usize, who: &str) -> Result<Vec<Value>, LangError> {
    args[i]
        .list_to_vec()
        .ok_or_else(|| type_error(who, i, "a proper list", &args[i]))
}

pub fn proc_arg(args: &[Value], i: usize, who: &str) -> Result<Value, LangError> {
    if args[i].is_procedure() {
        Ok(args[i].clone())
    } else {
        Err(type_error(who, i, "a procedure", &args[i]))
    }
}

/// Items of a list, vector or set (the sequences higher-order procedures accept).
pub fn sequence_arg(args: &[Value], i: usize, who: &str) -> Result<Vec<Value>, LangError> {
    match &args[i] {
        Value::Vector(v) => Ok(v.iter().cloned().collect()),
        Value::MVector(v) => Ok(v.borrow().clone()),
        Value::Set(s) => Ok(s.iter().cloned().collect()),
        other => other
            .list_to_vec()
            .ok_or_else(|| type_error(who, i, "a list, vector or set", other)),
    }
}

pub fn bool_value(b: bool) -> Result<Value, LangError> {
    Ok(Value::Bool(b))
}

/// Declares a table of primitives: `name, min, max, function, doc, example`.
#[macro_export]
macro_rules! primitives {
    ($( $name:literal, $min:expr, $max:expr, $func:path, $doc:literal, $example:literal; )*) => {
        &[ $( $crate::lang::value::Primitive {
            name: $name, min_args: $min, max_args: $max, func: $func, doc: $doc, example: $example,
        }, )* ]
    };
}
