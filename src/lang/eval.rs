//! The evaluator: runs compiled `Expr` trees. Tail calls are a loop (constant Rust stack),
//! non-tail recursion is bounded by `Limits::max_depth`, every call counts against an
//! optional step budget, and Ctrl-C sets a flag checked between steps.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::diagnostics::{Code, LangError, StackEntry};
use super::module::{Module, ModuleRegistry};
pub use super::output::Output;

use super::source::{self, Span};
use super::symbol::Sym;
use super::value::Value;

/// Set by the SIGINT handler; the evaluator stops with E010 at the next step.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Every resource limit of the interpreter in one place, each with its own error.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Nested (non-tail) evaluation depth before "stack depth exceeded" (E006).
    pub max_depth: usize,
    /// Procedure calls allowed before E009; `None` is unlimited.
    pub step_budget: Option<u64>,
    /// Bytes of Rust stack evaluation may use before E006 regardless of depth: a safety
    /// net for threads with small stacks (debug builds use far more stack per level).
    /// The CLI sets it from the stack it allocates, so there `max_depth` governs.
    pub stack_bytes: usize,
    /// Largest single object a script may ask for, in bytes (a list, string, vector, byte
    /// string or port buffer of a requested length; the result of `string-append`, `read`,
    /// ...). Checked before allocating, from the requested size, so it is deterministic;
    /// beyond it the request fails with E019 and nothing is allocated.
    pub max_alloc_bytes: u64,
    /// Heap the interpreter's thread may hold beyond what it held when the interpreter was
    /// created. Checked every few hundred steps and before sized allocations; beyond it
    /// evaluation stops with E020, which handlers cannot catch. A safety net against
    /// unbounded growth (a loop consing forever): the exact point it trips depends on the
    /// allocator, so consensus code should stay well inside it (see `Interp::sandboxed`).
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10_000,
            step_budget: None,
            stack_bytes: 1536 * 1024,
            max_alloc_bytes: 1 << 30,
            max_memory_bytes: 4 << 30,
        }
    }
}

/// The Rust stack the interpreter thread needs for `max_depth` levels (with headroom).
pub fn stack_bytes_for(limits: &Limits) -> usize {
    (limits.max_depth.max(1_000) * 16 * 1024).clamp(64 << 20, 4 << 30)
}

pub use super::frame::Frame;

pub use super::expr::{Closure, Expr, LambdaInfo, MatchClause, TestKind};

/// Counters kept by `test`, reported by `test-end` and the runner.
#[derive(Default, Clone, Debug)]
pub struct TestStats {
    pub passed: usize,
    pub failed: usize,
    pub group: Option<(String, usize, usize)>,
    pub failures: Vec<String>,
}

/// The interpreter: limits, module registry, output, test counters and the call stack.
pub struct Interp {
    pub limits: Limits,
    pub depth: usize,
    pub stack: Vec<StackEntry>,
    pub steps: u64,
    stack_base: usize,
    pub modules: ModuleRegistry,
    pub module: Rc<Module>,
    pub out: Output,
    pub tests: TestStats,
    pub script_args: Vec<String>,
    /// Handlers installed by `with-exception-handler` and the forms that catch errors
    /// (`guard`, `with-handlers`, `test`), innermost last.
    pub exception_handlers: Vec<Handler>,
    next_escape: u64,
    /// Escape continuations whose `call/cc` is still running, innermost last.
    pub live_escapes: Vec<u64>,
    /// Live heap bytes of this thread when the interpreter was created (the memory limit
    /// counts from here).
    memory_base: usize,
    /// True for `Interp::sandboxed`: no files, clock, environment or process control.
    pub sandboxed: bool,
    /// Counter for `gensym` names, per interpreter so the names are deterministic.
    pub gensym_counter: u64,
    /// The cells of `current-input-port`, `current-output-port`, `current-error-port`.
    pub std_ports: [Rc<super::value::ParameterCell>; 3],
    /// Native layers keep their per-interpreter state here (keyed by layer name).
    pub extensions: std::collections::HashMap<&'static str, Box<dyn std::any::Any>>,
}

/// An entry of the dynamic handler stack.
#[derive(Clone)]
pub enum Handler {
    /// A `with-exception-handler` procedure: called where the error is raised.
    Procedure(Value),
    /// A form that catches errors as they unwind to it (`guard`, `with-handlers`, `test`):
    /// handlers outside it see an error only if it declines it (and re-raises).
    Catch,
}

/// What a call resolves to: a closure to enter (as a tail call), or the value of a builtin.
pub(crate) enum Resolved {
    Closure(Rc<Closure>, Vec<Value>),
    Value(Value),
}

enum Step {
    Done(Value),
    Tail(Rc<Expr>),
    TailIn(Rc<Expr>, Rc<Frame>),
}

impl Interp {
    pub fn new(limits: Limits, out: Output) -> Interp {
        Interp::with_registry(limits, out, ModuleRegistry::new(), false)
    }

    /// An interpreter over the builtins of `modules`, with the prelude loaded.
    pub fn with_registry(
        limits: Limits,
        out: Output,
        modules: ModuleRegistry,
        sandboxed: bool,
    ) -> Interp {
        let module = modules.new_module("main", None);
        let std_ports = super::ports::standard_ports(&modules.builtins, sandboxed);
        let mut interp = Interp {
            limits,
            depth: 0,
            stack: Vec::new(),
            steps: 0,
            stack_base: 0,
            modules,
            module,
            out,
            tests: TestStats::default(),
            script_args: Vec::new(),
            exception_handlers: Vec::new(),
            next_escape: 0,
            live_escapes: Vec::new(),
            memory_base: super::memory::live_bytes(),
            sandboxed,
            gensym_counter: 0,
            std_ports,
            extensions: std::collections::HashMap::new(),
        };
        if !interp.modules.prelude_loaded.get() {
            interp.load_prelude();
            interp.modules.prelude_loaded.set(true);
        }
        interp
    }

    /// Evaluates stdlib/prelude.xln into the builtins module, so every module sees it.
    fn load_prelude(&mut self) {
        let builtins = self.modules.builtins.clone();
        let saved = std::mem::replace(&mut self.module, builtins);
        let text = super::module::STDLIB
            .iter()
            .find(|(n, _)| *n == "prelude")
            .map(|(_, t)| *t)
            .unwrap_or("");
        if let Err(e) = self.eval_source("stdlib/prelude.xln", text) {
            // The prelude ships with the binary; failing to load it is a build defect.
            eprintln!(
                "xln: internal error loading the prelude:\n{}",
                e.render(false)
            );
        }
        self.module = saved;
    }

    pub fn fresh_escape_id(&mut self) -> u64 {
        self.next_escape += 1;
        self.next_escape
    }

    /// Evaluates a compiled expression in `env` (non-tail: counts toward max depth).
    #[inline]
    pub fn eval(&mut self, expr: &Rc<Expr>, env: &Rc<Frame>) -> Result<Value, LangError> {
        // Constants and variables (most sub-expressions) are read inline; everything else
        // goes out of line, which keeps this function small enough to inline.
        match &**expr {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Local {
                depth: 0, index, ..
            } => match env.slots.borrow().get(*index) {
                Some(v) if !matches!(v, Value::Undefined) => Ok(v.clone()),
                _ => self.eval_nested(expr, env),
            },
            _ => self.eval_nested(expr, env),
        }
    }

    /// `eval` for everything but constants and innermost locals.
    #[inline(never)]
    fn eval_nested(&mut self, expr: &Rc<Expr>, env: &Rc<Frame>) -> Result<Value, LangError> {
        match &**expr {
            Expr::Local { depth, index, .. } => {
                let frame = env.ancestor(*depth);
                let slots = frame.slots.borrow();
                if let Some(v) = slots.get(*index) {
                    if !matches!(v, Value::Undefined) {
                        return Ok(v.clone());
                    }
                }
            }
            Expr::Global { cell, .. } => {
                let v = cell.value.borrow();
                if !matches!(*v, Value::Undefined) {
                    return Ok(v.clone());
                }
            }
            // A builtin call needs no frame of its own: its arguments are evaluated (with
            // the depth checks of their own) and the builtin runs here.
            Expr::PrimCall {
                prim,
                op,
                cell,
                args,
                span,
            } if args.len() <= 4 && holds(cell, prim) => {
                return match self.prim_call(prim, *op, args, *span, env) {
                    Err(e) if !e.signalled && e.is_catchable() => Err(self.signal(e)),
                    other => other,
                };
            }
            _ => {}
        }
        if self.depth >= self.limits.max_depth || self.stack_exhausted() {
            return Err(self.depth_error());
        }
        self.depth += 1;
        let base = self.stack.len();
        let result = self.eval_loop(expr.clone(), env.clone());
        let result = match result {
            Err(e) if !e.signalled && e.is_catchable() => Err(self.signal(e)),
            other => other,
        };
        self.stack.truncate(base);
        self.depth -= 1;
        result
    }

    /// R7RS `raise`: offers an error, where it was raised and before anything unwinds, to
    /// the innermost `with-exception-handler` handler, which runs with the outer handlers
    /// installed. If the handler returns, the error is raised again in the handler's
    /// dynamic environment (so outer handlers see it too). A catching form (`guard`, ...)
    /// innermost leaves the error to unwind to it.
    pub fn signal(&mut self, mut e: LangError) -> LangError {
        if e.signalled || !e.is_catchable() {
            return e;
        }
        e.signalled = true;
        let level = match self.exception_handlers.last() {
            None | Some(Handler::Catch) => return e,
            Some(Handler::Procedure(_)) => self.exception_handlers.len() - 1,
        };
        let saved = self.exception_handlers.split_off(level);
        let Some(Handler::Procedure(handler)) = saved.first().cloned() else {
            return e;
        };
        let span = e.span.unwrap_or_default();
        let condition = super::builtins::control::error_to_value(e.clone());
        let out = match self.apply(&handler, vec![condition], span) {
            Ok(_) => {
                let what = match &e.payload {
                    Some(v) if !matches!(v, Value::Error(_)) => super::printer::write_short(v),
                    _ => e.message.clone(),
                };
                let mut again = LangError::new(
                    e.code,
                    format!("the exception handler returned from a non-continuable raise of {what}"),
                )
                .with_hint("for raise the handler must escape (call/cc, raise); raise-continuable lets it return");
                again.span = e.span;
                again.stack = e.stack.clone();
                self.signal(again)
            }
            Err(inner) => inner,
        };
        self.exception_handlers.extend(saved);
        out
    }

    /// True when this thread has used more than `Limits::stack_bytes` since the outermost
    /// evaluation began (measured by the address of a local; the stack grows downward).
    pub(crate) fn stack_exhausted(&mut self) -> bool {
        let marker = 0u8;
        let here = std::ptr::addr_of!(marker) as usize;
        if self.depth == 0 {
            self.stack_base = here;
            super::memory::set_stack_floor(here, self.limits.stack_bytes);
            return false;
        }
        self.stack_base.saturating_sub(here) > self.limits.stack_bytes
    }

    pub(crate) fn depth_error(&self) -> LangError {
        let mut e = LangError::new(
            Code::StackDepth,
            format!("recursion deeper than {} nested calls", self.limits.max_depth),
        )
        .with_hint("make the recursive call a tail call (an accumulator or named let), or raise the limit with --max-depth");
        e.stack = self.stack.clone();
        if let Some(top) = self.stack.last() {
            e = e.with_span(top.call_site);
        }
        e
    }

    pub(crate) fn count_step(&mut self, span: Span) -> Result<(), LangError> {
        self.steps += 1;
        if let Some(budget) = self.limits.step_budget {
            if self.steps > budget {
                return Err(
                    LangError::new(Code::StepBudget, format!("more than {budget} steps"))
                        .with_span(span)
                        .with_hint("the computation does not finish within its step budget"),
                );
            }
        }
        if self.steps & 0xff == 0 {
            if super::memory::has_deferred_drops() {
                super::memory::drain_deferred_drops();
            }
            self.check_memory(0, span)?;
        }
        if self.steps & 0x3ff == 0 && INTERRUPTED.swap(false, Ordering::Relaxed) {
            let mut e = LangError::new(Code::Interrupted, "evaluation interrupted (Ctrl-C)")
                .with_span(span);
            e.stack = self.stack.clone();
            return Err(e);
        }
        Ok(())
    }

    /// Fails with E020 when the heap this interpreter's thread holds, plus `extra` bytes
    /// about to be allocated, passes `Limits::max_memory_bytes`.
    pub fn check_memory(&self, extra: u64, span: Span) -> Result<(), LangError> {
        let used = super::memory::live_bytes().saturating_sub(self.memory_base) as u64;
        let limit = self.limits.max_memory_bytes;
        if used.saturating_add(extra) <= limit {
            return Ok(());
        }
        let mut e = LangError::new(
            Code::Memory,
            format!(
                "the program holds {} MiB of memory, over the limit of {} MiB",
                used.saturating_add(extra).div_ceil(1 << 20),
                limit >> 20
            ),
        )
        .with_span(span)
        .with_hint("the data grows without bound; raise the limit with --max-memory MiB");
        e.stack = self.stack.clone();
        Err(e)
    }

    /// Checks an allocation of `bytes` a script asked for (`who` names the procedure)
    /// against `Limits::max_alloc_bytes` (E019) and the memory limit (E020), before it is
    /// made. Every builtin whose result size the script chooses calls this first.
    pub fn reserve(&self, bytes: u64, who: &str) -> Result<(), LangError> {
        let limit = self.limits.max_alloc_bytes;
        if bytes > limit {
            return Err(LangError::new(
                Code::Allocation,
                format!(
                    "{who}: the result would take {} bytes, over the limit of {limit} bytes for one object",
                    bytes
                ),
            )
            .with_hint("ask for less, or raise the limit with --max-alloc MiB"));
        }
        self.check_memory(bytes, Span::default()).map_err(|mut e| {
            e.span = None;
            e
        })
    }

    /// `reserve` for `count` elements of `each` bytes (saturating, so a huge count fails
    /// cleanly instead of overflowing).
    pub fn reserve_items(&self, count: u64, each: u64, who: &str) -> Result<(), LangError> {
        self.reserve(count.saturating_mul(each), who)
    }

    pub(crate) fn eval_loop(
        &mut self,
        mut cur: Rc<Expr>,
        mut env: Rc<Frame>,
    ) -> Result<Value, LangError> {
        let base = self.stack.len();
        loop {
            let step = match &*cur {
                Expr::Const(v) => Step::Done(v.clone()),
                Expr::Local {
                    depth,
                    index,
                    name,
                    span,
                } => {
                    let frame = env.ancestor(*depth);
                    let v = frame
                        .slots
                        .borrow()
                        .get(*index)
                        .cloned()
                        .unwrap_or(Value::Undefined);
                    if let Value::Undefined = v {
                        return Err(LangError::new(
                            Code::Unbound,
                            format!("`{name}` is used before it is given a value"),
                        )
                        .with_span(*span)
                        .with_hint(
                            "a letrec or internal define refers to a variable defined later",
                        ));
                    }
                    Step::Done(v)
                }
                Expr::Global { cell, span } => {
                    let v = cell.value.borrow().clone();
                    if let Value::Undefined = v {
                        return Err(self.unbound_error(cell.name, *span));
                    }
                    Step::Done(v)
                }
                Expr::SetLocal {
                    depth,
                    index,
                    value,
                } => {
                    let v = self.eval(value, &env)?;
                    let frame = env.ancestor(*depth);
                    if let Some(slot) = frame.slots.borrow_mut().get_mut(*index) {
                        *slot = v;
                    }
                    Step::Done(Value::Void)
                }
                Expr::SetGlobal {
                    cell,
                    value,
                    define,
                } => {
                    let v = self.eval(value, &env)?;
                    if !define {
                        if let Value::Undefined = *cell.value.borrow() {
                            return Err(self
                                .unbound_error(cell.name, Span::default())
                                .with_hint("set! needs a variable defined earlier with define"));
                        }
                    }
                    *cell.value.borrow_mut() = v;
                    Step::Done(Value::Void)
                }
                Expr::If {
                    test,
                    then,
                    otherwise,
                } => {
                    if self.eval(test, &env)?.is_true() {
                        Step::Tail(then.clone())
                    } else {
                        Step::Tail(otherwise.clone())
                    }
                }
                Expr::Lambda(info) => Step::Done(Value::Procedure(Rc::new(Closure {
                    info: info.clone(),
                    env: env.clone(),
                }))),
                Expr::Seq(items) => match items.split_last() {
                    None => Step::Done(Value::Void),
                    Some((last, init)) => {
                        for e in init {
                            self.eval(e, &env)?;
                        }
                        Step::Tail(last.clone())
                    }
                },
                Expr::Let { inits, size, body } => {
                    let frame = Frame::new(*size, &env);
                    for (i, init) in inits.iter().enumerate() {
                        let v = self.eval(init, &env)?;
                        frame.slots.borrow_mut()[i] = v;
                    }
                    Step::TailIn(body.clone(), frame)
                }
                Expr::Letrec { inits, size, body } => {
                    let frame = Frame::new(*size, &env);
                    for (i, init) in inits.iter().enumerate() {
                        let v = self.eval(init, &frame)?;
                        frame.slots.borrow_mut()[i] = v;
                    }
                    Step::TailIn(body.clone(), frame)
                }
                Expr::And(items) => match items.split_last() {
                    None => Step::Done(Value::Bool(true)),
                    Some((last, init)) => {
                        let mut short = None;
                        for e in init {
                            let v = self.eval(e, &env)?;
                            if !v.is_true() {
                                short = Some(v);
                                break;
                            }
                        }
                        match short {
                            Some(v) => Step::Done(v),
                            None => Step::Tail(last.clone()),
                        }
                    }
                },
                Expr::Or(items) => match items.split_last() {
                    None => Step::Done(Value::Bool(false)),
                    Some((last, init)) => {
                        let mut short = None;
                        for e in init {
                            let v = self.eval(e, &env)?;
                            if v.is_true() {
                                short = Some(v);
                                break;
                            }
                        }
                        match short {
                            Some(v) => Step::Done(v),
                            None => Step::Tail(last.clone()),
                        }
                    }
                },
                Expr::PrimCall {
                    prim,
                    op,
                    cell,
                    args,
                    span,
                } if args.len() <= 4 && holds(cell, prim) => {
                    Step::Done(self.prim_call(prim, *op, args, *span, &env)?)
                }
                Expr::PrimCall {
                    cell, args, span, ..
                } => {
                    // The global no longer holds the builtin (or too many arguments for
                    // the fast path): call whatever it holds now.
                    let f = cell.value.borrow().clone();
                    if let Value::Undefined = f {
                        return Err(self.unbound_error(cell.name, *span));
                    }
                    let mut argv = Vec::with_capacity(args.len());
                    for a in args {
                        argv.push(self.eval(a, &env)?);
                    }
                    match self.resolve_call(f, argv, *span)? {
                        Resolved::Closure(clo, argv) => {
                            self.count_step(*span)?;
                            let frame = self.bind_arguments(&clo, argv, *span)?;
                            self.stack.truncate(base);
                            self.stack.push(StackEntry {
                                procedure: clo.name(),
                                call_site: *span,
                            });
                            Step::TailIn(clo.info.body.clone(), frame)
                        }
                        Resolved::Value(v) => Step::Done(v),
                    }
                }
                Expr::Call { func, args, span } => {
                    let f = self.eval(func, &env)?;
                    if let Value::Procedure(clo) = &f {
                        let info = &clo.info;
                        if info.simple && info.required == args.len() && args.len() <= 4 {
                            // A tail call with only required parameters: the arguments go
                            // through a small buffer into the frame, reusing the current
                            // frame's allocation when nothing else holds it (a loop).
                            let mut buf = [Value::Nil, Value::Nil, Value::Nil, Value::Nil];
                            for (i, a) in args.iter().enumerate() {
                                buf[i] = self.eval(a, &env)?;
                            }
                            self.count_step(*span)?;
                            let n = args.len();
                            let reused = match Rc::get_mut(&mut env) {
                                Some(frame) => {
                                    frame.reuse(info.frame_size, &clo.env, &mut buf[..n])
                                }
                                None => false,
                            };
                            if !reused {
                                let frame = Frame::new(info.frame_size, &clo.env);
                                {
                                    let mut slots = frame.slots.borrow_mut();
                                    for (slot, v) in slots.iter_mut().zip(buf.iter_mut().take(n)) {
                                        *slot = std::mem::replace(v, Value::Nil);
                                    }
                                }
                                env = frame;
                            }
                            self.stack.truncate(base);
                            self.stack.push(StackEntry {
                                procedure: clo.name(),
                                call_site: *span,
                            });
                            cur = info.body.clone();
                            continue;
                        }
                    }
                    let mut argv = Vec::with_capacity(args.len());
                    for a in args {
                        argv.push(self.eval(a, &env)?);
                    }
                    match self.resolve_call(f, argv, *span)? {
                        Resolved::Closure(clo, argv) => {
                            self.count_step(*span)?;
                            let frame = self.bind_arguments(&clo, argv, *span)?;
                            self.stack.truncate(base);
                            self.stack.push(StackEntry {
                                procedure: clo.name(),
                                call_site: *span,
                            });
                            Step::TailIn(clo.info.body.clone(), frame)
                        }
                        Resolved::Value(v) => Step::Done(v),
                    }
                }
                Expr::Guard { body, handler } => match self.catching(|i| i.eval(body, &env)) {
                    Ok(v) => Step::Done(v),
                    Err(e) if e.is_catchable() => {
                        let frame = Frame::new(1, &env);
                        frame.slots.borrow_mut()[0] = super::builtins::control::error_to_value(e);
                        Step::TailIn(handler.clone(), frame)
                    }
                    Err(e) => return Err(e),
                },
                Expr::WithHandlers {
                    handlers,
                    body,
                    span,
                } => match self.catching(|i| i.eval(body, &env)) {
                    Ok(v) => Step::Done(v),
                    Err(e) if e.is_catchable() => {
                        let value = super::builtins::control::error_to_value(e.clone());
                        let mut handled = None;
                        for (pred, handler) in handlers {
                            let p = self.eval(pred, &env)?;
                            if self.apply(&p, vec![value.clone()], *span)?.is_true() {
                                let h = self.eval(handler, &env)?;
                                handled = Some(self.apply(&h, vec![value.clone()], *span)?);
                                break;
                            }
                        }
                        match handled {
                            Some(v) => Step::Done(v),
                            None => {
                                // Declined: outer handlers see it now, from here.
                                let mut e = e;
                                e.signalled = false;
                                return Err(self.signal(e));
                            }
                        }
                    }
                    Err(e) => return Err(e),
                },
                Expr::Match {
                    subject,
                    clauses,
                    span,
                } => {
                    let value = self.eval(subject, &env)?;
                    let mut chosen = None;
                    for clause in clauses {
                        let frame = Frame::new(clause.size, &env);
                        if clause.pattern.matches(self, &value, &frame, &env)? {
                            let ok = match &clause.guard {
                                Some(g) => self.eval(g, &frame)?.is_true(),
                                None => true,
                            };
                            if ok {
                                chosen = Some((clause.body.clone(), frame));
                                break;
                            }
                        }
                    }
                    match chosen {
                        Some((body, frame)) => Step::TailIn(body, frame),
                        None => {
                            return Err(LangError::new(
                                Code::NoMatch,
                                format!(
                                    "no match clause matches {}",
                                    super::printer::write_short(&value)
                                ),
                            )
                            .with_span(*span)
                            .with_hint("add a final clause with `_` to handle every other value"))
                        }
                    }
                }
                Expr::Test {
                    name,
                    expected,
                    actual,
                    span,
                    kind,
                } => Step::Done(super::builtins::testing::run_test(
                    self,
                    name.as_ref(),
                    expected,
                    actual,
                    *span,
                    *kind,
                    &env,
                )?),
                Expr::Assert {
                    expr,
                    message,
                    span,
                } => {
                    let v = self.eval(expr, &env)?;
                    if !v.is_true() {
                        let detail = match message {
                            Some(m) => format!(": {}", self.eval(m, &env)?),
                            None => String::new(),
                        };
                        return Err(LangError::new(
                            Code::Assertion,
                            format!("`{}` is false{detail}", source::snippet(*span)),
                        )
                        .with_span(*span));
                    }
                    Step::Done(Value::Void)
                }
                Expr::Time { expr, span } => {
                    let start = std::time::Instant::now();
                    let v = self.eval(expr, &env)?;
                    let elapsed = start.elapsed();
                    let text = format!(
                        "time: {} for {}\n",
                        crate::bench::format_duration(elapsed),
                        source::snippet(*span)
                    );
                    self.out.write_str(&text);
                    Step::Done(v)
                }
                Expr::MakeVector(items) => {
                    let mut v = imbl::Vector::new();
                    for e in items {
                        v.push_back(self.eval(e, &env)?);
                    }
                    Step::Done(Value::Vector(Rc::new(v)))
                }
                Expr::MakeMap(items) => {
                    let mut m = imbl::OrdMap::new();
                    for pair in items.chunks(2) {
                        if let [k, v] = pair {
                            let k = self.eval(k, &env)?;
                            let v = self.eval(v, &env)?;
                            m.insert(k, v);
                        }
                    }
                    Step::Done(Value::Map(Rc::new(m)))
                }
                Expr::MakeSet(items) => {
                    let mut s = imbl::OrdSet::new();
                    for e in items {
                        s.insert(self.eval(e, &env)?);
                    }
                    Step::Done(Value::Set(Rc::new(s)))
                }
            };
            match step {
                Step::Done(v) => return Ok(v),
                Step::Tail(next) => cur = next,
                Step::TailIn(next, frame) => {
                    cur = next;
                    env = frame;
                }
            }
        }
    }

    pub(crate) fn unbound_error(&self, name: Sym, span: Span) -> LangError {
        let text = name.name();
        let names = self.module.bound_names();
        let mut e =
            LangError::new(Code::Unbound, format!("`{text}` is not defined")).with_span(span);
        if let Some(s) = super::diagnostics::suggest(&text, names.iter().map(|s| s.as_str())) {
            e = e.with_hint(format!("did you mean `{s}`?"));
        } else {
            e = e.with_hint("define it first, or require the module that provides it");
        }
        e.stack = self.stack.clone();
        e
    }
}

pub use super::call::arity_error;

/// Does the global still hold this builtin? (`PrimCall`'s guard: a redefinition of, say,
/// `car` makes the call a plain call again.)
#[inline]
fn holds(cell: &super::module::Global, prim: &'static super::value::Primitive) -> bool {
    matches!(&*cell.value.borrow(), Value::Primitive(p) if std::ptr::eq(*p, prim))
}

impl Interp {
    /// Runs a builtin on up to four arguments evaluated into a buffer, through the inline
    /// fast path when it applies.
    #[inline]
    fn prim_call(
        &mut self,
        prim: &'static super::value::Primitive,
        op: Option<super::expr::InlineOp>,
        args: &[Rc<Expr>],
        span: Span,
        env: &Rc<Frame>,
    ) -> Result<Value, LangError> {
        // One and two arguments (most calls) without a buffer to fill and drop.
        match args {
            [a] => {
                let a = [self.eval(a, env)?];
                if let Some(v) = op.and_then(|op| op.apply(&a)) {
                    return Ok(v);
                }
                return (prim.func)(self, &a, span).map_err(|e| self.at_site(e, span));
            }
            [a, b] => {
                let a = [self.eval(a, env)?, self.eval(b, env)?];
                if let Some(v) = op.and_then(|op| op.apply(&a)) {
                    return Ok(v);
                }
                return (prim.func)(self, &a, span).map_err(|e| self.at_site(e, span));
            }
            _ => {}
        }
        let mut buf = [Value::Nil, Value::Nil, Value::Nil, Value::Nil];
        let n = args.len();
        for (i, a) in args.iter().enumerate() {
            buf[i] = self.eval(a, env)?;
        }
        if let Some(v) = op.and_then(|op| op.apply(&buf[..n])) {
            return Ok(v);
        }
        (prim.func)(self, &buf[..n], span).map_err(|e| self.at_site(e, span))
    }
}
