//! Control builtins: equality, booleans, procedures, multiple values, errors (`raise`,
//! `error`, error objects), escape continuations, `dynamic-wind`, boxes and `exit`.

use std::rc::Rc;

use super::{bool_value, proc_arg, type_error};
use crate::lang::diagnostics::{Code, Control, LangError};
use crate::lang::eval::{Handler, Interp};
use crate::lang::printer::write_short;
use crate::lang::source::Span;
use crate::lang::value::{ErrorObject, NativeProc, Primitive, Value};

type R = Result<Value, LangError>;

/// The value a handler sees for a caught error: the raised value itself, or an error
/// object that remembers the original diagnostic (so re-raising keeps span and stack).
pub fn error_to_value(e: LangError) -> Value {
    match &e.payload {
        Some(Value::Error(obj)) if obj.origin.is_none() => {
            let mut origin = e.clone();
            origin.payload = None;
            Value::Error(Rc::new(ErrorObject {
                message: obj.message.clone(),
                irritants: obj.irritants.clone(),
                origin: Some(Box::new(origin)),
            }))
        }
        Some(v) => v.clone(),
        None => Value::Error(Rc::new(ErrorObject {
            message: format!("{}: {}", e.code.title(), e.message),
            irritants: Vec::new(),
            origin: Some(Box::new(e)),
        })),
    }
}

fn eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_eq(&a[1]))
}
fn eqv(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_eqv(&a[1]))
}
fn equal(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0] == a[1])
}
fn not(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(!a[0].is_true())
}
fn is_boolean(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Bool(_)))
}
fn boolean_eq(_: &mut Interp, a: &[Value], _: Span) -> R {
    let mut first = None;
    for (i, v) in a.iter().enumerate() {
        let Value::Bool(b) = v else {
            return Err(type_error("boolean=?", i, "a boolean", v));
        };
        if first.is_some_and(|f| f != *b) {
            return Ok(Value::Bool(false));
        }
        first = Some(*b);
    }
    Ok(Value::Bool(true))
}
fn is_procedure(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(a[0].is_procedure())
}
fn void(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Void)
}
fn is_void(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Void))
}
fn identity(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(a[0].clone())
}
fn values(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(if a.len() == 1 {
        a[0].clone()
    } else {
        Value::Values(a.to_vec().into())
    })
}
fn call_with_values(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let (consumer, args) = call_with_values_parts(interp, a, span)?;
    interp.apply(&consumer, args, span)
}
/// Runs the producer of `(call-with-values producer consumer)` and returns the consumer with
/// its arguments; the evaluator makes that last call a proper tail call (R7RS 3.5).
pub fn call_with_values_parts(
    interp: &mut Interp,
    a: &[Value],
    span: Span,
) -> Result<(Value, Vec<Value>), LangError> {
    let producer = proc_arg(a, 0, "call-with-values")?;
    let consumer = proc_arg(a, 1, "call-with-values")?;
    let args = match interp.apply(&producer, vec![], span)? {
        Value::Values(vs) => vs.to_vec(),
        v => vec![v],
    };
    Ok((consumer, args))
}
fn raise(_: &mut Interp, a: &[Value], _: Span) -> R {
    if let Value::Error(obj) = &a[0] {
        if let Some(origin) = &obj.origin {
            // Re-raising a caught error keeps its diagnostic (span, stack) and the object
            // itself, so the next handler sees the same message and irritants.
            let mut e = (**origin).clone();
            e.payload = Some(a[0].clone());
            e.signalled = false;
            return Err(e);
        }
    }
    let mut e = LangError::new(
        Code::User,
        format!("uncaught exception: {}", write_short(&a[0])),
    );
    e.payload = Some(a[0].clone());
    Err(e)
}
/// R7RS `raise-continuable`: calls the innermost `with-exception-handler` handler (with the
/// outer handlers installed) and returns its value. With no handler, or a catching form
/// (`guard`) innermost, it raises like `raise`.
fn raise_continuable(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let Some(Handler::Procedure(handler)) = interp.exception_handlers.last().cloned() else {
        return raise(interp, a, span);
    };
    let level = interp.exception_handlers.len() - 1;
    let saved = interp.exception_handlers.split_off(level);
    let result = interp.apply(&handler, vec![a[0].clone()], span);
    interp.exception_handlers.truncate(level);
    interp.exception_handlers.extend(saved);
    result
}
/// R7RS `with-exception-handler`: runs the thunk with `handler` installed. The handler is
/// called where an error is raised, before anything unwinds (`Interp::signal`), with the
/// outer handlers installed; `raise-continuable` returns what it returns.
fn with_exception_handler(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let handler = proc_arg(a, 0, "with-exception-handler")?;
    let thunk = proc_arg(a, 1, "with-exception-handler")?;
    let level = interp.exception_handlers.len();
    interp.exception_handlers.push(Handler::Procedure(handler));
    let result = interp.apply(&thunk, vec![], span);
    interp.exception_handlers.truncate(level);
    result
}
fn error(_: &mut Interp, a: &[Value], _: Span) -> R {
    let (message, irritants) = match (&a[0], a.get(1)) {
        (Value::Symbol(who), Some(Value::Str(m))) => (format!("{who}: {m}"), a[2..].to_vec()),
        (Value::Symbol(who), _) => (who.name().to_string(), a[1..].to_vec()),
        (Value::Str(m), _) => (m.to_string(), a[1..].to_vec()),
        (other, _) => (write_short(other), a[1..].to_vec()),
    };
    let mut text = message.clone();
    for i in &irritants {
        text.push(' ');
        text.push_str(&write_short(i));
    }
    let mut e = LangError::new(Code::User, text);
    e.payload = Some(Value::Error(Rc::new(ErrorObject {
        message,
        irritants,
        origin: None,
    })));
    Err(e)
}
fn is_error(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Error(_)))
}
fn error_message(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Error(e) => Ok(Value::string(&e.message)),
        v => Err(type_error("error-object-message", 0, "an error object", v)),
    }
}
fn error_irritants(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Error(e) => Ok(Value::list(e.irritants.clone())),
        v => Err(type_error(
            "error-object-irritants",
            0,
            "an error object",
            v,
        )),
    }
}
fn error_code(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Error(e) => Ok(Value::string(
            e.origin.as_ref().map(|o| o.code.as_str()).unwrap_or("E007"),
        )),
        v => Err(type_error("error-object-code", 0, "an error object", v)),
    }
}
fn always_true(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Bool(true))
}
/// Escape-only continuations: `k` may be called while `f` is running, to return from it.
fn call_cc(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 0, "call/cc")?;
    let id = interp.fresh_escape_id();
    let k = Value::NativeProc(Rc::new(NativeProc {
        name: "continuation".to_string(),
        min_args: 0,
        max_args: None,
        func: Box::new(move |interp, args, _| {
            if !interp.live_escapes.contains(&id) {
                return Err(LangError::new(
                    Code::Value,
                    "a continuation was called after the call/cc that made it returned",
                )
                .with_hint("continuations are escape-only here: call k only while its call/cc is running (early exit); re-entry is not supported"));
            }
            let v = if args.len() == 1 {
                args[0].clone()
            } else {
                Value::Values(args.to_vec().into())
            };
            Err(LangError::control(Control::Escape(id), Some(v)))
        }),
        case_lambda: None,
        parameter: None,
    }));
    interp.live_escapes.push(id);
    let result = interp.apply(&f, vec![k], span);
    interp.live_escapes.retain(|x| *x != id);
    interp.catch_escape(id, result)
}
fn dynamic_wind(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let before = proc_arg(a, 0, "dynamic-wind")?;
    let thunk = proc_arg(a, 1, "dynamic-wind")?;
    let after = proc_arg(a, 2, "dynamic-wind")?;
    interp.apply(&before, vec![], span)?;
    let result = interp.apply(&thunk, vec![], span);
    interp.apply(&after, vec![], span)?;
    result
}
fn make_box(_: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::new_box(a[0].clone()))
}
fn unbox(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::MutableBox(b) => Ok(b.borrow().clone()),
        v => Err(type_error("unbox", 0, "a box", v)),
    }
}
fn set_box(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::MutableBox(b) => {
            *b.borrow_mut() = a[1].clone();
            Ok(Value::Void)
        }
        v => Err(type_error("set-box!", 0, "a box", v)),
    }
}
fn is_box(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::MutableBox(_)))
}
fn exit(_: &mut Interp, a: &[Value], _: Span) -> R {
    let code = match a.first() {
        None | Some(Value::Bool(true)) => 0,
        Some(Value::Int(n)) => i32::try_from(*n).unwrap_or(1),
        Some(_) => 1,
    };
    Err(LangError::control(Control::Exit(code), None))
}
/// Builds the procedure for a `case-lambda` form: dispatches on the argument count.
fn case_lambda(_: &mut Interp, a: &[Value], _: Span) -> R {
    let clauses: Rc<[Value]> = a.to_vec().into();
    let own = clauses.clone();
    Ok(Value::NativeProc(Rc::new(NativeProc {
        name: "case-lambda".to_string(),
        min_args: 0,
        max_args: None,
        func: Box::new(move |interp, args, span| {
            let clause = case_lambda_clause(&own, args.len())?;
            interp.apply(&clause, args.to_vec(), span)
        }),
        case_lambda: Some(clauses),
        parameter: None,
    })))
}

/// The first `case-lambda` clause that accepts `n` arguments.
pub fn case_lambda_clause(clauses: &[Value], n: usize) -> Result<Value, LangError> {
    for c in clauses {
        if let Value::Procedure(clo) = c {
            let info = &clo.info;
            if n >= info.required && (info.rest || n <= info.required + info.optional.len()) {
                return Ok(c.clone());
            }
        }
    }
    Err(LangError::new(
        Code::Arity,
        format!("case-lambda: no clause accepts {n} arguments"),
    ))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "eq?", 2, Some(2), eq, "Identity (same object; small numbers, chars and symbols by value).", "(eq? 'a 'a) => #t";
    "eqv?", 2, Some(2), eqv, "eq?, plus numbers of equal value and exactness.", "(eqv? 100000000000000000000 100000000000000000000) => #t";
    "equal?", 2, Some(2), equal, "Structural equality.", "(equal? '(1 [2]) '(1 [2])) => #t";
    "not", 1, Some(1), not, "#t for #f, else #f.", "(not #f) => #t";
    "boolean?", 1, Some(1), is_boolean, "Is it #t or #f?", "(boolean? #f) => #t";
    "boolean=?", 1, None, boolean_eq, "Are the booleans all the same?", "(boolean=? #f #f) => #t";
    "procedure?", 1, Some(1), is_procedure, "Can it be called?", "(procedure? car) => #t";
    "void", 0, None, void, "The value of forms evaluated for effect.", "(void? (void)) => #t";
    "void?", 1, Some(1), is_void, "Is it the void value?", "(void? (void)) => #t";
    "identity", 1, Some(1), identity, "Returns its argument.", "(identity 5) => 5";
    "values", 0, None, values, "Returns several values at once.", "(call-with-values (lambda () (values 1 2)) +) => 3";
    "call-with-values", 2, Some(2), call_with_values, "Calls a consumer with a producer's values.", "(call-with-values (lambda () (values 1 2)) list) => (1 2)";
    "raise", 1, Some(1), raise, "Raises any value as an exception.", "(guard (e [#t e]) (raise 'oops)) => oops";
    "raise-continuable", 1, Some(1), raise_continuable, "Raises a value to the innermost with-exception-handler handler and returns what it returns.", "(with-exception-handler (lambda (e) 42) (lambda () (+ (raise-continuable 'oops) 1))) => 43";
    "with-exception-handler", 2, Some(2), with_exception_handler, "Calls a thunk with a handler for raised values (R7RS).", "(call/cc (lambda (k) (with-exception-handler (lambda (e) (k e)) (lambda () (raise 'x))))) => x";
    "error", 1, None, error, "Raises an error object with a message and irritants.", "(error \"bad amount:\" 5)";
    "error-object?", 1, Some(1), is_error, "Is it an error object?", "(guard (e [#t (error-object? e)]) (error \"x\")) => #t";
    "error?", 1, Some(1), is_error, "Same as error-object?.", "(guard (e [#t (error? e)]) (car 1)) => #t";
    "exn:fail?", 1, Some(1), always_true, "Accepts every raised value (for with-handlers).", "(with-handlers ([exn:fail? (lambda (e) 0)]) (car 1)) => 0";
    "error-object-message", 1, Some(1), error_message, "The message of an error object.", "(guard (e [#t (error-object-message e)]) (error \"boom\")) => \"boom\"";
    "exn-message", 1, Some(1), error_message, "Same as error-object-message.", "(exn-message e)";
    "error-object-irritants", 1, Some(1), error_irritants, "The irritants of an error object.", "(guard (e [#t (error-object-irritants e)]) (error \"x\" 1 2)) => (1 2)";
    "error-object-code", 1, Some(1), error_code, "The stable code (E0xx) of an error object.", "(guard (e [#t (error-object-code e)]) (car 1)) => \"E004\"";
    "call/cc", 1, Some(1), call_cc, "Calls f with an escape continuation (one-shot, upward only).", "(call/cc (lambda (k) (+ 1 (k 42)))) => 42";
    "call-with-current-continuation", 1, Some(1), call_cc, "Same as call/cc (escape-only).", "(call-with-current-continuation (lambda (k) (k 1))) => 1";
    "call/ec", 1, Some(1), call_cc, "Same as call/cc.", "(call/ec (lambda (k) (k 1))) => 1";
    "dynamic-wind", 3, Some(3), dynamic_wind, "Runs before, thunk, after; after runs even on error.", "(dynamic-wind (lambda () 1) (lambda () 2) (lambda () 3)) => 2";
    "box", 1, Some(1), make_box, "A mutable cell (the one mutable container).", "(unbox (box 5)) => 5";
    "unbox", 1, Some(1), unbox, "The content of a box.", "(unbox (box 5)) => 5";
    "set-box!", 2, Some(2), set_box, "Replaces a box's content.", "(set-box! b 6)";
    "box?", 1, Some(1), is_box, "Is it a box?", "(box? (box 1)) => #t";
    "exit", 0, Some(1), exit, "Ends the program with an exit code (default 0).", "(exit 3)";
    "%case-lambda", 0, None, case_lambda, "Implementation of the case-lambda form.", "(case-lambda [(x) x] [(x y) y])";
];
