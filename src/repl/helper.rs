//! rustyline integration: completion of bound names and `:commands`, syntax colouring with
//! the bracket matching the cursor highlighted, and multi-line input decided by the reader.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::lang::reader::is_incomplete;

pub struct XlnHelper {
    names: Rc<RefCell<Vec<String>>>,
    color: bool,
}

impl XlnHelper {
    pub fn new(names: Rc<RefCell<Vec<String>>>, color: bool) -> XlnHelper {
        XlnHelper { names, color }
    }
}

impl Helper for XlnHelper {}

impl Hinter for XlnHelper {
    type Hint = String;
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !"()[]{}\"';`,".contains(c)
}

impl Completer for XlnHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !is_word_char(c))
            .map(|i| i + 1)
            .unwrap_or(0);
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let candidates = self
            .names
            .borrow()
            .iter()
            .filter(|n| n.starts_with(prefix))
            .map(|n| Pair {
                display: n.clone(),
                replacement: n.clone(),
            })
            .collect();
        Ok((start, candidates))
    }
}

impl Validator for XlnHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || !is_incomplete(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

/// Byte offset of the bracket matching the one at `pos` (or just before it), if any.
pub fn matching_bracket(line: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let at = [pos, pos.wrapping_sub(1)]
        .into_iter()
        .find(|&p| p < bytes.len() && b"()[]{}".contains(&bytes[p]))?;
    let (open, close, forward) = match bytes[at] {
        b'(' => (b'(', b')', true),
        b'[' => (b'[', b']', true),
        b'{' => (b'{', b'}', true),
        b')' => (b'(', b')', false),
        b']' => (b'[', b']', false),
        _ => (b'{', b'}', false),
    };
    let mut depth = 0i32;
    let indexes: Box<dyn Iterator<Item = usize>> = if forward {
        Box::new(at..bytes.len())
    } else {
        Box::new((0..=at).rev())
    };
    for i in indexes {
        if bytes[i] == open {
            depth += if forward { 1 } else { -1 };
        } else if bytes[i] == close {
            depth += if forward { -1 } else { 1 };
        }
        if depth == 0 {
            return Some((at, i));
        }
    }
    None
}

impl Highlighter for XlnHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        if !self.color {
            return Cow::Borrowed(line);
        }
        let matched = matching_bracket(line, pos);
        let mut out = String::with_capacity(line.len() * 2);
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                ';' => {
                    out.push_str("\x1b[2m");
                    out.push_str(&line[i..]);
                    out.push_str("\x1b[0m");
                    break;
                }
                '"' => {
                    let mut end = line.len();
                    let mut escaped = false;
                    for (j, d) in line[i + 1..].char_indices() {
                        if escaped {
                            escaped = false;
                        } else if d == '\\' {
                            escaped = true;
                        } else if d == '"' {
                            end = i + 1 + j + 1;
                            break;
                        }
                    }
                    out.push_str("\x1b[32m");
                    out.push_str(&line[i..end]);
                    out.push_str("\x1b[0m");
                    while chars.peek().is_some_and(|(j, _)| *j < end) {
                        chars.next();
                    }
                }
                '(' | ')' | '[' | ']' | '{' | '}' => {
                    if matched.is_some_and(|(a, b)| a == i || b == i) {
                        out.push_str("\x1b[1;33;4m");
                        out.push(c);
                        out.push_str("\x1b[0m");
                    } else {
                        out.push(c);
                    }
                }
                '#' if line[i..].starts_with("#:") => {
                    let end = line[i..]
                        .find(|d: char| !is_word_char(d))
                        .map(|e| i + e)
                        .unwrap_or(line.len());
                    out.push_str("\x1b[35m");
                    out.push_str(&line[i..end]);
                    out.push_str("\x1b[0m");
                    while chars.peek().is_some_and(|(j, _)| *j < end) {
                        chars.next();
                    }
                }
                d if d.is_ascii_digit()
                    && (i == 0 || !is_word_char(line[..i].chars().last().unwrap_or(' '))) =>
                {
                    let end = line[i..]
                        .find(|d: char| !is_word_char(d))
                        .map(|e| i + e)
                        .unwrap_or(line.len());
                    out.push_str("\x1b[36m");
                    out.push_str(&line[i..end]);
                    out.push_str("\x1b[0m");
                    while chars.peek().is_some_and(|(j, _)| *j < end) {
                        chars.next();
                    }
                }
                other => out.push(other),
            }
        }
        Cow::Owned(out)
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}
