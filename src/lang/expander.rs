//! The expander: `syntax-rules` macros (with ellipses, literals, dotted and vector patterns)
//! and the derived forms (`let*`, `cond`, `case`, `when`, `unless`, `do`, named `let`,
//! `let-values`) rewritten into core forms. Expansion keeps use-site spans for diagnostics.
//!
//! Hygiene, as far as it goes: identifiers a template introduces in *binding positions*
//! (lambda and case-lambda parameters, let/let*/letrec/do/let-values/receive variables,
//! named-let names, guard variables, match pattern variables) are renamed to fresh symbols on
//! every expansion, so a macro's temporaries never capture the user's variables.
//! Free identifiers in templates refer to whatever is bound where the macro is used.

use std::collections::HashMap;
use std::rc::Rc;

use super::diagnostics::{Code, LangError};
use super::source::Span;
use super::symbol::Sym;
use super::syntax::{Datum, Syntax};
use super::value::Value;

/// A `syntax-rules` transformer.
pub struct Macro {
    pub name: Sym,
    pub literals: Vec<Sym>,
    pub ellipsis: Sym,
    pub rules: Vec<(Syntax, Syntax)>,
    pub span: Span,
    /// Local scopes visible where the macro was defined (0 at the top level): free
    /// identifiers of its templates resolve from there (`Sym::alias`).
    pub scope_depth: usize,
}

#[derive(Clone, Debug)]
enum Binding {
    One(Syntax),
    Many(Vec<Binding>),
}

type Bindings = HashMap<Sym, Binding>;

fn syn(datum: Datum, span: Span) -> Syntax {
    Syntax::new(datum, span)
}
fn sym(name: &str, span: Span) -> Syntax {
    syn(Datum::Symbol(Sym::new(name)), span)
}
fn list(items: Vec<Syntax>, span: Span) -> Syntax {
    syn(Datum::List(items), span)
}
fn bad(form: &Syntax, message: impl Into<String>) -> LangError {
    LangError::new(Code::Syntax, message).with_span(form.span)
}

impl Macro {
    /// Parses `(syntax-rules (literal ...) (pattern template) ...)`.
    pub fn from_syntax_rules(name: Sym, spec: &Syntax) -> Result<Macro, LangError> {
        let items = spec
            .list()
            .ok_or_else(|| bad(spec, "expected (syntax-rules (literals ...) rules ...)"))?;
        if !items.first().is_some_and(|h| h.is_symbol("syntax-rules")) {
            return Err(bad(
                spec,
                "a macro is defined with (syntax-rules (literals ...) (pattern template) ...)",
            ));
        }
        let (ellipsis, rest) = match items.get(1).and_then(Syntax::symbol) {
            Some(custom) => (custom, &items[2..]),
            None => (Sym::new("..."), &items[1..]),
        };
        let literal_list = rest
            .first()
            .ok_or_else(|| bad(spec, "syntax-rules needs a literals list, e.g. ()"))?;
        let literals = literal_list
            .list_like()
            .ok_or_else(|| bad(literal_list, "the literals list must be a list of symbols"))?
            .iter()
            .map(|l| {
                l.symbol()
                    .ok_or_else(|| bad(l, "a literal must be a symbol"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = Vec::new();
        for rule in &rest[1..] {
            match rule.list_like() {
                Some([pattern, template]) => rules.push((pattern.clone(), template.clone())),
                _ => return Err(bad(rule, "each rule is (pattern template)")),
            }
        }
        Ok(Macro {
            name,
            literals,
            ellipsis,
            rules,
            span: spec.span,
            scope_depth: 0,
        })
    }

    /// Expands one use of the macro.
    pub fn expand(&self, form: &Syntax) -> Result<Syntax, LangError> {
        let items = form.list().unwrap_or(&[]);
        for (pattern, template) in &self.rules {
            let mut binds = Bindings::new();
            let pattern_tail = match &pattern.datum {
                Datum::List(p) if !p.is_empty() => {
                    Some(syn(Datum::List(p[1..].to_vec()), pattern.span))
                }
                Datum::Dotted(p, t) if !p.is_empty() => {
                    Some(syn(Datum::Dotted(p[1..].to_vec(), t.clone()), pattern.span))
                }
                _ => None,
            };
            let Some(pattern_tail) = pattern_tail else {
                continue;
            };
            let form_tail = syn(
                Datum::List(items.get(1..).unwrap_or(&[]).to_vec()),
                form.span,
            );
            if self.match_pattern(&pattern_tail, &form_tail, &mut binds) {
                let renames = self.binder_renames(template, &binds);
                return self.substitute(template, &binds, &renames, form.span);
            }
        }
        let shapes: Vec<String> = self
            .rules
            .iter()
            .map(|(p, _)| super::printer::write_string(&p.to_value()))
            .collect();
        Err(LangError::new(
            Code::Macro,
            format!("no rule of `{}` matches this use", self.name),
        )
        .with_span(form.span)
        .with_hint(format!("expected one of: {}", shapes.join("  "))))
    }

    fn is_ellipsis(&self, s: &Syntax) -> bool {
        s.symbol() == Some(self.ellipsis)
    }

    fn match_pattern(&self, pat: &Syntax, form: &Syntax, binds: &mut Bindings) -> bool {
        match &pat.datum {
            Datum::Symbol(s) => {
                if &*s.name() == "_" {
                    true
                } else if self.literals.contains(s) {
                    form.symbol().map(Sym::unalias) == Some(s.unalias())
                } else {
                    binds.insert(*s, Binding::One(form.clone()));
                    true
                }
            }
            Datum::List(pats) => match &form.datum {
                Datum::List(items) | Datum::Vector(items) => {
                    self.match_sequence(pats, None, items, None, binds)
                }
                Datum::Dotted(items, tail) => {
                    self.match_sequence(pats, None, items, Some(tail), binds)
                }
                _ => false,
            },
            Datum::Dotted(pats, ptail) => match &form.datum {
                Datum::List(items) | Datum::Vector(items) => {
                    self.match_sequence(pats, Some(ptail), items, None, binds)
                }
                Datum::Dotted(items, tail) => {
                    self.match_sequence(pats, Some(ptail), items, Some(tail), binds)
                }
                _ => false,
            },
            Datum::Vector(pats) | Datum::ConstVector(pats) => match &form.datum {
                Datum::Vector(items) | Datum::ConstVector(items) => {
                    self.match_sequence(pats, None, items, None, binds)
                }
                _ => false,
            },
            Datum::Atom(v) => matches!(&form.datum, Datum::Atom(w) if v == w),
            _ => false,
        }
    }

    fn match_sequence(
        &self,
        pats: &[Syntax],
        ptail: Option<&Syntax>,
        items: &[Syntax],
        tail: Option<&Syntax>,
        binds: &mut Bindings,
    ) -> bool {
        let ellipsis_at = pats.iter().position(|p| self.is_ellipsis(p));
        match ellipsis_at {
            Some(e) if e > 0 => {
                let before = &pats[..e - 1];
                let repeated = &pats[e - 1];
                let after = &pats[e + 1..];
                if items.len() < before.len() + after.len() {
                    return false;
                }
                let repeat_count = items.len() - before.len() - after.len();
                for (p, f) in before.iter().zip(items) {
                    if !self.match_pattern(p, f, binds) {
                        return false;
                    }
                }
                let mut runs: Vec<Bindings> = Vec::new();
                for f in &items[before.len()..before.len() + repeat_count] {
                    let mut b = Bindings::new();
                    if !self.match_pattern(repeated, f, &mut b) {
                        return false;
                    }
                    runs.push(b);
                }
                for var in self.pattern_vars(repeated) {
                    let seq = runs
                        .iter()
                        .map(|r| r.get(&var).cloned().unwrap_or(Binding::Many(vec![])))
                        .collect();
                    binds.insert(var, Binding::Many(seq));
                }
                for (p, f) in after.iter().zip(&items[before.len() + repeat_count..]) {
                    if !self.match_pattern(p, f, binds) {
                        return false;
                    }
                }
                match (ptail, tail) {
                    (Some(pt), _) => {
                        let rest = syn(Datum::List(vec![]), pt.span);
                        self.match_pattern(pt, tail.unwrap_or(&rest), binds)
                    }
                    (None, Some(_)) => false,
                    (None, None) => true,
                }
            }
            _ => {
                if items.len() < pats.len()
                    || (ptail.is_none() && (items.len() != pats.len() || tail.is_some()))
                {
                    return false;
                }
                for (p, f) in pats.iter().zip(items) {
                    if !self.match_pattern(p, f, binds) {
                        return false;
                    }
                }
                match ptail {
                    None => true,
                    Some(pt) => {
                        let rest_items = items[pats.len()..].to_vec();
                        let span = rest_items.first().map(|s| s.span).unwrap_or(pt.span);
                        let rest = match tail {
                            Some(t) if rest_items.is_empty() => t.clone(),
                            Some(t) => syn(Datum::Dotted(rest_items, Box::new(t.clone())), span),
                            None => syn(Datum::List(rest_items), span),
                        };
                        self.match_pattern(pt, &rest, binds)
                    }
                }
            }
        }
    }

    fn pattern_vars(&self, pat: &Syntax) -> Vec<Sym> {
        let mut out = Vec::new();
        self.collect_vars(pat, &mut out);
        out
    }

    fn collect_vars(&self, pat: &Syntax, out: &mut Vec<Sym>) {
        match &pat.datum {
            Datum::Symbol(s)
                if *s != self.ellipsis && &*s.name() != "_" && !self.literals.contains(s) =>
            {
                out.push(*s);
            }
            Datum::List(items) | Datum::Vector(items) | Datum::ConstVector(items) => {
                items.iter().for_each(|i| self.collect_vars(i, out))
            }
            Datum::Dotted(items, tail) => {
                items.iter().for_each(|i| self.collect_vars(i, out));
                self.collect_vars(tail, out);
            }
            _ => {}
        }
    }

    /// Fresh names for identifiers the template binds (see the module doc).
    fn binder_renames(&self, template: &Syntax, binds: &Bindings) -> HashMap<Sym, Sym> {
        let mut binders = Vec::new();
        collect_binders(template, &mut binders);
        binders
            .into_iter()
            .filter(|s| !binds.contains_key(s) && *s != self.ellipsis)
            .map(|s| (s, Sym::gensym(&s.name())))
            .collect()
    }

    fn substitute(
        &self,
        template: &Syntax,
        binds: &Bindings,
        renames: &HashMap<Sym, Sym>,
        use_span: Span,
    ) -> Result<Syntax, LangError> {
        match &template.datum {
            Datum::Symbol(s) => match binds.get(s) {
                Some(Binding::One(form)) => Ok(form.clone()),
                Some(Binding::Many(_)) => Err(LangError::new(
                    Code::Macro,
                    format!(
                        "pattern variable `{s}` is used without `...` in the template of `{}`",
                        self.name
                    ),
                )
                .with_span(template.span)),
                None => Ok(syn(
                    Datum::Symbol(
                        renames
                            .get(s)
                            .copied()
                            .unwrap_or_else(|| Sym::alias(*s, self.scope_depth)),
                    ),
                    use_span,
                )),
            },
            Datum::List(items) => {
                // (... ...) escapes a literal ellipsis.
                if let [a, b] = items.as_slice() {
                    if self.is_ellipsis(a) && self.is_ellipsis(b) {
                        return Ok(syn(Datum::Symbol(self.ellipsis), use_span));
                    }
                }
                Ok(syn(
                    Datum::List(self.substitute_seq(items, binds, renames, use_span)?),
                    use_span,
                ))
            }
            Datum::Dotted(items, tail) => Ok(syn(
                Datum::Dotted(
                    self.substitute_seq(items, binds, renames, use_span)?,
                    Box::new(self.substitute(tail, binds, renames, use_span)?),
                ),
                use_span,
            )),
            Datum::Vector(items) => Ok(syn(
                Datum::Vector(self.substitute_seq(items, binds, renames, use_span)?),
                use_span,
            )),
            Datum::ConstVector(items) => Ok(syn(
                Datum::ConstVector(self.substitute_seq(items, binds, renames, use_span)?),
                use_span,
            )),
            Datum::Map(items) => Ok(syn(
                Datum::Map(self.substitute_seq(items, binds, renames, use_span)?),
                use_span,
            )),
            _ => Ok(syn(template.datum.clone(), use_span)),
        }
    }

    fn substitute_seq(
        &self,
        items: &[Syntax],
        binds: &Bindings,
        renames: &HashMap<Sym, Sym>,
        use_span: Span,
    ) -> Result<Vec<Syntax>, LangError> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < items.len() {
            let item = &items[i];
            let mut depth = 0;
            while items
                .get(i + 1 + depth)
                .is_some_and(|s| self.is_ellipsis(s))
            {
                depth += 1;
            }
            if depth == 0 {
                out.push(self.substitute(item, binds, renames, use_span)?);
                i += 1;
                continue;
            }
            let mut expansions = vec![binds.clone()];
            for _ in 0..depth {
                let mut next = Vec::new();
                for b in &expansions {
                    next.extend(self.unroll(item, b)?);
                }
                expansions = next;
            }
            for b in &expansions {
                out.push(self.substitute(item, b, renames, use_span)?);
            }
            i += 1 + depth;
        }
        Ok(out)
    }

    /// One binding set per repetition of `item`'s ellipsis variables.
    fn unroll(&self, item: &Syntax, binds: &Bindings) -> Result<Vec<Bindings>, LangError> {
        let vars: Vec<Sym> = self
            .pattern_vars(item)
            .into_iter()
            .filter(|v| matches!(binds.get(v), Some(Binding::Many(_))))
            .collect();
        if vars.is_empty() {
            return Err(LangError::new(
                Code::Macro,
                format!(
                    "`...` follows a template with no repeated pattern variable in `{}`",
                    self.name
                ),
            )
            .with_span(item.span));
        }
        let mut len = None;
        for v in &vars {
            if let Some(Binding::Many(seq)) = binds.get(v) {
                match len {
                    None => len = Some(seq.len()),
                    Some(l) if l != seq.len() => {
                        return Err(LangError::new(
                            Code::Macro,
                            format!(
                                "repeated pattern variables have different lengths in `{}`",
                                self.name
                            ),
                        )
                        .with_span(item.span))
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for k in 0..len.unwrap_or(0) {
            let mut b = binds.clone();
            for v in &vars {
                if let Some(Binding::Many(seq)) = binds.get(v) {
                    if let Some(x) = seq.get(k) {
                        b.insert(*v, x.clone());
                    }
                }
            }
            out.push(b);
        }
        Ok(out)
    }
}

fn formal_symbols(formals: &Syntax, out: &mut Vec<Sym>) {
    match &formals.datum {
        Datum::Symbol(s) => out.push(*s),
        Datum::List(items) | Datum::Vector(items) => {
            for f in items {
                match &f.datum {
                    Datum::Symbol(s) => out.push(*s),
                    Datum::List(inner) | Datum::Vector(inner) => {
                        if let Some(s) = inner.first().and_then(Syntax::symbol) {
                            out.push(s);
                        }
                    }
                    _ => {}
                }
            }
        }
        Datum::Dotted(items, tail) => {
            items
                .iter()
                .filter_map(Syntax::symbol)
                .for_each(|s| out.push(s));
            if let Some(s) = tail.symbol() {
                out.push(s);
            }
        }
        _ => {}
    }
}

fn binding_names(bindings: &Syntax, out: &mut Vec<Sym>) {
    if let Some(items) = bindings.list_like() {
        for b in items {
            if let Some(s) = b
                .list_like()
                .and_then(|b| b.first())
                .and_then(Syntax::symbol)
            {
                out.push(s);
            }
        }
    }
}

fn collect_binders(template: &Syntax, out: &mut Vec<Sym>) {
    let Some(items) = template.list() else {
        if let Datum::Vector(items) | Datum::Dotted(items, _) = &template.datum {
            items.iter().for_each(|i| collect_binders(i, out));
        }
        return;
    };
    let head = items.first().and_then(Syntax::symbol).map(|s| s.name());
    match head.as_deref() {
        Some("lambda" | "λ") => {
            if let Some(f) = items.get(1) {
                formal_symbols(f, out);
            }
        }
        Some("let") => match items.get(1).and_then(Syntax::symbol) {
            Some(name) => {
                out.push(name);
                if let Some(b) = items.get(2) {
                    binding_names(b, out);
                }
            }
            None => {
                if let Some(b) = items.get(1) {
                    binding_names(b, out);
                }
            }
        },
        Some("let*" | "letrec" | "letrec*" | "do") => {
            if let Some(b) = items.get(1) {
                binding_names(b, out);
            }
        }
        Some("case-lambda") => {
            for clause in &items[1..] {
                if let Some(formals) = clause.list_like().and_then(|c| c.first()) {
                    formal_symbols(formals, out);
                }
            }
        }
        Some("let-values" | "let*-values") => {
            for b in items.get(1).and_then(Syntax::list_like).unwrap_or(&[]) {
                if let Some(formals) = b.list_like().and_then(|b| b.first()) {
                    formal_symbols(formals, out);
                }
            }
        }
        Some("receive") => {
            if let Some(formals) = items.get(1) {
                formal_symbols(formals, out);
            }
        }
        Some("guard") => {
            if let Some(var) = items
                .get(1)
                .and_then(Syntax::list_like)
                .and_then(|spec| spec.first())
                .and_then(Syntax::symbol)
            {
                out.push(var);
            }
        }
        Some("match") => {
            for clause in items.get(2..).unwrap_or(&[]) {
                if let Some(pattern) = clause.list_like().and_then(|c| c.first()) {
                    pattern_binders(pattern, out);
                }
            }
        }
        _ => {}
    }
    items.iter().for_each(|i| collect_binders(i, out));
}

/// The variables a `match` pattern binds (see `compiler::compile_pattern`).
fn pattern_binders(pattern: &Syntax, out: &mut Vec<Sym>) {
    match &pattern.datum {
        Datum::Symbol(s) if !matches!(&*s.name(), "_" | "...") => out.push(*s),
        Datum::List(items) => {
            let head = items.first().and_then(Syntax::symbol).map(|h| h.name());
            let args = match head.as_deref() {
                Some("quote") => &[][..],
                // (? predicate pattern ...): the predicate is an expression.
                Some("?") => items.get(2..).unwrap_or(&[]),
                _ => items.get(1..).unwrap_or(&[]),
            };
            args.iter().for_each(|p| pattern_binders(p, out));
        }
        Datum::Vector(items) | Datum::ConstVector(items) => {
            items.iter().for_each(|p| pattern_binders(p, out))
        }
        // {key pattern ...}: keys are data.
        Datum::Map(items) => items
            .iter()
            .skip(1)
            .step_by(2)
            .for_each(|p| pattern_binders(p, out)),
        _ => {}
    }
}

/// Expands a derived form into core forms, or `None` if `name` is not one.
pub fn derived(name: &str, form: &Syntax) -> Option<Result<Syntax, LangError>> {
    let items = form.list()?;
    let span = form.span;
    Some(match name {
        "let*" => expand_let_star(items, form),
        "cond" => expand_cond(&items[1..], form),
        "case" => expand_case(items, form),
        "when" | "unless" => {
            if items.len() < 2 {
                return Some(Err(bad(
                    form,
                    format!("{name} needs a test: ({name} test body ...)"),
                )));
            }
            let body = begin(items[2..].to_vec(), span);
            let void = syn(Datum::Atom(Value::Void), span);
            let (then, otherwise) = if name == "when" {
                (body, void)
            } else {
                (void, body)
            };
            Ok(list(
                vec![sym("if", span), items[1].clone(), then, otherwise],
                span,
            ))
        }
        "do" => expand_do(items, form),
        "cond-expand" => expand_cond_expand(items, form),
        "let-values" | "let*-values" => expand_let_values(items, form),
        "receive" => match items {
            [_, formals, expr, body @ ..] if !body.is_empty() => {
                Ok(call_with_values(expr, formals, body.to_vec(), span))
            }
            _ => Err(bad(form, "receive: (receive formals expr body ...)")),
        },
        _ => return None,
    })
}

/// The feature identifiers `cond-expand` and `(features)` know (R7RS appendix B).
pub const FEATURES: &[&str] = &["r7rs", "exact-closed", "ratios", "full-unicode", "xln"];

/// The R7RS libraries `(library (scheme NAME))` finds: all of R7RS-small but `complex`.
pub const SCHEME_LIBRARIES: &[&str] = &[
    "base",
    "case-lambda",
    "char",
    "cxr",
    "eval",
    "file",
    "inexact",
    "lazy",
    "load",
    "process-context",
    "read",
    "repl",
    "time",
    "write",
    "r5rs",
];

fn feature_holds(req: &Syntax) -> Result<bool, LangError> {
    if let Some(s) = req.symbol() {
        return Ok(&*s.name() == "else" || FEATURES.contains(&&*s.name()));
    }
    let items = req
        .list()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad(req, "cond-expand: a requirement is a feature, (library name), (and ...), (or ...) or (not ...)"))?;
    let head = items[0].symbol().map(|s| s.name());
    match head.as_deref() {
        Some("and") => {
            for r in &items[1..] {
                if !feature_holds(r)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Some("or") => {
            for r in &items[1..] {
                if feature_holds(r)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Some("not") if items.len() == 2 => Ok(!feature_holds(&items[1])?),
        Some("library") if items.len() == 2 => Ok(library_available(&items[1])),
        _ => Err(bad(req, "cond-expand: unknown requirement")),
    }
}

/// Is `(scheme NAME)` (or an `(xln NAME)` standard library module) available?
pub fn library_available(name: &Syntax) -> bool {
    let parts: Vec<String> = name
        .list()
        .unwrap_or(&[])
        .iter()
        .map(|p| p.symbol().map(|s| s.name().to_string()).unwrap_or_default())
        .collect();
    match parts.as_slice() {
        [scheme, lib] if scheme == "scheme" => SCHEME_LIBRARIES.contains(&lib.as_str()),
        [xln, lib] if xln == "xln" => super::module::STDLIB.iter().any(|(n, _)| n == lib),
        _ => false,
    }
}

fn expand_cond_expand(items: &[Syntax], form: &Syntax) -> Result<Syntax, LangError> {
    for clause in &items[1..] {
        let parts = clause
            .list_like()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| bad(clause, "cond-expand: each clause is (requirement body ...)"))?;
        if feature_holds(&parts[0])? {
            let mut body = vec![sym("begin", clause.span)];
            body.extend(parts[1..].iter().cloned());
            return Ok(list(body, clause.span));
        }
    }
    Err(bad(
        form,
        "cond-expand: no clause matches the implementation's features",
    )
    .with_hint(format!("features: {}", FEATURES.join(" "))))
}

/// `(begin e ...)`, or the single expression itself.
pub fn begin(mut body: Vec<Syntax>, span: Span) -> Syntax {
    if body.len() == 1 {
        return body.remove(0);
    }
    let mut items = vec![sym("begin", span)];
    items.extend(body);
    list(items, span)
}

fn expand_let_star(items: &[Syntax], form: &Syntax) -> Result<Syntax, LangError> {
    let span = form.span;
    let bindings = items
        .get(1)
        .and_then(Syntax::list_like)
        .ok_or_else(|| bad(form, "let*: expected (let* ([name value] ...) body ...)"))?;
    let body = items[2..].to_vec();
    if bindings.len() <= 1 {
        let mut out = vec![sym("let", span), list(bindings.to_vec(), span)];
        out.extend(body);
        return Ok(list(out, span));
    }
    let mut inner = vec![sym("let*", span), list(bindings[1..].to_vec(), span)];
    inner.extend(body);
    Ok(list(
        vec![
            sym("let", span),
            list(vec![bindings[0].clone()], span),
            list(inner, span),
        ],
        span,
    ))
}

fn expand_cond(clauses: &[Syntax], form: &Syntax) -> Result<Syntax, LangError> {
    let span = form.span;
    let Some((clause, rest)) = clauses.split_first() else {
        return Ok(syn(Datum::Atom(Value::Void), span));
    };
    let parts = clause
        .list_like()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad(clause, "cond: each clause is [test body ...]"))?;
    if parts[0].is_symbol("else") {
        if !rest.is_empty() {
            return Err(bad(clause, "cond: `else` must be the last clause"));
        }
        return Ok(begin(parts[1..].to_vec(), clause.span));
    }
    let otherwise = expand_cond(rest, form)?;
    let test = parts[0].clone();
    if parts.len() == 1 {
        return Ok(list(vec![sym("or", span), test, otherwise], clause.span));
    }
    if parts[1].is_symbol("=>") {
        let [_, _, receiver] = parts else {
            return Err(bad(
                clause,
                "cond: `=>` takes one procedure: [test => proc]",
            ));
        };
        let t = syn(Datum::Symbol(Sym::gensym("t")), clause.span);
        return Ok(list(
            vec![
                sym("let", span),
                list(vec![list(vec![t.clone(), test], span)], span),
                list(
                    vec![
                        sym("if", span),
                        t.clone(),
                        list(vec![receiver.clone(), t], clause.span),
                        otherwise,
                    ],
                    span,
                ),
            ],
            span,
        ));
    }
    Ok(list(
        vec![
            sym("if", span),
            test,
            begin(parts[1..].to_vec(), clause.span),
            otherwise,
        ],
        clause.span,
    ))
}

fn expand_case(items: &[Syntax], form: &Syntax) -> Result<Syntax, LangError> {
    let span = form.span;
    let key = items
        .get(1)
        .ok_or_else(|| bad(form, "case: expected (case key [(datum ...) body ...] ...)"))?;
    let k = syn(Datum::Symbol(Sym::gensym("key")), span);
    let memv = syn(Datum::Atom(super::builtins::primitive("memv")), span);
    let mut cond_clauses = Vec::new();
    for clause in &items[2..] {
        let parts = clause
            .list_like()
            .filter(|p| p.len() >= 2)
            .ok_or_else(|| bad(clause, "case: each clause is [(datum ...) body ...]"))?;
        let test = if parts[0].is_symbol("else") {
            sym("else", clause.span)
        } else {
            let data = parts[0]
                .list_like()
                .ok_or_else(|| bad(&parts[0], "case: data must be a list: (d1 d2 ...)"))?;
            let quoted = list(
                vec![sym("quote", clause.span), list(data.to_vec(), clause.span)],
                clause.span,
            );
            list(vec![memv.clone(), k.clone(), quoted], clause.span)
        };
        let body = if parts[1].is_symbol("=>") {
            match parts.get(2) {
                Some(f) if parts.len() == 3 => vec![list(vec![f.clone(), k.clone()], clause.span)],
                _ => return Err(bad(clause, "case: `=>` takes one procedure")),
            }
        } else {
            parts[1..].to_vec()
        };
        let mut c = vec![test];
        c.extend(body);
        cond_clauses.push(list(c, clause.span));
    }
    let mut cond = vec![sym("cond", span)];
    cond.extend(cond_clauses);
    Ok(list(
        vec![
            sym("let", span),
            list(vec![list(vec![k, key.clone()], span)], span),
            list(cond, span),
        ],
        span,
    ))
}

fn expand_do(items: &[Syntax], form: &Syntax) -> Result<Syntax, LangError> {
    let span = form.span;
    let (Some(specs), Some(exit)) = (
        items.get(1).and_then(Syntax::list_like),
        items.get(2).and_then(Syntax::list_like),
    ) else {
        return Err(bad(
            form,
            "do: expected (do ([var init step] ...) (test result ...) body ...)",
        ));
    };
    let loop_name = syn(Datum::Symbol(Sym::gensym("do-loop")), span);
    let mut bindings = Vec::new();
    let mut steps = Vec::new();
    for spec in specs {
        match spec.list_like() {
            Some([var, init]) => {
                bindings.push(list(vec![var.clone(), init.clone()], spec.span));
                steps.push(var.clone());
            }
            Some([var, init, step]) => {
                bindings.push(list(vec![var.clone(), init.clone()], spec.span));
                steps.push(step.clone());
            }
            _ => {
                return Err(bad(
                    spec,
                    "do: each variable is [var init] or [var init step]",
                ))
            }
        }
    }
    let Some((test, results)) = exit.split_first() else {
        return Err(bad(
            form,
            "do: the exit clause needs a test: (test result ...)",
        ));
    };
    let mut again = vec![loop_name.clone()];
    again.extend(steps);
    let mut body: Vec<Syntax> = items[3..].to_vec();
    body.push(list(again, span));
    let done = if results.is_empty() {
        syn(Datum::Atom(Value::Void), span)
    } else {
        begin(results.to_vec(), span)
    };
    let body = list(
        vec![sym("if", span), test.clone(), done, begin(body, span)],
        span,
    );
    Ok(list(
        vec![sym("let", span), loop_name, list(bindings, span), body],
        span,
    ))
}

fn call_with_values(expr: &Syntax, formals: &Syntax, body: Vec<Syntax>, span: Span) -> Syntax {
    let cwv = syn(
        Datum::Atom(super::builtins::primitive("call-with-values")),
        span,
    );
    let producer = list(
        vec![sym("lambda", span), list(vec![], span), expr.clone()],
        span,
    );
    let mut consumer = vec![sym("lambda", span), formals.clone()];
    consumer.extend(body);
    list(vec![cwv, producer, list(consumer, span)], span)
}

fn expand_let_values(items: &[Syntax], form: &Syntax) -> Result<Syntax, LangError> {
    let span = form.span;
    let bindings = items.get(1).and_then(Syntax::list_like).ok_or_else(|| {
        bad(
            form,
            "let-values: expected (let-values ([(a b) expr] ...) body ...)",
        )
    })?;
    let mut body = items[2..].to_vec();
    if body.is_empty() {
        return Err(bad(form, "let-values: the body is empty"));
    }
    for b in bindings.iter().rev() {
        let Some([formals, expr]) = b.list_like() else {
            return Err(bad(b, "let-values: each binding is [(name ...) expr]"));
        };
        body = vec![call_with_values(expr, formals, body, span)];
    }
    Ok(begin(body, span))
}

/// `(define-values (a b) expr)` as a sequence the compiler handles: defines plus a setter.
pub fn define_values(form: &Syntax) -> Result<(Vec<Sym>, Syntax), LangError> {
    let items = form.list().unwrap_or(&[]);
    let (Some(formals), Some(expr)) = (items.get(1), items.get(2)) else {
        return Err(bad(
            form,
            "define-values: expected (define-values (name ...) expr)",
        ));
    };
    let mut names = Vec::new();
    formal_symbols(formals, &mut names);
    let span = form.span;
    let temps: Vec<Syntax> = names
        .iter()
        .map(|n| syn(Datum::Symbol(Sym::gensym(&n.name())), span))
        .collect();
    let sets: Vec<Syntax> = names
        .iter()
        .zip(&temps)
        .map(|(n, t)| {
            list(
                vec![sym("set!", span), syn(Datum::Symbol(*n), span), t.clone()],
                span,
            )
        })
        .collect();
    let renamed = rename_formals(formals, &names, &temps);
    Ok((names, call_with_values(expr, &renamed, sets, span)))
}

fn rename_formals(formals: &Syntax, names: &[Sym], temps: &[Syntax]) -> Syntax {
    let swap = |s: &Syntax| match s
        .symbol()
        .and_then(|sy| names.iter().position(|n| *n == sy))
    {
        Some(i) => temps[i].clone(),
        None => s.clone(),
    };
    match &formals.datum {
        Datum::Symbol(_) => swap(formals),
        Datum::List(items) => syn(Datum::List(items.iter().map(swap).collect()), formals.span),
        Datum::Dotted(items, tail) => syn(
            Datum::Dotted(items.iter().map(swap).collect(), Box::new(swap(tail))),
            formals.span,
        ),
        _ => formals.clone(),
    }
}

/// A reference to a primitive that user bindings cannot shadow (used by expansions).
pub fn primitive_ref(name: &str, span: Span) -> Syntax {
    syn(Datum::Atom(super::builtins::primitive(name)), span)
}

/// Keeps `Rc` in scope for callers building syntax trees.
pub type SharedMacro = Rc<Macro>;
