//! Whole-flow tests of the entity BFT machine over a perfect in-test network: commits with
//! 4 validators / threshold 3, governance board changes, equivocation evidence, refusal of
//! bad input with the replica unchanged, view changes past a silent proposer, and no
//! progress (and no divergence) below the threshold. Divergence is judged by the
//! independent oracles of `tests/support/entity_oracle.rs` (frames re-executed from
//! genesis, state hashes recomputed, certificates counted).

#[path = "support/entity_oracle.rs"]
mod entity_oracle;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use num_bigint::BigInt;
use xln::account::NoSubcontracts;
use xln::crypto::{Address, SecretKey};
use xln::entity::{
    Board, EntityConfig, EntityError, EntityFrame, EntityInput, EntityMessage, EntityOutput,
    EntityReplica, EntityState, EntityTx, Holder, Proposal, ProposalAction, Reaction, Vote,
    VoteKind,
};

/// N replicas of one entity wired through a FIFO queue; `silent` replicas send nothing.
struct Cluster {
    keys: Vec<SecretKey>,
    replicas: Vec<EntityReplica>,
    index: BTreeMap<Address, usize>,
    silent: BTreeSet<usize>,
    queue: VecDeque<(usize, EntityMessage)>,
    now: u64,
    log: Vec<(usize, EntityOutput)>,
    genesis: EntityState,
    commits: entity_oracle::CommitLog,
}

impl Cluster {
    fn new(n: usize, threshold: u64) -> Cluster {
        let keys: Vec<SecretKey> = (0..n)
            .map(|i| SecretKey::from_seed(format!("entity-bft-{i}").as_bytes()))
            .collect();
        let addresses: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let board = Board::equal(&addresses, threshold).unwrap();
        let genesis = EntityState::genesis(
            board,
            vec![
                ("alice".into(), 1, BigInt::from(100)),
                ("bob".into(), 1, BigInt::from(50)),
            ],
        )
        .unwrap();
        let replicas = addresses
            .iter()
            .map(|a| EntityReplica::from_genesis(genesis.clone(), *a, EntityConfig::default()))
            .collect();
        let genesis_state = genesis.clone();
        Cluster {
            keys,
            replicas,
            index: addresses.iter().enumerate().map(|(i, a)| (*a, i)).collect(),
            silent: BTreeSet::new(),
            queue: VecDeque::new(),
            now: 1,
            log: Vec::new(),
            genesis: genesis_state,
            commits: entity_oracle::CommitLog::default(),
        }
    }

    fn address(&self, i: usize) -> Address {
        self.keys[i].address()
    }

    fn input(&mut self, i: usize, input: EntityInput) -> Result<Vec<EntityOutput>, EntityError> {
        let outputs =
            self.replicas[i].handle(&self.keys[i], input, self.now, &mut NoSubcontracts)?;
        self.commits
            .harvest((0, i), &self.replicas[i])
            .expect("every commit harvested");
        if !self.silent.contains(&i) {
            for o in &outputs {
                match o {
                    EntityOutput::Broadcast(m) => {
                        for j in (0..self.replicas.len()).filter(|j| *j != i) {
                            self.queue.push_back((j, m.clone()));
                        }
                    }
                    EntityOutput::Send { to, message } => {
                        self.queue.push_back((self.index[to], message.clone()));
                    }
                    _ => {}
                }
            }
        }
        self.log.extend(outputs.iter().cloned().map(|o| (i, o)));
        Ok(outputs)
    }

    fn submit(&mut self, i: usize, tx: EntityTx) {
        self.input(i, EntityInput::SubmitTx(tx)).expect("submit");
    }

    fn deliver_all(&mut self) {
        for _ in 0..100_000 {
            let Some((to, m)) = self.queue.pop_front() else {
                return;
            };
            let _ = self.input(to, EntityInput::Message(m));
        }
        panic!("message storm: the queue did not drain");
    }

    fn ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.now += 1;
            for i in 0..self.replicas.len() {
                let _ = self.input(i, EntityInput::Tick);
            }
            self.deliver_all();
        }
    }

    fn heights(&self) -> Vec<u64> {
        self.replicas.iter().map(|r| r.height()).collect()
    }

    /// Every pair of replicas agrees on every height both committed, and each replica's
    /// frames re-execute from genesis to its state.
    fn assert_no_divergence(&self) {
        let runs: Vec<_> = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let x = entity_oracle::reexecute(&self.genesis, r, self.commits.frames((0, i)))
                    .unwrap_or_else(|e| panic!("replica {i}: {e}"));
                (i, r, x)
            })
            .collect();
        let refs: Vec<_> = runs.iter().map(|(i, r, x)| (*i, *r, x)).collect();
        entity_oracle::check_agreement(&refs).unwrap_or_else(|e| panic!("{e}"));
        for a in &self.replicas {
            for b in &self.replicas {
                let (x, y) = (a.committed_hashes(), b.committed_hashes());
                let common = x.len().min(y.len());
                assert_eq!(x[..common], y[..common], "replicas diverged");
                assert_eq!(
                    a.committed_state_hashes()[..common],
                    b.committed_state_hashes()[..common]
                );
            }
        }
    }
}

fn pay(from: &str, to: &str, amount: i64) -> EntityTx {
    EntityTx::Payment {
        from: from.into(),
        to: to.into(),
        token: 1,
        amount: BigInt::from(amount),
    }
}

#[test]
fn four_validators_threshold_three_commit_frames() {
    let mut c = Cluster::new(4, 3);
    c.submit(0, pay("alice", "bob", 30));
    c.deliver_all();
    assert_eq!(c.heights(), vec![1, 1, 1, 1]);
    c.submit(2, pay("bob", "carol", 70));
    c.submit(3, pay("bob", "carol", 1_000));
    c.submit(
        1,
        EntityTx::Message {
            text: "hello".into(),
        },
    );
    c.deliver_all();
    c.ticks(5);
    let h = c.heights();
    assert!(h.iter().all(|x| *x == h[0] && *x >= 2), "heights {h:?}");
    c.assert_no_divergence();
    let state = c.replicas[0].state();
    assert_eq!(state.reserve(&"alice".into(), 1), BigInt::from(70));
    assert_eq!(state.reserve(&"bob".into(), 1), BigInt::from(10));
    assert_eq!(state.reserve(&"carol".into(), 1), BigInt::from(70));
    let rejected: Vec<_> = c
        .log
        .iter()
        .filter(|(i, _)| *i == 0)
        .filter_map(|(_, o)| match o {
            EntityOutput::Committed(f) => Some(f.rejected_txs.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        rejected.len(),
        1,
        "the 1000 payment is rejected, not dropped"
    );
    assert!(
        rejected[0]
            .rejection
            .reason
            .contains("insufficient reserve"),
        "{}",
        rejected[0].rejection.reason
    );
    assert!(c.replicas.iter().all(|r| r.is_idle()));
    assert!(c
        .replicas
        .iter()
        .all(|r| r.state_hash() == c.replicas[0].state_hash()));
}

#[test]
fn board_change_by_proposal_and_vote() {
    let mut c = Cluster::new(4, 3);
    let remaining: Vec<Address> = (0..3).map(|i| c.address(i)).collect();
    let new_board = Board::equal(&remaining, 2).unwrap();
    c.submit(
        0,
        EntityTx::Propose {
            id: 1,
            action: ProposalAction::BoardChange(new_board.clone()),
        },
    );
    c.deliver_all();
    assert!(c.replicas[0].state().proposals.contains_key(&1));
    c.submit(1, EntityTx::Vote { id: 1, yes: true });
    c.deliver_all();
    assert_eq!(
        c.replicas[0].state().board.threshold,
        3,
        "2 of 3 shares: not yet"
    );
    c.submit(2, EntityTx::Vote { id: 1, yes: true });
    c.deliver_all();
    c.ticks(3);
    for r in &c.replicas {
        assert_eq!(r.state().board, new_board);
        assert!(r.state().proposals.is_empty());
    }
    // The new board decides with 2 of 3: replicas 0 and 2 commit while 1 is silent.
    c.silent.insert(1);
    c.submit(0, pay("alice", "bob", 5));
    c.ticks(80);
    assert_eq!(c.replicas[0].height(), c.replicas[2].height());
    assert_eq!(
        c.replicas[0].state().reserve(&"alice".into(), 1),
        BigInt::from(95)
    );
    // The removed validator's votes no longer count: they are refused.
    let id = c.replicas[0].entity_id();
    let h = c.replicas[0].height() + 1;
    let v = Vote::sign(
        &id,
        &c.keys[3],
        c.address(3),
        VoteKind::Prevote,
        h,
        0,
        [1; 32],
    )
    .unwrap();
    let err = assert_refused(&mut c, 0, EntityMessage::Vote(v), Reaction::Reject);
    assert!(matches!(err, EntityError::NotAValidator { .. }), "{err}");
    // Frames decided by the old board and by the new one re-execute and agree.
    c.assert_no_divergence();
}

/// A second frame for height 1 signed by the proposer of (1, 0).
fn conflicting_proposals(c: &Cluster) -> (Proposal, Proposal, usize) {
    let state = c.replicas[0].state().clone();
    let proposer = c.index.get(&state.board.proposer(1, 0)).copied().unwrap();
    let key = &c.keys[proposer];
    let id = state.entity_id;
    let tx = |text: &str| {
        xln::entity::SignedTx::sign(&id, key, 1, EntityTx::Message { text: text.into() }).unwrap()
    };
    let frame_a = EntityFrame::build(&state, vec![tx("a")], 5, &mut NoSubcontracts);
    let frame_b = EntityFrame::build(&state, vec![tx("b")], 5, &mut NoSubcontracts);
    let a = Proposal::sign(&id, key, key.address(), 0, frame_a, None).unwrap();
    let b = Proposal::sign(&id, key, key.address(), 0, frame_b, None).unwrap();
    (a, b, proposer)
}

#[test]
fn equivocating_proposer_is_detected_with_evidence() {
    let mut c = Cluster::new(4, 3);
    let (a, b, proposer) = conflicting_proposals(&c);
    let honest = (proposer + 1) % 4;
    let out = c
        .input(
            honest,
            EntityInput::Message(EntityMessage::Proposal(a.clone())),
        )
        .unwrap();
    assert!(out
        .iter()
        .any(|o| matches!(o, EntityOutput::Broadcast(EntityMessage::Vote(_)))));
    let out = c
        .input(
            honest,
            EntityInput::Message(EntityMessage::Proposal(b.clone())),
        )
        .unwrap();
    let evidence: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            EntityOutput::Evidence(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].validator, c.address(proposer));
    assert_eq!(evidence[0].a, EntityMessage::Proposal(a));
    assert_eq!(evidence[0].b, EntityMessage::Proposal(b));
    assert_eq!(c.replicas[honest].evidence().len(), 1);
    // Relays spread both frames: every honest replica ends up with the evidence.
    c.deliver_all();
    for i in (0..4).filter(|i| *i != proposer) {
        assert_eq!(c.replicas[i].evidence().len(), 1, "replica {i}");
    }
    c.ticks(60);
    c.assert_no_divergence();
}

#[test]
fn equivocating_voter_is_detected_and_no_longer_counted() {
    let mut c = Cluster::new(4, 3);
    let id = c.replicas[0].entity_id();
    let key = c.keys[3].clone();
    let v1 = Vote::sign(&id, &key, key.address(), VoteKind::Precommit, 1, 0, [1; 32]).unwrap();
    let v2 = Vote::sign(&id, &key, key.address(), VoteKind::Precommit, 1, 0, [2; 32]).unwrap();
    c.input(0, EntityInput::Message(EntityMessage::Vote(v1)))
        .unwrap();
    let out = c
        .input(0, EntityInput::Message(EntityMessage::Vote(v2)))
        .unwrap();
    assert!(out
        .iter()
        .any(|o| matches!(o, EntityOutput::Evidence(e) if e.kind() == "precommit")));
    assert_eq!(c.replicas[0].evidence()[0].validator, key.address());
}

/// Feeds `message` to replica `i` and checks it is refused with `reaction`, unchanged.
fn assert_refused(
    c: &mut Cluster,
    i: usize,
    message: EntityMessage,
    reaction: Reaction,
) -> EntityError {
    let before = c.replicas[i].clone();
    let err = c
        .input(i, EntityInput::Message(message))
        .expect_err("must be refused");
    assert_eq!(err.reaction(), reaction, "{err}");
    assert_eq!(
        c.replicas[i], before,
        "an error must leave the replica unchanged"
    );
    err
}

#[test]
fn invalid_signature_is_rejected_and_replica_unchanged() {
    let mut c = Cluster::new(4, 3);
    let (mut a, _, proposer) = conflicting_proposals(&c);
    a.signature = c.keys[proposer].sign_digest(&[9; 32]).unwrap();
    let honest = (proposer + 1) % 4;
    let err = assert_refused(&mut c, honest, EntityMessage::Proposal(a), Reaction::Punish);
    assert!(
        matches!(
            err,
            EntityError::BadSignature {
                what: "proposal",
                ..
            }
        ),
        "{err}"
    );
    // A vote signed by someone else than its claimed validator.
    let id = c.replicas[0].entity_id();
    let mut v = Vote::sign(
        &id,
        &c.keys[1],
        c.address(1),
        VoteKind::Prevote,
        1,
        0,
        [3; 32],
    )
    .unwrap();
    v.validator = c.address(2);
    let err = assert_refused(&mut c, 0, EntityMessage::Vote(v), Reaction::Punish);
    assert!(matches!(err, EntityError::BadSignature { .. }), "{err}");
    // A tx with a tampered body.
    let mut tx = xln::entity::SignedTx::sign(&id, &c.keys[1], 1, pay("alice", "bob", 1)).unwrap();
    tx.tx = pay("alice", "bob", 99);
    assert_refused(&mut c, 0, EntityMessage::Tx(tx), Reaction::Punish);
}

#[test]
fn wrong_state_hash_is_rejected_and_replica_unchanged() {
    let mut c = Cluster::new(4, 3);
    let (a, _, proposer) = conflicting_proposals(&c);
    let key = c.keys[proposer].clone();
    let mut frame = a.frame.clone();
    frame.state_hash = [7; 32];
    let id = c.replicas[0].entity_id();
    let bad = Proposal::sign(&id, &key, key.address(), 0, frame, None).unwrap();
    let honest = (proposer + 1) % 4;
    let err = assert_refused(
        &mut c,
        honest,
        EntityMessage::Proposal(bad),
        Reaction::Punish,
    );
    assert!(
        matches!(err, EntityError::StateHashMismatch { height: 1, .. }),
        "{err}"
    );
    // A proposal by a validator that is not the proposer of (1, 0).
    let other = (proposer + 2) % 4;
    let okey = c.keys[other].clone();
    let wrong = Proposal::sign(&id, &okey, okey.address(), 0, a.frame, None).unwrap();
    assert_refused(
        &mut c,
        honest,
        EntityMessage::Proposal(wrong),
        Reaction::Punish,
    );
}

#[test]
fn replayed_messages_are_rejected_and_replica_unchanged() {
    let mut c = Cluster::new(4, 3);
    c.submit(0, pay("alice", "bob", 1));
    c.deliver_all();
    assert_eq!(c.heights(), vec![1, 1, 1, 1]);
    let old: Vec<EntityMessage> = c
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            EntityOutput::Broadcast(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert!(old.iter().any(|m| m.kind() == "proposal"));
    assert!(old.iter().any(|m| m.kind() == "precommit"));
    assert!(old.iter().any(|m| m.kind() == "commit"));
    for m in old {
        let err = assert_refused(&mut c, 2, m, Reaction::Ignore);
        assert!(matches!(err, EntityError::Stale { .. }), "{err}");
    }
    assert_eq!(c.replicas[2].height(), 1);
}

#[test]
fn silent_proposer_is_replaced_by_a_view_change_and_commits_continue() {
    let mut c = Cluster::new(4, 3);
    let proposer = c.index[&c.replicas[0].state().board.proposer(1, 0)];
    c.silent.insert(proposer);
    let submitter = (proposer + 1) % 4;
    c.submit(submitter, pay("alice", "bob", 10));
    c.deliver_all();
    assert_eq!(c.replicas[submitter].height(), 0, "the proposer is silent");
    c.ticks(60);
    let views: Vec<u64> = c
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            EntityOutput::Committed(f) if f.height == 1 => Some(f.view),
            _ => None,
        })
        .collect();
    assert!(
        !views.is_empty() && views.iter().all(|v| *v >= 1),
        "views {views:?}"
    );
    for round in 0..6 {
        let live: Vec<usize> = (0..4).filter(|i| *i != proposer).collect();
        c.submit(live[round % 3], pay("bob", "alice", 1));
        c.ticks(60);
    }
    for i in (0..4).filter(|i| *i != proposer) {
        assert_eq!(c.replicas[i].height(), 7, "replica {i}");
    }
    c.assert_no_divergence();
}

#[test]
fn two_of_four_silent_means_no_commit_and_no_divergence() {
    let mut c = Cluster::new(4, 3);
    c.silent.insert(1);
    c.silent.insert(3);
    c.submit(0, pay("alice", "bob", 10));
    c.submit(2, pay("alice", "bob", 20));
    c.ticks(300);
    assert_eq!(c.heights(), vec![0, 0, 0, 0]);
    c.assert_no_divergence();
    let asked = c
        .log
        .iter()
        .filter(|(i, o)| {
            *i == 0 && matches!(o, EntityOutput::Broadcast(EntityMessage::ViewChange(_)))
        })
        .count();
    assert!(
        asked > 5,
        "replica 0 keeps asking for a view change ({asked})"
    );
    assert_eq!(
        c.replicas[0].view(),
        0,
        "2 of 4 shares cannot change the view"
    );
    // Once one comes back, the entity makes progress again.
    c.silent.remove(&1);
    c.ticks(400);
    assert!(c.replicas[0].height() >= 1 && c.replicas[2].height() == c.replicas[0].height());
    c.assert_no_divergence();
}

#[test]
fn submissions_are_checked_before_signing() {
    let mut c = Cluster::new(4, 3);
    let before = c.replicas[0].clone();
    let err = c
        .input(0, EntityInput::SubmitTx(pay("alice", "alice", 1)))
        .unwrap_err();
    assert_eq!(err.reaction(), Reaction::Reject);
    let err = c
        .input(0, EntityInput::SubmitTx(pay("alice", "bob", -1)))
        .unwrap_err();
    assert!(matches!(err, EntityError::InvalidTx { .. }));
    assert_eq!(c.replicas[0], before);
    let wrong_key = c.keys[1].clone();
    let err = c.replicas[0]
        .handle(&wrong_key, EntityInput::Tick, 5, &mut NoSubcontracts)
        .unwrap_err();
    assert!(matches!(err, EntityError::KeyMismatch { .. }));
    let holder: Holder = c.address(1).into();
    assert_eq!(c.replicas[0].state().reserve(&holder, 1), BigInt::from(0));
}

#[test]
fn entity_id_is_the_board_hash() {
    let c = Cluster::new(4, 3);
    let board = c.replicas[0].state().board.clone();
    assert_eq!(c.replicas[0].entity_id(), board.hash());
    let r = EntityReplica::new(board.clone(), c.address(0)).unwrap();
    assert_eq!(r.entity_id(), board.hash());
    assert!(EntityReplica::new(
        Board {
            validators: board.validators,
            threshold: 9
        },
        c.address(0)
    )
    .is_err());
}
