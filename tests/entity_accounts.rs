//! Accounts between BFT entities at the state level: a peer's account message is applied
//! only with a hanko worth the peer board's threshold over the message's digest; too few
//! shares, a stranger's or a forged signature, a message changed after sealing and a replay
//! are each rejected and leave the account as it was. Whole flows over a lossy network
//! are in scripts/multi-replica.xln.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use xln::account::{
    AccountMachine, AccountMessage, AccountMessageBody, AccountTx, NoSubcontracts, Seal,
};
use xln::crypto::{Address, SecretKey};
use xln::entity::{entity_address, Board, EntityState, EntityTx, Hanko, SignedTx};

struct Side {
    keys: Vec<SecretKey>,
    board: Board,
}

fn side(name: &str, n: usize, threshold: u64) -> Side {
    let keys: Vec<SecretKey> = (0..n)
        .map(|i| SecretKey::from_seed(format!("{name}-{i}").as_bytes()))
        .collect();
    let addresses: Vec<Address> = keys.iter().map(SecretKey::address).collect();
    let board = Board::equal(&addresses, threshold).unwrap();
    Side { keys, board }
}

fn hanko(keys: &[&SecretKey], message: &AccountMessage) -> Hanko {
    let digest = message.hanko_digest();
    Hanko(
        keys.iter()
            .map(|k| (k.address(), k.sign_digest(&digest).unwrap()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Our entity (3 validators, threshold 2) with an open account to the peer (3 of 2),
/// and the peer's machine proposing a credit limit for us.
fn setup() -> (Side, EntityState, Side, AccountMessage) {
    let us = side("us", 3, 2);
    let peer = side("peer", 3, 2);
    let genesis = EntityState::genesis(us.board.clone(), Vec::new()).unwrap();
    let open = SignedTx::sign(
        &genesis.entity_id,
        &us.keys[0],
        1,
        EntityTx::OpenAccount {
            peer: peer.board.entity_id(),
            peer_board: peer.board.clone(),
        },
    )
    .unwrap();
    let (state, rejected) = genesis.apply_txs(1, 1, &[open], &mut NoSubcontracts);
    assert!(rejected.is_empty(), "{rejected:?}");
    let mut machine = AccountMachine::new(
        entity_address(&peer.board.entity_id()),
        entity_address(&state.entity_id),
    );
    machine.enqueue(AccountTx::SetCreditLimit {
        token: 1,
        amount: BigInt::from(500),
    });
    let message = machine
        .propose_sealed(Seal::Quorum, 1, &mut NoSubcontracts)
        .unwrap()
        .message
        .unwrap();
    (us, state, peer, message)
}

fn deliver(
    us: &Side,
    state: &EntityState,
    from: [u8; 32],
    nonce: u64,
    message: &AccountMessage,
    hanko: Hanko,
) -> (EntityState, Vec<String>) {
    let tx = SignedTx::sign(
        &state.entity_id,
        &us.keys[1],
        nonce,
        EntityTx::AccountInput {
            from,
            message: Box::new(message.clone()),
            hanko,
        },
    )
    .unwrap();
    let (next, rejected) = state.apply_txs(state.height + 1, 2, &[tx], &mut NoSubcontracts);
    (
        next,
        rejected.into_iter().map(|r| r.rejection.reason).collect(),
    )
}

#[test]
fn a_quorum_hanko_applies_the_peers_frame_and_acks_it() {
    let (us, state, peer, message) = setup();
    let from = peer.board.entity_id();
    let seal = hanko(&[&peer.keys[0], &peer.keys[2]], &message);
    let (next, rejected) = deliver(&us, &state, from, 2, &message, seal.clone());
    assert!(rejected.is_empty(), "{rejected:?}");
    let account = &next.accounts[&from];
    assert_eq!(account.machine.state.height, 1);
    assert_eq!(account.machine.received, 1);
    assert!(matches!(
        account.unconfirmed.last().map(|m| &m.body),
        Some(AccountMessageBody::Ack { height: 1, .. })
    ));
    // The same message again is a replay: rejected, nothing changes.
    let (again, rejected) = deliver(&us, &next, from, 3, &message, seal);
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0].contains("replay") || rejected[0].contains("Replay"),
        "{rejected:?}"
    );
    assert_eq!(again.accounts[&from], next.accounts[&from]);
}

#[test]
fn a_hanko_that_is_not_a_quorums_seal_is_rejected() {
    let (us, state, peer, message) = setup();
    let from = peer.board.entity_id();
    let stranger = SecretKey::from_seed(b"stranger");
    let mut forged = hanko(&[&peer.keys[0], &peer.keys[1]], &message);
    let other_digest = [7u8; 32];
    forged.0.insert(
        peer.keys[1].address(),
        peer.keys[1].sign_digest(&other_digest).unwrap(),
    );
    let mut changed = message.clone();
    if let AccountMessageBody::Propose { frame, .. } = &mut changed.body {
        frame.timestamp += 1;
    }
    let cases: Vec<(&str, AccountMessage, Hanko)> = vec![
        (
            "threshold",
            message.clone(),
            hanko(&[&peer.keys[0]], &message),
        ),
        (
            "not on the peer's board",
            message.clone(),
            hanko(&[&peer.keys[0], &stranger], &message),
        ),
        ("does not verify", message.clone(), forged),
        (
            "does not verify",
            changed.clone(),
            hanko(&[&peer.keys[0], &peer.keys[1]], &message),
        ),
        (
            "our own board",
            message.clone(),
            hanko(&[&us.keys[0], &us.keys[1]], &message),
        ),
    ];
    for (why, message, seal) in cases {
        let (next, rejected) = deliver(&us, &state, from, 2, &message, seal);
        assert_eq!(rejected.len(), 1, "{why}: accepted");
        let reason = &rejected[0];
        let expected = if why == "our own board" {
            "not on the peer's board"
        } else {
            why
        };
        assert!(reason.contains(expected), "{why}: {reason}");
        assert_eq!(
            next.accounts[&from], state.accounts[&from],
            "{why}: account changed"
        );
    }
}

#[test]
fn a_message_for_an_account_that_is_not_open_is_rejected() {
    let (us, state, _peer, message) = setup();
    let unknown = side("unknown", 1, 1);
    let seal = hanko(&[&unknown.keys[0]], &message);
    let (_, rejected) = deliver(&us, &state, unknown.board.entity_id(), 2, &message, seal);
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].contains("no open account"), "{rejected:?}");
}
