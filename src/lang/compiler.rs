//! The compiler: expanded `Syntax` to `Expr`. Resolves every variable to a frame slot
//! (depth, index) or a module's global cell, so the evaluator never looks names up by string.
//! Special forms are recognised by name unless a local variable shadows them.

use std::rc::Rc;

use super::diagnostics::{Code, LangError};
use super::eval::{Expr, Interp, LambdaInfo, MatchClause, TestKind};
use super::expander::{self, Macro};
use super::pattern::Pattern;
use super::source::Span;
use super::symbol::Sym;
use super::syntax::{Datum, Syntax};
use super::value::Value;

/// Every special form the compiler knows (the reference documents each).
pub const SPECIAL_FORMS: &[&str] = &[
    "quote",
    "quasiquote",
    "unquote",
    "unquote-splicing",
    "if",
    "define",
    "set!",
    "lambda",
    "λ",
    "case-lambda",
    "begin",
    "let",
    "let*",
    "letrec",
    "letrec*",
    "and",
    "or",
    "when",
    "unless",
    "cond",
    "case",
    "do",
    "define-syntax",
    "define-syntax-rule",
    "let-syntax",
    "struct",
    "struct-copy",
    "define-record-type",
    "match",
    "guard",
    "with-handlers",
    "test",
    "test-error",
    "assert",
    "time",
    "require",
    "provide",
    "let-values",
    "let*-values",
    "define-values",
    "receive",
    "delay",
    "delay-force",
    "parameterize",
    "letrec-syntax",
    "syntax-error",
    "cond-expand",
    "include",
    "include-ci",
];

struct Scope {
    names: Vec<Sym>,
}

pub struct Compiler<'a> {
    pub interp: &'a mut Interp,
    scopes: Vec<Scope>,
    /// Macros bound by `let-syntax` / `letrec-syntax` around the form being compiled.
    local_macros: Vec<(Sym, Rc<Macro>)>,
    /// Nesting of `(or ...)` patterns being compiled: alternatives bind the same variables.
    pattern_or_depth: usize,
}

fn bad(form: &Syntax, message: impl Into<String>) -> LangError {
    LangError::new(Code::Syntax, message).with_span(form.span)
}

fn constant(v: Value) -> Rc<Expr> {
    Rc::new(Expr::Const(v))
}

/// What a body form turned out to be after head expansion.
enum BodyItem {
    Define(Sym, Syntax),
    DefineConsts(Vec<(Sym, Value)>),
    DefineValues(Vec<Sym>, Syntax),
    Expr(Syntax),
}

impl<'a> Compiler<'a> {
    pub fn new(interp: &'a mut Interp) -> Compiler<'a> {
        Compiler {
            interp,
            scopes: Vec::new(),
            local_macros: Vec::new(),
            pattern_or_depth: 0,
        }
    }

    /// The frame distance and slot of a local variable. A macro-introduced alias is
    /// bound under its own name if an expansion bound it, else it means its original
    /// identifier as seen from the scopes visible where the macro was defined.
    fn lookup(&self, name: Sym) -> Option<(usize, usize)> {
        self.lookup_within(name, self.scopes.len())
    }

    fn lookup_within(&self, name: Sym, visible: usize) -> Option<(usize, usize)> {
        let n = self.scopes.len();
        for (index, scope) in self.scopes[..visible.min(n)].iter().enumerate().rev() {
            if let Some(i) = scope.names.iter().rposition(|x| *x == name) {
                return Some((n - 1 - index, i));
            }
        }
        match name.alias_of() {
            Some((original, depth)) => self.lookup_within(original, depth.min(visible)),
            None => None,
        }
    }

    /// The special form or macro a list's head names (an alias resolved to its plain
    /// name), unless a local variable shadows it.
    fn head_keyword(&self, form: &Syntax) -> Option<Sym> {
        let head = form.list()?.first()?.symbol()?;
        if self.lookup(head).is_some() {
            return None;
        }
        Some(head.unalias())
    }

    fn macro_for(&self, form: &Syntax) -> Option<Rc<Macro>> {
        let head = self.head_keyword(form)?;
        if let Some((_, m)) = self.local_macros.iter().rev().find(|(n, _)| *n == head) {
            return Some(m.clone());
        }
        self.interp.module.macro_named(head)
    }

    /// Expands macros and derived forms at the head of `form` until it is a core form.
    pub fn expand_head(&mut self, form: &Syntax) -> Result<Syntax, LangError> {
        let mut form = form.clone();
        for _ in 0..10_000 {
            if let Some(m) = self.macro_for(&form) {
                form = m.expand(&form)?;
                continue;
            }
            if let Some(head) = self.head_keyword(&form) {
                let name = head.name();
                if &*name == "let"
                    && form
                        .list()
                        .and_then(|i| i.get(1))
                        .and_then(Syntax::symbol)
                        .is_some()
                {
                    form = self.named_let(&form)?;
                    continue;
                }
                if let Some(expanded) = expander::derived(&name, &form) {
                    form = expanded?;
                    continue;
                }
                if matches!(&*name, "include" | "include-ci") {
                    form = self.include(&form, &*name == "include-ci")?;
                    continue;
                }
            }
            return Ok(form);
        }
        Err(LangError::new(
            Code::Macro,
            "macro expansion does not terminate (10000 rounds)",
        )
        .with_span(form.span))
    }

    /// Compiles a form in expression position.
    pub fn compile(&mut self, form: &Syntax) -> Result<Rc<Expr>, LangError> {
        let span = form.span;
        match &form.datum {
            Datum::Atom(v) => Ok(constant(v.clone())),
            Datum::Symbol(s) => self.compile_ref(*s, span),
            Datum::ConstVector(_) | Datum::Struct(_) => Ok(constant(form.to_value())),
            Datum::Vector(items) => self.compile_collection(items, form, Expr::MakeVector),
            Datum::Map(items) => self.compile_collection(items, form, Expr::MakeMap),
            Datum::Set(items) => self.compile_collection(items, form, Expr::MakeSet),
            Datum::Dotted(..) => {
                Err(bad(form, "a dotted list cannot be evaluated").with_hint("quote it: '(a . b)"))
            }
            Datum::List(items) if items.is_empty() => {
                Err(bad(form, "empty application `()`").with_hint("write '() for the empty list"))
            }
            Datum::List(_) => {
                let expanded = self.expand_head(form)?;
                let Some(items) = expanded.list() else {
                    return self.compile(&expanded);
                };
                match self.head_keyword(&expanded) {
                    Some(head) if SPECIAL_FORMS.contains(&&*head.name()) => {
                        self.compile_special(&head.name(), items, &expanded)
                    }
                    _ => self.compile_call(items, expanded.span),
                }
            }
        }
    }

    fn compile_collection(
        &mut self,
        items: &[Syntax],
        form: &Syntax,
        make: fn(Vec<Rc<Expr>>) -> Expr,
    ) -> Result<Rc<Expr>, LangError> {
        let exprs = items
            .iter()
            .map(|i| self.compile(i))
            .collect::<Result<Vec<_>, _>>()?;
        // Constant elements fold into one value, built from the *evaluated* constants
        // (so `['a]` holds the symbol a, not the list (quote a)).
        let consts: Option<Vec<Value>> = exprs
            .iter()
            .map(|e| match &**e {
                Expr::Const(v) => Some(v.clone()),
                _ => None,
            })
            .collect();
        match (consts, &form.datum) {
            (Some(vals), Datum::Vector(_)) => Ok(constant(Value::vector(vals))),
            (Some(vals), Datum::Map(_)) => Ok(constant(Value::Map(Rc::new(
                vals.chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| (c[0].clone(), c[1].clone()))
                    .collect(),
            )))),
            (Some(vals), Datum::Set(_)) => {
                Ok(constant(Value::Set(Rc::new(vals.into_iter().collect()))))
            }
            _ => Ok(Rc::new(make(exprs))),
        }
    }

    fn compile_ref(&mut self, name: Sym, span: Span) -> Result<Rc<Expr>, LangError> {
        if let Some((depth, index)) = self.lookup(name) {
            return Ok(Rc::new(Expr::Local {
                depth,
                index,
                name,
                span,
            }));
        }
        let name = name.unalias();
        let text = name.name();
        if SPECIAL_FORMS.contains(&&*text) || self.interp.module.macro_named(name).is_some() {
            return Err(bad_keyword(&text, span));
        }
        if matches!(&*text, "else" | "=>" | "..." | "_" | ".") {
            return Err(LangError::new(
                Code::Syntax,
                format!("`{text}` is only meaningful inside a form that uses it"),
            )
            .with_span(span));
        }
        Ok(Rc::new(Expr::Global {
            cell: self.interp.module.cell(name),
            span,
        }))
    }

    fn compile_call(&mut self, items: &[Syntax], span: Span) -> Result<Rc<Expr>, LangError> {
        let func = self.compile(&items[0])?;
        let args = items[1..]
            .iter()
            .map(|a| self.compile(a))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(call) = self.builtin_call(&func, &args, span) {
            return Ok(call);
        }
        Ok(Rc::new(Expr::Call { func, args, span }))
    }

    /// A `PrimCall` when `func` is a global that holds one of the language's builtins now
    /// and the argument count fits it. Builtins that call back into the evaluator for a
    /// tail call (`apply`, `call-with-values`) stay plain calls.
    fn builtin_call(&self, func: &Rc<Expr>, args: &[Rc<Expr>], span: Span) -> Option<Rc<Expr>> {
        let Expr::Global { cell, .. } = &**func else {
            return None;
        };
        let Value::Primitive(prim) = &*cell.value.borrow() else {
            return None;
        };
        let n = args.len();
        if n < prim.min_args
            || prim.max_args.is_some_and(|m| n > m)
            || matches!(prim.name, "apply" | "call-with-values")
            || !super::builtins::is_lang_primitive(prim)
        {
            return None;
        }
        Some(Rc::new(Expr::PrimCall {
            prim,
            op: super::expr::InlineOp::for_builtin(prim.name, n),
            cell: cell.clone(),
            args: args.to_vec(),
            span,
        }))
    }

    fn compile_seq(&mut self, forms: &[Syntax]) -> Result<Rc<Expr>, LangError> {
        let mut exprs = forms
            .iter()
            .map(|f| self.compile(f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match exprs.len() {
            0 => constant(Value::Void),
            1 => exprs.remove(0),
            _ => Rc::new(Expr::Seq(exprs)),
        })
    }

    fn compile_special(
        &mut self,
        name: &str,
        items: &[Syntax],
        form: &Syntax,
    ) -> Result<Rc<Expr>, LangError> {
        let span = form.span;
        match name {
            "quote" => match items {
                [_, datum] => Ok(constant(datum.to_value())),
                _ => Err(bad(form, "quote takes one datum: (quote x) or 'x")),
            },
            "quasiquote" => match items {
                [_, template] => self.compile_quasi(template, 1),
                _ => Err(bad(form, "quasiquote takes one template")),
            },
            "unquote" | "unquote-splicing" => {
                Err(bad(form, format!("`{name}` outside quasiquote"))
                    .with_hint("use , and ,@ only inside a ` template"))
            }
            "if" => match items {
                [_, test, then] => Ok(Rc::new(Expr::If {
                    test: self.compile(test)?,
                    then: self.compile(then)?,
                    otherwise: constant(Value::Void),
                })),
                [_, test, then, otherwise] => Ok(Rc::new(Expr::If {
                    test: self.compile(test)?,
                    then: self.compile(then)?,
                    otherwise: self.compile(otherwise)?,
                })),
                _ => Err(bad(
                    form,
                    "if takes a test, a then-branch and an optional else-branch",
                )),
            },
            "define" | "define-values" | "struct" | "define-record-type" => {
                if self.scopes.is_empty() {
                    return self.compile_toplevel_define(form);
                }
                Err(bad(
                    form,
                    format!("`{name}` is only allowed at the top level or at the start of a body"),
                )
                .with_hint("wrap the expression in (let () ...) to give it a body"))
            }
            "set!" => match items {
                [_, target, value] => {
                    let name = target
                        .symbol()
                        .ok_or_else(|| bad(target, "set! needs a variable name"))?;
                    let value = self.compile(value)?;
                    match self.lookup(name) {
                        Some((depth, index)) => Ok(Rc::new(Expr::SetLocal {
                            depth,
                            index,
                            value,
                        })),
                        None => Ok(Rc::new(Expr::SetGlobal {
                            cell: self.interp.module.cell(name.unalias()),
                            value,
                            define: false,
                        })),
                    }
                }
                _ => Err(bad(form, "set! takes a variable and a value: (set! x 5)")),
            },
            "lambda" | "λ" => match items {
                [_, formals, body @ ..] if !body.is_empty() => Ok(Rc::new(Expr::Lambda(
                    self.compile_lambda(None, formals, body, span)?,
                ))),
                _ => Err(bad(
                    form,
                    "lambda needs parameters and a body: (lambda (x) body ...)",
                )),
            },
            "case-lambda" => {
                let mut lambdas = Vec::new();
                for clause in &items[1..] {
                    match clause.list_like() {
                        Some([formals, body @ ..]) if !body.is_empty() => lambdas.push(Rc::new(
                            Expr::Lambda(self.compile_lambda(None, formals, body, clause.span)?),
                        )),
                        _ => {
                            return Err(bad(
                                clause,
                                "case-lambda: each clause is [formals body ...]",
                            ))
                        }
                    }
                }
                Ok(Rc::new(Expr::Call {
                    func: constant(super::builtins::primitive("%case-lambda")),
                    args: lambdas,
                    span,
                }))
            }
            "begin" => self.compile_seq(&items[1..]),
            "let" => self.compile_let(items, form),
            "letrec" | "letrec*" => self.compile_letrec(items, form),
            "and" => Ok(Rc::new(Expr::And(
                items[1..]
                    .iter()
                    .map(|i| self.compile(i))
                    .collect::<Result<_, _>>()?,
            ))),
            "or" => Ok(Rc::new(Expr::Or(
                items[1..]
                    .iter()
                    .map(|i| self.compile(i))
                    .collect::<Result<_, _>>()?,
            ))),
            "define-syntax" | "define-syntax-rule" => {
                self.define_macro(form)?;
                Ok(constant(Value::Void))
            }
            "let-syntax" | "letrec-syntax" => self.compile_let_syntax(items, form),
            "syntax-error" => {
                let message = match items.get(1).map(|m| &m.datum) {
                    Some(Datum::Atom(Value::Str(s))) => s.to_string(),
                    _ => "syntax error".to_string(),
                };
                let irritants: Vec<String> = items
                    .iter()
                    .skip(2)
                    .map(|i| super::printer::write_short(&i.to_value()))
                    .collect();
                let text = if irritants.is_empty() {
                    message
                } else {
                    format!("{message} {}", irritants.join(" "))
                };
                Err(LangError::new(Code::Macro, text).with_span(span))
            }
            "delay" | "delay-force" => match items {
                [_, expr] => {
                    let formals = Syntax::new(Datum::List(Vec::new()), span);
                    let thunk =
                        self.compile_lambda(None, &formals, std::slice::from_ref(expr), span)?;
                    Ok(Rc::new(Expr::Call {
                        func: constant(super::builtins::primitive("%make-lazy-promise")),
                        args: vec![
                            Rc::new(Expr::Lambda(thunk)),
                            constant(Value::Bool(name == "delay")),
                        ],
                        span,
                    }))
                }
                _ => Err(bad(form, format!("{name} takes one expression"))),
            },
            "parameterize" => self.compile_parameterize(items, form),
            "struct-copy" => self.compile_struct_copy(items, form),
            "match" => self.compile_match(items, form),
            "guard" => self.compile_guard(items, form),
            "with-handlers" => self.compile_with_handlers(items, form),
            "test" => {
                let (name, expected, actual) = match items {
                    [_, e, a] => (None, e, a),
                    [_, name, e, a] => (Some(self.compile(name)?), e, a),
                    _ => {
                        return Err(bad(
                            form,
                            "test takes an expected value and an expression: (test 4 (+ 2 2))",
                        ))
                    }
                };
                Ok(Rc::new(Expr::Test {
                    name,
                    expected: self.compile(expected)?,
                    actual: self.compile(actual)?,
                    span,
                    kind: TestKind::Value,
                }))
            }
            "test-error" => {
                let (kind, expr) = match items {
                    [_, expr] => (TestKind::AnyError, expr),
                    [_, code, expr] => {
                        let name = code.symbol().map(|s| s.name());
                        let parsed = name.as_deref().and_then(Code::parse);
                        let Some(c) = parsed else {
                            return Err(bad(
                                code,
                                "test-error: the first argument is the expected error code, such as E004",
                            )
                            .with_hint("codes are listed in lang/REFERENCE.md (Errors)"));
                        };
                        (TestKind::Error(c), expr)
                    }
                    _ => {
                        return Err(bad(
                            form,
                            "test-error takes an error code and an expression: (test-error E004 (car 5))",
                        ))
                    }
                };
                Ok(Rc::new(Expr::Test {
                    name: None,
                    expected: constant(Value::Void),
                    actual: self.compile(expr)?,
                    span,
                    kind,
                }))
            }
            "assert" => match items {
                [_, expr] => Ok(Rc::new(Expr::Assert {
                    expr: self.compile(expr)?,
                    message: None,
                    span,
                })),
                [_, expr, message] => Ok(Rc::new(Expr::Assert {
                    expr: self.compile(expr)?,
                    message: Some(self.compile(message)?),
                    span,
                })),
                _ => Err(bad(
                    form,
                    "assert takes an expression and an optional message",
                )),
            },
            "time" if self.interp.sandboxed => {
                Err(super::sandbox::refusal("time", "it reads the clock").with_span(span))
            }
            "time" => match items {
                [_, expr] => Ok(Rc::new(Expr::Time {
                    expr: self.compile(expr)?,
                    span,
                })),
                _ => Err(bad(form, "time takes one expression")),
            },
            "require" | "provide" => Err(bad(
                form,
                format!("`{name}` is only allowed at the top level of a file"),
            )),
            _ => Err(bad_keyword(name, span)),
        }
    }

    /// Top-level `define`, `define-values`, `struct`, `define-record-type`.
    fn compile_toplevel_define(&mut self, form: &Syntax) -> Result<Rc<Expr>, LangError> {
        match self.classify_definition(form)? {
            BodyItem::Define(name, value_form) => {
                // The cell first, so a recursive definition refers to itself.
                let cell = self.interp.module.definition_cell(name);
                let value = self.compile_named(name, &value_form)?;
                self.interp.module.defined.borrow_mut().push(name);
                Ok(Rc::new(Expr::SetGlobal {
                    cell,
                    value,
                    define: true,
                }))
            }
            BodyItem::DefineConsts(defs) => {
                let mut exprs = Vec::new();
                for (name, value) in defs {
                    self.interp.module.defined.borrow_mut().push(name);
                    let cell = self.interp.module.definition_cell(name);
                    exprs.push(Rc::new(Expr::SetGlobal {
                        cell,
                        value: constant(value),
                        define: true,
                    }));
                }
                Ok(Rc::new(Expr::Seq(exprs)))
            }
            BodyItem::DefineValues(names, setter) => {
                let mut exprs = Vec::new();
                for name in &names {
                    self.interp.module.defined.borrow_mut().push(*name);
                    let cell = self.interp.module.definition_cell(*name);
                    exprs.push(Rc::new(Expr::SetGlobal {
                        cell,
                        value: constant(Value::Void),
                        define: true,
                    }));
                }
                exprs.push(self.compile(&setter)?);
                Ok(Rc::new(Expr::Seq(exprs)))
            }
            BodyItem::Expr(e) => self.compile(&e),
        }
    }

    /// Compiles a value form, naming it if it is a lambda (for stack traces).
    fn compile_named(&mut self, name: Sym, form: &Syntax) -> Result<Rc<Expr>, LangError> {
        if let Some(items) = form.list() {
            if let (Some(head), true) = (self.head_keyword(form), items.len() >= 3) {
                if matches!(&*head.name(), "lambda" | "λ") {
                    return Ok(Rc::new(Expr::Lambda(self.compile_lambda(
                        Some(name),
                        &items[1],
                        &items[2..],
                        form.span,
                    )?)));
                }
            }
        }
        self.compile(form)
    }

    /// Recognises definition forms (after head expansion) and their names. A name a macro
    /// template introduced (an alias) defines the plain name, as the template reads.
    fn classify_definition(&mut self, form: &Syntax) -> Result<BodyItem, LangError> {
        Ok(match self.classify_definition_raw(form)? {
            BodyItem::Define(name, v) => BodyItem::Define(name.unalias(), v),
            BodyItem::DefineConsts(defs) => {
                BodyItem::DefineConsts(defs.into_iter().map(|(n, v)| (n.unalias(), v)).collect())
            }
            BodyItem::DefineValues(names, setter) => {
                BodyItem::DefineValues(names.into_iter().map(Sym::unalias).collect(), setter)
            }
            other => other,
        })
    }

    fn classify_definition_raw(&mut self, form: &Syntax) -> Result<BodyItem, LangError> {
        let Some(items) = form.list() else {
            return Ok(BodyItem::Expr(form.clone()));
        };
        let head = self.head_keyword(form).map(|h| h.name());
        match head.as_deref() {
            Some("define") => match items {
                [_, target, rest @ ..] => match &target.datum {
                    Datum::Symbol(name) => match rest {
                        [] => Ok(BodyItem::Define(
                            *name,
                            Syntax::new(Datum::Atom(Value::Void), form.span),
                        )),
                        [value] => Ok(BodyItem::Define(*name, value.clone())),
                        _ => Err(bad(form, "define takes a name and one value: (define x 5)")),
                    },
                    Datum::List(sig) | Datum::Dotted(sig, _) if !sig.is_empty() => {
                        let name = sig[0]
                            .symbol()
                            .ok_or_else(|| bad(&sig[0], "the procedure name must be a symbol"))?;
                        if rest.is_empty() {
                            return Err(bad(form, format!("procedure `{name}` has no body")));
                        }
                        let formals = match &target.datum {
                            Datum::Dotted(sig, tail) => Syntax::new(
                                Datum::Dotted(sig[1..].to_vec(), tail.clone()),
                                target.span,
                            ),
                            _ => Syntax::new(Datum::List(sig[1..].to_vec()), target.span),
                        };
                        let mut lambda = vec![
                            Syntax::new(Datum::Symbol(Sym::new("lambda")), form.span),
                            formals,
                        ];
                        lambda.extend(rest.iter().cloned());
                        Ok(BodyItem::Define(
                            name,
                            Syntax::new(Datum::List(lambda), form.span),
                        ))
                    }
                    _ => Err(bad(target, "define needs a name or (name parameter ...)")),
                },
                _ => Err(bad(form, "define needs a name and a value")),
            },
            Some("define-values") => {
                let (names, setter) = expander::define_values(form)?;
                Ok(BodyItem::DefineValues(names, setter))
            }
            Some("struct") => Ok(BodyItem::DefineConsts(
                super::builtins::structs::struct_form(form)?,
            )),
            Some("define-record-type") => Ok(BodyItem::DefineConsts(
                super::builtins::structs::record_form(form)?,
            )),
            _ => Ok(BodyItem::Expr(form.clone())),
        }
    }

    /// Registers a `define-syntax` / `define-syntax-rule` macro in the current module.
    pub fn define_macro(&mut self, form: &Syntax) -> Result<(), LangError> {
        let items = form.list().unwrap_or(&[]);
        let (name, mac) = if items
            .first()
            .is_some_and(|h| h.is_symbol("define-syntax-rule"))
        {
            let [_, pattern, template] = items else {
                return Err(bad(form, "define-syntax-rule takes a pattern and a template: (define-syntax-rule (name arg ...) template)"));
            };
            let name = pattern
                .list()
                .and_then(|p| p.first())
                .and_then(Syntax::symbol)
                .ok_or_else(|| bad(pattern, "the pattern must start with the macro's name"))?;
            let mac = Macro {
                name,
                literals: Vec::new(),
                ellipsis: Sym::new("..."),
                rules: vec![(pattern.clone(), template.clone())],
                span: form.span,
                scope_depth: self.scopes.len(),
            };
            (name, mac)
        } else {
            let [_, name, spec] = items else {
                return Err(bad(
                    form,
                    "define-syntax takes a name and (syntax-rules ...)",
                ));
            };
            let name = name
                .symbol()
                .ok_or_else(|| bad(name, "the macro name must be a symbol"))?;
            let mut mac = Macro::from_syntax_rules(name, spec)?;
            mac.scope_depth = self.scopes.len();
            (name, mac)
        };
        let name = name.unalias();
        self.interp
            .module
            .macros
            .borrow_mut()
            .insert(name, Rc::new(mac));
        Ok(())
    }

    /// A body: internal definitions (letrec* semantics) followed by expressions, compiled
    /// into the innermost scope, whose frame grows by one slot per definition.
    fn compile_body(&mut self, forms: &[Syntax], span: Span) -> Result<Rc<Expr>, LangError> {
        let mut items = Vec::new();
        let mut queue: Vec<Syntax> = forms.to_vec();
        queue.reverse();
        while let Some(form) = queue.pop() {
            let expanded = self.expand_head(&form)?;
            if self
                .head_keyword(&expanded)
                .is_some_and(|h| &*h.name() == "begin")
            {
                let inner = expanded.list().unwrap_or(&[]);
                queue.extend(inner[1..].iter().rev().cloned());
                continue;
            }
            if self
                .head_keyword(&expanded)
                .is_some_and(|h| matches!(&*h.name(), "define-syntax" | "define-syntax-rule"))
            {
                self.define_macro(&expanded)?;
                continue;
            }
            items.push(self.classify_definition(&expanded)?);
        }
        if !items.iter().any(|i| matches!(i, BodyItem::Expr(_))) {
            return Err(LangError::new(
                Code::Syntax,
                "a body needs at least one expression after its definitions",
            )
            .with_span(span));
        }
        let scope = self.scopes.len() - 1;
        for item in &items {
            match item {
                BodyItem::Define(name, ..) => self.scopes[scope].names.push(*name),
                BodyItem::DefineConsts(defs) => defs
                    .iter()
                    .for_each(|(n, _)| self.scopes[scope].names.push(*n)),
                BodyItem::DefineValues(names, _) => {
                    names.iter().for_each(|n| self.scopes[scope].names.push(*n))
                }
                BodyItem::Expr(_) => {}
            }
        }
        let mut exprs = Vec::new();
        for item in items {
            match item {
                BodyItem::Define(name, value) => {
                    let value = self.compile_named(name, &value)?;
                    let index = self.scopes[scope]
                        .names
                        .iter()
                        .rposition(|n| *n == name)
                        .unwrap_or(0);
                    exprs.push(Rc::new(Expr::SetLocal {
                        depth: 0,
                        index,
                        value,
                    }));
                }
                BodyItem::DefineConsts(defs) => {
                    for (name, value) in defs {
                        let index = self.scopes[scope]
                            .names
                            .iter()
                            .rposition(|n| *n == name)
                            .unwrap_or(0);
                        exprs.push(Rc::new(Expr::SetLocal {
                            depth: 0,
                            index,
                            value: constant(value),
                        }));
                    }
                }
                BodyItem::DefineValues(_, setter) => exprs.push(self.compile(&setter)?),
                BodyItem::Expr(e) => exprs.push(self.compile(&e)?),
            }
        }
        Ok(if exprs.len() == 1 {
            exprs.remove(0)
        } else {
            Rc::new(Expr::Seq(exprs))
        })
    }

    fn compile_lambda(
        &mut self,
        name: Option<Sym>,
        formals: &Syntax,
        body: &[Syntax],
        span: Span,
    ) -> Result<Rc<LambdaInfo>, LangError> {
        let shape = parse_formals(formals)?;
        let mut names: Vec<Sym> = shape.required.clone();
        names.extend(shape.optional.iter().map(|(n, _)| *n));
        names.extend(shape.rest);
        self.scopes.push(Scope { names: Vec::new() });
        // Defaults may refer to earlier parameters, so they are compiled as names appear.
        let mut optional = Vec::new();
        let top = self.scopes.len() - 1;
        self.scopes[top]
            .names
            .extend(shape.required.iter().copied());
        for (n, default) in &shape.optional {
            let compiled = self.compile(default);
            match compiled {
                Ok(e) => optional.push(e),
                Err(e) => {
                    self.scopes.pop();
                    return Err(e);
                }
            }
            self.scopes[top].names.push(*n);
        }
        self.scopes[top].names.extend(shape.rest);
        let mut keywords = Vec::new();
        for (kw, var, default) in &shape.keywords {
            let d = match default {
                Some(d) => match self.compile(d) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        self.scopes.pop();
                        return Err(e);
                    }
                },
                None => None,
            };
            keywords.push((*kw, d));
            self.scopes[top].names.push(*var);
        }
        let body = self.compile_body(body, span);
        let scope = self.scopes.pop().map(|s| s.names.len()).unwrap_or(0);
        Ok(Rc::new(LambdaInfo {
            name,
            display_name: name.map(|n| n.name()).unwrap_or_else(|| Rc::from("lambda")),
            required: shape.required.len(),
            optional,
            rest: shape.rest.is_some(),
            keywords,
            frame_size: scope,
            body: body?,
            span: formals.span.to(span),
            simple: shape.optional.is_empty() && shape.rest.is_none() && shape.keywords.is_empty(),
        }))
    }

    fn with_scope<T>(
        &mut self,
        names: Vec<Sym>,
        f: impl FnOnce(&mut Self) -> Result<T, LangError>,
    ) -> Result<(T, usize), LangError> {
        self.scopes.push(Scope { names });
        let r = f(self);
        let size = self.scopes.pop().map(|s| s.names.len()).unwrap_or(0);
        r.map(|v| (v, size))
    }

    fn bindings<'s>(
        &self,
        form: &'s Syntax,
        list: Option<&'s Syntax>,
        what: &str,
    ) -> Result<Vec<(Sym, &'s Syntax)>, LangError> {
        let list = list.and_then(Syntax::list_like).ok_or_else(|| {
            bad(
                form,
                format!("{what}: expected ({what} ([name value] ...) body ...)"),
            )
        })?;
        let mut out: Vec<(Sym, &'s Syntax)> = Vec::with_capacity(list.len());
        for b in list {
            let Some([name, value]) = b.list_like() else {
                return Err(bad(b, format!("{what}: each binding is [name value]")));
            };
            let sym = name
                .symbol()
                .ok_or_else(|| bad(name, "a binding name must be a symbol"))?;
            if out.iter().any(|(n, _)| *n == sym) {
                return Err(bad(name, format!("{what}: `{sym}` is bound twice")));
            }
            out.push((sym, value));
        }
        Ok(out)
    }

    fn compile_let(&mut self, items: &[Syntax], form: &Syntax) -> Result<Rc<Expr>, LangError> {
        let bindings = self.bindings(form, items.get(1), "let")?;
        if items.len() < 3 {
            return Err(bad(form, "let needs a body"));
        }
        let inits = bindings
            .iter()
            .map(|(_, v)| self.compile(v))
            .collect::<Result<Vec<_>, _>>()?;
        let names = bindings.iter().map(|(n, _)| *n).collect();
        let (body, size) = self.with_scope(names, |c| c.compile_body(&items[2..], form.span))?;
        Ok(Rc::new(Expr::Let { inits, size, body }))
    }

    fn compile_letrec(&mut self, items: &[Syntax], form: &Syntax) -> Result<Rc<Expr>, LangError> {
        let bindings = self.bindings(form, items.get(1), "letrec")?;
        if items.len() < 3 {
            return Err(bad(form, "letrec needs a body"));
        }
        let names = bindings.iter().map(|(n, _)| *n).collect();
        let ((inits, body), size) = self.with_scope(names, |c| {
            let inits = bindings
                .iter()
                .map(|(n, v)| c.compile_named(*n, v))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((inits, c.compile_body(&items[2..], form.span)?))
        })?;
        Ok(Rc::new(Expr::Letrec { inits, size, body }))
    }

    /// `(let name ([v init] ...) body ...)` as `((letrec ([name (lambda (v ...) body ...)]) name) init ...)`.
    fn named_let(&self, form: &Syntax) -> Result<Syntax, LangError> {
        let items = form.list().unwrap_or(&[]);
        let span = form.span;
        let name = items[1].clone();
        let bindings = self.bindings(form, items.get(2), "let")?;
        if items.len() < 4 {
            return Err(bad(form, "named let needs a body"));
        }
        let s = |n: &str| Syntax::new(Datum::Symbol(Sym::new(n)), span);
        let l = |v: Vec<Syntax>| Syntax::new(Datum::List(v), span);
        let vars = bindings
            .iter()
            .map(|(n, _)| Syntax::new(Datum::Symbol(*n), span))
            .collect();
        let mut lambda = vec![s("lambda"), l(vars)];
        lambda.extend(items[3..].iter().cloned());
        let letrec = l(vec![
            s("letrec"),
            l(vec![l(vec![name.clone(), l(lambda)])]),
            name,
        ]);
        let mut call = vec![letrec];
        call.extend(bindings.iter().map(|(_, v)| (*v).clone()));
        Ok(l(call))
    }

    fn compile_quasi(&mut self, template: &Syntax, depth: usize) -> Result<Rc<Expr>, LangError> {
        let prim = |name: &str| constant(super::builtins::primitive(name));
        let span = template.span;
        match &template.datum {
            Datum::List(items) if !items.is_empty() => {
                if let [head, arg] = items.as_slice() {
                    if head.is_symbol("unquote") {
                        return if depth == 1 {
                            self.compile(arg)
                        } else {
                            let inner = self.compile_quasi(arg, depth - 1)?;
                            Ok(Rc::new(Expr::Call {
                                func: prim("list"),
                                args: vec![constant(Value::sym("unquote")), inner],
                                span,
                            }))
                        };
                    }
                    if head.is_symbol("quasiquote") {
                        let inner = self.compile_quasi(arg, depth + 1)?;
                        return Ok(Rc::new(Expr::Call {
                            func: prim("list"),
                            args: vec![constant(Value::sym("quasiquote")), inner],
                            span,
                        }));
                    }
                }
                self.quasi_sequence(items, constant(Value::Nil), depth, span)
            }
            Datum::Dotted(items, tail) => {
                let tail = self.compile_quasi(tail, depth)?;
                self.quasi_sequence(items, tail, depth, span)
            }
            Datum::Vector(items) | Datum::ConstVector(items) => {
                let list = self.quasi_sequence(items, constant(Value::Nil), depth, span)?;
                Ok(Rc::new(Expr::Call {
                    func: prim("list->vector"),
                    args: vec![list],
                    span,
                }))
            }
            _ => Ok(constant(template.to_value())),
        }
    }

    fn quasi_sequence(
        &mut self,
        items: &[Syntax],
        tail: Rc<Expr>,
        depth: usize,
        span: Span,
    ) -> Result<Rc<Expr>, LangError> {
        let prim = |name: &str| constant(super::builtins::primitive(name));
        let mut acc = tail;
        for item in items.iter().rev() {
            let splice = item
                .list()
                .filter(|i| i.len() == 2 && i[0].is_symbol("unquote-splicing") && depth == 1);
            acc = match splice {
                Some(inner) => Rc::new(Expr::Call {
                    func: prim("append"),
                    args: vec![self.compile(&inner[1])?, acc],
                    span,
                }),
                None => Rc::new(Expr::Call {
                    func: prim("cons"),
                    args: vec![self.compile_quasi(item, depth)?, acc],
                    span,
                }),
            };
        }
        Ok(acc)
    }

    /// `(parameterize ([p v] ...) body ...)` as `(%parameterize (list p ...) (list v ...)
    /// (lambda () body ...))`.
    fn compile_parameterize(
        &mut self,
        items: &[Syntax],
        form: &Syntax,
    ) -> Result<Rc<Expr>, LangError> {
        let span = form.span;
        let specs = items.get(1).and_then(Syntax::list_like).ok_or_else(|| {
            bad(
                form,
                "parameterize: expected (parameterize ([param value] ...) body ...)",
            )
        })?;
        if items.len() < 3 {
            return Err(bad(form, "parameterize needs a body"));
        }
        let (mut params, mut values) = (Vec::new(), Vec::new());
        for s in specs {
            match s.list_like() {
                Some([p, v]) => {
                    params.push(self.compile(p)?);
                    values.push(self.compile(v)?);
                }
                _ => return Err(bad(s, "parameterize: each binding is [param value]")),
            }
        }
        let list = |args| {
            Rc::new(Expr::Call {
                func: constant(super::builtins::primitive("list")),
                args,
                span,
            })
        };
        let formals = Syntax::new(Datum::List(Vec::new()), span);
        let thunk = self.compile_lambda(None, &formals, &items[2..], span)?;
        Ok(Rc::new(Expr::Call {
            func: constant(super::builtins::primitive("%parameterize")),
            args: vec![list(params), list(values), Rc::new(Expr::Lambda(thunk))],
            span,
        }))
    }

    /// `(let-syntax ([name (syntax-rules ...)] ...) body ...)`: the macros are visible in
    /// the body only (for `letrec-syntax` also in each other, which this gives both forms).
    fn compile_let_syntax(
        &mut self,
        items: &[Syntax],
        form: &Syntax,
    ) -> Result<Rc<Expr>, LangError> {
        let specs = items.get(1).and_then(Syntax::list_like).ok_or_else(|| {
            bad(
                form,
                "let-syntax: expected (let-syntax ([name (syntax-rules ...)] ...) body ...)",
            )
        })?;
        let before = self.local_macros.len();
        for s in specs {
            let Some([name, spec]) = s.list_like() else {
                self.local_macros.truncate(before);
                return Err(bad(
                    s,
                    "let-syntax: each binding is [name (syntax-rules ...)]",
                ));
            };
            let Some(name) = name.symbol() else {
                self.local_macros.truncate(before);
                return Err(bad(name, "let-syntax: the macro name must be a symbol"));
            };
            match Macro::from_syntax_rules(name, spec) {
                Ok(mut m) => {
                    m.scope_depth = self.scopes.len();
                    self.local_macros.push((name, Rc::new(m)))
                }
                Err(e) => {
                    self.local_macros.truncate(before);
                    return Err(e);
                }
            }
        }
        let body = if items.len() > 2 {
            self.with_scope(Vec::new(), |c| c.compile_body(&items[2..], form.span))
                .map(|(body, size)| {
                    Rc::new(Expr::Let {
                        inits: vec![],
                        size,
                        body,
                    })
                })
        } else {
            Ok(constant(Value::Void))
        };
        self.local_macros.truncate(before);
        body
    }

    /// `(include "file" ...)`: the files' forms, read at compile time, as a `begin`
    /// (relative to the current module's directory; refused in the sandbox).
    fn include(&mut self, form: &Syntax, fold_case: bool) -> Result<Syntax, LangError> {
        if self.interp.sandboxed {
            return Err(super::sandbox::refusal("include", "it reads a file").with_span(form.span));
        }
        let items = form.list().unwrap_or(&[]);
        let mut forms = vec![Syntax::new(Datum::Symbol(Sym::new("begin")), form.span)];
        for f in &items[1..] {
            let Datum::Atom(Value::Str(name)) = &f.datum else {
                return Err(bad(f, "include takes file names (strings)"));
            };
            let path = self.interp.module.dir().join(&**name);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                LangError::new(
                    Code::Io,
                    format!("include: cannot read {}: {e}", path.display()),
                )
                .with_span(f.span)
            })?;
            let text = if fold_case { text.to_lowercase() } else { text };
            let file = super::source::add_source(&path.display().to_string(), &text);
            let read =
                super::reader::read_all(&text, file).map_err(|mut errors| errors.remove(0))?;
            forms.extend(read);
        }
        Ok(Syntax::new(Datum::List(forms), form.span))
    }

    fn compile_struct_copy(
        &mut self,
        items: &[Syntax],
        form: &Syntax,
    ) -> Result<Rc<Expr>, LangError> {
        let [_, name, instance, updates @ ..] = items else {
            return Err(bad(
                form,
                "struct-copy: expected (struct-copy name instance [field value] ...)",
            ));
        };
        let name = name
            .symbol()
            .ok_or_else(|| bad(name, "struct-copy: the struct name must be a symbol"))?;
        let mut args = vec![constant(Value::Symbol(name)), self.compile(instance)?];
        for u in updates {
            match u.list_like() {
                Some([field, value]) => {
                    let f = field
                        .symbol()
                        .ok_or_else(|| bad(field, "struct-copy: a field name must be a symbol"))?;
                    args.push(constant(Value::Symbol(f)));
                    args.push(self.compile(value)?);
                }
                _ => return Err(bad(u, "struct-copy: each update is [field value]")),
            }
        }
        Ok(Rc::new(Expr::Call {
            func: constant(super::builtins::primitive("%struct-copy")),
            args,
            span: form.span,
        }))
    }

    fn compile_guard(&mut self, items: &[Syntax], form: &Syntax) -> Result<Rc<Expr>, LangError> {
        let spec = items
            .get(1)
            .and_then(Syntax::list_like)
            .filter(|s| !s.is_empty());
        let Some(spec) = spec else {
            return Err(bad(form, "guard: expected (guard (e clause ...) body ...)"));
        };
        let var = spec[0]
            .symbol()
            .ok_or_else(|| bad(&spec[0], "guard: the condition variable must be a symbol"))?;
        let span = form.span;
        let (body, size) = self.with_scope(Vec::new(), |c| c.compile_body(&items[2..], span))?;
        let body = Rc::new(Expr::Let {
            inits: vec![],
            size,
            body,
        });
        let mut clauses: Vec<Syntax> = spec[1..].to_vec();
        let has_else = clauses
            .last()
            .and_then(Syntax::list_like)
            .and_then(|c| c.first())
            .is_some_and(|h| h.is_symbol("else"));
        if !has_else {
            let reraise = Syntax::new(
                Datum::List(vec![
                    expander::primitive_ref("raise", span),
                    Syntax::new(Datum::Symbol(var), span),
                ]),
                span,
            );
            clauses.push(Syntax::new(
                Datum::List(vec![
                    Syntax::new(Datum::Symbol(Sym::new("else")), span),
                    reraise,
                ]),
                span,
            ));
        }
        let mut cond = vec![Syntax::new(Datum::Symbol(Sym::new("cond")), span)];
        cond.extend(clauses);
        let cond = Syntax::new(Datum::List(cond), span);
        let (handler, _) = self.with_scope(vec![var], |c| c.compile(&cond))?;
        Ok(Rc::new(Expr::Guard { body, handler }))
    }

    fn compile_with_handlers(
        &mut self,
        items: &[Syntax],
        form: &Syntax,
    ) -> Result<Rc<Expr>, LangError> {
        let specs = items.get(1).and_then(Syntax::list_like).ok_or_else(|| {
            bad(
                form,
                "with-handlers: expected (with-handlers ([pred handler] ...) body ...)",
            )
        })?;
        let mut handlers = Vec::new();
        for s in specs {
            match s.list_like() {
                Some([pred, handler]) => {
                    handlers.push((self.compile(pred)?, self.compile(handler)?))
                }
                _ => return Err(bad(s, "with-handlers: each handler is [predicate handler]")),
            }
        }
        let (body, size) =
            self.with_scope(Vec::new(), |c| c.compile_body(&items[2..], form.span))?;
        let body = Rc::new(Expr::Let {
            inits: vec![],
            size,
            body,
        });
        Ok(Rc::new(Expr::WithHandlers {
            handlers,
            body,
            span: form.span,
        }))
    }

    fn compile_match(&mut self, items: &[Syntax], form: &Syntax) -> Result<Rc<Expr>, LangError> {
        let subject = items
            .get(1)
            .ok_or_else(|| bad(form, "match: expected (match expr [pattern body ...] ...)"))?;
        let subject = self.compile(subject)?;
        let mut clauses = Vec::new();
        for clause in &items[2..] {
            let parts = clause
                .list_like()
                .filter(|p| p.len() >= 2)
                .ok_or_else(|| bad(clause, "match: each clause is [pattern body ...]"))?;
            let mut vars = Vec::new();
            let pattern = self.compile_pattern(&parts[0], &mut vars)?;
            let (guard_form, body) = match parts.get(1).and_then(Syntax::keyword) {
                Some(k) if &*k.name() == "when" => match parts.get(2) {
                    Some(g) if parts.len() >= 4 => (Some(g), &parts[3..]),
                    _ => return Err(bad(clause, "match: #:when needs a guard and a body")),
                },
                _ => (None, &parts[1..]),
            };
            let ((guard, body), size) = self.with_scope(vars, |c| {
                let guard = guard_form.map(|g| c.compile(g)).transpose()?;
                Ok((guard, c.compile_body(body, clause.span)?))
            })?;
            clauses.push(MatchClause {
                pattern,
                guard,
                size,
                body,
            });
        }
        Ok(Rc::new(Expr::Match {
            subject,
            clauses,
            span: form.span,
        }))
    }

    fn compile_pattern(&mut self, pat: &Syntax, vars: &mut Vec<Sym>) -> Result<Pattern, LangError> {
        match &pat.datum {
            Datum::Symbol(s) => match &*s.name() {
                "_" => Ok(Pattern::Wild),
                "..." => Err(bad(pat, "`...` must follow a pattern inside (list ...)")),
                _ => match vars.iter().position(|v| v == s) {
                    // A variable used twice must match equal values (Racket); the
                    // alternatives of an `or` instead bind the same variable each.
                    Some(i) if self.pattern_or_depth == 0 => Ok(Pattern::Same(i)),
                    Some(i) => Ok(Pattern::Bind(i)),
                    None => {
                        vars.push(*s);
                        Ok(Pattern::Bind(vars.len() - 1))
                    }
                },
            },
            Datum::Atom(v) => Ok(Pattern::Literal(v.clone())),
            Datum::Vector(items) | Datum::ConstVector(items) => Ok(Pattern::Vector(
                items
                    .iter()
                    .map(|p| self.compile_pattern(p, vars))
                    .collect::<Result<_, _>>()?,
            )),
            Datum::Map(items) => {
                let mut entries = Vec::new();
                for pair in items.chunks(2) {
                    if let [k, p] = pair {
                        let key = match k.list() {
                            Some([q, d]) if q.is_symbol("quote") => d.to_value(),
                            _ => k.to_value(),
                        };
                        entries.push((key, self.compile_pattern(p, vars)?));
                    }
                }
                Ok(Pattern::Map(entries))
            }
            Datum::List(items) if items.is_empty() => Ok(Pattern::Literal(Value::Nil)),
            Datum::List(items) => {
                let head = items[0].symbol().map(|s| s.name());
                let args = &items[1..];
                let sub = |c: &mut Self, ps: &[Syntax], vars: &mut Vec<Sym>| {
                    ps.iter()
                        .map(|p| c.compile_pattern(p, vars))
                        .collect::<Result<Vec<_>, _>>()
                };
                match head.as_deref() {
                    Some("quote") => Ok(Pattern::Literal(args.first().map(Syntax::to_value).unwrap_or(Value::Nil))),
                    Some("list") => self.list_pattern(args, None, vars),
                    Some("list-rest" | "list*") => match args.split_last() {
                        Some((tail, init)) => {
                            let tail = self.compile_pattern(tail, vars)?;
                            self.list_pattern(init, Some(tail), vars)
                        }
                        None => Err(bad(pat, "list-rest needs at least a tail pattern")),
                    },
                    Some("cons") => match args {
                        [a, d] => Ok(Pattern::Cons(Box::new(self.compile_pattern(a, vars)?), Box::new(self.compile_pattern(d, vars)?))),
                        _ => Err(bad(pat, "(cons car-pattern cdr-pattern)")),
                    },
                    Some("vector") => Ok(Pattern::Vector(sub(self, args, vars)?)),
                    Some("?") => {
                        let pred = args.first().ok_or_else(|| bad(pat, "(? predicate pattern ...)"))?;
                        let pred = self.compile(pred)?;
                        Ok(Pattern::Predicate(pred, sub(self, &args[1..], vars)?))
                    }
                    Some("and") => Ok(Pattern::And(sub(self, args, vars)?)),
                    Some("or") => {
                        self.pattern_or_depth += 1;
                        let alternatives = sub(self, args, vars);
                        self.pattern_or_depth -= 1;
                        Ok(Pattern::Or(alternatives?))
                    }
                    Some("not") => match args {
                        [p] => Ok(Pattern::Not(Box::new(self.compile_pattern(p, vars)?))),
                        _ => Err(bad(pat, "(not pattern)")),
                    },
                    Some(name) => Ok(Pattern::Struct { name: Sym::new(name), fields: sub(self, args, vars)? }),
                    None => Err(bad(pat, "a list pattern starts with list, cons, vector, ?, and, or, not, quote or a struct name")),
                }
            }
            _ => Err(bad(pat, "unsupported pattern")),
        }
    }

    fn list_pattern(
        &mut self,
        args: &[Syntax],
        tail: Option<Pattern>,
        vars: &mut Vec<Sym>,
    ) -> Result<Pattern, LangError> {
        let ellipsis = args.iter().position(|a| a.is_symbol("..."));
        match ellipsis {
            None => Ok(Pattern::List {
                items: args
                    .iter()
                    .map(|p| self.compile_pattern(p, vars))
                    .collect::<Result<_, _>>()?,
                repeat: None,
                tail: tail.map(Box::new),
            }),
            Some(e) if e > 0 && e == args.len() - 1 => {
                let items = args[..e - 1]
                    .iter()
                    .map(|p| self.compile_pattern(p, vars))
                    .collect::<Result<_, _>>()?;
                let before = vars.len();
                let repeat = self.compile_pattern(&args[e - 1], vars)?;
                let repeat_vars = (before..vars.len()).collect();
                Ok(Pattern::List {
                    items,
                    repeat: Some((Box::new(repeat), repeat_vars)),
                    tail: tail.map(Box::new),
                })
            }
            Some(e) => Err(bad(
                &args[e],
                "`...` may only follow the last pattern of a list pattern",
            )),
        }
    }
}

fn bad_keyword(name: &str, span: Span) -> LangError {
    LangError::new(
        Code::Syntax,
        format!("`{name}` is a special form and cannot be used as a value"),
    )
    .with_span(span)
    .with_hint(format!("call it as ({name} ...)"))
}

/// The parameter list of a lambda.
struct Formals {
    required: Vec<Sym>,
    optional: Vec<(Sym, Syntax)>,
    rest: Option<Sym>,
    keywords: Vec<(Sym, Sym, Option<Syntax>)>,
}

/// Parses `(a b [c 1] #:key k #:opt [o 2] . rest)`, or a single symbol for "all arguments".
fn parse_formals(formals: &Syntax) -> Result<Formals, LangError> {
    let mut f = Formals {
        required: vec![],
        optional: vec![],
        rest: None,
        keywords: vec![],
    };
    let (items, tail): (&[Syntax], Option<&Syntax>) = match &formals.datum {
        Datum::Symbol(s) => {
            f.rest = Some(*s);
            return Ok(f);
        }
        Datum::List(items) => (items, None),
        Datum::Dotted(items, tail) => (items, Some(tail)),
        _ => {
            return Err(bad(
                formals,
                "parameters must be a list: (a b [c default] #:key k . rest)",
            ))
        }
    };
    let mut i = 0;
    while i < items.len() {
        let item = &items[i];
        if let Some(kw) = item.keyword() {
            let spec = items.get(i + 1).ok_or_else(|| {
                bad(
                    item,
                    format!("keyword #:{kw} needs a parameter name after it"),
                )
            })?;
            match (&spec.datum, spec.list_like()) {
                (Datum::Symbol(var), _) => f.keywords.push((kw, *var, None)),
                (_, Some([var, default])) => {
                    let var = var
                        .symbol()
                        .ok_or_else(|| bad(var, "a parameter name must be a symbol"))?;
                    f.keywords.push((kw, var, Some(default.clone())));
                }
                _ => return Err(bad(spec, "a keyword parameter is a name or [name default]")),
            }
            i += 2;
            continue;
        }
        match (&item.datum, item.list_like()) {
            (Datum::Symbol(s), _) => {
                if !f.optional.is_empty() {
                    return Err(bad(
                        item,
                        "a required parameter cannot follow an optional one",
                    ));
                }
                f.required.push(*s);
            }
            (_, Some([name, default])) => {
                let name = name
                    .symbol()
                    .ok_or_else(|| bad(name, "a parameter name must be a symbol"))?;
                f.optional.push((name, default.clone()));
            }
            _ => {
                return Err(bad(
                    item,
                    "a parameter is a name, [name default], or #:keyword name",
                ))
            }
        }
        i += 1;
    }
    if let Some(t) = tail {
        f.rest = Some(
            t.symbol()
                .ok_or_else(|| bad(t, "the rest parameter must be a symbol"))?,
        );
    }
    let mut seen = std::collections::HashSet::new();
    let all = f
        .required
        .iter()
        .chain(f.optional.iter().map(|(n, _)| n))
        .chain(f.rest.iter())
        .chain(f.keywords.iter().map(|(_, v, _)| v));
    for n in all {
        if !seen.insert(*n) {
            return Err(bad(formals, format!("parameter `{n}` appears twice")));
        }
    }
    Ok(f)
}
