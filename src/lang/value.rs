//! Runtime values: exact numbers, text, bytes, symbols, persistent collections (cons lists,
//! imbl vectors, ordered maps and sets), immutable structs, procedures and native handles.
//! Maps and sets are *ordered* so iteration and printing are deterministic everywhere.

use std::any::Any;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::rc::Rc;

use imbl::{OrdMap, OrdSet, Vector};
use num_bigint::BigInt;
use num_rational::BigRational;

use super::diagnostics::LangError;
use super::eval::Closure;
use super::source::Span;
use super::symbol::Sym;

/// A value of the language. Cloning is cheap (reference counts).
#[derive(Clone)]
pub enum Value {
    /// The empty list `()`.
    Nil,
    /// The result of forms evaluated for effect; the REPL prints nothing for it.
    Void,
    /// Marks a variable declared but not yet given a value (letrec, forward globals).
    Undefined,
    Bool(bool),
    /// Exact integer that fits in 64 bits; larger ones are `Big` (always normalised).
    Int(i64),
    Big(Rc<BigInt>),
    /// Exact rational with denominator > 1 (integers are never stored here).
    Rational(Rc<BigRational>),
    /// Inexact real; only produced explicitly (`1.5`, `exact->inexact`, `sqrt` of non-squares).
    Float(f64),
    Char(char),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Symbol(Sym),
    Keyword(Sym),
    Pair(Rc<Cons>),
    Vector(Rc<Vector<Value>>),
    Map(Rc<OrdMap<Value, Value>>),
    Set(Rc<OrdSet<Value>>),
    Struct(Rc<StructValue>),
    StructType(Rc<StructType>),
    Procedure(Rc<Closure>),
    Primitive(&'static Primitive),
    /// A procedure that closes over Rust state (escape continuations, struct accessors).
    NativeProc(Rc<NativeProc>),
    Error(Rc<ErrorObject>),
    MutableBox(Rc<MBox>),
    /// An R7RS vector: mutable in place (`vector-set!`), printed `#(...)`. `[...]` is the
    /// language's persistent vector (`Vector`).
    MVector(Rc<MVec>),
    /// An R7RS mutable string (from `make-string`, `string-copy`, `string`); `string-set!`
    /// changes it in place. Other strings are immutable `Str`.
    MString(Rc<RefCell<String>>),
    /// An R7RS bytevector (`bytevector`, `make-bytevector`, `#u8(...)`), mutable in place;
    /// printed `#u8(...)`. `#x"..."` byte strings are immutable `Bytes`.
    MBytes(Rc<MBytes>),
    /// Several values returned at once by `values` (count != 1).
    Values(Rc<[Value]>),
    /// A handle to a native object owned by another layer (accounts, entities, keys, ...).
    Native(Rc<dyn NativeObject>),
}

/// A cons cell: `.0` is the car, `.1` the cdr. Dropping a long list unlinks it
/// iteratively, so a million-element list cannot overflow the stack when freed; a deeply
/// nested one postpones its children when the stack runs low (`memory::defer_drop`).
pub struct Cons(pub Value, pub Value);

impl Drop for Cons {
    fn drop(&mut self) {
        if super::memory::should_defer_drop() {
            super::memory::defer_drop(std::mem::replace(&mut self.0, Value::Nil));
            super::memory::defer_drop(std::mem::replace(&mut self.1, Value::Nil));
            return;
        }
        let mut next = std::mem::replace(&mut self.1, Value::Nil);
        while let Value::Pair(rc) = next {
            match Rc::try_unwrap(rc) {
                Ok(mut cell) => next = std::mem::replace(&mut cell.1, Value::Nil),
                Err(_) => break,
            }
        }
    }
}

/// A box's cell. Dropping a deeply nested chain of boxes postpones the content when the
/// stack runs low.
pub struct MBox(pub RefCell<Value>);

impl std::ops::Deref for MBox {
    type Target = RefCell<Value>;
    fn deref(&self) -> &RefCell<Value> {
        &self.0
    }
}
impl Drop for MBox {
    fn drop(&mut self) {
        if super::memory::should_defer_drop() {
            super::memory::defer_drop(self.0.replace(Value::Nil));
        }
    }
}

/// The storage of an R7RS vector (see `Value::MVector`). A literal (`#(1 2)` in source) is
/// read-only, as R7RS makes literal constants: `vector-set!` on it is an error.
pub struct MVec(pub RefCell<Vec<Value>>, pub bool);

impl MVec {
    /// True for a literal constant (cannot be changed in place).
    pub fn is_literal(&self) -> bool {
        self.1
    }
}

/// The storage of an R7RS bytevector (see `Value::MBytes`); literals are read-only.
pub struct MBytes(pub RefCell<Vec<u8>>, pub bool);

impl std::ops::Deref for MBytes {
    type Target = RefCell<Vec<u8>>;
    fn deref(&self) -> &RefCell<Vec<u8>> {
        &self.0
    }
}
impl MBytes {
    /// True for a literal constant (`#u8(...)` in source).
    pub fn is_literal(&self) -> bool {
        self.1
    }
}

impl std::ops::Deref for MVec {
    type Target = RefCell<Vec<Value>>;
    fn deref(&self) -> &RefCell<Vec<Value>> {
        &self.0
    }
}
impl Drop for MVec {
    fn drop(&mut self) {
        if super::memory::should_defer_drop() {
            super::memory::defer_drop(std::mem::take(&mut *self.0.borrow_mut()));
        }
    }
}

/// The signature every builtin implements.
pub type PrimFn = fn(&mut super::eval::Interp, &[Value], Span) -> Result<Value, LangError>;

/// A builtin procedure with its documentation (the reference is checked against these).
pub struct Primitive {
    pub name: &'static str,
    pub min_args: usize,
    /// `None` means any number of extra arguments.
    pub max_args: Option<usize>,
    pub func: PrimFn,
    pub doc: &'static str,
    pub example: &'static str,
}

/// A procedure built at run time around Rust state.
pub struct NativeProc {
    pub name: String,
    pub min_args: usize,
    pub max_args: Option<usize>,
    #[allow(clippy::type_complexity)]
    pub func: Box<dyn Fn(&mut super::eval::Interp, &[Value], Span) -> Result<Value, LangError>>,
    /// For a `case-lambda` procedure, its clauses: the evaluator picks one itself so a call
    /// in tail position stays a tail call (`func` does the same for calls from builtins).
    pub case_lambda: Option<std::rc::Rc<[Value]>>,
    /// For a parameter object (`make-parameter`), its cell, so `parameterize` can rebind it.
    pub parameter: Option<Rc<ParameterCell>>,
}

/// The state of an R7RS parameter object: its current value and converter.
pub struct ParameterCell {
    pub value: RefCell<Value>,
    pub converter: Option<Value>,
}

/// A struct type: its name and field names. Two types with the same name and fields are
/// the same type, so a printed struct reads back `equal?` to the original.
#[derive(Debug)]
pub struct StructType {
    pub name: Sym,
    pub fields: Vec<Sym>,
    /// Records from `define-record-type` with modifiers can be changed in place.
    pub mutable: bool,
}

/// Struct types are identified by name and arity (field names are for accessors only),
/// so a printed `#s(point 1 2)` reads back equal to the `point` it came from.
impl Ord for StructType {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name
            .cmp(&other.name)
            .then(self.fields.len().cmp(&other.fields.len()))
    }
}
impl PartialOrd for StructType {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for StructType {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for StructType {}

/// A struct instance (immutable unless its type is `mutable`).
pub struct StructValue {
    pub stype: Rc<StructType>,
    pub fields: RefCell<Vec<Value>>,
}

impl Drop for StructValue {
    fn drop(&mut self) {
        if super::memory::should_defer_drop() {
            super::memory::defer_drop(std::mem::take(&mut *self.fields.borrow_mut()));
        }
    }
}

/// A condition raised by `error` or by the runtime: message, irritants, stable code.
pub struct ErrorObject {
    pub message: String,
    pub irritants: Vec<Value>,
    /// The full diagnostic, so a caught and re-raised error keeps its span and stack.
    pub origin: Option<Box<LangError>>,
}

/// Objects owned by native layers, exposed to scripts as opaque handles.
pub trait NativeObject: Any {
    fn type_name(&self) -> &'static str;
    /// Printed form, `#<type ...>` by convention.
    fn describe(&self) -> String;
    fn as_any(&self) -> &dyn Any;
    /// Structural equality with another native object; identity by default.
    fn equal(&self, other: &dyn NativeObject) -> bool {
        std::ptr::eq(
            self.as_any() as *const dyn Any as *const u8,
            other.as_any() as *const dyn Any as *const u8,
        )
    }
}

impl Value {
    pub fn sym(name: &str) -> Value {
        Value::Symbol(Sym::new(name))
    }
    pub fn string(s: &str) -> Value {
        Value::Str(s.into())
    }
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(b.into())
    }
    pub fn cons(a: Value, b: Value) -> Value {
        Value::Pair(Rc::new(Cons(a, b)))
    }
    pub fn from_bigint(n: BigInt) -> Value {
        use num_traits::ToPrimitive;
        match n.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::Big(Rc::new(n)),
        }
    }
    /// A persistent vector (`[...]`).
    pub fn vector(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Vector(Rc::new(items.into_iter().collect()))
    }
    /// An R7RS (mutable) vector (`#(...)`).
    pub fn mvector(items: Vec<Value>) -> Value {
        Value::MVector(Rc::new(MVec(RefCell::new(items), false)))
    }
    /// A read-only R7RS vector (a literal constant).
    pub fn literal_mvector(items: Vec<Value>) -> Value {
        Value::MVector(Rc::new(MVec(RefCell::new(items), true)))
    }
    /// A box holding `v`.
    pub fn new_box(v: Value) -> Value {
        Value::MutableBox(Rc::new(MBox(RefCell::new(v))))
    }
    /// A struct instance of type `t`.
    pub fn new_struct(t: Rc<StructType>, fields: Vec<Value>) -> Value {
        Value::Struct(Rc::new(StructValue {
            stype: t,
            fields: RefCell::new(fields),
        }))
    }
    /// An R7RS mutable string.
    pub fn mstring(s: String) -> Value {
        Value::MString(Rc::new(RefCell::new(s)))
    }
    /// An R7RS bytevector.
    pub fn mbytes(b: Vec<u8>) -> Value {
        Value::MBytes(Rc::new(MBytes(RefCell::new(b), false)))
    }
    /// A read-only bytevector (a literal constant).
    pub fn literal_mbytes(b: Vec<u8>) -> Value {
        Value::MBytes(Rc::new(MBytes(RefCell::new(b), true)))
    }
    /// True for both kinds of string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Str(_) | Value::MString(_))
    }
    /// A proper list of the items.
    pub fn list(items: impl IntoIterator<Item = Value, IntoIter: DoubleEndedIterator>) -> Value {
        Self::list_with_tail(items, Value::Nil)
    }
    pub fn list_with_tail(
        items: impl IntoIterator<Item = Value, IntoIter: DoubleEndedIterator>,
        tail: Value,
    ) -> Value {
        items
            .into_iter()
            .rev()
            .fold(tail, |acc, v| Value::cons(v, acc))
    }
    pub fn is_true(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }

    /// The items of a proper list, or `None` for improper or cyclic-free non-lists.
    pub fn list_to_vec(&self) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        let mut cur = self;
        loop {
            match cur {
                Value::Nil => return Some(out),
                Value::Pair(p) => {
                    out.push(p.0.clone());
                    cur = &p.1;
                }
                _ => return None,
            }
        }
    }

    pub fn is_list(&self) -> bool {
        let mut cur = self;
        loop {
            match cur {
                Value::Nil => return true,
                Value::Pair(p) => cur = &p.1,
                _ => return false,
            }
        }
    }

    pub fn is_procedure(&self) -> bool {
        matches!(
            self,
            Value::Procedure(_) | Value::Primitive(_) | Value::NativeProc(_) | Value::StructType(_)
        )
    }

    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Value::Int(_) | Value::Big(_) | Value::Rational(_) | Value::Float(_)
        )
    }

    /// A short name for the value's type, used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "empty list",
            Value::Void => "void",
            Value::Undefined => "undefined",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Big(_) => "integer",
            Value::Rational(_) => "rational",
            Value::Float(_) => "float",
            Value::Char(_) => "char",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Symbol(_) => "symbol",
            Value::Keyword(_) => "keyword",
            Value::Pair(_) => "pair",
            Value::Vector(_) => "vector",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::Struct(_) => "struct",
            Value::StructType(_) => "struct type",
            Value::Procedure(_) | Value::Primitive(_) | Value::NativeProc(_) => "procedure",
            Value::Error(_) => "error object",
            Value::MutableBox(_) => "box",
            Value::MVector(_) => "vector",
            Value::MString(_) => "string",
            Value::MBytes(_) => "bytevector",
            Value::Values(_) => "multiple values",
            Value::Native(n) => n.type_name(),
        }
    }

    /// Rank of the value's type in the total order used by maps, sets and `sort`.
    fn rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Void => 1,
            Value::Undefined => 2,
            Value::Bool(_) => 3,
            Value::Int(_) | Value::Big(_) | Value::Rational(_) => 4,
            Value::Float(_) => 5,
            Value::Char(_) => 6,
            Value::Str(_) | Value::MString(_) => 7,
            Value::Symbol(_) => 8,
            Value::Keyword(_) => 9,
            Value::Bytes(_) | Value::MBytes(_) => 10,
            Value::Pair(_) => 11,
            Value::Vector(_) | Value::MVector(_) => 12,
            Value::Map(_) => 13,
            Value::Set(_) => 14,
            Value::Struct(_) => 15,
            Value::StructType(_) => 16,
            Value::Error(_) => 17,
            Value::MutableBox(_) => 18,
            Value::Values(_) => 19,
            Value::Procedure(_) | Value::Primitive(_) | Value::NativeProc(_) => 20,
            Value::Native(_) => 21,
        }
    }

    /// Identity of heap values (for `eq?` and the order of otherwise incomparable values).
    fn address(&self) -> usize {
        match self {
            Value::Procedure(p) => Rc::as_ptr(p) as *const u8 as usize,
            Value::Primitive(p) => *p as *const Primitive as usize,
            Value::NativeProc(p) => Rc::as_ptr(p) as *const u8 as usize,
            Value::MutableBox(b) => Rc::as_ptr(b) as *const u8 as usize,
            Value::MVector(v) => Rc::as_ptr(v) as *const u8 as usize,
            Value::MString(v) => Rc::as_ptr(v) as *const u8 as usize,
            Value::MBytes(v) => Rc::as_ptr(v) as *const u8 as usize,
            Value::Native(n) => Rc::as_ptr(n) as *const u8 as usize,
            Value::Error(e) => Rc::as_ptr(e) as *const u8 as usize,
            Value::Pair(p) => Rc::as_ptr(p) as *const u8 as usize,
            Value::Vector(v) => Rc::as_ptr(v) as *const u8 as usize,
            Value::Map(m) => Rc::as_ptr(m) as *const u8 as usize,
            Value::Set(s) => Rc::as_ptr(s) as *const u8 as usize,
            Value::Struct(s) => Rc::as_ptr(s) as *const u8 as usize,
            Value::Str(s) => Rc::as_ptr(s) as *const u8 as usize,
            Value::Bytes(b) => Rc::as_ptr(b) as *const u8 as usize,
            Value::Values(v) => Rc::as_ptr(v) as *const u8 as usize,
            Value::StructType(t) => Rc::as_ptr(t) as *const u8 as usize,
            _ => 0,
        }
    }

    /// `eq?`: identity for heap values, value for immediates (small integers, chars, symbols).
    pub fn is_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) | (Value::Void, Value::Void) => true,
            (Value::Undefined, Value::Undefined) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Char(a), Value::Char(b)) => a == b,
            (Value::Symbol(a), Value::Symbol(b)) | (Value::Keyword(a), Value::Keyword(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a.is_empty() && b.is_empty() || Rc::ptr_eq(a, b),
            _ => {
                self.rank() == other.rank()
                    && self.address() != 0
                    && self.address() == other.address()
            }
        }
    }

    /// `eqv?`: `eq?` plus numbers compared by exact value and exactness.
    pub fn is_eqv(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Big(a), Value::Big(b)) => a == b,
            (Value::Rational(a), Value::Rational(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            _ => self.is_eq(other),
        }
    }
}

/// `equal?`: structural equality; numbers by `eqv?` (so 1 and 1.0 differ).
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A total order over all values: by type rank, then by content. Numbers compare
/// numerically; floats with `total_cmp`. Procedures and handles compare by identity.
impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        let (ra, rb) = (self.rank(), other.rank());
        if ra != rb {
            return ra.cmp(&rb);
        }
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Symbol(a), Value::Symbol(b)) => a.cmp(b),
            (Value::Keyword(a), Value::Keyword(b)) => a.cmp(b),
            (Value::Char(a), Value::Char(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            _ => self.cmp_compound(other, ra),
        }
    }
}

impl Value {
    /// `Ord` for everything but the common immediate cases (kept out of line so map
    /// lookups on small keys stay short); recursion into containers is stack-guarded.
    fn cmp_compound(&self, other: &Value, ra: u8) -> Ordering {
        super::memory::guard_deep_data();
        match (self, other) {
            (a, b) if ra == 4 => super::number::compare_exact(a, b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Char(a), Value::Char(b)) => a.cmp(b),
            (a, b) if ra == 7 => a.with_text(|x| b.with_text(|y| x.cmp(y))),
            (a, b) if ra == 10 => a.with_bytes(|x| b.with_bytes(|y| x.cmp(y))),
            (Value::Pair(_), Value::Pair(_)) => cmp_pairs(self, other),
            (Value::Vector(a), Value::Vector(b)) => a.iter().cmp(b.iter()),
            (Value::MVector(a), Value::MVector(b)) if Rc::ptr_eq(a, b) => Ordering::Equal,
            (Value::MVector(a), Value::MVector(b)) => a.borrow().iter().cmp(b.borrow().iter()),
            (Value::MVector(a), Value::Vector(b)) => a.borrow().iter().cmp(b.iter()),
            (Value::Vector(a), Value::MVector(b)) => a.iter().cmp(b.borrow().iter()),
            (Value::Map(a), Value::Map(b)) => a.iter().cmp(b.iter()),
            (Value::Set(a), Value::Set(b)) => a.iter().cmp(b.iter()),
            (Value::Struct(a), Value::Struct(b)) if Rc::ptr_eq(a, b) => Ordering::Equal,
            (Value::Struct(a), Value::Struct(b)) => a
                .stype
                .cmp(&b.stype)
                .then_with(|| a.fields.borrow().cmp(&b.fields.borrow())),
            (Value::StructType(a), Value::StructType(b)) => a.cmp(b),
            (Value::Values(a), Value::Values(b)) => a.iter().cmp(b.iter()),
            (Value::Error(a), Value::Error(b)) => a
                .message
                .cmp(&b.message)
                .then_with(|| a.irritants.cmp(&b.irritants)),
            (Value::Native(a), Value::Native(b)) if a.equal(b.as_ref()) => Ordering::Equal,
            _ => self.address().cmp(&other.address()),
        }
    }

    /// Runs `f` on the text of either kind of string (the empty string for non-strings).
    pub fn with_text<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        match self {
            Value::Str(s) => f(s),
            Value::MString(s) => f(&s.borrow()),
            _ => f(""),
        }
    }

    /// Runs `f` on the bytes of either kind of byte string (empty for anything else).
    pub fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        match self {
            Value::Bytes(b) => f(b),
            Value::MBytes(b) => f(&b.borrow()),
            _ => f(&[]),
        }
    }
}

/// Compares lists iteratively along the cdr chain so long lists cannot exhaust the stack.
fn cmp_pairs(a: &Value, b: &Value) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a, b) {
            (Value::Pair(x), Value::Pair(y)) => {
                if Rc::ptr_eq(x, y) {
                    return Ordering::Equal;
                }
                match x.0.cmp(&y.0) {
                    Ordering::Equal => {
                        a = &x.1;
                        b = &y.1;
                    }
                    o => return o,
                }
            }
            _ => return a.cmp(b),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", super::printer::write_string(self))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", super::printer::display_string(self))
    }
}
