//! R7RS port procedures (6.13): string and bytevector ports, reading characters, lines,
//! strings, bytes and data, writing text and bytes, closing, and the port predicates.
//! File ports are in `files.rs`; the port type is `crate::lang::ports`.

use super::bytes::{byte_value, octets};
use super::strings::{char_arg, text_arg};
use super::{bool_value, index_arg, proc_arg, type_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::ports::{
    advance_chars, as_port, eof, is_eof, port_arg, read_byte, read_char, remaining_text,
    write_bytes, write_text, Port, PortState,
};
use crate::lang::printer::Labels;
use crate::lang::source::{self, Span};
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

fn open_input_string(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let text = text_arg(a, 0, "open-input-string")?;
    interp.reserve_items(text.len() as u64, 4, "open-input-string")?;
    Ok(Port::value(
        true,
        true,
        "string",
        PortState::TextIn {
            chars: text.chars().collect(),
            pos: 0,
        },
    ))
}
fn open_output_string(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Port::value(
        false,
        true,
        "string",
        PortState::TextOut {
            text: String::new(),
        },
    ))
}
fn get_output_string(_: &mut Interp, a: &[Value], _: Span) -> R {
    match as_port(&a[0]).map(|p| p.state.borrow()) {
        Some(state) => match &*state {
            PortState::TextOut { text } => Ok(Value::string(text)),
            _ => Err(type_error(
                "get-output-string",
                0,
                "a string output port",
                &a[0],
            )),
        },
        None => Err(type_error(
            "get-output-string",
            0,
            "a string output port",
            &a[0],
        )),
    }
}
fn open_input_bytevector(_: &mut Interp, a: &[Value], _: Span) -> R {
    let bytes = octets(a, 0, "open-input-bytevector")?.into_owned();
    Ok(Port::value(
        true,
        false,
        "bytevector",
        PortState::BytesIn { bytes, pos: 0 },
    ))
}
fn open_output_bytevector(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Port::value(
        false,
        false,
        "bytevector",
        PortState::BytesOut { bytes: Vec::new() },
    ))
}
fn get_output_bytevector(_: &mut Interp, a: &[Value], _: Span) -> R {
    match as_port(&a[0]).map(|p| p.state.borrow()) {
        Some(state) => match &*state {
            PortState::BytesOut { bytes } => Ok(Value::mbytes(bytes.clone())),
            _ => Err(type_error(
                "get-output-bytevector",
                0,
                "a bytevector output port",
                &a[0],
            )),
        },
        None => Err(type_error(
            "get-output-bytevector",
            0,
            "a bytevector output port",
            &a[0],
        )),
    }
}

fn char_or_eof(c: Option<char>) -> Value {
    c.map(Value::Char).unwrap_or_else(eof)
}
fn read_char_proc(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, true, "read-char")?;
    Ok(char_or_eof(read_char(interp, &port, false)?))
}
fn peek_char(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, true, "peek-char")?;
    Ok(char_or_eof(read_char(interp, &port, true)?))
}
fn read_line(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, true, "read-line")?;
    let mut line = String::new();
    let mut any = false;
    while let Some(c) = read_char(interp, &port, false)? {
        any = true;
        if c == '\n' {
            break;
        }
        line.push(c);
        if line.len() as u64 > interp.limits.max_alloc_bytes {
            interp.reserve(line.len() as u64, "read-line")?;
        }
    }
    if !any {
        return Ok(eof());
    }
    if line.ends_with('\r') {
        line.pop();
    }
    Ok(Value::string(&line))
}
fn read_string(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let k = index_arg(a, 0, "read-string")?;
    let port = port_arg(interp, a, 1, true, "read-string")?;
    let mut out = String::new();
    for _ in 0..k {
        match read_char(interp, &port, false)? {
            Some(c) => out.push(c),
            None => break,
        }
    }
    if out.is_empty() && k > 0 {
        return Ok(eof());
    }
    Ok(Value::string(&out))
}
fn char_ready(interp: &mut Interp, a: &[Value], _: Span) -> R {
    port_arg(interp, a, 0, true, "char-ready?")?;
    Ok(Value::Bool(true))
}
fn byte_or_eof(b: Option<u8>) -> Value {
    b.map(|b| Value::Int(i64::from(b))).unwrap_or_else(eof)
}
fn read_u8(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, true, "read-u8")?;
    Ok(byte_or_eof(read_byte(&port, false)?))
}
fn peek_u8(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, true, "peek-u8")?;
    Ok(byte_or_eof(read_byte(&port, true)?))
}
fn u8_ready(interp: &mut Interp, a: &[Value], _: Span) -> R {
    port_arg(interp, a, 0, true, "u8-ready?")?;
    Ok(Value::Bool(true))
}
fn read_bytevector(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let k = index_arg(a, 0, "read-bytevector")?;
    let port = port_arg(interp, a, 1, true, "read-bytevector")?;
    let mut out = Vec::new();
    for _ in 0..k {
        match read_byte(&port, false)? {
            Some(b) => out.push(b),
            None => break,
        }
    }
    if out.is_empty() && k > 0 {
        return Ok(eof());
    }
    Ok(Value::mbytes(out))
}
/// `(read-bytevector! bv [port start end])`: the number of bytes read, or eof.
fn read_bytevector_bang(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let Value::MBytes(target) = &a[0] else {
        return Err(type_error("read-bytevector!", 0, "a bytevector", &a[0]));
    };
    let port = port_arg(interp, a, 1, true, "read-bytevector!")?;
    let len = target.borrow().len();
    let start = if a.len() > 2 {
        index_arg(a, 2, "read-bytevector!")?
    } else {
        0
    };
    let end = if a.len() > 3 {
        index_arg(a, 3, "read-bytevector!")?
    } else {
        len
    };
    if start > end || end > len {
        return Err(LangError::new(
            Code::Range,
            format!("read-bytevector!: range {start}..{end} is outside {len} bytes"),
        ));
    }
    let mut n = 0;
    for i in start..end {
        match read_byte(&port, false)? {
            Some(b) => {
                target.borrow_mut()[i] = b;
                n += 1;
            }
            None => break,
        }
    }
    if n == 0 && end > start {
        return Ok(eof());
    }
    Ok(Value::Int(n as i64))
}

/// `(read [port])` reads the next datum from a port; `(read "text")` reads one datum from a
/// string (the language's shorthand).
fn read(interp: &mut Interp, a: &[Value], _: Span) -> R {
    if let Some(v) = a.first().filter(|v| v.is_string()) {
        let text = v.with_text(str::to_string);
        let file = source::add_source("<read>", &text);
        return match crate::lang::reader::read_one(&text, file) {
            Ok(s) => Ok(s.to_value()),
            Err(mut errors) => Err(errors.remove(0)),
        };
    }
    let port = port_arg(interp, a, 0, true, "read")?;
    let text = remaining_text(interp, &port)?;
    let file = source::add_source("<read>", &text);
    match crate::lang::reader::read_prefix(&text, file)? {
        None => {
            advance_chars(&port, text.chars().count());
            Ok(eof())
        }
        Some((datum, end)) => {
            advance_chars(&port, text[..end].chars().count());
            Ok(datum.to_value())
        }
    }
}

fn write_char(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let c = char_arg(a, 0, "write-char")?;
    let port = port_arg(interp, a, 1, false, "write-char")?;
    write_text(interp, &port, c.encode_utf8(&mut [0; 4]), "write-char")?;
    Ok(Value::Void)
}
/// `(write-string s [port start end])`.
fn write_string(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let s = text_arg(a, 0, "write-string")?.into_owned();
    let port = port_arg(interp, a, 1, false, "write-string")?;
    let text = if a.len() > 2 {
        let chars: Vec<char> = s.chars().collect();
        let start = index_arg(a, 2, "write-string")?;
        let end = if a.len() > 3 {
            index_arg(a, 3, "write-string")?
        } else {
            chars.len()
        };
        if start > end || end > chars.len() {
            return Err(LangError::new(
                Code::Range,
                format!(
                    "write-string: range {start}..{end} is outside a string of length {}",
                    chars.len()
                ),
            ));
        }
        chars[start..end].iter().collect()
    } else {
        s
    };
    write_text(interp, &port, &text, "write-string")?;
    Ok(Value::Void)
}
fn write_u8(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let b = byte_value(&a[0], 0, "write-u8")?;
    let port = port_arg(interp, a, 1, false, "write-u8")?;
    write_bytes(interp, &port, &[b], "write-u8")?;
    Ok(Value::Void)
}
fn write_bytevector(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let b = octets(a, 0, "write-bytevector")?.into_owned();
    let port = port_arg(interp, a, 1, false, "write-bytevector")?;
    let start = if a.len() > 2 {
        index_arg(a, 2, "write-bytevector")?
    } else {
        0
    };
    let end = if a.len() > 3 {
        index_arg(a, 3, "write-bytevector")?
    } else {
        b.len()
    };
    if start > end || end > b.len() {
        return Err(LangError::new(
            Code::Range,
            format!(
                "write-bytevector: range {start}..{end} is outside {} bytes",
                b.len()
            ),
        ));
    }
    write_bytes(interp, &port, &b[start..end], "write-bytevector")?;
    Ok(Value::Void)
}
fn newline(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, false, "newline")?;
    write_text(interp, &port, "\n", "newline")?;
    Ok(Value::Void)
}
fn flush_output_port(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let port = port_arg(interp, a, 0, false, "flush-output-port")?;
    if let Some(p) = as_port(&port) {
        match &mut *p.state.borrow_mut() {
            PortState::Console => interp.out.flush(),
            PortState::FileOut(w) => {
                use std::io::Write;
                w.flush()
                    .map_err(|e| crate::lang::ports::io_error("flush-output-port", e))?;
            }
            _ => {}
        }
    }
    Ok(Value::Void)
}
/// Prints a value to a port in one of the printer's label modes.
fn print_to(interp: &mut Interp, a: &[Value], write: bool, labels: Labels, who: &str) -> R {
    let port = port_arg(interp, a, 1, false, who)?;
    let text = super::io::printed(interp, &a[0], write, labels, who)?;
    write_text(interp, &port, &text, who)?;
    Ok(Value::Void)
}
/// `(display v [port])`.
pub fn display(interp: &mut Interp, a: &[Value], _: Span) -> R {
    print_to(interp, a, false, Labels::Cycles, "display")
}
/// `(write v [port])`: datum labels for cycles.
pub fn write(interp: &mut Interp, a: &[Value], _: Span) -> R {
    print_to(interp, a, true, Labels::Cycles, "write")
}
fn write_shared(interp: &mut Interp, a: &[Value], _: Span) -> R {
    print_to(interp, a, true, Labels::Shared, "write-shared")
}
fn write_simple(interp: &mut Interp, a: &[Value], _: Span) -> R {
    print_to(interp, a, true, Labels::None, "write-simple")
}

fn port_ref<'a>(v: &'a Value, who: &str) -> Result<&'a Port, LangError> {
    as_port(v).ok_or_else(|| type_error(who, 0, "a port", v))
}
fn close_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    port_ref(&a[0], "close-port")?.close()?;
    Ok(Value::Void)
}
fn close_input_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    let p = port_ref(&a[0], "close-input-port")?;
    if !p.input {
        return Err(type_error("close-input-port", 0, "an input port", &a[0]));
    }
    p.close()?;
    Ok(Value::Void)
}
fn close_output_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    let p = port_ref(&a[0], "close-output-port")?;
    if p.input {
        return Err(type_error("close-output-port", 0, "an output port", &a[0]));
    }
    p.close()?;
    Ok(Value::Void)
}
/// `(call-with-port port proc)`: calls proc with the port and closes it when proc returns.
fn call_with_port(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let p = port_ref(&a[0], "call-with-port")?;
    let f = proc_arg(a, 1, "call-with-port")?;
    let v = interp.apply(&f, vec![a[0].clone()], span)?;
    p.close()?;
    Ok(v)
}
fn is_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(as_port(&a[0]).is_some())
}
fn is_input_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(as_port(&a[0]).is_some_and(|p| p.input))
}
fn is_output_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(as_port(&a[0]).is_some_and(|p| !p.input))
}
fn is_textual_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(as_port(&a[0]).is_some_and(|p| p.textual))
}
fn is_binary_port(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(as_port(&a[0]).is_some_and(|p| !p.textual))
}
fn input_port_open(_: &mut Interp, a: &[Value], _: Span) -> R {
    let p = port_ref(&a[0], "input-port-open?")?;
    bool_value(p.input && p.is_open())
}
fn output_port_open(_: &mut Interp, a: &[Value], _: Span) -> R {
    let p = port_ref(&a[0], "output-port-open?")?;
    bool_value(!p.input && p.is_open())
}
fn eof_object(_: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(eof())
}
fn is_eof_object(_: &mut Interp, a: &[Value], _: Span) -> R {
    bool_value(is_eof(&a[0]))
}
/// Stand-in for the standard port parameters: each interpreter binds the real parameter
/// object over it (`crate::lang::ports::standard_ports`); this entry documents it.
fn standard_port(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(interp.std_ports[1].value.borrow().clone())
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "current-input-port", 0, Some(0), standard_port, "A parameter: the port read and read-char use by default (standard input).", "(read-line (current-input-port))";
    "current-output-port", 0, Some(0), standard_port, "A parameter: the port display and write use by default (the console).", "(parameterize ([current-output-port (open-output-string)]) (display 1))";
    "current-error-port", 0, Some(0), standard_port, "A parameter: the port for diagnostics (standard error).", "(display \"oops\" (current-error-port))";
    "open-input-string", 1, Some(1), open_input_string, "A textual input port reading a string.", "(read-char (open-input-string \"ab\")) => #\\a";
    "open-output-string", 0, Some(0), open_output_string, "A textual output port collecting a string.", "(let ([p (open-output-string)]) (write 'x p) (get-output-string p)) => \"x\"";
    "get-output-string", 1, Some(1), get_output_string, "What was written to a string output port.", "(get-output-string (open-output-string)) => \"\"";
    "open-input-bytevector", 1, Some(1), open_input_bytevector, "A binary input port reading a bytevector.", "(read-u8 (open-input-bytevector #u8(7))) => 7";
    "open-output-bytevector", 0, Some(0), open_output_bytevector, "A binary output port collecting bytes.", "(let ([p (open-output-bytevector)]) (write-u8 1 p) (get-output-bytevector p)) => #u8(1)";
    "get-output-bytevector", 1, Some(1), get_output_bytevector, "What was written to a bytevector output port.", "(get-output-bytevector (open-output-bytevector)) => #u8()";
    "read-char", 0, Some(1), read_char_proc, "The next character of a port, or eof.", "(read-char (open-input-string \"a\")) => #\\a";
    "peek-char", 0, Some(1), peek_char, "The next character, without consuming it.", "(peek-char (open-input-string \"a\")) => #\\a";
    "read-line", 0, Some(1), read_line, "The next line (without its newline), or eof.", "(read-line (open-input-string \"a\\nb\")) => \"a\"";
    "read-string", 1, Some(2), read_string, "Up to k characters as a string, or eof.", "(read-string 2 (open-input-string \"abc\")) => \"ab\"";
    "char-ready?", 0, Some(1), char_ready, "Can a character be read without blocking? (always #t here).", "(char-ready? (open-input-string \"\")) => #t";
    "read-u8", 0, Some(1), read_u8, "The next byte of a binary port, or eof.", "(read-u8 (open-input-bytevector #u8(1))) => 1";
    "peek-u8", 0, Some(1), peek_u8, "The next byte, without consuming it.", "(peek-u8 (open-input-bytevector #u8(1))) => 1";
    "u8-ready?", 0, Some(1), u8_ready, "Can a byte be read without blocking? (always #t here).", "(u8-ready? (open-input-bytevector #u8())) => #t";
    "read-bytevector", 1, Some(2), read_bytevector, "Up to k bytes as a bytevector, or eof.", "(read-bytevector 2 (open-input-bytevector #u8(1 2 3))) => #u8(1 2)";
    "read-bytevector!", 1, Some(4), read_bytevector_bang, "Reads bytes into a bytevector (from start to end); the count read, or eof.", "(let ([b (make-bytevector 2 0)]) (read-bytevector! b (open-input-bytevector #u8(9))) b) => #u8(9 0)";
    "read", 0, Some(1), read, "The next datum from a port (default: current input), or eof; (read \"text\") reads one datum from a string.", "(read (open-input-string \"(1 2) x\")) => (1 2)";
    "write-char", 1, Some(2), write_char, "Writes a character to a port.", "(write-char #\\a)";
    "write-string", 1, Some(4), write_string, "Writes a string's characters (from start to end) to a port.", "(write-string \"hello\" (current-output-port) 1 3) prints el";
    "write-u8", 1, Some(2), write_u8, "Writes a byte to a binary port.", "(write-u8 255 (open-output-bytevector))";
    "write-bytevector", 1, Some(4), write_bytevector, "Writes bytes (from start to end) to a binary port.", "(write-bytevector #u8(1 2) (open-output-bytevector))";
    "display", 1, Some(2), display, "Prints a value for people (strings without quotes), to a port or the console.", "(display \"hi\") prints hi";
    "write", 1, Some(2), write, "Prints a value in a form read reads back; cycles get datum labels.", "(write \"hi\") prints \"hi\"";
    "write-shared", 1, Some(2), write_shared, "Like write, labelling every shared node.", "(let ([x (list 1)]) (write-shared (list x x))) prints (#0=(1) #0#)";
    "write-simple", 1, Some(2), write_simple, "Like write, without datum labels (a cycle prints until the size limit).", "(write-simple '(1 2)) prints (1 2)";
    "newline", 0, Some(1), newline, "Writes a newline to a port or the console.", "(newline)";
    "flush-output-port", 0, Some(1), flush_output_port, "Flushes an output port.", "(flush-output-port)";
    "close-port", 1, Some(1), close_port, "Closes a port.", "(close-port (open-input-string \"\"))";
    "close-input-port", 1, Some(1), close_input_port, "Closes an input port.", "(close-input-port (open-input-string \"\"))";
    "close-output-port", 1, Some(1), close_output_port, "Closes an output port.", "(close-output-port (open-output-string))";
    "call-with-port", 2, Some(2), call_with_port, "Calls proc with the port, closing it when proc returns.", "(call-with-port (open-input-string \"x\") read-char) => #\\x";
    "port?", 1, Some(1), is_port, "Is it a port?", "(port? (open-input-string \"\")) => #t";
    "input-port?", 1, Some(1), is_input_port, "Is it an input port?", "(input-port? (open-input-string \"\")) => #t";
    "output-port?", 1, Some(1), is_output_port, "Is it an output port?", "(output-port? (open-output-string)) => #t";
    "textual-port?", 1, Some(1), is_textual_port, "Is it a textual port?", "(textual-port? (open-input-string \"\")) => #t";
    "binary-port?", 1, Some(1), is_binary_port, "Is it a binary port?", "(binary-port? (open-input-bytevector #u8())) => #t";
    "input-port-open?", 1, Some(1), input_port_open, "Is it an input port that is still open?", "(input-port-open? (open-input-string \"\")) => #t";
    "output-port-open?", 1, Some(1), output_port_open, "Is it an output port that is still open?", "(output-port-open? (open-output-string)) => #t";
    "eof-object", 0, Some(0), eof_object, "The end-of-file object.", "(eof-object? (eof-object)) => #t";
    "eof-object?", 1, Some(1), is_eof_object, "Is it the end-of-file object?", "(eof-object? (read-char (open-input-string \"\"))) => #t";
];
