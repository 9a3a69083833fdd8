//! R7RS promises (4.2.5: `delay`, `delay-force`, `make-promise`, `force`) and parameter
//! objects (4.2.6: `make-parameter`, `parameterize`). `force` follows the report's
//! reference implementation, so a chain of `delay-force` runs in constant space.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use super::{bool_value, proc_arg, type_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, NativeProc, ParameterCell, Primitive, Value};

type R = Result<Value, LangError>;

/// A promise's state: its value once forced, or the thunk that computes it.
#[derive(Clone)]
enum State {
    Done(Value),
    /// A thunk returning a promise (`delay-force`), or any value (`delay`, `is_delay`).
    Lazy {
        thunk: Value,
        is_delay: bool,
    },
}

/// A promise: a shared box of state, so forcing one promise updates those it was chained to.
pub struct Promise {
    cell: RefCell<Rc<RefCell<State>>>,
}

impl NativeObject for Promise {
    fn type_name(&self) -> &'static str {
        "promise"
    }
    fn describe(&self) -> String {
        "#<promise>".to_string()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn promise(state: State) -> Value {
    Value::Native(Rc::new(Promise {
        cell: RefCell::new(Rc::new(RefCell::new(state))),
    }))
}

fn as_promise(v: &Value) -> Option<&Promise> {
    match v {
        Value::Native(n) => n.as_any().downcast_ref::<Promise>(),
        _ => None,
    }
}

/// `(%make-lazy-promise thunk is-delay)`: what `delay` and `delay-force` compile to.
fn make_lazy(_: &mut Interp, a: &[Value], _: Span) -> R {
    let thunk = proc_arg(a, 0, "delay")?;
    Ok(promise(State::Lazy {
        thunk,
        is_delay: a[1].is_true(),
    }))
}
fn make_promise(_: &mut Interp, a: &[Value], _: Span) -> R {
    if as_promise(&a[0]).is_some() {
        return Ok(a[0].clone());
    }
    Ok(promise(State::Done(a[0].clone())))
}
fn is_promise(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(as_promise(&a[0]).is_some())
}
fn force(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let Some(p) = as_promise(&a[0]) else {
        // R7RS allows force of a non-promise to return it.
        return Ok(a[0].clone());
    };
    loop {
        let state = p.cell.borrow().borrow().clone();
        let (thunk, is_delay) = match state {
            State::Done(v) => return Ok(v),
            State::Lazy { thunk, is_delay } => (thunk, is_delay),
        };
        let produced = interp.apply(&thunk, vec![], span)?;
        // The thunk may itself have forced this promise (reentrancy): the first value wins.
        if let State::Done(v) = &*p.cell.borrow().borrow() {
            return Ok(v.clone());
        }
        if is_delay {
            *p.cell.borrow().borrow_mut() = State::Done(produced);
            continue;
        }
        let Some(next) = as_promise(&produced) else {
            return Err(type_error(
                "delay-force",
                0,
                "an expression giving a promise",
                &produced,
            ));
        };
        // promise-update!: this promise takes the next one's state, and they share it.
        let next_state = next.cell.borrow().borrow().clone();
        *p.cell.borrow().borrow_mut() = next_state;
        let shared = p.cell.borrow().clone();
        *next.cell.borrow_mut() = shared;
    }
}

/// `(make-parameter value [converter])`: a procedure returning the current value.
fn make_parameter(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let converter = match a.get(1) {
        Some(_) => Some(proc_arg(a, 1, "make-parameter")?),
        None => None,
    };
    let initial = match &converter {
        Some(c) => interp.apply(c, vec![a[0].clone()], span)?,
        None => a[0].clone(),
    };
    let cell = Rc::new(ParameterCell {
        value: RefCell::new(initial),
        converter,
    });
    let own = cell.clone();
    Ok(Value::NativeProc(Rc::new(NativeProc {
        name: "parameter".to_string(),
        min_args: 0,
        max_args: Some(0),
        func: Box::new(move |_, _, _| Ok(own.value.borrow().clone())),
        case_lambda: None,
        parameter: Some(cell),
    })))
}

/// `(%parameterize (p ...) (v ...) thunk)`: what `parameterize` compiles to. Values go
/// through each parameter's converter, the thunk runs with them, and the old values come
/// back however the thunk ends (value, error or escape).
fn parameterize(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let params = super::list_arg(a, 0, "parameterize")?;
    let values = super::list_arg(a, 1, "parameterize")?;
    let thunk = proc_arg(a, 2, "parameterize")?;
    let mut cells = Vec::with_capacity(params.len());
    for p in &params {
        match p {
            Value::NativeProc(n) if n.parameter.is_some() => {
                cells.extend(n.parameter.clone());
            }
            v => return Err(type_error("parameterize", 0, "a parameter object", v)),
        }
    }
    let mut converted = Vec::with_capacity(values.len());
    for (cell, v) in cells.iter().zip(values) {
        converted.push(match &cell.converter {
            Some(c) => interp.apply(c, vec![v], span)?,
            None => v,
        });
    }
    let old: Vec<Value> = cells
        .iter()
        .zip(converted)
        .map(|(cell, v)| cell.value.replace(v))
        .collect();
    let result = interp.apply(&thunk, vec![], span);
    for (cell, v) in cells.iter().zip(old) {
        *cell.value.borrow_mut() = v;
    }
    result
}

/// The cell of a parameter object, for native code that reads or rebinds one (ports).
pub fn parameter_cell(v: &Value) -> Option<&Rc<ParameterCell>> {
    match v {
        Value::NativeProc(n) => n.parameter.as_ref(),
        _ => None,
    }
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "%make-lazy-promise", 2, Some(2), make_lazy, "Implementation of delay and delay-force.", "(delay (+ 1 2))";
    "make-promise", 1, Some(1), make_promise, "A promise already forced to a value (a promise is returned as is).", "(force (make-promise 5)) => 5";
    "promise?", 1, Some(1), is_promise, "Is it a promise?", "(promise? (delay 1)) => #t";
    "force", 1, Some(1), force, "The value of a promise, computing it the first time only.", "(force (delay (+ 1 2))) => 3";
    "make-parameter", 1, Some(2), make_parameter, "A parameter object with a value and an optional converter.", "((make-parameter 10)) => 10";
    "%parameterize", 3, Some(3), parameterize, "Implementation of parameterize.", "(parameterize ([p 1]) (p))";
];
