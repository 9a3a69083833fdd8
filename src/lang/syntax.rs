//! Syntax: the reader's output. A datum tree where every node keeps its source span, so the
//! expander, compiler and runtime can point diagnostics at the exact text.

use std::rc::Rc;

use imbl::{OrdMap, OrdSet};

use super::source::Span;
use super::symbol::Sym;
use super::value::{StructType, Value};

#[derive(Clone, Debug)]
pub struct Syntax {
    pub datum: Datum,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Datum {
    /// Self-evaluating atoms: numbers, strings, chars, booleans, bytes, keywords.
    Atom(Value),
    Symbol(Sym),
    List(Vec<Syntax>),
    /// `(a b . c)`
    Dotted(Vec<Syntax>, Box<Syntax>),
    /// `[a b]`: a vector whose elements are evaluated.
    Vector(Vec<Syntax>),
    /// `#(a b)`: a constant vector (R7RS).
    ConstVector(Vec<Syntax>),
    /// `{k v ...}`: a map whose keys and values are evaluated.
    Map(Vec<Syntax>),
    /// `#{a b}`: a set whose elements are evaluated.
    Set(Vec<Syntax>),
    /// `#s(name field ...)`: a struct literal (constant).
    Struct(Vec<Syntax>),
}

impl Syntax {
    pub fn new(datum: Datum, span: Span) -> Syntax {
        Syntax { datum, span }
    }
    pub fn symbol(&self) -> Option<Sym> {
        match &self.datum {
            Datum::Symbol(s) => Some(*s),
            _ => None,
        }
    }
    pub fn is_symbol(&self, name: &str) -> bool {
        matches!(&self.datum, Datum::Symbol(s) if &*s.name() == name)
    }
    /// Items of a proper list, or of a bracketed vector (binding forms accept `[x v]`).
    pub fn list_like(&self) -> Option<&[Syntax]> {
        match &self.datum {
            Datum::List(items) | Datum::Vector(items) => Some(items),
            _ => None,
        }
    }
    pub fn list(&self) -> Option<&[Syntax]> {
        match &self.datum {
            Datum::List(items) => Some(items),
            _ => None,
        }
    }
    pub fn keyword(&self) -> Option<Sym> {
        match &self.datum {
            Datum::Atom(Value::Keyword(k)) => Some(*k),
            _ => None,
        }
    }

    /// The plain value this syntax denotes when quoted.
    pub fn to_value(&self) -> Value {
        let all = |items: &[Syntax]| items.iter().map(Syntax::to_value).collect::<Vec<_>>();
        match &self.datum {
            Datum::Atom(v) => v.clone(),
            Datum::Symbol(s) => Value::Symbol(s.unalias()),
            Datum::List(items) => Value::list(all(items)),
            Datum::Dotted(items, tail) => Value::list_with_tail(all(items), tail.to_value()),
            Datum::Vector(items) => Value::vector(all(items)),
            Datum::ConstVector(items) => Value::literal_mvector(all(items)),
            Datum::Map(items) => {
                let vals = all(items);
                let map: OrdMap<Value, Value> = vals
                    .chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| (c[0].clone(), c[1].clone()))
                    .collect();
                Value::Map(Rc::new(map))
            }
            Datum::Set(items) => Value::Set(Rc::new(all(items).into_iter().collect::<OrdSet<_>>())),
            Datum::Struct(items) => {
                let vals = all(items);
                let name = match vals.first() {
                    Some(Value::Symbol(s)) => *s,
                    _ => Sym::new("struct"),
                };
                let fields: Vec<Value> = vals.into_iter().skip(1).collect();
                let stype = StructType::anonymous_fields(name, fields.len());
                Value::new_struct(stype, fields)
            }
        }
    }

    /// Turns a runtime value back into syntax (for `eval` and macro output), giving every
    /// node the span of the place that asked.
    pub fn from_value(v: &Value, span: Span) -> Result<Syntax, String> {
        if super::memory::stack_low() {
            return Err("the datum is nested too deeply to evaluate".to_string());
        }
        let datum = match v {
            Value::Symbol(s) => Datum::Symbol(*s),
            Value::Pair(_) => {
                let mut items = Vec::new();
                let mut cur = v.clone();
                loop {
                    match cur {
                        Value::Pair(p) => {
                            items.push(Syntax::from_value(&p.0, span)?);
                            cur = p.1.clone();
                        }
                        Value::Nil => break Datum::List(items),
                        tail => {
                            break Datum::Dotted(items, Box::new(Syntax::from_value(&tail, span)?))
                        }
                    }
                }
            }
            Value::Nil => Datum::List(vec![]),
            // A persistent vector value is a constant in code (it evaluates to itself).
            Value::Vector(_) => Datum::Atom(v.clone()),
            Value::MVector(items) => Datum::ConstVector(
                items
                    .borrow()
                    .iter()
                    .map(|x| Syntax::from_value(x, span))
                    .collect::<Result<_, _>>()?,
            ),
            other => Datum::Atom(other.clone()),
        };
        Ok(Syntax::new(datum, span))
    }
}

impl StructType {
    /// A struct type known only by name and arity (from a `#s(...)` literal).
    pub fn anonymous_fields(name: Sym, count: usize) -> Rc<StructType> {
        Rc::new(StructType {
            name,
            fields: (0..count).map(|i| Sym::new(&format!("field{i}"))).collect(),
            mutable: false,
        })
    }
}
