//! What entities sign for the chain: on-chain boards ([`ChainBoard`], hashed as
//! `keccak256(abi.encode(address[] validators, uint256[] shares, uint256 threshold))` with
//! validators in increasing address order), an entity's threshold signature
//! ([`EntityKeys::sign`]), and the ABI digests of entity operations, settlements and
//! account proofs. Every digest binds the chain id and the depository's address; each is
//! signed raw (no message prefix).
//!
//! Account proofs are built from an off-chain [`AccountState`]: off-chain sides are ordered
//! by address, on-chain sides by entity number, so when the two orders differ the proof is
//! mirrored (see [`AccountProof::from_state`]).

use alloy_primitives::{keccak256, Address, Bytes, B256, I256, U256};
use alloy_sol_types::SolValue;
use num_bigint::BigInt;

use super::contracts::Depository as D;
use super::{ChainError, EntityNumber};
use crate::account::{AccountState, TokenId};
use crate::crypto::{self, SecretKey};
use crate::entity::Board;

/// Most validators a board may have on chain (the registry's `MAX_VALIDATORS`).
pub const CHAIN_BOARD_VALIDATORS_MAX: usize = 32;

/// A board as the registry knows it: validators in strictly increasing address order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBoard {
    /// (validator address, shares), sorted by address.
    pub validators: Vec<(Address, u64)>,
    /// Shares a signature needs.
    pub threshold: u64,
}

impl ChainBoard {
    /// A board of one validator (a single-signer entity).
    pub fn single(address: Address) -> Self {
        ChainBoard {
            validators: vec![(address, 1)],
            threshold: 1,
        }
    }

    /// The on-chain form of an entity layer [`Board`] (validators re-sorted by address).
    ///
    /// # Errors
    /// [`ChainError::Input`] for more than [`CHAIN_BOARD_VALIDATORS_MAX`] validators.
    pub fn from_board(board: &Board) -> Result<Self, ChainError> {
        let validators = board
            .validators
            .iter()
            .map(|v| (Address::from(v.address.0), v.shares))
            .collect();
        Self::new(validators, board.threshold)
    }

    /// Sorts and checks: 1..=32 distinct validators, shares > 0, 0 < threshold ≤ total.
    ///
    /// # Errors
    /// [`ChainError::Input`] naming the broken rule (the registry would revert on it).
    pub fn new(mut validators: Vec<(Address, u64)>, threshold: u64) -> Result<Self, ChainError> {
        validators.sort();
        if validators.is_empty() || validators.len() > CHAIN_BOARD_VALIDATORS_MAX {
            return Err(ChainError::input(format!(
                "a board needs 1..={CHAIN_BOARD_VALIDATORS_MAX} validators, got {}",
                validators.len()
            )));
        }
        if validators.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(ChainError::input("a board lists a validator twice"));
        }
        let total: u128 = validators.iter().map(|v| u128::from(v.1)).sum();
        if validators.iter().any(|v| v.1 == 0) || threshold == 0 || u128::from(threshold) > total {
            return Err(ChainError::input(format!(
                "a board needs shares > 0 and 0 < threshold <= total shares ({total}), got threshold {threshold}"
            )));
        }
        Ok(ChainBoard {
            validators,
            threshold,
        })
    }

    /// The registry's `Board` struct.
    pub fn registry_board(&self) -> super::contracts::EntityRegistry::Board {
        super::contracts::EntityRegistry::Board {
            validators: self.validators.iter().map(|v| v.0).collect(),
            shares: self.validators.iter().map(|v| U256::from(v.1)).collect(),
            threshold: U256::from(self.threshold),
        }
    }

    fn depository_board(&self) -> D::Board {
        D::Board {
            validators: self.validators.iter().map(|v| v.0).collect(),
            shares: self.validators.iter().map(|v| U256::from(v.1)).collect(),
            threshold: U256::from(self.threshold),
        }
    }

    /// `keccak256(abi.encode(validators, shares, threshold))`, what the registry stores.
    pub fn hash(&self) -> B256 {
        let b = self.registry_board();
        keccak256((b.validators, b.shares, b.threshold).abi_encode_params())
    }
}

/// An entity's board together with the validator keys this process holds.
#[derive(Clone, Debug)]
pub struct EntityKeys {
    /// The board as registered.
    pub board: ChainBoard,
    /// Keys of (some of) its validators.
    pub keys: Vec<SecretKey>,
}

impl EntityKeys {
    /// A single-signer entity: a board of one, its key.
    pub fn single(key: SecretKey) -> Self {
        let address = Address::from(key.address().0);
        EntityKeys {
            board: ChainBoard::single(address),
            keys: vec![key],
        }
    }

    /// The entity's signature over `digest`: every held key that is on the board signs
    /// (raw digest, RFC 6979, low-S). Whether it reaches the threshold is the contract's
    /// check, so a caller can also build deliberately insufficient signatures.
    ///
    /// # Errors
    /// [`ChainError::Input`] if signing fails (probability below 2^-127).
    pub fn sign(&self, digest: B256) -> Result<D::EntitySignature, ChainError> {
        let mut signatures = vec![Bytes::new(); self.board.validators.len()];
        for key in &self.keys {
            let address = Address::from(key.address().0);
            if let Some(i) = self.board.validators.iter().position(|v| v.0 == address) {
                let sig = crypto::sign_digest(key, &digest.0)
                    .map_err(|e| ChainError::input(format!("signing failed: {e}")))?;
                signatures[i] = Bytes::from(sig.to_bytes().to_vec());
            }
        }
        Ok(D::EntitySignature {
            board: self.board.depository_board(),
            signatures,
        })
    }
}

/// What every digest starts with: (tag, chain id, depository).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    pub chain_id: u64,
    pub depository: Address,
}

/// The tags of the three kinds of digest (keccak of their names, as in the contract).
pub fn tag(name: &str) -> B256 {
    keccak256(name.as_bytes())
}

impl Domain {
    /// Digest an entity signs to authorize `op` as its `nonce`-th operation.
    pub fn auth_digest(&self, entity: EntityNumber, nonce: u64, op: B256) -> B256 {
        keccak256(
            (
                tag("xln/depository/entity-op/v1"),
                U256::from(self.chain_id),
                self.depository,
                U256::from(entity),
                U256::from(nonce),
                op,
            )
                .abi_encode_params(),
        )
    }

    /// `keccak256(abi.encode("r2r", to, token, amount))`: a reserve transfer.
    pub fn reserve_transfer_op(to: EntityNumber, token: TokenId, amount: U256) -> B256 {
        keccak256(
            (
                String::from("r2r"),
                U256::from(to),
                U256::from(token),
                amount,
            )
                .abi_encode_params(),
        )
    }

    /// `keccak256(abi.encode("r2c", peer, token, amount))`: funding an account.
    pub fn collateral_op(peer: EntityNumber, token: TokenId, amount: U256) -> B256 {
        keccak256(
            (
                String::from("r2c"),
                U256::from(peer),
                U256::from(token),
                amount,
            )
                .abi_encode_params(),
        )
    }

    /// Digest both entities sign for a cooperative settlement.
    pub fn settlement_digest(
        &self,
        left: EntityNumber,
        right: EntityNumber,
        nonce: u64,
        diffs: &[SettlementDiff],
    ) -> B256 {
        let diffs: Vec<D::SettlementDiff> = diffs.iter().map(SettlementDiff::to_sol).collect();
        keccak256(
            (
                tag("xln/depository/settlement/v1"),
                U256::from(self.chain_id),
                self.depository,
                U256::from(left),
                U256::from(right),
                U256::from(nonce),
                diffs,
            )
                .abi_encode_params(),
        )
    }

    /// Digest both entities sign over an account state (the dispute proof).
    pub fn proof_digest(&self, proof: &AccountProof) -> B256 {
        let p = proof.to_sol();
        keccak256(
            (
                tag("xln/depository/account-proof/v1"),
                U256::from(self.chain_id),
                self.depository,
                U256::from(proof.left),
                U256::from(proof.right),
                p.nonce,
                p.tokens,
                p.offdeltas,
            )
                .abi_encode_params(),
        )
    }
}

/// One token's change in a settlement, in on-chain sides (left = lower entity number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementDiff {
    pub token: TokenId,
    pub left_reserve: I256,
    pub right_reserve: I256,
    pub collateral: I256,
    pub ondelta: I256,
}

impl SettlementDiff {
    /// Collateral paid out to (positive) or taken in from (negative) each side's reserve,
    /// with ondelta moved by the left's share so each side's balance in the account drops
    /// by exactly what it took out.
    ///
    /// # Errors
    /// [`ChainError::Input`] if an amount does not fit int256 (or the sum overflows).
    pub fn withdraw(
        token: TokenId,
        left_gets: &BigInt,
        right_gets: &BigInt,
    ) -> Result<Self, ChainError> {
        let l = to_i256(left_gets)?;
        let r = to_i256(right_gets)?;
        let sum = l
            .checked_add(r)
            .ok_or_else(|| ChainError::input("settlement amounts overflow int256"))?;
        Ok(SettlementDiff {
            token,
            left_reserve: l,
            right_reserve: r,
            collateral: -sum,
            ondelta: -l,
        })
    }

    pub(crate) fn to_sol(&self) -> D::SettlementDiff {
        D::SettlementDiff {
            token: U256::from(self.token),
            leftReserveDiff: self.left_reserve,
            rightReserveDiff: self.right_reserve,
            collateralDiff: self.collateral,
            ondeltaDiff: self.ondelta,
        }
    }
}

/// An account's off-chain deltas at a nonce (its frame height), in on-chain sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    pub left: EntityNumber,
    pub right: EntityNumber,
    pub nonce: u64,
    /// (token, offdelta), tokens strictly increasing.
    pub offdeltas: Vec<(TokenId, I256)>,
}

impl AccountProof {
    /// The proof of `state` (at its height) for entities numbered `numbers` = (number of
    /// `state.left`, number of `state.right`). When the left by address has the higher
    /// number the sides swap on chain, and the left's balance Δ becomes C − Δ on chain:
    /// offdelta is negated (the depository keeps ondelta mirrored the same way, since
    /// funding from the on-chain left is what raises it).
    ///
    /// # Errors
    /// [`ChainError::Input`] for equal numbers or an offdelta beyond int256.
    pub fn from_state(
        state: &AccountState,
        numbers: (EntityNumber, EntityNumber),
    ) -> Result<Self, ChainError> {
        let (a, b) = numbers;
        if a == b {
            return Err(ChainError::input("an account needs two different entities"));
        }
        let mirrored = a > b;
        let mut offdeltas = Vec::with_capacity(state.deltas.len());
        for (token, delta) in &state.deltas {
            let v = to_i256(&delta.offdelta)?;
            offdeltas.push((*token, if mirrored { -v } else { v }));
        }
        Ok(AccountProof {
            left: a.min(b),
            right: a.max(b),
            nonce: state.height,
            offdeltas,
        })
    }

    pub(crate) fn to_sol(&self) -> D::AccountProof {
        D::AccountProof {
            nonce: U256::from(self.nonce),
            tokens: self.offdeltas.iter().map(|(t, _)| U256::from(*t)).collect(),
            offdeltas: self.offdeltas.iter().map(|(_, d)| *d).collect(),
        }
    }
}

/// A BigInt as int256.
///
/// # Errors
/// [`ChainError::Input`] outside −2^255..2^255.
pub fn to_i256(n: &BigInt) -> Result<I256, ChainError> {
    I256::from_dec_str(&n.to_string())
        .map_err(|_| ChainError::input(format!("{n} does not fit int256")))
}

/// A non-negative BigInt as uint256.
///
/// # Errors
/// [`ChainError::Input`] if negative or ≥ 2^256.
pub fn to_u256(n: &BigInt) -> Result<U256, ChainError> {
    let (sign, bytes) = n.to_bytes_be();
    if sign == num_bigint::Sign::Minus || bytes.len() > 32 {
        return Err(ChainError::input(format!("{n} is not a uint256 amount")));
    }
    Ok(U256::from_be_slice(&bytes))
}

/// An int256 as BigInt.
pub fn i256_to_bigint(v: I256) -> BigInt {
    BigInt::from_signed_bytes_be(&v.to_be_bytes::<32>())
}

/// A uint256 as BigInt.
pub fn u256_to_bigint(v: U256) -> BigInt {
    BigInt::from_bytes_be(num_bigint::Sign::Plus, &v.to_be_bytes::<32>())
}
