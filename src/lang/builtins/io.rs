//! Output and evaluation builtins: display/write/print, `format`/`printf`, string capture,
//! `read` from a string, `eval`, `load`, and the script's command-line arguments.

use super::{str_arg, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::printer::{print_checked, Labels};
use crate::lang::source::Span;
use crate::lang::syntax::Syntax;
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

/// The printed form of `v` within `Limits::max_alloc_bytes` (E019 beyond it: a huge or
/// cyclic-without-labels value cannot take the process's memory with it).
pub fn printed(
    interp: &Interp,
    v: &Value,
    write: bool,
    labels: Labels,
    who: &str,
) -> Result<String, LangError> {
    let budget = interp.limits.max_alloc_bytes as usize;
    print_checked(v, write, labels, budget).map_err(|why| {
        if why == crate::lang::printer::TooLarge::Deep {
            return LangError::new(
                Code::StackDepth,
                format!("{who}: the value is nested too deeply to print"),
            );
        }
        LangError::new(
            Code::Allocation,
            format!(
                "{who}: the printed form is longer than the limit of {budget} bytes for one object"
            ),
        )
        .with_hint("print a part of the value, or raise the limit with --max-alloc MiB")
    })
}
fn display_string(interp: &Interp, v: &Value) -> Result<String, LangError> {
    printed(interp, v, false, Labels::Cycles, "display")
}
fn write_string(interp: &Interp, v: &Value) -> Result<String, LangError> {
    printed(interp, v, true, Labels::Cycles, "write")
}
fn displayln(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let parts = a
        .iter()
        .map(|v| display_string(interp, v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut s = parts.join(" ");
    s.push('\n');
    interp.out.write_str(&s);
    Ok(Value::Void)
}
fn print(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let parts = a
        .iter()
        .map(|v| write_string(interp, v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut s = parts.join(" ");
    s.push('\n');
    interp.out.write_str(&s);
    Ok(Value::Void)
}

/// Expands `~a` (display), `~s`/`~v` (write), `~%`/`~n` (newline), `~~` (tilde).
pub fn format_directives(
    interp: &Interp,
    who: &str,
    template: &str,
    args: &[Value],
) -> Result<String, LangError> {
    let mut out = String::new();
    let mut it = template.chars();
    let mut next = args.iter();
    while let Some(c) = it.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('a') | Some('A') => out.push_str(&display_string(
                interp,
                next.next().ok_or_else(|| too_few(who, args.len()))?,
            )?),
            Some('s') | Some('S') | Some('v') | Some('V') => out.push_str(&write_string(
                interp,
                next.next().ok_or_else(|| too_few(who, args.len()))?,
            )?),
            Some('%') | Some('n') => out.push('\n'),
            Some('~') => out.push('~'),
            other => {
                return Err(value_error(
                    who,
                    format!(
                        "unknown directive ~{}",
                        other.map(String::from).unwrap_or_default()
                    ),
                )
                .with_hint("directives are ~a ~s ~v ~% ~n ~~"))
            }
        }
        if out.len() as u64 > interp.limits.max_alloc_bytes {
            interp.reserve(out.len() as u64, who)?;
        }
    }
    if next.next().is_some() {
        return Err(value_error(
            who,
            format!("more arguments than directives ({} given)", args.len()),
        ));
    }
    Ok(out)
}
fn too_few(who: &str, n: usize) -> LangError {
    value_error(who, format!("more directives than arguments ({n} given)"))
}
fn format(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let t = str_arg(a, 0, "format")?;
    Ok(Value::string(&format_directives(
        interp,
        "format",
        t,
        &a[1..],
    )?))
}
fn printf(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let t = str_arg(a, 0, "printf")?;
    let s = format_directives(interp, "printf", t, &a[1..])?;
    interp.out.write_str(&s);
    Ok(Value::Void)
}
fn eprintf(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let t = str_arg(a, 0, "eprintf")?;
    eprint!("{}", format_directives(interp, "eprintf", t, &a[1..])?);
    Ok(Value::Void)
}
/// Captures console output; `current-output-port` is the console during the thunk (even
/// if it was rebound outside), so `display` without a port is captured too.
fn with_output_to_string(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let thunk = super::proc_arg(a, 0, "with-output-to-string")?;
    let console = crate::lang::ports::Port::value(
        false,
        true,
        "console",
        crate::lang::ports::PortState::Console,
    );
    let saved = interp.std_ports[1].value.replace(console);
    interp.out.push_capture();
    let r = interp.apply(&thunk, vec![], span);
    let text = interp.out.pop_capture();
    *interp.std_ports[1].value.borrow_mut() = saved;
    r.map(|_| Value::string(&text))
}
fn value_to_string(interp: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(&display_string(interp, &a[0])?))
}
fn value_to_written(interp: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(Value::string(&write_string(interp, &a[0])?))
}
/// `(eval datum [environment])`: evaluates at the top level of the current module, or of
/// the environment's.
fn eval(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let form = Syntax::from_value(&a[0], span).map_err(|m| value_error("eval", m))?;
    let Some(env) = a.get(1) else {
        return interp.eval_toplevel(&form);
    };
    let module = match env {
        Value::Native(n) => n
            .as_any()
            .downcast_ref::<super::system::Environment>()
            .map(|e| e.0.clone()),
        _ => None,
    }
    .ok_or_else(|| super::type_error("eval", 1, "an environment", env))?;
    let saved = std::mem::replace(&mut interp.module, module);
    let r = interp.eval_toplevel(&form);
    interp.module = saved;
    r
}
fn load(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let path = str_arg(a, 0, "load")?;
    let full = interp.module.dir().join(&**path);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        LangError::new(
            Code::Io,
            format!("load: cannot read {}: {e}", full.display()),
        )
    })?;
    interp.eval_source(&full.display().to_string(), &text)
}
/// Runs a script file in a fresh interpreter (its own modules, network and test counters)
/// and returns `(passed failed)`; an error in the script is raised here with its report.
fn run_script(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let path = str_arg(a, 0, "run-script")?;
    let full = interp.module.dir().join(&**path);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        LangError::new(
            Code::Io,
            format!("run-script: cannot read {}: {e}", full.display()),
        )
    })?;
    let mut child = Interp::new(interp.limits.clone(), crate::lang::eval::Output::stdout());
    child.module = child.modules.new_module("main", Some(full.clone()));
    let result = child.eval_source(&full.display().to_string(), &text);
    child.out.flush();
    match result {
        Ok(_) => Ok(Value::list(vec![
            Value::Int(child.tests.passed as i64),
            Value::Int(child.tests.failed as i64),
        ])),
        Err(e) if e.is_catchable() => Err(value_error(
            "run-script",
            format!("{} stopped with an error", full.display()),
        )
        .with_hint(e.render(false))),
        Err(e) => Err(e),
    }
}

fn command_line(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::list(
        interp
            .script_args
            .iter()
            .map(|s| Value::string(s))
            .collect::<Vec<_>>(),
    ))
}
fn flush(interp: &mut Interp, _: &[Value], _: Span) -> R {
    interp.out.flush();
    Ok(Value::Void)
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "displayln", 0, None, displayln, "Displays its arguments separated by spaces, then a newline.", "(displayln \"a\" 1) prints a 1";
    "print", 0, None, print, "Writes its arguments separated by spaces, then a newline.", "(print \"a\" 'b) prints \"a\" b";
    "format", 1, None, format, "A string from a template: ~a display, ~s write, ~% newline, ~~ tilde.", "(format \"~a + ~s\" 1 \"x\") => \"1 + \\\"x\\\"\"";
    "printf", 1, None, printf, "Prints a formatted string.", "(printf \"~a~%\" 42) prints 42";
    "eprintf", 1, None, eprintf, "Prints a formatted string to standard error.", "(eprintf \"warning: ~a~%\" x)";
    "with-output-to-string", 1, Some(1), with_output_to_string, "Runs a thunk and returns what it printed.", "(with-output-to-string (lambda () (display 42))) => \"42\"";
    "->string", 1, Some(1), value_to_string, "The display form of a value as a string.", "(->string 'abc) => \"abc\"";
    "->written", 1, Some(1), value_to_written, "The write form of a value as a string.", "(->written \"a\") => \"\\\"a\\\"\"";
    "eval", 1, Some(2), eval, "Evaluates a datum as code at the top level (of an environment, if given).", "(eval '(+ 1 2)) => 3";
    "load", 1, Some(1), load, "Evaluates a file's forms in the current module.", "(load \"helpers.xln\")";
    "run-script", 1, Some(1), run_script, "Runs a script in a fresh interpreter; returns (passed failed).", "(run-script \"rcpan.xln\") => (21 0)";
    "command-line-arguments", 0, Some(0), command_line, "Arguments given after the script name.", "(command-line-arguments) => (\"a\" \"b\")";
    "flush-output", 0, Some(0), flush, "Flushes standard output.", "(flush-output)";
];
