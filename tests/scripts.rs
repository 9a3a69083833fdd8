//! Runs every protocol script in scripts/ as the test suite's whole-flow tests: each must
//! finish without an error and with all of its `test` forms passing.

use std::path::PathBuf;

use xln::lang::{Interp, Limits, Output};

#[test]
fn every_script_runs_and_its_tests_pass() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scripts/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xln"))
        // main.xln runs all the others; tests/cli.rs runs it through the binary.
        .filter(|p| p.file_name().is_none_or(|n| n != "main.xln"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts found in {}", dir.display());
    let (mut passed, mut failed, mut broken) = (0, 0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable script");
        // Scripts may recurse deeply; give them the CLI's stack.
        let path = file.clone();
        let outcome = std::thread::Builder::new()
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
                    .map_err(|e| e.render(false));
                (
                    result.map(|_| ()),
                    interp.tests.passed,
                    interp.tests.failed,
                    interp.out.take_captured(),
                )
            })
            .expect("spawn")
            .join()
            .expect("script thread");
        let (result, p, f, output) = outcome;
        println!("{}: {p} passed, {f} failed", file.display());
        if f > 0 || result.is_err() {
            println!("{output}");
        }
        if let Err(e) = result {
            broken.push(format!("{}:\n{e}", file.display()));
        }
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed");
    assert!(
        broken.is_empty(),
        "scripts stopped with errors:\n{}",
        broken.join("\n")
    );
    assert_eq!(failed, 0, "script tests failed");
    assert!(passed > 0, "the scripts asserted nothing");
}
