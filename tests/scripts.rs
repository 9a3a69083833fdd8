//! Every protocol script in `scripts/` is its own test (generated per file by `build.rs`):
//! each must finish without an error, with at least one `test` form passing and none
//! failing. `main.xln`, which runs all the others, is the main job: `tests/cli.rs` runs it
//! through the binary and checks its counts. A last test checks the generated list is the
//! directory as it is now (with its `scenarios/` subdirectory), so a script cannot be left
//! out.

use std::path::{Path, PathBuf};

use xln::lang::{Interp, Limits, Output};

include!(concat!(env!("OUT_DIR"), "/script_tests.rs"));

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// What one script run gave: the error report, passed, failed, and the output.
type ScriptRun = (Result<(), String>, usize, usize, String);

/// Runs `scripts/<name>` as `xln run` would.
fn run_script(name: &str) -> ScriptRun {
    let path = scripts_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    run_text(path.display().to_string(), path, text)
}

/// Runs `text` as the script at `path` (named `label` in reports) in a fresh interpreter,
/// on a thread with the CLI's large stack (scripts may recurse deeply).
fn run_text(label: String, path: PathBuf, text: String) -> ScriptRun {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let limits = Limits {
                stack_bytes: 200 << 20,
                ..Limits::default()
            };
            let mut interp = Interp::new(limits, Output::captured());
            interp.module = interp.modules.new_module("main", Some(path));
            let result = interp
                .eval_source(&label, &text)
                .map(|_| ())
                .map_err(|e| e.render(false));
            (
                result,
                interp.tests.passed,
                interp.tests.failed,
                interp.out.take_captured(),
            )
        })
        .expect("spawn")
        .join()
        .expect("script thread")
}

/// The generated test of one script.
fn check_script(name: &str) {
    let (result, passed, failed, output) = run_script(name);
    println!("{name}: {passed} passed, {failed} failed");
    if let Err(e) = result {
        panic!("{name} stopped with an error:\n{e}\noutput before it:\n{output}");
    }
    assert!(
        failed == 0,
        "{name}: {failed} test(s) failed, {passed} passed:\n{output}"
    );
    assert!(passed > 0, "{name} asserted nothing:\n{output}");
}

#[test]
fn every_script_in_the_directory_has_its_test() {
    let xln_in = |dir: PathBuf, prefix: &str| -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".xln"))
            .map(|n| format!("{prefix}{n}"))
            .collect()
    };
    let mut found = xln_in(scripts_dir(), "");
    found.extend(xln_in(scripts_dir().join("scenarios"), "scenarios/"));
    found.sort();
    assert_eq!(
        found, SCRIPTS,
        "scripts/ changed since build.rs generated the tests (rebuild: cargo test --test scripts)"
    );
    assert!(found.len() > 1 && found.iter().any(|n| n == "main.xln"));
}

/// Runs xln source text in a fresh interpreter (as a script in `scripts/` would run).
fn run_source(text: &'static str) -> ScriptRun {
    run_text(
        "inline.xln".into(),
        scripts_dir().join("inline.xln"),
        text.into(),
    )
}

/// The scenario library: `run-scenario/results` counts a false expectation as tripped
/// without failing the script, `run-scenario` makes the same expectation a failed test,
/// and a clause due at a tick the scenario never reaches, or of no known kind, is an
/// error, not a no-op.
#[test]
fn scenarios_count_tripped_expectations_and_refuse_unreachable_clauses() {
    let (result, passed, failed, output) = run_source(
        r#"(require scenario)
           (sim-reset! 3)
           (define x (box 0))
           (define-scenario s #:seed 3 #:ticks 2 #:description "d"
             (at 1 (set-box! x 5))
             (expect 2 "five" (= 5 (unbox x)))
             (expect 2 "six" (= 6 (unbox x))))
           (define r (run-scenario/results s))
           (test 1 (hash-ref r #:passed))
           (test 1 (hash-ref r #:failed))
           (test '("six") (hash-ref r #:tripped))"#,
    );
    assert!(result.is_ok(), "{result:?}\n{output}");
    assert_eq!((passed, failed), (3, 0), "{output}");
    assert!(output.contains("expect six: TRIPPED"), "{output}");

    let (result, passed, failed, output) = run_source(
        r#"(require scenario)
           (sim-reset! 3)
           (define-scenario s #:seed 3 #:ticks 1 #:description "d"
             (expect 1 "holds" #t)
             (expect 1 "fails" #f))
           (run-scenario s)"#,
    );
    assert!(result.is_ok(), "{result:?}\n{output}");
    assert_eq!((passed, failed), (1, 1), "{output}");

    let (result, _, _, output) = run_source(
        r#"(require scenario)
           (sim-reset! 3)
           (define-scenario s #:seed 3 #:ticks 2 #:description "d"
             (at 5 (displayln "never")))
           (run-scenario s)"#,
    );
    let e = result.expect_err("a clause past the last tick must be an error");
    assert!(e.contains("never reaches"), "{e}\n{output}");

    let (result, _, _, output) = run_source(
        r#"(require scenario)
           (sim-reset! 3)
           (define-scenario s #:seed 3 #:ticks 2 #:description "d"
             (after 1 (displayln "never")))"#,
    );
    let e = result.expect_err("a clause of no known kind must be an error");
    assert!(e.contains("scenario-clause"), "{e}\n{output}");
}

/// A scenario's output is byte-identical across runs of the same seed.
#[test]
fn a_scenario_prints_the_same_bytes_every_run() {
    let first = run_script("scenarios/atomic-swap.xln");
    let second = run_script("scenarios/atomic-swap.xln");
    assert!(first.0.is_ok() && first.2 == 0, "{}", first.3);
    assert!(first.3.contains("== scenario atomic-swap"), "{}", first.3);
    assert_eq!(first.3, second.3);
}
