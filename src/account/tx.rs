//! The account transactions ([`AccountTx`]): what a side may propose in a frame, their
//! canonical encoding, and the checks that need no state (signs, int256 ranges, limits).

use num_bigint::BigInt;
use num_traits::Signed;

use super::{check_amount, AccountError, Data, TokenId};
use crate::crypto::{tagged, Canonical, RlpItem};

/// One change to an account, proposed by one side (the "proposer") inside a frame.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountTx {
    /// The proposer pays the peer.
    Pay {
        /// The token paid.
        token: TokenId,
        /// The amount, > 0 and at most the proposer's out-capacity.
        #[serde(with = "crate::crypto::readable")]
        amount: BigInt,
    },
    /// The proposer sets the credit limit it extends to the peer (right sets
    /// left_credit_limit and vice versa). Lowering below drawn debt is allowed.
    SetCreditLimit {
        /// The token.
        token: TokenId,
        /// The new limit, >= 0.
        #[serde(with = "crate::crypto::readable")]
        amount: BigInt,
    },
    /// Chain-driven: collateral and ondelta change by these amounts (e.g. collateral funded
    /// from the left's reserve: both +x; from the right's: collateral +x only). Collateral
    /// must stay >= 0.
    ChainDelta {
        /// The token.
        token: TokenId,
        /// Added to collateral (may be negative).
        #[serde(with = "crate::crypto::readable")]
        collateral_change: BigInt,
        /// Added to ondelta (may be negative).
        #[serde(with = "crate::crypto::readable")]
        ondelta_change: BigInt,
    },
    /// Installs subcontract code in the account (both sides sign the frame that carries
    /// it); instances then name it by its keccak-256 hash.
    InstallCode {
        /// The code (for the language engine: the text of a `subcontract` form).
        #[serde(with = "crate::crypto::readable")]
        code: Vec<u8>,
    },
    /// The proposer opens subcontract `id` running installed `code`, reserving `holds`
    /// (token, amount) from its OWN out-capacity as its allowance.
    OpenSubcontract {
        /// Unique among open instances.
        id: u64,
        /// keccak-256 of installed code.
        #[serde(with = "crate::crypto::readable")]
        code: [u8; 32],
        /// (token, amount > 0), each token once.
        #[serde(with = "crate::crypto::readable")]
        holds: Vec<(TokenId, BigInt)>,
        /// The instance's initial params.
        params: Data,
    },
    /// The proposer calls `method` of subcontract `id` with `args`; the engine decides
    /// the effect.
    CallSubcontract {
        /// The instance.
        id: u64,
        /// The method.
        method: String,
        /// The arguments.
        args: Data,
    },
}

impl AccountTx {
    /// Every kind name, in declaration order; [`AccountTx::kind`] returns one of them (the
    /// `arch` registry lists these; its tests hold one sample of each variant).
    pub const KINDS: [&'static str; 6] = [
        "pay",
        "set-credit-limit",
        "chain-delta",
        "install-code",
        "open-subcontract",
        "call-subcontract",
    ];

    /// The kind name (as in the canonical tag `xln/account-tx/<kind>/v1`).
    pub fn kind(&self) -> &'static str {
        Self::KINDS[match self {
            AccountTx::Pay { .. } => 0,
            AccountTx::SetCreditLimit { .. } => 1,
            AccountTx::ChainDelta { .. } => 2,
            AccountTx::InstallCode { .. } => 3,
            AccountTx::OpenSubcontract { .. } => 4,
            AccountTx::CallSubcontract { .. } => 5,
        }]
    }

    /// Checks what needs no state: positive payments, non-negative limits, every amount
    /// within int256, data nesting within [`super::DATA_DEPTH_MAX`].
    ///
    /// # Errors
    /// [`AccountError::NonPositiveAmount`], [`AccountError::NegativeCreditLimit`],
    /// [`AccountError::AmountOutOfRange`] or [`AccountError::DataTooDeep`].
    pub fn check_stateless(&self) -> Result<(), AccountError> {
        match self {
            AccountTx::Pay { token, amount } => {
                check_amount("payment amount", amount)?;
                if !amount.is_positive() {
                    return Err(AccountError::NonPositiveAmount {
                        what: format!("payment of token {token}"),
                        amount: amount.clone(),
                    });
                }
            }
            AccountTx::SetCreditLimit { token, amount } => {
                check_amount("credit limit", amount)?;
                if amount.is_negative() {
                    return Err(AccountError::NegativeCreditLimit {
                        token: *token,
                        amount: amount.clone(),
                    });
                }
            }
            AccountTx::ChainDelta {
                collateral_change,
                ondelta_change,
                ..
            } => {
                check_amount("collateral change", collateral_change)?;
                check_amount("ondelta change", ondelta_change)?;
            }
            AccountTx::OpenSubcontract {
                id, holds, params, ..
            } => {
                for (token, amount) in holds {
                    check_amount("held amount", amount)?;
                    if !amount.is_positive() {
                        return Err(AccountError::NonPositiveAmount {
                            what: format!("hold of token {token} by subcontract {id}"),
                            amount: amount.clone(),
                        });
                    }
                }
                params.check_depth("subcontract params")?;
            }
            AccountTx::CallSubcontract { args, .. } => args.check_depth("subcontract args")?,
            AccountTx::InstallCode { code } => {
                if code.len() > super::CODE_BYTES_MAX {
                    return Err(AccountError::TooMany {
                        what: "bytes of subcontract code",
                        count: code.len(),
                        max: super::CODE_BYTES_MAX,
                    });
                }
            }
        }
        Ok(())
    }

    /// The nesting check alone, for data that is about to be hashed before anything else
    /// is checked (a received frame).
    pub(crate) fn check_depth(&self) -> Result<(), AccountError> {
        match self {
            AccountTx::OpenSubcontract { params, .. } => params.check_depth("subcontract params"),
            AccountTx::CallSubcontract { args, .. } => args.check_depth("subcontract args"),
            _ => Ok(()),
        }
    }
}

/// Canonical encoding: one tag per variant, fields in declaration order:
/// `xln/account-tx/pay/v1 [token, amount]`, `xln/account-tx/set-credit-limit/v1 [token,
/// amount]`, `xln/account-tx/chain-delta/v1 [token, collateral_change, ondelta_change]`,
/// `xln/account-tx/install-code/v1 [code]`,
/// `xln/account-tx/open-subcontract/v2 [id, code hash, holds, params]`,
/// `xln/account-tx/call-subcontract/v1 [id, method, args]`.
impl Canonical for AccountTx {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            AccountTx::Pay { token, amount } => tagged(
                b"xln/account-tx/pay/v1",
                vec![token.canonical_rlp(), amount.canonical_rlp()],
            ),
            AccountTx::SetCreditLimit { token, amount } => tagged(
                b"xln/account-tx/set-credit-limit/v1",
                vec![token.canonical_rlp(), amount.canonical_rlp()],
            ),
            AccountTx::ChainDelta {
                token,
                collateral_change,
                ondelta_change,
            } => tagged(
                b"xln/account-tx/chain-delta/v1",
                vec![
                    token.canonical_rlp(),
                    collateral_change.canonical_rlp(),
                    ondelta_change.canonical_rlp(),
                ],
            ),
            AccountTx::InstallCode { code } => tagged(
                b"xln/account-tx/install-code/v1",
                vec![code.canonical_rlp()],
            ),
            AccountTx::OpenSubcontract {
                id,
                code,
                holds,
                params,
            } => tagged(
                b"xln/account-tx/open-subcontract/v2",
                vec![
                    id.canonical_rlp(),
                    code.canonical_rlp(),
                    holds.canonical_rlp(),
                    params.canonical_rlp(),
                ],
            ),
            AccountTx::CallSubcontract { id, method, args } => tagged(
                b"xln/account-tx/call-subcontract/v1",
                vec![
                    id.canonical_rlp(),
                    method.canonical_rlp(),
                    args.canonical_rlp(),
                ],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateless_checks_name_the_amount() {
        let zero = AccountTx::Pay {
            token: 3,
            amount: 0.into(),
        };
        let err = zero.check_stateless().unwrap_err();
        assert!(err.to_string().contains("payment of token 3"), "{err}");
        let huge = AccountTx::Pay {
            token: 3,
            amount: BigInt::from(1) << 255,
        };
        assert!(matches!(
            huge.check_stateless(),
            Err(AccountError::AmountOutOfRange { .. })
        ));
        let negative_limit = AccountTx::SetCreditLimit {
            token: 1,
            amount: (-1).into(),
        };
        assert!(matches!(
            negative_limit.check_stateless(),
            Err(AccountError::NegativeCreditLimit { token: 1, .. })
        ));
    }

    #[test]
    fn variants_hash_apart() {
        let pay = AccountTx::Pay {
            token: 1,
            amount: 5.into(),
        };
        let limit = AccountTx::SetCreditLimit {
            token: 1,
            amount: 5.into(),
        };
        assert_ne!(pay.canonical_hash(), limit.canonical_hash());
    }
}

crate::plain_readable!(AccountTx);
