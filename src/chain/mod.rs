//! Chain access: the [`Jurisdiction`] trait (send a transaction, call a view, read logs,
//! mine blocks) with two backends, [`embedded`] (revm in-process, deterministic, the
//! default) and [`rpc`] (an alloy provider and local signer against a JSON-RPC node);
//! [`client`] drives the project's contracts through either; [`events`] turns their logs
//! into typed, ordered, once-applied entity inputs.
//!
//! Both backends run the same compiled contracts (contracts/out, embedded with
//! `include_str!`), from the same deployer, on the same chain id, with one block per
//! transaction, so one script gives identical state, events and gas on both.

pub mod client;
pub mod contracts;
pub mod embedded;
pub mod events;
pub mod rpc;
pub mod signing;

use std::fmt;

use alloy_primitives::{Address, Bytes, B256};

pub use client::{Deployment, Depository, Gas};
pub use embedded::EmbeddedChain;
pub use events::{ChainEvent, EventCursor, EventWatcher};
pub use rpc::{RetryPolicy, RpcChain, RpcConfig};
pub use signing::{AccountProof, ChainBoard, EntityKeys, SettlementDiff};

/// The chain id both backends use by default (anvil's), so digests that bind the chain id
/// are the same on either.
pub const DEFAULT_CHAIN_ID: u64 = 31337;

/// Blocks a dispute stays open before anyone may finalize it (the deployment's default).
pub const DISPUTE_TIMEOUT_BLOCKS: u64 = 20;

/// Gas limit of every transaction: far above any single operation of the contracts, far
/// below a block, so a runaway loop halts instead of eating the block.
pub const TX_GAS_LIMIT: u64 = 10_000_000;

/// An entity's number in the registry (1, 2, ...).
pub type EntityNumber = u64;

/// One log as emitted, with its position on the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawLog {
    /// Block it was included in.
    pub block: u64,
    /// Index of the log within its block.
    pub log_index: u64,
    /// The emitting contract.
    pub address: Address,
    /// Topics (the first is the event signature hash).
    pub topics: Vec<B256>,
    /// ABI-encoded non-indexed fields.
    pub data: Bytes,
}

/// What a transaction did once included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Block it was included in.
    pub block: u64,
    /// Gas the transaction used (intrinsic + execution − refund).
    pub gas_used: u64,
    /// Logs it emitted, in order.
    pub logs: Vec<RawLog>,
}

/// Everything that can go wrong talking to a chain. Each variant says how to react.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The contract refused the call (its revert data, raw). Not retried: the same call
    /// would be refused again. [`client`] decodes it into [`ChainError::Rejected`].
    Reverted { data: Bytes },
    /// The contract refused the call, with its decoded error. Fix the input.
    Rejected { call: String, reason: String },
    /// The EVM halted (out of gas, invalid opcode...): a bug in the contract or the call.
    Halted { reason: String },
    /// The node could not be reached, timed out, or answered nonsense, after every retry
    /// of the policy. Nothing was applied twice; retry later or check the node.
    Node {
        url: String,
        attempts: u32,
        message: String,
    },
    /// The node answered something well-formed but impossible (a log without a block
    /// number, a receipt for another transaction). Do not trust this node.
    Inconsistent { message: String },
    /// A bad argument from the caller (unknown entity, malformed board...). Nothing was sent.
    Input { message: String },
    /// Reading or writing the persisted event cursor failed; the old cursor is intact.
    Cursor { message: String },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Reverted { data } => write!(f, "the contract reverted (data {data})"),
            ChainError::Rejected { call, reason } => {
                write!(f, "the contract rejected {call}: {reason}")
            }
            ChainError::Halted { reason } => write!(f, "the EVM halted: {reason}"),
            ChainError::Node {
                url,
                attempts,
                message,
            } => write!(
                f,
                "the node at {url} failed after {attempts} attempt(s): {message}"
            ),
            ChainError::Inconsistent { message } => {
                write!(f, "the node answered inconsistently: {message}")
            }
            ChainError::Input { message } => write!(f, "{message}"),
            ChainError::Cursor { message } => write!(f, "event cursor: {message}"),
        }
    }
}

impl std::error::Error for ChainError {}

impl ChainError {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        ChainError::Input {
            message: message.into(),
        }
    }
}

/// Access to one chain. Sends are signed by the backend's own account (the deployer);
/// the contracts authorize entity operations by the entities' board signatures inside
/// the calldata, so who pays the gas does not matter.
///
/// Implementations must include every successful `send` in its own new block (the block
/// number advances by one) and refuse a reverting one without including it, so both
/// backends number blocks alike.
pub trait Jurisdiction {
    /// "embedded" or "rpc".
    fn backend(&self) -> &'static str;
    /// Where it runs: "revm" or the node's URL.
    fn location(&self) -> String;
    /// The chain id transactions and digests bind.
    fn chain_id(&self) -> u64;
    /// The address that sends (and deployed the contracts).
    fn sender(&self) -> Address;
    /// The latest block number.
    fn block_number(&mut self) -> Result<u64, ChainError>;
    /// The latest block whose logs count as final (the head minus the confirmation depth).
    fn confirmed_block(&mut self) -> Result<u64, ChainError>;
    /// Deploys `init_code` (bytecode + constructor args) and returns the new address.
    fn deploy(&mut self, init_code: Bytes) -> Result<(Address, Receipt), ChainError>;
    /// Executes a transaction to `to` in a new block.
    fn send(&mut self, to: Address, data: Bytes) -> Result<Receipt, ChainError>;
    /// Executes a read-only call against the latest block.
    fn call(&mut self, to: Address, data: Bytes) -> Result<Bytes, ChainError>;
    /// Mines `blocks` empty blocks (time passing, for dispute timeouts).
    fn mine(&mut self, blocks: u64) -> Result<(), ChainError>;
    /// Logs of `addresses` in blocks `from..=to`, ordered by (block, log index).
    fn logs(
        &mut self,
        addresses: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<RawLog>, ChainError>;
}
