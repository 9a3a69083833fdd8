//! The xln language: reader → expander → compiler → evaluator, with persistent values,
//! diagnostics and a printer that round-trips. The protocol layers never depend on this
//! module; it calls them through their public APIs (see `crate::bindings`).

pub mod builtins;
pub mod call;
pub mod compiler;
pub mod diagnostics;
pub mod docs;
pub mod eval;
pub mod expander;
pub mod expr;
pub mod frame;
pub mod labels;
pub mod library;
pub mod memory;
pub mod module;
pub mod number;
pub mod output;
pub mod pattern;
pub mod ports;
pub mod printer;
pub mod reader;
pub mod sandbox;
pub mod source;
pub mod symbol;
pub mod syntax;
pub mod toplevel;
pub mod value;

pub use diagnostics::{Code, LangError};
pub use eval::{Interp, Limits, Output};
pub use value::Value;

/// A fresh interpreter with the prelude loaded, writing to stdout.
pub fn interpreter(limits: Limits) -> Interp {
    Interp::new(limits, Output::stdout())
}
