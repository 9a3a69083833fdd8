//! The built-in test forms' runtime: `(test expected expr)` compares with `equal?`, counts
//! passes and failures, and reports each failure with its source location.

use std::rc::Rc;

use super::str_arg;
use crate::lang::diagnostics::{Code, Control, LangError};
use crate::lang::eval::{Expr, Frame, Interp, TestKind};
use crate::lang::printer::write_short;
use crate::lang::source::{self, Span};
use crate::lang::value::{Primitive, Value};

type R = Result<Value, LangError>;

/// Runs one `test` / `test-error`. A failure is counted and printed, not raised, so a
/// script reports every failing test in one run.
pub fn run_test(
    interp: &mut Interp,
    name: Option<&Rc<Expr>>,
    expected: &Rc<Expr>,
    actual: &Rc<Expr>,
    span: Span,
    kind: TestKind,
    env: &Rc<Frame>,
) -> R {
    let where_ = source::describe(span);
    // The excerpt is the form's first line, cut short: a test inside a macro (a scenario,
    // say) has the whole macro use as its span.
    let text = {
        let full = source::snippet(span);
        let first = full.lines().next().unwrap_or_default().to_string();
        if first.chars().count() > 100 || full.lines().nth(1).is_some() {
            format!("{} ...", first.chars().take(100).collect::<String>())
        } else {
            first
        }
    };
    let failure = if kind != TestKind::Value {
        match interp.catching(|i| i.eval(actual, env)) {
            Err(e) if testable(&e, kind) => error_failure(&e, kind),
            Err(e) => return Err(e),
            Ok(v) => Some(match kind {
                TestKind::Error(c) => {
                    format!(
                        "expected error {}, got the value {}",
                        c.as_str(),
                        write_short(&v)
                    )
                }
                _ => format!("expected an error, got {}", write_short(&v)),
            }),
        }
    } else {
        let want = interp.eval(expected, env)?;
        match interp.catching(|i| i.eval(actual, env)) {
            Ok(got) if got == want => None,
            Ok(got) => Some(format!(
                "expected {}\n    got      {}",
                write_short(&want),
                write_short(&got)
            )),
            Err(e) if e.is_catchable() => Some(format!(
                "expected {}\n    raised   {}",
                write_short(&want),
                e.message
            )),
            Err(e) => return Err(e),
        }
    };
    match failure {
        None => {
            interp.tests.passed += 1;
            if let Some(g) = &mut interp.tests.group {
                g.1 += 1;
            }
        }
        Some(why) => {
            interp.tests.failed += 1;
            if let Some(g) = &mut interp.tests.group {
                g.2 += 1;
            }
            let label = match name {
                Some(n) => match interp.eval(n, env)? {
                    Value::Str(s) => format!(" [{s}]"),
                    other => format!(" [{}]", write_short(&other)),
                },
                None => String::new(),
            };
            let msg = format!("FAIL {where_}{label}: {text}\n    {why}\n");
            interp.tests.failures.push(msg.clone());
            interp.out.write_str(&msg);
        }
    }
    Ok(Value::Void)
}

/// Errors a `test-error` may catch: every catchable error, and for the coded form also the
/// stack-depth and memory limits when they are the code expected (both leave the
/// interpreter usable once unwound). The step budget, Ctrl-C and exits always propagate.
fn testable(e: &LangError, kind: TestKind) -> bool {
    if e.is_catchable() {
        return true;
    }
    matches!(kind, TestKind::Error(c) if c == e.code && matches!(c, Code::StackDepth | Code::Memory))
        && e.control == Control::None
}

/// Why a raised error does not satisfy a `test-error`, or `None` if it does. The uncoded
/// form refuses an unbound variable: it would hide a misspelt name.
fn error_failure(e: &LangError, kind: TestKind) -> Option<String> {
    match kind {
        TestKind::Error(c) if c == e.code => None,
        TestKind::Error(c) => Some(format!(
            "expected error {}, got {} {}: {}",
            c.as_str(),
            e.code.as_str(),
            e.code.title(),
            e.message
        )),
        _ if e.code == Code::Unbound => Some(format!(
            "raised {} {}: {} (name the expected code: (test-error E0xx expr))",
            e.code.as_str(),
            e.code.title(),
            e.message
        )),
        _ => None,
    }
}

fn test_begin(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let name = match a.first() {
        Some(Value::Str(s)) => s.to_string(),
        Some(v) => v.to_string(),
        None => "tests".to_string(),
    };
    interp.tests.group = Some((name, 0, 0));
    Ok(Value::Void)
}
fn test_end(interp: &mut Interp, _: &[Value], _: Span) -> R {
    if let Some((name, passed, failed)) = interp.tests.group.take() {
        let line = format!("{name}: {passed} passed, {failed} failed\n");
        interp.out.write_str(&line);
    }
    Ok(Value::Void)
}
fn test_counts(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::list(vec![
        Value::Int(interp.tests.passed as i64),
        Value::Int(interp.tests.failed as i64),
    ]))
}
fn test_group_note(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let s = str_arg(a, 0, "test-note")?;
    interp.out.write_str(&format!("  {s}\n"));
    Ok(Value::Void)
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "test-begin", 0, Some(1), test_begin, "Starts a named group of tests.", "(test-begin \"arithmetic\")";
    "test-end", 0, Some(1), test_end, "Ends the group and prints `name: N passed, M failed`.", "(test-end)";
    "test-counts", 0, Some(0), test_counts, "(passed failed) so far in this interpreter.", "(test-counts) => (3 0)";
    "test-note", 1, Some(1), test_group_note, "Prints an indented note among test output.", "(test-note \"slow path\")";
];
