//! Hostile scripts through the real binary: allocation bombs of every kind, unbounded
//! growth, deeply nested and cyclic data, deep quasiquote nesting and overlong lines must
//! end with exit code 1 and a coded error (or print correctly), never abort, hang or crash.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of `xln` produced.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `xln ARGS... run FILE` on `script`, killing it after a generous deadline (a hang is
/// a failure, reported as such, not a stuck test).
fn run_script(script: &str, flags: &[&str]) -> Run {
    let dir = std::env::temp_dir().join(format!("xln-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("s{}.xln", fastish_hash(script)));
    std::fs::write(&path, script).expect("write script");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xln"))
        .args(flags)
        .arg("run")
        .arg(&path)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xln");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    let _ = std::fs::remove_file(&path);
    assert!(
        status.is_some(),
        "xln hung on:\n{script}\nstderr so far:\n{stderr}"
    );
    Run {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    }
}

fn fastish_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The script must fail with exit code 1 and report `code`.
fn assert_error(script: &str, flags: &[&str], code: &str) -> Run {
    let r = run_script(script, flags);
    assert_eq!(
        r.code,
        Some(1),
        "expected exit 1 with {code} for:\n{script}\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains(code),
        "expected {code} for:\n{script}\nstderr: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "a panic for:\n{script}\n{}",
        r.stderr
    );
    r
}

#[test]
fn sized_allocations_beyond_the_limit_are_e019() {
    for script in [
        "(length (make-list 100000000000 0))",
        "(iota 10000000000)",
        "(range 0 100000000000)",
        "(string-length (make-string 100000000000 #\\a))",
        "(make-vector 100000000000 0)",
        "(make-bytes 100000000000 0)",
        "(integer->bytes 1 100000000000)",
        "(define s (make-string 1000000 #\\a)) (string-length (string-replace s \"a\" (make-string 1000 #\\b)))",
    ] {
        assert_error(script, &["--max-alloc", "64"], "E019");
    }
}

#[test]
fn bignums_beyond_the_integer_limit_are_arithmetic_errors() {
    assert_error("(expt 2 (expt 10 12))", &[], "E012");
    assert_error("(arithmetic-shift 1 (expt 10 12))", &[], "E012");
    assert_error("(let loop ([n 3]) (loop (* n n)))", &[], "E012");
}

#[test]
fn unbounded_growth_stops_at_the_memory_limit() {
    for script in [
        "(let loop ([l (list)]) (loop (cons 1 l)))",
        "(let loop ([l (list 1)]) (loop (append l l)))",
        "(let loop ([s \"ab\"]) (loop (string-append s s)))",
        "(let loop ([v [0]] [i 0]) (loop (vector-push v i) (+ i 1)))",
        "(let loop ([m {}] [i 0]) (loop (hash-set m i i) (+ i 1)))",
        "(with-output-to-string (lambda () (let loop () (display \"xxxxxxxxxxxxxxxx\") (loop))))",
    ] {
        let r = run_script(script, &["--max-memory", "128", "--max-alloc", "64"]);
        assert_eq!(r.code, Some(1), "{script}\n{}", r.stderr);
        assert!(
            r.stderr.contains("E020") || r.stderr.contains("E019"),
            "{script}: expected E019 or E020\n{}",
            r.stderr
        );
    }
}

#[test]
fn the_memory_limit_cannot_be_caught() {
    let r = assert_error(
        "(guard (e [#t (display \"caught\")]) (let loop ([l (list)]) (loop (cons 1 l))))",
        &["--max-memory", "64"],
        "E020",
    );
    assert!(!r.stdout.contains("caught"), "{}", r.stdout);
}

#[test]
fn cyclic_data_prints_with_datum_labels() {
    let r = run_script(
        "(define b (box 0)) (set-box! b b) (write b) (newline) (display b)",
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "#0=#<box #0#>\n#0=#<box #0#>");
}

#[test]
fn deeply_nested_data_is_an_error_not_a_crash() {
    let build =
        "(define (deep n) (let loop ([i 0] [x (list)]) (if (= i n) x (loop (+ i 1) (list x)))))";
    // A smaller --max-depth gives the interpreter a smaller stack, so less data is needed.
    let small = ["--max-depth", "1000"];
    assert_error(&format!("{build} (write (deep 1000000))"), &small, "E006");
    assert_error(
        &format!("{build} (equal? (deep 1000000) (deep 1000000))"),
        &small,
        "E006",
    );
    // Freeing deep data (lists, boxes) must not overflow the stack either.
    for script in [
        format!("{build} (define d (deep 3000000)) (set! d #f) (display \"ok\")"),
        "(define (deepb n) (let loop ([i 0] [x 0]) (if (= i n) x (loop (+ i 1) (box x))))) (deepb 3000000) (display \"ok\")".to_string(),
    ] {
        let r = run_script(&script, &small);
        assert_eq!(r.code, Some(0), "{script}\n{}", r.stderr);
        assert_eq!(r.stdout, "ok");
    }
}

#[test]
fn shared_structure_that_prints_exponentially_is_bounded() {
    assert_error(
        "(define d (let loop ([i 0] [x 0]) (if (= i 200) x (loop (+ i 1) (cons x x))))) (display d)",
        &["--max-alloc", "64"],
        "E019",
    );
}

#[test]
fn deep_quasiquote_nesting_is_an_error() {
    let text = format!("{}x", "`".repeat(5000));
    assert_error(&text, &[], "E001");
    assert_error(
        "(define (deepq n) (let loop ([i 0] [x 1]) (if (= i n) x (loop (+ i 1) (list 'quasiquote x))))) (eval (deepq 100000))",
        &[],
        "E006",
    );
}

#[test]
fn an_overlong_line_is_cut_around_the_span_in_the_report() {
    let parens = "(".repeat(100_000);
    let r = assert_error(&parens, &[], "E001");
    assert!(
        r.stderr.lines().all(|l| l.chars().count() < 400),
        "a report line is too long:\n{}",
        &r.stderr[..r.stderr.len().min(2000)]
    );
    assert!(
        r.stderr.contains(":1:1001"),
        "{}",
        &r.stderr[..r.stderr.len().min(2000)]
    );

    let long = format!(
        "{}(car 5){}",
        "(define x 1) ".repeat(3000),
        " (define y 2)".repeat(3000)
    );
    let r = assert_error(&long, &[], "E004");
    assert!(r.stderr.contains("(car 5)"), "{}", r.stderr);
    assert!(
        r.stderr.lines().all(|l| l.chars().count() < 400),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(":1:39001"), "{}", r.stderr);
}

#[test]
fn string_ports_and_reads_of_huge_input_are_bounded() {
    for script in [
        "(let ([p (open-output-string)]) (let loop () (write-string \"xxxxxxxxxxxxxxxx\" p) (loop)))",
        "(let ([p (open-output-bytevector)]) (let loop () (write-bytevector (make-bytevector 4096 1) p) (loop)))",
        "(open-input-string (make-string 20000000 #\\a))",
        "(read-line (open-input-file \"/dev/zero\"))",
        "(read (open-input-file \"/dev/zero\"))",
    ] {
        assert_error(script, &["--max-alloc", "16"], "E019");
    }
    assert_error(
        "(read (open-input-string (make-string 1000000 #\\()))",
        &[],
        "E001",
    );
    assert_error("(read (make-string 1000000 #\\[))", &[], "E001");
}

#[test]
fn cyclic_vectors_and_records_print_with_labels() {
    let r = run_script(
        "(define v (vector 1 2)) (vector-set! v 1 v) (write v) (newline)
         (define-record-type node (make-node next) node? (next node-next set-node-next!))
         (define n (make-node #f)) (set-node-next! n n) (display n) (newline)
         (define x (list 1)) (write-shared (list x x))",
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "#0=#(1 #0#)\n#0=#s(node #0#)\n(#0=(1) #0#)");
}
