//! Drives `xln repl` through a real pseudo-terminal: the README's session, multi-line
//! input, tab completion, `:doc`, Ctrl-C interrupting a running loop, the history file,
//! and Ctrl-D exiting.

use std::process::Command;

use rexpect::session::{spawn_command, PtySession};

fn start(history: &std::path::Path, color: bool) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xln"));
    cmd.arg("repl")
        .env("XLN_HISTORY", history)
        .env("TERM", "xterm");
    if color {
        cmd.env_remove("NO_COLOR");
    } else {
        cmd.env("NO_COLOR", "1");
    }
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn xln repl");
    p.exp_string("xln> ").expect("first prompt");
    p
}

fn temp_history(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xln-repl-test-{}-{name}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("history");
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn readme_session_multiline_doc_and_history() {
    let history = temp_history("session");
    let mut p = start(&history, false);
    p.send_line("(define (square x) (* x x))").unwrap();
    p.exp_string("xln> ").unwrap();
    p.send_line("(square 12)").unwrap();
    p.exp_string("=> 144").unwrap();
    p.exp_string("xln> ").unwrap();
    // An unfinished form continues on the next line (decided by the reader).
    p.send_line("(+ 1").unwrap();
    p.send_line("   2)").unwrap();
    p.exp_string("=> 3").unwrap();
    p.send_line(":doc map").unwrap();
    p.exp_string("procedure").unwrap();
    p.send_line("(car 5)").unwrap();
    p.exp_string("E004").unwrap();
    p.send_line("(list 1/2 #x\"00ff\" {'a [1 2]})").unwrap();
    p.exp_string("=> (1/2 #x\"00ff\" {a [1 2]})").unwrap();
    p.send_line(":env").unwrap();
    p.exp_string("square").unwrap();
    // Ctrl-D only once the next prompt is up: sent while the line is still being
    // evaluated, the terminal is in cooked mode and may swallow it.
    p.exp_string("xln> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let saved = std::fs::read_to_string(&history).expect("history file written");
    assert!(
        saved.contains("(square 12)"),
        "history has the session's lines: {saved}"
    );
}

#[test]
fn ctrl_c_interrupts_a_running_evaluation() {
    let history = temp_history("interrupt");
    let mut p = start(&history, false);
    // The loop announces itself before spinning, so Ctrl-C is sent once the evaluation is
    // surely running, however slow the machine (the echoed line reads `"spin" "ning"`).
    p.send_line(
        "(begin (displayln (string-append \"spin\" \"ning\")) (flush-output) \
         (let spin ([i 0]) (spin (+ i 1))))",
    )
    .unwrap();
    p.exp_string("spinning").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    p.exp_string("xln> ").unwrap();
    p.send_line("(+ 1 1)").unwrap();
    p.exp_string("=> 2").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn tab_completes_bound_names() {
    let history = temp_history("complete");
    let mut p = start(&history, false);
    p.send_line("(define balance-of-alice 42)").unwrap();
    p.exp_string("xln> ").unwrap();
    p.send("balance-of-al").unwrap();
    p.send("\t").unwrap();
    p.send_line("").unwrap();
    p.exp_string("=> 42").unwrap();
    // Ctrl-D only once the next prompt is up: sent while the line is still being
    // evaluated, the terminal is in cooked mode and may swallow it.
    p.exp_string("xln> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn highlighting_marks_the_matching_bracket() {
    let history = temp_history("color");
    let mut p = start(&history, true);
    // With the cursor just after the closing paren, both brackets are highlighted
    // (bold yellow underline), and strings are green.
    p.send("(display \"hi\")").unwrap();
    p.flush().unwrap();
    p.exp_string("\u{1b}[1;33;4m(").unwrap();
    p.exp_string("\u{1b}[32m\"hi\"").unwrap();
    p.send_line("").unwrap();
    p.exp_string("hi").unwrap();
    // Ctrl-D only once the next prompt is up: sent while the line is still being
    // evaluated, the terminal is in cooked mode and may swallow it.
    p.exp_string("xln> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}
