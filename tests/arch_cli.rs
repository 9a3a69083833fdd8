//! `xln arch` end to end: the tree, DOT of the layers and of a script's live network, and a
//! clear answer to `--svg` whether or not Graphviz is installed.

use std::process::{Command, Output};

fn xln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xln"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run xln")
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xln-arch-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn arch_prints_the_tree() {
    let o = xln(&["arch"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "netting [built]",
        "chain [built]",
        "tx kinds: pay, set-credit-limit",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
}

#[test]
fn arch_dot_writes_the_layers_and_the_live_network_of_a_script() {
    let file = temp_dir().join("layers.dot");
    let o = xln(&[
        "arch",
        "--dot",
        file.to_str().unwrap(),
        "--script",
        "scripts/netting.xln",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let layers = std::fs::read_to_string(&file).unwrap();
    assert!(layers.starts_with("digraph layers"));
    let network = std::fs::read_to_string(file.with_extension("network.dot")).unwrap();
    assert!(
        network.contains("\"hub-1\"") && network.contains("(collateral 200)"),
        "{network}"
    );
    // To stdout: the layers then the network.
    let o = xln(&["arch", "--dot"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("digraph layers"));
}

#[test]
fn arch_svg_renders_or_says_graphviz_is_missing() {
    let file = temp_dir().join("layers.svg");
    let o = xln(&["arch", "--svg", file.to_str().unwrap()]);
    let have_dot = Command::new("dot").arg("-V").output().is_ok();
    if have_dot {
        assert!(o.status.success());
        assert!(std::fs::read_to_string(&file).unwrap().contains("<svg"));
    } else {
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("Graphviz `dot` is not on PATH"));
    }
}

#[test]
fn arch_refuses_unknown_arguments() {
    assert_eq!(xln(&["arch", "--bogus"]).status.code(), Some(2));
    assert_eq!(xln(&["arch", "--svg"]).status.code(), Some(2));
}
