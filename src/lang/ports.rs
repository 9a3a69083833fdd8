//! R7RS ports (6.13): textual and binary, input and output, over strings, bytevectors,
//! files and the console. The console output port writes through `Interp::out` (so tests
//! capture it and the sandbox discards it); `current-input-port`, `current-output-port` and
//! `current-error-port` are parameter objects holding ports. Every buffer a port fills is
//! bounded by `Limits::max_alloc_bytes`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io::{BufRead, Read, Write};
use std::rc::Rc;

use super::diagnostics::{Code, LangError};
use super::eval::Interp;
use super::module::Module;
use super::symbol::Sym;
use super::value::{NativeObject, NativeProc, ParameterCell, Value};

/// What a port reads from or writes to.
pub enum PortState {
    TextIn {
        chars: Vec<char>,
        pos: usize,
    },
    BytesIn {
        bytes: Vec<u8>,
        pos: usize,
    },
    TextOut {
        text: String,
    },
    BytesOut {
        bytes: Vec<u8>,
    },
    FileOut(std::io::BufWriter<std::fs::File>),
    /// Output through `Interp::out`.
    Console,
    /// The process's standard error.
    ErrorConsole,
    /// The process's standard input, read a line at a time.
    Stdin {
        chars: Vec<char>,
        pos: usize,
        eof: bool,
    },
}

/// A port: direction, kind, open flag and state.
pub struct Port {
    pub input: bool,
    pub textual: bool,
    pub what: &'static str,
    open: Cell<bool>,
    pub state: RefCell<PortState>,
}

impl NativeObject for Port {
    fn type_name(&self) -> &'static str {
        "port"
    }
    fn describe(&self) -> String {
        let dir = if self.input { "input" } else { "output" };
        let kind = if self.textual { "" } else { "binary-" };
        format!("#<{kind}{dir}-port {}>", self.what)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Port {
    /// A new open port, as a value.
    pub fn value(input: bool, textual: bool, what: &'static str, state: PortState) -> Value {
        Value::Native(Rc::new(Port {
            input,
            textual,
            what,
            open: Cell::new(true),
            state: RefCell::new(state),
        }))
    }
    pub fn is_open(&self) -> bool {
        self.open.get()
    }
    /// Closes the port (flushing a file); closing twice is allowed.
    pub fn close(&self) -> Result<(), LangError> {
        if self.open.replace(false) {
            if let PortState::FileOut(w) = &mut *self.state.borrow_mut() {
                w.flush().map_err(|e| io_error("close-port", e))?;
            }
        }
        Ok(())
    }
}

pub fn io_error(who: &str, e: std::io::Error) -> LangError {
    LangError::new(Code::Io, format!("{who}: {e}"))
}

/// The port in a value, if it is one.
pub fn as_port(v: &Value) -> Option<&Port> {
    match v {
        Value::Native(n) => n.as_any().downcast_ref::<Port>(),
        _ => None,
    }
}

/// The end-of-file object (one per thread, so `eq?` holds between two of them).
pub struct Eof;

impl NativeObject for Eof {
    fn type_name(&self) -> &'static str {
        "eof-object"
    }
    fn describe(&self) -> String {
        "#<eof>".to_string()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

thread_local! {
    static EOF: Value = Value::Native(Rc::new(Eof));
}

pub fn eof() -> Value {
    EOF.with(Value::clone)
}

pub fn is_eof(v: &Value) -> bool {
    matches!(v, Value::Native(n) if n.as_any().is::<Eof>())
}

/// The standard port parameters, in the order input, output, error.
pub const STANDARD_PORTS: [&str; 3] = [
    "current-input-port",
    "current-output-port",
    "current-error-port",
];

/// Defines the standard port parameters in `builtins` unless they are there already, and
/// returns their cells. A sandbox's input is empty and its error port is its console
/// (whose output is discarded).
pub fn standard_ports(builtins: &Rc<Module>, sandboxed: bool) -> [Rc<ParameterCell>; 3] {
    let make = |i: usize| -> Rc<ParameterCell> {
        let name = STANDARD_PORTS[i];
        if let Some(Value::NativeProc(p)) = builtins.lookup(Sym::new(name)) {
            if let Some(cell) = &p.parameter {
                return cell.clone();
            }
        }
        let port = match (i, sandboxed) {
            (0, true) => Port::value(
                true,
                true,
                "empty",
                PortState::TextIn {
                    chars: Vec::new(),
                    pos: 0,
                },
            ),
            (0, false) => Port::value(
                true,
                true,
                "stdin",
                PortState::Stdin {
                    chars: Vec::new(),
                    pos: 0,
                    eof: false,
                },
            ),
            (2, false) => Port::value(false, true, "stderr", PortState::ErrorConsole),
            _ => Port::value(false, true, "console", PortState::Console),
        };
        let cell = Rc::new(ParameterCell {
            value: RefCell::new(port),
            converter: None,
        });
        let own = cell.clone();
        builtins.define(
            Sym::new(name),
            Value::NativeProc(Rc::new(NativeProc {
                name: name.to_string(),
                min_args: 0,
                max_args: Some(0),
                func: Box::new(move |_, _, _| Ok(own.value.borrow().clone())),
                case_lambda: None,
                parameter: Some(cell.clone()),
            })),
        );
        cell
    };
    [make(0), make(1), make(2)]
}

/// Argument `i` as a port (of direction `input`), or the current input/output port when
/// the argument is absent.
pub fn port_arg(
    interp: &Interp,
    a: &[Value],
    i: usize,
    input: bool,
    who: &str,
) -> Result<Value, LangError> {
    let v = match a.get(i) {
        Some(v) => v.clone(),
        None => interp.std_ports[usize::from(!input)].value.borrow().clone(),
    };
    match as_port(&v) {
        Some(p) if p.input == input && p.is_open() => Ok(v),
        Some(p) if p.input == input => Err(LangError::new(
            Code::Io,
            format!("{who}: the port is closed"),
        )),
        _ => Err(super::builtins::type_error(
            who,
            i,
            if input {
                "an input port"
            } else {
                "an output port"
            },
            &v,
        )),
    }
}

/// Writes text to an output port.
pub fn write_text(interp: &mut Interp, port: &Value, s: &str, who: &str) -> Result<(), LangError> {
    let Some(p) = as_port(port) else {
        return Err(super::builtins::type_error(who, 0, "an output port", port));
    };
    let limit = interp.limits.max_alloc_bytes;
    match &mut *p.state.borrow_mut() {
        PortState::Console => interp.out.write_str(s),
        PortState::ErrorConsole => eprint!("{s}"),
        PortState::TextOut { text } => {
            if (text.len() + s.len()) as u64 > limit {
                interp.reserve((text.len() + s.len()) as u64, who)?;
            }
            text.push_str(s);
        }
        PortState::BytesOut { bytes } => {
            if (bytes.len() + s.len()) as u64 > limit {
                interp.reserve((bytes.len() + s.len()) as u64, who)?;
            }
            bytes.extend_from_slice(s.as_bytes());
        }
        PortState::FileOut(w) => w.write_all(s.as_bytes()).map_err(|e| io_error(who, e))?,
        _ => return Err(super::builtins::type_error(who, 0, "an output port", port)),
    }
    Ok(())
}

/// Writes bytes to a binary output port.
pub fn write_bytes(
    interp: &mut Interp,
    port: &Value,
    b: &[u8],
    who: &str,
) -> Result<(), LangError> {
    let Some(p) = as_port(port) else {
        return Err(super::builtins::type_error(
            who,
            0,
            "a binary output port",
            port,
        ));
    };
    match &mut *p.state.borrow_mut() {
        PortState::BytesOut { bytes } => {
            if (bytes.len() + b.len()) as u64 > interp.limits.max_alloc_bytes {
                interp.reserve((bytes.len() + b.len()) as u64, who)?;
            }
            bytes.extend_from_slice(b);
        }
        PortState::FileOut(w) if !p.textual => w.write_all(b).map_err(|e| io_error(who, e))?,
        _ => {
            return Err(super::builtins::type_error(
                who,
                0,
                "a binary output port",
                port,
            ))
        }
    }
    Ok(())
}

/// Makes sure a stdin port has at least one unread character, reading a line if needed
/// (a line longer than `limit` bytes is an error). False at end of input.
fn fill_stdin(
    chars: &mut Vec<char>,
    pos: &mut usize,
    eof: &mut bool,
    limit: u64,
) -> Result<bool, LangError> {
    if *pos < chars.len() {
        return Ok(true);
    }
    if *eof {
        return Ok(false);
    }
    let mut line = String::new();
    let stdin = std::io::stdin();
    let mut handle = stdin.lock().take(limit.saturating_add(1));
    let n = handle
        .read_line(&mut line)
        .map_err(|e| io_error("read", e))?;
    if n as u64 > limit {
        return Err(LangError::new(
            Code::Allocation,
            format!("read: an input line is longer than the limit of {limit} bytes"),
        ));
    }
    if n == 0 {
        *eof = true;
        return Ok(false);
    }
    *chars = line.chars().collect();
    *pos = 0;
    Ok(true)
}

/// Reads (or, with `peek`, looks at) one character of a textual input port.
pub fn read_char(interp: &Interp, port: &Value, peek: bool) -> Result<Option<char>, LangError> {
    let Some(p) = as_port(port) else {
        return Ok(None);
    };
    let limit = interp.limits.max_alloc_bytes;
    match &mut *p.state.borrow_mut() {
        PortState::TextIn { chars, pos } => {
            let c = chars.get(*pos).copied();
            if c.is_some() && !peek {
                *pos += 1;
            }
            Ok(c)
        }
        PortState::Stdin { chars, pos, eof } => {
            if !fill_stdin(chars, pos, eof, limit)? {
                return Ok(None);
            }
            let c = chars.get(*pos).copied();
            if !peek {
                *pos += 1;
            }
            Ok(c)
        }
        _ => Err(super::builtins::type_error(
            "read-char",
            0,
            "a textual input port",
            port,
        )),
    }
}

/// Reads (or peeks) one byte of a binary input port.
pub fn read_byte(port: &Value, peek: bool) -> Result<Option<u8>, LangError> {
    let Some(p) = as_port(port) else {
        return Ok(None);
    };
    match &mut *p.state.borrow_mut() {
        PortState::BytesIn { bytes, pos } => {
            let b = bytes.get(*pos).copied();
            if b.is_some() && !peek {
                *pos += 1;
            }
            Ok(b)
        }
        _ => Err(super::builtins::type_error(
            "read-u8",
            0,
            "a binary input port",
            port,
        )),
    }
}

/// The text not yet read from a textual input port (for `read` of a datum), and a way to
/// advance past what was used: returns the remaining characters as a string.
pub fn remaining_text(interp: &Interp, port: &Value) -> Result<String, LangError> {
    let Some(p) = as_port(port) else {
        return Ok(String::new());
    };
    let limit = interp.limits.max_alloc_bytes;
    match &mut *p.state.borrow_mut() {
        PortState::TextIn { chars, pos } => Ok(chars[*pos..].iter().collect()),
        PortState::Stdin { chars, pos, eof } => {
            // A datum may span lines: read until the text so far holds a complete datum.
            let mut text: String = chars[*pos..].iter().collect();
            *pos = chars.len();
            loop {
                let complete = !text.trim().is_empty() && !super::reader::is_incomplete(&text);
                if complete || *eof {
                    break;
                }
                if !fill_stdin(chars, pos, eof, limit)? {
                    break;
                }
                text.extend(chars[*pos..].iter());
                *pos = chars.len();
                if text.len() as u64 > limit {
                    return Err(LangError::new(
                        Code::Allocation,
                        format!("read: the datum is longer than the limit of {limit} bytes"),
                    ));
                }
            }
            *chars = text.chars().collect();
            *pos = 0;
            Ok(text)
        }
        _ => Err(super::builtins::type_error(
            "read",
            0,
            "a textual input port",
            port,
        )),
    }
}

/// Marks `consumed` characters of a textual input port as read.
pub fn advance_chars(port: &Value, consumed: usize) {
    if let Some(p) = as_port(port) {
        match &mut *p.state.borrow_mut() {
            PortState::TextIn { chars, pos } | PortState::Stdin { chars, pos, .. } => {
                *pos = (*pos + consumed).min(chars.len());
            }
            _ => {}
        }
    }
}
