//! String, symbol and keyword builtins. Strings are UTF-8 and indexes count characters;
//! `make-string`, `string` and `string-copy` make R7RS mutable strings (`string-set!`),
//! literals and every other string are immutable. Characters are in `chars.rs`.

use std::borrow::Cow;

use super::{bool_value, index_arg, list_arg, type_error, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::symbol::Sym;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

/// The text of string argument `i`, of either kind (a mutable string is copied, so the
/// caller may run callbacks that change it).
pub fn text_arg<'v>(a: &'v [Value], i: usize, who: &str) -> Result<Cow<'v, str>, LangError> {
    match &a[i] {
        Value::Str(s) => Ok(Cow::Borrowed(&**s)),
        Value::MString(s) => Ok(Cow::Owned(s.borrow().clone())),
        other => Err(type_error(who, i, "a string", other)),
    }
}

pub fn char_arg(a: &[Value], i: usize, who: &str) -> Result<char, LangError> {
    match &a[i] {
        Value::Char(c) => Ok(*c),
        v => Err(type_error(who, i, "a char", v)),
    }
}
fn is_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_string())
}
fn string_length(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(
        text_arg(a, 0, "string-length")?.chars().count() as i64
    ))
}
fn string_ref(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = text_arg(a, 0, "string-ref")?;
    let i = index_arg(a, 1, "string-ref")?;
    s.chars()
        .nth(i)
        .map(Value::Char)
        .ok_or_else(|| super::lists::range_error("string-ref", i, s.chars().count()))
}
fn substring(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &char_range(a, "substring")?.into_iter().collect::<String>(),
    ))
}
/// The characters of string argument 0 from the optional start (argument 1, default 0) to
/// the optional end (argument 2, default the length), as R7RS's `string->list`,
/// `string-copy` and `substring` take them.
fn char_range(a: &[Value], who: &str) -> Result<Vec<char>, LangError> {
    let s = text_arg(a, 0, who)?;
    let len = s.chars().count();
    let start = if a.len() > 1 {
        index_arg(a, 1, who)?
    } else {
        0
    };
    let end = if a.len() > 2 {
        index_arg(a, 2, who)?
    } else {
        len
    };
    if start > end || end > len {
        return Err(value_error(
            who,
            format!("range {start}..{end} is outside a string of length {len}"),
        ));
    }
    Ok(s.chars().skip(start).take(end - start).collect())
}
fn string_append(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let mut total = 0u64;
    for i in 0..a.len() {
        total += text_arg(a, i, "string-append")?.len() as u64;
    }
    interp.reserve(total, "string-append")?;
    let mut out = String::with_capacity(total as usize);
    for i in 0..a.len() {
        out.push_str(&text_arg(a, i, "string-append")?);
    }
    Ok(Value::string(&out))
}
fn string_to_list(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let chars = char_range(a, "string->list")?;
    interp.reserve_items(
        chars.len() as u64,
        crate::lang::memory::PAIR_BYTES,
        "string->list",
    )?;
    Ok(Value::list(
        chars.into_iter().map(Value::Char).collect::<Vec<_>>(),
    ))
}
fn string_to_vector(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::vector(
        char_range(a, "string->vector")?
            .into_iter()
            .map(Value::Char),
    ))
}
fn vector_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = super::vectors::vector_items(a, 0, "vector->string")?;
    let (start, end) = char_bounds(a, 1, items.len(), "vector->string")?;
    let mut s = String::new();
    for (i, c) in items.iter().enumerate().take(end).skip(start) {
        match c {
            Value::Char(c) => s.push(*c),
            v => return Err(type_error("vector->string", i, "a char", v)),
        }
    }
    Ok(Value::string(&s))
}
/// The strings from argument 1 on, as character vectors (the callers stop at the shortest,
/// as R7RS says).
fn string_columns(a: &[Value], who: &str) -> Result<Vec<Vec<char>>, LangError> {
    let strings = (1..a.len())
        .map(|i| text_arg(a, i, who).map(|s| s.chars().collect::<Vec<_>>()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(strings)
}
fn string_map(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = super::proc_arg(a, 0, "string-map")?;
    let strings = string_columns(a, "string-map")?;
    let n = strings.iter().map(Vec::len).min().unwrap_or(0);
    let mut out = String::new();
    for i in 0..n {
        let args = strings.iter().map(|s| Value::Char(s[i])).collect();
        match interp.apply(&f, args, span)? {
            Value::Char(c) => out.push(c),
            v => {
                return Err(type_error(
                    "string-map",
                    0,
                    "a procedure returning chars",
                    &v,
                ))
            }
        }
    }
    Ok(Value::string(&out))
}
fn string_for_each(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = super::proc_arg(a, 0, "string-for-each")?;
    let strings = string_columns(a, "string-for-each")?;
    let n = strings.iter().map(Vec::len).min().unwrap_or(0);
    for i in 0..n {
        let args = strings.iter().map(|s| Value::Char(s[i])).collect();
        interp.apply(&f, args, span)?;
    }
    Ok(Value::Void)
}
fn list_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "list->string")?;
    let mut s = String::new();
    for (i, c) in items.iter().enumerate() {
        match c {
            Value::Char(c) => s.push(*c),
            v => return Err(type_error("list->string", i, "a char", v)),
        }
    }
    Ok(Value::string(&s))
}
fn string(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut s = String::new();
    for i in 0..a.len() {
        s.push(char_arg(a, i, "string")?);
    }
    Ok(Value::mstring(s))
}
fn make_string(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "make-string")?;
    let c = if a.len() > 1 {
        char_arg(a, 1, "make-string")?
    } else {
        ' '
    };
    interp.reserve_items(n as u64, c.len_utf8() as u64, "make-string")?;
    Ok(Value::mstring(
        std::iter::repeat_n(c, n).collect::<String>(),
    ))
}
fn string_to_symbol(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Symbol(Sym::new(&text_arg(a, 0, "string->symbol")?)))
}
fn symbol_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Symbol(s) => Ok(Value::string(&s.name())),
        v => Err(type_error("symbol->string", 0, "a symbol", v)),
    }
}
fn string_to_keyword(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Keyword(Sym::new(&text_arg(
        a,
        0,
        "string->keyword",
    )?)))
}
fn keyword_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Keyword(s) => Ok(Value::string(&s.name())),
        v => Err(type_error("keyword->string", 0, "a keyword", v)),
    }
}
fn is_symbol(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Symbol(_)))
}
fn symbol_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut first = None;
    for (i, v) in a.iter().enumerate() {
        let Value::Symbol(s) = v else {
            return Err(type_error("symbol=?", i, "a symbol", v));
        };
        if first.is_some_and(|f| f != *s) {
            return Ok(Value::Bool(false));
        }
        first = Some(*s);
    }
    Ok(Value::Bool(true))
}
fn is_keyword(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Keyword(_)))
}
fn symbol_append(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut s = String::new();
    for (i, v) in a.iter().enumerate() {
        match v {
            Value::Symbol(x) => s.push_str(&x.name()),
            v => return Err(type_error("symbol-append", i, "a symbol", v)),
        }
    }
    Ok(Value::Symbol(Sym::new(&s)))
}
fn gensym(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let base = match a.first() {
        Some(Value::Symbol(s)) => s.name().to_string(),
        Some(Value::Str(s)) => s.to_string(),
        _ => "g".to_string(),
    };
    interp.gensym_counter += 1;
    let name = format!("{base}.{}", interp.gensym_counter);
    Ok(Value::Symbol(Sym::gensym_named(&name)))
}
fn upcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &text_arg(a, 0, "string-upcase")?.to_uppercase(),
    ))
}
fn downcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &text_arg(a, 0, "string-downcase")?.to_lowercase(),
    ))
}
fn split(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = text_arg(a, 0, "string-split")?;
    let parts: Vec<Value> = if a.len() > 1 {
        let sep = text_arg(a, 1, "string-split")?;
        if sep.is_empty() {
            return Err(value_error("string-split", "the separator is empty"));
        }
        s.split(&*sep).map(Value::string).collect()
    } else {
        s.split_whitespace().map(Value::string).collect()
    };
    Ok(Value::list(parts))
}
fn join(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "string-join")?;
    let sep = if a.len() > 1 {
        text_arg(a, 1, "string-join")?.to_string()
    } else {
        " ".to_string()
    };
    let mut parts = Vec::new();
    for (i, v) in items.iter().enumerate() {
        match v {
            Value::Str(s) => parts.push(s.to_string()),
            v => return Err(type_error("string-join", i, "a list of strings", v)),
        }
    }
    let total = parts
        .iter()
        .map(|p| p.len() as u64 + sep.len() as u64)
        .sum();
    interp.reserve(total, "string-join")?;
    Ok(Value::string(&parts.join(&sep)))
}
fn contains(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(text_arg(a, 0, "string-contains?")?.contains(&*text_arg(a, 1, "string-contains?")?))
}
fn prefix(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(text_arg(a, 0, "string-prefix?")?.starts_with(&*text_arg(a, 1, "string-prefix?")?))
}
fn suffix(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(text_arg(a, 0, "string-suffix?")?.ends_with(&*text_arg(a, 1, "string-suffix?")?))
}
fn trim(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(text_arg(a, 0, "string-trim")?.trim()))
}
fn replace(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let s = text_arg(a, 0, "string-replace")?;
    let from = text_arg(a, 1, "string-replace")?;
    let to = text_arg(a, 2, "string-replace")?;
    if from.is_empty() {
        return Err(value_error("string-replace", "the pattern is empty"));
    }
    let hits = s.matches(&*from).count() as u64;
    let grown = (to.len() as u64).saturating_sub(from.len() as u64);
    interp.reserve(
        s.len() as u64 + hits.saturating_mul(grown),
        "string-replace",
    )?;
    Ok(Value::string(&s.replace(&*from, &to)))
}
fn string_index(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = text_arg(a, 0, "string-index")?;
    let needle = text_arg(a, 1, "string-index")?;
    Ok(match s.find(&*needle) {
        Some(byte) => Value::Int(s[..byte].chars().count() as i64),
        None => Value::Bool(false),
    })
}
fn compare_strings(a: &[Value], who: &str, fold: bool, ok: fn(std::cmp::Ordering) -> bool) -> R {
    let mut prev: Option<String> = None;
    for i in 0..a.len() {
        let s = text_arg(a, i, who)?;
        let s = if fold {
            s.to_lowercase()
        } else {
            s.to_string()
        };
        if let Some(p) = &prev {
            if !ok(p.as_str().cmp(s.as_str())) {
                return Ok(Value::Bool(false));
            }
        }
        prev = Some(s);
    }
    Ok(Value::Bool(true))
}
fn string_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string=?", false, |o| o.is_eq())
}
fn string_lt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string<?", false, |o| o.is_lt())
}
fn string_gt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string>?", false, |o| o.is_gt())
}
fn string_le(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string<=?", false, |o| o.is_le())
}
fn string_ge(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string>=?", false, |o| o.is_ge())
}
fn string_ci_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string-ci=?", true, |o| o.is_eq())
}
fn string_ci_lt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string-ci<?", true, |o| o.is_lt())
}
fn string_ci_gt(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string-ci>?", true, |o| o.is_gt())
}
fn string_copy(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::mstring(
        char_range(a, "string-copy")?
            .into_iter()
            .collect::<String>(),
    ))
}
/// The storage of a mutable string argument (`string-set!` and friends).
fn mutable_text<'a>(
    a: &'a [Value],
    i: usize,
    who: &str,
) -> Result<&'a std::cell::RefCell<String>, LangError> {
    match &a[i] {
        Value::MString(s) => Ok(s),
        Value::Str(_) => Err(value_error(
            who,
            "this string is immutable (a literal, or the result of a procedure other than make-string, string and string-copy)",
        )
        .with_hint("make a mutable copy with (string-copy s)")),
        v => Err(type_error(who, i, "a string", v)),
    }
}
/// Byte offset of character index `i` in `s` (`i` may equal the length).
fn byte_offset(s: &str, i: usize) -> Option<usize> {
    if i == 0 {
        return Some(0);
    }
    s.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()))
        .nth(i)
}
fn string_set(_: &mut Interp, a: &[Value], _: Span) -> R {
    let cell = mutable_text(a, 0, "string-set!")?;
    let i = index_arg(a, 1, "string-set!")?;
    let c = char_arg(a, 2, "string-set!")?;
    let mut s = cell.borrow_mut();
    let len = s.chars().count();
    match (byte_offset(&s, i), i < len) {
        (Some(b), true) => {
            let old = s[b..].chars().next().map_or(0, char::len_utf8);
            let mut buf = [0u8; 4];
            s.replace_range(b..b + old, c.encode_utf8(&mut buf));
            Ok(Value::Void)
        }
        _ => Err(super::lists::range_error("string-set!", i, len)),
    }
}
fn string_fill(_: &mut Interp, a: &[Value], _: Span) -> R {
    let cell = mutable_text(a, 0, "string-fill!")?;
    let c = char_arg(a, 1, "string-fill!")?;
    let chars: Vec<char> = cell.borrow().chars().collect();
    let (start, end) = char_bounds(a, 2, chars.len(), "string-fill!")?;
    let filled: String = chars
        .iter()
        .enumerate()
        .map(|(i, x)| if (start..end).contains(&i) { c } else { *x })
        .collect();
    *cell.borrow_mut() = filled;
    Ok(Value::Void)
}
/// `(string-copy! to at from [start end])`, correct when `to` and `from` are the same.
fn string_copy_bang(_: &mut Interp, a: &[Value], _: Span) -> R {
    let at = index_arg(a, 1, "string-copy!")?;
    let source: Vec<char> = {
        let from: Vec<char> = text_arg(a, 2, "string-copy!")?.chars().collect();
        let (start, end) = char_bounds(a, 3, from.len(), "string-copy!")?;
        from[start..end].to_vec()
    };
    let cell = mutable_text(a, 0, "string-copy!")?;
    let mut chars: Vec<char> = cell.borrow().chars().collect();
    if at > chars.len() || chars.len() - at < source.len() {
        return Err(LangError::new(
            crate::lang::diagnostics::Code::Range,
            format!(
                "string-copy!: {} characters do not fit at {at} in a string of length {}",
                source.len(),
                chars.len()
            ),
        ));
    }
    chars[at..at + source.len()].copy_from_slice(&source);
    *cell.borrow_mut() = chars.into_iter().collect();
    Ok(Value::Void)
}
/// Optional start and end character indexes (arguments `from`, `from + 1`).
fn char_bounds(
    a: &[Value],
    from: usize,
    len: usize,
    who: &str,
) -> Result<(usize, usize), LangError> {
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
            crate::lang::diagnostics::Code::Range,
            format!("{who}: range {start}..{end} is outside a string of length {len}"),
        ));
    }
    Ok((start, end))
}
fn string_ci_le(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string-ci<=?", true, |o| o.is_le())
}
fn string_ci_ge(_: &mut Interp, a: &[Value], _: Span) -> R {
    compare_strings(a, "string-ci>=?", true, |o| o.is_ge())
}
fn string_foldcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &text_arg(a, 0, "string-foldcase")?.to_lowercase(),
    ))
}
pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "string?", 1, Some(1), is_string, "Is it a string?", "(string? \"a\") => #t";
    "string-length", 1, Some(1), string_length, "Number of characters.", "(string-length \"héllo\") => 5";
    "string-ref", 2, Some(2), string_ref, "Character at a 0-based index.", "(string-ref \"abc\" 1) => #\\b";
    "substring", 2, Some(3), substring, "Characters from start to end (exclusive).", "(substring \"hello\" 1 3) => \"el\"";
    "string-append", 0, None, string_append, "Concatenates strings.", "(string-append \"a\" \"b\") => \"ab\"";
    "string-copy", 1, Some(3), string_copy, "A new mutable string of the characters from start (0) to end (the length).", "(string-copy \"hello\" 1 3) => \"el\"";
    "string->list", 1, Some(3), string_to_list, "The characters (from start to end) as a list.", "(string->list \"ab\") => (#\\a #\\b)";
    "string->vector", 1, Some(3), string_to_vector, "The characters (from start to end) as a vector.", "(string->vector \"ab\") => [#\\a #\\b]";
    "vector->string", 1, Some(3), vector_to_string, "A string from a vector of characters (from start to end).", "(vector->string [#\\a #\\b]) => \"ab\"";
    "string-map", 2, None, string_map, "A string of (f char ...) over one or more strings.", "(string-map char-upcase \"ab\") => \"AB\"";
    "string-for-each", 2, None, string_for_each, "Calls (f char ...) over one or more strings, for effect.", "(string-for-each display \"ab\") prints ab";
    "list->string", 1, Some(1), list_to_string, "A string from a list of characters.", "(list->string '(#\\a #\\b)) => \"ab\"";
    "string", 0, None, string, "A new mutable string of the given characters.", "(string #\\a #\\b) => \"ab\"";
    "make-string", 1, Some(2), make_string, "A new mutable string of n copies of a character (default space).", "(make-string 3 #\\x) => \"xxx\"";
    "string->symbol", 1, Some(1), string_to_symbol, "The symbol with this name.", "(string->symbol \"abc\") => abc";
    "symbol->string", 1, Some(1), symbol_to_string, "A symbol's name.", "(symbol->string 'abc) => \"abc\"";
    "string->keyword", 1, Some(1), string_to_keyword, "The keyword with this name.", "(string->keyword \"k\") => #:k";
    "keyword->string", 1, Some(1), keyword_to_string, "A keyword's name.", "(keyword->string '#:k) => \"k\"";
    "symbol?", 1, Some(1), is_symbol, "Is it a symbol?", "(symbol? 'a) => #t";
    "symbol=?", 1, None, symbol_eq, "Are the symbols all the same?", "(symbol=? 'a 'a 'a) => #t";
    "keyword?", 1, Some(1), is_keyword, "Is it a keyword?", "(keyword? '#:a) => #t";
    "symbol-append", 0, None, symbol_append, "Concatenates symbol names.", "(symbol-append 'a 'b) => ab";
    "gensym", 0, Some(1), gensym, "A fresh symbol no program text can name.", "(symbol? (gensym)) => #t";
    "string-upcase", 1, Some(1), upcase, "Upper-cased copy.", "(string-upcase \"ab\") => \"AB\"";
    "string-downcase", 1, Some(1), downcase, "Lower-cased copy.", "(string-downcase \"AB\") => \"ab\"";
    "string-split", 1, Some(2), split, "Splits on a separator (default: runs of whitespace).", "(string-split \"a,b\" \",\") => (\"a\" \"b\")";
    "string-join", 1, Some(2), join, "Joins strings with a separator (default space).", "(string-join '(\"a\" \"b\") \"-\") => \"a-b\"";
    "string-contains?", 2, Some(2), contains, "Does the string contain the other?", "(string-contains? \"hello\" \"ell\") => #t";
    "string-prefix?", 2, Some(2), prefix, "Does the string start with the other?", "(string-prefix? \"hello\" \"he\") => #t";
    "string-suffix?", 2, Some(2), suffix, "Does the string end with the other?", "(string-suffix? \"hello\" \"lo\") => #t";
    "string-trim", 1, Some(1), trim, "Without leading and trailing whitespace.", "(string-trim \"  a \") => \"a\"";
    "string-replace", 3, Some(3), replace, "Replaces every occurrence of a pattern.", "(string-replace \"a-b-c\" \"-\" \"+\") => \"a+b+c\"";
    "string-index", 2, Some(2), string_index, "Character index of the first occurrence, or #f.", "(string-index \"hello\" \"l\") => 2";
    "string=?", 1, None, string_eq, "Are the strings equal?", "(string=? \"a\" \"a\") => #t";
    "string<?", 1, None, string_lt, "Lexicographically increasing?", "(string<? \"a\" \"b\") => #t";
    "string>?", 1, None, string_gt, "Lexicographically decreasing?", "(string>? \"b\" \"a\") => #t";
    "string<=?", 1, None, string_le, "Lexicographically non-decreasing?", "(string<=? \"a\" \"a\") => #t";
    "string>=?", 1, None, string_ge, "Lexicographically non-increasing?", "(string>=? \"b\" \"a\") => #t";
    "string-ci<?", 1, None, string_ci_lt, "Increasing, ignoring case?", "(string-ci<? \"a\" \"B\") => #t";
    "string-ci>?", 1, None, string_ci_gt, "Decreasing, ignoring case?", "(string-ci>? \"B\" \"a\") => #t";
    "string-foldcase", 1, Some(1), string_foldcase, "Case-folded (lower-cased) copy, for case-insensitive comparison.", "(string-foldcase \"AbC\") => \"abc\"";
    "string-ci=?", 1, None, string_ci_eq, "Equal ignoring case?", "(string-ci=? \"A\" \"a\") => #t";
    "string-ci<=?", 1, None, string_ci_le, "Non-decreasing, ignoring case?", "(string-ci<=? \"a\" \"A\") => #t";
    "string-ci>=?", 1, None, string_ci_ge, "Non-increasing, ignoring case?", "(string-ci>=? \"B\" \"a\") => #t";
    "string-set!", 3, Some(3), string_set, "Replaces a character of a mutable string (from make-string, string, string-copy).", "(let ([s (make-string 2 #\\a)]) (string-set! s 1 #\\b) s) => \"ab\"";
    "string-fill!", 2, Some(4), string_fill, "Stores a character in every position (from start to end) of a mutable string.", "(let ([s (string-copy \"abc\")]) (string-fill! s #\\x 1) s) => \"axx\"";
    "string-copy!", 3, Some(5), string_copy_bang, "(string-copy! to at from [start end]): copies characters into a mutable string.", "(let ([s (make-string 3 #\\-)]) (string-copy! s 1 \"ab\") s) => \"-ab\"";
];
