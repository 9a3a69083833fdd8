//! `cargo bench --bench account`: payments per second through full account cycles —
//! propose (apply + sign) → receive (verify, re-apply, compare, countersign) → receive the
//! ack (verify, commit) — with 1 and with 100 payments per frame. Medians via
//! `xln::bench::measure`; payments/s is derived from the median time per frame.

use std::hint::black_box;

use xln::account::{AccountMachine, AccountTx, BigInt, NoSubcontracts, Side, SubcontractEngine};
use xln::bench::measure;
use xln::crypto::SecretKey;

/// Both sides of one account (index 0 is left) with ample credit both ways.
struct Pair {
    keys: [SecretKey; 2],
    machines: [AccountMachine; 2],
    time: u64,
}

impl Pair {
    fn new() -> Pair {
        let a = SecretKey::from_seed(b"bench-alice");
        let b = SecretKey::from_seed(b"bench-bob");
        let (l, r) = if a.address() < b.address() {
            (a, b)
        } else {
            (b, a)
        };
        let machines = [
            AccountMachine::new(l.address(), r.address()),
            AccountMachine::new(r.address(), l.address()),
        ];
        let mut pair = Pair {
            keys: [l, r],
            machines,
            time: 1,
        };
        let ample = BigInt::from(10).pow(40);
        for side in [Side::Left, Side::Right] {
            pair.cycle(
                side,
                vec![AccountTx::SetCreditLimit {
                    token: 1,
                    amount: ample.clone(),
                }],
            );
        }
        pair
    }

    /// One full frame from `side`: propose, deliver, countersign, deliver the ack.
    fn cycle(&mut self, side: Side, txs: Vec<AccountTx>) {
        let (i, j) = match side {
            Side::Left => (0, 1),
            Side::Right => (1, 0),
        };
        let engine: &mut dyn SubcontractEngine = &mut NoSubcontracts;
        self.time += 1;
        for tx in txs {
            self.machines[i].enqueue(tx);
        }
        let out = self.machines[i]
            .propose(&self.keys[i], self.time, engine)
            .expect("propose");
        assert!(out.rejected.is_empty(), "bench payments must fit");
        let proposal = out.message.expect("a frame");
        let acks = self.machines[j]
            .receive(&self.keys[j], &proposal, engine)
            .expect("proposal accepted");
        for ack in acks {
            let replies = self.machines[i]
                .receive(&self.keys[i], &ack, engine)
                .expect("ack accepted");
            assert!(replies.is_empty());
        }
        assert!(self.machines[i].pending.is_none(), "frame committed");
    }
}

fn payments(n: usize) -> Vec<AccountTx> {
    (0..n)
        .map(|k| AccountTx::Pay {
            token: 1,
            amount: BigInt::from(1 + k as u64),
        })
        .collect()
}

fn main() {
    for (per_frame, samples, iterations) in [(1usize, 21, 40u64), (100, 15, 8)] {
        let mut pair = Pair::new();
        let name = format!("account cycle, {per_frame} payment(s)/frame");
        let m = measure(&name, samples, iterations, |i| {
            // alternate directions so balances stay near zero
            let side = if i % 2 == 0 { Side::Left } else { Side::Right };
            pair.cycle(side, payments(per_frame));
            black_box(pair.machines[0].state.height)
        });
        let per_frame_secs = m.median_per_iteration.as_secs_f64();
        println!(
            "  => {:.0} payments/s ({:.0} frames/s, {} payments per frame)",
            per_frame as f64 / per_frame_secs,
            1.0 / per_frame_secs,
            per_frame
        );
        assert_eq!(pair.machines[0].state, pair.machines[1].state);
    }
}
