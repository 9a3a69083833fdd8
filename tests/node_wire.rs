//! The wire codec (`src/entity/wire.rs`): one sample of every kind in `EntityTx::KINDS`,
//! `AccountTx::KINDS` and `EntityMessage::KINDS` round-trips (a kind without a sample or a
//! decoder arm fails here), non-canonical encodings are refused, sizes and nesting are
//! bounded, and garbage never panics.

use std::collections::BTreeSet;

use std::collections::BTreeMap;

use num_bigint::BigInt;
use xln::account::UNSEALED;
use xln::account::{AccountFrame, AccountMessage, AccountMessageBody, AccountTx, Data, Delta};
use xln::crypto::SecretKey;
use xln::crypto::{Address, Canonical, RlpItem, Signature};
use xln::entity::gossip::{Advertised, EntityProfile, ProfilePart, SignedProfile};
use xln::entity::wire::{
    decode_exact, decode_message, WireError, WIRE_MESSAGE_BYTES_MAX, WIRE_NESTING_MAX,
};
use xln::entity::{
    AccountOpen, AccountPart, Board, CommitNotice, EntityFrame, EntityMessage, EntityTx, FeePolicy,
    Hanko, Holder, PaymentHop, Proposal, ProposalAction, RoutedPayment, SignedTx, ValidCert,
    Validator, ViewChange, Vote, VoteKind,
};

fn key() -> SecretKey {
    SecretKey::from_seed(b"xln/wire-test")
}

fn signature() -> Signature {
    key().sign_digest(&[7; 32]).expect("signing a fixed digest")
}

fn board() -> Board {
    Board {
        validators: vec![
            Validator::new(key().address(), 2),
            Validator::new(Address([9; 20]), 1),
        ],
        threshold: 2,
    }
}

fn data() -> Data {
    let mut map = BTreeMap::new();
    map.insert("b".to_string(), Data::Bool(true));
    map.insert(
        "a".to_string(),
        Data::List(vec![Data::Int((-5).into()), Data::Text("x".into())]),
    );
    Data::Map(map)
}

/// One sample of every [`AccountTx`] kind.
fn account_txs() -> Vec<AccountTx> {
    vec![
        AccountTx::Pay {
            token: 1,
            amount: 10.into(),
        },
        AccountTx::SetCreditLimit {
            token: 2,
            amount: 0.into(),
        },
        AccountTx::ChainDelta {
            token: 1,
            collateral_change: (-3).into(),
            ondelta_change: BigInt::from(u64::MAX) * 3,
        },
        AccountTx::InstallCode {
            code: b"(subcontract htlc ...)".to_vec(),
        },
        AccountTx::OpenSubcontract {
            id: 4,
            code: [0xab; 32],
            holds: vec![(1, 5.into())],
            params: data(),
        },
        AccountTx::CallSubcontract {
            id: 4,
            method: "reveal".into(),
            args: Data::Bytes(vec![1, 2, 3]),
        },
    ]
}

fn account_messages() -> Vec<AccountMessage> {
    let frame = AccountFrame {
        height: 3,
        timestamp: 99,
        prev_frame_hash: [1; 32],
        txs: account_txs(),
        token_ids: vec![1, 2],
        deltas: vec![
            Delta::default(),
            Delta {
                offdelta: (-7).into(),
                ..Delta::default()
            },
        ],
        state_hash: [2; 32],
    };
    vec![
        AccountMessage {
            from: Address([1; 20]),
            to: Address([2; 20]),
            counter: 5,
            body: AccountMessageBody::Propose {
                frame,
                signature: UNSEALED,
            },
        },
        AccountMessage {
            from: Address([2; 20]),
            to: Address([1; 20]),
            counter: 6,
            body: AccountMessageBody::Ack {
                height: 3,
                frame_hash: [3; 32],
                signature: signature(),
            },
        },
        AccountMessage {
            from: Address([2; 20]),
            to: Address([1; 20]),
            counter: 7,
            body: AccountMessageBody::Decline {
                height: 4,
                frame_hash: [4; 32],
                reason: "the lock timed out by my clock".into(),
                signature: UNSEALED,
            },
        },
    ]
}

fn profile() -> EntityProfile {
    EntityProfile {
        entity: board().entity_id(),
        board: board(),
        height: 9,
        fee_base: 3.into(),
        fee_ppm: 250,
        timeout_delta: 100,
        onion_key: vec![2; 33],
        accounts: vec![Advertised {
            peer: [4; 32],
            token: 1,
            out: 700.into(),
            inn: (-1).into(),
        }],
    }
}

/// One sample of every [`EntityTx`] kind.
fn entity_txs() -> Vec<EntityTx> {
    let mut hanko = Hanko::default();
    hanko.0.insert(key().address(), signature());
    hanko.0.insert(Address([0; 20]), signature());
    vec![
        EntityTx::Message {
            text: "hello".into(),
        },
        EntityTx::OpenAccount {
            peer: [4; 32],
            peer_board: board(),
        },
        EntityTx::AccountInput {
            from: [5; 32],
            message: Box::new(account_messages()[0].clone()),
            hanko,
        },
        EntityTx::Account {
            peer: [4; 32],
            tx: AccountTx::Pay {
                token: 1,
                amount: 12.into(),
            },
        },
        EntityTx::Payment {
            from: "treasury".into(),
            to: Holder::Address(Address([3; 20])),
            token: 1,
            amount: 1.into(),
        },
        EntityTx::Propose {
            id: 1,
            action: ProposalAction::BoardChange(board()),
        },
        EntityTx::Vote { id: 1, yes: false },
        EntityTx::ChainEvent {
            bytes: vec![0, 255],
        },
        EntityTx::SetFeePolicy(FeePolicy {
            base: 1.into(),
            ppm: u32::MAX,
            timeout_delta: 5_000,
        }),
        EntityTx::PayRouted(Box::new(RoutedPayment {
            token: 1,
            total: 40.into(),
            parts: vec![
                vec![
                    PaymentHop {
                        entity: [4; 32],
                        onion_key: vec![2; 33],
                        amount: 43.into(),
                        timeout: 60_100,
                    },
                    PaymentHop {
                        entity: [5; 32],
                        onion_key: vec![3; 33],
                        amount: 40.into(),
                        timeout: 60_000,
                    },
                ],
                vec![],
            ],
            attempts_max: 3,
            parts_max: 8,
        })),
        EntityTx::RetryPayment {
            hashlock: [6; 32],
            parts: vec![vec![PaymentHop {
                entity: [5; 32],
                onion_key: vec![3; 33],
                amount: 40.into(),
                timeout: 60_000,
            }]],
            reason: "failed at hop 1".into(),
        },
        EntityTx::Timers,
        EntityTx::PublishProfile,
    ]
}

fn signed(tx: EntityTx, nonce: u64) -> SignedTx {
    SignedTx::sign(&[8; 32], &key(), nonce, tx).expect("signing")
}

fn frame() -> EntityFrame {
    EntityFrame {
        height: 2,
        prev_hash: [6; 32],
        timestamp: 1_700_000_000_000,
        txs: entity_txs()
            .into_iter()
            .zip(1..)
            .map(|(t, n)| signed(t, n))
            .collect(),
        state_hash: [7; 32],
    }
}

fn vote(kind: VoteKind) -> Vote {
    Vote::sign(&[8; 32], &key(), key().address(), kind, 2, 1, [9; 32]).expect("signing")
}

/// One sample of every [`EntityMessage`] kind.
fn messages() -> Vec<EntityMessage> {
    let proposal = Proposal::sign(
        &[8; 32],
        &key(),
        key().address(),
        1,
        frame(),
        Some((0, vec![vote(VoteKind::Prevote)])),
    )
    .expect("signing");
    let cert = ValidCert {
        view: 0,
        frame: frame(),
        prevotes: vec![vote(VoteKind::Prevote)],
    };
    let hash = cert.frame.hash();
    let view_change = ViewChange::sign(&[8; 32], &key(), key().address(), 2, 1, Some((cert, hash)))
        .expect("signing");
    let part = AccountPart {
        from: [1; 32],
        to: [2; 32],
        message: account_messages()[1].clone(),
        signer: key().address(),
        signature: signature(),
    };
    vec![
        EntityMessage::Tx(signed(EntityTx::Message { text: "m".into() }, 1)),
        EntityMessage::Proposal(proposal),
        EntityMessage::Vote(vote(VoteKind::Prevote)),
        EntityMessage::Vote(vote(VoteKind::Precommit)),
        EntityMessage::ViewChange(view_change),
        EntityMessage::Commit(CommitNotice {
            frame: frame(),
            precommits: vec![vote(VoteKind::Precommit)],
        }),
        EntityMessage::SyncRequest {
            from: key().address(),
            height: 3,
        },
        EntityMessage::AccountPart(Box::new(part)),
        EntityMessage::AccountOpen(Box::new(AccountOpen {
            from: [1; 32],
            to: [2; 32],
            board: board(),
            reply: true,
            signer: key().address(),
            signature: signature(),
        })),
        EntityMessage::ProfilePart(Box::new(ProfilePart {
            profile: profile(),
            signer: key().address(),
            signature: signature(),
        })),
        EntityMessage::Profile(Box::new(SignedProfile {
            profile: profile(),
            hanko: Hanko([(key().address(), signature())].into_iter().collect()),
        })),
    ]
}

fn kinds<'a>(it: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    it.collect()
}

#[test]
fn every_kind_has_a_sample_that_round_trips() {
    let txs = entity_txs();
    assert_eq!(
        kinds(txs.iter().map(EntityTx::kind)),
        kinds(EntityTx::KINDS.into_iter()),
        "add a sample (and a decoder arm) for each EntityTx kind"
    );
    let atxs = account_txs();
    assert_eq!(
        kinds(atxs.iter().map(AccountTx::kind)),
        kinds(AccountTx::KINDS.into_iter()),
        "add a sample (and a decoder arm) for each AccountTx kind"
    );
    let msgs = messages();
    assert_eq!(
        kinds(msgs.iter().map(EntityMessage::kind)),
        kinds(EntityMessage::KINDS.into_iter()),
        "add a sample (and a decoder arm) for each EntityMessage kind"
    );
    for tx in txs {
        assert_eq!(
            decode_exact::<EntityTx>(&tx.canonical_bytes()),
            Ok(tx.clone()),
            "{}",
            tx.kind()
        );
    }
    for tx in atxs {
        assert_eq!(
            decode_exact::<AccountTx>(&tx.canonical_bytes()),
            Ok(tx.clone()),
            "{}",
            tx.kind()
        );
    }
    for m in account_messages() {
        assert_eq!(
            decode_exact::<AccountMessage>(&m.canonical_bytes()),
            Ok(m.clone())
        );
    }
    for m in msgs {
        let bytes = m.canonical_bytes();
        assert_eq!(decode_message(&bytes), Ok(m.clone()), "{}", m.kind());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            decode_message(&longer).is_err(),
            "{}: trailing byte",
            m.kind()
        );
        assert!(
            decode_message(&bytes[..bytes.len() - 1]).is_err(),
            "{}: truncated",
            m.kind()
        );
    }
}

#[test]
fn non_canonical_encodings_are_refused() {
    // A hanko whose entries are out of order decodes to the same map but re-encodes
    // differently: refused, so one hanko has one encoding.
    let tx = &entity_txs()[2];
    let mut item = tx.canonical_rlp();
    let RlpItem::List(fields) = &mut item else {
        panic!("tagged")
    };
    let RlpItem::List(hanko) = &mut fields[3] else {
        panic!("hanko")
    };
    let RlpItem::List(entries) = &mut hanko[1] else {
        panic!("entries")
    };
    entries.reverse();
    assert_eq!(
        decode_exact::<EntityTx>(&item.encode()),
        Err(WireError::NotCanonical { what: "entity tx" })
    );
    // Negative zero.
    let bad = xln::crypto::tagged(
        b"xln/account-tx/pay/v1",
        vec![
            1u64.canonical_rlp(),
            RlpItem::List(vec![RlpItem::Bytes(vec![1]), RlpItem::Bytes(vec![])]),
        ],
    );
    assert!(matches!(
        decode_exact::<AccountTx>(&bad.encode()),
        Err(WireError::NotCanonical { .. })
    ));
    // An unknown kind and a wrong field count.
    let unknown = xln::crypto::tagged(b"xln/entity-message/gossip/v9", vec![]);
    assert!(matches!(
        decode_message(&unknown.encode()),
        Err(WireError::UnknownTag { .. })
    ));
    let short = xln::crypto::tagged(
        b"xln/entity-message/sync-request/v1",
        vec![1u64.canonical_rlp()],
    );
    assert!(matches!(
        decode_message(&short.encode()),
        Err(WireError::Malformed { .. })
    ));
}

#[test]
fn size_and_nesting_are_bounded() {
    let huge = vec![0x80; WIRE_MESSAGE_BYTES_MAX + 1];
    assert!(matches!(
        decode_message(&huge),
        Err(WireError::TooLarge { .. })
    ));
    let mut deep = Data::Bool(true);
    for _ in 0..WIRE_NESTING_MAX {
        deep = Data::List(vec![deep]);
    }
    let tx = AccountTx::CallSubcontract {
        id: 1,
        method: "m".into(),
        args: deep,
    };
    assert!(matches!(
        decode_exact::<AccountTx>(&tx.canonical_bytes()),
        Err(WireError::Rlp(_))
    ));
    let mut hostile = Vec::new();
    for _ in 0..100_000 {
        hostile.extend([0xf8, 0x40]);
    }
    assert!(decode_message(&hostile).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Garbage and mutated messages never panic, and whatever decodes is canonical.
    #[test]
    fn garbage_never_panics(which in 0usize..11, flips in proptest::collection::vec((0usize..4096, 0u8..=255), 1..6), junk in proptest::collection::vec(0u8..=255, 0..64)) {
        let mut bytes = messages()[which].canonical_bytes();
        for (at, x) in flips {
            let n = bytes.len();
            bytes[at % n] ^= x;
        }
        if let Ok(m) = decode_message(&bytes) {
            proptest::prop_assert_eq!(m.canonical_bytes(), bytes);
        }
        let _ = decode_message(&junk);
    }
}
