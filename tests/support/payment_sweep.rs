//! What the routed-payment sweeps over entities share (`tests/entity_payments.rs`,
//! `tests/entity_mpp.rs`): the seeds to run (one from `<PREFIX>_SEED`, else
//! `<PREFIX>_SEEDS` of them), the sweep spread over the cores, the fee formula computed
//! independently of the entity layer, and a trace of every honest replica for a failing
//! seed (`XLN_PAY_TRACE=1`). Included by `#[path]`.

#![allow(dead_code)]

use num_bigint::BigInt;
use num_integer::Integer;
use xln::runtime::Runtime;

/// The seeds a sweep runs: `<prefix>_SEED` alone if set, else `0..<prefix>_SEEDS`
/// (`default` when unset). A malformed value is a test failure saying so.
pub fn seeds(prefix: &str, default: u64) -> Vec<u64> {
    let one = format!("{prefix}_SEED");
    if let Ok(s) = std::env::var(&one) {
        return vec![s
            .parse()
            .unwrap_or_else(|_| panic!("{one}={s:?} is not a number"))];
    }
    let many = format!("{prefix}_SEEDS");
    let n = match std::env::var(&many) {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("{many}={s:?} is not a number")),
        Err(_) => default,
    };
    (0..n).collect()
}

/// Runs `run` on every seed, spread over the cores (seeds are independent runs, so the
/// order they finish in changes nothing); returns the summed (settled, failed) and every
/// failure (already carrying its seed and rerun line), sorted.
pub fn sweep<F>(seeds: &[u64], run: F) -> (usize, usize, Vec<String>)
where
    F: Fn(u64) -> Result<(usize, usize), String> + Sync,
{
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let (mut settled, mut failed, mut failures) = (0, 0, Vec::new());
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(seed) = seeds.get(i) else { break };
                        match run(*seed) {
                            Ok((s, f)) => {
                                settled += s;
                                failed += f;
                            }
                            Err(e) => failures.push(e),
                        }
                    }
                    (settled, failed, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a sweep worker panicked"))
            .collect()
    });
    let (mut settled, mut failed, mut failures) = (0, 0, Vec::new());
    for (s, f, mut e) in results {
        settled += s;
        failed += f;
        failures.append(&mut e);
    }
    failures.sort();
    (settled, failed, failures)
}

/// The fee formula, computed here independently of the entity layer.
pub fn fee(amount: &BigInt, (base, ppm): (u64, u32)) -> BigInt {
    BigInt::from(base) + (amount * BigInt::from(ppm)).div_ceil(&BigInt::from(1_000_000))
}

pub fn hex(h: &[u8; 32]) -> String {
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// With `XLN_PAY_TRACE` set: every honest replica's height, log, and per account its
/// committed height, counters, frame in flight, late timeouts and unconfirmed messages
/// (what a stuck or wrongly booked seed needs looking at first).
pub fn trace(rt: &Runtime, entities: &[usize]) {
    use xln::account::AccountMessageBody as Body;
    if std::env::var_os("XLN_PAY_TRACE").is_none() {
        return;
    }
    for (i, e) in entities.iter().enumerate() {
        for r in rt.honest(*e) {
            let rep = rt.replica(*e, r).expect("replica");
            println!(
                "entity {i} replica {r}: height {} mempool {} idle {}",
                rep.height(),
                rep.mempool_len(),
                rep.is_idle()
            );
            for entry in &rep.state().log {
                println!("   log {entry:?}");
            }
            for (peer, a) in &rep.state().accounts {
                let outbox: Vec<String> = a
                    .outbox()
                    .map(|m| match &m.body {
                        Body::Propose { frame, .. } => {
                            format!("{}:propose {}", m.counter, frame.height)
                        }
                        Body::Ack { height, .. } => format!("{}:ack {height}", m.counter),
                        Body::Decline { height, .. } => format!("{}:decline {height}", m.counter),
                    })
                    .collect();
                println!(
                    "   account {}: height {} sent {} received {} in flight {:?} asked {:?} \
                     late {:?} unconfirmed {outbox:?}",
                    &hex(peer)[..8],
                    a.machine.state.height,
                    a.machine.sent,
                    a.machine.received,
                    a.machine.pending.as_ref().map(|f| (f.height, f.timestamp)),
                    a.timeouts_asked,
                    a.late_timeouts
                );
            }
        }
    }
}
