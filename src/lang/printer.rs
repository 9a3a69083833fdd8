//! The printer. `write` form reads back to an `equal?` value for all data (numbers, text,
//! bytes, symbols, keywords, lists, vectors, maps, sets, structs); `display` form is for
//! people. Procedures and handles print as unreadable `#<...>`.
//!
//! Cyclic data (through the mutable containers: R7RS vectors, boxes, mutable records) is
//! written with datum labels `#0=` / `#0#` (R7RS `write`); `write-shared` labels every
//! shared node, `write-simple` none. Every print has an output budget and stops at a
//! stack floor, so neither a huge nor a deeply nested value can hang or crash it.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write;

use super::number::format_number;
use super::reader::CHAR_NAMES;
use super::value::Value;

/// Which nodes get datum labels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Labels {
    /// Only nodes on a cycle (R7RS `write` and `display`).
    Cycles,
    /// Every node reached more than once (`write-shared`).
    Shared,
    /// None (`write-simple`): a cycle prints until the budget runs out.
    None,
}

thread_local! {
    /// Output budget of the unchecked entry points (`write_string`, `display_string`):
    /// the interpreter sets it from `Limits::max_alloc_bytes`.
    static DEFAULT_BUDGET: Cell<usize> = const { Cell::new(1 << 30) };
}

/// Sets the budget `write_string` and `display_string` truncate at.
pub fn set_default_budget(bytes: usize) {
    DEFAULT_BUDGET.with(|b| b.set(bytes.max(64)));
}

/// Why a checked print returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum TooLarge {
    /// The printed form would be longer than the budget.
    Long,
    /// The value nests deeper than the stack allows walking.
    Deep,
}

pub fn write_string(v: &Value) -> String {
    print_truncated(v, true, DEFAULT_BUDGET.with(Cell::get))
}

pub fn display_string(v: &Value) -> String {
    print_truncated(v, false, DEFAULT_BUDGET.with(Cell::get))
}

/// `write` form cut to about 80 characters, for error messages.
pub fn write_short(v: &Value) -> String {
    let s = print_truncated(v, true, 400);
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// The printed form, or `TooLarge` if it passes `budget` bytes (or nests deeper than the
/// stack allows). Used by the builtins that print, so an oversized print is an error.
pub fn print_checked(
    v: &Value,
    write: bool,
    labels: Labels,
    budget: usize,
) -> Result<String, TooLarge> {
    let mut p = Printer::new(v, write, labels, budget);
    p.print(v);
    if p.deep {
        Err(TooLarge::Deep)
    } else if p.over {
        Err(TooLarge::Long)
    } else {
        Ok(p.out)
    }
}

fn print_truncated(v: &Value, write: bool, budget: usize) -> String {
    let mut p = Printer::new(v, write, Labels::Cycles, budget);
    p.print(v);
    if p.over {
        p.out.truncate(floor_char_boundary(&p.out, budget));
        p.out.push_str("...");
    }
    p.out
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn symbol_needs_bars(name: &str) -> bool {
    name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "()[]{}\";'`,|\\".contains(c))
        || name.starts_with('#')
        || name == "."
        || matches!(super::number::parse_number(name), Ok(Some(_)) | Err(_))
}

/// Identity of a node that can be shared (and so labelled); `None` for atoms.
fn node_id(v: &Value) -> Option<usize> {
    let p = match v {
        Value::Pair(p) => std::rc::Rc::as_ptr(p) as *const u8,
        Value::Vector(p) => std::rc::Rc::as_ptr(p) as *const u8,
        Value::MVector(p) => std::rc::Rc::as_ptr(p) as *const u8,
        Value::Map(p) => std::rc::Rc::as_ptr(p) as *const u8,
        Value::Set(p) => std::rc::Rc::as_ptr(p) as *const u8,
        Value::Struct(p) => std::rc::Rc::as_ptr(p) as *const u8,
        Value::MutableBox(p) => std::rc::Rc::as_ptr(p) as *const u8,
        _ => return None,
    };
    Some(p as usize)
}

/// Can this node be part of a cycle (is it a mutable container)?
fn cycle_capable(v: &Value) -> bool {
    match v {
        Value::MVector(_) | Value::MutableBox(_) => true,
        Value::Struct(s) => s.stype.mutable,
        _ => false,
    }
}

/// The children of a node, in printing order.
fn children(v: &Value) -> Vec<Value> {
    match v {
        Value::Pair(p) => vec![p.0.clone(), p.1.clone()],
        Value::Vector(items) => items.iter().cloned().collect(),
        Value::MVector(items) => items.borrow().clone(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        Value::Set(s) => s.iter().cloned().collect(),
        Value::Struct(s) => s.fields.borrow().clone(),
        Value::MutableBox(b) => vec![b.borrow().clone()],
        Value::Values(vs) => vs.to_vec(),
        Value::Error(e) => e.irritants.clone(),
        _ => Vec::new(),
    }
}

/// True if `v` holds a mutable container within the first `budget` nodes (a value with
/// none cannot be cyclic, and needs no label pass).
fn has_cycle_capable(v: &Value, budget: usize) -> bool {
    let mut todo = vec![v.clone()];
    let mut seen = 0usize;
    while let Some(x) = todo.pop() {
        if cycle_capable(&x) {
            return true;
        }
        seen += 1;
        if seen > budget {
            return false;
        }
        match &x {
            Value::Pair(p) => {
                todo.push(p.1.clone());
                todo.push(p.0.clone());
            }
            x if node_id(x).is_some() || matches!(x, Value::Values(_) | Value::Error(_)) => {
                todo.extend(children(x))
            }
            _ => {}
        }
    }
    false
}

/// The nodes that need labels: an iterative depth-first walk that visits each node once.
fn find_labels(v: &Value, mode: Labels) -> HashMap<usize, Option<usize>> {
    enum Step {
        Enter(Value),
        Exit(usize),
    }
    #[derive(PartialEq)]
    enum State {
        OnPath,
        Done,
    }
    let mut state: HashMap<usize, State> = HashMap::new();
    let mut labels = HashMap::new();
    let mut todo = vec![Step::Enter(v.clone())];
    while let Some(step) = todo.pop() {
        match step {
            Step::Exit(id) => {
                state.insert(id, State::Done);
            }
            Step::Enter(x) => {
                let Some(id) = node_id(&x) else { continue };
                match state.get(&id) {
                    Some(State::OnPath) => {
                        labels.insert(id, None);
                    }
                    Some(State::Done) => {
                        if mode == Labels::Shared {
                            labels.insert(id, None);
                        }
                    }
                    None => {
                        state.insert(id, State::OnPath);
                        todo.push(Step::Exit(id));
                        for c in children(&x).into_iter().rev() {
                            todo.push(Step::Enter(c));
                        }
                    }
                }
            }
        }
    }
    labels
}

struct Printer {
    out: String,
    write: bool,
    budget: usize,
    over: bool,
    /// Set when printing stopped at the stack floor.
    deep: bool,
    /// Node id -> its label number once printed (`None`: needs a label, not printed yet).
    labels: HashMap<usize, Option<usize>>,
    next_label: usize,
}

impl Printer {
    fn new(v: &Value, write: bool, mode: Labels, budget: usize) -> Printer {
        let labels = match mode {
            Labels::None => HashMap::new(),
            Labels::Shared => find_labels(v, mode),
            Labels::Cycles if has_cycle_capable(v, budget) => find_labels(v, mode),
            Labels::Cycles => HashMap::new(),
        };
        Printer {
            out: String::new(),
            write,
            budget,
            over: false,
            deep: false,
            labels,
            next_label: 0,
        }
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
        if self.out.len() > self.budget {
            self.over = true;
        }
    }

    fn push_char(&mut self, c: char) {
        self.out.push(c);
        if self.out.len() > self.budget {
            self.over = true;
        }
    }

    /// Writes `#n#` for a labelled node already printed (returns true), or `#n=` before
    /// its first printing.
    fn label(&mut self, v: &Value) -> bool {
        let Some(id) = node_id(v) else { return false };
        match self.labels.get(&id).copied() {
            None => false,
            Some(Some(n)) => {
                self.push(&format!("#{n}#"));
                true
            }
            Some(None) => {
                let n = self.next_label;
                self.next_label += 1;
                self.labels.insert(id, Some(n));
                self.push(&format!("#{n}="));
                false
            }
        }
    }

    fn seq<'a>(&mut self, items: impl Iterator<Item = &'a Value>) {
        for (i, v) in items.enumerate() {
            if self.over {
                return;
            }
            if i > 0 {
                self.push_char(' ');
            }
            self.print(v);
        }
    }

    fn print(&mut self, v: &Value) {
        if self.over {
            return;
        }
        if super::memory::stack_low() {
            // Deeper than the stack allows: the output is cut here, as if over budget.
            self.over = true;
            self.deep = true;
            return;
        }
        if !self.labels.is_empty() && self.label(v) {
            return;
        }
        match v {
            Value::Nil => self.push("()"),
            Value::Void => self.push("#<void>"),
            Value::Undefined => self.push("#<undefined>"),
            Value::Bool(true) => self.push("#t"),
            Value::Bool(false) => self.push("#f"),
            Value::Int(_) | Value::Big(_) | Value::Rational(_) | Value::Float(_) => {
                self.push(&format_number(v, 10))
            }
            Value::Char(c) => self.char(*c),
            Value::Str(s) => self.text(s),
            Value::MString(s) => {
                let s = s.borrow().clone();
                self.text(&s)
            }
            Value::Bytes(b) => self.push(&format!("#x\"{}\"", hex(b))),
            Value::MBytes(b) => {
                let b = b.borrow().clone();
                self.push("#u8(");
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        self.push_char(' ');
                    }
                    self.push(&x.to_string());
                    if self.over {
                        return;
                    }
                }
                self.push_char(')');
            }
            Value::Symbol(s) => self.symbol(&s.name()),
            Value::Keyword(k) => self.push(&format!("#:{k}")),
            Value::Pair(_) => self.pair(v),
            Value::Vector(items) => {
                self.push_char('[');
                self.seq(items.iter());
                self.push_char(']');
            }
            Value::MVector(items) => {
                let items = items.borrow().clone();
                self.push("#(");
                self.seq(items.iter());
                self.push_char(')');
            }
            Value::Map(m) => {
                self.push_char('{');
                for (i, (k, val)) in m.iter().enumerate() {
                    if self.over {
                        return;
                    }
                    if i > 0 {
                        self.push_char(' ');
                    }
                    self.print(k);
                    self.push_char(' ');
                    self.print(val);
                }
                self.push_char('}');
            }
            Value::Set(s) => {
                self.push("#{");
                self.seq(s.iter());
                self.push_char('}');
            }
            Value::Struct(s) => {
                let fields = s.fields.borrow().clone();
                self.push(&format!("#s({}", s.stype.name));
                for f in &fields {
                    self.push_char(' ');
                    self.print(f);
                }
                self.push_char(')');
            }
            Value::StructType(t) => self.push(&format!("#<struct-type {}>", t.name)),
            Value::Procedure(c) => self.push(&format!("#<procedure {}>", c.name())),
            Value::Primitive(p) => self.push(&format!("#<procedure {}>", p.name)),
            Value::NativeProc(p) => self.push(&format!("#<procedure {}>", p.name)),
            Value::Error(e) => {
                if self.write {
                    self.push("#<error ");
                    let mut lit = String::new();
                    write_string_literal(&e.message, &mut lit);
                    self.push(&lit);
                } else {
                    self.push(&e.message);
                }
                let saved = self.write;
                self.write = true;
                for i in &e.irritants {
                    self.push_char(' ');
                    self.print(i);
                }
                self.write = saved;
                if self.write {
                    self.push_char('>');
                }
            }
            Value::MutableBox(b) => {
                let inner = b.borrow().clone();
                self.push("#<box ");
                self.print(&inner);
                self.push_char('>');
            }
            Value::Values(vs) => self.seq(vs.iter()),
            Value::Native(n) => self.push(&n.describe()),
        }
    }

    fn char(&mut self, c: char) {
        if !self.write {
            self.push_char(c);
            return;
        }
        match CHAR_NAMES.iter().find(|(_, ch)| *ch == c) {
            Some((name, _)) => self.push(&format!("#\\{name}")),
            None if c.is_control() => self.push(&format!("#\\x{:x}", c as u32)),
            None => self.push(&format!("#\\{c}")),
        }
    }

    fn text(&mut self, s: &str) {
        if self.write {
            let mut lit = String::with_capacity(s.len() + 2);
            write_string_literal(s, &mut lit);
            self.push(&lit);
        } else {
            self.push(s);
        }
    }

    fn symbol(&mut self, name: &str) {
        if !(self.write && symbol_needs_bars(name)) {
            self.push(name);
            return;
        }
        let mut out = String::from("|");
        for c in name.chars() {
            match c {
                '|' => out.push_str("\\|"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let _ = write!(out, "\\x{:x};", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('|');
        self.push(&out);
    }

    fn pair(&mut self, v: &Value) {
        let Value::Pair(p) = v else { return };
        if let (Value::Symbol(s), Value::Pair(rest)) = (&p.0, &p.1) {
            let unlabelled = node_id(&p.1).is_none_or(|id| !self.labels.contains_key(&id));
            if matches!(rest.1, Value::Nil) && unlabelled {
                let prefix = match &*s.name() {
                    "quote" => Some("'"),
                    "quasiquote" => Some("`"),
                    "unquote" => Some(","),
                    "unquote-splicing" => Some(",@"),
                    _ => None,
                };
                if let Some(prefix) = prefix {
                    self.push(prefix);
                    self.print(&rest.0);
                    return;
                }
            }
        }
        self.push_char('(');
        let mut cur = v.clone();
        let mut first = true;
        loop {
            if self.over {
                return;
            }
            match &cur {
                Value::Pair(p) => {
                    if !first {
                        // A labelled pair in the tail is printed as a dotted tail, so its
                        // label can be written.
                        if !self.labels.is_empty()
                            && node_id(&cur).is_some_and(|id| self.labels.contains_key(&id))
                        {
                            self.push(" . ");
                            self.print(&cur.clone());
                            break;
                        }
                        self.push_char(' ');
                    }
                    self.print(&p.0);
                    first = false;
                    let next = p.1.clone();
                    cur = next;
                }
                Value::Nil => break,
                tail => {
                    let tail = tail.clone();
                    self.push(" . ");
                    self.print(&tail);
                    break;
                }
            }
        }
        self.push_char(')');
    }
}

fn write_string_literal(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
