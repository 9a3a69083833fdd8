//! The printer. `write` form reads back to an `equal?` value for all data (numbers, text,
//! bytes, symbols, keywords, lists, vectors, maps, sets, structs); `display` form is for
//! people. Procedures and handles print as unreadable `#<...>`.

use std::fmt::Write;

use super::number::format_number;
use super::reader::CHAR_NAMES;
use super::value::Value;

pub fn write_string(v: &Value) -> String {
    let mut out = String::new();
    print(v, true, &mut out);
    out
}

pub fn display_string(v: &Value) -> String {
    let mut out = String::new();
    print(v, false, &mut out);
    out
}

/// `write` form cut to about 80 characters, for error messages.
pub fn write_short(v: &Value) -> String {
    let s = write_string(v);
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn symbol_needs_bars(name: &str) -> bool {
    name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "()[]{}\";'`,|\\".contains(c))
        || name.starts_with('#')
        || name == "."
        || matches!(super::number::parse_number(name), Ok(Some(_)) | Err(_))
}

fn print_seq<'a>(items: impl Iterator<Item = &'a Value>, write: bool, out: &mut String) {
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print(v, write, out);
    }
}

fn print(v: &Value, write: bool, out: &mut String) {
    match v {
        Value::Nil => out.push_str("()"),
        Value::Void => out.push_str("#<void>"),
        Value::Undefined => out.push_str("#<undefined>"),
        Value::Bool(true) => out.push_str("#t"),
        Value::Bool(false) => out.push_str("#f"),
        Value::Int(_) | Value::Big(_) | Value::Rational(_) | Value::Float(_) => {
            out.push_str(&format_number(v, 10))
        }
        Value::Char(c) => {
            if write {
                match CHAR_NAMES.iter().find(|(_, ch)| ch == c) {
                    Some((name, _)) => {
                        let _ = write!(out, "#\\{name}");
                    }
                    None if c.is_control() => {
                        let _ = write!(out, "#\\x{:x}", *c as u32);
                    }
                    None => {
                        let _ = write!(out, "#\\{c}");
                    }
                }
            } else {
                out.push(*c);
            }
        }
        Value::Str(s) => {
            if write {
                write_string_literal(s, out);
            } else {
                out.push_str(s);
            }
        }
        Value::Bytes(b) => {
            let _ = write!(out, "#x\"{}\"", hex(b));
        }
        Value::Symbol(s) => {
            let name = s.name();
            if write && symbol_needs_bars(&name) {
                out.push('|');
                for c in name.chars() {
                    match c {
                        '|' => out.push_str("\\|"),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => {
                            let _ = write!(out, "\\x{:x};", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('|');
            } else {
                out.push_str(&name);
            }
        }
        Value::Keyword(k) => {
            let _ = write!(out, "#:{k}");
        }
        Value::Pair(p) => {
            if let (Value::Symbol(s), Value::Pair(rest)) = (&p.0, &p.1) {
                if matches!(rest.1, Value::Nil) {
                    let prefix = match &*s.name() {
                        "quote" => Some("'"),
                        "quasiquote" => Some("`"),
                        "unquote" => Some(","),
                        "unquote-splicing" => Some(",@"),
                        _ => None,
                    };
                    if let Some(prefix) = prefix {
                        out.push_str(prefix);
                        print(&rest.0, write, out);
                        return;
                    }
                }
            }
            out.push('(');
            let mut cur = v;
            let mut first = true;
            loop {
                match cur {
                    Value::Pair(p) => {
                        if !first {
                            out.push(' ');
                        }
                        print(&p.0, write, out);
                        first = false;
                        cur = &p.1;
                    }
                    Value::Nil => break,
                    tail => {
                        out.push_str(" . ");
                        print(tail, write, out);
                        break;
                    }
                }
            }
            out.push(')');
        }
        Value::Vector(items) => {
            out.push('[');
            print_seq(items.iter(), write, out);
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, val)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print(k, write, out);
                out.push(' ');
                print(val, write, out);
            }
            out.push('}');
        }
        Value::Set(s) => {
            out.push_str("#{");
            print_seq(s.iter(), write, out);
            out.push('}');
        }
        Value::Struct(s) => {
            let _ = write!(out, "#s({}", s.stype.name);
            for f in &s.fields {
                out.push(' ');
                print(f, write, out);
            }
            out.push(')');
        }
        Value::StructType(t) => {
            let _ = write!(out, "#<struct-type {}>", t.name);
        }
        Value::Procedure(c) => {
            let _ = write!(out, "#<procedure {}>", c.name());
        }
        Value::Primitive(p) => {
            let _ = write!(out, "#<procedure {}>", p.name);
        }
        Value::NativeProc(p) => {
            let _ = write!(out, "#<procedure {}>", p.name);
        }
        Value::Error(e) => {
            if write {
                out.push_str("#<error ");
                write_string_literal(&e.message, out);
                for i in &e.irritants {
                    out.push(' ');
                    print(i, true, out);
                }
                out.push('>');
            } else {
                out.push_str(&e.message);
                for i in &e.irritants {
                    out.push(' ');
                    print(i, true, out);
                }
            }
        }
        Value::MutableBox(b) => {
            out.push_str("#<box ");
            print(&b.borrow(), write, out);
            out.push('>');
        }
        Value::Values(vs) => print_seq(vs.iter(), write, out),
        Value::Native(n) => out.push_str(&n.describe()),
    }
}

fn write_string_literal(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
