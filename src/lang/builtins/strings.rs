//! String, character, symbol and keyword builtins. Strings are immutable UTF-8; indexes
//! count characters, not bytes.

use super::{bool_value, index_arg, list_arg, str_arg, type_error, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::symbol::Sym;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn char_arg(a: &[Value], i: usize, who: &str) -> Result<char, LangError> {
    match &a[i] {
        Value::Char(c) => Ok(*c),
        v => Err(type_error(who, i, "a char", v)),
    }
}
fn is_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Str(_)))
}
fn string_length(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Int(
        str_arg(a, 0, "string-length")?.chars().count() as i64
    ))
}
fn string_ref(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = str_arg(a, 0, "string-ref")?;
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
    let s = str_arg(a, 0, who)?;
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
        total += str_arg(a, i, "string-append")?.len() as u64;
    }
    interp.reserve(total, "string-append")?;
    let mut out = String::with_capacity(total as usize);
    for i in 0..a.len() {
        out.push_str(str_arg(a, i, "string-append")?);
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
    let Value::Vector(items) = &a[0] else {
        return Err(type_error("vector->string", 0, "a vector", &a[0]));
    };
    let mut s = String::new();
    for (i, c) in items.iter().enumerate() {
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
        .map(|i| str_arg(a, i, who).map(|s| s.chars().collect::<Vec<_>>()))
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
    Ok(Value::string(&s))
}
fn make_string(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 0, "make-string")?;
    let c = if a.len() > 1 {
        char_arg(a, 1, "make-string")?
    } else {
        ' '
    };
    interp.reserve_items(n as u64, c.len_utf8() as u64, "make-string")?;
    Ok(Value::string(
        &std::iter::repeat_n(c, n).collect::<String>(),
    ))
}
fn string_to_symbol(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Symbol(Sym::new(str_arg(a, 0, "string->symbol")?)))
}
fn symbol_to_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Symbol(s) => Ok(Value::string(&s.name())),
        v => Err(type_error("symbol->string", 0, "a symbol", v)),
    }
}
fn string_to_keyword(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::Keyword(Sym::new(str_arg(a, 0, "string->keyword")?)))
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
        &str_arg(a, 0, "string-upcase")?.to_uppercase(),
    ))
}
fn downcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &str_arg(a, 0, "string-downcase")?.to_lowercase(),
    ))
}
fn split(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = str_arg(a, 0, "string-split")?;
    let parts: Vec<Value> = if a.len() > 1 {
        let sep = str_arg(a, 1, "string-split")?;
        if sep.is_empty() {
            return Err(value_error("string-split", "the separator is empty"));
        }
        s.split(&**sep).map(Value::string).collect()
    } else {
        s.split_whitespace().map(Value::string).collect()
    };
    Ok(Value::list(parts))
}
fn join(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let items = list_arg(a, 0, "string-join")?;
    let sep = if a.len() > 1 {
        str_arg(a, 1, "string-join")?.to_string()
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
    bool_value(str_arg(a, 0, "string-contains?")?.contains(&**str_arg(a, 1, "string-contains?")?))
}
fn prefix(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(str_arg(a, 0, "string-prefix?")?.starts_with(&**str_arg(a, 1, "string-prefix?")?))
}
fn suffix(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(str_arg(a, 0, "string-suffix?")?.ends_with(&**str_arg(a, 1, "string-suffix?")?))
}
fn trim(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(str_arg(a, 0, "string-trim")?.trim()))
}
fn replace(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let s = str_arg(a, 0, "string-replace")?;
    let from = str_arg(a, 1, "string-replace")?;
    let to = str_arg(a, 2, "string-replace")?;
    if from.is_empty() {
        return Err(value_error("string-replace", "the pattern is empty"));
    }
    let hits = s.matches(&**from).count() as u64;
    let grown = (to.len() as u64).saturating_sub(from.len() as u64);
    interp.reserve(
        s.len() as u64 + hits.saturating_mul(grown),
        "string-replace",
    )?;
    Ok(Value::string(&s.replace(&**from, to)))
}
fn string_index(_: &mut Interp, a: &[Value], _: Span) -> R {
    let s = str_arg(a, 0, "string-index")?;
    let needle = str_arg(a, 1, "string-index")?;
    Ok(match s.find(&**needle) {
        Some(byte) => Value::Int(s[..byte].chars().count() as i64),
        None => Value::Bool(false),
    })
}
fn compare_strings(a: &[Value], who: &str, fold: bool, ok: fn(std::cmp::Ordering) -> bool) -> R {
    let mut prev: Option<String> = None;
    for i in 0..a.len() {
        let s = str_arg(a, i, who)?;
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
    Ok(Value::string(
        &char_range(a, "string-copy")?
            .into_iter()
            .collect::<String>(),
    ))
}
fn string_foldcase(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(
        &str_arg(a, 0, "string-foldcase")?.to_lowercase(),
    ))
}
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
    char_test(a, "char-numeric?", char::is_numeric)
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
fn char_ci_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    for i in 1..a.len() {
        let x = char_arg(a, i - 1, "char-ci=?")?;
        let y = char_arg(a, i, "char-ci=?")?;
        if single_char(x, x.to_lowercase()) != single_char(y, y.to_lowercase()) {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}
fn digit_value(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(char_arg(a, 0, "digit-value")?
        .to_digit(10)
        .map(|d| Value::Int(d as i64))
        .unwrap_or(Value::Bool(false)))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "string?", 1, Some(1), is_string, "Is it a string?", "(string? \"a\") => #t";
    "string-length", 1, Some(1), string_length, "Number of characters.", "(string-length \"héllo\") => 5";
    "string-ref", 2, Some(2), string_ref, "Character at a 0-based index.", "(string-ref \"abc\" 1) => #\\b";
    "substring", 2, Some(3), substring, "Characters from start to end (exclusive).", "(substring \"hello\" 1 3) => \"el\"";
    "string-append", 0, None, string_append, "Concatenates strings.", "(string-append \"a\" \"b\") => \"ab\"";
    "string-copy", 1, Some(3), string_copy, "The characters from start (0) to end (the length).", "(string-copy \"hello\" 1 3) => \"el\"";
    "string->list", 1, Some(3), string_to_list, "The characters (from start to end) as a list.", "(string->list \"ab\") => (#\\a #\\b)";
    "string->vector", 1, Some(3), string_to_vector, "The characters (from start to end) as a vector.", "(string->vector \"ab\") => [#\\a #\\b]";
    "vector->string", 1, Some(1), vector_to_string, "A string from a vector of characters.", "(vector->string [#\\a #\\b]) => \"ab\"";
    "string-map", 2, None, string_map, "A string of (f char ...) over one or more strings.", "(string-map char-upcase \"ab\") => \"AB\"";
    "string-for-each", 2, None, string_for_each, "Calls (f char ...) over one or more strings, for effect.", "(string-for-each display \"ab\") prints ab";
    "list->string", 1, Some(1), list_to_string, "A string from a list of characters.", "(list->string '(#\\a #\\b)) => \"ab\"";
    "string", 0, None, string, "A string of the given characters.", "(string #\\a #\\b) => \"ab\"";
    "make-string", 1, Some(2), make_string, "n copies of a character (default space).", "(make-string 3 #\\x) => \"xxx\"";
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
    "char?", 1, Some(1), is_char, "Is it a character?", "(char? #\\a) => #t";
    "char->integer", 1, Some(1), char_to_integer, "Unicode scalar value.", "(char->integer #\\A) => 65";
    "integer->char", 1, Some(1), integer_to_char, "Character with this scalar value.", "(integer->char 955) => #\\λ";
    "char-alphabetic?", 1, Some(1), alphabetic, "Is it a letter?", "(char-alphabetic? #\\a) => #t";
    "char-numeric?", 1, Some(1), numeric, "Is it a digit?", "(char-numeric? #\\1) => #t";
    "char-whitespace?", 1, Some(1), whitespace, "Is it whitespace?", "(char-whitespace? #\\space) => #t";
    "char-upper-case?", 1, Some(1), upper, "Is it upper case?", "(char-upper-case? #\\A) => #t";
    "char-lower-case?", 1, Some(1), lower, "Is it lower case?", "(char-lower-case? #\\a) => #t";
    "char-upcase", 1, Some(1), char_upcase, "Upper-case character.", "(char-upcase #\\a) => #\\A";
    "char-downcase", 1, Some(1), char_downcase, "Lower-case character.", "(char-downcase #\\A) => #\\a";
    "char-foldcase", 1, Some(1), char_foldcase, "Case-folded character.", "(char-foldcase #\\A) => #\\a";
    "char<=?", 1, None, char_le, "Non-decreasing code points?", "(char<=? #\\a #\\a) => #t";
    "char>=?", 1, None, char_ge, "Non-increasing code points?", "(char>=? #\\b #\\a) => #t";
    "char-ci=?", 1, None, char_ci_eq, "Equal ignoring case?", "(char-ci=? #\\A #\\a) => #t";
    "char=?", 1, None, char_eq, "Are the characters equal?", "(char=? #\\a #\\a) => #t";
    "char<?", 1, None, char_lt, "Increasing code points?", "(char<? #\\a #\\b) => #t";
    "char>?", 1, None, char_gt, "Decreasing code points?", "(char>? #\\b #\\a) => #t";
    "digit-value", 1, Some(1), digit_value, "Value of a decimal digit, or #f.", "(digit-value #\\7) => 7";
];
