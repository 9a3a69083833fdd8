//! Subcontracts: conditional delta transformers (HTLCs, swaps, user-written kinds). This
//! file owns their data ([`Data`], [`Subcontract`]), the [`SubcontractEngine`] boundary
//! the language implements, and how installed code, an engine's effect and its checks
//! turn into deltas. Code is identified by its keccak-256 hash: installed in the account
//! by a tx both sides sign, then named by hash when an instance opens.
//!
//! The account layer never knows how a subcontract is written: it asks the engine what a
//! call does, then enforces the money rules itself — the owner's transfers come only out
//! of what the instance holds, the other side's only from the caller's own out-capacity,
//! and RCPAN holds on the result (checked in `state.rs`).

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_traits::Signed;

use super::state::{AccountState, Plan};
use super::{
    check_amount, view, AccountError, OverdrawBound, Side, TokenId, CODES_MAX, CODE_BYTES_MAX,
    DATA_DEPTH_MAX, EFFECT_TRANSFERS_MAX, SUBCONTRACTS_OPEN_MAX, SUBCONTRACT_HOLDS_MAX,
};
use crate::crypto::{tagged, Canonical, RlpItem};

/// Deterministic data carried by subcontracts (params, call args). Maps are ordered, so
/// equal data always encodes and hashes alike.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Data {
    /// An exact integer.
    Int(#[serde(with = "crate::crypto::readable")] BigInt),
    /// A byte string (hashes, preimages, addresses).
    Bytes(#[serde(with = "crate::crypto::readable")] Vec<u8>),
    /// UTF-8 text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An ordered list.
    List(Vec<Data>),
    /// A map with text keys, ordered by key.
    Map(BTreeMap<String, Data>),
}

impl Data {
    /// True if lists and maps nest more than `max` levels deep (scalars are depth 0).
    /// Iterative, so hostile nesting cannot overflow the stack here.
    pub fn nested_deeper_than(&self, max: usize) -> bool {
        let mut stack = vec![(self, 0usize)];
        while let Some((data, depth)) = stack.pop() {
            let children: Box<dyn Iterator<Item = &Data>> = match data {
                Data::List(items) => Box::new(items.iter()),
                Data::Map(entries) => Box::new(entries.values()),
                _ => continue,
            };
            if depth + 1 > max {
                return true;
            }
            stack.extend(children.map(|child| (child, depth + 1)));
        }
        false
    }

    /// Checks the nesting limit [`DATA_DEPTH_MAX`].
    ///
    /// # Errors
    /// [`AccountError::DataTooDeep`] naming `what`.
    pub fn check_depth(&self, what: &str) -> Result<(), AccountError> {
        if self.nested_deeper_than(DATA_DEPTH_MAX) {
            Err(AccountError::DataTooDeep {
                what: what.to_string(),
                max: DATA_DEPTH_MAX,
            })
        } else {
            Ok(())
        }
    }
}

/// Canonical encoding: each variant is tagged (`xln/data/int/v1`, `.../bytes/v1`,
/// `.../text/v1`, `.../bool/v1`, `.../list/v1`, `.../map/v1`) around its value.
/// Recursive: check [`Data::nested_deeper_than`] before hashing untrusted data.
impl Canonical for Data {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            Data::Int(x) => tagged(b"xln/data/int/v1", vec![x.canonical_rlp()]),
            Data::Bytes(b) => tagged(b"xln/data/bytes/v1", vec![b.canonical_rlp()]),
            Data::Text(s) => tagged(b"xln/data/text/v1", vec![s.canonical_rlp()]),
            Data::Bool(b) => tagged(b"xln/data/bool/v1", vec![b.canonical_rlp()]),
            Data::List(items) => tagged(b"xln/data/list/v1", vec![items.canonical_rlp()]),
            Data::Map(entries) => tagged(b"xln/data/map/v1", vec![entries.canonical_rlp()]),
        }
    }
}

/// An open subcontract instance: what it holds (the owner's allowance) and its params.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subcontract {
    /// Chosen by the opener; unique among open instances of the account.
    pub id: u64,
    /// keccak-256 of the code that runs it (installed in the account's `codes`).
    #[serde(with = "crate::crypto::readable")]
    pub code: [u8; 32],
    /// The side that opened it and whose value it holds.
    pub owner: Side,
    /// Amounts still held per token (entries are > 0).
    #[serde(with = "crate::crypto::readable")]
    pub holds: BTreeMap<TokenId, BigInt>,
    /// The kind's state, as last returned by the engine.
    pub params: Data,
}

/// Canonical encoding: `tagged("xln/subcontract/v2", [id, code, owner, holds, params])`.
impl Canonical for Subcontract {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/subcontract/v2",
            vec![
                self.id.canonical_rlp(),
                self.code.canonical_rlp(),
                self.owner.canonical_rlp(),
                self.holds.canonical_rlp(),
                self.params.canonical_rlp(),
            ],
        )
    }
}

/// What the subcontract engine is asked (the account layer never knows how subcontracts
/// are written — the language implements [`SubcontractEngine`]).
pub struct SubcontractCall<'a> {
    /// keccak-256 of `code` (engines may cache what they derive from the code by it).
    pub code_hash: &'a [u8; 32],
    /// The code, as installed in the account by [`AccountTx::InstallCode`].
    ///
    /// [`AccountTx::InstallCode`]: super::AccountTx::InstallCode
    pub code: &'a [u8],
    /// The method called.
    pub method: &'a str,
    /// The instance's current params.
    pub params: &'a Data,
    /// The call's arguments.
    pub args: &'a Data,
    /// The side that proposed the call.
    pub caller: Side,
    /// The side that opened the instance.
    pub owner: Side,
    /// What the instance holds now.
    pub holds: &'a BTreeMap<TokenId, BigInt>,
    /// The height of the frame the call is in.
    pub height: u64,
    /// The timestamp of the frame the call is in.
    pub timestamp: u64,
}

/// What the engine answers. `transfers`: (token, from side, amount > 0), each moving value
/// from `from` to the other side, applied in order. `params` replaces the instance's
/// params; `close` ends the instance and releases what it still holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubcontractEffect {
    /// Value movements, in order.
    pub transfers: Vec<(TokenId, Side, BigInt)>,
    /// The instance's new params.
    pub params: Data,
    /// Whether the instance ends with this call.
    pub close: bool,
}

/// Runs subcontract code. Must be deterministic: every replica of both sides calls it with
/// the same code and inputs and must get the same answer (no clock, randomness, I/O or
/// outside state), or the frame's state hashes differ and the wrong replica is caught.
pub trait SubcontractEngine {
    /// Answers one call of `call.method` of the code `call.code`.
    ///
    /// # Errors
    /// A human-readable reason; the tx is rejected as
    /// [`AccountError::SubcontractFailed`] and the account is unchanged.
    fn call(&mut self, call: &SubcontractCall<'_>) -> Result<SubcontractEffect, String>;

    /// Checks that `code` is code this engine can run (it parses, it defines methods), so
    /// that [`AccountTx::InstallCode`] refuses what could never run.
    ///
    /// # Errors
    /// Why the code is refused; the install is rejected as [`AccountError::InvalidCode`].
    ///
    /// [`AccountTx::InstallCode`]: super::AccountTx::InstallCode
    fn check_code(&mut self, code: &[u8]) -> Result<(), String>;
}

/// An engine that runs nothing: every install and call fails. For accounts that only pay.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSubcontracts;

impl SubcontractEngine for NoSubcontracts {
    fn call(&mut self, call: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
        Err(format!(
            "no subcontract engine: code {} cannot run",
            short_hex(call.code_hash)
        ))
    }

    fn check_code(&mut self, _: &[u8]) -> Result<(), String> {
        Err("no subcontract engine: code cannot be installed".into())
    }
}

/// The first 8 bytes of a code hash in hex, for messages.
pub fn short_hex(hash: &[u8; 32]) -> String {
    format!("0x{}…", alloy_primitives::hex::encode(&hash[..8]))
}

/// Plans `InstallCode`: the code must be within [`CODE_BYTES_MAX`], new to the account
/// (at most [`CODES_MAX`] per account), and accepted by the engine.
pub(super) fn plan_install(
    state: &AccountState,
    code: &[u8],
    engine: &mut dyn SubcontractEngine,
) -> Result<Plan, AccountError> {
    if code.len() > CODE_BYTES_MAX {
        return Err(AccountError::TooMany {
            what: "bytes of subcontract code",
            count: code.len(),
            max: CODE_BYTES_MAX,
        });
    }
    let hash = crate::crypto::keccak256(code);
    if state.codes.contains_key(&hash) {
        return Err(AccountError::DuplicateCode(short_hex(&hash)));
    }
    if state.codes.len() >= CODES_MAX {
        return Err(AccountError::TooMany {
            what: "codes installed in one account",
            count: state.codes.len() + 1,
            max: CODES_MAX,
        });
    }
    engine
        .check_code(code)
        .map_err(|reason| AccountError::InvalidCode {
            code: short_hex(&hash),
            reason,
        })?;
    Ok(Plan {
        code: Some((hash, code.to_vec())),
        ..Plan::default()
    })
}

/// Plans `OpenSubcontract` by `owner`: each hold must be positive, in range, listed once,
/// and fit the owner's out-capacity (counting earlier holds of the same tx); it then
/// raises the owner's allowance.
pub(super) fn plan_open(
    state: &AccountState,
    owner: Side,
    id: u64,
    code: &[u8; 32],
    holds: &[(TokenId, BigInt)],
    params: &Data,
) -> Result<Plan, AccountError> {
    if state.subcontracts.contains_key(&id) {
        return Err(AccountError::DuplicateSubcontract(id));
    }
    if !state.codes.contains_key(code) {
        return Err(AccountError::UnknownCode(short_hex(code)));
    }
    if state.subcontracts.len() >= SUBCONTRACTS_OPEN_MAX {
        return Err(AccountError::TooMany {
            what: "open subcontracts in one account",
            count: state.subcontracts.len() + 1,
            max: SUBCONTRACTS_OPEN_MAX,
        });
    }
    if holds.len() > SUBCONTRACT_HOLDS_MAX {
        return Err(AccountError::TooMany {
            what: "holds of one subcontract",
            count: holds.len(),
            max: SUBCONTRACT_HOLDS_MAX,
        });
    }
    let mut plan = Plan::default();
    let mut held = BTreeMap::new();
    for (token, amount) in holds {
        if held.contains_key(token) {
            return Err(AccountError::DuplicateHold { id, token: *token });
        }
        let delta = plan.delta_mut(state, *token);
        let capacity = view(delta, owner);
        if amount > &capacity.out_capacity {
            return Err(AccountError::capacity(
                owner, "hold", *token, amount, &capacity,
            ));
        }
        *allowance_mut(delta, owner) += amount;
        held.insert(*token, amount.clone());
    }
    plan.subcontract = Some((
        id,
        Some(Subcontract {
            id,
            code: *code,
            owner,
            holds: held,
            params: params.clone(),
        }),
    ));
    Ok(plan)
}

/// Plans `CallSubcontract` by `caller`: asks the engine, then checks and applies its
/// transfers and close.
pub(super) fn plan_call(
    state: &AccountState,
    caller: Side,
    id: u64,
    method: &str,
    args: &Data,
    frame: (u64, u64),
    engine: &mut dyn SubcontractEngine,
) -> Result<Plan, AccountError> {
    let instance = state
        .subcontracts
        .get(&id)
        .ok_or(AccountError::UnknownSubcontract(id))?;
    let code = state
        .codes
        .get(&instance.code)
        .ok_or_else(|| AccountError::UnknownCode(short_hex(&instance.code)))?;
    let call = SubcontractCall {
        code_hash: &instance.code,
        code,
        method,
        params: &instance.params,
        args,
        caller,
        owner: instance.owner,
        holds: &instance.holds,
        height: frame.0,
        timestamp: frame.1,
    };
    let failed = |reason: String| AccountError::SubcontractFailed {
        code: short_hex(&instance.code),
        method: method.to_string(),
        reason,
    };
    let effect = engine.call(&call).map_err(failed)?;
    effect
        .params
        .check_depth("params returned by the subcontract")?;
    if effect.transfers.len() > EFFECT_TRANSFERS_MAX {
        return Err(AccountError::TooMany {
            what: "transfers of one subcontract call",
            count: effect.transfers.len(),
            max: EFFECT_TRANSFERS_MAX,
        });
    }
    let mut plan = Plan::default();
    let mut next = instance.clone();
    for (token, from, amount) in &effect.transfers {
        plan_transfer(state, &mut plan, &mut next, caller, (*token, *from, amount))?;
    }
    next.holds.retain(|_, amount| amount.is_positive());
    if effect.close {
        for (token, amount) in &next.holds {
            *allowance_mut(plan.delta_mut(state, *token), next.owner) -= amount;
        }
        plan.subcontract = Some((id, None));
    } else {
        next.params = effect.params;
        plan.subcontract = Some((id, Some(next)));
    }
    Ok(plan)
}

/// One transfer of an effect: from the owner it spends the instance's hold (and the
/// owner's allowance); from the other side only if that side is the caller and the
/// amount fits its out-capacity.
fn plan_transfer(
    state: &AccountState,
    plan: &mut Plan,
    instance: &mut Subcontract,
    caller: Side,
    (token, from, amount): (TokenId, Side, &BigInt),
) -> Result<(), AccountError> {
    if !amount.is_positive() {
        return Err(AccountError::NonPositiveAmount {
            what: format!("subcontract {} transfer of token {token}", instance.id),
            amount: amount.clone(),
        });
    }
    check_amount("subcontract transfer", amount)?;
    let overdraw = |available: BigInt, bound| AccountError::SubcontractOverdraw {
        id: instance.id,
        token,
        from,
        amount: amount.clone(),
        available,
        bound,
    };
    let delta = plan.delta_mut(state, token);
    if from == instance.owner {
        let held = instance.holds.entry(token).or_default();
        if amount > held {
            return Err(overdraw(held.clone(), OverdrawBound::Held));
        }
        *held -= amount;
        *allowance_mut(delta, from) -= amount;
    } else if from != caller {
        return Err(overdraw(BigInt::default(), OverdrawBound::NotCaller));
    } else {
        let capacity = view(delta, from).out_capacity;
        if amount > &capacity {
            return Err(overdraw(capacity, OverdrawBound::CallerOutCapacity));
        }
    }
    move_value(delta, from, amount);
    Ok(())
}

/// The allowance of `side` in `delta`.
pub(super) fn allowance_mut(delta: &mut super::Delta, side: Side) -> &mut BigInt {
    match side {
        Side::Left => &mut delta.left_allowance,
        Side::Right => &mut delta.right_allowance,
    }
}

/// Moves `amount` from `from` to the other side: offdelta falls if left pays, rises if
/// right pays.
pub(super) fn move_value(delta: &mut super::Delta, from: Side, amount: &BigInt) {
    match from {
        Side::Left => delta.offdelta -= amount,
        Side::Right => delta.offdelta += amount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_counted_iteratively() {
        let mut d = Data::Int(1.into());
        for _ in 0..DATA_DEPTH_MAX {
            d = Data::List(vec![d]);
        }
        assert!(!d.nested_deeper_than(DATA_DEPTH_MAX));
        let deeper = Data::Map(BTreeMap::from([("k".to_string(), d)]));
        assert!(deeper.nested_deeper_than(DATA_DEPTH_MAX));
        assert!(Data::List(vec![]).nested_deeper_than(0));
        assert!(!Data::Bool(true).nested_deeper_than(0));
    }

    #[test]
    fn data_variants_encode_apart() {
        let a = Data::Bytes(b"1".to_vec()).canonical_hash();
        let b = Data::Text("1".into()).canonical_hash();
        let c = Data::List(vec![Data::Bytes(b"1".to_vec())]).canonical_hash();
        assert!(a != b && b != c && a != c);
    }
}

crate::plain_readable!(Subcontract, Data);
