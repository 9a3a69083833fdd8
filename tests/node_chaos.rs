//! `xln chaos` end to end, short: five real node processes (a 3-of-4 hub on four, alice and
//! bob on the fifth) under random direct and routed payments while the controller kills -9
//! and restarts nodes (some with a torn WAL tail) and partitions links through its proxy,
//! then drains and checks. The run must pass every check, report the faults it made, and
//! refuse bad arguments and network files with a clear error and exit code (never a
//! panic). The CI stage (`.ci/stage-chaos`) runs the same for two minutes.

mod node_support;

use node_support::{base_port, xln};

fn network(base: u16) -> String {
    format!(
        r#"(network #:name "chaos-test" #:base-port {base} #:proxy-base-port {})
(entity #:name "hub" #:validators 4 #:threshold 3 #:reserves (("treasury" 1 1000)))
(entity #:name "alice" #:validators 1)
(entity #:name "bob" #:validators 1)
(node #:name "hub-0" #:hosts (("hub" 0)))
(node #:name "hub-1" #:hosts (("hub" 1)))
(node #:name "hub-2" #:hosts (("hub" 2)))
(node #:name "hub-3" #:hosts (("hub" 3)))
(node #:name "users" #:hosts (("alice" 0) ("bob" 0)))
(account #:between ("hub" "alice") #:credit ((1 1000000000) (2 1000000000) (3 1000000000)))
(account #:between ("hub" "bob") #:credit ((1 1000000000) (2 1000000000) (3 1000000000)))
"#,
        base + 100
    )
}

fn figure(text: &str, name: &str) -> u64 {
    let at = text
        .find(&format!("{name} "))
        .unwrap_or_else(|| panic!("no {name:?} in:\n{text}"));
    text[at + name.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {name:?} in:\n{text}"))
}

#[test]
#[ignore = "in a debug build the 3-of-4 hub does not drain within 300 s under this load (the hub's state grows with HTLC code copies); .ci/stage-chaos runs the release binary. Run: cargo test --release --test node_chaos -- --ignored"]
fn a_short_chaos_run_passes_every_check_and_reports_its_faults() {
    let dir = std::env::temp_dir().join(format!("xln-chaos-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("net.xln");
    std::fs::write(&file, network(base_port(8))).expect("network file");
    let out = xln()
        .args(["chaos"])
        .arg(&file)
        .args(["--minutes", "0.75", "--seed", "7", "--min-kills", "3"])
        .args(["--min-partitions", "2", "--payers", "1", "--dir"])
        .arg(dir.join("run"))
        .output()
        .expect("xln chaos");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the chaos run failed:\n{text}\n{err}");
    assert!(text.contains("result: every check passed"), "{text}");
    assert!(figure(&text, "kills") >= 3, "{text}");
    assert!(figure(&text, "partitions") >= 2, "{text}");
    assert!(figure(&text, "acknowledged") > 0, "{text}");
    assert!(figure(&text, "routed settled") > 0, "{text}");
    for zero in [
        "divergences",
        "lost",
        "applied twice",
        "accounts disagreeing",
    ] {
        assert_eq!(figure(&text, zero), 0, "{zero}: {text}");
    }
    assert_eq!(
        figure(&text, "torn restarts"),
        figure(&text, "torn tails truncated"),
        "{text}"
    );
    assert!(
        text.contains("rerun: xln chaos") && text.contains("--seed 7"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_chaos_arguments_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("xln-chaos-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let no_proxy = dir.join("no-proxy.xln");
    std::fs::write(
        &no_proxy,
        "(network #:base-port 29990)\n(entity #:name \"a\")\n(node #:name \"n\" #:hosts ((\"a\" 0)))\n",
    )
    .expect("file");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["chaos".into()], 2, "required"),
        (
            vec!["chaos".into(), no_proxy.display().to_string()],
            1,
            "proxy-base-port",
        ),
        (
            vec![
                "chaos".into(),
                no_proxy.display().to_string(),
                "--minutes".into(),
                "-1".into(),
            ],
            2,
            "",
        ),
        (
            vec![
                "chaos".into(),
                no_proxy.display().to_string(),
                "--minutes".into(),
                "0".into(),
            ],
            1,
            "--minutes",
        ),
        (
            vec![
                "chaos".into(),
                dir.join("missing.xln").display().to_string(),
            ],
            1,
            "cannot read",
        ),
    ];
    for (args, code, says) in cases {
        let out = xln().args(&args).output().expect("xln chaos");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
