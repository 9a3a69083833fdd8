//! Structure-aware: entity boards and the accounts between them, driven through the
//! `Runtime` simulator (every replica's `EntityReplica::handle`, real signatures) by a
//! fuzz-chosen network (loss, duplication, delay and so reordering), at most one byzantine
//! replica on a 3-of-4 board (within the safety and liveness bound), and a sequence of
//! reserve payments, account openings, credit limits, account payments, notes and ticks.
//! Then the network heals and the runtime runs until quiet.
//!
//! Findings: any panic; honest replicas of an entity that committed different frames or
//! hold different states; no quiescence within the bound after healing; the two sides of
//! an account that differ; reserves of a token that do not sum to their genesis total.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use num_bigint::BigInt;
use xln::entity::{EntityConfig, EntityTx, Holder};
use xln::runtime::{Behaviour, Runtime};

const HOLDERS: [&str; 3] = ["alice", "bob", "carol"];
/// (validators, threshold) an entity may have.
const BOARDS: [(usize, u64); 4] = [(1, 1), (2, 2), (3, 2), (4, 3)];
const QUIET_TICKS_MAX: u64 = 20_000;

#[derive(Arbitrary, Debug)]
enum Op {
    Pay {
        entity: u8,
        from: u8,
        to: u8,
        amount: u8,
    },
    Open {
        entity: u8,
        peer: u8,
    },
    Credit {
        entity: u8,
        peer: u8,
        amount: u16,
    },
    AccountPay {
        entity: u8,
        peer: u8,
        amount: u16,
    },
    Note {
        entity: u8,
    },
    Ticks {
        n: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    boards: Vec<u8>,
    loss_percent: u8,
    duplicate_percent: u8,
    max_delay: u8,
    network_seed: u64,
    /// (replica, behaviour) turned on the first 3-of-4 entity, if any.
    byzantine: Option<(u8, u8)>,
    batch_delay: u8,
    ops: Vec<Op>,
}

fn run(input: &Input) {
    let mut rt = Runtime::new(input.network_seed);
    rt.set_entity_config(EntityConfig {
        batch_delay: u64::from(input.batch_delay % 10),
        ..EntityConfig::default()
    });
    let reserves = || {
        HOLDERS
            .iter()
            .map(|h| (Holder::from(*h), 1, BigInt::from(1000)))
            .collect::<Vec<_>>()
    };
    let mut entities = Vec::new();
    for b in input.boards.iter().take(3) {
        let (n, t) = BOARDS[usize::from(*b) % BOARDS.len()];
        entities.push(rt.add_entity(n, t, reserves()).expect("a valid board"));
    }
    if entities.len() < 2 {
        entities.push(rt.add_entity(1, 1, reserves()).expect("1-of-1"));
        entities.push(rt.add_entity(1, 1, reserves()).expect("1-of-1"));
    }
    let count = entities.len();
    let mut turned = None;
    if let Some((replica, behaviour)) = input.byzantine {
        if let Some(&e) = entities.iter().find(|&&e| rt.replica_count(e) == 4) {
            let bad = &Behaviour::ALL[1..];
            let behaviour = bad[usize::from(behaviour) % bad.len()];
            let replica = usize::from(replica) % 4;
            rt.set_behaviour(e, replica, behaviour).expect("behaviour");
            turned = Some((e, replica));
        }
    }
    rt.set_network(
        (u64::from(input.loss_percent % 30), 100),
        (u64::from(input.duplicate_percent % 30), 100),
        u64::from(input.max_delay % 5),
        input.network_seed,
    );
    let ids: Vec<_> = entities
        .iter()
        .map(|&e| rt.entity_id(e).expect("id"))
        .collect();
    let e = |i: u8| usize::from(i) % count;
    let peer_of = |me: usize, p: u8| (me + 1 + usize::from(p) % (count - 1)) % count;
    for op in input.ops.iter().take(60) {
        let (entity, tx) = match *op {
            Op::Pay {
                entity,
                from,
                to,
                amount,
            } => (
                e(entity),
                EntityTx::Payment {
                    from: HOLDERS[usize::from(from) % 3].into(),
                    to: HOLDERS[usize::from(to) % 3].into(),
                    token: 1,
                    amount: BigInt::from(amount),
                },
            ),
            Op::Open { entity, peer } => {
                // Both sides open (a one-sided open is never answered: the opener's first
                // frame stays pending and is resent forever, so the runtime never quiets).
                let me = e(entity);
                let p = peer_of(me, peer);
                let board = rt.genesis_board(entities[me]).expect("board").clone();
                let _ = rt.submit(
                    entities[p],
                    EntityTx::OpenAccount {
                        peer: ids[me],
                        peer_board: board,
                    },
                );
                let board = rt.genesis_board(entities[p]).expect("board").clone();
                (
                    me,
                    EntityTx::OpenAccount {
                        peer: ids[p],
                        peer_board: board,
                    },
                )
            }
            Op::Credit {
                entity,
                peer,
                amount,
            } => {
                let me = e(entity);
                (
                    me,
                    EntityTx::Account {
                        peer: ids[peer_of(me, peer)],
                        tx: xln::account::AccountTx::SetCreditLimit {
                            token: 1,
                            amount: BigInt::from(amount),
                        },
                    },
                )
            }
            Op::AccountPay {
                entity,
                peer,
                amount,
            } => {
                let me = e(entity);
                (
                    me,
                    EntityTx::Account {
                        peer: ids[peer_of(me, peer)],
                        tx: xln::account::AccountTx::Pay {
                            token: 1,
                            amount: BigInt::from(amount),
                        },
                    },
                )
            }
            Op::Note { entity } => (
                e(entity),
                EntityTx::Message {
                    text: "fuzz".into(),
                },
            ),
            Op::Ticks { n } => {
                rt.run_ticks(u64::from(n % 32));
                continue;
            }
        };
        // A refusal at submission (e.g. a tx the replica rejects at once) is fine.
        let _ = rt.submit(entities[entity], tx);
        rt.run_ticks(1);
    }
    rt.heal_network();
    let quiet = rt.run_until_quiet(QUIET_TICKS_MAX);
    check(&rt, &entities, &ids, turned, quiet, input);
}

fn check(
    rt: &Runtime,
    entities: &[usize],
    ids: &[xln::entity::EntityId],
    turned: Option<(usize, usize)>,
    quiet: bool,
    input: &Input,
) {
    if !quiet {
        let mut state = String::new();
        for &e in entities {
            for r in 0..rt.replica_count(e) {
                let rep = rt.replica(e, r).expect("replica");
                let accounts: Vec<String> = rep
                    .state()
                    .accounts
                    .values()
                    .map(|a| {
                        format!(
                            "h{} pending {} queued {}",
                            a.machine.state.height,
                            a.machine.pending.is_some(),
                            a.machine.mempool.len()
                        )
                    })
                    .collect();
                state.push_str(&format!(
                    "\n  entity {e} replica {r} {:?}: height {} idle {} mempool {} accounts {accounts:?}",
                    rt.behaviour(e, r).expect("behaviour"),
                    rep.height(),
                    rep.is_idle(),
                    rep.mempool_len()
                ));
            }
        }
        panic!(
            "not quiet {QUIET_TICKS_MAX} ticks after healing (tick {}):{state}\n{input:?}",
            rt.now()
        );
    }
    for &e in entities {
        let honest: Vec<usize> = rt
            .honest(e)
            .into_iter()
            .filter(|r| turned != Some((e, *r)))
            .collect();
        let first = rt.replica(e, honest[0]).expect("replica");
        for &r in &honest {
            let other = rt.replica(e, r).expect("replica");
            let (a, b) = (first.committed_hashes(), other.committed_hashes());
            let common = a.len().min(b.len());
            assert_eq!(
                a[..common],
                b[..common],
                "entity {e}: replicas {} and {r} committed different frames",
                honest[0]
            );
            assert_eq!(
                first.state_hash(),
                other.state_hash(),
                "entity {e}: replica {r} holds a different state"
            );
        }
        let total: BigInt = HOLDERS
            .iter()
            .map(|h| first.state().reserve(&Holder::from(*h), 1))
            .sum();
        assert_eq!(
            total,
            BigInt::from(3000),
            "entity {e}: reserves of token 1 are not conserved"
        );
    }
    for (i, &a) in entities.iter().enumerate() {
        for (j, &b) in entities.iter().enumerate().skip(i + 1) {
            let side = |e: usize, peer: usize| {
                let r = rt.replica(e, rt.honest(e)[0]).expect("replica");
                r.state()
                    .accounts
                    .get(&ids[peer])
                    .map(|acc| acc.machine.state.state_hash())
            };
            if let (Some(x), Some(y)) = (side(a, j), side(b, i)) {
                assert_eq!(
                    x, y,
                    "the account between entities {a} and {b} differs between its sides"
                );
            }
        }
    }
}

fuzz_target!(|input: Input| run(&input));
