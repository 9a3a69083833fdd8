//! Calling procedures: binding arguments to a closure's frame (optional, rest and keyword
//! parameters), following `apply` / `call-with-values` / `case-lambda` so tail calls stay
//! tail calls, applying builtins and native procedures, and the outermost-evaluation guard.

use std::rc::Rc;

use super::diagnostics::{Code, Control, LangError, StackEntry};
use super::eval::{Closure, Frame, Handler, Interp, Resolved};
use super::source::Span;
use super::value::Value;

impl Interp {
    /// Builds the frame for a closure call, checking arity and keyword arguments.
    pub fn bind_arguments(
        &mut self,
        clo: &Rc<Closure>,
        mut args: Vec<Value>,
        span: Span,
    ) -> Result<Rc<Frame>, LangError> {
        let info = &clo.info;
        let mut keyword_values: Vec<Option<Value>> = Vec::new();
        if !info.keywords.is_empty() {
            keyword_values = vec![None; info.keywords.len()];
            let mut positional = Vec::with_capacity(args.len());
            let mut it = args.into_iter();
            while let Some(a) = it.next() {
                match a {
                    Value::Keyword(k) => {
                        let Some(pos) = info.keywords.iter().position(|(kw, _)| *kw == k) else {
                            let known: Vec<String> = info
                                .keywords
                                .iter()
                                .map(|(k, _)| format!("#:{k}"))
                                .collect();
                            return Err(LangError::new(
                                Code::Arity,
                                format!("{}: unknown keyword #:{k}", clo.name()),
                            )
                            .with_span(span)
                            .with_hint(format!("it accepts {}", known.join(", "))));
                        };
                        match it.next() {
                            Some(v) => keyword_values[pos] = Some(v),
                            None => {
                                return Err(LangError::new(
                                    Code::Arity,
                                    format!("{}: keyword #:{k} needs a value", clo.name()),
                                )
                                .with_span(span))
                            }
                        }
                    }
                    other => positional.push(other),
                }
            }
            args = positional;
        }
        let n = args.len();
        let max = info.required + info.optional.len();
        if n < info.required || (!info.rest && n > max) {
            let expected = if info.rest {
                format!("at least {}", info.required)
            } else if info.optional.is_empty() {
                format!("{}", info.required)
            } else {
                format!("{} to {}", info.required, max)
            };
            let plural = if matches!(expected.as_str(), "1" | "at least 1") {
                ""
            } else {
                "s"
            };
            return Err(LangError::new(
                Code::Arity,
                format!(
                    "{} expects {expected} argument{plural}, got {n}",
                    clo.name()
                ),
            )
            .with_span(span)
            .with_label(
                span,
                format!("called with {n} argument{}", if n == 1 { "" } else { "s" }),
            )
            .with_label(info.span, "defined here"));
        }
        let frame = Frame::new(info.frame_size, &clo.env);
        let mut rest_items = Vec::new();
        {
            let mut slots = frame.slots.borrow_mut();
            for (i, a) in args.into_iter().enumerate() {
                if i < max {
                    slots[i] = a;
                } else {
                    rest_items.push(a);
                }
            }
            if info.rest {
                slots[max] = Value::list(rest_items);
            }
        }
        for i in n..max {
            let v = self.eval(&info.optional[i - info.required], &frame)?;
            frame.slots.borrow_mut()[i] = v;
        }
        let kw_base = max + usize::from(info.rest);
        for (i, (kw, default)) in info.keywords.iter().enumerate() {
            let v = match keyword_values.get_mut(i).and_then(Option::take) {
                Some(v) => v,
                None => match default {
                    Some(d) => self.eval(d, &frame)?,
                    None => {
                        return Err(LangError::new(
                            Code::Arity,
                            format!("{}: missing keyword argument #:{kw}", clo.name()),
                        )
                        .with_span(span))
                    }
                },
            };
            frame.slots.borrow_mut()[kw_base + i] = v;
        }
        Ok(frame)
    }

    /// Follows `apply`, `call-with-values` and `case-lambda` to the closure they end up
    /// calling, so a call through them in tail position is still a tail call (R7RS 3.5).
    /// Any other procedure is applied here and its value returned.
    pub(crate) fn resolve_call(
        &mut self,
        mut f: Value,
        mut args: Vec<Value>,
        span: Span,
    ) -> Result<Resolved, LangError> {
        loop {
            let (next, next_args) = match &f {
                Value::Procedure(clo) => return Ok(Resolved::Closure(clo.clone(), args)),
                Value::Primitive(p) if p.name == "apply" && !args.is_empty() => {
                    super::builtins::lists::apply_parts(&args).map_err(|e| self.at_site(e, span))?
                }
                Value::Primitive(p) if p.name == "call-with-values" && args.len() == 2 => {
                    super::builtins::control::call_with_values_parts(self, &args, span)
                        .map_err(|e| self.at_site(e, span))?
                }
                Value::NativeProc(n) if n.case_lambda.is_some() => {
                    let clauses = n.case_lambda.as_deref().unwrap_or(&[]);
                    let clause = super::builtins::control::case_lambda_clause(clauses, args.len())
                        .map_err(|e| self.at_site(e, span))?;
                    (clause, args)
                }
                other => return Ok(Resolved::Value(self.apply_other(other, args, span)?)),
            };
            f = next;
            args = next_args;
        }
    }

    /// Runs `f` with a catching form's marker on the handler stack (see `Handler::Catch`).
    pub fn catching<T>(&mut self, f: impl FnOnce(&mut Interp) -> T) -> T {
        self.exception_handlers.push(Handler::Catch);
        let r = f(self);
        self.exception_handlers.pop();
        r
    }

    /// Gives an error from a builtin the call's span and stack, unless it has its own.
    pub(crate) fn at_site(&self, mut e: LangError, span: Span) -> LangError {
        if e.span.is_none() {
            e = e.with_span(span);
        }
        if e.stack.is_empty() && e.is_catchable() {
            e.stack = self.stack.clone();
        }
        e
    }

    /// Runs `f` as the outermost evaluation (nested calls just run it): a walk over data
    /// nested too deeply for the stack (printing, comparing, converting) unwinds to here
    /// and becomes error E006, and the interpreter's own stacks are restored.
    pub fn outermost<T>(
        &mut self,
        f: impl FnOnce(&mut Interp) -> Result<T, LangError>,
    ) -> Result<T, LangError> {
        if self.depth > 0 {
            return f(self);
        }
        super::printer::set_default_budget(self.limits.max_alloc_bytes as usize);
        let saved = (
            self.stack.len(),
            self.exception_handlers.len(),
            self.live_escapes.len(),
        );
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let result = match result {
            Ok(r) => r,
            Err(payload) if payload.is::<super::memory::DataTooDeep>() => {
                self.depth = 0;
                self.stack.truncate(saved.0);
                self.exception_handlers.truncate(saved.1);
                self.live_escapes.truncate(saved.2);
                Err(LangError::new(
                    Code::StackDepth,
                    "data nested too deeply to walk (print, compare or convert)",
                )
                .with_hint("nest data less deeply, or run with a larger --max-depth"))
            }
            Err(payload) => std::panic::resume_unwind(payload),
        };
        super::memory::drain_deferred_drops();
        result
    }

    /// Applies any procedure to already-evaluated arguments.
    pub fn apply(&mut self, f: &Value, args: Vec<Value>, span: Span) -> Result<Value, LangError> {
        if self.depth == 0 {
            return self.outermost(|interp| interp.apply_inner(f, args, span));
        }
        self.apply_inner(f, args, span)
    }

    pub(crate) fn apply_inner(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value, LangError> {
        match f {
            Value::Procedure(clo) => {
                if self.depth >= self.limits.max_depth || self.stack_exhausted() {
                    return Err(self.depth_error());
                }
                self.count_step(span)?;
                let frame = match self.bind_arguments(clo, args, span) {
                    Ok(frame) => frame,
                    Err(e) => return Err(self.signal(e)),
                };
                self.stack.push(StackEntry {
                    procedure: clo.name(),
                    call_site: span,
                });
                self.depth += 1;
                let base = self.stack.len();
                let r = match self.eval_loop(clo.info.body.clone(), frame) {
                    Err(e) if !e.signalled && e.is_catchable() => Err(self.signal(e)),
                    other => other,
                };
                self.stack.truncate(base - 1);
                self.depth -= 1;
                r
            }
            other => self
                .apply_other(other, args, span)
                .map_err(|e| self.signal(e)),
        }
    }

    pub(crate) fn apply_other(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value, LangError> {
        let with_site = |mut e: LangError, stack: &Vec<StackEntry>| {
            if e.span.is_none() {
                e = e.with_span(span);
            }
            if e.stack.is_empty() && e.is_catchable() {
                e.stack = stack.clone();
            }
            e
        };
        match f {
            Value::Primitive(p) => {
                let n = args.len();
                if n < p.min_args || p.max_args.is_some_and(|m| n > m) {
                    return Err(with_site(
                        arity_error(p.name, p.min_args, p.max_args, n),
                        &self.stack,
                    ));
                }
                if args.iter().any(super::builtins::is_r7rs_mutable)
                    && !super::builtins::is_lang_primitive(p)
                {
                    // Native layers take the immutable kinds: give them a snapshot.
                    let frozen: Vec<Value> = args.iter().map(super::builtins::freeze).collect();
                    return (p.func)(self, &frozen, span).map_err(|e| with_site(e, &self.stack));
                }
                (p.func)(self, &args, span).map_err(|e| with_site(e, &self.stack))
            }
            Value::NativeProc(p) => {
                let n = args.len();
                if n < p.min_args || p.max_args.is_some_and(|m| n > m) {
                    return Err(with_site(
                        arity_error(&p.name, p.min_args, p.max_args, n),
                        &self.stack,
                    ));
                }
                (p.func)(self, &args, span).map_err(|e| with_site(e, &self.stack))
            }
            Value::StructType(t) => {
                super::builtins::structs::construct(t, args).map_err(|e| with_site(e, &self.stack))
            }
            other => Err(with_site(
                LangError::new(
                    Code::Type,
                    format!(
                        "cannot call {} `{}`: it is not a procedure",
                        other.type_name(),
                        super::printer::write_short(other)
                    ),
                )
                .with_hint("check the parentheses: `(x)` calls x"),
                &self.stack,
            )),
        }
    }

    /// Escape continuation support: runs `body` and catches an escape with this id.
    pub fn catch_escape(
        &mut self,
        id: u64,
        result: Result<Value, LangError>,
    ) -> Result<Value, LangError> {
        match result {
            Err(e) if e.control == Control::Escape(id) => {
                Ok(e.payload.clone().unwrap_or(Value::Void))
            }
            other => other,
        }
    }
}

pub fn arity_error(name: &str, min: usize, max: Option<usize>, got: usize) -> LangError {
    let expected = match max {
        Some(m) if m == min => format!("{min}"),
        Some(m) => format!("{min} to {m}"),
        None => format!("at least {min}"),
    };
    let plural = if matches!(expected.as_str(), "1" | "at least 1") {
        ""
    } else {
        "s"
    };
    LangError::new(
        Code::Arity,
        format!("{name} expects {expected} argument{plural}, got {got}"),
    )
}
