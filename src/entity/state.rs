//! [`EntityState`]: the deterministic application state every replica of an entity agrees
//! on (board, reserves, nonces, accounts, open proposals, message log), its canonical hash,
//! and how one signed tx applies to it or is rejected.

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use num_traits::Zero;

use super::accounts::EntityAccount;
use super::gossip::EntityProfile;
use super::payment::{FeePolicy, Payments};
use super::rejection::{Rejection, RejectionKind};
use super::tx::check_amount;
use super::{
    Board, EntityError, EntityId, EntityTx, Holder, ProposalAction, SignedTx, TokenId,
    AMOUNT_BITS_MAX, OPEN_PROPOSALS_MAX,
};
use crate::account::{AccountTx, SubcontractEngine};
use crate::crypto::onion::OnionSecret;
use crate::crypto::{keccak256, tagged, Address, Canonical, RlpItem};

/// One entry of the entity's append-only log. The state hashes the log as a hash chain
/// ([`EntityState::log_hash`]), so a frame costs the same to hash however long the log is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogEntry {
    /// An [`EntityTx::Message`].
    Message {
        /// Who signed it.
        signer: Address,
        /// The text.
        text: String,
    },
    /// An account tx queued behind a frame in flight was refused when finally proposed.
    AccountTxRejected {
        /// The account's peer.
        #[serde(with = "crate::crypto::readable")]
        peer: EntityId,
        /// The refused account tx.
        tx: AccountTx,
        /// Why, typed.
        rejection: Rejection,
    },
    /// An [`EntityTx::ChainEvent`], kept for the chain adapter.
    ChainEvent {
        /// Who signed it.
        signer: Address,
        /// The opaque payload.
        #[serde(with = "crate::crypto::readable")]
        bytes: Vec<u8>,
    },
    /// A proposal reached the threshold and its action was applied.
    ProposalPassed {
        /// The proposal.
        id: u64,
        /// What was done.
        action: ProposalAction,
    },
    /// A proposal's no-shares made the threshold unreachable; it was closed.
    ProposalFailed {
        /// The proposal.
        id: u64,
    },
    /// This entity sent a routed payment.
    PaymentSent {
        /// Its hashlock.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
    },
    /// A payment this entity sent settled (every part revealed).
    PaymentSettled {
        /// Its hashlock.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
    },
    /// A payment this entity sent failed.
    PaymentFailed {
        /// Its hashlock.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
        /// Why, typed.
        rejection: Rejection,
    },
    /// This entity received a payment (all parts in; it revealed them).
    PaymentReceived {
        /// Its hashlock.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
    },
    /// This entity forwarded a payment and claimed its incoming lock (fee earned).
    PaymentForwarded {
        /// Its hashlock.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
    },
    /// This entity refused to forward or receive a lock and gave it back.
    PaymentRefused {
        /// The previous hop.
        #[serde(with = "crate::crypto::readable")]
        peer: EntityId,
        /// The lock's subcontract id.
        id: u64,
        /// Why, typed.
        rejection: Rejection,
    },
}

/// Canonical encoding: `tagged("xln/entity-log/<kind>/v1", fields)`.
impl Canonical for LogEntry {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            LogEntry::Message { signer, text } => tagged(
                b"xln/entity-log/message/v1",
                vec![signer.canonical_rlp(), text.canonical_rlp()],
            ),
            LogEntry::AccountTxRejected {
                peer,
                tx,
                rejection,
            } => tagged(
                b"xln/entity-log/account-tx-rejected/v2",
                vec![
                    peer.canonical_rlp(),
                    tx.canonical_rlp(),
                    rejection.canonical_rlp(),
                ],
            ),
            LogEntry::ChainEvent { signer, bytes } => tagged(
                b"xln/entity-log/chain-event/v1",
                vec![signer.canonical_rlp(), bytes.canonical_rlp()],
            ),
            LogEntry::ProposalPassed { id, action } => tagged(
                b"xln/entity-log/proposal-passed/v1",
                vec![id.canonical_rlp(), action.canonical_rlp()],
            ),
            LogEntry::ProposalFailed { id } => tagged(
                b"xln/entity-log/proposal-failed/v1",
                vec![id.canonical_rlp()],
            ),
            LogEntry::PaymentSent { hashlock } => tagged(
                b"xln/entity-log/payment-sent/v1",
                vec![hashlock.canonical_rlp()],
            ),
            LogEntry::PaymentSettled { hashlock } => tagged(
                b"xln/entity-log/payment-settled/v1",
                vec![hashlock.canonical_rlp()],
            ),
            LogEntry::PaymentFailed {
                hashlock,
                rejection,
            } => tagged(
                b"xln/entity-log/payment-failed/v1",
                vec![hashlock.canonical_rlp(), rejection.canonical_rlp()],
            ),
            LogEntry::PaymentReceived { hashlock } => tagged(
                b"xln/entity-log/payment-received/v1",
                vec![hashlock.canonical_rlp()],
            ),
            LogEntry::PaymentForwarded { hashlock } => tagged(
                b"xln/entity-log/payment-forwarded/v1",
                vec![hashlock.canonical_rlp()],
            ),
            LogEntry::PaymentRefused {
                peer,
                id,
                rejection,
            } => tagged(
                b"xln/entity-log/payment-refused/v1",
                vec![
                    peer.canonical_rlp(),
                    id.canonical_rlp(),
                    rejection.canonical_rlp(),
                ],
            ),
        }
    }
}

/// An open governance proposal and the votes cast so far (the proposer's yes included).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenProposal {
    /// Who proposed it.
    pub proposer: Address,
    /// What passing does.
    pub action: ProposalAction,
    /// Each voter's vote. Only voters on the current board count.
    pub votes: BTreeMap<Address, bool>,
}

/// Canonical encoding: `tagged("xln/entity-open-proposal/v1", [proposer, action, votes])`.
impl Canonical for OpenProposal {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-open-proposal/v1",
            vec![
                self.proposer.canonical_rlp(),
                self.action.canonical_rlp(),
                self.votes.canonical_rlp(),
            ],
        )
    }
}

/// A transaction of a frame that was rejected when applied: reported with every commit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RejectedTx {
    /// Its position in the frame.
    pub index: usize,
    /// Its hash ([`SignedTx::hash`]).
    #[serde(with = "crate::crypto::readable")]
    pub tx_hash: [u8; 32],
    /// Why (deterministic: every replica reports the same kind and text).
    pub rejection: Rejection,
}

/// The committed application state of an entity. `height`, `timestamp` and
/// `last_frame_hash` are those of the last committed frame (0 / genesis before any).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityState {
    /// The entity's id (its genesis board hash).
    #[serde(with = "crate::crypto::readable")]
    pub entity_id: EntityId,
    /// Height of the last committed frame.
    pub height: u64,
    /// Timestamp of the last committed frame.
    pub timestamp: u64,
    /// Hash of the last committed frame (zero at genesis).
    #[serde(with = "crate::crypto::readable")]
    pub last_frame_hash: [u8; 32],
    /// The board deciding the next frame.
    pub board: Board,
    /// Reserves per (holder, token); zero balances are not stored.
    #[serde(with = "crate::crypto::readable")]
    pub reserves: BTreeMap<(Holder, TokenId), BigInt>,
    /// Last committed nonce per signer.
    pub nonces: BTreeMap<Address, u64>,
    /// This entity's side of each account, by peer entity (see `accounts.rs`).
    #[serde(with = "crate::crypto::readable")]
    pub accounts: BTreeMap<EntityId, EntityAccount>,
    /// Open governance proposals by id.
    pub proposals: BTreeMap<u64, OpenProposal>,
    /// The append-only log.
    pub log: Vec<LogEntry>,
    /// Hash chain over `log`: `keccak(tagged("xln/entity-log-link/v1", [previous, entry]))`.
    #[serde(with = "crate::crypto::readable")]
    pub log_hash: [u8; 32],
    /// The secret the board shares for routed payments' onion layers (None: this entity
    /// neither forwards nor receives routed payments). Entity state is held only by the
    /// entity's own validators, so the secret is as private as their keys.
    #[serde(default)]
    pub onion: Option<OnionSecret>,
    /// How this entity forwards routed payments.
    #[serde(default)]
    pub fee_policy: FeePolicy,
    /// Routed payments sent, forwarded and received.
    #[serde(default)]
    pub payments: Payments,
    /// The profile the board last agreed to publish (see `gossip.rs`).
    #[serde(default)]
    pub profile: Option<EntityProfile>,
    /// Accounts with txs queued during the tx being applied (always empty between txs).
    #[serde(skip)]
    pub(super) dirty: BTreeSet<EntityId>,
}

/// Canonical encoding: `tagged("xln/entity-state/v2", [entity_id, height, timestamp,
/// last_frame_hash, board, reserves, nonces, accounts, proposals, log length, log_hash,
/// onion public key or empty, fee_policy, payments, published profile's digest or zero])`.
impl Canonical for EntityState {
    fn canonical_rlp(&self) -> RlpItem {
        let onion_key = self
            .onion
            .as_ref()
            .map(|o| o.public_key().to_vec())
            .unwrap_or_default();
        tagged(
            b"xln/entity-state/v2",
            vec![
                self.entity_id.canonical_rlp(),
                self.height.canonical_rlp(),
                self.timestamp.canonical_rlp(),
                self.last_frame_hash.canonical_rlp(),
                self.board.canonical_rlp(),
                self.reserves.canonical_rlp(),
                self.nonces.canonical_rlp(),
                self.accounts.canonical_rlp(),
                self.proposals.canonical_rlp(),
                (self.log.len() as u64).canonical_rlp(),
                self.log_hash.canonical_rlp(),
                onion_key.canonical_rlp(),
                self.fee_policy.canonical_rlp(),
                self.payments.canonical_rlp(),
                self.profile
                    .as_ref()
                    .map(|p| p.digest())
                    .unwrap_or_default()
                    .canonical_rlp(),
            ],
        )
    }
}

impl EntityState {
    /// The genesis state of an unregistered entity: id = board hash, height 0, the given
    /// reserves.
    ///
    /// # Errors
    /// [`EntityError::InvalidBoard`] for a bad board; [`EntityError::InvalidTx`] for a
    /// reserve that is not in `1..2^255` or a (holder, token) listed twice.
    pub fn genesis(
        board: Board,
        reserves: Vec<(Holder, TokenId, BigInt)>,
    ) -> Result<Self, EntityError> {
        board.validate()?;
        let mut map = BTreeMap::new();
        for (holder, token, amount) in reserves {
            check_amount("genesis reserve", &amount, false)
                .map_err(|reason| EntityError::InvalidTx { reason })?;
            if map.insert((holder.clone(), token), amount).is_some() {
                return Err(EntityError::InvalidTx {
                    reason: format!("genesis lists reserve of {holder} in token {token} twice"),
                });
            }
        }
        Ok(EntityState {
            entity_id: board.entity_id(),
            height: 0,
            timestamp: 0,
            last_frame_hash: [0; 32],
            board,
            reserves: map,
            nonces: BTreeMap::new(),
            accounts: BTreeMap::new(),
            proposals: BTreeMap::new(),
            log: Vec::new(),
            log_hash: [0; 32],
            onion: None,
            fee_policy: FeePolicy::default(),
            payments: Payments::default(),
            profile: None,
            dirty: BTreeSet::new(),
        })
    }

    /// The same genesis with an onion secret: the entity can forward and receive routed
    /// payments (its profile advertises the public key).
    pub fn with_onion(mut self, secret: OnionSecret) -> Self {
        self.onion = Some(secret);
        self
    }

    /// The canonical hash of the state.
    pub fn hash(&self) -> [u8; 32] {
        self.canonical_hash()
    }

    /// The reserve of `holder` in `token` (zero if none).
    pub fn reserve(&self, holder: &Holder, token: TokenId) -> BigInt {
        self.reserves
            .get(&(holder.clone(), token))
            .cloned()
            .unwrap_or_default()
    }

    /// The last committed nonce of `signer` (0 if none).
    pub fn nonce(&self, signer: &Address) -> u64 {
        self.nonces.get(signer).copied().unwrap_or(0)
    }

    /// Applies `txs` in order for a frame at `height` and `timestamp`: the next state (with
    /// `last_frame_hash` still this state's, since a frame cannot contain its own hash) and
    /// the rejected txs. Signatures are NOT checked here (the caller did).
    pub fn apply_txs(
        &self,
        height: u64,
        timestamp: u64,
        txs: &[SignedTx],
        engine: &mut dyn SubcontractEngine,
    ) -> (EntityState, Vec<RejectedTx>) {
        let hashes: Vec<[u8; 32]> = txs.iter().map(SignedTx::hash).collect();
        self.apply_hashed_txs(height, timestamp, txs, &hashes, engine)
    }

    /// As [`EntityState::apply_txs`], with the txs' hashes (same order) already known.
    pub(crate) fn apply_hashed_txs(
        &self,
        height: u64,
        timestamp: u64,
        txs: &[SignedTx],
        tx_hashes: &[[u8; 32]],
        engine: &mut dyn SubcontractEngine,
    ) -> (EntityState, Vec<RejectedTx>) {
        let mut next = self.clone();
        next.height = height;
        next.timestamp = timestamp;
        let mut rejected = Vec::new();
        for (index, (stx, tx_hash)) in txs.iter().zip(tx_hashes).enumerate() {
            if let Err(rejection) = next.apply_tx(stx, tx_hash, engine) {
                rejected.push(RejectedTx {
                    index,
                    tx_hash: *tx_hash,
                    rejection,
                });
            }
            next.dirty.clear();
        }
        (next, rejected)
    }

    /// Applies one signed tx, or rejects it with a reason and changes nothing (except the
    /// nonce, which a well-formed tx from a validator consumes even when it is rejected, so
    /// the signer's later txs stay valid).
    fn apply_tx(
        &mut self,
        stx: &SignedTx,
        tx_hash: &[u8; 32],
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), Rejection> {
        let last = self.nonce(&stx.signer);
        if stx.nonce <= last {
            return Err(Rejection::new(
                RejectionKind::Replay,
                format!(
                    "nonce {} of {} is not above its last committed nonce {last} (replay)",
                    stx.nonce, stx.signer
                ),
            ));
        }
        if !self.board.contains(&stx.signer) {
            return Err(Rejection::new(
                RejectionKind::BadSignature,
                format!("signer {} is not on the board", stx.signer),
            ));
        }
        self.nonces.insert(stx.signer, stx.nonce);
        stx.tx
            .check_stateless()
            .map_err(|e| Rejection::new(RejectionKind::Invalid, e.to_string()))?;
        match &stx.tx {
            EntityTx::Message { text } => self.append_log(LogEntry::Message {
                signer: stx.signer,
                text: text.clone(),
            }),
            EntityTx::AccountInput {
                from,
                message,
                hanko,
            } => return self.account_input(from, message, hanko, engine),
            EntityTx::Account { peer, tx } => return self.account_tx(peer, tx.clone(), engine),
            EntityTx::ChainEvent { bytes } => self.append_log(LogEntry::ChainEvent {
                signer: stx.signer,
                bytes: bytes.clone(),
            }),
            EntityTx::OpenAccount { peer, peer_board } => {
                return self.open_account(peer, peer_board)
            }
            EntityTx::Payment {
                from,
                to,
                token,
                amount,
            } => {
                return self
                    .pay(from, to, *token, amount)
                    .map_err(|r| Rejection::new(RejectionKind::Reserve, r))
            }
            EntityTx::Propose { id, action } => {
                return self
                    .propose(stx.signer, *id, action)
                    .map_err(Rejection::from)
            }
            EntityTx::Vote { id, yes } => {
                return self.vote(stx.signer, *id, *yes).map_err(Rejection::from)
            }
            EntityTx::SetFeePolicy(policy) => self.fee_policy = policy.clone(),
            EntityTx::PayRouted(payment) => {
                return self.pay_routed(&stx.signer, stx.nonce, tx_hash, payment, engine)
            }
            EntityTx::RetryPayment {
                hashlock,
                parts,
                reason,
            } => return self.retry_payment(hashlock, parts, reason, engine),
            EntityTx::Timers => self.run_timers(engine),
            EntityTx::PublishProfile => self.profile = Some(EntityProfile::of(self)),
        }
        Ok(())
    }

    fn pay(
        &mut self,
        from: &Holder,
        to: &Holder,
        token: TokenId,
        amount: &BigInt,
    ) -> Result<(), String> {
        let available = self.reserve(from, token);
        if available < *amount {
            return Err(format!(
                "insufficient reserve: {from} has {available} of token {token}, payment needs {amount}"
            ));
        }
        let credited = self.reserve(to, token) + amount;
        if credited.bits() > AMOUNT_BITS_MAX {
            return Err(format!(
                "reserve of {to} in token {token} would reach {credited}, not below 2^{AMOUNT_BITS_MAX}"
            ));
        }
        self.set_reserve(from, token, available - amount);
        self.set_reserve(to, token, credited);
        Ok(())
    }

    fn set_reserve(&mut self, holder: &Holder, token: TokenId, amount: BigInt) {
        let key = (holder.clone(), token);
        if amount.is_zero() {
            self.reserves.remove(&key);
        } else {
            self.reserves.insert(key, amount);
        }
    }

    fn propose(&mut self, signer: Address, id: u64, action: &ProposalAction) -> Result<(), String> {
        if self.proposals.contains_key(&id) {
            return Err(format!("proposal {id} is already open"));
        }
        if self.proposals.len() >= OPEN_PROPOSALS_MAX {
            return Err(format!(
                "{OPEN_PROPOSALS_MAX} proposals are open, the most allowed"
            ));
        }
        let votes = BTreeMap::from([(signer, true)]);
        self.proposals.insert(
            id,
            OpenProposal {
                proposer: signer,
                action: action.clone(),
                votes,
            },
        );
        self.tally(id);
        Ok(())
    }

    fn vote(&mut self, signer: Address, id: u64, yes: bool) -> Result<(), String> {
        let proposal = self
            .proposals
            .get_mut(&id)
            .ok_or_else(|| format!("no open proposal {id}"))?;
        if proposal.votes.contains_key(&signer) {
            return Err(format!("{signer} already voted on proposal {id}"));
        }
        proposal.votes.insert(signer, yes);
        self.tally(id);
        Ok(())
    }

    /// Decides proposal `id` if the CURRENT board's yes-shares reach the threshold (apply
    /// the action) or its no-shares make that impossible (close it).
    fn tally(&mut self, id: u64) {
        let Some(proposal) = self.proposals.get(&id) else {
            return;
        };
        let side = |yes: bool| {
            self.board.weight(
                proposal
                    .votes
                    .iter()
                    .filter(move |(_, v)| **v == yes)
                    .map(|(a, _)| a),
            )
        };
        let (yes, no) = (side(true), side(false));
        let unreachable = self.board.total_shares().saturating_sub(no) < self.board.threshold;
        if self.board.is_quorum(yes) {
            let action = proposal.action.clone();
            self.proposals.remove(&id);
            if let ProposalAction::BoardChange(board) = &action {
                self.board = board.clone();
            }
            self.append_log(LogEntry::ProposalPassed { id, action });
        } else if unreachable {
            self.proposals.remove(&id);
            self.append_log(LogEntry::ProposalFailed { id });
        }
    }

    pub(super) fn append_log(&mut self, entry: LogEntry) {
        let link = tagged(
            b"xln/entity-log-link/v1",
            vec![self.log_hash.canonical_rlp(), entry.canonical_rlp()],
        );
        self.log_hash = keccak256(&link.encode());
        self.log.push(entry);
    }
}

/// Short hex of a 32-byte id for messages.
pub(crate) fn hex32(bytes: &[u8; 32]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::NoSubcontracts;
    use crate::crypto::SecretKey;

    fn setup() -> (Vec<SecretKey>, EntityState) {
        let keys: Vec<SecretKey> = (0..3u8).map(|i| SecretKey::from_seed(&[i])).collect();
        let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let board = Board::equal(&addrs, 2).unwrap();
        let state =
            EntityState::genesis(board, vec![("alice".into(), 1, BigInt::from(100))]).unwrap();
        (keys, state)
    }

    fn signed(state: &EntityState, key: &SecretKey, nonce: u64, tx: EntityTx) -> SignedTx {
        SignedTx::sign(&state.entity_id, key, nonce, tx).unwrap()
    }

    #[test]
    fn payments_move_or_reject() {
        let (keys, s) = setup();
        let pay = |amount: i64| EntityTx::Payment {
            from: "alice".into(),
            to: "bob".into(),
            token: 1,
            amount: BigInt::from(amount),
        };
        let txs = vec![
            signed(&s, &keys[0], 1, pay(60)),
            signed(&s, &keys[0], 2, pay(60)),
            signed(&s, &keys[0], 2, pay(1)),
        ];
        let (next, rejected) = s.apply_txs(1, 5, &txs, &mut NoSubcontracts);
        assert_eq!(next.reserve(&"alice".into(), 1), BigInt::from(40));
        assert_eq!(next.reserve(&"bob".into(), 1), BigInt::from(60));
        assert_eq!(rejected.len(), 2);
        assert!(rejected[0].rejection.reason.contains("insufficient"));
        assert!(rejected[1].rejection.reason.contains("replay"));
        assert_eq!(next.nonce(&keys[0].address()), 2);
        assert_ne!(next.hash(), s.hash());
    }

    #[test]
    fn board_change_by_vote() {
        let (keys, s) = setup();
        let new_board = Board::equal(&[keys[0].address()], 1).unwrap();
        let txs = vec![
            signed(
                &s,
                &keys[0],
                1,
                EntityTx::Propose {
                    id: 7,
                    action: ProposalAction::BoardChange(new_board.clone()),
                },
            ),
            signed(&s, &keys[1], 1, EntityTx::Vote { id: 7, yes: true }),
            signed(&s, &keys[2], 1, EntityTx::Vote { id: 7, yes: true }),
        ];
        let (next, rejected) = s.apply_txs(1, 1, &txs, &mut NoSubcontracts);
        assert_eq!(next.board, new_board);
        assert_eq!(rejected.len(), 1, "third vote: proposal already decided");
        assert!(matches!(
            next.log.last(),
            Some(LogEntry::ProposalPassed { id: 7, .. })
        ));
    }

    #[test]
    fn accounts_open_with_the_peers_board_and_propose_credit_limits() {
        let (keys, s) = setup();
        let peer_key = SecretKey::from_seed(b"peer");
        let peer_board = Board::equal(&[peer_key.address()], 1).unwrap();
        let peer = peer_board.entity_id();
        let limit = EntityTx::Account {
            peer,
            tx: AccountTx::SetCreditLimit {
                token: 1,
                amount: BigInt::from(5),
            },
        };
        let open = |board: Board| EntityTx::OpenAccount {
            peer,
            peer_board: board,
        };
        let txs = vec![
            signed(&s, &keys[0], 1, limit.clone()),
            signed(&s, &keys[0], 2, open(s.board.clone())),
            signed(&s, &keys[0], 3, open(peer_board.clone())),
            signed(&s, &keys[0], 4, limit),
        ];
        let (next, rejected) = s.apply_txs(1, 1, &txs, &mut NoSubcontracts);
        let reasons: Vec<&str> = rejected
            .iter()
            .map(|r| r.rejection.reason.as_str())
            .collect();
        assert_eq!(rejected.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("no open account"));
        assert!(reasons[1].contains("not to the peer's id"));
        let account = &next.accounts[&peer];
        assert!(
            account.machine.pending.is_some() && account.unconfirmed.len() == 1,
            "the credit limit is proposed at once"
        );
        assert_eq!(account.updated_at, 1);
        assert_ne!(next.hash(), s.hash());
    }
}
