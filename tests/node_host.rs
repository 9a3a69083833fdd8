//! The host boundary: a simulated replica's recorded inputs (the per-replica log format a
//! node keeps in its WAL) replay through `host::Replicas` — the code a node recovers with
//! and `xln wal verify` runs — to exactly the replica the simulator holds, under a lossy,
//! duplicating, delaying network, with accounts between boards.

use num_bigint::BigInt;
use xln::entity::EntityTx;
use xln::host::{HostRecord, OneKey, ReplicaId, Replicas};
use xln::runtime::Runtime;

fn replay(rt: &Runtime, entity: usize, replica: usize) -> Replicas {
    let key = rt.validator_key(entity, replica).expect("key");
    let mut replicas = Replicas::new();
    for bytes in rt.replica_log(entity, replica).expect("recorded") {
        let record = HostRecord::decode(bytes).expect("a record decodes strictly");
        replicas.apply(&record, &OneKey(key)).expect("replays");
    }
    replicas
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
        rt.set_network((1, 10), (1, 20), 3, seed);
        let (hub_id, user_id) = (rt.entity_id(hub).unwrap(), rt.entity_id(user).unwrap());
        let hub_board = rt.genesis_board(hub).unwrap().clone();
        let user_board = rt.genesis_board(user).unwrap().clone();
        rt.submit(
            hub,
            EntityTx::OpenAccount {
                peer: user_id,
                peer_board: user_board,
            },
        )
        .unwrap();
        rt.submit(
            user,
            EntityTx::OpenAccount {
                peer: hub_id,
                peer_board: hub_board,
            },
        )
        .unwrap();
        assert!(rt.run_until_quiet(5_000), "{rerun}");
        rt.submit(
            user,
            EntityTx::SetCreditLimit {
                peer: hub_id,
                token: 1,
                amount: 500.into(),
            },
        )
        .unwrap();
        assert!(rt.run_until_quiet(5_000), "{rerun}");
        for amount in 1..=5u64 {
            rt.submit(
                hub,
                EntityTx::AccountPayment {
                    peer: user_id,
                    token: 1,
                    amount: amount.into(),
                },
            )
            .unwrap();
            rt.run_ticks(3);
        }
        assert!(rt.run_until_quiet(10_000), "{rerun}");
        for (entity, n) in [(hub, 4), (user, 1)] {
            for i in 0..n {
                let live = rt.replica(entity, i).unwrap();
                let replayed = replay(&rt, entity, i);
                let id = ReplicaId {
                    entity: live.entity_id(),
                    validator: live.me(),
                };
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
        let delta = seen_by_user.expect("open");
        assert_eq!(
            delta.magnitude(),
            &15u32.into(),
            "{rerun}: 1 + 2 + 3 + 4 + 5 paid"
        );
    }
}
