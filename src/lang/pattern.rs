//! `match` patterns and their run-time matching: literals, `_`, variables, quoted data,
//! lists (with a trailing `...` repetition), `cons`, vectors, maps, structs, `?` predicates,
//! `and`/`or`/`not`. Variables bind slots of the clause's frame.

use std::rc::Rc;

use super::diagnostics::LangError;
use super::eval::{Expr, Frame, Interp};
use super::symbol::Sym;
use super::value::Value;

pub enum Pattern {
    Wild,
    Bind(usize),
    /// A variable seen earlier in the same pattern: the value must be `equal?` to it.
    Same(usize),
    /// Compared with `equal?`.
    Literal(Value),
    /// Fixed elements, then optionally a repeated element (`p ...`) and the variables it binds
    /// (each becomes a list), then an optional tail pattern for the rest (`list-rest`).
    List {
        items: Vec<Pattern>,
        repeat: Option<(Box<Pattern>, Vec<usize>)>,
        tail: Option<Box<Pattern>>,
    },
    Cons(Box<Pattern>, Box<Pattern>),
    Vector(Vec<Pattern>),
    /// Keys that must be present, each with a pattern for its value.
    Map(Vec<(Value, Pattern)>),
    Struct {
        name: Sym,
        fields: Vec<Pattern>,
    },
    /// `(? pred p ...)`: the predicate (evaluated in the enclosing scope) must accept it.
    Predicate(Rc<Expr>, Vec<Pattern>),
    And(Vec<Pattern>),
    Or(Vec<Pattern>),
    Not(Box<Pattern>),
}

impl Pattern {
    /// Tries to match `v`, binding variables into `frame`. `env` evaluates predicates.
    pub fn matches(
        &self,
        interp: &mut Interp,
        v: &Value,
        frame: &Rc<Frame>,
        env: &Rc<Frame>,
    ) -> Result<bool, LangError> {
        Ok(match self {
            Pattern::Wild => true,
            Pattern::Bind(i) => {
                frame.slots.borrow_mut()[*i] = v.clone();
                true
            }
            Pattern::Same(i) => frame.slots.borrow().get(*i) == Some(v),
            Pattern::Literal(lit) => lit == v,
            Pattern::Cons(a, d) => match v {
                Value::Pair(p) => {
                    a.matches(interp, &p.0, frame, env)? && d.matches(interp, &p.1, frame, env)?
                }
                _ => false,
            },
            Pattern::List {
                items,
                repeat,
                tail,
            } => {
                let mut cur = v.clone();
                for p in items {
                    let Value::Pair(pair) = cur.clone() else {
                        return Ok(false);
                    };
                    if !p.matches(interp, &pair.0, frame, env)? {
                        return Ok(false);
                    }
                    cur = pair.1.clone();
                }
                if let Some((p, vars)) = repeat {
                    let mut collected: Vec<Vec<Value>> = vec![Vec::new(); vars.len()];
                    loop {
                        let Value::Pair(pair) = cur.clone() else {
                            break;
                        };
                        if tail.is_some() && !p.matches(interp, &pair.0, frame, env)? {
                            break;
                        }
                        if tail.is_none() && !p.matches(interp, &pair.0, frame, env)? {
                            return Ok(false);
                        }
                        for (k, var) in vars.iter().enumerate() {
                            collected[k].push(frame.slots.borrow()[*var].clone());
                        }
                        cur = pair.1.clone();
                    }
                    for (k, var) in vars.iter().enumerate() {
                        frame.slots.borrow_mut()[*var] =
                            Value::list(std::mem::take(&mut collected[k]));
                    }
                }
                match tail {
                    Some(t) => t.matches(interp, &cur, frame, env)?,
                    None => matches!(cur, Value::Nil),
                }
            }
            Pattern::Vector(items) => match v {
                Value::Vector(_) | Value::MVector(_) => {
                    let vec = super::builtins::vectors::vector_items(
                        std::slice::from_ref(v),
                        0,
                        "match",
                    )?;
                    if vec.len() != items.len() {
                        return Ok(false);
                    }
                    for (p, x) in items.iter().zip(vec.iter()) {
                        if !p.matches(interp, x, frame, env)? {
                            return Ok(false);
                        }
                    }
                    true
                }
                _ => false,
            },
            Pattern::Map(entries) => match v {
                Value::Map(m) => {
                    for (k, p) in entries {
                        match m.get(k) {
                            Some(x) => {
                                if !p.matches(interp, x, frame, env)? {
                                    return Ok(false);
                                }
                            }
                            None => return Ok(false),
                        }
                    }
                    true
                }
                _ => false,
            },
            Pattern::Struct { name, fields } => match v {
                Value::Struct(s)
                    if s.stype.name == *name && s.fields.borrow().len() == fields.len() =>
                {
                    let values = s.fields.borrow().clone();
                    for (p, x) in fields.iter().zip(&values) {
                        if !p.matches(interp, x, frame, env)? {
                            return Ok(false);
                        }
                    }
                    true
                }
                _ => false,
            },
            Pattern::Predicate(pred, rest) => {
                let f = interp.eval(pred, env)?;
                if !interp
                    .apply(&f, vec![v.clone()], Default::default())?
                    .is_true()
                {
                    return Ok(false);
                }
                for p in rest {
                    if !p.matches(interp, v, frame, env)? {
                        return Ok(false);
                    }
                }
                true
            }
            Pattern::And(ps) => {
                for p in ps {
                    if !p.matches(interp, v, frame, env)? {
                        return Ok(false);
                    }
                }
                true
            }
            Pattern::Or(ps) => {
                for p in ps {
                    if p.matches(interp, v, frame, env)? {
                        return Ok(true);
                    }
                }
                false
            }
            Pattern::Not(p) => !p.matches(interp, v, frame, env)?,
        })
    }
}
