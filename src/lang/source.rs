//! Source files and spans: every datum the reader produces remembers which file and
//! byte range it came from, so every diagnostic can point at the exact text.

use std::cell::RefCell;
use std::rc::Rc;

/// Index of a file registered in the thread's source map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// The smallest span covering both (same file assumed).
    pub fn to(&self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One registered source text.
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: Rc<str>,
    /// Byte offsets at which each line starts (for line:col).
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let end = offset.min(self.text.len());
        let col = self
            .text
            .get(start..end)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }
}

thread_local! {
    static SOURCES: RefCell<Vec<Rc<SourceFile>>> = const { RefCell::new(Vec::new()) };
}

/// Registers a source text under a display name and returns its id.
pub fn add_source(name: &str, text: &str) -> FileId {
    let line_starts = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let file = SourceFile {
        name: name.to_string(),
        text: text.into(),
        line_starts,
    };
    SOURCES.with(|s| {
        let mut s = s.borrow_mut();
        s.push(Rc::new(file));
        FileId((s.len() - 1) as u32)
    })
}

/// The registered file, if the id is known.
pub fn source(id: FileId) -> Option<Rc<SourceFile>> {
    SOURCES.with(|s| s.borrow().get(id.0 as usize).cloned())
}

/// "file:line:col" for a span, or "?" when the file is unknown.
pub fn describe(span: Span) -> String {
    match source(span.file) {
        Some(f) => {
            let (l, c) = f.line_col(span.start as usize);
            format!("{}:{}:{}", f.name, l, c)
        }
        None => "?".to_string(),
    }
}

/// The source text a span covers.
pub fn snippet(span: Span) -> String {
    source(span.file)
        .and_then(|f| f.text.get(span.range()).map(str::to_string))
        .unwrap_or_default()
}
