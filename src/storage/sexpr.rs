//! A small pretty printer for S-expression values: a value that fits in [`WIDTH`] columns
//! prints on one line, a longer list or vector prints one element per line, indented.
//! Why: snapshot documents must be readable and diffable line by line, and lexpr only
//! prints compactly. Strings print escaped (a newline is `\n`), so every line of the
//! output that starts with `(` at column 0 begins a top-level form.

use lexpr::Value;

/// Widest line the printer aims for (a long atom may exceed it).
pub const WIDTH: usize = 100;

/// `value` pretty-printed, starting at column `indent` (the first line is not indented).
pub fn pretty(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write(value, indent, &mut out);
    out
}

fn write(value: &Value, indent: usize, out: &mut String) {
    let compact = value.to_string();
    if indent + compact.len() <= WIDTH {
        out.push_str(&compact);
        return;
    }
    match value {
        Value::Cons(_) => {
            let mut items = Vec::new();
            let mut rest = value;
            while let Value::Cons(c) = rest {
                items.push(c.car());
                rest = c.cdr();
            }
            let tail = (!rest.is_null()).then_some(rest);
            write_items("(", &items, tail, indent, out);
        }
        Value::Vector(items) => {
            let items: Vec<&Value> = items.iter().collect();
            write_items("#(", &items, None, indent, out);
        }
        _ => out.push_str(&compact),
    }
}

fn write_items(
    open: &str,
    items: &[&Value],
    tail: Option<&Value>,
    indent: usize,
    out: &mut String,
) {
    out.push_str(open);
    let inner = indent + 1;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            newline(inner, out);
        }
        write(item, inner, out);
    }
    if let Some(t) = tail {
        newline(inner, out);
        out.push_str(". ");
        write(t, inner + 2, out);
    }
    out.push(')');
}

fn newline(indent: usize, out: &mut String) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_break_and_reparse_to_the_same_value() {
        let long: Vec<Value> = (0..60).map(|i| Value::from(format!("item-{i}"))).collect();
        let v = Value::list(vec![
            Value::symbol("a"),
            Value::list(long),
            Value::cons(Value::symbol("k"), Value::from(5)),
            Value::vector(vec![Value::from(1), Value::from("x\ny")]),
        ]);
        let text = pretty(&v, 0);
        assert!(text.lines().count() > 3);
        assert!(text.lines().skip(1).all(|l| l.starts_with(' ')));
        assert_eq!(lexpr::from_str(&text).unwrap(), v);
    }
}
