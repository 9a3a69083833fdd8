//! The evaluator: runs compiled `Expr` trees. Tail calls are a loop (constant Rust stack),
//! non-tail recursion is bounded by `Limits::max_depth`, every call counts against an
//! optional step budget, and Ctrl-C sets a flag checked between steps.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::diagnostics::{Code, Control, LangError, StackEntry};
use super::module::{Global, Module, ModuleRegistry};
pub use super::output::Output;
use super::pattern::Pattern;
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

/// A runtime environment frame: slots for one lambda call, `let`, or match clause.
pub struct Frame {
    pub slots: RefCell<Vec<Value>>,
    pub parent: Option<Rc<Frame>>,
}

impl Frame {
    pub fn root() -> Rc<Frame> {
        Rc::new(Frame {
            slots: RefCell::new(Vec::new()),
            parent: None,
        })
    }
    pub fn new(size: usize, parent: &Rc<Frame>) -> Rc<Frame> {
        Rc::new(Frame {
            slots: RefCell::new(vec![Value::Undefined; size]),
            parent: Some(parent.clone()),
        })
    }
    fn ancestor(self: &Rc<Frame>, depth: usize) -> &Rc<Frame> {
        let mut f = self;
        for _ in 0..depth {
            match &f.parent {
                Some(p) => f = p,
                None => break,
            }
        }
        f
    }
}

/// A compiled lambda: parameter shape, frame size and body.
pub struct LambdaInfo {
    pub name: Option<Sym>,
    pub display_name: Rc<str>,
    pub required: usize,
    pub optional: Vec<Rc<Expr>>,
    pub rest: bool,
    /// Keyword parameters: keyword, and default (`None` = the keyword is required).
    pub keywords: Vec<(Sym, Option<Rc<Expr>>)>,
    pub frame_size: usize,
    pub body: Rc<Expr>,
    pub span: Span,
}

/// A procedure value: lambda plus the frame it closed over.
pub struct Closure {
    pub info: Rc<LambdaInfo>,
    pub env: Rc<Frame>,
}

impl Closure {
    /// The name shown in stack traces; computed once at compile time, so pushing a stack
    /// entry on every call costs a reference count, not an allocation.
    pub fn name(&self) -> Rc<str> {
        self.info.display_name.clone()
    }
}

/// A compiled expression.
pub enum Expr {
    Const(Value),
    Local {
        depth: usize,
        index: usize,
        name: Sym,
        span: Span,
    },
    Global {
        cell: Rc<Global>,
        span: Span,
    },
    SetLocal {
        depth: usize,
        index: usize,
        value: Rc<Expr>,
    },
    SetGlobal {
        cell: Rc<Global>,
        value: Rc<Expr>,
        define: bool,
    },
    If {
        test: Rc<Expr>,
        then: Rc<Expr>,
        otherwise: Rc<Expr>,
    },
    Lambda(Rc<LambdaInfo>),
    Seq(Vec<Rc<Expr>>),
    /// Inits evaluated in the outer frame, then the body in a new frame of `size` slots.
    Let {
        inits: Vec<Rc<Expr>>,
        size: usize,
        body: Rc<Expr>,
    },
    /// A new frame first; inits evaluated inside it and stored in order (letrec*).
    Letrec {
        inits: Vec<Rc<Expr>>,
        size: usize,
        body: Rc<Expr>,
    },
    And(Vec<Rc<Expr>>),
    Or(Vec<Rc<Expr>>),
    Call {
        func: Rc<Expr>,
        args: Vec<Rc<Expr>>,
        span: Span,
    },
    /// Evaluates `body`; a catchable error becomes a value bound in a 1-slot frame where
    /// `handler` runs (guard clauses compile to a `cond` ending in a re-raise).
    Guard {
        body: Rc<Expr>,
        handler: Rc<Expr>,
    },
    /// Racket's `with-handlers`: (predicate, handler) pairs tried in order.
    WithHandlers {
        handlers: Vec<(Rc<Expr>, Rc<Expr>)>,
        body: Rc<Expr>,
        span: Span,
    },
    Match {
        subject: Rc<Expr>,
        clauses: Vec<MatchClause>,
        span: Span,
    },
    Test {
        /// The optional name of `(test name expected expr)`, printed when it fails.
        name: Option<Rc<Expr>>,
        expected: Rc<Expr>,
        actual: Rc<Expr>,
        span: Span,
        kind: TestKind,
    },
    Assert {
        expr: Rc<Expr>,
        message: Option<Rc<Expr>>,
        span: Span,
    },
    Time {
        expr: Rc<Expr>,
        span: Span,
    },
    /// Vector / map / set literals whose elements are evaluated.
    MakeVector(Vec<Rc<Expr>>),
    MakeMap(Vec<Rc<Expr>>),
    MakeSet(Vec<Rc<Expr>>),
}

/// What a `test` form checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKind {
    /// `(test expected expr)`: the value is `equal?` to the expected one.
    Value,
    /// `(test-error CODE expr)`: evaluating raises an error with exactly this code.
    Error(Code),
    /// `(test-error expr)` (deprecated): any error but an unbound variable (E002).
    AnyError,
}

pub struct MatchClause {
    pub pattern: Pattern,
    pub guard: Option<Rc<Expr>>,
    pub size: usize,
    pub body: Rc<Expr>,
}

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
enum Resolved {
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
    pub fn eval(&mut self, expr: &Rc<Expr>, env: &Rc<Frame>) -> Result<Value, LangError> {
        // Constants and variable references (most sub-expressions) need no depth or
        // stack bookkeeping: read them inline.
        match &**expr {
            Expr::Const(v) => return Ok(v.clone()),
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
    fn stack_exhausted(&mut self) -> bool {
        let marker = 0u8;
        let here = std::ptr::addr_of!(marker) as usize;
        if self.depth == 0 {
            self.stack_base = here;
            super::memory::set_stack_floor(here, self.limits.stack_bytes);
            return false;
        }
        self.stack_base.saturating_sub(here) > self.limits.stack_bytes
    }

    fn depth_error(&self) -> LangError {
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

    fn count_step(&mut self, span: Span) -> Result<(), LangError> {
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

    fn eval_loop(&mut self, mut cur: Rc<Expr>, mut env: Rc<Frame>) -> Result<Value, LangError> {
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
                Expr::Call { func, args, span } => {
                    let f = self.eval(func, &env)?;
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

    fn unbound_error(&self, name: Sym, span: Span) -> LangError {
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
    fn resolve_call(
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
    fn at_site(&self, mut e: LangError, span: Span) -> LangError {
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

    fn apply_inner(&mut self, f: &Value, args: Vec<Value>, span: Span) -> Result<Value, LangError> {
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

    fn apply_other(&mut self, f: &Value, args: Vec<Value>, span: Span) -> Result<Value, LangError> {
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
