//! Typed bindings of the project's contracts, generated at compile time from the committed
//! solc output (contracts/out/*.json: ABI and bytecode), and decoding of their revert data
//! into readable reasons. Regenerate the JSON with `npm run compile` in contracts/.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy_primitives::Bytes;
use alloy_sol_types::{sol, SolInterface};

sol!(
    #[derive(Debug, PartialEq, Eq)]
    EntityRegistry,
    "contracts/out/EntityRegistry.json"
);

sol!(
    #[derive(Debug, PartialEq, Eq)]
    Depository,
    "contracts/out/Depository.json"
);

/// Init code of the registry (no constructor arguments).
pub fn registry_init_code() -> Bytes {
    EntityRegistry::BYTECODE.clone()
}

/// Init code of the depository: bytecode followed by the ABI-encoded constructor args.
pub fn depository_init_code(registry: alloy_primitives::Address, timeout_blocks: u64) -> Bytes {
    use alloy_sol_types::SolConstructor;
    let args = Depository::constructorCall {
        registry_: registry,
        disputeTimeoutBlocks_: alloy_primitives::U256::from(timeout_blocks),
    }
    .abi_encode();
    let mut code = Depository::BYTECODE.to_vec();
    code.extend_from_slice(&args);
    code.into()
}

/// A readable reason for revert data from either contract (custom errors, `Error(string)`,
/// `Panic(uint256)`), or the raw hex if it matches none.
pub fn revert_reason(data: &[u8]) -> String {
    if let Ok(e) = Depository::DepositoryErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = EntityRegistry::EntityRegistryErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = alloy_sol_types::GenericContractError::abi_decode(data) {
        return format!("{e:?}");
    }
    if data.is_empty() {
        return "reverted without data".to_string();
    }
    format!(
        "unknown revert data 0x{}",
        alloy_primitives::hex::encode(data)
    )
}
