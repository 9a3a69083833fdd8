//! Benchmark kit shared by `cargo bench` targets and `xln bench`: runs a closure in
//! timed samples and reports the median, so figures are robust to a noisy 2-core machine.

use std::time::{Duration, Instant};

/// One benchmark's result: the median over samples of the time per iteration.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub name: String,
    pub median_per_iteration: Duration,
    pub samples: usize,
    pub iterations_per_sample: u64,
}

impl Measurement {
    /// Operations per second implied by the median.
    pub fn per_second(&self) -> f64 {
        let secs = self.median_per_iteration.as_secs_f64();
        if secs == 0.0 {
            f64::INFINITY
        } else {
            1.0 / secs
        }
    }
}

/// Times `f` for `samples` samples of `iterations` calls each and prints the median.
/// `f` receives the iteration number so it can vary its input.
pub fn measure<T>(
    name: &str,
    samples: usize,
    iterations: u64,
    mut f: impl FnMut(u64) -> T,
) -> Measurement {
    let samples = samples.max(1);
    let iterations = iterations.max(1);
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        for i in 0..iterations {
            std::hint::black_box(f(i));
        }
        times.push(start.elapsed() / iterations as u32);
    }
    times.sort();
    let m = Measurement {
        name: name.to_string(),
        median_per_iteration: times[times.len() / 2],
        samples,
        iterations_per_sample: iterations,
    };
    println!(
        "{:<44} median {:>12}  ({:>14.1}/s, {} samples x {} iters)",
        m.name,
        format_duration(m.median_per_iteration),
        m.per_second(),
        m.samples,
        m.iterations_per_sample
    );
    m
}

/// Human format with a unit that keeps three significant digits.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}
