//! Entity transactions: [`EntityTx`] (what a frame changes), [`SignedTx`] (who asked for
//! it, with a per-signer nonce against replays), [`Holder`] (who owns a reserve), their
//! canonical encodings and the checks that need no state.

use std::fmt;

use num_bigint::{BigInt, Sign};

use super::accounts::Hanko;
use super::message::verify_cached;
use super::payment::{FeePolicy, PaymentHop, RoutedPayment};
use super::{
    Board, EntityError, EntityId, TokenId, AMOUNT_BITS_MAX, BOARD_VALIDATORS_MAX,
    PAYLOAD_BYTES_MAX, TEXT_BYTES_MAX,
};
use crate::account::{AccountMessage, AccountMessageBody, AccountTx};
use crate::crypto::{tagged, Address, Canonical, RlpItem, SecretKey, Signature};

/// Who holds a reserve inside the entity: a named sub-account ("treasury", "alice") or an
/// address.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Holder {
    /// A name chosen by the entity.
    Name(String),
    /// An address.
    Address(Address),
}

crate::plain_readable!(Holder);

impl From<&str> for Holder {
    fn from(name: &str) -> Self {
        Holder::Name(name.to_string())
    }
}

impl From<Address> for Holder {
    fn from(address: Address) -> Self {
        Holder::Address(address)
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Name(n) => write!(f, "{n:?}"),
            Holder::Address(a) => write!(f, "{a}"),
        }
    }
}

/// Canonical encoding: `tagged("xln/holder/name/v1", [name])` or
/// `tagged("xln/holder/address/v1", [address])`.
impl Canonical for Holder {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            Holder::Name(n) => tagged(b"xln/holder/name/v1", vec![n.canonical_rlp()]),
            Holder::Address(a) => tagged(b"xln/holder/address/v1", vec![a.canonical_rlp()]),
        }
    }
}

/// What a governance proposal does once its yes-shares reach the threshold.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProposalAction {
    /// Replace the board (takes effect for the next height).
    BoardChange(Board),
    /// A text resolution: recorded in the log when passed.
    Text(String),
}

/// Canonical encoding: `tagged("xln/proposal-action/board/v1", [board])` or
/// `tagged("xln/proposal-action/text/v1", [text])`.
impl Canonical for ProposalAction {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            ProposalAction::BoardChange(b) => {
                tagged(b"xln/proposal-action/board/v1", vec![b.canonical_rlp()])
            }
            ProposalAction::Text(t) => {
                tagged(b"xln/proposal-action/text/v1", vec![t.canonical_rlp()])
            }
        }
    }
}

/// One change to the entity's state, asked for by a validator and applied in a frame.
/// Applying may *reject* it (e.g. an insufficient reserve): a rejected tx changes nothing
/// but its signer's nonce and is reported in the commit, never dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntityTx {
    /// Append a text to the entity's message log.
    Message {
        /// At most [`TEXT_BYTES_MAX`] bytes.
        text: String,
    },
    /// Open an account with another entity, whose genesis board seals its messages.
    OpenAccount {
        /// The peer entity.
        #[serde(with = "crate::crypto::readable")]
        peer: EntityId,
        /// The peer's board (must hash to `peer`).
        peer_board: Board,
    },
    /// A message of the peer's side of an account, sealed by a quorum of the peer's board
    /// (see `accounts.rs`): the account machine verifies and applies it.
    AccountInput {
        /// The peer entity that sent it.
        #[serde(with = "crate::crypto::readable")]
        from: EntityId,
        /// The message.
        message: Box<AccountMessage>,
        /// The peer validators' signatures over [`AccountMessage::hanko_digest`].
        hanko: Hanko,
    },
    /// Any account operation on the account with `peer` — pay, set the credit this entity
    /// extends, install code, open or call a subcontract, a chain-driven delta — proposed
    /// as an account frame and sealed to the peer by this board's quorum.
    Account {
        /// The peer entity (the account must be open).
        #[serde(with = "crate::crypto::readable")]
        peer: EntityId,
        /// The account tx.
        tx: AccountTx,
    },
    /// Move `amount` of `token` from one holder's reserve to another's.
    Payment {
        /// The payer; needs at least `amount`.
        from: Holder,
        /// The payee (not the payer).
        to: Holder,
        /// The token.
        token: TokenId,
        /// > 0 and below 2^255.
        #[serde(with = "crate::crypto::readable")]
        amount: BigInt,
    },
    /// Open governance proposal `id`; the signer's yes vote is counted at once.
    Propose {
        /// Unused among open proposals.
        id: u64,
        /// What happens if it passes.
        action: ProposalAction,
    },
    /// Vote on open proposal `id` (once per validator).
    Vote {
        /// The proposal.
        id: u64,
        /// Yes or no.
        yes: bool,
    },
    /// An event from the chain, recorded in the log (placeholder for the chain adapter).
    ChainEvent {
        /// At most [`PAYLOAD_BYTES_MAX`] bytes.
        #[serde(with = "crate::crypto::readable")]
        bytes: Vec<u8>,
    },
    /// Set the fee and timeout policy this entity forwards routed payments by.
    SetFeePolicy(FeePolicy),
    /// Pay through routes: lock an HTLC on each part's first hop, the rest of the route in
    /// a per-hop onion (see `payment.rs`).
    PayRouted(Box<RoutedPayment>),
    /// One more attempt of the pending payment with `hashlock`: `parts` replace failed ones
    /// and deliver exactly what its live parts do not; with no parts the sender gives up
    /// (`reason` says why). Its validator's wallet submits it (see `wallet.rs`).
    RetryPayment {
        /// The payment.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
        /// The new parts (routes, as in [`RoutedPayment::parts`]).
        parts: Vec<Vec<PaymentHop>>,
        /// Why the sender gives up (with no parts), or empty.
        reason: String,
    },
    /// Enforce timeouts: take back every lock this entity sent whose timeout has passed by
    /// the frame's clock (validators submit it when their own clock says one is due).
    Timers,
    /// Publish the entity's profile as of this frame: the frame fixes it in the state, so
    /// every validator signs the same profile (validators submit it when theirs changed).
    PublishProfile,
}

/// Canonical encoding: each variant is `tagged("xln/entity-tx/<kind>/v1", fields)` with the
/// fields in declaration order.
impl Canonical for EntityTx {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            EntityTx::Message { text } => {
                tagged(b"xln/entity-tx/message/v1", vec![text.canonical_rlp()])
            }
            EntityTx::OpenAccount { peer, peer_board } => tagged(
                b"xln/entity-tx/open-account/v1",
                vec![peer.canonical_rlp(), peer_board.canonical_rlp()],
            ),
            EntityTx::AccountInput {
                from,
                message,
                hanko,
            } => tagged(
                b"xln/entity-tx/account-input/v1",
                vec![
                    from.canonical_rlp(),
                    message.canonical_rlp(),
                    hanko.canonical_rlp(),
                ],
            ),
            EntityTx::Account { peer, tx } => tagged(
                b"xln/entity-tx/account/v1",
                vec![peer.canonical_rlp(), tx.canonical_rlp()],
            ),
            EntityTx::Payment {
                from,
                to,
                token,
                amount,
            } => tagged(
                b"xln/entity-tx/payment/v1",
                vec![
                    from.canonical_rlp(),
                    to.canonical_rlp(),
                    token.canonical_rlp(),
                    amount.canonical_rlp(),
                ],
            ),

            EntityTx::Propose { id, action } => tagged(
                b"xln/entity-tx/propose/v1",
                vec![id.canonical_rlp(), action.canonical_rlp()],
            ),
            EntityTx::Vote { id, yes } => tagged(
                b"xln/entity-tx/vote/v1",
                vec![id.canonical_rlp(), yes.canonical_rlp()],
            ),
            EntityTx::ChainEvent { bytes } => {
                tagged(b"xln/entity-tx/chain-event/v1", vec![bytes.canonical_rlp()])
            }
            EntityTx::SetFeePolicy(policy) => tagged(
                b"xln/entity-tx/set-fee-policy/v1",
                vec![policy.canonical_rlp()],
            ),
            EntityTx::PayRouted(payment) => tagged(
                b"xln/entity-tx/pay-routed/v1",
                vec![payment.canonical_rlp()],
            ),
            EntityTx::RetryPayment {
                hashlock,
                parts,
                reason,
            } => tagged(
                b"xln/entity-tx/retry-payment/v1",
                vec![
                    hashlock.canonical_rlp(),
                    parts.canonical_rlp(),
                    reason.canonical_rlp(),
                ],
            ),
            EntityTx::Timers => tagged(b"xln/entity-tx/timers/v1", vec![]),
            EntityTx::PublishProfile => tagged(b"xln/entity-tx/publish-profile/v1", vec![]),
        }
    }
}

/// The stateless bounds of a sealed account message: a frame's tx count and nesting, the
/// hanko's size. Why: untrusted frames are hashed (recursively) before anything else.
fn check_account_message(message: &AccountMessage, hanko: &Hanko) -> Result<(), String> {
    if hanko.0.len() > BOARD_VALIDATORS_MAX {
        return Err(format!(
            "hanko of {} signatures, at most {BOARD_VALIDATORS_MAX}",
            hanko.0.len()
        ));
    }
    if let AccountMessageBody::Propose { frame, .. } = &message.body {
        if frame.txs.len() > crate::account::FRAME_TXS_MAX {
            return Err(format!(
                "account frame of {} txs, at most {}",
                frame.txs.len(),
                crate::account::FRAME_TXS_MAX
            ));
        }
        for tx in &frame.txs {
            tx.check_depth().map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Checks `|amount| < 2^255` and, unless `zero_ok`, `amount > 0` (else `amount >= 0`).
pub(super) fn check_amount(what: &str, amount: &BigInt, zero_ok: bool) -> Result<(), String> {
    if amount.sign() == Sign::Minus || (!zero_ok && amount.sign() == Sign::NoSign) {
        let bound = if zero_ok { ">= 0" } else { "> 0" };
        return Err(format!("{what} must be {bound}, got {amount}"));
    }
    if amount.bits() > AMOUNT_BITS_MAX {
        return Err(format!("{what} {amount} is not below 2^{AMOUNT_BITS_MAX}"));
    }
    Ok(())
}

impl EntityTx {
    /// Every kind name, in declaration order; [`EntityTx::kind`] returns one of them (the
    /// `arch` registry lists these; its tests hold one sample of each variant).
    pub const KINDS: [&'static str; 13] = [
        "message",
        "open-account",
        "account-input",
        "account",
        "payment",
        "propose",
        "vote",
        "chain-event",
        "set-fee-policy",
        "pay-routed",
        "retry-payment",
        "timers",
        "publish-profile",
    ];

    /// The short kind name (for logs and the timeline).
    pub fn kind(&self) -> &'static str {
        match self {
            EntityTx::Message { .. } => "message",
            EntityTx::OpenAccount { .. } => "open-account",
            EntityTx::AccountInput { .. } => "account-input",
            EntityTx::Account { .. } => "account",
            EntityTx::Payment { .. } => "payment",
            EntityTx::Propose { .. } => "propose",
            EntityTx::Vote { .. } => "vote",
            EntityTx::ChainEvent { .. } => "chain-event",
            EntityTx::SetFeePolicy(_) => "set-fee-policy",
            EntityTx::PayRouted(_) => "pay-routed",
            EntityTx::RetryPayment { .. } => "retry-payment",
            EntityTx::Timers => "timers",
            EntityTx::PublishProfile => "publish-profile",
        }
    }

    /// The checks that need no state: sizes, amount signs and ranges, a proposed board's
    /// rules, no self-payment. Why: they are refused at submission, before signing.
    ///
    /// # Errors
    /// [`EntityError::InvalidTx`] naming the broken rule.
    pub fn check_stateless(&self) -> Result<(), EntityError> {
        let result = match self {
            EntityTx::Message { text }
            | EntityTx::Propose {
                action: ProposalAction::Text(text),
                ..
            } if text.len() > TEXT_BYTES_MAX => Err(format!(
                "text of {} bytes, at most {TEXT_BYTES_MAX}",
                text.len()
            )),
            EntityTx::ChainEvent { bytes } if bytes.len() > PAYLOAD_BYTES_MAX => Err(format!(
                "payload of {} bytes, at most {PAYLOAD_BYTES_MAX}",
                bytes.len()
            )),
            EntityTx::Payment {
                from, to, amount, ..
            } => {
                if from == to {
                    Err(format!("payment from {from} to itself"))
                } else {
                    check_amount("payment amount", amount, false)
                }
            }
            EntityTx::Account { tx, .. } => tx.check_stateless().map_err(|e| e.to_string()),
            EntityTx::SetFeePolicy(policy) => check_amount("base fee", &policy.base, true),
            EntityTx::PayRouted(payment) => {
                let hops: usize = payment.parts.iter().map(Vec::len).sum();
                if payment.parts.len() > super::payment::PAYMENT_PARTS_MAX
                    || hops > super::payment::PAYMENT_PARTS_MAX * super::payment::ROUTE_HOPS_MAX
                {
                    Err(format!(
                        "a payment has at most {} parts of {} hops",
                        super::payment::PAYMENT_PARTS_MAX,
                        super::payment::ROUTE_HOPS_MAX
                    ))
                } else if payment.attempts_max > super::mpp::PAYMENT_ATTEMPTS_MAX {
                    Err(format!(
                        "a payment has at most {} attempts",
                        super::mpp::PAYMENT_ATTEMPTS_MAX
                    ))
                } else {
                    check_amount("payment total", &payment.total, false)
                }
            }
            EntityTx::RetryPayment { parts, reason, .. } => {
                let hops: usize = parts.iter().map(Vec::len).sum();
                if parts.len() > super::payment::PAYMENT_PARTS_MAX
                    || hops > super::payment::PAYMENT_PARTS_MAX * super::payment::ROUTE_HOPS_MAX
                {
                    Err(format!(
                        "a retry has at most {} parts of {} hops",
                        super::payment::PAYMENT_PARTS_MAX,
                        super::payment::ROUTE_HOPS_MAX
                    ))
                } else if reason.len() > PAYLOAD_BYTES_MAX {
                    Err(format!("a reason has at most {PAYLOAD_BYTES_MAX} bytes"))
                } else {
                    Ok(())
                }
            }
            EntityTx::OpenAccount { peer_board, .. } => {
                peer_board.validate().map_err(|e| e.to_string())
            }
            EntityTx::AccountInput { message, hanko, .. } => check_account_message(message, hanko),
            EntityTx::Propose {
                action: ProposalAction::BoardChange(board),
                ..
            } => board.validate().map_err(|e| e.to_string()),
            _ => Ok(()),
        };
        result.map_err(|reason| EntityError::InvalidTx { reason })
    }
}

/// A transaction signed by a validator. `nonce` numbers the signer's transactions; a frame
/// applies a tx only if its nonce is above the signer's last committed one, so a replayed
/// tx is rejected. The signature covers `(entity id, signer, nonce, tx)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedTx {
    /// The validator that asks for the tx.
    pub signer: Address,
    /// The signer's tx number, starting at 1.
    pub nonce: u64,
    /// The transaction.
    pub tx: EntityTx,
    /// The signer's signature over [`SignedTx::signing_digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged("xln/entity-signed-tx/v1", [signer, nonce, tx, signature])`.
impl Canonical for SignedTx {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-signed-tx/v1",
            vec![
                self.signer.canonical_rlp(),
                self.nonce.canonical_rlp(),
                self.tx.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

impl SignedTx {
    /// The digest the signer signs: the canonical hash of
    /// `tagged("xln/entity-tx-body/v1", [entity_id, signer, nonce, tx])`.
    pub fn signing_digest(
        entity: &EntityId,
        signer: &Address,
        nonce: u64,
        tx: &EntityTx,
    ) -> [u8; 32] {
        tagged(
            b"xln/entity-tx-body/v1",
            vec![
                entity.canonical_rlp(),
                signer.canonical_rlp(),
                nonce.canonical_rlp(),
                tx.canonical_rlp(),
            ],
        )
        .canonical_hash()
    }

    /// Signs `tx` as `key`'s address with `nonce`, for `entity`.
    ///
    /// # Errors
    /// [`EntityError::SigningFailed`] with negligible probability.
    pub fn sign(
        entity: &EntityId,
        key: &SecretKey,
        nonce: u64,
        tx: EntityTx,
    ) -> Result<Self, EntityError> {
        let signer = key.address();
        let digest = Self::signing_digest(entity, &signer, nonce, &tx);
        let signature = key
            .sign_digest(&digest)
            .map_err(|e| EntityError::SigningFailed(e.to_string()))?;
        Ok(SignedTx {
            signer,
            nonce,
            tx,
            signature,
        })
    }

    /// Checks the signature (through the verified-signature cache).
    ///
    /// # Errors
    /// [`EntityError::BadSignature`] if it is not the signer's over the digest.
    pub fn verify(&self, entity: &EntityId, height: u64) -> Result<(), EntityError> {
        let digest = Self::signing_digest(entity, &self.signer, self.nonce, &self.tx);
        if verify_cached(&self.signer, &digest, &self.signature) {
            Ok(())
        } else {
            Err(EntityError::BadSignature {
                what: "transaction",
                signer: self.signer,
                height,
            })
        }
    }

    /// The tx's identity: the canonical hash of the whole signed tx.
    pub fn hash(&self) -> [u8; 32] {
        self.canonical_hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateless_checks() {
        let pay = |from: &str, to: &str, amount: i64| EntityTx::Payment {
            from: from.into(),
            to: to.into(),
            token: 1,
            amount: BigInt::from(amount),
        };
        assert!(pay("a", "b", 5).check_stateless().is_ok());
        assert!(pay("a", "b", 0).check_stateless().is_err());
        assert!(pay("a", "b", -5).check_stateless().is_err());
        assert!(pay("a", "a", 5).check_stateless().is_err());
        let huge = EntityTx::Payment {
            from: "a".into(),
            to: "b".into(),
            token: 1,
            amount: BigInt::from(1) << 255usize,
        };
        assert!(huge.check_stateless().is_err());
        let long = EntityTx::Message {
            text: "x".repeat(TEXT_BYTES_MAX + 1),
        };
        assert!(long.check_stateless().is_err());
        let limit = EntityTx::Account {
            peer: [1; 32],
            tx: AccountTx::SetCreditLimit {
                token: 1,
                amount: BigInt::from(0),
            },
        };
        assert!(limit.check_stateless().is_ok());
        let negative = EntityTx::Account {
            peer: [1; 32],
            tx: AccountTx::SetCreditLimit {
                token: 1,
                amount: BigInt::from(-1),
            },
        };
        assert!(negative.check_stateless().is_err());
    }

    #[test]
    fn signatures_bind_entity_and_nonce() {
        let key = SecretKey::from_seed(b"tx-signer");
        let tx = EntityTx::Message { text: "hi".into() };
        let signed = SignedTx::sign(&[1; 32], &key, 1, tx).unwrap();
        assert!(signed.verify(&[1; 32], 1).is_ok());
        assert!(signed.verify(&[2; 32], 1).is_err());
        let mut replayed = signed.clone();
        replayed.nonce = 2;
        assert!(replayed.verify(&[1; 32], 1).is_err());
        assert_ne!(signed.hash(), replayed.hash());
    }
}
