//! The compiled form of a program: `Expr` trees the compiler builds and the evaluator
//! runs, lambdas (`LambdaInfo`), closures, and the pieces of `match` and `test`.

use std::rc::Rc;

use super::diagnostics::Code;
use super::frame::Frame;
use super::module::Global;
use super::pattern::Pattern;
use super::source::Span;
use super::symbol::Sym;
use super::value::{Primitive, Value};

/// Builtins with an inline fast path for the common case (small integers, pairs, booleans);
/// anything else goes to the builtin itself, so results are always the builtin's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InlineOp {
    Add,
    Sub,
    Mul,
    Lt,
    Gt,
    Le,
    Ge,
    NumEq,
    Car,
    Cdr,
    Cons,
    IsNull,
    IsPair,
    Not,
    Eq,
    IsZero,
    Add1,
    Sub1,
}

impl InlineOp {
    /// The inline op for a builtin of this name called with `n` arguments.
    pub fn for_builtin(name: &str, n: usize) -> Option<InlineOp> {
        Some(match (name, n) {
            ("+", 2) => InlineOp::Add,
            ("-", 2) => InlineOp::Sub,
            ("*", 2) => InlineOp::Mul,
            ("<", 2) => InlineOp::Lt,
            (">", 2) => InlineOp::Gt,
            ("<=", 2) => InlineOp::Le,
            (">=", 2) => InlineOp::Ge,
            ("=", 2) => InlineOp::NumEq,
            ("car", 1) => InlineOp::Car,
            ("cdr", 1) => InlineOp::Cdr,
            ("cons", 2) => InlineOp::Cons,
            ("null?", 1) => InlineOp::IsNull,
            ("pair?", 1) => InlineOp::IsPair,
            ("not", 1) => InlineOp::Not,
            ("eq?", 2) => InlineOp::Eq,
            ("zero?", 1) => InlineOp::IsZero,
            ("add1", 1) => InlineOp::Add1,
            ("sub1", 1) => InlineOp::Sub1,
            _ => return None,
        })
    }

    /// The result when the fast path applies, `None` to call the builtin.
    #[inline]
    pub fn apply(self, a: &[Value]) -> Option<Value> {
        use InlineOp::*;
        match (self, a) {
            (Add, [Value::Int(x), Value::Int(y)]) => x.checked_add(*y).map(Value::Int),
            (Sub, [Value::Int(x), Value::Int(y)]) => x.checked_sub(*y).map(Value::Int),
            (Mul, [Value::Int(x), Value::Int(y)]) => x.checked_mul(*y).map(Value::Int),
            (Lt, [Value::Int(x), Value::Int(y)]) => Some(Value::Bool(x < y)),
            (Gt, [Value::Int(x), Value::Int(y)]) => Some(Value::Bool(x > y)),
            (Le, [Value::Int(x), Value::Int(y)]) => Some(Value::Bool(x <= y)),
            (Ge, [Value::Int(x), Value::Int(y)]) => Some(Value::Bool(x >= y)),
            (NumEq, [Value::Int(x), Value::Int(y)]) => Some(Value::Bool(x == y)),
            (Car, [Value::Pair(p)]) => Some(p.0.clone()),
            (Cdr, [Value::Pair(p)]) => Some(p.1.clone()),
            (Cons, [x, y]) => Some(Value::cons(x.clone(), y.clone())),
            (IsNull, [x]) => Some(Value::Bool(matches!(x, Value::Nil))),
            (IsPair, [x]) => Some(Value::Bool(matches!(x, Value::Pair(_)))),
            (Not, [x]) => Some(Value::Bool(!x.is_true())),
            (Eq, [x, y]) => Some(Value::Bool(x.is_eq(y))),
            (IsZero, [Value::Int(x)]) => Some(Value::Bool(*x == 0)),
            (Add1, [Value::Int(x)]) => x.checked_add(1).map(Value::Int),
            (Sub1, [Value::Int(x)]) => x.checked_sub(1).map(Value::Int),
            _ => None,
        }
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
    /// Only required parameters (no optional, rest or keyword ones): a call binds the
    /// arguments straight into the frame.
    pub simple: bool,
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
    /// A call of a builtin the compiler found bound to a global (not shadowed): while the
    /// global still holds that builtin it runs directly (no argument vector, no lookup),
    /// through `op`'s inline fast path when there is one; otherwise it is a plain call.
    PrimCall {
        prim: &'static Primitive,
        op: Option<InlineOp>,
        cell: Rc<Global>,
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
