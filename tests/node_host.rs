//! The host boundary: a simulated replica's recorded inputs (the per-replica log format a
//! node keeps in its WAL) replay through `host::Replicas` — the code a node recovers with
//! and `xln wal verify` runs — to exactly the replica the simulator holds, under a lossy,
//! duplicating, delaying network, with accounts between boards, direct payments, a routed
//! payment through a 3-of-4 hub (HTLC subcontracts run by the sandbox engine, onions,
//! gossip) and a lock that times out (its payer's timers).

use num_bigint::BigInt;
use xln::account::AccountTx;
use xln::entity::payment::PaymentStatus;
use xln::entity::{EntityId, EntityTx, FeePolicy};
use xln::host::{HostRecord, OneKey, ReplicaId, Replicas};
use xln::runtime::Runtime;
use xln::sandbox::SandboxEngine;

fn replay(rt: &Runtime, entity: usize, replica: usize) -> Replicas {
    let key = rt.validator_key(entity, replica).expect("key");
    let onion = rt.onion_secret(entity);
    let id = rt.entity_id(entity).expect("id");
    let signer = OneKey::with_onion(key, id, &onion);
    let mut engine = SandboxEngine::new();
    let mut replicas = Replicas::new();
    for bytes in rt.replica_log(entity, replica).expect("recorded") {
        let record = HostRecord::decode(bytes).expect("a record decodes strictly");
        replicas
            .apply(&record, &signer, &mut engine)
            .expect("replays");
    }
    replicas
}

fn open(rt: &mut Runtime, a: usize, b: usize) {
    let peer = rt.entity_id(b).unwrap();
    let peer_board = rt.genesis_board(b).unwrap().clone();
    rt.submit(a, EntityTx::OpenAccount { peer, peer_board })
        .unwrap();
}

fn credit(rt: &mut Runtime, from: usize, to: EntityId, amount: u64) {
    let tx = EntityTx::Account {
        peer: to,
        tx: AccountTx::SetCreditLimit {
            token: 1,
            amount: amount.into(),
        },
    };
    rt.submit(from, tx).unwrap();
}

/// Routes `amount` from `from` to `to` over `from`'s view, once gossip lets it (bounded).
/// Returns the tx hash and the first lock's timeout.
fn pay_routed(
    rt: &mut Runtime,
    from: usize,
    to: usize,
    amount: u64,
    rerun: &str,
) -> ([u8; 32], u64) {
    let (from_id, to_id) = (rt.entity_id(from).unwrap(), rt.entity_id(to).unwrap());
    for _ in 0..40 {
        let view = rt.replica(from, 0).unwrap().gossip().clone();
        if let Ok(plan) = view.plan(&from_id, &to_id, &BigInt::from(amount), 1, rt.now()) {
            let timeout = plan.parts[0][0].timeout;
            let tx = rt
                .submit(from, EntityTx::PayRouted(Box::new(plan)))
                .unwrap();
            return (tx, timeout);
        }
        rt.run_ticks(20);
        rt.run_until_quiet(20_000);
    }
    panic!("{rerun}: gossip never let the sender route");
}

fn status(rt: &Runtime, from: usize, tx: &[u8; 32]) -> Option<PaymentStatus> {
    let state = rt.replica(from, 0).unwrap().state();
    state
        .payments
        .sent
        .values()
        .find(|p| p.tx == *tx)
        .map(|p| p.status.clone())
}

#[test]
fn recorded_replicas_replay_to_the_simulated_ones() {
    for seed in [3u64, 11, 29] {
        let rerun = format!("seed {seed}: rerun with cargo test --test node_host");
        let mut rt = Runtime::new(seed);
        rt.record_replica_inputs();
        let hub = rt
            .add_entity(4, 3, vec![("treasury".into(), 1, BigInt::from(100))])
            .expect("hub");
        let user = rt.add_entity(1, 1, Vec::new()).expect("user");
        let carol = rt.add_entity(1, 1, Vec::new()).expect("carol");
        rt.set_network((1, 10), (1, 20), 3, seed);
        let (hub_id, user_id, carol_id) = (
            rt.entity_id(hub).unwrap(),
            rt.entity_id(user).unwrap(),
            rt.entity_id(carol).unwrap(),
        );
        open(&mut rt, hub, user);
        open(&mut rt, user, hub);
        open(&mut rt, hub, carol);
        assert!(rt.run_until_quiet(5_000), "{rerun}");
        credit(&mut rt, user, hub_id, 500);
        credit(&mut rt, hub, user_id, 500);
        credit(&mut rt, carol, hub_id, 500);
        credit(&mut rt, hub, carol_id, 500);
        let policy = FeePolicy {
            base: BigInt::from(2),
            ppm: 1_000,
            ..FeePolicy::default()
        };
        rt.submit(hub, EntityTx::SetFeePolicy(policy)).unwrap();
        assert!(rt.run_until_quiet(5_000), "{rerun}");
        for amount in 1..=5u64 {
            let pay = EntityTx::Account {
                peer: user_id,
                tx: AccountTx::Pay {
                    token: 1,
                    amount: amount.into(),
                },
            };
            rt.submit(hub, pay).unwrap();
            rt.run_ticks(3);
        }
        assert!(rt.run_until_quiet(10_000), "{rerun}");
        // Routed: user -> hub -> carol, every hop acting on its own.
        let (routed, _) = pay_routed(&mut rt, user, carol, 40, &rerun);
        assert!(rt.run_until_quiet(20_000), "{rerun}");
        assert_eq!(
            status(&rt, user, &routed),
            Some(PaymentStatus::Settled),
            "{rerun}: the routed payment settles"
        );
        // The receiver goes silent: the user's lock toward the hub commits, the hub's lock
        // toward carol waits. The idle user must still be woken at its lock's timeout (a
        // node ticks idle replicas only by `wake_at`), and then takes the lock back.
        rt.set_behaviour(carol, 0, xln::runtime::Behaviour::Silent)
            .unwrap();
        let (stuck, timeout) = pay_routed(&mut rt, user, carol, 7, &rerun);
        let mut woken_at = None;
        for _ in 0..timeout {
            rt.run_ticks(1);
            let r = rt.replica(user, 0).unwrap();
            if r.is_idle() && rt.now() < timeout {
                woken_at = Some(r.wake_at());
            }
        }
        assert_eq!(
            woken_at,
            Some(Some(timeout)),
            "{rerun}: the idle payer wants a tick at its lock's timeout"
        );
        rt.run_ticks(200);
        assert_eq!(
            status(&rt, user, &stuck).map(|s| matches!(s, PaymentStatus::Failed(_))),
            Some(true),
            "{rerun}: the payer timed its lock out by its clock: {:?}",
            status(&rt, user, &stuck)
        );
        rt.set_behaviour(carol, 0, xln::runtime::Behaviour::Honest)
            .unwrap();
        assert!(rt.run_until_quiet(20_000), "{rerun}");
        for (entity, n) in [(hub, 4), (user, 1), (carol, 1)] {
            for i in 0..n {
                let live = rt.replica(entity, i).unwrap();
                let replayed = replay(&rt, entity, i);
                let id = ReplicaId {
                    entity: live.entity_id(),
                    validator: live.me(),
                };
                assert_eq!(
                    replayed.get(&id).map(|r| r.state_hash()),
                    Some(live.state_hash()),
                    "{rerun}: state hash of replica {i} of entity {entity}"
                );
                assert_eq!(
                    replayed.get(&id),
                    Some(live),
                    "{rerun}: replica {i} of entity {entity}"
                );
            }
        }
        let seen_by_user = rt
            .replica(user, 0)
            .unwrap()
            .state()
            .account_delta(&hub_id, 1);
        let seen_by_hub = rt
            .replica(hub, 0)
            .unwrap()
            .state()
            .account_delta(&user_id, 1);
        assert_eq!(seen_by_user, seen_by_hub, "{rerun}: both sides agree");
        let fee = 2 + 1; // base 2 + ceil(40 × 1000 / 1e6)
        let delta = seen_by_user.expect("open");
        assert_eq!(
            delta.magnitude(),
            &(40 + fee - 15u32).into(),
            "{rerun}: 1 + 2 + 3 + 4 + 5 paid to the user, 40 + fee routed by it"
        );
    }
}
