//! Top-level evaluation: reading a source, evaluating forms one at a time (so macros and
//! requires take effect for the forms after them), loading modules, and `check` mode,
//! which reads and expands everything, resolves requires, and reports every error without
//! running anything.

use std::path::PathBuf;
use std::rc::Rc;

use super::compiler::Compiler;
use super::diagnostics::{Code, LangError};
use super::eval::{Expr, Frame, Interp};
use super::module::{stdlib_source, Module};
use super::reader::read_all;
use super::source::{add_source, Span};
use super::symbol::Sym;
use super::syntax::{Datum, Syntax};
use super::value::Value;

impl Interp {
    /// Reads and evaluates every form of `text`, returning the last value.
    pub fn eval_source(&mut self, name: &str, text: &str) -> Result<Value, LangError> {
        self.outermost(|interp| interp.eval_source_inner(name, text))
    }

    fn eval_source_inner(&mut self, name: &str, text: &str) -> Result<Value, LangError> {
        let file = add_source(name, text);
        let forms = read_all(text, file).map_err(|mut errors| errors.remove(0))?;
        let mut last = Value::Void;
        for form in &forms {
            last = self.eval_toplevel(form)?;
        }
        Ok(last)
    }

    /// Evaluates one top-level form in the current module.
    pub fn eval_toplevel(&mut self, form: &Syntax) -> Result<Value, LangError> {
        match self.prepare_toplevel(form, true)? {
            Prepared::Done(v) => Ok(v),
            Prepared::Many(forms) => {
                let mut last = Value::Void;
                for f in &forms {
                    last = self.eval_toplevel(f)?;
                }
                Ok(last)
            }
            Prepared::Compiled(expr) => {
                let root = Frame::root();
                self.eval(&expr, &root)
            }
        }
    }

    /// Handles the forms that only exist at the top level, compiling the rest.
    pub(crate) fn prepare_toplevel(
        &mut self,
        form: &Syntax,
        run: bool,
    ) -> Result<Prepared, LangError> {
        let mut compiler = Compiler::new(self);
        let form = compiler.expand_head(form)?;
        let head = form
            .list()
            .and_then(|i| i.first())
            .and_then(Syntax::symbol)
            .map(|s| s.name());
        let items = form.list().unwrap_or(&[]);
        match head.as_deref() {
            Some("begin") => Ok(Prepared::Many(items[1..].to_vec())),
            Some("define-syntax" | "define-syntax-rule") => {
                compiler.define_macro(&form)?;
                Ok(Prepared::Done(Value::Void))
            }
            Some("require") => {
                for spec in &items[1..] {
                    self.require(spec, run)?;
                }
                Ok(Prepared::Done(Value::Void))
            }
            Some("import") => {
                self.import_sets(&items[1..], run)?;
                Ok(Prepared::Done(Value::Void))
            }
            Some("define-library") => {
                self.define_library(&form, run)?;
                Ok(Prepared::Done(Value::Void))
            }
            Some("provide") => {
                self.provide(&items[1..])?;
                Ok(Prepared::Done(Value::Void))
            }
            _ => Ok(Prepared::Compiled(compiler.compile(&form)?)),
        }
    }

    fn provide(&mut self, specs: &[Syntax]) -> Result<(), LangError> {
        let mut names = self.module.exports.borrow().clone().unwrap_or_default();
        for s in specs {
            match &s.datum {
                Datum::Symbol(name) => names.push(*name),
                Datum::List(items)
                    if items
                        .first()
                        .is_some_and(|h| h.is_symbol("all-defined-out")) =>
                {
                    *self.module.exports.borrow_mut() = None;
                    return Ok(());
                }
                _ => {
                    return Err(LangError::new(
                        Code::Syntax,
                        "provide takes names, or (all-defined-out)",
                    )
                    .with_span(s.span))
                }
            }
        }
        *self.module.exports.borrow_mut() = Some(names);
        Ok(())
    }

    /// Loads a module (a stdlib name like `htlc` or `xln/htlc`, or a relative file path)
    /// once, and imports what it provides. `run` false compiles without running (check).
    pub fn require(&mut self, spec: &Syntax, run: bool) -> Result<(), LangError> {
        let module = self.load_required(spec, run)?;
        self.import(&module, spec.span)
    }

    /// Loads (once) the module `spec` names, without importing it.
    pub fn load_required(&mut self, spec: &Syntax, run: bool) -> Result<Rc<Module>, LangError> {
        let (key, name, text) = self.resolve_module(spec)?;
        let existing = self.modules.loaded.borrow().get(&key).cloned();
        let module = match existing {
            Some(m) => m,
            None => {
                if self.modules.loading.borrow().contains(&key) {
                    return Err(LangError::new(
                        Code::Module,
                        format!("require cycle: {name} requires itself"),
                    )
                    .with_span(spec.span)
                    .with_hint("move the shared definitions into a third module"));
                }
                let module = self.modules.new_module(&name, Some(key.clone()));
                self.modules.loading.borrow_mut().push(key.clone());
                let saved = std::mem::replace(&mut self.module, module.clone());
                let result = if run {
                    self.eval_source(&name, &text).map(|_| ())
                } else {
                    self.check_into(&name, &text)
                };
                self.module = saved;
                self.modules.loading.borrow_mut().retain(|k| k != &key);
                result.map_err(|e| {
                    if e.code == Code::Module {
                        e
                    } else {
                        let note = LangError::new(e.code, e.message.clone());
                        let _ = note;
                        e
                    }
                })?;
                self.modules.loaded.borrow_mut().insert(key, module.clone());
                module
            }
        };
        Ok(module)
    }

    pub(crate) fn import(&mut self, from: &Rc<Module>, span: Span) -> Result<(), LangError> {
        for name in from.exported() {
            if let Some(m) = from.macros.borrow().get(&name).cloned() {
                self.module.macros.borrow_mut().insert(name, m);
                continue;
            }
            if !from.globals.borrow().contains_key(&name) {
                return Err(LangError::new(
                    Code::Module,
                    format!(
                        "module {} provides `{name}` but does not define it",
                        from.name
                    ),
                )
                .with_span(span));
            }
            let cell = from.cell(name);
            self.module.globals.borrow_mut().insert(name, cell);
            self.module.imported.borrow_mut().insert(name);
        }
        Ok(())
    }

    fn resolve_module(&self, spec: &Syntax) -> Result<(PathBuf, String, String), LangError> {
        match &spec.datum {
            Datum::Symbol(s) => {
                let text = s.name();
                let name = text.strip_prefix("xln/").unwrap_or(&text);
                let (display, source) = stdlib_source(name, self.sandboxed).ok_or_else(|| {
                    LangError::new(Code::Module, format!("no standard library module `{name}`"))
                        .with_span(spec.span)
                        .with_hint(format!(
                            "the standard library has: {}",
                            super::module::STDLIB
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                })?;
                Ok((PathBuf::from(format!("<stdlib>/{name}")), display, source))
            }
            Datum::Atom(Value::Str(path)) => {
                if self.sandboxed {
                    return Err(
                        super::sandbox::refusal("require of a file", "it reads a file")
                            .with_span(spec.span),
                    );
                }
                let full = self.module.dir().join(&**path);
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    LangError::new(
                        Code::Module,
                        format!("cannot read module {}: {e}", full.display()),
                    )
                    .with_span(spec.span)
                    .with_hint("paths are relative to the requiring file")
                })?;
                let key = full.canonicalize().unwrap_or(full.clone());
                Ok((key, full.display().to_string(), text))
            }
            _ => Err(LangError::new(
                Code::Syntax,
                "require takes a stdlib name (htlc) or a file path (\"util.xln\")",
            )
            .with_span(spec.span)),
        }
    }

    /// Reads, expands and compiles every form without running any, returning all errors:
    /// read errors, bad syntax, macro errors, and references to names defined nowhere.
    pub fn check_source(&mut self, name: &str, text: &str) -> Vec<LangError> {
        match self.check_collect(name, text) {
            Ok(errors) => errors,
            Err(e) => vec![e],
        }
    }

    fn check_into(&mut self, name: &str, text: &str) -> Result<(), LangError> {
        let mut errors = self.check_collect(name, text)?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.remove(0))
        }
    }

    fn check_collect(&mut self, name: &str, text: &str) -> Result<Vec<LangError>, LangError> {
        let file = add_source(name, text);
        let forms = match read_all(text, file) {
            Ok(f) => f,
            Err(errors) => return Ok(errors),
        };
        let mut errors = Vec::new();
        let mut references = Vec::new();
        let mut queue: Vec<Syntax> = forms.into_iter().rev().collect();
        while let Some(form) = queue.pop() {
            match self.prepare_toplevel(&form, false) {
                Ok(Prepared::Many(more)) => queue.extend(more.into_iter().rev()),
                Ok(Prepared::Compiled(expr)) => collect_globals(&expr, &mut references),
                Ok(Prepared::Done(_)) => {}
                Err(e) => errors.push(e),
            }
        }
        let mut reported = std::collections::HashSet::new();
        for (name, span) in references {
            let known = self.module.defined.borrow().contains(&name)
                || self.module.lookup(name).is_some()
                || self
                    .module
                    .globals
                    .borrow()
                    .get(&name)
                    .is_some_and(|c| imported_elsewhere(self, c));
            if !known && reported.insert(name) {
                let mut e = LangError::new(Code::Unbound, format!("`{name}` is not defined"))
                    .with_span(span);
                let names = self.module.bound_names();
                if let Some(s) =
                    super::diagnostics::suggest(&name.name(), names.iter().map(String::as_str))
                {
                    e = e.with_hint(format!("did you mean `{s}`?"));
                }
                errors.push(e);
            }
        }
        Ok(errors)
    }
}

/// True when the cell is shared with a loaded module that defines it (an import).
fn imported_elsewhere(interp: &Interp, cell: &Rc<super::module::Global>) -> bool {
    interp.modules.loaded.borrow().values().any(|m| {
        m.defined.borrow().contains(&cell.name)
            && m.globals
                .borrow()
                .get(&cell.name)
                .is_some_and(|c| Rc::ptr_eq(c, cell))
    })
}

pub(crate) enum Prepared {
    Done(Value),
    Many(Vec<Syntax>),
    Compiled(Rc<Expr>),
}

/// Every global variable reference in a compiled expression, with its span.
fn collect_globals(expr: &Expr, out: &mut Vec<(Sym, Span)>) {
    let mut go = |e: &Rc<Expr>| collect_globals(e, out);
    match expr {
        Expr::Global { cell, span } => out.push((cell.name, *span)),
        Expr::Const(_) | Expr::Local { .. } => {}
        Expr::SetLocal { value, .. } | Expr::SetGlobal { value, .. } => go(value),
        Expr::If {
            test,
            then,
            otherwise,
        } => {
            go(test);
            go(then);
            go(otherwise);
        }
        Expr::Lambda(info) => {
            info.optional.iter().for_each(&mut go);
            info.keywords
                .iter()
                .filter_map(|(_, d)| d.as_ref())
                .for_each(&mut go);
            go(&info.body);
        }
        Expr::Seq(items)
        | Expr::And(items)
        | Expr::Or(items)
        | Expr::MakeVector(items)
        | Expr::MakeMap(items)
        | Expr::MakeSet(items) => items.iter().for_each(go),
        Expr::Let { inits, body, .. } | Expr::Letrec { inits, body, .. } => {
            inits.iter().for_each(&mut go);
            go(body);
        }
        Expr::Call { func, args, .. } => {
            go(func);
            args.iter().for_each(go);
        }
        Expr::PrimCall { args, .. } => args.iter().for_each(go),
        Expr::Guard { body, handler } => {
            go(body);
            go(handler);
        }
        Expr::WithHandlers { handlers, body, .. } => {
            for (p, h) in handlers {
                go(p);
                go(h);
            }
            go(body);
        }
        Expr::Match {
            subject, clauses, ..
        } => {
            go(subject);
            for c in clauses {
                if let Some(g) = &c.guard {
                    go(g);
                }
                go(&c.body);
            }
        }
        Expr::Test {
            name,
            expected,
            actual,
            ..
        } => {
            if let Some(n) = name {
                go(n);
            }
            go(expected);
            go(actual);
        }
        Expr::Assert { expr, message, .. } => {
            go(expr);
            if let Some(m) = message {
                go(m);
            }
        }
        Expr::Time { expr, .. } => go(expr),
    }
}
