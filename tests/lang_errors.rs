//! Diagnostics of bad programs: each must fail with its stable code, a span pointing at
//! the offending text (checked as file:line:col and as the exact source it covers), and a
//! rendered report that shows both.

use xln::lang::eval::stack_bytes_for;
use xln::lang::source::{describe, snippet};
use xln::lang::{Interp, LangError, Limits, Output};

/// Evaluates `text` as the file `name` in a fresh interpreter and returns its error.
fn error_of(limits: Limits, name: &str, text: &str) -> LangError {
    let mut interp = Interp::new(limits, Output::captured());
    match interp.eval_source(name, text) {
        Ok(v) => panic!("{name}: expected an error, got the value {v:?}"),
        Err(e) => e,
    }
}

/// Runs `f` on a thread with the stack and limits `xln run` uses.
fn with_cli_limits<T: Send + 'static>(f: impl FnOnce(Limits) -> T + Send + 'static) -> T {
    let mut limits = Limits::default();
    let stack = stack_bytes_for(&limits);
    limits.stack_bytes = stack - (4 << 20);
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || f(limits))
        .expect("spawn")
        .join()
        .expect("the interpreter thread panicked")
}

/// The error's code, where it points ("file:line:col"), the text its span covers, and the
/// rendered report (without colour).
struct Seen {
    code: &'static str,
    at: String,
    text: String,
    rendered: String,
}

fn seen(e: &LangError) -> Seen {
    let span = e
        .span
        .unwrap_or_else(|| panic!("error without a span: {e}"));
    Seen {
        code: e.code.as_str(),
        at: describe(span),
        text: snippet(span),
        rendered: e.render(false),
    }
}

fn assert_rendered(s: &Seen, source_line: &str) {
    assert!(
        s.rendered.contains(&s.at),
        "the report should name {}:\n{}",
        s.at,
        s.rendered
    );
    assert!(
        s.rendered.contains(source_line),
        "the report should show `{source_line}`:\n{}",
        s.rendered
    );
    assert!(
        s.rendered.contains(s.code),
        "the report should show the code {}:\n{}",
        s.code,
        s.rendered
    );
}

#[test]
fn unbalanced_paren_points_at_the_unclosed_bracket() {
    let text = "(define x 1)\n(display (+ x\n   (car (list 1 2)))\n";
    let s = seen(&error_of(Limits::default(), "unbalanced.xln", text));
    assert_eq!(s.code, "E001");
    assert_eq!(s.at, "unbalanced.xln:2:1");
    assert_eq!(s.text, "(");
    assert!(s.rendered.contains("never closed"), "{}", s.rendered);
    assert_rendered(&s, "(display (+ x");
}

#[test]
fn unclosed_vector_and_string_are_read_errors_at_the_opener() {
    let s = seen(&error_of(
        Limits::default(),
        "vector.xln",
        "(list 1\n  [2 3)\n",
    ));
    assert_eq!(s.code, "E001");
    let s = seen(&error_of(
        Limits::default(),
        "string.xln",
        "(display \"abc)\n",
    ));
    assert_eq!(s.code, "E001");
    assert_eq!(s.at, "string.xln:1:10");
}

#[test]
fn stray_closing_paren_is_a_read_error() {
    let s = seen(&error_of(Limits::default(), "stray.xln", "(+ 1 2))\n"));
    assert_eq!(s.code, "E001");
    assert_eq!(s.at, "stray.xln:1:8");
}

#[test]
fn unbound_name_span_is_exactly_the_name() {
    let text = "(define x 1)\n(+ x undefined-name 2)\n";
    let s = seen(&error_of(Limits::default(), "unbound.xln", text));
    assert_eq!(s.code, "E002");
    assert_eq!(s.at, "unbound.xln:2:6");
    assert_eq!(s.text, "undefined-name");
    assert!(s.rendered.contains("`undefined-name` is not defined"));
    assert_rendered(&s, "(+ x undefined-name 2)");
}

#[test]
fn unbound_name_suggests_a_close_one() {
    let e = error_of(
        Limits::default(),
        "typo.xln",
        "(define (square n) (* n n))\n(sqaure 4)\n",
    );
    let s = seen(&e);
    assert_eq!(s.code, "E002");
    assert_eq!(s.text, "sqaure");
    assert!(
        s.rendered.contains("did you mean `square`?"),
        "{}",
        s.rendered
    );
}

#[test]
fn wrong_arity_span_is_the_call() {
    let text = "(define (f a b) a)\n(display\n  (f 1))\n";
    let s = seen(&error_of(Limits::default(), "arity.xln", text));
    assert_eq!(s.code, "E003");
    assert_eq!(s.at, "arity.xln:3:3");
    assert_eq!(s.text, "(f 1)");
    assert!(s.rendered.contains("f expects 2 arguments, got 1"));
    assert_rendered(&s, "(f 1))");
}

#[test]
fn wrong_arity_of_a_builtin_is_e003_at_the_call() {
    let s = seen(&error_of(
        Limits::default(),
        "car2.xln",
        "(car '(1) '(2))\n",
    ));
    assert_eq!(s.code, "E003");
    assert_eq!(s.text, "(car '(1) '(2))");
}

#[test]
fn type_error_in_a_builtin_is_e004_at_the_call() {
    let text = "(define s \"text\")\n(+ 1 (car s))\n";
    let s = seen(&error_of(Limits::default(), "type.xln", text));
    assert_eq!(s.code, "E004");
    assert_eq!(s.at, "type.xln:2:6");
    assert_eq!(s.text, "(car s)");
    assert!(s.rendered.contains("car: argument 1 must be a pair"));
    assert_rendered(&s, "(+ 1 (car s))");
}

#[test]
fn calling_a_non_procedure_is_e004() {
    let s = seen(&error_of(
        Limits::default(),
        "call.xln",
        "(define x 5)\n(x 1)\n",
    ));
    assert_eq!(s.code, "E004");
    assert_eq!(s.text, "(x 1)");
}

#[test]
fn runaway_recursion_is_e006_not_a_crash() {
    let text = "(define (f n) (+ 1 (f n)))\n(f 1)\n";
    let s = with_cli_limits(move |limits| seen(&error_of(limits, "deep.xln", text)));
    assert_eq!(s.code, "E006");
    assert_eq!(s.at, "deep.xln:1:20");
    assert_eq!(s.text, "(f n)");
    assert!(
        s.rendered
            .contains("recursion deeper than 10000 nested calls"),
        "{}",
        s.rendered
    );
    assert_rendered(&s, "(define (f n) (+ 1 (f n)))");
    // The call chain is summarised, not printed ten thousand times.
    assert!(s.rendered.lines().count() < 60, "{}", s.rendered);
}

#[test]
fn runaway_recursion_on_a_small_stack_is_still_e006() {
    // The default limits suit a thread with a small stack (like this test's own).
    let text = "(define (f n) (+ 1 (f n)))\n(f 1)\n";
    let s = seen(&error_of(Limits::default(), "deep-small.xln", text));
    assert_eq!(s.code, "E006");
    assert_eq!(s.text, "(f n)");
}

#[test]
fn runtime_errors_inside_procedures_report_the_innermost_site_and_the_stack() {
    // `outer` calls `inner` in a non-tail position, so both frames are on the stack.
    let text =
        "(define (inner x) (vector-ref x 5))\n(define (outer) (+ 1 (inner [1 2])))\n(outer)\n";
    let e = error_of(Limits::default(), "stack.xln", text);
    let s = seen(&e);
    assert_eq!(s.code, "E011");
    assert_eq!(s.text, "(vector-ref x 5)");
    assert!(
        s.rendered.contains("in inner called at stack.xln:2:22"),
        "{}",
        s.rendered
    );
    assert!(
        s.rendered.contains("in outer called at stack.xln:3:1"),
        "{}",
        s.rendered
    );
}

#[test]
fn bad_syntax_is_e005_at_the_form() {
    let s = seen(&error_of(
        Limits::default(),
        "syntax.xln",
        "(let ([x]) x)\n",
    ));
    assert_eq!(s.code, "E005");
    let s = seen(&error_of(Limits::default(), "if.xln", "(if)\n"));
    assert_eq!(s.code, "E005");
    assert_eq!(s.text, "(if)");
}

#[test]
fn uncaught_raise_and_error_are_e007() {
    let s = seen(&error_of(
        Limits::default(),
        "raise.xln",
        "(error \"bad amount:\" 5)\n",
    ));
    assert_eq!(s.code, "E007");
    assert!(s.rendered.contains("bad amount: 5"), "{}", s.rendered);
    let e = error_of(Limits::default(), "raise2.xln", "(raise 'oops)\n");
    assert_eq!(e.code.as_str(), "E007");
    assert!(e.message.contains("oops"));
}

#[test]
fn a_caught_and_reraised_error_keeps_its_original_site() {
    let text = "(define (f) (car 5))\n(guard (e [#f 'never]) (f))\n";
    let s = seen(&error_of(Limits::default(), "reraise.xln", text));
    assert_eq!(s.code, "E004");
    assert_eq!(s.text, "(car 5)");
}

#[test]
fn no_match_is_e015_at_the_match() {
    let s = seen(&error_of(
        Limits::default(),
        "match.xln",
        "(match 5 [1 'one])\n",
    ));
    assert_eq!(s.code, "E015");
    assert_eq!(s.text, "(match 5 [1 'one])");
}
