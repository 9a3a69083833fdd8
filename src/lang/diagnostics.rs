//! Diagnostics: the script error type (`LangError`, stable codes, spans, hints, call stack)
//! and its rendering as a labelled source excerpt with ariadne. Host errors (I/O, storage,
//! chain) are `crate::error::HostError` (miette); `crate::error::report` renders both alike.

use std::fmt;

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};

use super::source::{self, Span};
use super::value::Value;

/// Stable error codes, so tests and docs can name an error (`E0xx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Read,
    Unbound,
    Arity,
    Type,
    Syntax,
    StackDepth,
    User,
    Assertion,
    StepBudget,
    Interrupted,
    Range,
    Arithmetic,
    Module,
    Value,
    NoMatch,
    Test,
    Io,
    Macro,
    /// One allocation a script asked for is larger than `Limits::max_alloc_bytes`.
    Allocation,
    /// The interpreter's live heap passed `Limits::max_memory_bytes`.
    Memory,
    /// A capability a sandboxed interpreter does not have (files, clock, environment...).
    Sandbox,
    /// Protocol refusals at the script edge, one code per kind (see `entity::RejectionKind`).
    Capacity,
    Replay,
    BadSignature,
    Subcontract,
    Timeout,
    Route,
    Refused,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 28] = [
        Code::Read,
        Code::Unbound,
        Code::Arity,
        Code::Type,
        Code::Syntax,
        Code::StackDepth,
        Code::User,
        Code::Assertion,
        Code::StepBudget,
        Code::Interrupted,
        Code::Range,
        Code::Arithmetic,
        Code::Module,
        Code::Value,
        Code::NoMatch,
        Code::Test,
        Code::Io,
        Code::Macro,
        Code::Allocation,
        Code::Memory,
        Code::Sandbox,
        Code::Capacity,
        Code::Replay,
        Code::BadSignature,
        Code::Subcontract,
        Code::Timeout,
        Code::Route,
        Code::Refused,
    ];

    /// The code named `E0xx`, if there is one.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Read => "E001",
            Code::Unbound => "E002",
            Code::Arity => "E003",
            Code::Type => "E004",
            Code::Syntax => "E005",
            Code::StackDepth => "E006",
            Code::User => "E007",
            Code::Assertion => "E008",
            Code::StepBudget => "E009",
            Code::Interrupted => "E010",
            Code::Range => "E011",
            Code::Arithmetic => "E012",
            Code::Module => "E013",
            Code::Value => "E014",
            Code::NoMatch => "E015",
            Code::Test => "E016",
            Code::Io => "E017",
            Code::Macro => "E018",
            Code::Allocation => "E019",
            Code::Memory => "E020",
            Code::Sandbox => "E021",
            Code::Capacity => "E030",
            Code::Replay => "E031",
            Code::BadSignature => "E032",
            Code::Subcontract => "E033",
            Code::Timeout => "E034",
            Code::Route => "E035",
            Code::Refused => "E036",
        }
    }
    /// A short title for the code, shown before the message.
    pub fn title(self) -> &'static str {
        match self {
            Code::Read => "read error",
            Code::Unbound => "unbound variable",
            Code::Arity => "wrong number of arguments",
            Code::Type => "type error",
            Code::Syntax => "bad syntax",
            Code::StackDepth => "stack depth exceeded",
            Code::User => "error",
            Code::Assertion => "assertion failed",
            Code::StepBudget => "step budget exceeded",
            Code::Interrupted => "interrupted",
            Code::Range => "index out of range",
            Code::Arithmetic => "arithmetic error",
            Code::Module => "module error",
            Code::Value => "bad value",
            Code::NoMatch => "no match",
            Code::Test => "test failed",
            Code::Io => "i/o error",
            Code::Macro => "macro expansion error",
            Code::Allocation => "allocation too large",
            Code::Memory => "memory limit exceeded",
            Code::Sandbox => "not available in the sandbox",
            Code::Capacity => "beyond capacity",
            Code::Replay => "replay",
            Code::BadSignature => "bad signature",
            Code::Subcontract => "subcontract failed",
            Code::Timeout => "timed out",
            Code::Route => "no route",
            Code::Refused => "refused",
        }
    }
}

/// Non-error unwinding that travels on the error channel.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    None,
    /// `(exit n)`.
    Exit(i32),
    /// An escape continuation was invoked; the value is in `payload`.
    Escape(u64),
}

/// One entry of the call chain shown with runtime errors.
#[derive(Clone, Debug)]
pub struct StackEntry {
    pub procedure: std::rc::Rc<str>,
    pub call_site: Span,
}

/// Everything a script error carries. Boxed inside `LangError` so `Result`s stay small.
#[derive(Clone, Debug)]
pub struct ErrorData {
    pub code: Code,
    pub message: String,
    pub span: Option<Span>,
    pub labels: Vec<(Span, String)>,
    pub hint: Option<String>,
    pub stack: Vec<StackEntry>,
    /// The raised value for `raise` of a non-error value, or an escape's value.
    pub payload: Option<Value>,
    pub control: Control,
    /// Set once the error has been offered to the `with-exception-handler` handlers at the
    /// point where it was raised (R7RS: before anything unwinds), so frames it unwinds
    /// through do not offer it again.
    pub signalled: bool,
}

/// A script error: read, expand or runtime. Renders as a labelled source excerpt.
#[derive(Clone)]
pub struct LangError(Box<ErrorData>);

impl std::ops::Deref for LangError {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}
impl std::ops::DerefMut for LangError {
    fn deref_mut(&mut self) -> &mut ErrorData {
        &mut self.0
    }
}

impl LangError {
    pub fn new(code: Code, message: impl Into<String>) -> LangError {
        LangError(Box::new(ErrorData {
            code,
            message: message.into(),
            span: None,
            labels: Vec::new(),
            hint: None,
            stack: Vec::new(),
            payload: None,
            control: Control::None,
            signalled: false,
        }))
    }
    pub fn with_span(mut self, span: Span) -> Self {
        self.0.span = Some(span);
        self
    }
    /// Sets the span only if none is set yet (inner, more precise spans win).
    pub fn or_span(mut self, span: Span) -> Self {
        if self.0.span.is_none() {
            self.0.span = Some(span);
        }
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.0.labels.push((span, text.into()));
        self
    }
    pub fn control(control: Control, payload: Option<Value>) -> LangError {
        let mut e = LangError::new(Code::User, "control transfer");
        e.0.control = control;
        e.0.payload = payload;
        e
    }
    /// Errors a script may catch with `guard` / `with-handlers`. Resource limits, interrupts,
    /// exits and escapes pass through handlers.
    pub fn is_catchable(&self) -> bool {
        self.control == Control::None
            && !matches!(
                self.code,
                Code::StackDepth | Code::StepBudget | Code::Interrupted | Code::Memory
            )
    }

    /// Renders the error with a source excerpt. `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let mut out = Vec::new();
        let title = format!("{}: {}", self.code.title(), self.message);
        let file = self.span.and_then(|s| source::source(s.file));
        match (self.span, file) {
            (Some(span), Some(file)) => {
                let name = file.name.clone();
                let config = Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte);
                let mut points: Vec<usize> = vec![span.start as usize];
                points.extend(
                    self.labels
                        .iter()
                        .filter(|(s, _)| s.file == span.file)
                        .map(|(s, _)| s.start as usize),
                );
                let excerpt = Excerpt::new(&file.text, &points);
                let map = |o: u32| excerpt.map(o as usize);
                let end = map(span.end).max(map(span.start));
                let start = map(span.start);
                let mut report = Report::build(ReportKind::Error, (name.clone(), start..end))
                    .with_config(config)
                    .with_code(self.code.as_str())
                    .with_message(&title);
                let main_label = self.labels.is_empty();
                if main_label {
                    report = report.with_label(
                        Label::new((name.clone(), start..end))
                            .with_message(self.code.title())
                            .with_color(Color::Red),
                    );
                }
                for (s, text) in &self.labels {
                    if s.file == span.file {
                        let e = map(s.end).max(map(s.start));
                        let b = map(s.start);
                        report = report.with_label(
                            Label::new((name.clone(), b..e))
                                .with_message(text)
                                .with_color(Color::Red),
                        );
                    }
                }
                if let Some(h) = &self.hint {
                    report = report.with_help(h);
                }
                let _ = report.finish().write(
                    (name.clone(), ariadne::Source::from(&*excerpt.text)),
                    &mut out,
                );
                if excerpt.cut {
                    // The header's column was computed on the cut line: name the real one.
                    let shown = {
                        let (l, c) = line_col(&excerpt.text, start);
                        format!("{name}:{l}:{c}")
                    };
                    let real = source::describe(span);
                    let text = String::from_utf8_lossy(&out).replacen(&shown, &real, 1);
                    out = text.into_bytes();
                }
            }
            _ => {
                out.extend_from_slice(format!("[{}] {}\n", self.code.as_str(), title).as_bytes());
                if let Some(h) = &self.hint {
                    out.extend_from_slice(format!("help: {h}\n").as_bytes());
                }
            }
        }
        let mut text = String::from_utf8_lossy(&out).into_owned();
        text.push_str(&self.render_stack());
        text
    }

    /// The call chain, innermost first, elided in the middle when long.
    pub fn render_stack(&self) -> String {
        if self.stack.is_empty() {
            return String::new();
        }
        // Runs of identical frames (deep recursion) collapse into one line with a count.
        let mut runs: Vec<(String, usize)> = Vec::new();
        for entry in self.stack.iter().rev() {
            let line = format!(
                "in {} called at {}",
                entry.procedure,
                source::describe(entry.call_site)
            );
            match runs.last_mut() {
                Some((last, count)) if *last == line => *count += 1,
                _ => runs.push((line, 1)),
            }
        }
        let mut text = String::from("call stack (innermost first):\n");
        let n = runs.len();
        for (i, (line, count)) in runs.iter().enumerate() {
            if n > 12 && i == 6 {
                text.push_str(&format!("  ... {} more frames ...\n", n - 12));
            }
            if n > 12 && (6..n - 6).contains(&i) {
                continue;
            }
            let repeat = if *count > 1 {
                format!(" ({count} times)")
            } else {
                String::new()
            };
            text.push_str(&format!("  {line}{repeat}\n"));
        }
        text
    }
}

impl fmt::Display for LangError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Some(span) => write!(
                f,
                "{}: [{}] {}",
                source::describe(span),
                self.code.as_str(),
                self.message
            ),
            None => write!(f, "[{}] {}", self.code.as_str(), self.message),
        }
    }
}

impl fmt::Debug for LangError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl std::error::Error for LangError {}

/// Lines longer than this are cut around the spans shown on them.
const MAX_EXCERPT_LINE: usize = 160;
/// Bytes kept before a span's start on a cut line.
const EXCERPT_BEFORE: usize = 60;

/// The source text a report is drawn from: the file's text, with every overlong line that a
/// span starts on cut to a window around that point (`...` marks what was left out), so a
/// 100,000-character line shows as one screen line. `map` moves offsets into the cut text.
struct Excerpt {
    text: std::borrow::Cow<'static, str>,
    /// (line start, window start, window end, line end) in the original, sorted.
    cuts: Vec<(usize, usize, usize, usize)>,
    cut: bool,
}

impl Excerpt {
    fn new(text: &std::rc::Rc<str>, points: &[usize]) -> Excerpt {
        let mut cuts: Vec<(usize, usize, usize, usize)> = Vec::new();
        for &p in points {
            let p = p.min(text.len());
            let line_start = text[..p].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[p..].find('\n').map_or(text.len(), |i| p + i);
            if line_end - line_start <= MAX_EXCERPT_LINE || cuts.iter().any(|c| c.0 == line_start) {
                continue;
            }
            let ws = floor_boundary(text, p.saturating_sub(EXCERPT_BEFORE).max(line_start));
            let we = floor_boundary(text, (ws + MAX_EXCERPT_LINE).min(line_end));
            cuts.push((line_start, ws, we, line_end));
        }
        if cuts.is_empty() {
            return Excerpt {
                text: std::borrow::Cow::Owned(text.to_string()),
                cuts,
                cut: false,
            };
        }
        cuts.sort();
        let mut out = String::new();
        let mut at = 0;
        for &(ls, ws, we, le) in &cuts {
            out.push_str(&text[at..ls]);
            if ws > ls {
                out.push_str("...");
            }
            out.push_str(&text[ws..we]);
            if we < le {
                out.push_str("...");
            }
            at = le;
        }
        out.push_str(&text[at..]);
        Excerpt {
            text: std::borrow::Cow::Owned(out),
            cuts,
            cut: true,
        }
    }

    /// Where original offset `o` is in the cut text (clamped into a cut line's window).
    fn map(&self, o: usize) -> usize {
        let mut shift: isize = 0;
        for &(ls, ws, we, le) in &self.cuts {
            let prefix = if ws > ls { 3 } else { 0 };
            let suffix = if we < le { 3 } else { 0 };
            if o < ls {
                break;
            }
            if o <= le {
                let inside = o.clamp(ws, we);
                return (ls as isize + shift) as usize + prefix + (inside - ws);
            }
            let new_len = prefix + (we - ws) + suffix;
            shift += new_len as isize - (le - ls) as isize;
        }
        ((o as isize + shift).max(0) as usize).min(self.text.len())
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (characters) of byte offset `o` in `text`.
fn line_col(text: &str, o: usize) -> (usize, usize) {
    let o = floor_boundary(text, o);
    let line = text[..o].matches('\n').count() + 1;
    let start = text[..o].rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..o].chars().count() + 1)
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate to `name`, if one is close enough to be a plausible typo.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    if name.chars().count() < 3 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_string())
}
