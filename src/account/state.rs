//! [`AccountState`]: the committed contents of an account (deltas, open subcontracts,
//! frame chain position), its canonical hash, and applying one tx (plan, check, commit).

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::delta::check_rcpan;
use super::subcontract::{allowance_mut, move_value, plan_call, plan_install, plan_open};
use super::{view, AccountError, AccountTx, Delta, Side, Subcontract, SubcontractEngine, TokenId};
use crate::crypto::{tagged, Address, Canonical, RlpItem};

/// The state both sides of an account agree on. Identical on both sides after every
/// committed frame, byte for byte (compare [`AccountState::state_hash`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountState {
    /// The lower address.
    pub left: Address,
    /// The higher address.
    pub right: Address,
    /// Height of the last committed frame (0 before the first).
    pub height: u64,
    /// Timestamp of the last committed frame.
    pub timestamp: u64,
    /// Hash of the last committed frame (zero before the first).
    #[serde(with = "crate::crypto::readable")]
    pub last_frame_hash: [u8; 32],
    /// Per-token deltas; absent means [`Delta::default`].
    #[serde(with = "crate::crypto::readable")]
    pub deltas: BTreeMap<TokenId, Delta>,
    /// Open subcontracts by id.
    #[serde(with = "crate::crypto::readable")]
    pub subcontracts: BTreeMap<u64, Subcontract>,
    /// Installed subcontract code by its keccak-256 hash.
    #[serde(default, with = "crate::crypto::readable")]
    pub codes: BTreeMap<[u8; 32], Vec<u8>>,
}

/// The changes one tx would make, computed without touching the state: new values of the
/// touched deltas and at most one subcontract (`None` = closed).
#[derive(Default)]
pub(super) struct Plan {
    pub(super) deltas: BTreeMap<TokenId, Delta>,
    pub(super) subcontract: Option<(u64, Option<Subcontract>)>,
    pub(super) code: Option<([u8; 32], Vec<u8>)>,
}

impl Plan {
    /// The planned delta of `token`, starting from the state's.
    pub(super) fn delta_mut(&mut self, state: &AccountState, token: TokenId) -> &mut Delta {
        self.deltas
            .entry(token)
            .or_insert_with(|| state.delta(token))
    }
}

impl AccountState {
    /// A fresh account between `a` and `b`, ordered so that `left < right` (bytewise).
    /// Height 0, no deltas, no subcontracts.
    pub fn new(a: Address, b: Address) -> Self {
        let (left, right) = if a <= b { (a, b) } else { (b, a) };
        AccountState {
            left,
            right,
            height: 0,
            timestamp: 0,
            last_frame_hash: [0; 32],
            deltas: BTreeMap::new(),
            subcontracts: BTreeMap::new(),
            codes: BTreeMap::new(),
        }
    }

    /// keccak-256 of the canonical encoding `tagged("xln/account-state/v2", [left, right,
    /// height, timestamp, last_frame_hash, deltas, subcontracts, code hashes])`.
    pub fn state_hash(&self) -> [u8; 32] {
        self.canonical_hash()
    }

    /// The delta of `token` (the default, all zero, if the token was never touched).
    pub fn delta(&self, token: TokenId) -> Delta {
        self.deltas.get(&token).cloned().unwrap_or_default()
    }

    /// Applies one tx proposed by `by` at (height, timestamp) — those are the frame's and
    /// are passed to subcontracts; this does not change `self.height`/`timestamp`. After
    /// the tx every touched token is checked: int256 ranges and the RCPAN rule.
    ///
    /// # Errors
    /// The stateless checks of [`AccountTx::check_stateless`];
    /// [`AccountError::CapacityExceeded`] for a payment or hold beyond out-capacity;
    /// [`AccountError::CollateralNegative`]; subcontract errors (unknown / duplicate id,
    /// engine failure, overdraw); [`AccountError::RcpanViolation`]. On `Err` the state is
    /// unchanged.
    pub fn apply_tx(
        &mut self,
        tx: &AccountTx,
        by: Side,
        height: u64,
        timestamp: u64,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), AccountError> {
        self.apply_tx_touched(tx, by, (height, timestamp), engine)
            .map(|_| ())
    }

    /// [`AccountState::apply_tx`], returning the tokens whose delta it wrote.
    pub(super) fn apply_tx_touched(
        &mut self,
        tx: &AccountTx,
        by: Side,
        frame: (u64, u64),
        engine: &mut dyn SubcontractEngine,
    ) -> Result<BTreeSet<TokenId>, AccountError> {
        tx.check_stateless()?;
        let plan = match tx {
            AccountTx::Pay { token, amount } => self.plan_pay(by, *token, amount)?,
            AccountTx::SetCreditLimit { token, amount } => {
                self.plan_credit_limit(by, *token, amount)
            }
            AccountTx::ChainDelta {
                token,
                collateral_change,
                ondelta_change,
            } => self.plan_chain_delta(*token, collateral_change, ondelta_change)?,
            AccountTx::InstallCode { code } => plan_install(self, code, engine)?,
            AccountTx::OpenSubcontract {
                id,
                code,
                holds,
                params,
            } => plan_open(self, by, *id, code, holds, params)?,
            AccountTx::CallSubcontract { id, method, args } => {
                plan_call(self, by, *id, method, args, frame, engine)?
            }
        };
        for (token, after) in &plan.deltas {
            after.check_range(*token)?;
            check_rcpan(*token, &self.delta(*token), after)?;
        }
        Ok(self.commit(plan))
    }

    fn plan_pay(&self, by: Side, token: TokenId, amount: &BigInt) -> Result<Plan, AccountError> {
        let mut plan = Plan::default();
        let delta = plan.delta_mut(self, token);
        let capacity = view(delta, by);
        if amount > &capacity.out_capacity {
            return Err(AccountError::capacity(by, "pay", token, amount, &capacity));
        }
        move_value(delta, by, amount);
        Ok(plan)
    }

    /// The proposer sets the limit it extends: left sets right's, right sets left's.
    fn plan_credit_limit(&self, by: Side, token: TokenId, amount: &BigInt) -> Plan {
        let mut plan = Plan::default();
        let delta = plan.delta_mut(self, token);
        match by {
            Side::Left => delta.right_credit_limit = amount.clone(),
            Side::Right => delta.left_credit_limit = amount.clone(),
        }
        plan
    }

    fn plan_chain_delta(
        &self,
        token: TokenId,
        collateral_change: &BigInt,
        ondelta_change: &BigInt,
    ) -> Result<Plan, AccountError> {
        let mut plan = Plan::default();
        let delta = plan.delta_mut(self, token);
        delta.collateral += collateral_change;
        if delta.collateral.is_negative() {
            return Err(AccountError::CollateralNegative {
                token,
                change: collateral_change.clone(),
                result: delta.collateral.clone(),
            });
        }
        delta.ondelta += ondelta_change;
        Ok(plan)
    }

    /// Writes a checked plan and asserts the allowance invariant on what it touched.
    fn commit(&mut self, plan: Plan) -> BTreeSet<TokenId> {
        let touched: BTreeSet<TokenId> = plan.deltas.keys().copied().collect();
        self.deltas.extend(plan.deltas);
        if let Some((hash, code)) = plan.code {
            self.codes.insert(hash, code);
        }
        match plan.subcontract {
            Some((id, Some(instance))) => {
                self.subcontracts.insert(id, instance);
            }
            Some((id, None)) => {
                self.subcontracts.remove(&id);
            }
            None => {}
        }
        for token in &touched {
            self.assert_allowances(*token);
        }
        touched
    }

    /// Invariant: each side's allowance equals the sum of what its open subcontracts
    /// hold in `token`. A failure is a bug in this module, never bad input.
    fn assert_allowances(&self, token: TokenId) {
        let mut held = [BigInt::zero(), BigInt::zero()];
        for instance in self.subcontracts.values() {
            if let Some(amount) = instance.holds.get(&token) {
                held[usize::from(instance.owner == Side::Right)] += amount;
            }
        }
        let mut delta = self.delta(token);
        for (i, side) in [Side::Left, Side::Right].into_iter().enumerate() {
            let allowance = allowance_mut(&mut delta, side);
            assert!(
                *allowance == held[i],
                "account invariant broken: {side} allowance of token {token} is {allowance} but its open subcontracts hold {}",
                held[i]
            );
        }
    }
}

/// Canonical encoding: `tagged("xln/account-state/v2", [left, right, height, timestamp,
/// last_frame_hash, deltas, subcontracts, code hashes])`. Code enters by its hash only: the
/// key of `codes` is the keccak of the bytes (checked at install), so it commits to them
/// without re-hashing every installed program on every frame.
impl Canonical for AccountState {
    fn canonical_rlp(&self) -> RlpItem {
        let code_hashes: Vec<[u8; 32]> = self.codes.keys().copied().collect();
        tagged(
            b"xln/account-state/v2",
            vec![
                self.left.canonical_rlp(),
                self.right.canonical_rlp(),
                self.height.canonical_rlp(),
                self.timestamp.canonical_rlp(),
                self.last_frame_hash.canonical_rlp(),
                self.deltas.canonical_rlp(),
                self.subcontracts.canonical_rlp(),
                code_hashes.canonical_rlp(),
            ],
        )
    }
}
crate::plain_readable!(AccountState);
