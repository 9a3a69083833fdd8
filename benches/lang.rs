//! `cargo bench --bench lang`: the language benchmarks (fib 25, tak 18 12 6, 1,000,000-
//! element persistent vector build and fold, 100,000 map inserts), medians printed.

fn main() {
    if let Err(e) = xln::cli::bench::lang(7) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
