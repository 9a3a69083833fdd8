//! Shared by the chain tests: single-signer entities with deterministic keys, a deployed
//! depository on a chosen backend, and anvil discovery.
#![allow(dead_code)]

use alloy_primitives::U256;
use xln::chain::{ChainError, Depository, EmbeddedChain, EntityKeys, EntityNumber};
use xln::crypto::SecretKey;

pub struct Party {
    pub keys: EntityKeys,
    pub number: EntityNumber,
}

pub fn key(name: &str) -> SecretKey {
    SecretKey::from_seed(name.as_bytes())
}

pub fn embedded() -> Depository {
    Depository::deploy_default(Box::new(EmbeddedChain::default())).expect("deploys on revm")
}

pub fn party(dep: &mut Depository, name: &str) -> Party {
    let keys = EntityKeys::single(key(name));
    let number = dep.register_entity(&keys.board).expect("registers");
    Party { keys, number }
}

pub fn funded(dep: &mut Depository, name: &str, token: u64, amount: u64) -> Party {
    let p = party(dep, name);
    dep.mint_reserve(p.number, token, U256::from(amount))
        .expect("mints");
    p
}

pub fn u(n: u64) -> U256 {
    U256::from(n)
}

/// The reason of a contract refusal, or a panic naming what came instead.
pub fn rejected<T: std::fmt::Debug>(r: Result<T, ChainError>) -> String {
    match r {
        Err(ChainError::Rejected { reason, .. }) => reason,
        other => panic!("expected a contract refusal, got {other:?}"),
    }
}

/// The anvil binary: $ANVIL_BIN, else contracts/node_modules/.bin/anvil, else `anvil` on PATH.
pub fn anvil_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("ANVIL_BIN") {
        return Some(p.into());
    }
    let local =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/node_modules/.bin/anvil");
    if local.exists() {
        return Some(local);
    }
    let on_path = std::env::var_os("PATH")?;
    std::env::split_paths(&on_path)
        .map(|d| d.join("anvil"))
        .find(|p| p.exists())
}

/// Whether a missing anvil must fail the test run (CI sets XLN_REQUIRE_ANVIL=1).
pub fn anvil_required() -> bool {
    std::env::var("XLN_REQUIRE_ANVIL").is_ok_and(|v| v == "1")
}
