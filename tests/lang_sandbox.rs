//! The sandboxed interpreter (`Interp::sandboxed`): every forbidden capability is refused
//! with E021, output goes nowhere, the limits hold, native bindings are absent unless
//! installed, and the same program gives the same result in every sandbox.

use xln::lang::sandbox::REFUSED;
use xln::lang::{Interp, LangError, Limits, Value};

fn sandbox() -> Interp {
    Interp::sandboxed(Limits::sandbox())
}

fn error_of(interp: &mut Interp, text: &str) -> LangError {
    match interp.eval_source("sandboxed.xln", text) {
        Ok(v) => panic!("expected an error from {text}, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_refused_capability_is_a_coded_error() {
    for (name, _) in REFUSED {
        let mut interp = sandbox();
        let e = error_of(&mut interp, &format!("({name} \"x\")"));
        assert_eq!(e.code.as_str(), "E021", "{name}: {e}");
        assert!(e.message.contains(name), "{name}: {}", e.message);
    }
}

#[test]
fn the_clock_file_requires_and_the_environment_are_refused() {
    for text in [
        "(time (+ 1 2))",
        "(require \"../scripts/main.xln\")",
        "(current-second)",
        "(get-environment-variable \"HOME\")",
        "(open-input-file \"/etc/passwd\")",
        "(with-output-to-file \"/tmp/x\" (lambda () (display 1)))",
        "(exit 3)",
    ] {
        let e = error_of(&mut sandbox(), text);
        assert_eq!(e.code.as_str(), "E021", "{text}: {e}");
    }
}

#[test]
fn the_refusal_can_be_caught_like_any_error() {
    let mut interp = sandbox();
    let v = interp
        .eval_source(
            "s.xln",
            "(guard (e [#t (error-object-code e)]) (load \"x.xln\"))",
        )
        .expect("runs");
    assert_eq!(v, Value::string("E021"));
}

#[test]
fn output_is_discarded() {
    let mut interp = sandbox();
    assert!(interp.out.is_discarded());
    interp
        .eval_source("s.xln", "(display \"hello\") (printf \"~a~%\" 42)")
        .expect("runs");
    assert_eq!(interp.out.take_captured(), "");
}

#[test]
fn native_bindings_are_absent_unless_installed() {
    let e = error_of(&mut sandbox(), "(keccak256 #x\"00\")");
    assert_eq!(e.code.as_str(), "E002", "{e}");
}

#[test]
fn the_step_budget_and_the_memory_bounds_hold() {
    let e = error_of(&mut sandbox(), "(let loop () (loop))");
    assert_eq!(e.code.as_str(), "E009", "{e}");
    let e = error_of(&mut sandbox(), "(make-list 100000000 0)");
    assert_eq!(e.code.as_str(), "E019", "{e}");
    let e = error_of(&mut sandbox(), "(make-string 100000000 #\\a)");
    assert_eq!(e.code.as_str(), "E019", "{e}");
    let mut tight = Interp::sandboxed(Limits {
        max_memory_bytes: 16 << 20,
        step_budget: None,
        ..Limits::sandbox()
    });
    let e = error_of(&mut tight, "(let loop ([l '()]) (loop (cons 1 l)))");
    assert_eq!(e.code.as_str(), "E020", "{e}");
}

/// A program that touches the things that could differ between replicas: gensym names,
/// map and set iteration order, symbol order, printing.
const PROGRAM: &str = "
(define m (let loop ([i 0] [m {}]) (if (= i 50) m (loop (+ i 1) (hash-set m (gensym 'k) (* i i))))))
(define s (list->set (map (lambda (i) (string->symbol (format \"s~a\" (- 100 i)))) (iota 30))))
(->written (list (hash-keys m) (hash-values m) (set->list s) (gensym)))
";

#[test]
fn the_same_program_gives_the_same_result_in_every_sandbox() {
    let first = sandbox().eval_source("p.xln", PROGRAM).expect("runs");
    // Other work on the thread (symbols interned, gensyms made) must not change the result.
    let mut other = Interp::new(Limits::default(), xln::lang::Output::captured());
    other
        .eval_source(
            "o.xln",
            "(define (f) (gensym)) (map (lambda (i) (f)) (iota 100)) 'zz 's7",
        )
        .expect("runs");
    for _ in 0..3 {
        let again = sandbox().eval_source("p.xln", PROGRAM).expect("runs");
        assert_eq!(first, again);
    }
}

#[test]
fn embedded_stdlib_modules_can_be_required() {
    let mut interp = sandbox();
    interp
        .eval_source("s.xln", "(require test)")
        .expect("the embedded test module loads in a sandbox");
}

#[test]
fn sandboxes_are_cheap_to_make_many_of() {
    // Not a timing test: many sandboxes one after another must all work and stay separate.
    for i in 0..200 {
        let mut interp = sandbox();
        let v = interp
            .eval_source("s.xln", &format!("(define x {i}) (* x 2)"))
            .expect("runs");
        assert_eq!(v, Value::Int(2 * i));
    }
}

#[test]
fn a_sandbox_cannot_change_what_the_next_sandbox_sees() {
    let mut first = sandbox();
    first
        .eval_source(
            "s.xln",
            "(set! car cdr) (define (map . _) 'broken) (define-syntax when (syntax-rules () [(_ . _) 'broken]))",
        )
        .expect("runs");
    let mut second = sandbox();
    let v = second
        .eval_source("s.xln", "(list (car '(1 2)) (map add1 '(1)) (when #t 'ok))")
        .expect("runs");
    assert_eq!(v.to_string(), "(1 (2) ok)");
}

#[test]
fn extra_tables_the_caller_vouches_for_are_callable() {
    let mut interp =
        Interp::sandboxed_with(Limits::sandbox(), &[xln::bindings::crypto::PRIMITIVES]);
    let v = interp
        .eval_source("s.xln", "(bytes-length (keccak256 #x\"00\"))")
        .expect("keccak256 is installed");
    assert_eq!(v, Value::Int(32));
    // ...and a plain sandbox on the same thread still does not have them.
    let e = error_of(&mut sandbox(), "(keccak256 #x\"00\")");
    assert_eq!(e.code.as_str(), "E002");
}
