//! R7RS libraries (5.6): `define-library` with `export` (and `rename`), `import`, `begin`,
//! `include` and `cond-expand` declarations; and `import` sets with `only`, `except`,
//! `prefix` and `rename`. The `(scheme ...)` libraries are the builtins, always visible, so
//! importing them changes nothing; `(xln NAME)` imports the standard library module NAME.

use std::path::PathBuf;
use std::rc::Rc;

use super::diagnostics::{Code, LangError};
use super::eval::Interp;
use super::module::Module;
use super::symbol::Sym;
use super::syntax::{Datum, Syntax};
use super::toplevel::Prepared;

fn bad(s: &Syntax, message: impl Into<String>) -> LangError {
    LangError::new(Code::Module, message).with_span(s.span)
}

/// A library name as text: `(a b 1)` -> "a b 1".
fn name_text(name: &Syntax) -> Result<String, LangError> {
    let parts = name.list().filter(|p| !p.is_empty()).ok_or_else(|| {
        bad(
            name,
            "a library name is a list of identifiers and integers: (my lib)",
        )
    })?;
    let words: Vec<String> = parts
        .iter()
        .map(|p| match &p.datum {
            Datum::Symbol(s) => Ok(s.unalias().name().to_string()),
            Datum::Atom(super::value::Value::Int(n)) if *n >= 0 => Ok(n.to_string()),
            _ => Err(bad(
                p,
                "a library name part is an identifier or a non-negative integer",
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(words.join(" "))
}

fn library_key(name: &str) -> PathBuf {
    PathBuf::from(format!("<library>/{name}"))
}

/// How an import set changes the names it brings: each step maps the exported
/// name to the local one, or drops it.
enum Step {
    Only(Vec<Sym>),
    Except(Vec<Sym>),
    Prefix(String),
    Rename(Vec<(Sym, Sym)>),
}

fn symbols(items: &[Syntax]) -> Result<Vec<Sym>, LangError> {
    items
        .iter()
        .map(|i| {
            i.symbol()
                .map(Sym::unalias)
                .ok_or_else(|| bad(i, "expected an identifier"))
        })
        .collect()
}

/// The library an import set draws from, and its steps in the order they apply.
fn parse_set(set: &Syntax) -> Result<(Syntax, Vec<Step>), LangError> {
    let items = set.list().filter(|i| !i.is_empty()).ok_or_else(|| {
        bad(
            set,
            "an import set is a library name or (only|except|prefix|rename set ...)",
        )
    })?;
    let head = items[0].symbol().map(|s| s.unalias().name());
    let step = match head.as_deref() {
        Some("only") if items.len() >= 2 => Step::Only(symbols(&items[2..])?),
        Some("except") if items.len() >= 2 => Step::Except(symbols(&items[2..])?),
        Some("prefix") if items.len() == 3 => Step::Prefix(
            items[2]
                .symbol()
                .map(|s| s.unalias().name().to_string())
                .ok_or_else(|| bad(&items[2], "prefix takes an identifier"))?,
        ),
        Some("rename") if items.len() >= 2 => {
            let mut pairs = Vec::new();
            for r in &items[2..] {
                match r.list() {
                    Some([a, b]) => pairs.push((
                        a.symbol()
                            .map(Sym::unalias)
                            .ok_or_else(|| bad(a, "expected an identifier"))?,
                        b.symbol()
                            .map(Sym::unalias)
                            .ok_or_else(|| bad(b, "expected an identifier"))?,
                    )),
                    _ => return Err(bad(r, "rename takes (old new) pairs")),
                }
            }
            Step::Rename(pairs)
        }
        _ => return Ok((set.clone(), Vec::new())),
    };
    let (library, mut steps) = parse_set(&items[1])?;
    steps.push(step);
    Ok((library, steps))
}

/// Applies the steps to an exported name: the local name, or `None` if it is left out.
fn local_name(mut name: Sym, steps: &[Step]) -> Option<Sym> {
    for step in steps {
        name = match step {
            Step::Only(keep) => keep.contains(&name).then_some(name)?,
            Step::Except(drop) => (!drop.contains(&name)).then_some(name)?,
            Step::Prefix(p) => Sym::new(&format!("{p}{}", name.name())),
            Step::Rename(pairs) => pairs
                .iter()
                .find(|(old, _)| *old == name)
                .map(|(_, new)| *new)
                .unwrap_or(name),
        };
    }
    Some(name)
}

impl Interp {
    /// `(import set ...)`.
    pub fn import_sets(&mut self, sets: &[Syntax], run: bool) -> Result<(), LangError> {
        for set in sets {
            let (library, steps) = parse_set(set)?;
            let name = name_text(&library)?;
            let first = name.split(' ').next().unwrap_or("");
            if first == "scheme" {
                if !super::expander::library_available(&library) {
                    return Err(
                        bad(set, format!("no library ({name}) in this implementation"))
                            .with_hint("(scheme complex) is not provided: numbers are real"),
                    );
                }
                // The builtins stay visible; a rename adds the new name for the old one.
                for step in &steps {
                    if let Step::Rename(pairs) = step {
                        for (old, new) in pairs {
                            if let Some(v) = self.module.lookup(*old) {
                                self.module.define(*new, v);
                            }
                        }
                    }
                }
                continue;
            }
            let defined = self
                .modules
                .loaded
                .borrow()
                .get(&library_key(&name))
                .cloned();
            let module = if let Some(m) = defined {
                m
            } else if let (Some(("xln", stdlib)), Some(parts)) =
                (name.split_once(' '), library.list())
            {
                let spec = Syntax::new(Datum::Symbol(Sym::new(stdlib)), parts[0].span);
                self.load_required(&spec, run)?
            } else {
                return Err(
                    bad(set, format!("no library ({name}) is defined")).with_hint(
                        "define it first with (define-library ...), or import (scheme base)",
                    ),
                );
            };
            self.import_from(&module, &steps, set)?;
        }
        Ok(())
    }

    fn import_from(
        &mut self,
        from: &Rc<Module>,
        steps: &[Step],
        set: &Syntax,
    ) -> Result<(), LangError> {
        for exported in from.exported() {
            let Some(local) = local_name(exported, steps) else {
                continue;
            };
            if let Some(m) = from.macros.borrow().get(&exported).cloned() {
                self.module.macros.borrow_mut().insert(local, m);
                continue;
            }
            if !from.globals.borrow().contains_key(&exported) {
                return Err(bad(
                    set,
                    format!(
                        "library {} exports `{exported}` but does not define it",
                        from.name
                    ),
                ));
            }
            let cell = from.cell(exported);
            self.module.globals.borrow_mut().insert(local, cell);
            self.module.imported.borrow_mut().insert(local);
        }
        Ok(())
    }

    /// `(define-library name declaration ...)`.
    pub fn define_library(&mut self, form: &Syntax, run: bool) -> Result<(), LangError> {
        let items = form.list().unwrap_or(&[]);
        let name_syntax = items
            .get(1)
            .ok_or_else(|| bad(form, "define-library needs a name"))?;
        let name = name_text(name_syntax)?;
        let module = self
            .modules
            .new_module(&format!("({name})"), self.module.path.clone());
        let saved = std::mem::replace(&mut self.module, module.clone());
        let mut exports = Vec::new();
        let result = self.library_declarations(&items[2..], run, &mut exports);
        self.module = saved;
        result?;
        let mut names = Vec::new();
        for (internal, external) in exports {
            if internal != external {
                if let Some(m) = module.macros.borrow().get(&internal).cloned() {
                    module.macros.borrow_mut().insert(external, m);
                } else {
                    let cell = module.cell(internal);
                    module.globals.borrow_mut().insert(external, cell);
                }
            }
            names.push(external);
        }
        *module.exports.borrow_mut() = Some(names);
        self.modules
            .loaded
            .borrow_mut()
            .insert(library_key(&name), module);
        Ok(())
    }

    fn library_declarations(
        &mut self,
        decls: &[Syntax],
        run: bool,
        exports: &mut Vec<(Sym, Sym)>,
    ) -> Result<(), LangError> {
        for decl in decls {
            let items = decl.list().filter(|i| !i.is_empty()).ok_or_else(|| bad(decl, "a library declaration is (export ...), (import ...), (begin ...), (include ...) or (cond-expand ...)"))?;
            let head = items[0].symbol().map(|s| s.unalias().name());
            match head.as_deref() {
                Some("export") => {
                    for spec in &items[1..] {
                        match (&spec.datum, spec.list()) {
                            (Datum::Symbol(s), _) => exports.push((s.unalias(), s.unalias())),
                            (_, Some([r, a, b])) if r.is_symbol("rename") => {
                                let a =
                                    a.symbol().ok_or_else(|| bad(a, "expected an identifier"))?;
                                let b =
                                    b.symbol().ok_or_else(|| bad(b, "expected an identifier"))?;
                                exports.push((a.unalias(), b.unalias()));
                            }
                            _ => {
                                return Err(bad(
                                    spec,
                                    "an export is a name or (rename internal external)",
                                ))
                            }
                        }
                    }
                }
                Some("import") => self.import_sets(&items[1..], run)?,
                Some("begin") | Some("include") | Some("include-ci") => {
                    let forms = if head.as_deref() == Some("begin") {
                        items[1..].to_vec()
                    } else {
                        vec![decl.clone()]
                    };
                    for f in &forms {
                        self.library_form(f, run)?;
                    }
                }
                Some("include-library-declarations") => {
                    let mut compiler = super::compiler::Compiler::new(self);
                    let included = compiler.expand_head(&Syntax::new(
                        Datum::List(
                            std::iter::once(Syntax::new(
                                Datum::Symbol(Sym::new("include")),
                                decl.span,
                            ))
                            .chain(items[1..].iter().cloned())
                            .collect(),
                        ),
                        decl.span,
                    ))?;
                    let inner = included.list().unwrap_or(&[]);
                    self.library_declarations(inner.get(1..).unwrap_or(&[]), run, exports)?;
                }
                Some("cond-expand") => {
                    let chosen = super::expander::derived("cond-expand", decl)
                        .unwrap_or_else(|| Err(bad(decl, "bad cond-expand")))?;
                    let inner = chosen.list().unwrap_or(&[]);
                    self.library_declarations(inner.get(1..).unwrap_or(&[]), run, exports)?;
                }
                _ => return Err(bad(decl, "unknown library declaration")),
            }
        }
        Ok(())
    }

    /// One form of a library body: evaluated, or in check mode only compiled.
    fn library_form(&mut self, form: &Syntax, run: bool) -> Result<(), LangError> {
        if run {
            self.eval_toplevel(form)?;
            return Ok(());
        }
        match self.prepare_toplevel(form, false)? {
            Prepared::Many(more) => {
                for f in &more {
                    self.library_form(f, false)?;
                }
            }
            Prepared::Compiled(_) | Prepared::Done(_) => {}
        }
        Ok(())
    }
}
