//! R7RS file ports and the file system (6.13 `(scheme file)`), time (`(scheme time)`), the
//! process context (`(scheme process-context)`), `features`, environments for `eval`, and
//! the error-kind predicates. The sandbox replaces every procedure here that touches the
//! outside world with a refusal (`crate::lang::sandbox::REFUSED`).

use std::rc::Rc;

use super::strings::text_arg;
use super::{bool_value, proc_arg};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::module::Module;
use crate::lang::ports::{as_port, io_error, Port, PortState};
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, Primitive, Value};

type R = Result<Value, LangError>;

fn path_arg(interp: &Interp, a: &[Value], who: &str) -> Result<std::path::PathBuf, LangError> {
    let name = text_arg(a, 0, who)?;
    Ok(interp.module.dir().join(&*name))
}

/// Reads a whole file for an input port, refusing one larger than `Limits::max_alloc_bytes`
/// (read through a bounded reader: a device like /dev/zero never ends).
fn read_file(interp: &Interp, path: &std::path::Path, who: &str) -> Result<Vec<u8>, LangError> {
    use std::io::Read;
    let limit = interp.limits.max_alloc_bytes / 4;
    let file = std::fs::File::open(path)
        .map_err(|e| io_error(who, e).with_hint(format!("the file was {}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(who, e))?;
    if bytes.len() as u64 > limit {
        return Err(LangError::new(
            Code::Allocation,
            format!(
                "{who}: {} is larger than the limit of {limit} bytes for a file read whole",
                path.display()
            ),
        )
        .with_hint("raise the limit with --max-alloc MiB"));
    }
    interp.reserve((bytes.len() as u64).saturating_mul(4), who)?;
    Ok(bytes)
}

fn open_input(interp: &mut Interp, a: &[Value], textual: bool, who: &str) -> R {
    let path = path_arg(interp, a, who)?;
    let bytes = read_file(interp, &path, who)?;
    if textual {
        let text = String::from_utf8(bytes).map_err(|e| {
            LangError::new(
                Code::Io,
                format!("{who}: {} is not UTF-8 text: {e}", path.display()),
            )
        })?;
        Ok(Port::value(
            true,
            true,
            "file",
            PortState::TextIn {
                chars: text.chars().collect(),
                pos: 0,
            },
        ))
    } else {
        Ok(Port::value(
            true,
            false,
            "file",
            PortState::BytesIn { bytes, pos: 0 },
        ))
    }
}
fn open_output(interp: &mut Interp, a: &[Value], textual: bool, who: &str) -> R {
    let path = path_arg(interp, a, who)?;
    let file = std::fs::File::create(&path).map_err(|e| io_error(who, e))?;
    Ok(Port::value(
        false,
        textual,
        "file",
        PortState::FileOut(std::io::BufWriter::new(file)),
    ))
}
fn open_input_file(interp: &mut Interp, a: &[Value], _: Span) -> R {
    open_input(interp, a, true, "open-input-file")
}
fn open_binary_input_file(interp: &mut Interp, a: &[Value], _: Span) -> R {
    open_input(interp, a, false, "open-binary-input-file")
}
fn open_output_file(interp: &mut Interp, a: &[Value], _: Span) -> R {
    open_output(interp, a, true, "open-output-file")
}
fn open_binary_output_file(interp: &mut Interp, a: &[Value], _: Span) -> R {
    open_output(interp, a, false, "open-binary-output-file")
}
fn close(port: &Value) -> Result<(), LangError> {
    match as_port(port) {
        Some(p) => p.close(),
        None => Ok(()),
    }
}
/// `(call-with-input-file name proc)`: proc gets the port, which is closed after.
fn call_with_input_file(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 1, "call-with-input-file")?;
    let port = open_input(interp, a, true, "call-with-input-file")?;
    let v = interp.apply(&f, vec![port.clone()], span);
    close(&port)?;
    v
}
fn call_with_output_file(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let f = proc_arg(a, 1, "call-with-output-file")?;
    let port = open_output(interp, a, true, "call-with-output-file")?;
    let v = interp.apply(&f, vec![port.clone()], span);
    close(&port)?;
    v
}
/// Runs a thunk with a standard port rebound to `port`, restoring it (and closing `port`)
/// however the thunk ends.
fn with_port(interp: &mut Interp, which: usize, port: Value, thunk: &Value, span: Span) -> R {
    let saved = interp.std_ports[which].value.replace(port.clone());
    let v = interp.apply(thunk, vec![], span);
    *interp.std_ports[which].value.borrow_mut() = saved;
    close(&port)?;
    v
}
fn with_input_from_file(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let thunk = proc_arg(a, 1, "with-input-from-file")?;
    let port = open_input(interp, a, true, "with-input-from-file")?;
    with_port(interp, 0, port, &thunk, span)
}
fn with_output_to_file(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let thunk = proc_arg(a, 1, "with-output-to-file")?;
    let port = open_output(interp, a, true, "with-output-to-file")?;
    with_port(interp, 1, port, &thunk, span)
}
fn file_exists(interp: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(path_arg(interp, a, "file-exists?")?.exists())
}
fn delete_file(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let path = path_arg(interp, a, "delete-file")?;
    std::fs::remove_file(&path).map_err(|e| io_error("delete-file", e))?;
    Ok(Value::Void)
}

fn current_second(_: &mut Interp, _: &[Value], _: Span) -> R {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Value::Float(now.as_secs_f64()))
}
thread_local! {
    static EPOCH: std::time::Instant = std::time::Instant::now();
}
fn current_jiffy(_: &mut Interp, _: &[Value], _: Span) -> R {
    let micros = EPOCH.with(|e| e.elapsed().as_micros());
    Ok(Value::Int(i64::try_from(micros).unwrap_or(i64::MAX)))
}
fn jiffies_per_second(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Int(1_000_000))
}

/// `(command-line)`: the script's name and its arguments.
fn command_line(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let script = interp
        .module
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "xln".to_string());
    let mut all = vec![Value::string(&script)];
    all.extend(interp.script_args.iter().map(|s| Value::string(s)));
    Ok(Value::list(all))
}
fn get_environment_variable(_: &mut Interp, a: &[Value], _: Span) -> R {
    let name = text_arg(a, 0, "get-environment-variable")?;
    Ok(std::env::var(&*name)
        .map(|v| Value::string(&v))
        .unwrap_or(Value::Bool(false)))
}
fn get_environment_variables(_: &mut Interp, _: &[Value], _: Span) -> R {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    Ok(Value::list(vars.into_iter().map(|(k, v)| {
        Value::cons(Value::string(&k), Value::string(&v))
    })))
}
/// Ends the process at once, without running `dynamic-wind` exits (R7RS).
fn emergency_exit(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let code = match a.first() {
        None | Some(Value::Bool(true)) => 0,
        Some(Value::Int(n)) => i32::try_from(*n).unwrap_or(1),
        Some(_) => 1,
    };
    interp.out.flush();
    std::process::exit(code)
}

fn features(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::list(
        crate::lang::expander::FEATURES
            .iter()
            .map(|f| Value::sym(f)),
    ))
}

/// An environment for `eval`: a module whose globals the evaluated code sees.
pub struct Environment(pub Rc<Module>);

impl NativeObject for Environment {
    fn type_name(&self) -> &'static str {
        "environment"
    }
    fn describe(&self) -> String {
        format!("#<environment {}>", self.0.name)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `(environment '(scheme base) ...)`: a fresh environment of the builtins (every R7RS
/// library is always available, so the specs are only checked).
fn environment(interp: &mut Interp, a: &[Value], span: Span) -> R {
    for (i, spec) in a.iter().enumerate() {
        let syntax = crate::lang::syntax::Syntax::from_value(spec, span)
            .map_err(|m| super::value_error("environment", m))?;
        if !crate::lang::expander::library_available(&syntax) {
            return Err(super::value_error(
                "environment",
                format!(
                    "no library {} (argument {})",
                    crate::lang::printer::write_short(spec),
                    i + 1
                ),
            ));
        }
    }
    Ok(Value::Native(Rc::new(Environment(
        interp.modules.new_module("environment", None),
    ))))
}
fn interaction_environment(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Native(Rc::new(Environment(interp.module.clone()))))
}

fn error_with_code(v: &Value, code: Code) -> bool {
    matches!(v, Value::Error(e) if e.origin.as_ref().is_some_and(|o| o.code == code))
}
fn file_error(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(error_with_code(&a[0], Code::Io))
}
fn read_error(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(error_with_code(&a[0], Code::Read))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "open-input-file", 1, Some(1), open_input_file, "A textual input port reading a file (read whole; at most --max-alloc).", "(read-line (open-input-file \"notes.txt\"))";
    "open-binary-input-file", 1, Some(1), open_binary_input_file, "A binary input port reading a file.", "(read-u8 (open-binary-input-file \"data.bin\"))";
    "open-output-file", 1, Some(1), open_output_file, "A textual output port writing a file (created or truncated).", "(open-output-file \"out.txt\")";
    "open-binary-output-file", 1, Some(1), open_binary_output_file, "A binary output port writing a file.", "(open-binary-output-file \"out.bin\")";
    "call-with-input-file", 2, Some(2), call_with_input_file, "Calls proc with an input port on the file, closed after.", "(call-with-input-file \"notes.txt\" read-line)";
    "call-with-output-file", 2, Some(2), call_with_output_file, "Calls proc with an output port on the file, closed after.", "(call-with-output-file \"out.txt\" (lambda (p) (write 1 p)))";
    "with-input-from-file", 2, Some(2), with_input_from_file, "Runs a thunk with the current input port reading the file.", "(with-input-from-file \"notes.txt\" read-line)";
    "with-output-to-file", 2, Some(2), with_output_to_file, "Runs a thunk with the current output port writing the file.", "(with-output-to-file \"out.txt\" (lambda () (display 1)))";
    "file-exists?", 1, Some(1), file_exists, "Does the file exist?", "(file-exists? \"/\") => #t";
    "delete-file", 1, Some(1), delete_file, "Deletes a file (E017 if it cannot).", "(delete-file \"out.txt\")";
    "current-second", 0, Some(0), current_second, "Seconds since 1970 (TAI approximated by UTC), inexact.", "(real? (current-second)) => #t";
    "current-jiffy", 0, Some(0), current_jiffy, "Microseconds since the first call in this thread, exact.", "(exact-integer? (current-jiffy)) => #t";
    "jiffies-per-second", 0, Some(0), jiffies_per_second, "Jiffies in a second (1,000,000).", "(jiffies-per-second) => 1000000";
    "command-line", 0, Some(0), command_line, "The script's name followed by its arguments.", "(command-line) => (\"pay.xln\" \"a\")";
    "get-environment-variable", 1, Some(1), get_environment_variable, "An environment variable's value, or #f.", "(get-environment-variable \"HOME\") => \"/root\"";
    "get-environment-variables", 0, Some(0), get_environment_variables, "Every environment variable as (name . value), sorted.", "(pair? (get-environment-variables)) => #t";
    "emergency-exit", 0, Some(1), emergency_exit, "Ends the process at once, running no dynamic-wind exits.", "(emergency-exit 1)";
    "features", 0, Some(0), features, "The feature identifiers cond-expand knows.", "(memq 'r7rs (features)) => (r7rs exact-closed ratios full-unicode xln)";
    "environment", 0, None, environment, "A fresh environment of the builtins, for eval (library specs are checked).", "(eval '(+ 1 2) (environment '(scheme base))) => 3";
    "interaction-environment", 0, Some(0), interaction_environment, "The environment of the running program, for eval.", "(eval 'car (interaction-environment))";
    "file-error?", 1, Some(1), file_error, "Is it an error object from a file operation (E017)?", "(guard (e [#t (file-error? e)]) (open-input-file \"/no/such\")) => #t";
    "read-error?", 1, Some(1), read_error, "Is it an error object from the reader (E001)?", "(guard (e [#t (read-error? e)]) (read \"(\")) => #t";
];
