//! `xln bench`: the language benchmarks (fib, tak, persistent vector build and fold, map
//! inserts) run through the real interpreter, printing medians.

use crate::bench::measure;
use crate::lang::{Interp, Limits, Output};

const PROGRAMS: &str = r#"
(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(define (tak x y z) (if (not (< y x)) z (tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y))))
(define (build-vector n) (let loop ([i 0] [v []]) (if (= i n) v (loop (+ i 1) (vector-push v i)))))
(define (fold-vector v) (vector-fold + 0 v))
(define (map-inserts n) (let loop ([i 0] [m (hash)]) (if (= i n) m (loop (+ i 1) (hash-set m i (* i i))))))
"#;

/// One named benchmark: the expression it times and the answer it must produce.
pub const LANG_BENCHMARKS: &[(&str, &str, &str)] = &[
    ("fib 25", "(fib 25)", "75025"),
    ("tak 18 12 6", "(tak 18 12 6)", "7"),
    (
        "build 1,000,000-element vector",
        "(vector-length (build-vector 1000000))",
        "1000000",
    ),
    (
        "fold 1,000,000-element vector",
        "(fold-vector big)",
        "499999500000",
    ),
    (
        "100,000 map inserts",
        "(hash-count (map-inserts 100000))",
        "100000",
    ),
];

/// Runs the language benchmarks; `samples` per benchmark (medians printed).
pub fn lang(samples: usize) -> Result<(), String> {
    let mut interp = Interp::new(Limits::default(), Output::stdout());
    interp
        .eval_source("<bench>", PROGRAMS)
        .map_err(|e| e.render(false))?;
    interp
        .eval_source("<bench>", "(define big (build-vector 1000000))")
        .map_err(|e| e.render(false))?;
    for (name, expr, expected) in LANG_BENCHMARKS {
        let got = interp
            .eval_source("<bench>", expr)
            .map_err(|e| e.render(false))?;
        if got.to_string() != *expected {
            return Err(format!("{name}: expected {expected}, got {got}"));
        }
        measure(name, samples, 1, |_| {
            interp.eval_source("<bench>", expr).ok()
        });
    }
    Ok(())
}

pub fn run(which: &str) -> i32 {
    let result = match which {
        "lang" => lang(7),
        "all" => lang(7),
        other => Err(format!("unknown benchmark group `{other}` (available: lang, all; crypto: cargo bench --bench crypto)")),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
