//! Netting benchmark (`cargo bench --bench netting`): plan time on hub networks of growing
//! size (spokes attached to two of H hubs, obligations left by seeded routed payments), with
//! the settlements and collateral moved before and after; then one execution of a plan as
//! signed frames on real account machines.

use std::time::Instant;

use num_bigint::BigInt;
use xln::account::AccountTx;
use xln::bench::{format_duration, measure};
use xln::crypto::SecretKey;
use xln::netting::{execute, plan, MachineLedger, Position};

/// splitmix64: a tiny deterministic PRNG, so every run plans the same networks.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parties 0..hubs are hubs; each spoke has accounts with two hubs. `payments` routed
/// payments spoke -> hub -> spoke (through a hub both share, if any) leave the positions.
fn hub_network(hubs: usize, spokes: usize, payments: usize, seed: u64) -> Vec<Position<u32>> {
    let mut rng = SplitMix64(seed);
    let mut links: Vec<[usize; 2]> = Vec::with_capacity(spokes);
    for _ in 0..spokes {
        let a = rng.below(hubs);
        let b = (a + 1 + rng.below(hubs - 1)) % hubs;
        links.push([a, b]);
    }
    // Δ per (hub, spoke) account; the hub is the left (lower id).
    let mut delta = std::collections::BTreeMap::<(u32, u32), i64>::new();
    for (s, link) in links.iter().enumerate() {
        for &h in link {
            delta.insert((h as u32, (hubs + s) as u32), 0);
        }
    }
    for _ in 0..payments {
        let (from, to) = (rng.below(spokes), rng.below(spokes));
        let Some(&hub) = links[from].iter().find(|h| links[to].contains(h)) else {
            continue;
        };
        if from == to {
            continue;
        }
        let amount = 1 + rng.below(100) as i64;
        // spoke pays hub (the right pays: Δ rises), hub pays spoke (the left pays: Δ falls).
        *delta.get_mut(&(hub as u32, (hubs + from) as u32)).unwrap() += amount;
        *delta.get_mut(&(hub as u32, (hubs + to) as u32)).unwrap() -= amount;
    }
    delta
        .into_iter()
        .map(|((l, r), d)| Position {
            left: l,
            right: r,
            token: 1,
            delta: d.into(),
            collateral: BigInt::from(0),
            lower: (d - 1_000_000).into(),
            upper: (d + 1_000_000).into(),
        })
        .collect()
}

fn main() {
    println!("== netting: plan time (hub networks, 2 hubs per spoke)");
    for (hubs, spokes, payments) in [(4, 50, 500), (10, 500, 5_000), (20, 2_000, 20_000)] {
        let positions = hub_network(hubs, spokes, payments, 0x6e65_7474);
        let p = plan(&positions).expect("valid");
        let r = &p.reports[0];
        println!(
            "{hubs} hubs, {spokes} spokes, {} accounts: settlements {} -> {}, collateral moved {} -> {}, {} steps, complete {}",
            positions.len(),
            r.before.settlements,
            r.after.settlements,
            r.before.collateral_moved,
            r.after.collateral_moved,
            r.steps,
            p.complete
        );
        let samples = if spokes > 1_000 { 3 } else { 7 };
        measure(
            &format!("plan {} accounts", positions.len()),
            samples,
            1,
            |_| plan(&positions),
        );
    }

    println!("== netting: execution as signed frames (real account machines)");
    let mut ledger = MachineLedger::new();
    let parties: Vec<_> = (0..24)
        .map(|i| ledger.add_party(SecretKey::from_seed(format!("bench {i}").as_bytes())))
        .collect();
    let (hubs, spokes) = parties.split_at(4);
    for (i, s) in spokes.iter().enumerate() {
        for h in [hubs[i % 4], hubs[(i + 1) % 4]] {
            ledger.open(*s, h).expect("open");
            for (lender, borrower) in [(h, *s), (*s, h)] {
                let tx = AccountTx::SetCreditLimit {
                    token: 1,
                    amount: 1_000_000.into(),
                };
                ledger.submit(lender, borrower, tx).expect("credit");
            }
        }
    }
    let mut rng = SplitMix64(7);
    for _ in 0..400 {
        let (a, b) = (rng.below(spokes.len()), rng.below(spokes.len()));
        let shared = [a % 4, (a + 1) % 4]
            .into_iter()
            .find(|h| *h == b % 4 || *h == (b + 1) % 4);
        if let (Some(h), true) = (shared, a != b) {
            let pay = |x: usize| AccountTx::Pay {
                token: 1,
                amount: (1 + x as i64).into(),
            };
            let x = rng.below(100);
            ledger.submit(spokes[a], hubs[h], pay(x)).expect("pay");
            ledger.submit(hubs[h], spokes[b], pay(x)).expect("pay");
        }
    }
    let p = plan(&ledger.positions()).expect("valid");
    let frames: usize = p.steps.iter().map(|s| s.transfers.len()).sum();
    let start = Instant::now();
    let run = execute(&p.steps, &mut ledger).expect("valid steps");
    let took = start.elapsed();
    let r = &p.reports[0];
    println!(
        "executed {} of {} steps ({frames} signed frames) in {}: settlements {} -> {}, collateral moved {} -> {}",
        run.applied(),
        p.steps.len(),
        format_duration(took),
        r.before.settlements,
        r.after.settlements,
        r.before.collateral_moved,
        r.after.collateral_moved
    );
}
