//! The sandboxed interpreter: what subcontracts run in, on every replica, inside consensus.
//! The same code on the same input must give the same result everywhere, so a sandbox has
//! the language's pure builtins only: no files, ports onto the file system, `load` or
//! file `require` (embedded stdlib modules only), no clock, no randomness, no environment,
//! no process control, and output goes nowhere. Each refused capability is still bound, to
//! a procedure that fails with E021 naming it, so a subcontract learns why at once.

use std::rc::Rc;

use super::diagnostics::{Code, LangError};
use super::eval::{Interp, Limits};
use super::module::{Module, ModuleRegistry};
use super::output::Output;
use super::symbol::Sym;
use super::value::{NativeProc, Primitive, Value};

/// Builtins a sandbox replaces with a refusal, and why each is refused.
pub const REFUSED: &[(&str, &str)] = &[
    ("load", "it reads a file"),
    ("run-script", "it reads a file and runs another interpreter"),
    ("eprintf", "it writes to the process's standard error"),
    ("flush-output", "it flushes the process's standard output"),
    ("command-line-arguments", "it reads the process's arguments"),
    ("exit", "it ends the process"),
    ("emergency-exit", "it ends the process"),
    ("open-input-file", "it opens a file"),
    ("open-binary-input-file", "it opens a file"),
    ("open-output-file", "it opens a file"),
    ("open-binary-output-file", "it opens a file"),
    ("call-with-input-file", "it opens a file"),
    ("call-with-output-file", "it opens a file"),
    ("with-input-from-file", "it opens a file"),
    ("with-output-to-file", "it opens a file"),
    ("file-exists?", "it looks at the file system"),
    ("delete-file", "it changes the file system"),
    ("current-second", "it reads the clock"),
    ("current-jiffy", "it reads the clock"),
    ("jiffies-per-second", "it belongs to the clock"),
    (
        "get-environment-variable",
        "it reads the process's environment",
    ),
    (
        "get-environment-variables",
        "it reads the process's environment",
    ),
    ("command-line", "it reads the process's arguments"),
];

impl Limits {
    /// Limits for sandboxed code: a step budget (10,000,000 calls), 16 MiB for one object,
    /// 256 MiB of heap, and the default depth limit. The step budget and the
    /// per-object bound are deterministic; stay well inside the heap bound, whose exact
    /// trip point depends on the allocator (see `Limits::max_memory_bytes`).
    pub fn sandbox() -> Limits {
        Limits {
            step_budget: Some(10_000_000),
            max_alloc_bytes: 16 << 20,
            max_memory_bytes: 256 << 20,
            ..Limits::default()
        }
    }
}

/// The error a sandbox gives for a refused capability.
pub fn refusal(what: &str, why: &str) -> LangError {
    LangError::new(
        Code::Sandbox,
        format!("`{what}` is not available in the sandbox: {why}"),
    )
    .with_hint(
        "sandboxed code runs on every replica inside consensus: it gets no files, clock, randomness, environment or process control",
    )
}

impl Interp {
    /// A sandboxed interpreter (see the module doc): the language's builtins and prelude,
    /// no native layer's bindings, output discarded, and `limits` enforced (use
    /// `Limits::sandbox()` for the defaults). Same as `sandboxed_with(limits, &[])`.
    pub fn sandboxed(limits: Limits) -> Interp {
        Interp::sandboxed_with(limits, &[])
    }

    /// A sandboxed interpreter that can also call the procedures of `extra` (native tables
    /// the caller vouches are pure, such as hashing).
    ///
    /// Cheap to create, so one may be made per call: the builtins module (builtins, the
    /// prelude, the refusals, `extra`) is prepared once per thread and per `extra`, and
    /// shared; scripts cannot change it (their definitions and `set!`s go to their own
    /// `main` module). Each sandbox has its own modules, step count, gensym counter and
    /// test counters. Reusing one sandbox for several calls is also safe if the caller
    /// resets what a call leaves behind: a fresh `interp.module`
    /// (`interp.modules.new_module("main", None)`), `interp.steps` and `interp.tests`.
    ///
    /// Determinism: every builtin here is a function of its arguments, maps and sets
    /// iterate in their values' total order, and `gensym` numbers names per interpreter.
    pub fn sandboxed_with(limits: Limits, extra: &[&'static [Primitive]]) -> Interp {
        let key: Vec<usize> = extra.iter().map(|t| t.as_ptr() as usize).collect();
        let cached = SANDBOX_BUILTINS.with(|c| {
            c.borrow()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, m)| m.clone())
        });
        let builtins = match cached {
            Some(m) => m,
            None => {
                let m = prepare_builtins(extra);
                SANDBOX_BUILTINS.with(|c| c.borrow_mut().push((key, m.clone())));
                m
            }
        };
        Interp::with_registry(
            limits,
            Output::discarded(),
            ModuleRegistry::sharing(builtins),
            true,
        )
    }
}

thread_local! {
    /// Prepared sandbox builtins modules, by the addresses of their extra tables.
    static SANDBOX_BUILTINS: std::cell::RefCell<Vec<(Vec<usize>, Rc<Module>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Builds a sandbox's builtins module: the language's tables, `extra`, the prelude, and
/// the refusals.
fn prepare_builtins(extra: &[&'static [Primitive]]) -> Rc<Module> {
    let mut tables = super::builtins::lang_tables();
    tables.extend(extra.iter().map(|t| ("extra", *t)));
    let registry = ModuleRegistry::with_tables(&tables);
    let interp = Interp::with_registry(Limits::sandbox(), Output::discarded(), registry, true);
    for (name, why) in REFUSED {
        let (name, why) = (*name, *why);
        let refuse = Value::NativeProc(Rc::new(NativeProc {
            name: name.to_string(),
            min_args: 0,
            max_args: None,
            func: Box::new(move |_, _, _| Err(refusal(name, why))),
            case_lambda: None,
            parameter: None,
        }));
        interp.modules.builtins.define(Sym::new(name), refuse);
    }
    interp.modules.builtins.clone()
}
