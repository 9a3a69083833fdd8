//! `cargo bench --bench entity`: entity frames/s and payments/s through the full BFT path
//! (sign tx → gossip → propose → prevote → precommit → commit on every replica), driven by
//! the deterministic runtime over a perfect network: one 4-validator entity (threshold 3)
//! with 1 and 100 payments per frame, and 100 single-signer entities at once. Medians via
//! `xln::bench::measure`; rates are derived from the median time per round and the frames
//! actually committed (proposers wait one tick, so one round's payments share a frame).
//! Then payments through an account between two 4-validator boards: each round pays
//! both ways and runs until both boards committed and sealed (hanko) every account frame.
//! Last, routed payments carried out by the entities: a 3-hop chain of 1-of-1 entities,
//! and 1-of-1 -> 3-of-4 hub -> 1-of-1 (HTLCs, onions, reveals and claims, real signatures).

use std::hint::black_box;

use num_bigint::BigInt;
use xln::account::AccountTx;
use xln::bench::measure;
use xln::entity::{EntityConfig, EntityTx, Holder};
use xln::runtime::Runtime;

/// Enough reserve for any number of 1-unit payments back and forth.
fn reserves() -> Vec<(Holder, u64, BigInt)> {
    vec![
        ("alice".into(), 1, BigInt::from(10).pow(30)),
        ("bob".into(), 1, BigInt::from(10).pow(30)),
    ]
}

fn payment(i: u64) -> EntityTx {
    let (from, to) = if i % 2 == 0 {
        ("alice", "bob")
    } else {
        ("bob", "alice")
    };
    EntityTx::Payment {
        from: from.into(),
        to: to.into(),
        token: 1,
        amount: BigInt::from(1),
    }
}

/// A runtime whose entities batch the txs submitted in one tick into one frame.
fn runtime(seed: u64, entities: usize, validators: usize, threshold: u64) -> Runtime {
    let mut rt = Runtime::new(seed);
    rt.set_entity_config(EntityConfig {
        batch_delay: 1,
        ..EntityConfig::default()
    });
    for _ in 0..entities {
        rt.add_entity(validators, threshold, reserves())
            .expect("entity");
    }
    rt
}

/// Submits `per_entity` payments to every entity and runs until every frame committed.
fn round(rt: &mut Runtime, per_entity: u64, i: u64) {
    for entity in 0..rt.entity_count() {
        for k in 0..per_entity {
            rt.submit(entity, payment(i + k)).expect("submit");
        }
    }
    assert!(rt.run_until_quiet(1_000), "bench round did not settle");
}

/// Frames committed so far, summed over entities (replica 0 of each).
fn frames(rt: &Runtime) -> u64 {
    (0..rt.entity_count())
        .map(|e| rt.replica(e, 0).map_or(0, |r| r.height()))
        .sum()
}

fn bench(name: &str, mut rt: Runtime, per_entity: u64, samples: usize, iterations: u64) {
    let before = frames(&rt);
    let m = measure(name, samples, iterations, |i| {
        round(&mut rt, per_entity, i * per_entity);
        black_box(rt.now())
    });
    let rounds = (samples as u64 * iterations) as f64;
    let frames_per_round = (frames(&rt) - before) as f64 / rounds;
    let payments_per_round = (per_entity * rt.entity_count() as u64) as f64;
    let secs = m.median_per_iteration.as_secs_f64();
    println!(
        "  => {:.0} frames/s, {:.0} payments/s ({:.1} payments per frame)",
        frames_per_round / secs,
        payments_per_round / secs,
        payments_per_round / frames_per_round
    );
    for e in 0..rt.entity_count() {
        let first = rt.replica(e, 0).expect("replica").state_hash();
        let agree = (0..rt.replica_count(e))
            .all(|i| rt.replica(e, i).is_ok_and(|r| r.state_hash() == first));
        assert!(agree, "replicas of entity {e} disagree");
    }
}

fn main() {
    bench(
        "4-validator entity, 1 payment/round",
        runtime(1, 1, 4, 3),
        1,
        15,
        20,
    );
    bench(
        "4-validator entity, 100 payments/round",
        runtime(2, 1, 4, 3),
        100,
        9,
        3,
    );
    bench(
        "100 single-signer entities, 1 payment/round",
        runtime(3, 100, 1, 1),
        1,
        9,
        3,
    );
    bench(
        "100 single-signer entities, 10 payments/round",
        runtime(4, 100, 1, 1),
        10,
        7,
        2,
    );
    account_bench(10, 9, 3);
    routed_bench(
        "routed, 3 hops of 1-of-1 entities, 10 payments/round",
        &[1, 1, 1, 1],
        10,
        7,
        2,
    );
    routed_bench(
        "routed, 1-of-1 -> 3-of-4 hub -> 1-of-1, 10 payments/round",
        &[1, 4, 1],
        10,
        7,
        2,
    );
}

/// Two 4-validator boards with an open account and credit both ways; each round submits
/// `per_round` account payments on each side and runs until quiet.
fn account_bench(per_round: u64, samples: usize, iterations: u64) {
    let mut rt = runtime(5, 2, 4, 3);
    let ids = [rt.entity_id(0).expect("id"), rt.entity_id(1).expect("id")];
    for (me, peer) in [(0, 1), (1, 0)] {
        let board = rt.genesis_board(peer).expect("board").clone();
        rt.submit(
            me,
            EntityTx::OpenAccount {
                peer: ids[peer],
                peer_board: board,
            },
        )
        .expect("open");
    }
    assert!(rt.run_until_quiet(1_000));
    for (me, peer) in [(0, 1), (1, 0)] {
        let credit = EntityTx::Account {
            peer: ids[peer],
            tx: AccountTx::SetCreditLimit {
                token: 1,
                amount: BigInt::from(10).pow(30),
            },
        };
        rt.submit(me, credit).expect("credit");
    }
    assert!(rt.run_until_quiet(1_000));
    let height = |rt: &Runtime| {
        rt.replica(0, 0)
            .map_or(0, |r| r.state().accounts[&ids[1]].machine.state.height)
    };
    let before = height(&rt);
    let name =
        format!("account between two 4-validator boards, {per_round} payments each way/round");
    let m = measure(&name, samples, iterations, |_| {
        for (me, peer) in [(0, 1), (1, 0)] {
            for _ in 0..per_round {
                let pay = EntityTx::Account {
                    peer: ids[peer],
                    tx: AccountTx::Pay {
                        token: 1,
                        amount: BigInt::from(1),
                    },
                };
                rt.submit(me, pay).expect("pay");
            }
        }
        assert!(rt.run_until_quiet(1_000), "account round did not settle");
        black_box(rt.now())
    });
    let rounds = (samples as u64 * iterations) as f64;
    let secs = m.median_per_iteration.as_secs_f64();
    println!(
        "  => {:.0} account payments/s, {:.1} account frames per round",
        (2 * per_round) as f64 / secs,
        (height(&rt) - before) as f64 / rounds
    );
}

/// Routed payments carried out by the entities (HTLC per hop, onion, reveal, claims), each
/// round `per_round` payments from the first entity to the last of a chain whose boards
/// have `validators` validators each (threshold by majority), run until quiet. Real
/// signatures and hankos on every frame; the network is perfect.
fn routed_bench(name: &str, validators: &[usize], per_round: u64, samples: usize, iterations: u64) {
    use xln::entity::payment::PaymentStatus;
    let mut rt = Runtime::new(7);
    let n = validators.len();
    let entities: Vec<usize> = validators
        .iter()
        .map(|v| {
            rt.add_entity(*v, (*v / 2 + 1) as u64, Vec::new())
                .expect("entity")
        })
        .collect();
    let ids: Vec<[u8; 32]> = entities
        .iter()
        .map(|e| rt.entity_id(*e).expect("id"))
        .collect();
    for i in 0..n - 1 {
        let board = rt.genesis_board(entities[i + 1]).expect("board").clone();
        rt.submit(
            entities[i],
            EntityTx::OpenAccount {
                peer: ids[i + 1],
                peer_board: board,
            },
        )
        .expect("open");
    }
    assert!(rt.run_until_quiet(10_000));
    for i in 0..n - 1 {
        let credit = EntityTx::Account {
            peer: ids[i],
            tx: AccountTx::SetCreditLimit {
                token: 1,
                amount: BigInt::from(10).pow(30),
            },
        };
        rt.submit(entities[i + 1], credit).expect("credit");
    }
    assert!(rt.run_until_quiet(10_000));
    let plan = loop {
        rt.run_ticks(20);
        rt.run_until_quiet(10_000);
        let view = rt
            .replica(entities[0], 0)
            .expect("replica")
            .gossip()
            .clone();
        if let Ok(p) = view.plan(&ids[0], &ids[n - 1], &BigInt::from(1), 1, rt.now()) {
            break p;
        }
        assert!(rt.now() < 5_000, "gossip did not converge");
    };
    let m = measure(name, samples, iterations, |_| {
        for _ in 0..per_round {
            // Fresh timeouts from the sender's clock, the same route.
            let mut p = plan.clone();
            let now = rt.now();
            let shift = now.saturating_sub(p.parts[0].last().map_or(0, |h| h.timeout) - 200);
            for hop in &mut p.parts[0] {
                hop.timeout += shift;
            }
            rt.submit(entities[0], EntityTx::PayRouted(Box::new(p)))
                .expect("pay");
        }
        assert!(rt.run_until_quiet(10_000), "routed round did not settle");
        black_box(rt.now())
    });
    let sender = rt.replica(entities[0], 0).expect("replica").state();
    let settled = sender
        .payments
        .sent
        .values()
        .filter(|p| p.status == PaymentStatus::Settled)
        .count();
    let all = sender.payments.sent.len();
    assert_eq!(settled, all, "every routed payment settles");
    let secs = m.median_per_iteration.as_secs_f64();
    println!(
        "  => {:.1} routed payments/s ({all} settled on every hop)",
        per_round as f64 / secs
    );
}
