//! [`EmbeddedChain`]: the default jurisdiction, revm running in-process over an in-memory
//! state. Deterministic by construction: fixed chain id, sender and genesis; the block
//! number advances by one per included transaction and by `mine`, and the timestamp is a
//! function of the block number; no clock, no process, no port.

use alloy_primitives::{Address, Bytes, TxKind, U256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::hardfork::SpecId;
use revm::{Context, DatabaseCommit, ExecuteEvm, MainBuilder, MainContext};

use super::{ChainError, Jurisdiction, RawLog, Receipt, DEFAULT_CHAIN_ID, TX_GAS_LIMIT};

/// The sender: anvil's first development account (its well-known test key), so both
/// backends deploy the contracts at the same addresses.
pub const DEV_SENDER: Address =
    alloy_primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// Timestamp of block 0; each block adds [`BLOCK_SECONDS`].
pub const GENESIS_TIMESTAMP: u64 = 1_700_000_000;
/// Seconds between blocks in the embedded chain.
pub const BLOCK_SECONDS: u64 = 12;
/// The hardfork rules the embedded EVM runs (anvil is started with the same).
pub const SPEC: SpecId = SpecId::PRAGUE;

/// The in-process chain. Cloning it forks the whole state (cheap enough for tests).
#[derive(Clone)]
pub struct EmbeddedChain {
    db: CacheDB<EmptyDB>,
    block: u64,
    chain_id: u64,
    sender: Address,
    nonce: u64,
    logs: Vec<RawLog>,
}

impl Default for EmbeddedChain {
    fn default() -> Self {
        Self::new(DEFAULT_CHAIN_ID)
    }
}

impl EmbeddedChain {
    /// An empty chain at block 0 with the given chain id.
    pub fn new(chain_id: u64) -> Self {
        EmbeddedChain {
            db: CacheDB::new(EmptyDB::default()),
            block: 0,
            chain_id,
            sender: DEV_SENDER,
            nonce: 0,
            logs: Vec::new(),
        }
    }

    fn block_env(&self, number: u64) -> BlockEnv {
        BlockEnv {
            number: U256::from(number),
            timestamp: U256::from(GENESIS_TIMESTAMP + number * BLOCK_SECONDS),
            gas_limit: 30_000_000,
            basefee: 0,
            ..Default::default()
        }
    }

    /// Runs `kind`/`data` at block `number`; returns the result and the state changes
    /// (not yet committed).
    fn execute(
        &mut self,
        kind: TxKind,
        data: Bytes,
        number: u64,
    ) -> Result<(ExecutionResult, revm::state::EvmState), ChainError> {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = self.chain_id;
        let block = self.block_env(number);
        let tx = TxEnv::builder()
            .caller(self.sender)
            .kind(kind)
            .data(data)
            .nonce(self.nonce)
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .chain_id(Some(self.chain_id))
            .build()
            .map_err(|e| ChainError::input(format!("cannot build the transaction: {e:?}")))?;
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .with_block(block)
            .with_cfg(cfg)
            .build_mainnet();
        let out = evm.transact(tx).map_err(|e| ChainError::Halted {
            reason: format!("the EVM refused the transaction: {e:?}"),
        })?;
        Ok((out.result, out.state))
    }

    /// Executes in a new block and commits on success; a revert or halt changes nothing
    /// (the block is not produced).
    fn include(&mut self, kind: TxKind, data: Bytes) -> Result<(Receipt, Output), ChainError> {
        let number = self.block + 1;
        let (result, state) = self.execute(kind, data, number)?;
        match result {
            ExecutionResult::Success {
                gas, logs, output, ..
            } => {
                self.db.commit(state);
                self.block = number;
                self.nonce += 1;
                let logs: Vec<RawLog> = logs
                    .into_iter()
                    .enumerate()
                    .map(|(i, log)| RawLog {
                        block: number,
                        log_index: i as u64,
                        address: log.address,
                        topics: log.data.topics().to_vec(),
                        data: log.data.data.clone(),
                    })
                    .collect();
                self.logs.extend(logs.iter().cloned());
                let receipt = Receipt {
                    block: number,
                    gas_used: gas.tx_gas_used(),
                    logs,
                };
                Ok((receipt, output))
            }
            ExecutionResult::Revert { output, .. } => Err(ChainError::Reverted { data: output }),
            ExecutionResult::Halt { reason, .. } => Err(ChainError::Halted {
                reason: format!("{reason:?}"),
            }),
        }
    }
}

impl Jurisdiction for EmbeddedChain {
    fn backend(&self) -> &'static str {
        "embedded"
    }
    fn location(&self) -> String {
        "revm (in-process)".to_string()
    }
    fn chain_id(&self) -> u64 {
        self.chain_id
    }
    fn sender(&self) -> Address {
        self.sender
    }
    fn block_number(&mut self) -> Result<u64, ChainError> {
        Ok(self.block)
    }
    fn confirmed_block(&mut self) -> Result<u64, ChainError> {
        // Nothing reorganizes an in-process chain.
        Ok(self.block)
    }
    fn deploy(&mut self, init_code: Bytes) -> Result<(Address, Receipt), ChainError> {
        let (receipt, output) = self.include(TxKind::Create, init_code)?;
        match output {
            Output::Create(_, Some(address)) => Ok((address, receipt)),
            other => Err(ChainError::Halted {
                reason: format!("deployment produced no contract: {other:?}"),
            }),
        }
    }
    fn send(&mut self, to: Address, data: Bytes) -> Result<Receipt, ChainError> {
        self.include(TxKind::Call(to), data).map(|(r, _)| r)
    }
    fn call(&mut self, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        let (result, _) = self.execute(TxKind::Call(to), data, self.block)?;
        match result {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(ChainError::Reverted { data: output }),
            ExecutionResult::Halt { reason, .. } => Err(ChainError::Halted {
                reason: format!("{reason:?}"),
            }),
        }
    }
    fn mine(&mut self, blocks: u64) -> Result<(), ChainError> {
        self.block = self
            .block
            .checked_add(blocks)
            .ok_or_else(|| ChainError::input("block number overflow"))?;
        Ok(())
    }
    fn logs(
        &mut self,
        addresses: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<RawLog>, ChainError> {
        Ok(self
            .logs
            .iter()
            .filter(|l| l.block >= from && l.block <= to && addresses.contains(&l.address))
            .cloned()
            .collect())
    }
}
