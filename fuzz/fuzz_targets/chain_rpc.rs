//! Chain RPC replies: a node's JSON for a transaction receipt or a list of logs, decoded by
//! alloy as the RPC backend does, then converted by xln (`receipt_from_rpc`, `raw_log`)
//! and each log decoded as an event. Never a panic; a converted receipt keeps every log,
//! in order and unchanged.
#![no_main]

use alloy::rpc::types::{Log, TransactionReceipt};
use libfuzzer_sys::fuzz_target;
use xln::chain::rpc::{raw_log, receipt_from_rpc};
use xln::chain::ChainEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = serde_json::from_slice::<TransactionReceipt>(data) {
        if let Ok(ours) = receipt_from_rpc(&receipt) {
            let theirs = receipt.inner.logs();
            assert_eq!(ours.logs.len(), theirs.len(), "a receipt lost logs");
            for (a, b) in ours.logs.iter().zip(theirs) {
                assert_eq!(a.topics.as_slice(), b.inner.data.topics());
                assert_eq!(a.data, b.inner.data.data);
                assert_eq!(Some(a.block), b.block_number);
                let _ = ChainEvent::decode(a);
            }
            assert_eq!(Some(ours.block), receipt.block_number);
        }
    }
    if let Ok(logs) = serde_json::from_slice::<Vec<Log>>(data) {
        for l in &logs {
            if let Ok(raw) = raw_log(l) {
                assert_eq!(Some(raw.log_index), l.log_index);
                let _ = ChainEvent::decode(&raw);
            }
        }
    }
});
