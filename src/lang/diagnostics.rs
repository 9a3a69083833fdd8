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
    /// Set when the error escaped a `with-exception-handler` handler called by
    /// `raise-continuable`: handlers from this index of the handler stack up have already
    /// seen the condition and must not handle what their own handler raised.
    pub handled_from: Option<usize>,
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
            handled_from: None,
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
                Code::StackDepth | Code::StepBudget | Code::Interrupted
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
                let end = (span.end as usize).min(file.text.len());
                let start = (span.start as usize).min(end);
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
                        let e = (s.end as usize).min(file.text.len());
                        let b = (s.start as usize).min(e);
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
                let _ = report
                    .finish()
                    .write((name.clone(), ariadne::Source::from(&*file.text)), &mut out);
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
