//! Every protocol script in `scripts/` is its own test (generated per file by `build.rs`):
//! each must finish without an error, with at least one `test` form passing and none
//! failing. `main.xln`, which runs all the others, is the main job: `tests/cli.rs` runs it
//! through the binary and checks its counts. A last test checks the generated list is the
//! directory as it is now, so a script cannot be left out.

use std::path::{Path, PathBuf};

use xln::lang::{Interp, Limits, Output};

include!(concat!(env!("OUT_DIR"), "/script_tests.rs"));

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// What one script run gave: the error report, passed, failed, and the output.
type ScriptRun = (Result<(), String>, usize, usize, String);

/// Runs `scripts/<name>` as `xln run` would, on a thread with the CLI's large stack
/// (scripts may recurse deeply).
fn run_script(name: &str) -> ScriptRun {
    let path = scripts_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let limits = Limits {
                stack_bytes: 200 << 20,
                ..Limits::default()
            };
            let mut interp = Interp::new(limits, Output::captured());
            interp.module = interp.modules.new_module("main", Some(path.clone()));
            let result = interp
                .eval_source(&path.display().to_string(), &text)
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
    let mut found: Vec<String> = std::fs::read_dir(scripts_dir())
        .expect("scripts/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xln"))
        .collect();
    found.sort();
    assert_eq!(
        found, SCRIPTS,
        "scripts/ changed since build.rs generated the tests (rebuild: cargo test --test scripts)"
    );
    assert!(found.len() > 1 && found.iter().any(|n| n == "main.xln"));
}
