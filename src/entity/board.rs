//! [`Board`]: the validators of an entity with their weighted shares and the threshold of
//! shares that decides; its validation, canonical hash (the entity id of an unregistered
//! entity), quorum arithmetic and the proposer rotation.

use std::collections::BTreeSet;

use super::{EntityError, EntityId};
use crate::crypto::{tagged, Address, Canonical, RlpItem};

/// Most validators on one board: quorum checks are linear in it, so it is bounded.
pub const BOARD_VALIDATORS_MAX: usize = 256;

/// One validator: the address that signs for it and its voting weight.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Validator {
    /// The signing address.
    pub address: Address,
    /// Voting weight, > 0.
    pub shares: u64,
}

impl Validator {
    /// A validator with `shares` voting weight.
    pub fn new(address: Address, shares: u64) -> Self {
        Validator { address, shares }
    }
}

/// Canonical encoding: `tagged("xln/validator/v1", [address, shares])`.
impl Canonical for Validator {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/validator/v1",
            vec![self.address.canonical_rlp(), self.shares.canonical_rlp()],
        )
    }
}

/// The validators (in proposer-rotation order) and the threshold of shares that makes a
/// quorum. A valid board has 1..=[`BOARD_VALIDATORS_MAX`] distinct validators, each with
/// shares > 0, and `0 < threshold <= total shares`. Safety of the consensus needs byzantine
/// shares below `2 × threshold − total`; choose `threshold > 2/3` of the total for BFT.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Board {
    /// The validators, in rotation order.
    pub validators: Vec<Validator>,
    /// Shares needed to decide.
    pub threshold: u64,
}

/// Canonical encoding: `tagged("xln/board/v1", [validators, threshold])`.
impl Canonical for Board {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/board/v1",
            vec![
                self.validators.canonical_rlp(),
                self.threshold.canonical_rlp(),
            ],
        )
    }
}

impl Board {
    /// A board, validated.
    ///
    /// # Errors
    /// As [`Board::validate`].
    pub fn new(validators: Vec<Validator>, threshold: u64) -> Result<Self, EntityError> {
        let board = Board {
            validators,
            threshold,
        };
        board.validate()?;
        Ok(board)
    }

    /// Equal shares of 1 for each address, with `threshold` of them deciding.
    ///
    /// # Errors
    /// As [`Board::validate`].
    pub fn equal(addresses: &[Address], threshold: u64) -> Result<Self, EntityError> {
        Board::new(
            addresses.iter().map(|a| Validator::new(*a, 1)).collect(),
            threshold,
        )
    }

    /// Checks the board's rules. Why: a board arrives in governance proposals and genesis
    /// files; one with an unreachable threshold would halt the entity forever.
    ///
    /// # Errors
    /// [`EntityError::InvalidBoard`] naming the broken rule: no validators, more than
    /// [`BOARD_VALIDATORS_MAX`], a zero share, a duplicate address, a total that overflows
    /// u64, a zero threshold, or a threshold above the total.
    pub fn validate(&self) -> Result<(), EntityError> {
        let bad = |reason: String| Err(EntityError::InvalidBoard { reason });
        if self.validators.is_empty() {
            return bad("no validators".into());
        }
        if self.validators.len() > BOARD_VALIDATORS_MAX {
            return bad(format!(
                "{} validators, at most {BOARD_VALIDATORS_MAX} allowed",
                self.validators.len()
            ));
        }
        let mut seen = BTreeSet::new();
        let mut total: u64 = 0;
        for v in &self.validators {
            if v.shares == 0 {
                return bad(format!("validator {} has 0 shares", v.address));
            }
            if !seen.insert(v.address) {
                return bad(format!("validator {} appears twice", v.address));
            }
            total = match total.checked_add(v.shares) {
                Some(t) => t,
                None => return bad("total shares overflow u64".into()),
            };
        }
        if self.threshold == 0 {
            return bad("threshold is 0".into());
        }
        if self.threshold > total {
            return bad(format!(
                "threshold {} exceeds total shares {total}",
                self.threshold
            ));
        }
        Ok(())
    }

    /// The canonical hash of the board; for an unregistered entity this is its id.
    pub fn hash(&self) -> [u8; 32] {
        self.canonical_hash()
    }

    /// The entity id of an unregistered entity with this genesis board (= [`Board::hash`]).
    pub fn entity_id(&self) -> EntityId {
        self.hash()
    }

    /// Sum of all shares (saturating; a validated board never saturates).
    pub fn total_shares(&self) -> u64 {
        self.validators
            .iter()
            .fold(0u64, |acc, v| acc.saturating_add(v.shares))
    }

    /// The shares of `address`, or `None` if it is not on the board.
    pub fn shares_of(&self, address: &Address) -> Option<u64> {
        self.validators
            .iter()
            .find(|v| v.address == *address)
            .map(|v| v.shares)
    }

    /// True if `address` is a validator.
    pub fn contains(&self, address: &Address) -> bool {
        self.shares_of(address).is_some()
    }

    /// Total shares of the distinct validators among `signers` (non-validators count 0).
    pub fn weight<'a>(&self, signers: impl IntoIterator<Item = &'a Address>) -> u64 {
        let distinct: BTreeSet<&Address> = signers.into_iter().collect();
        distinct
            .into_iter()
            .filter_map(|a| self.shares_of(a))
            .fold(0u64, u64::saturating_add)
    }

    /// True if `shares` reach the threshold.
    pub fn is_quorum(&self, shares: u64) -> bool {
        shares >= self.threshold
    }

    /// Shares that guarantee at least one honest sender when liveness is possible at all
    /// (`total − threshold + 1`): fewer honest shares than the threshold halt the entity anyway.
    pub fn honest_witness_shares(&self) -> u64 {
        self.total_shares()
            .saturating_sub(self.threshold)
            .saturating_add(1)
    }

    /// The proposer of `(height, view)`: `validators[(height + view) mod n]`. Rotating by
    /// height spreads the load; rotating by view replaces a silent proposer.
    pub fn proposer(&self, height: u64, view: u64) -> Address {
        let n = self.validators.len().max(1) as u64;
        let index = (height % n + view % n) % n;
        self.validators
            .get(index as usize)
            .map(|v| v.address)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> Address {
        Address([i; 20])
    }

    #[test]
    fn validation_rules() {
        assert!(Board::equal(&[addr(1), addr(2), addr(3)], 2).is_ok());
        assert!(Board::equal(&[], 1).is_err());
        assert!(Board::equal(&[addr(1)], 0).is_err());
        assert!(Board::equal(&[addr(1)], 2).is_err());
        assert!(Board::equal(&[addr(1), addr(1)], 1).is_err());
        assert!(Board::new(vec![Validator::new(addr(1), 0)], 1).is_err());
        assert!(Board::new(
            vec![
                Validator::new(addr(1), u64::MAX),
                Validator::new(addr(2), 1)
            ],
            1
        )
        .is_err());
        let many: Vec<Address> = (0..=BOARD_VALIDATORS_MAX as u32)
            .map(|i| {
                let mut a = [0u8; 20];
                a[..4].copy_from_slice(&i.to_be_bytes());
                Address(a)
            })
            .collect();
        assert!(Board::equal(&many, 1).is_err());
    }

    #[test]
    fn rotation_weights_and_hash() {
        let b = Board::new(
            vec![
                Validator::new(addr(1), 2),
                Validator::new(addr(2), 1),
                Validator::new(addr(3), 1),
            ],
            3,
        )
        .unwrap();
        assert_eq!(b.total_shares(), 4);
        assert_eq!(b.proposer(0, 0), addr(1));
        assert_eq!(b.proposer(1, 0), addr(2));
        assert_eq!(b.proposer(1, 2), addr(1));
        assert_eq!(b.weight(&[addr(1), addr(1), addr(9)]), 2);
        assert!(b.is_quorum(b.weight(&[addr(1), addr(3)])));
        assert_eq!(b.honest_witness_shares(), 2);
        let mut other = b.clone();
        other.threshold = 4;
        assert_ne!(b.hash(), other.hash());
        assert_eq!(b.entity_id(), b.hash());
    }
}
