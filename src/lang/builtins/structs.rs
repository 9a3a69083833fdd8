//! Immutable structs: the `struct` and `define-record-type` forms produce a constructor,
//! a predicate and accessors; `struct-copy` is the functional update.

use std::rc::Rc;

use super::{bool_value, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::{arity_error, Interp};
use crate::lang::source::Span;
use crate::lang::symbol::Sym;
use crate::lang::syntax::Syntax;
use crate::lang::value::{NativeProc, Primitive, StructType, Value};

type R = Result<Value, LangError>;

fn bad(form: &Syntax, m: impl Into<String>) -> LangError {
    LangError::new(Code::Syntax, m).with_span(form.span)
}

/// Calls a struct type as its constructor.
pub fn construct(t: &Rc<StructType>, args: Vec<Value>) -> R {
    if args.len() != t.fields.len() {
        return Err(arity_error(
            &t.name.name(),
            t.fields.len(),
            Some(t.fields.len()),
            args.len(),
        ));
    }
    Ok(Value::new_struct(t.clone(), args))
}

fn native(name: String, min: usize, max: usize, f: impl Fn(&[Value]) -> R + 'static) -> Value {
    Value::NativeProc(Rc::new(NativeProc {
        name,
        min_args: min,
        max_args: Some(max),
        func: Box::new(move |_, args, _| f(args)),
        case_lambda: None,
        parameter: None,
    }))
}

fn predicate(t: &Rc<StructType>, name: String) -> Value {
    let t = t.clone();
    native(name, 1, 1, move |a| {
        Ok(Value::Bool(
            matches!(&a[0], Value::Struct(s) if *s.stype == *t),
        ))
    })
}

fn accessor(t: &Rc<StructType>, index: usize, name: String) -> Value {
    let t = t.clone();
    let who = name.clone();
    native(name, 1, 1, move |a| match &a[0] {
        Value::Struct(s) if *s.stype == *t => Ok(s.fields.borrow()[index].clone()),
        v => Err(type_error(&who, 0, &format!("a {} struct", t.name), v)),
    })
}

/// `(struct name (field ...))` defines `name`, `name?` and `name-field` for each field.
pub fn struct_form(form: &Syntax) -> Result<Vec<(Sym, Value)>, LangError> {
    let items = form.list().unwrap_or(&[]);
    let (Some(name), Some(fields)) = (items.get(1), items.get(2)) else {
        return Err(bad(form, "struct: expected (struct name (field ...))"));
    };
    let name = name
        .symbol()
        .ok_or_else(|| bad(name, "struct: the name must be a symbol"))?;
    let fields = fields
        .list_like()
        .ok_or_else(|| bad(fields, "struct: fields must be a list of symbols"))?
        .iter()
        .map(|f| {
            f.symbol()
                .ok_or_else(|| bad(f, "struct: a field must be a symbol"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let t = Rc::new(StructType {
        name,
        fields: fields.clone(),
        mutable: false,
    });
    let mut defs = vec![(name, Value::StructType(t.clone()))];
    defs.push((
        Sym::new(&format!("{name}?")),
        predicate(&t, format!("{name}?")),
    ));
    for (i, f) in fields.iter().enumerate() {
        let acc = format!("{name}-{f}");
        defs.push((Sym::new(&acc), accessor(&t, i, acc)));
    }
    Ok(defs)
}

/// R7RS `(define-record-type <name> (make-name field ...) name? (field accessor [modifier]) ...)`.
/// A record type with at least one modifier is mutable: the modifiers change fields in place.
pub fn record_form(form: &Syntax) -> Result<Vec<(Sym, Value)>, LangError> {
    let items = form.list().unwrap_or(&[]);
    let [_, type_name, ctor, pred, field_specs @ ..] = items else {
        return Err(bad(form, "define-record-type: expected (define-record-type <name> (make-name field ...) name? (field accessor) ...)"));
    };
    let tname = type_name
        .symbol()
        .ok_or_else(|| bad(type_name, "the record type name must be a symbol"))?;
    let clean = tname
        .name()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let mut fields = Vec::new();
    let mut defs = Vec::new();
    for spec in field_specs {
        let parts = spec
            .list_like()
            .ok_or_else(|| bad(spec, "a field spec is (field accessor [modifier])"))?;
        let f = parts
            .first()
            .and_then(Syntax::symbol)
            .ok_or_else(|| bad(spec, "a field name must be a symbol"))?;
        fields.push(f);
    }
    let mutable = field_specs
        .iter()
        .any(|spec| spec.list_like().is_some_and(|p| p.len() > 2));
    let t = Rc::new(StructType {
        name: Sym::new(&clean),
        fields: fields.clone(),
        mutable,
    });
    let ctor_parts = ctor
        .list_like()
        .ok_or_else(|| bad(ctor, "the constructor spec is (make-name field ...)"))?;
    let ctor_name = ctor_parts
        .first()
        .and_then(Syntax::symbol)
        .ok_or_else(|| bad(ctor, "the constructor needs a name"))?;
    let mut positions = Vec::new();
    for p in &ctor_parts[1..] {
        let f = p
            .symbol()
            .ok_or_else(|| bad(p, "constructor arguments are field names"))?;
        positions.push(
            fields
                .iter()
                .position(|x| *x == f)
                .ok_or_else(|| bad(p, format!("`{f}` is not a field")))?,
        );
    }
    let (t2, n) = (t.clone(), fields.len());
    let argc = positions.len();
    defs.push((
        ctor_name,
        native(ctor_name.name().to_string(), argc, argc, move |a| {
            let mut values = vec![Value::Bool(false); n];
            for (arg, pos) in a.iter().zip(&positions) {
                values[*pos] = arg.clone();
            }
            Ok(Value::new_struct(t2.clone(), values))
        }),
    ));
    let pred_name = pred
        .symbol()
        .ok_or_else(|| bad(pred, "the predicate name must be a symbol"))?;
    defs.push((pred_name, predicate(&t, pred_name.name().to_string())));
    for (i, spec) in field_specs.iter().enumerate() {
        let parts = spec.list_like().unwrap_or(&[]);
        if let Some(acc) = parts.get(1).and_then(Syntax::symbol) {
            defs.push((acc, accessor(&t, i, acc.name().to_string())));
        }
        if let Some(modifier) = parts.get(2).and_then(Syntax::symbol) {
            let who = modifier.name().to_string();
            let t = t.clone();
            defs.push((
                modifier,
                native(who.clone(), 2, 2, move |a| match &a[0] {
                    Value::Struct(s) if *s.stype == *t => {
                        s.fields.borrow_mut()[i] = a[1].clone();
                        Ok(Value::Void)
                    }
                    v => Err(type_error(&who, 0, &format!("a {} record", t.name), v)),
                }),
            ));
        }
    }
    Ok(defs)
}

fn struct_copy(_: &mut Interp, a: &[Value], _: Span) -> R {
    let Value::Symbol(name) = &a[0] else {
        return Err(type_error("struct-copy", 0, "a struct name", &a[0]));
    };
    let s = match &a[1] {
        Value::Struct(s) if s.stype.name == *name => s,
        v => return Err(type_error("struct-copy", 1, &format!("a {name} struct"), v)),
    };
    let mut fields = s.fields.borrow().clone();
    for pair in a[2..].chunks(2) {
        let [Value::Symbol(f), v] = pair else {
            continue;
        };
        let i = s.stype.fields.iter().position(|x| x == f).ok_or_else(|| {
            let known: Vec<String> = s
                .stype
                .fields
                .iter()
                .map(|f| f.name().to_string())
                .collect();
            value_error(
                "struct-copy",
                format!("{name} has no field `{f}` (fields: {})", known.join(" ")),
            )
        })?;
        fields[i] = v.clone();
    }
    Ok(Value::new_struct(s.stype.clone(), fields))
}
fn is_struct(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(matches!(a[0], Value::Struct(_)))
}
fn struct_to_list(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Struct(s) => Ok(Value::list(s.fields.borrow().clone())),
        v => Err(type_error("struct->list", 0, "a struct", v)),
    }
}
fn struct_name(_: &mut Interp, a: &[Value], _: Span) -> R {
    match &a[0] {
        Value::Struct(s) => Ok(Value::Symbol(s.stype.name)),
        v => Err(type_error("struct-name", 0, "a struct", v)),
    }
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "%struct-copy", 2, None, struct_copy, "Implementation of the struct-copy form.", "(struct-copy point p [x 5])";
    "struct?", 1, Some(1), is_struct, "Is it a struct instance?", "(struct? (point 1 2)) => #t";
    "struct->list", 1, Some(1), struct_to_list, "The field values in order.", "(struct->list (point 1 2)) => (1 2)";
    "struct-name", 1, Some(1), struct_name, "The struct type's name.", "(struct-name (point 1 2)) => point";
];
