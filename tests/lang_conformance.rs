//! The language conformance suite: runs every `tests/lang/*.xln` script (not `support/`)
//! in a fresh interpreter and requires every `test` form in it to pass. Each script is one
//! area of the language (reader, numbers, lists, control, macros, ...); failures print the
//! location and the expected and actual values.

use std::path::{Path, PathBuf};

use xln::lang::eval::stack_bytes_for;
use xln::lang::{Interp, Limits, Output};

/// What running one script produced.
struct FileResult {
    path: PathBuf,
    passed: usize,
    failed: usize,
    failures: Vec<String>,
    output: String,
    error: Option<String>,
}

fn suite_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "xln"))
        .collect();
    files.sort();
    files
}

/// The limits `xln run` uses: the default depth limit, with the stack-use safety net set
/// from the (large) stack the interpreter thread gets, so `max_depth` is what governs.
fn cli_limits() -> (Limits, usize) {
    let mut limits = Limits::default();
    let stack = stack_bytes_for(&limits);
    limits.stack_bytes = stack - (4 << 20);
    (limits, stack)
}

/// Runs one script the way `xln run` does: a fresh interpreter, a `main` module whose path
/// is the script (so relative `require`s resolve next to it), output captured.
fn run_file(path: &Path) -> FileResult {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut interp = Interp::new(cli_limits().0, Output::captured());
    interp.module = interp.modules.new_module("main", Some(path.to_path_buf()));
    let shown = display_path(path);
    let error = interp
        .eval_source(&shown, &text)
        .err()
        .map(|e| e.render(false));
    FileResult {
        path: path.to_path_buf(),
        passed: interp.tests.passed,
        failed: interp.tests.failed,
        failures: interp.tests.failures.clone(),
        output: interp.out.take_captured(),
        error,
    }
}

/// `tests/lang/x.xln`, relative to the crate, for messages.
fn display_path(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The interpreter recurses on the Rust stack up to `Limits::max_depth` levels (the suite
/// recurses thousands deep and checks that the limit is reported, not a crash), so scripts
/// run on a thread with the stack the CLI gives them.
fn run_suite() -> Vec<FileResult> {
    let stack = cli_limits().1;
    std::thread::Builder::new()
        .name("lang-conformance".into())
        .stack_size(stack)
        .spawn(|| suite_files().iter().map(|p| run_file(p)).collect())
        .expect("spawn the suite thread")
        .join()
        .expect("the suite thread panicked")
}

#[test]
fn conformance_suite() {
    let results = run_suite();
    assert!(
        results.len() >= 10,
        "expected the conformance scripts in tests/lang, found {}",
        results.len()
    );
    let (mut passed, mut failed) = (0, 0);
    let mut problems = Vec::new();
    for r in &results {
        let name = display_path(&r.path);
        println!("{name}: {} passed, {} failed", r.passed, r.failed);
        passed += r.passed;
        failed += r.failed;
        if r.failed > 0 {
            problems.push(format!("{name}: {} failed", r.failed));
            for f in &r.failures {
                println!("  {}", f.trim_end().replace('\n', "\n  "));
            }
        }
        if let Some(e) = &r.error {
            problems.push(format!("{name}: stopped with an error"));
            println!("{name} stopped with an error:\n{e}");
            println!("output before the error:\n{}", r.output);
        }
        if r.passed == 0 {
            problems.push(format!("{name}: no test passed"));
        }
    }
    println!("{passed} passed, {failed} failed");
    assert!(
        problems.is_empty() && failed == 0,
        "conformance suite problems:\n  {}",
        problems.join("\n  ")
    );
}

/// Runs a small script and returns (passed, failed, printed output).
fn run_text(text: &str) -> (usize, usize, String) {
    let text = text.to_string();
    let stack = cli_limits().1;
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let mut interp = Interp::new(cli_limits().0, Output::captured());
            let result = interp.eval_source("test-error.xln", &text);
            assert!(result.is_ok(), "the script stopped: {result:?}");
            (
                interp.tests.passed,
                interp.tests.failed,
                interp.out.take_captured(),
            )
        })
        .expect("spawn")
        .join()
        .expect("the interpreter thread panicked")
}

#[test]
fn test_error_with_the_wrong_code_fails_naming_both_codes() {
    let (passed, failed, out) = run_text("(test-error E004 (no-such-function))");
    assert_eq!((passed, failed), (0, 1), "{out}");
    assert!(out.contains("E004") && out.contains("E002"), "{out}");
    assert!(out.contains("no-such-function"), "{out}");
}

#[test]
fn test_error_with_the_right_code_passes() {
    let (passed, failed, out) = run_text(
        "(test-error E004 (car 5))
         (test-error E007 (error \"boom\"))
         (test-error E007 (raise 'oops))
         (test-error E002 (no-such-function))
         (define (deep n) (+ 1 (deep n)))
         (test-error E006 (deep 1))",
    );
    assert_eq!((passed, failed), (5, 0), "{out}");
}

#[test]
fn test_error_fails_when_nothing_is_raised() {
    let (passed, failed, out) = run_text("(test-error E004 (+ 1 2))");
    assert_eq!((passed, failed), (0, 1), "{out}");
    assert!(
        out.contains("expected error E004, got the value 3"),
        "{out}"
    );
}

#[test]
fn the_uncoded_test_error_no_longer_hides_an_unbound_name() {
    let (passed, failed, out) = run_text("(test-error (no-such-function)) (test-error (car 5))");
    assert_eq!((passed, failed), (1, 1), "{out}");
    assert!(out.contains("E002"), "{out}");
}
