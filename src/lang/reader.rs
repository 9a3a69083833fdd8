//! The reader: source text to `Syntax` with spans, built on chumsky. Malformed input becomes
//! a `LangError` (code E001) naming what was expected, never a panic; nesting is bounded
//! before parsing so hostile input cannot exhaust the stack.

use std::rc::Rc;

use chumsky::prelude::*;

use super::diagnostics::{Code, LangError};
use super::number::parse_number;
use super::source::{FileId, Span};
use super::symbol::Sym;
use super::syntax::{Datum, Syntax};
use super::value::Value;

/// Nesting deeper than this is refused before parsing (each level costs parser stack).
pub const MAX_NESTING: usize = 1_000;

type Extra<'a> = extra::Err<Rich<'a, char>>;

/// Characters that end a symbol or number token.
const DELIMITERS: &str = "()[]{}\";'`,";

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || DELIMITERS.contains(c)
}

/// Reads every datum in `text`. On failure returns all errors found.
pub fn read_all(text: &str, file: FileId) -> Result<Vec<Syntax>, Vec<LangError>> {
    let scan = scan_brackets(text);
    if scan.max_depth > MAX_NESTING {
        let at = scan.too_deep_at.unwrap_or(0);
        return Err(vec![LangError::new(
            Code::Read,
            format!("nesting deeper than {MAX_NESTING} levels"),
        )
        .with_span(Span::new(file, at, at + 1))
        .with_hint("flatten the data, or split it into several forms")]);
    }
    let result = program(file).parse(text).into_result();
    let forms = result.map_err(|errors| {
        errors
            .into_iter()
            .map(|e| convert_error(e, text, file, &scan))
            .collect::<Vec<_>>()
    })?;
    super::labels::resolve_all(forms).map_err(|e| vec![e])
}

/// Reads exactly one datum (used by `read` on strings and by snapshot loading).
pub fn read_one(text: &str, file: FileId) -> Result<Syntax, Vec<LangError>> {
    let mut all = read_all(text, file)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(vec![LangError::new(
            Code::Read,
            format!("expected exactly one datum, found {n}"),
        )
        .with_span(Span::new(file, 0, text.len()))]),
    }
}

/// Reads the first datum of `text` (after any whitespace and comments): the datum and the
/// byte offset just past it, or `None` when only whitespace and comments remain. What
/// follows the datum is not read (a port's `read` reads one datum at a time).
pub fn read_prefix(text: &str, file: FileId) -> Result<Option<(Syntax, usize)>, LangError> {
    let scan = scan_brackets(text);
    if scan.max_depth > MAX_NESTING {
        let at = scan.too_deep_at.unwrap_or(0);
        return Err(LangError::new(
            Code::Read,
            format!("nesting deeper than {MAX_NESTING} levels"),
        )
        .with_span(Span::new(file, at, at + 1)));
    }
    let nothing = atmosphere_of(file).then(end()).to(None);
    let first = atmosphere_of(file)
        .ignore_then(datum(file).map_with(|d, e| {
            let end: SimpleSpan = e.span();
            Some((d, end.end))
        }))
        .then_ignore(any().repeated());
    let parser = nothing.or(first);
    match parser.parse(text).into_result() {
        Ok(None) => Ok(None),
        Ok(Some((d, end))) => {
            let mut resolved = super::labels::resolve_all(vec![d])?;
            Ok(resolved.pop().map(|d| (d, end)))
        }
        Err(errors) => Err(errors
            .into_iter()
            .map(|e| convert_error(e, text, file, &scan))
            .next()
            .unwrap_or_else(|| LangError::new(Code::Read, "unreadable datum"))),
    }
}

/// True when `text` fails to read only because it ends too early (an unclosed bracket or
/// string): the REPL then asks for another line instead of reporting an error.
pub fn is_incomplete(text: &str) -> bool {
    // The real reader decides: the input is incomplete when every error it reports is at
    // the end of the input (an open bracket, string or block comment), not a stray closer
    // or a malformed token. The bracket scan only guards the parser's stack.
    if scan_brackets(text).max_depth > MAX_NESTING {
        return false;
    }
    match program(FileId::default()).parse(text).into_result() {
        Ok(_) => false,
        Err(errors) => errors.iter().all(|e| e.found().is_none()),
    }
}

fn convert_error(e: Rich<'_, char>, text: &str, file: FileId, scan: &BracketScan) -> LangError {
    let span = e.span();
    let (start, end) = (span.start, span.end.max(span.start));
    let at_end = e.found().is_none();
    let expected: Vec<String> = e.expected().map(|p| p.to_string()).collect();
    let mut message = match e.reason() {
        chumsky::error::RichReason::Custom(msg) => msg.clone(),
        _ => {
            let found = match e.found() {
                Some(c) => format!("`{}`", c.escape_debug()),
                None => "end of input".to_string(),
            };
            if expected.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("unexpected {found}, expected {}", expected.join(" or "))
            }
        }
    };
    let mut err;
    if at_end {
        if let Some(&open) = scan.unclosed.last() {
            let ch = text[open..].chars().next().unwrap_or('(');
            message = format!("unexpected end of input: `{ch}` is never closed");
            err = LangError::new(Code::Read, message)
                .with_span(Span::new(file, open, open + ch.len_utf8()))
                .with_label(
                    Span::new(file, open, open + ch.len_utf8()),
                    "this bracket is never closed",
                )
                .with_hint(format!("add a matching `{}`", closing_for(ch)));
            return err;
        }
    }
    err = LangError::new(Code::Read, message).with_span(Span::new(
        file,
        start,
        end.max(start + 1).min(text.len().max(start)),
    ));
    if let Some(close) = scan.unmatched_close_at {
        if close >= start && close < end.max(start + 1) {
            err = err.with_hint("this closing bracket has no matching opening bracket");
        }
    }
    err
}

fn closing_for(open: char) -> char {
    match open {
        '[' => ']',
        '{' => '}',
        '"' => '"',
        _ => ')',
    }
}

/// What a quick lexical scan learns about brackets: depth, unclosed openers, stray closers.
pub struct BracketScan {
    pub max_depth: usize,
    pub too_deep_at: Option<usize>,
    pub unclosed: Vec<usize>,
    pub unmatched_close: bool,
    pub unmatched_close_at: Option<usize>,
    pub in_string_or_comment_at_end: bool,
}

/// Scans brackets, skipping strings, character literals and comments.
pub fn scan_brackets(text: &str) -> BracketScan {
    let bytes = text.as_bytes();
    let mut scan = BracketScan {
        max_depth: 0,
        too_deep_at: None,
        unclosed: Vec::new(),
        unmatched_close: false,
        unmatched_close_at: None,
        in_string_or_comment_at_end: false,
    };
    // Quote prefixes (' ` , ,@ #;) nest the datum after them like a bracket does, so a run
    // of them counts toward the depth; a bracket opened after a run carries the run's
    // weight until it closes.
    let mut weights: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut run = 0usize;
    let note_depth = |scan: &mut BracketScan, d: usize, at: usize| {
        if d > scan.max_depth {
            scan.max_depth = d;
            if d > MAX_NESTING && scan.too_deep_at.is_none() {
                scan.too_deep_at = Some(at);
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'`' | b',' => {
                run += 1;
                note_depth(&mut scan, depth + run, i);
                i += 1;
                if bytes[i - 1] == b',' && bytes.get(i) == Some(&b'@') {
                    i += 1;
                }
                continue;
            }
            b'#' if bytes.get(i + 1) == Some(&b';') => {
                run += 1;
                note_depth(&mut scan, depth + run, i);
                i += 2;
                continue;
            }
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'(' | b'[' | b'{' => {}
            _ => run = 0,
        }
        match bytes[i] {
            b';' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let open = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    scan.in_string_or_comment_at_end = true;
                    scan.unclosed.push(open);
                }
            }
            b'|' if i == 0 || is_delimiter(bytes[i - 1] as char) => {
                // A `|...|` symbol: brackets inside it are text.
                i += 1;
                while i < bytes.len() && bytes[i] != b'|' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2; // the next character is literal, even a bracket
            }
            b'#' if bytes.get(i + 1) == Some(&b'|') => {
                let mut depth = 1;
                i += 2;
                while i < bytes.len() && depth > 0 {
                    if bytes[i] == b'|' && bytes.get(i + 1) == Some(&b'#') {
                        depth -= 1;
                        i += 1;
                    } else if bytes[i] == b'#' && bytes.get(i + 1) == Some(&b'|') {
                        depth += 1;
                        i += 1;
                    }
                    i += 1;
                }
                if depth > 0 {
                    scan.in_string_or_comment_at_end = true;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                scan.unclosed.push(i);
                weights.push(1 + run);
                depth += 1 + run;
                run = 0;
                note_depth(&mut scan, depth, i);
            }
            b')' | b']' | b'}' => {
                depth -= weights.pop().unwrap_or(0);
                let matched = scan.unclosed.pop().is_some();
                if !matched && !scan.unmatched_close {
                    scan.unmatched_close = true;
                    scan.unmatched_close_at = Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

fn sp(file: FileId, s: SimpleSpan) -> Span {
    Span::new(file, s.start, s.end)
}

fn program<'a>(file: FileId) -> impl Parser<'a, &'a str, Vec<Syntax>, Extra<'a>> {
    let datum = datum(file);
    atmosphere(datum.clone())
        .ignore_then(
            datum
                .then_ignore(atmosphere_of(file))
                .repeated()
                .collect::<Vec<_>>(),
        )
        .then_ignore(end())
}

/// Whitespace and comments, including `#;` datum comments (which need the datum parser).
fn atmosphere<'a>(
    datum: impl Parser<'a, &'a str, Syntax, Extra<'a>> + Clone + 'a,
) -> impl Parser<'a, &'a str, (), Extra<'a>> + Clone {
    let block_comment = recursive(|block| {
        just("#|")
            .ignore_then(
                choice((
                    block.ignored(),
                    any()
                        .and_is(just("|#").not())
                        .and_is(just("#|").not())
                        .ignored(),
                ))
                .repeated(),
            )
            .then_ignore(just("|#"))
            .ignored()
    });
    let line_comment = just(';')
        .then(any().and_is(just('\n').not()).repeated())
        .ignored();
    let space = any().filter(|c: &char| c.is_whitespace()).ignored();
    // `#;` skips the next datum; the space before that datum may hold more comments,
    // including datum comments (R7RS: `#; #; a b` skips both a and b).
    let datum_comment = recursive(|datum_comment| {
        let gap = choice((space, line_comment, block_comment.clone(), datum_comment)).repeated();
        just("#;").then(gap).then(datum).ignored()
    });
    choice((space, line_comment, block_comment, datum_comment))
        .repeated()
        .boxed()
}

fn atmosphere_of<'a>(file: FileId) -> impl Parser<'a, &'a str, (), Extra<'a>> + Clone {
    atmosphere(datum(file))
}

fn datum<'a>(file: FileId) -> impl Parser<'a, &'a str, Syntax, Extra<'a>> + Clone {
    recursive(move |datum| {
        let gap = atmosphere(datum.clone());
        let items = gap.clone().ignore_then(
            datum
                .clone()
                .then_ignore(gap.clone())
                .repeated()
                .collect::<Vec<_>>(),
        );

        let list = items
            .clone()
            .delimited_by(just('('), just(')'))
            .try_map(move |items, span| make_list(items, sp(file, span)));
        let vector = items
            .clone()
            .delimited_by(just('['), just(']'))
            .map(Datum::Vector);
        let map =
            items
                .clone()
                .delimited_by(just('{'), just('}'))
                .try_map(|items: Vec<Syntax>, span| {
                    if items.len() % 2 == 1 {
                        Err(Rich::custom(
                            span,
                            "a map literal needs an even number of forms (key value ...)",
                        ))
                    } else {
                        Ok(Datum::Map(items))
                    }
                });
        let const_vector = items
            .clone()
            .delimited_by(just("#("), just(')'))
            .map(Datum::ConstVector);
        let bytevector = items.clone().delimited_by(just("#u8("), just(')')).try_map(
            |items: Vec<Syntax>, span| {
                let mut bytes = Vec::with_capacity(items.len());
                for item in &items {
                    match &item.datum {
                        Datum::Atom(Value::Int(n)) if (0..=255).contains(n) => bytes.push(*n as u8),
                        _ => {
                            return Err(Rich::custom(
                                span,
                                "a bytevector literal #u8(...) holds integers from 0 to 255",
                            ))
                        }
                    }
                }
                Ok(Datum::Atom(Value::literal_mbytes(bytes)))
            },
        );
        // Datum labels (R7RS 2.4): `#n=` names the next datum, `#n#` refers to it.
        let label_number = any()
            .filter(|c: &char| c.is_ascii_digit())
            .repeated()
            .at_least(1)
            .at_most(9)
            .to_slice()
            .map(|d: &str| d.parse::<u64>().unwrap_or(0));
        let label_def = just('#')
            .ignore_then(label_number)
            .then_ignore(just('='))
            .then(gap.clone().ignore_then(datum.clone()))
            .map_with(move |(n, d), e| super::labels::definition(n, d, sp(file, e.span())));
        let label_ref = just('#')
            .ignore_then(label_number)
            .then_ignore(just('#'))
            .map_with(move |n, e| super::labels::reference(n, sp(file, e.span())));
        let set = items
            .clone()
            .delimited_by(just("#{"), just('}'))
            .map(Datum::Set);
        let struct_lit = items.clone().delimited_by(just("#s("), just(')')).try_map(
            |items: Vec<Syntax>, span| match items.first().map(|s| &s.datum) {
                Some(Datum::Symbol(_)) => Ok(Datum::Struct(items)),
                _ => Err(Rich::custom(
                    span,
                    "a struct literal starts with the struct's name: #s(name field ...)",
                )),
            },
        );

        let quoted = choice((
            just("'").to("quote"),
            just("`").to("quasiquote"),
            just(",@").to("unquote-splicing"),
            just(",").to("unquote"),
        ))
        .map_with(move |name, e| Syntax::new(Datum::Symbol(Sym::new(name)), sp(file, e.span())))
        .then(gap.clone().ignore_then(datum.clone()))
        .map(|(head, body)| Datum::List(vec![head, body]));

        choice((
            string_literal().map(|s| Datum::Atom(Value::Str(s.into()))),
            byte_string(),
            hex_bytes(),
            character(),
            keyword(),
            bytevector,
            label_def,
            label_ref,
            const_vector,
            set,
            struct_lit,
            list,
            vector,
            map,
            quoted,
            bar_symbol(),
            token(),
        ))
        .map_with(move |datum, e| Syntax::new(datum, sp(file, e.span())))
        .labelled("a datum")
        .boxed()
    })
}

fn make_list<'a>(items: Vec<Syntax>, span: Span) -> Result<Datum, Rich<'a, char>> {
    let dot_positions: Vec<usize> = items
        .iter()
        .enumerate()
        // The dot token is one byte; `|.|` is the symbol named "." and is not a dot.
        .filter(|(_, s)| s.is_symbol(".") && s.span.end == s.span.start + 1)
        .map(|(i, _)| i)
        .collect();
    match dot_positions.as_slice() {
        [] => Ok(Datum::List(items)),
        [i] if *i + 2 == items.len() && *i > 0 => {
            let mut items = items;
            let tail = items.pop().map(Box::new);
            items.pop();
            match tail {
                Some(tail) => Ok(Datum::Dotted(items, tail)),
                None => Err(Rich::custom(
                    SimpleSpan::from(span.range()),
                    "misplaced `.`",
                )),
            }
        }
        _ => Err(Rich::custom(
            SimpleSpan::from(span.range()),
            "misplaced `.`: a dotted list has exactly one datum after the dot, e.g. (a b . c)",
        )),
    }
}

fn string_body<'a>() -> impl Parser<'a, &'a str, String, Extra<'a>> + Clone {
    delimited_text('"')
}

/// Text between two `delim` characters with R7RS escapes: `\n \t \r \0 \a \b \\ \" \|`,
/// `\xHH;`, and `\` + newline (a line continuation that also drops the next line's indent).
/// Strings use `"`; symbols written as `|...|` use `|`.
fn delimited_text<'a>(delim: char) -> impl Parser<'a, &'a str, String, Extra<'a>> + Clone {
    let hex_escape = just('x')
        .ignore_then(
            any()
                .filter(|c: &char| c.is_ascii_hexdigit())
                .repeated()
                .at_least(1)
                .to_slice(),
        )
        .then_ignore(just(';'))
        .try_map(|digits: &str, span| {
            u32::from_str_radix(digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    Rich::custom(span, format!("`\\x{digits};` is not a valid character"))
                })
        });
    let intraline = any().filter(|c: &char| *c == ' ' || *c == '\t').repeated();
    let continuation = intraline
        .then(just('\r').or_not())
        .then(just('\n'))
        .then(intraline)
        .to(None);
    let escape = just('\\').ignore_then(
        choice((
            just('n').to('\n'),
            just('t').to('\t'),
            just('r').to('\r'),
            just('0').to('\0'),
            just('a').to('\x07'),
            just('b').to('\x08'),
            just('\\').to('\\'),
            just('"').to('"'),
            just('|').to('|'),
            hex_escape,
        ))
        .map(Some)
        .or(continuation)
        .labelled("an escape: \\n \\t \\r \\0 \\a \\b \\\\ \\\" \\| or \\xHH;"),
    );
    let plain = any()
        .filter(move |c: &char| *c != '\\' && *c != delim)
        .map(Some);
    choice((escape, plain))
        .repeated()
        .collect::<Vec<Option<char>>>()
        .map(|chars| chars.into_iter().flatten().collect::<String>())
        .delimited_by(
            just(delim),
            just(delim).labelled(if delim == '"' {
                "closing `\"`"
            } else {
                "closing `|`"
            }),
        )
}

/// `|any text|`: a symbol whose name may contain spaces and delimiters (the printer writes
/// such symbols this way, so they read back).
fn bar_symbol<'a>() -> impl Parser<'a, &'a str, Datum, Extra<'a>> + Clone {
    delimited_text('|').map(|name| Datum::Symbol(Sym::new(&name)))
}

fn string_literal<'a>() -> impl Parser<'a, &'a str, String, Extra<'a>> + Clone {
    string_body()
}

fn byte_string<'a>() -> impl Parser<'a, &'a str, Datum, Extra<'a>> + Clone {
    just('#')
        .ignore_then(string_body())
        .try_map(|s: String, span| {
            let mut out = Vec::with_capacity(s.len());
            for c in s.chars() {
                let code = c as u32;
                if code > 0xff {
                    return Err(Rich::custom(
                        span,
                        format!(
                            "byte strings hold bytes; `{c}` is not one (use #x\"..\" for raw hex)"
                        ),
                    ));
                }
                out.push(code as u8);
            }
            Ok(Datum::Atom(Value::Bytes(Rc::from(out))))
        })
}

fn hex_bytes<'a>() -> impl Parser<'a, &'a str, Datum, Extra<'a>> + Clone {
    just("#x\"")
        .ignore_then(any().and_is(just('"').not()).repeated().to_slice())
        .then_ignore(just('"'))
        .try_map(|text: &str, span| {
            let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            decode_hex(&digits)
                .map(|b| Datum::Atom(Value::Bytes(Rc::from(b))))
                .map_err(|m| Rich::custom(span, m))
        })
}

/// Decodes hex text (an optional `0x` prefix allowed) into bytes.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() % 2 == 1 {
        return Err(format!(
            "hex text has an odd number of digits ({})",
            digits.len()
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("`{}` is not hex", digits.get(i..i + 2).unwrap_or("?")))
        })
        .collect()
}

fn character<'a>() -> impl Parser<'a, &'a str, Datum, Extra<'a>> + Clone {
    just("#\\")
        .ignore_then(
            any()
                .then(any().filter(|c: &char| !is_delimiter(*c)).repeated())
                .to_slice(),
        )
        .try_map(|text: &str, span| {
            char_from_name(text)
                .map(|c| Datum::Atom(Value::Char(c)))
                .ok_or_else(|| Rich::custom(span, format!("unknown character name `#\\{text}`")))
        })
}

/// Named characters accepted after `#\` (and printed by the printer).
pub const CHAR_NAMES: &[(&str, char)] = &[
    ("space", ' '),
    ("newline", '\n'),
    ("tab", '\t'),
    ("return", '\r'),
    ("nul", '\0'),
    ("null", '\0'),
    ("alarm", '\x07'),
    ("backspace", '\x08'),
    ("delete", '\x7f'),
    ("escape", '\x1b'),
];

fn char_from_name(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let first = chars.next()?;
    if chars.next().is_none() {
        return Some(first);
    }
    if let Some(&(_, c)) = CHAR_NAMES.iter().find(|(n, _)| *n == text) {
        return Some(c);
    }
    let hex = text
        .strip_prefix('x')
        .or_else(|| text.strip_prefix('U'))
        .or_else(|| text.strip_prefix('u'))?;
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
}

fn keyword<'a>() -> impl Parser<'a, &'a str, Datum, Extra<'a>> + Clone {
    just("#:")
        .ignore_then(
            any()
                .filter(|c: &char| !is_delimiter(*c))
                .repeated()
                .at_least(1)
                .to_slice(),
        )
        .map(|name: &str| Datum::Atom(Value::Keyword(Sym::new(name))))
}

fn token<'a>() -> impl Parser<'a, &'a str, Datum, Extra<'a>> + Clone {
    any()
        .filter(|c: &char| !is_delimiter(*c))
        .repeated()
        .at_least(1)
        .to_slice()
        .try_map(|text: &str, span| classify_token(text).map_err(|m| Rich::custom(span, m)))
        .labelled("a datum")
}

fn classify_token(text: &str) -> Result<Datum, String> {
    match text {
        "#t" | "#true" => return Ok(Datum::Atom(Value::Bool(true))),
        "#f" | "#false" => return Ok(Datum::Atom(Value::Bool(false))),
        _ => {}
    }
    if let Some(v) = parse_number(text)? {
        return Ok(Datum::Atom(v));
    }
    if text.starts_with('#') {
        return Err(format!(
            "unknown `#` syntax `{text}` (expected #t, #f, #\\char, #:keyword, #(, #{{, #s(, #x\"..\", #\"..\")"
        ));
    }
    if text.starts_with('|') && text.ends_with('|') && text.len() >= 2 {
        return Ok(Datum::Symbol(Sym::new(&text[1..text.len() - 1])));
    }
    Ok(Datum::Symbol(Sym::new(text)))
}
