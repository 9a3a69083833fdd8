//! [`RpcChain`]: the jurisdiction on a real node over JSON-RPC (alloy provider, local
//! signer). Every request has a timeout and a bounded retry with exponential backoff
//! ([`RetryPolicy`]); a node that is down, slow or answers garbage yields
//! [`ChainError::Node`], never a panic. Transactions are simulated first (so a refusal
//! comes back with the contract's reason and is never mined), signed locally with an
//! explicit nonce, and re-sent byte-identical on retry, so a lost answer cannot make a
//! second transaction. Logs count only up to `head - confirmations` (reorg depth).

use std::future::Future;
use std::time::Duration;

use alloy::consensus::TxEnvelope;
use alloy::eips::{BlockId, Encodable2718};
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::TransportError;
use alloy_primitives::{Address, Bytes, B256, U64};

use super::{ChainError, Jurisdiction, RawLog, Receipt, TX_GAS_LIMIT};

/// anvil's first development key (public test key; never use it for value).
pub const DEV_KEY: [u8; 32] =
    alloy_primitives::hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

/// How hard to try before reporting the node as failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per request (≥ 1).
    pub attempts: u32,
    /// Wait after the first failure; doubled after each next one.
    pub backoff_initial: Duration,
    /// Longest wait between tries.
    pub backoff_max: Duration,
    /// Longest one request may take.
    pub request_timeout: Duration,
    /// Longest to wait for a sent transaction's receipt.
    pub receipt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            receipt_timeout: Duration::from_secs(30),
        }
    }
}

/// Where and how to reach the node.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// `http://host:port`.
    pub url: String,
    /// The sender's key (default: anvil's first development key).
    pub key: [u8; 32],
    /// Blocks a log must be buried under before it counts.
    pub confirmations: u64,
    pub retry: RetryPolicy,
}

impl RpcConfig {
    /// Defaults for a local development node: anvil's key, no confirmation depth.
    pub fn local(url: &str) -> Self {
        RpcConfig {
            url: url.to_string(),
            key: DEV_KEY,
            confirmations: 0,
            retry: RetryPolicy::default(),
        }
    }
}

/// A connection to a node.
pub struct RpcChain {
    runtime: tokio::runtime::Runtime,
    provider: RootProvider,
    wallet: EthereumWallet,
    sender: Address,
    chain_id: u64,
    nonce: u64,
    config: RpcConfig,
}

/// One failed try: either the node answered with a JSON-RPC error (final unless the node
/// says it is transient), or the request failed on the way (retried).
enum Failure {
    Final(TransportError),
    Transient(String),
}

fn classify(e: TransportError) -> Failure {
    if e.as_error_resp().is_some_and(|p| !p.is_retry_err()) {
        Failure::Final(e)
    } else {
        Failure::Transient(e.to_string())
    }
}

impl RpcChain {
    /// Connects: checks the node answers, reads its chain id and the sender's nonce.
    ///
    /// # Errors
    /// [`ChainError::Input`] for a bad URL or key; [`ChainError::Node`] if the node does
    /// not answer within the retry policy.
    pub fn connect(config: RpcConfig) -> Result<Self, ChainError> {
        let url: alloy::transports::http::reqwest::Url = config
            .url
            .parse()
            .map_err(|e| ChainError::input(format!("bad node URL {:?}: {e}", config.url)))?;
        if config.retry.attempts == 0 {
            return Err(ChainError::input(
                "the retry policy needs at least one attempt",
            ));
        }
        let signer = PrivateKeySigner::from_bytes(&B256::from(config.key))
            .map_err(|e| ChainError::input(format!("bad sender key: {e}")))?;
        let sender = signer.address();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ChainError::input(format!("cannot start the I/O runtime: {e}")))?;
        let provider = RootProvider::new_http(url);
        let mut chain = RpcChain {
            runtime,
            provider,
            wallet: EthereumWallet::from(signer),
            sender,
            chain_id: 0,
            nonce: 0,
            config,
        };
        let p = chain.provider.clone();
        chain.chain_id = chain.retry("eth_chainId", || {
            let p = p.clone();
            async move { p.get_chain_id().await }
        })?;
        chain.nonce = chain.retry("eth_getTransactionCount", || {
            let p = p.clone();
            async move { p.get_transaction_count(sender).pending().await }
        })?;
        Ok(chain)
    }

    /// The configuration in force.
    pub fn config(&self) -> &RpcConfig {
        &self.config
    }

    fn node_error(&self, attempts: u32, message: String) -> ChainError {
        ChainError::Node {
            url: self.config.url.clone(),
            attempts,
            message,
        }
    }

    /// Runs `f` under the policy: a timeout per try, exponential backoff between tries.
    fn retry<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ChainError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        self.retry_raw(what, f)
            .map_err(|(attempts, failure)| match failure {
                Failure::Final(e) => self.node_error(attempts, format!("{what}: {e}")),
                Failure::Transient(m) => self.node_error(attempts, m),
            })
    }

    fn retry_raw<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, (u32, Failure)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let policy = &self.config.retry;
        let mut backoff = policy.backoff_initial;
        let mut last = String::new();
        for attempt in 1..=policy.attempts {
            let outcome = self
                .runtime
                .block_on(async { tokio::time::timeout(policy.request_timeout, f()).await });
            match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => match classify(e) {
                    Failure::Final(e) => return Err((attempt, Failure::Final(e))),
                    Failure::Transient(m) => last = m,
                },
                Err(_) => last = format!("no answer within {:?}", policy.request_timeout),
            }
            if attempt < policy.attempts {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(policy.backoff_max);
            }
        }
        Err((
            policy.attempts,
            Failure::Transient(format!("{what}: {last}")),
        ))
    }

    fn request(&self, to: Option<Address>, data: Bytes) -> TransactionRequest {
        let tx = TransactionRequest::default()
            .with_from(self.sender)
            .with_input(data);
        match to {
            Some(to) => tx.with_to(to),
            None => tx.into_create(),
        }
    }

    /// eth_call at `block`; a revert comes back as [`ChainError::Reverted`].
    fn simulate(&self, tx: TransactionRequest, block: BlockId) -> Result<Bytes, ChainError> {
        let p = self.provider.clone();
        match self.retry_raw("eth_call", || {
            let (p, tx) = (p.clone(), tx.clone());
            async move { p.call(tx).block(block).await }
        }) {
            Ok(out) => Ok(out),
            Err((attempts, Failure::Final(e))) => match e
                .as_error_resp()
                .and_then(|p| p.as_revert_data())
            {
                Some(data) => Err(ChainError::Reverted { data }),
                None if is_revert_message(&e) => Err(ChainError::Reverted { data: Bytes::new() }),
                None => Err(self.node_error(attempts, format!("eth_call: {e}"))),
            },
            Err((attempts, Failure::Transient(m))) => Err(self.node_error(attempts, m)),
        }
    }

    /// Simulates, signs with the next nonce, sends (re-sending the same bytes on retry)
    /// and waits for the receipt.
    fn include(
        &mut self,
        to: Option<Address>,
        data: Bytes,
    ) -> Result<TransactionReceipt, ChainError> {
        self.simulate(self.request(to, data.clone()), BlockId::pending())?;
        let p = self.provider.clone();
        let gas_price: u128 = self.retry("eth_gasPrice", || {
            let p = p.clone();
            async move { p.get_gas_price().await }
        })?;
        let tx = self
            .request(to, data)
            .with_nonce(self.nonce)
            .with_chain_id(self.chain_id)
            .with_gas_limit(TX_GAS_LIMIT)
            .with_gas_price(gas_price);
        let wallet = self.wallet.clone();
        let envelope: TxEnvelope = self
            .runtime
            .block_on(tx.build(&wallet))
            .map_err(|e| ChainError::input(format!("cannot sign the transaction: {e}")))?;
        let hash = *envelope.tx_hash();
        let raw = Bytes::from(envelope.encoded_2718());
        let sent = self.retry_raw("eth_sendRawTransaction", || {
            let (p, raw) = (p.clone(), raw.clone());
            async move { p.send_raw_transaction(&raw).await.map(|_| ()) }
        });
        match sent {
            Ok(()) => {}
            // A retry after a lost answer finds the first copy already in the pool or mined.
            Err((_, Failure::Final(e))) if is_duplicate(&e) => {}
            Err((attempts, Failure::Final(e))) => {
                return Err(self.node_error(attempts, format!("eth_sendRawTransaction: {e}")))
            }
            Err((attempts, Failure::Transient(m))) => return Err(self.node_error(attempts, m)),
        }
        self.nonce += 1;
        let receipt = self.wait_receipt(hash)?;
        if !receipt.status() {
            return Err(ChainError::Rejected {
                call: format!("transaction {hash}"),
                reason:
                    "reverted on chain although its simulation succeeded (state changed in between)"
                        .into(),
            });
        }
        Ok(receipt)
    }

    fn wait_receipt(&self, hash: B256) -> Result<TransactionReceipt, ChainError> {
        let deadline = std::time::Instant::now() + self.config.retry.receipt_timeout;
        let p = self.provider.clone();
        loop {
            let r = self.retry("eth_getTransactionReceipt", || {
                let p = p.clone();
                async move { p.get_transaction_receipt(hash).await }
            })?;
            if let Some(r) = r {
                if r.transaction_hash != hash {
                    return Err(ChainError::Inconsistent {
                        message: format!(
                            "asked for the receipt of {hash}, got {}",
                            r.transaction_hash
                        ),
                    });
                }
                return Ok(r);
            }
            if std::time::Instant::now() >= deadline {
                return Err(self.node_error(
                    1,
                    format!(
                        "transaction {hash} not mined within {:?}",
                        self.config.retry.receipt_timeout
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn receipt(&self, r: &TransactionReceipt) -> Result<Receipt, ChainError> {
        receipt_from_rpc(r)
    }
}

/// A node's transaction receipt (as alloy decoded its JSON reply) as xln's [`Receipt`].
/// Public so the fuzz targets drive the same conversion the RPC backend uses.
///
/// # Errors
/// [`ChainError::Inconsistent`] for a receipt without a block number, or a log without
/// its block number or index (a pending log: the node returned garbage).
pub fn receipt_from_rpc(r: &TransactionReceipt) -> Result<Receipt, ChainError> {
    let block = r.block_number.ok_or_else(|| ChainError::Inconsistent {
        message: "a receipt without a block number".into(),
    })?;
    let logs = r
        .inner
        .logs()
        .iter()
        .map(raw_log)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Receipt {
        block,
        gas_used: r.gas_used,
        logs,
    })
}

/// A node's log (as alloy decoded it) as xln's [`RawLog`]; see [`receipt_from_rpc`].
///
/// # Errors
/// [`ChainError::Inconsistent`] for a log without block number or index.
pub fn raw_log(l: &alloy::rpc::types::Log) -> Result<RawLog, ChainError> {
    let (Some(block), Some(log_index)) = (l.block_number, l.log_index) else {
        return Err(ChainError::Inconsistent {
            message: "a log without block number or index (pending?)".into(),
        });
    };
    Ok(RawLog {
        block,
        log_index,
        address: l.inner.address,
        topics: l.inner.data.topics().to_vec(),
        data: l.inner.data.data.clone(),
    })
}

fn is_duplicate(e: &TransportError) -> bool {
    let m = e.to_string().to_lowercase();
    m.contains("already known") || m.contains("already imported") || m.contains("nonce too low")
}

fn is_revert_message(e: &TransportError) -> bool {
    e.to_string().to_lowercase().contains("revert")
}

impl Jurisdiction for RpcChain {
    fn backend(&self) -> &'static str {
        "rpc"
    }
    fn location(&self) -> String {
        self.config.url.clone()
    }
    fn chain_id(&self) -> u64 {
        self.chain_id
    }
    fn sender(&self) -> Address {
        self.sender
    }
    fn block_number(&mut self) -> Result<u64, ChainError> {
        let p = self.provider.clone();
        self.retry("eth_blockNumber", || {
            let p = p.clone();
            async move { p.get_block_number().await }
        })
    }
    fn confirmed_block(&mut self) -> Result<u64, ChainError> {
        Ok(self
            .block_number()?
            .saturating_sub(self.config.confirmations))
    }
    fn deploy(&mut self, init_code: Bytes) -> Result<(Address, Receipt), ChainError> {
        let r = self.include(None, init_code)?;
        let address = r.contract_address.ok_or_else(|| ChainError::Inconsistent {
            message: "a deployment receipt without a contract address".into(),
        })?;
        Ok((address, self.receipt(&r)?))
    }
    fn send(&mut self, to: Address, data: Bytes) -> Result<Receipt, ChainError> {
        let r = self.include(Some(to), data)?;
        self.receipt(&r)
    }
    fn call(&mut self, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        self.simulate(self.request(Some(to), data), BlockId::latest())
    }
    fn mine(&mut self, blocks: u64) -> Result<(), ChainError> {
        let p = self.provider.clone();
        self.retry("anvil_mine", || {
            let p = p.clone();
            async move {
                p.raw_request::<_, Option<String>>("anvil_mine".into(), (U64::from(blocks),))
                    .await
                    .map(|_| ())
            }
        })
    }
    fn logs(
        &mut self,
        addresses: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<RawLog>, ChainError> {
        let filter = Filter::new()
            .address(addresses.to_vec())
            .from_block(from)
            .to_block(to);
        let p = self.provider.clone();
        let logs = self.retry("eth_getLogs", || {
            let (p, f) = (p.clone(), filter.clone());
            async move { p.get_logs(&f).await }
        })?;
        let mut out = logs.iter().map(raw_log).collect::<Result<Vec<_>, _>>()?;
        out.retain(|l| l.block >= from && l.block <= to && addresses.contains(&l.address));
        out.sort_by_key(|l| (l.block, l.log_index));
        Ok(out)
    }
}
