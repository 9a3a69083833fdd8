//! The `xln` binary end to end: the acceptance items of the language issue, exit codes,
//! `check`, and the README's main job.

use std::process::{Command, Output};

fn xln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xln"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run xln")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn temp_file(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xln-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write temp script");
    path
}

#[test]
fn ten_million_tail_calls_finish() {
    let o = xln(&[
        "eval",
        "(let loop ([i 0]) (if (= i 10000000) i (loop (+ i 1))))",
    ]);
    assert!(o.status.success());
    assert_eq!(text(&o).0.trim(), "10000000");
}

#[test]
fn runaway_recursion_is_a_clean_error_with_exit_1() {
    let o = xln(&["eval", "(define (f n) (+ 1 (f n))) (f 1)"]);
    assert_eq!(o.status.code(), Some(1));
    let (_, err) = text(&o);
    assert!(err.contains("stack depth exceeded"), "{err}");
    assert!(err.contains("E006") && err.contains("call stack"), "{err}");
}

#[test]
fn big_products_are_exact() {
    let o = xln(&["eval", "(* 99999999999999999999 99999999999999999999)"]);
    assert_eq!(
        text(&o).0.trim(),
        "9999999999999999999800000000000000000001"
    );
}

#[test]
fn bad_scripts_point_at_the_exact_span() {
    let cases = [
        (
            "paren.xln",
            "(define x 1)\n(display (+ x 1)\n",
            "paren.xln:2:1",
            "E001",
        ),
        (
            "unbound.xln",
            "(define x 1)\n(display (lenght (list x)))\n",
            "unbound.xln:2:11",
            "E002",
        ),
        (
            "arity.xln",
            "(define (add a b) (+ a b))\n(add 1 2 3)\n",
            "arity.xln:2:1",
            "E003",
        ),
    ];
    for (name, body, location, code) in cases {
        let path = temp_file(name, body);
        let o = xln(&["run", path.to_str().expect("utf-8 path")]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let (_, err) = text(&o);
        assert!(
            err.contains(location),
            "{name}: expected {location} in\n{err}"
        );
        assert!(err.contains(code), "{name}: expected {code} in\n{err}");
    }
}

#[test]
fn check_reports_every_error_and_runs_nothing() {
    let path = temp_file(
        "many.xln",
        "(display \"ran\")\n(lenght '())\n(undefined-thing)\n(if)\n",
    );
    let o = xln(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let (out, err) = text(&o);
    assert!(!out.contains("ran"), "check must not run the script");
    assert!(
        err.contains("lenght") && err.contains("undefined-thing") && err.contains("E005"),
        "{err}"
    );
    assert!(err.contains("3 errors"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(xln(&["--bogus"]).status.code(), Some(2));
    assert_eq!(xln(&["run"]).status.code(), Some(2));
    assert_eq!(xln(&["run", "/no/such/file.xln"]).status.code(), Some(2));
    assert_eq!(xln(&["frobnicate"]).status.code(), Some(2));
    let help = xln(&["--help"]);
    assert!(help.status.success() && text(&help).0.contains("USAGE"));
    assert!(text(&xln(&["--version"])).0.starts_with("xln "));
}

#[test]
fn failed_tests_make_run_exit_1() {
    let path = temp_file("tests.xln", "(test 4 (+ 2 2))\n(test 5 (+ 2 2))\n");
    let o = xln(&["run", path.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let (out, _) = text(&o);
    assert!(out.contains("1 passed, 1 failed"), "{out}");
    assert!(
        out.contains("tests.xln:2:1"),
        "the failure names its location: {out}"
    );
}

/// The main job runs every script of `scripts/` and `scripts/scenarios/` (but itself) once,
/// each reporting its
/// group line `name: N passed, M failed`; its total line must be the exact sum of those
/// (two reporting paths, the scripts' own counters and `run-script`'s results), with no
/// failure anywhere.
#[test]
fn the_main_job_passes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");
    let o = xln(&["run", &format!("{dir}/main.xln")]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "main job failed:\n{out}\n{err}");
    let counts = |line: &str| -> Option<(usize, usize)> {
        let (passed, rest) = line.split_once(" passed, ")?;
        let failed = rest.strip_suffix(" failed")?;
        Some((
            passed.rsplit(' ').next()?.parse().ok()?,
            failed.parse().ok()?,
        ))
    };
    let mut sections: Vec<(String, usize, usize)> = Vec::new();
    let mut total = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("== all scripts: ") {
            total = counts(rest);
        } else if let Some(name) = line.strip_prefix("== ").filter(|n| n.ends_with(".xln")) {
            sections.push((name.to_string(), 0, 0));
        } else if let (Some((p, f)), Some(last)) = (counts(line), sections.last_mut()) {
            last.1 += p;
            last.2 += f;
        }
    }
    let xln_in = |sub: &str, prefix: &str| -> Vec<String> {
        std::fs::read_dir(format!("{dir}{sub}"))
            .expect("scripts/ and scripts/scenarios/")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".xln") && n != "main.xln")
            .map(|n| format!("{prefix}{n}"))
            .collect()
    };
    let mut expected = xln_in("", "");
    expected.extend(xln_in("/scenarios", "scenarios/"));
    expected.sort();
    let mut ran: Vec<String> = sections.iter().map(|s| s.0.clone()).collect();
    ran.sort();
    assert_eq!(ran, expected, "main.xln must run every script once:\n{out}");
    for (name, passed, failed) in &sections {
        assert!(
            *passed > 0 && *failed == 0,
            "{name}: {passed} passed, {failed} failed in its group lines:\n{out}"
        );
    }
    let sum: usize = sections.iter().map(|s| s.1).sum();
    assert_eq!(
        total,
        Some((sum, 0)),
        "the total line must be the sum of the scripts' group lines ({sum} passed):\n{out}"
    );
}

#[test]
fn timelines_are_json_lines_and_byte_identical_across_runs() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bft.xln");
    let dir = std::env::temp_dir().join(format!("xln-cli-timeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    for out in [&a, &b] {
        let o = xln(&[
            "run",
            script,
            "--timeline",
            out.to_str().expect("utf-8 path"),
        ]);
        assert!(o.status.success(), "{}", text(&o).1);
    }
    let (ta, tb) = (
        std::fs::read(&a).expect("timeline a"),
        std::fs::read(&b).expect("timeline b"),
    );
    assert!(!ta.is_empty(), "the timeline has events");
    assert_eq!(ta, tb, "same seed, same bytes");
    for line in String::from_utf8_lossy(&ta).lines() {
        assert!(
            line.starts_with("{\"tick\":") && line.ends_with('}'),
            "a JSON object per line: {line}"
        );
    }
}
