//! [`Depository`]: the project's contracts driven through any [`Jurisdiction`]: deploy,
//! register entities, mint, transfer, fund collateral, settle, dispute, and read reserves,
//! collateral, nonces and disputes. Entity operations are authorized by the entity's board
//! signature (its held keys sign the digest here). Reverts come back decoded.

use std::collections::BTreeMap;

use alloy_primitives::{Address, Bytes, I256, U256};
use alloy_sol_types::SolCall;

use super::contracts::{self, Depository as D, EntityRegistry as R};
use super::signing::{AccountProof, ChainBoard, Domain, EntityKeys, SettlementDiff};
use super::{ChainError, EntityNumber, Jurisdiction, Receipt, DISPUTE_TIMEOUT_BLOCKS};
use crate::account::TokenId;

/// Where the contracts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub registry: Address,
    pub depository: Address,
    pub chain_id: u64,
    pub dispute_timeout_blocks: u64,
}

/// Gas used per operation name, in call order (for the benchmark and the report).
pub type Gas = BTreeMap<&'static str, Vec<u64>>;

/// A dispute as stored on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeInfo {
    pub nonce: u64,
    pub deadline: u64,
    pub started_by: EntityNumber,
}

/// The contracts on one chain.
pub struct Depository {
    pub chain: Box<dyn Jurisdiction>,
    pub deployment: Deployment,
    /// Gas of every successful transaction, by operation.
    pub gas: Gas,
}

fn u64_of(v: U256, what: &str) -> Result<u64, ChainError> {
    u64::try_from(v).map_err(|_| ChainError::Inconsistent {
        message: format!("{what} {v} does not fit u64"),
    })
}

impl Depository {
    /// Deploys the registry and the depository from the chain's sender.
    ///
    /// # Errors
    /// Any [`ChainError`] of the backend.
    pub fn deploy(
        mut chain: Box<dyn Jurisdiction>,
        timeout_blocks: u64,
    ) -> Result<Self, ChainError> {
        let mut gas = Gas::new();
        let (registry, r) = chain.deploy(contracts::registry_init_code())?;
        gas.entry("deploy-registry").or_default().push(r.gas_used);
        let (depository, r) =
            chain.deploy(contracts::depository_init_code(registry, timeout_blocks))?;
        gas.entry("deploy-depository").or_default().push(r.gas_used);
        let deployment = Deployment {
            registry,
            depository,
            chain_id: chain.chain_id(),
            dispute_timeout_blocks: timeout_blocks,
        };
        Ok(Depository {
            chain,
            deployment,
            gas,
        })
    }

    /// Deploys with the default dispute timeout ([`DISPUTE_TIMEOUT_BLOCKS`]).
    ///
    /// # Errors
    /// As [`Depository::deploy`].
    pub fn deploy_default(chain: Box<dyn Jurisdiction>) -> Result<Self, ChainError> {
        Self::deploy(chain, DISPUTE_TIMEOUT_BLOCKS)
    }

    /// The digest domain (chain id, depository address).
    pub fn domain(&self) -> Domain {
        Domain {
            chain_id: self.deployment.chain_id,
            depository: self.deployment.depository,
        }
    }

    fn send<C: SolCall>(
        &mut self,
        op: &'static str,
        to: Address,
        call: C,
    ) -> Result<Receipt, ChainError> {
        let receipt = self
            .chain
            .send(to, Bytes::from(call.abi_encode()))
            .map_err(|e| decoded(op, e))?;
        self.gas.entry(op).or_default().push(receipt.gas_used);
        Ok(receipt)
    }

    fn view<C: SolCall>(&mut self, to: Address, call: C) -> Result<C::Return, ChainError> {
        let name = C::SIGNATURE;
        let out = self
            .chain
            .call(to, Bytes::from(call.abi_encode()))
            .map_err(|e| decoded(name, e))?;
        C::abi_decode_returns(&out).map_err(|e| ChainError::Inconsistent {
            message: format!("{name} returned undecodable data: {e}"),
        })
    }

    /// Registers a board; returns the entity's number (read from the registry's event).
    ///
    /// # Errors
    /// The registry's refusal (a malformed board) or a backend error.
    pub fn register_entity(&mut self, board: &ChainBoard) -> Result<EntityNumber, ChainError> {
        let registry = self.deployment.registry;
        let receipt = self.send(
            "register-entity",
            registry,
            R::registerEntityCall {
                board: board.registry_board(),
            },
        )?;
        use alloy_sol_types::SolEvent;
        for log in &receipt.logs {
            if log.address == registry {
                if let Ok(ev) =
                    R::EntityRegistered::decode_raw_log(log.topics.iter().copied(), &log.data)
                {
                    return u64_of(ev.entity, "entity number");
                }
            }
        }
        Err(ChainError::Inconsistent {
            message: "registerEntity emitted no EntityRegistered event".into(),
        })
    }

    /// Credits an entity's reserve (the development faucet; only the deployer may).
    ///
    /// # Errors
    /// Unknown entity, or a backend error.
    pub fn mint_reserve(
        &mut self,
        entity: EntityNumber,
        token: TokenId,
        amount: U256,
    ) -> Result<Receipt, ChainError> {
        let to = self.deployment.depository;
        self.send(
            "mint-reserve",
            to,
            D::mintReserveCall {
                entity: U256::from(entity),
                token: U256::from(token),
                amount,
            },
        )
    }

    fn next_entity_nonce(&mut self, entity: EntityNumber) -> Result<u64, ChainError> {
        let to = self.deployment.depository;
        let n = self.view(to, D::entityNonceCall(U256::from(entity)))?;
        u64_of(n, "entity nonce").map(|n| n + 1)
    }

    /// Moves reserve from `from` to `to`, signed by `from`'s keys.
    ///
    /// # Errors
    /// Insufficient reserve, a bad signature, or a backend error.
    pub fn reserve_to_reserve(
        &mut self,
        from: EntityNumber,
        keys: &EntityKeys,
        to: EntityNumber,
        token: TokenId,
        amount: U256,
    ) -> Result<Receipt, ChainError> {
        let nonce = self.next_entity_nonce(from)?;
        let op = Domain::reserve_transfer_op(to, token, amount);
        let sig = keys.sign(self.domain().auth_digest(from, nonce, op))?;
        let dep = self.deployment.depository;
        self.send(
            "reserve-to-reserve",
            dep,
            D::reserveToReserveCall {
                from: U256::from(from),
                to: U256::from(to),
                token: U256::from(token),
                amount,
                sig,
            },
        )
    }

    /// Funds the account (entity, peer) from the entity's reserve, signed by its keys.
    ///
    /// # Errors
    /// Insufficient reserve, an active dispute, a bad signature, or a backend error.
    pub fn reserve_to_collateral(
        &mut self,
        entity: EntityNumber,
        keys: &EntityKeys,
        peer: EntityNumber,
        token: TokenId,
        amount: U256,
    ) -> Result<Receipt, ChainError> {
        let nonce = self.next_entity_nonce(entity)?;
        let op = Domain::collateral_op(peer, token, amount);
        let sig = keys.sign(self.domain().auth_digest(entity, nonce, op))?;
        let dep = self.deployment.depository;
        self.send(
            "reserve-to-collateral",
            dep,
            D::reserveToCollateralCall {
                entity: U256::from(entity),
                peer: U256::from(peer),
                token: U256::from(token),
                amount,
                sig,
            },
        )
    }

    /// Submits a settlement with the given signatures (built by [`Depository::settle`],
    /// or by hand to test the contract's refusals).
    ///
    /// # Errors
    /// The contract's refusal or a backend error.
    pub fn settle_signed(
        &mut self,
        (left, right): (EntityNumber, EntityNumber),
        nonce: u64,
        diffs: &[SettlementDiff],
        left_sig: D::EntitySignature,
        right_sig: D::EntitySignature,
    ) -> Result<Receipt, ChainError> {
        let dep = self.deployment.depository;
        self.send(
            "settle",
            dep,
            D::settleCall {
                left: U256::from(left),
                right: U256::from(right),
                nonce: U256::from(nonce),
                diffs: diffs.iter().map(SettlementDiff::to_sol).collect(),
                leftSig: left_sig,
                rightSig: right_sig,
            },
        )
    }

    /// Cooperative settlement: both entities sign the digest and it is submitted.
    ///
    /// # Errors
    /// As [`Depository::settle_signed`].
    pub fn settle(
        &mut self,
        (left, right): (EntityNumber, EntityNumber),
        keys: (&EntityKeys, &EntityKeys),
        nonce: u64,
        diffs: &[SettlementDiff],
    ) -> Result<Receipt, ChainError> {
        let digest = self.domain().settlement_digest(left, right, nonce, diffs);
        let (ls, rs) = (keys.0.sign(digest)?, keys.1.sign(digest)?);
        self.settle_signed((left, right), nonce, diffs, ls, rs)
    }

    /// Both entities' signatures over a proof.
    ///
    /// # Errors
    /// Signing failure (negligible).
    pub fn sign_proof(
        &self,
        proof: &AccountProof,
        keys: (&EntityKeys, &EntityKeys),
    ) -> Result<(D::EntitySignature, D::EntitySignature), ChainError> {
        let digest = self.domain().proof_digest(proof);
        Ok((keys.0.sign(digest)?, keys.1.sign(digest)?))
    }

    /// Starts a dispute with `proof`, or overrides the running one with a newer proof.
    ///
    /// # Errors
    /// A stale nonce, a bad signature, an expired dispute, or a backend error.
    pub fn dispute_start(
        &mut self,
        proof: &AccountProof,
        started_by: EntityNumber,
        sigs: (D::EntitySignature, D::EntitySignature),
    ) -> Result<Receipt, ChainError> {
        let dep = self.deployment.depository;
        self.send(
            "dispute-start",
            dep,
            D::disputeStartCall {
                left: U256::from(proof.left),
                right: U256::from(proof.right),
                startedBy: U256::from(started_by),
                proof: proof.to_sol(),
                leftSig: sigs.0,
                rightSig: sigs.1,
            },
        )
    }

    /// Finalizes the account's dispute after its deadline.
    ///
    /// # Errors
    /// No dispute, not yet expired, or a backend error.
    pub fn dispute_finalize(
        &mut self,
        left: EntityNumber,
        right: EntityNumber,
    ) -> Result<Receipt, ChainError> {
        let dep = self.deployment.depository;
        self.send(
            "dispute-finalize",
            dep,
            D::disputeFinalizeCall {
                left: U256::from(left),
                right: U256::from(right),
            },
        )
    }

    /// An entity's reserve of a token.
    ///
    /// # Errors
    /// A backend error.
    pub fn reserve(&mut self, entity: EntityNumber, token: TokenId) -> Result<U256, ChainError> {
        let dep = self.deployment.depository;
        self.view(
            dep,
            D::reservesCall {
                _0: U256::from(entity),
                _1: U256::from(token),
            },
        )
    }

    /// (collateral, ondelta) of an account (on-chain sides) in a token.
    ///
    /// # Errors
    /// A backend error.
    pub fn collateral(
        &mut self,
        left: EntityNumber,
        right: EntityNumber,
        token: TokenId,
    ) -> Result<(U256, I256), ChainError> {
        let dep = self.deployment.depository;
        let r = self.view(
            dep,
            D::collateralOfCall {
                left: U256::from(left),
                right: U256::from(right),
                token: U256::from(token),
            },
        )?;
        Ok((r.collateral, r.ondelta))
    }

    /// The last settlement or dispute nonce of an account.
    ///
    /// # Errors
    /// A backend error.
    pub fn account_nonce(
        &mut self,
        left: EntityNumber,
        right: EntityNumber,
    ) -> Result<u64, ChainError> {
        let dep = self.deployment.depository;
        let n = self.view(
            dep,
            D::accountNonceOfCall {
                left: U256::from(left),
                right: U256::from(right),
            },
        )?;
        u64_of(n, "account nonce")
    }

    /// The running dispute of an account, if any.
    ///
    /// # Errors
    /// A backend error.
    pub fn dispute(
        &mut self,
        left: EntityNumber,
        right: EntityNumber,
    ) -> Result<Option<DisputeInfo>, ChainError> {
        let dep = self.deployment.depository;
        let r = self.view(
            dep,
            D::disputeOfCall {
                left: U256::from(left),
                right: U256::from(right),
            },
        )?;
        if r.deadline.is_zero() {
            return Ok(None);
        }
        Ok(Some(DisputeInfo {
            nonce: u64_of(r.nonce, "dispute nonce")?,
            deadline: u64_of(r.deadline, "dispute deadline")?,
            started_by: u64_of(r.startedBy, "dispute starter")?,
        }))
    }

    /// What `debtor` owes `creditor` in a token after disputes.
    ///
    /// # Errors
    /// A backend error.
    pub fn debt(
        &mut self,
        debtor: EntityNumber,
        creditor: EntityNumber,
        token: TokenId,
    ) -> Result<U256, ChainError> {
        let dep = self.deployment.depository;
        self.view(
            dep,
            D::debtsCall {
                _0: U256::from(debtor),
                _1: U256::from(creditor),
                _2: U256::from(token),
            },
        )
    }

    /// The registered board hash of an entity (zero if unregistered).
    ///
    /// # Errors
    /// A backend error.
    pub fn board_hash(
        &mut self,
        entity: EntityNumber,
    ) -> Result<alloy_primitives::B256, ChainError> {
        let reg = self.deployment.registry;
        self.view(reg, R::boardHashCall(U256::from(entity)))
    }
}

/// Turns raw revert data into the contract's named error.
fn decoded(call: &str, e: ChainError) -> ChainError {
    match e {
        ChainError::Reverted { data } => ChainError::Rejected {
            call: call.to_string(),
            reason: contracts::revert_reason(&data),
        },
        other => other,
    }
}
