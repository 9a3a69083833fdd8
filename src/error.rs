//! Host-side errors (I/O, usage, later storage and chain) as one miette diagnostic type
//! with a stable code and help, and the single reporting path (`Failure::render`) through
//! which both host errors and script errors (`LangError`, ariadne) reach the user.

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use crate::lang::LangError;

/// Stable codes of host errors (`H0xx`), as script errors have `E0xx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCode {
    Usage,
    Io,
    Storage,
    Chain,
    Internal,
}

impl HostCode {
    pub fn as_str(self) -> &'static str {
        match self {
            HostCode::Usage => "H001",
            HostCode::Io => "H002",
            HostCode::Storage => "H003",
            HostCode::Chain => "H004",
            HostCode::Internal => "H005",
        }
    }
}

/// An error outside any script: a file that cannot be read, a bad flag, a node that is down.
#[derive(Debug, Clone)]
pub struct HostError {
    pub code: HostCode,
    pub message: String,
    pub help: Option<String>,
}

impl HostError {
    pub fn new(code: HostCode, message: impl Into<String>) -> HostError {
        HostError {
            code,
            message: message.into(),
            help: None,
        }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> HostError {
        self.help = Some(help.into());
        self
    }
    pub fn io(what: &str, err: &std::io::Error) -> HostError {
        HostError::new(HostCode::Io, format!("{what}: {err}")).with_help(match err.kind() {
            std::io::ErrorKind::NotFound => {
                "check the path; relative paths start at the current directory"
            }
            std::io::ErrorKind::PermissionDenied => "check the file's permissions",
            _ => "check that the file is readable and the disk is healthy",
        })
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for HostError {}

impl Diagnostic for HostError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
}

/// Anything that can stop a command: a script error or a host error.
#[derive(Debug)]
pub enum Failure {
    Script(LangError),
    Host(HostError),
}

impl From<LangError> for Failure {
    fn from(e: LangError) -> Self {
        Failure::Script(e)
    }
}
impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure::Host(e)
    }
}

impl Failure {
    /// The one place errors become text for the user.
    pub fn render(&self, color: bool) -> String {
        match self {
            Failure::Script(e) => e.render(color),
            Failure::Host(e) => {
                let theme = if color {
                    GraphicalTheme::unicode()
                } else {
                    GraphicalTheme::unicode_nocolor()
                };
                let handler = GraphicalReportHandler::new_themed(theme);
                let mut out = String::new();
                if handler.render_report(&mut out, e).is_err() {
                    out = format!("[{}] Error: {}\n", e.code.as_str(), e.message);
                }
                out
            }
        }
    }
}
