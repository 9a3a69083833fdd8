//! Event logs (`ChainEvent::decode`): a log with one of our topics either decodes or is
//! refused as inconsistent, never a panic; a decoded event re-encodes (through the
//! contracts' own ABI) to exactly the log's topics and data (one log per event); and its
//! entity-input bytes are canonical RLP.
#![no_main]

use alloy_primitives::{Address, Bytes, FixedBytes, B256};
use alloy_sol_types::SolEvent;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use xln::chain::contracts::{Depository as D, EntityRegistry as R};
use xln::chain::events::PositionedEvent;
use xln::chain::{ChainEvent, RawLog};
use xln::crypto::RlpItem;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Which of our event signatures is the first topic (anything else: a foreign topic).
    kind: u8,
    foreign_topic: [u8; 32],
    topics: Vec<[u8; 32]>,
    data: Vec<u8>,
    block: u64,
    log_index: u64,
    chain_id: u64,
}

const SIGNATURES: [B256; 7] = [
    R::EntityRegistered::SIGNATURE_HASH,
    D::ReserveUpdated::SIGNATURE_HASH,
    D::CollateralUpdated::SIGNATURE_HASH,
    D::Settled::SIGNATURE_HASH,
    D::DisputeStarted::SIGNATURE_HASH,
    D::DisputeFinalized::SIGNATURE_HASH,
    D::DebtRecorded::SIGNATURE_HASH,
];

/// The log our contracts emit for `event`.
fn encode(event: &ChainEvent) -> (Vec<B256>, Bytes) {
    let data = match event.clone() {
        ChainEvent::EntityRegistered { entity, board_hash } => R::EntityRegistered {
            entity,
            boardHash: FixedBytes(board_hash),
        }
        .encode_log_data(),
        ChainEvent::ReserveUpdated {
            entity,
            token,
            balance,
        } => D::ReserveUpdated {
            entity,
            token,
            newBalance: balance,
        }
        .encode_log_data(),
        ChainEvent::CollateralUpdated {
            left,
            right,
            token,
            collateral,
            ondelta,
        } => D::CollateralUpdated {
            left,
            right,
            token,
            collateral,
            ondelta,
        }
        .encode_log_data(),
        ChainEvent::Settled { left, right, nonce } => {
            D::Settled { left, right, nonce }.encode_log_data()
        }
        ChainEvent::DisputeStarted {
            left,
            right,
            nonce,
            deadline,
        } => D::DisputeStarted {
            left,
            right,
            nonce,
            deadline,
        }
        .encode_log_data(),
        ChainEvent::DisputeFinalized { left, right, nonce } => {
            D::DisputeFinalized { left, right, nonce }.encode_log_data()
        }
        ChainEvent::DebtRecorded {
            debtor,
            creditor,
            token,
            amount,
        } => D::DebtRecorded {
            debtor,
            creditor,
            token,
            amount,
        }
        .encode_log_data(),
    };
    (data.topics().to_vec(), data.data)
}

fuzz_target!(|input: Input| {
    let first = SIGNATURES
        .get(usize::from(input.kind))
        .copied()
        .unwrap_or(B256::from(input.foreign_topic));
    let mut topics = vec![first];
    topics.extend(input.topics.iter().take(5).map(|t| B256::from(*t)));
    let log = RawLog {
        block: input.block,
        log_index: input.log_index,
        address: Address::ZERO,
        topics,
        data: Bytes::from(input.data),
    };
    let Ok(Some(event)) = ChainEvent::decode(&log) else {
        return;
    };
    let (topics, data) = encode(&event);
    assert_eq!(
        topics, log.topics,
        "accepted topics are not the ones {event:?} is emitted with"
    );
    assert_eq!(
        data, log.data,
        "accepted data is not the encoding of {event:?}"
    );
    let positioned = PositionedEvent {
        block: log.block,
        log_index: log.log_index,
        event,
    };
    let bytes = positioned.entity_input_bytes(input.chain_id);
    let item = RlpItem::decode(&bytes).expect("entity input bytes are RLP");
    assert_eq!(item.encode(), bytes);
    assert_eq!(item, positioned.canonical(input.chain_id));
});
