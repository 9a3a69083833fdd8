//! Accounts between entities. An entity keeps, per peer entity, its side of a bilateral
//! account machine (`src/account`) *inside* its consensus state: opening an account,
//! paying through it, setting a credit limit and handing it the peer's messages are entity
//! txs, so the whole board agrees on every account frame. The machine runs with
//! [`Seal::Quorum`]: it never touches a validator key. After a frame commits, every
//! validator signs each account message the frame produced ([`AccountMessage::hanko_digest`])
//! and sends its part to every replica of the peer; a replica that holds parts worth the
//! peer board's threshold (a *hanko*) submits the message with them as an
//! [`EntityTx::AccountInput`], which every replica verifies again when the frame applies it.
//! So no account frame moves without a quorum of each side (2-of-2 between boards).
//!
//! Lost parts are re-sent. The machine numbers messages and accepts only the next one, so
//! a side keeps every message the peer may not have processed yet (`unconfirmed`, in
//! order — a proposal rolled back by the left-wins rule included, since its number was
//! used) and re-sends them all: on a timer while its own proposal waits for an ack, and
//! whenever the peer repeats a message this side already handled (the peer lacks a reply).
//! A message is confirmed when the peer shows it processed it: an ack of our proposal, or
//! a proposal built on the frame our ack committed. Entity accounts carry every account tx:
//! payments, credit limits, chain deltas, code installs and subcontract calls, which run in
//! the engine the host passes in (the language sandbox), identically on every replica.
//!
//! [`EntityTx::AccountInput`]: super::EntityTx::AccountInput

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;

use super::message::verify_cached;
use super::rejection::{Rejection, RejectionKind};
use super::replica::EntityOutput;
use super::state::hex32;
use super::{
    Board, EntityError, EntityId, EntityMessage, EntityReplica, EntityState, EntityTx, TokenId,
};
use crate::account::{
    AccountMachine, AccountMessage, AccountMessageBody, AccountTx, Seal, SubcontractEngine,
};
use crate::crypto::{tagged, Address, Canonical, RlpItem, SecretKey, Signature};

/// Most hanko parts a replica keeps while waiting for a quorum; older ones are dropped
/// (they are re-sent), so a flood of parts cannot exhaust memory.
pub const HANKO_PARTS_MAX: usize = 4_096;

/// The 20-byte address an entity has inside account machines and on chain: the last 20
/// bytes of its id. The side with the lower address is left.
pub fn entity_address(id: &EntityId) -> Address {
    let mut bytes = [0u8; 20];
    bytes.copy_from_slice(&id[12..]);
    Address(bytes)
}

/// Most accounts one entity may have open (a hub's scale; bounds the state).
pub const ACCOUNTS_MAX: usize = 100_000;

/// One entity's side of an account with a peer entity.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EntityAccount {
    /// The peer's board, whose quorum must seal every message from the peer.
    pub peer_board: Board,
    /// This side's machine (`me`/`peer` are the entities' [`entity_address`]es).
    pub machine: AccountMachine,
    /// Messages sent that the peer has not shown it processed, in counter order.
    pub unconfirmed: Vec<AccountMessage>,
    /// Height of the entity frame that last produced a message here.
    pub updated_at: u64,
    /// The counter this side's subcontract ids come from (see [`EntityAccount::allocate_subcontract_id`]).
    #[serde(default)]
    pub next_subcontract: u64,
    /// Locks of ours whose timeout was already asked for (so it is asked once).
    #[serde(default)]
    pub timeouts_asked: BTreeSet<u64>,
    /// The entity height at which this side was opened.
    #[serde(default)]
    pub opened_at: u64,
    /// Locks of ours whose timeout had long passed when this side first could act on it
    /// (it was away): lock id -> the tick it noticed. Asked for once the resync window
    /// ([`super::payment::absence_windows`]) has passed, so the peer's in-time reveal can
    /// still arrive.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub late_timeouts: BTreeMap<u64, u64>,
}

impl PartialEq for EntityAccount {
    fn eq(&self, other: &Self) -> bool {
        self.canonical_rlp() == other.canonical_rlp()
    }
}

impl Eq for EntityAccount {}

/// Canonical encoding: `tagged("xln/entity-account/v2", [peer_board, machine,
/// unconfirmed, updated_at, next_subcontract, opened_at, timeouts_asked, late_timeouts?])`
/// (`late_timeouts` as `[[id, noticed], ...]`, present only when not empty).
impl Canonical for EntityAccount {
    fn canonical_rlp(&self) -> RlpItem {
        let mut fields = vec![
            self.peer_board.canonical_rlp(),
            self.machine.canonical_rlp(),
            self.unconfirmed.canonical_rlp(),
            self.updated_at.canonical_rlp(),
            self.next_subcontract.canonical_rlp(),
            self.opened_at.canonical_rlp(),
            self.timeouts_asked
                .iter()
                .copied()
                .collect::<Vec<u64>>()
                .canonical_rlp(),
        ];
        // Appended only when there is one, so a state without late timeouts hashes as
        // before this field existed (committed hashes and snapshots stay valid).
        if !self.late_timeouts.is_empty() {
            fields.push(
                self.late_timeouts
                    .iter()
                    .map(|(id, at)| vec![*id, *at])
                    .collect::<Vec<Vec<u64>>>()
                    .canonical_rlp(),
            );
        }
        tagged(b"xln/entity-account/v2", fields)
    }
}

impl EntityAccount {
    /// A fresh subcontract id for this side: `(n << 1) | side`, so the two sides of the
    /// account never choose the same one.
    pub fn allocate_subcontract_id(&mut self) -> u64 {
        let n = self.next_subcontract.max(1);
        self.next_subcontract = n + 1;
        super::payment::subcontract_id(n, self.machine.side)
    }

    /// The id the next [`EntityAccount::allocate_subcontract_id`] will return.
    pub fn next_subcontract_id(&self) -> u64 {
        super::payment::subcontract_id(self.next_subcontract.max(1), self.machine.side)
    }

    /// Whether `code` is installed, in the frame in flight, or queued.
    pub fn has_code(&self, code: &[u8; 32]) -> bool {
        let installs = |tx: &AccountTx| matches!(tx, AccountTx::InstallCode { code: c } if crate::crypto::keccak256(c) == *code);
        self.machine.state.codes.contains_key(code)
            || self.machine.mempool.iter().any(installs)
            || self
                .machine
                .pending
                .as_ref()
                .is_some_and(|f| f.txs.iter().any(installs))
    }

    /// The messages this side may have to send again.
    pub fn outbox(&self) -> impl Iterator<Item = &AccountMessage> {
        self.unconfirmed.iter()
    }

    /// Drops the messages up to `counter`: the peer has processed them.
    fn confirm(&mut self, counter: u64) {
        self.unconfirmed.retain(|m| m.counter > counter);
    }

    /// What an incoming (already verified and applied) peer message proves the peer
    /// processed of ours: an ack covers our proposal it acks; a proposal built on the frame
    /// our own ack committed covers that ack.
    fn confirmed_by(&self, incoming: &AccountMessage, committed_before: &[u8; 32]) -> u64 {
        let mut confirmed = 0;
        for m in &self.unconfirmed {
            let covered = match (&incoming.body, &m.body) {
                (
                    AccountMessageBody::Ack { frame_hash, .. },
                    AccountMessageBody::Propose { frame, .. },
                ) => frame.hash() == *frame_hash,
                (
                    AccountMessageBody::Propose { frame, .. },
                    AccountMessageBody::Ack { frame_hash, .. },
                ) => frame.prev_frame_hash == *frame_hash && frame_hash == committed_before,
                (
                    AccountMessageBody::Decline { frame_hash, .. },
                    AccountMessageBody::Propose { frame, .. },
                ) => frame.hash() == *frame_hash,
                // A decline of ours is confirmed once the peer proposes anything after it.
                (AccountMessageBody::Propose { .. }, AccountMessageBody::Decline { .. }) => true,
                _ => false,
            };
            if covered {
                confirmed = confirmed.max(m.counter);
            }
        }
        confirmed
    }
}

/// Signatures of a board's validators over one digest, by signer.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hanko(pub BTreeMap<Address, Signature>);

/// Canonical encoding: `tagged("xln/hanko/v1", [[signer, signature] ...])` by signer.
impl Canonical for Hanko {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(b"xln/hanko/v1", vec![self.0.canonical_rlp()])
    }
}

impl Hanko {
    /// Checks that every signature is a `board` validator's over `digest` and that their
    /// shares reach the threshold.
    ///
    /// # Errors
    /// Why the hanko is not a quorum's seal.
    pub fn verify(&self, board: &Board, digest: &[u8; 32]) -> Result<(), String> {
        if self.0.len() > board.validators.len() {
            return Err(format!(
                "hanko of {} signatures for a board of {}",
                self.0.len(),
                board.validators.len()
            ));
        }
        for (signer, signature) in &self.0 {
            if !board.contains(signer) {
                return Err(format!("hanko signer {signer} is not on the peer's board"));
            }
            if !verify_cached(signer, digest, signature) {
                return Err(format!("hanko signature of {signer} does not verify"));
            }
        }
        let shares = board.weight(self.0.keys());
        if !board.is_quorum(shares) {
            return Err(format!(
                "hanko carries {shares} shares, the peer's threshold is {}",
                board.threshold
            ));
        }
        Ok(())
    }
}

/// One validator's part of a hanko: its signature over `message`'s hanko digest, sent by
/// a replica of entity `from` to every replica of entity `to`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountPart {
    /// The sending entity.
    #[serde(with = "crate::crypto::readable")]
    pub from: EntityId,
    /// The receiving entity.
    #[serde(with = "crate::crypto::readable")]
    pub to: EntityId,
    /// The account message (its own signature field is [`crate::account::UNSEALED`]).
    pub message: AccountMessage,
    /// The validator that signed.
    pub signer: Address,
    /// Its signature over [`AccountMessage::hanko_digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged("xln/account-part/v1", [from, to, message, signer,
/// signature])`.
impl Canonical for AccountPart {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/account-part/v1",
            vec![
                self.from.canonical_rlp(),
                self.to.canonical_rlp(),
                self.message.canonical_rlp(),
                self.signer.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

/// A validator's note that its entity opened an account with `to`, carrying the entity's
/// board so the peer can open its side (entities accept inbound accounts: an account
/// without credit or collateral risks nothing). Answered by the peer's own note once it
/// has opened, which stops the re-sends.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountOpen {
    /// The entity that opened.
    #[serde(with = "crate::crypto::readable")]
    pub from: EntityId,
    /// The peer.
    #[serde(with = "crate::crypto::readable")]
    pub to: EntityId,
    /// The opener's board (hashes to `from` for an unregistered entity).
    pub board: Board,
    /// An answer to the peer's own note (not answered again, so notes never ping-pong).
    pub reply: bool,
    /// The validator that signed.
    pub signer: Address,
    /// Its signature over [`AccountOpen::digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged("xln/account-open/v1", [from, to, board, reply, signer,
/// signature])`.
impl Canonical for AccountOpen {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/account-open/v1",
            vec![
                self.from.canonical_rlp(),
                self.to.canonical_rlp(),
                self.board.canonical_rlp(),
                self.reply.canonical_rlp(),
                self.signer.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

impl AccountOpen {
    /// What the validator signs: `tagged("xln/account-open-seal/v1", [from, to, board,
    /// reply])`.
    pub fn digest(from: &EntityId, to: &EntityId, board: &Board, reply: bool) -> [u8; 32] {
        tagged(
            b"xln/account-open-seal/v1",
            vec![
                from.canonical_rlp(),
                to.canonical_rlp(),
                board.canonical_rlp(),
                reply.canonical_rlp(),
            ],
        )
        .canonical_hash()
    }
}

/// Parts of one message gathered by a replica, waiting for a quorum.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct PendingHanko {
    #[serde(with = "crate::crypto::readable")]
    pub from: EntityId,
    pub message: AccountMessage,
    pub hanko: Hanko,
    pub submitted: bool,
}

// ----- the consensus side: applied identically by every replica ---------------------

/// Most propose-and-react rounds one entity tx may cause across accounts (each failure
/// moves one hop upstream, so a few suffice; the bound only guards against a logic error).
const FLUSH_ROUNDS_MAX: usize = 64;

impl EntityState {
    /// Opens this entity's side of an account with `peer`, whose genesis board is
    /// `peer_board` (checked against the id, so the board cannot be made up).
    pub(super) fn open_account(
        &mut self,
        peer: &EntityId,
        peer_board: &Board,
    ) -> Result<(), Rejection> {
        let refused = |r: String| Rejection::new(RejectionKind::Refused, r);
        if *peer == self.entity_id {
            return Err(refused(
                "an entity cannot open an account with itself".into(),
            ));
        }
        if self.accounts.contains_key(peer) {
            return Err(refused(format!(
                "account with peer {} is already open",
                hex32(peer)
            )));
        }
        if self.accounts.len() >= ACCOUNTS_MAX {
            return Err(Rejection::new(
                RejectionKind::Capacity,
                format!("{ACCOUNTS_MAX} accounts are open, the most allowed"),
            ));
        }
        peer_board
            .validate()
            .map_err(|e| Rejection::new(RejectionKind::Invalid, e.to_string()))?;
        if peer_board.entity_id() != *peer {
            return Err(Rejection::new(
                RejectionKind::Invalid,
                format!(
                    "the board given for peer {} hashes to {}, not to the peer's id",
                    hex32(peer),
                    hex32(&peer_board.entity_id())
                ),
            ));
        }
        let machine = AccountMachine::new(entity_address(&self.entity_id), entity_address(peer));
        self.accounts.insert(
            *peer,
            EntityAccount {
                peer_board: peer_board.clone(),
                machine,
                unconfirmed: Vec::new(),
                updated_at: 0,
                next_subcontract: 1,
                timeouts_asked: BTreeSet::new(),
                late_timeouts: BTreeMap::new(),
                opened_at: self.height,
            },
        );
        Ok(())
    }

    /// Queues an account tx with `peer` and proposes at once if no frame is in flight. A tx
    /// the proposal refuses (beyond capacity, say) rejects the entity tx; one queued behind
    /// a frame in flight is proposed later, and a refusal then is logged. A subcontract
    /// open gets its id from the account's counter (whatever id the tx carried).
    pub(super) fn account_tx(
        &mut self,
        peer: &EntityId,
        tx: AccountTx,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), Rejection> {
        let account = self.accounts.get_mut(peer).ok_or_else(|| {
            Rejection::new(
                RejectionKind::Unknown,
                format!("no open account with peer {}", hex32(peer)),
            )
        })?;
        let tx = match tx {
            AccountTx::OpenSubcontract {
                code,
                holds,
                params,
                ..
            } => AccountTx::OpenSubcontract {
                id: account.allocate_subcontract_id(),
                code,
                holds,
                params,
            },
            other => other,
        };
        let idle = account.machine.pending.is_none() && account.machine.mempool.is_empty();
        account.machine.enqueue(tx.clone());
        if !idle {
            return Ok(());
        }
        let refused = self.propose_account(peer, engine);
        let mut first = None;
        for (refused_tx, why) in refused {
            if refused_tx == tx && first.is_none() {
                first = Some(why);
            } else {
                self.on_own_tx_refused(peer, &refused_tx, why);
            }
        }
        self.flush_accounts(engine);
        match first {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// Hands the peer's sealed message to the account: the hanko must be a quorum of the
    /// peer's board over the message's digest; the machine then checks counters, heights,
    /// hashes and capacities. Whatever the message committed (the peer's frame, or our own
    /// frame it acknowledges) is then acted on: locks forwarded, preimages passed upstream,
    /// payments settled or failed. Replies and the next proposals go to the outbox.
    pub(super) fn account_input(
        &mut self,
        from: &EntityId,
        message: &AccountMessage,
        hanko: &Hanko,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), Rejection> {
        let account = self.accounts.get_mut(from).ok_or_else(|| {
            Rejection::new(
                RejectionKind::Unknown,
                format!("no open account with peer {}", hex32(from)),
            )
        })?;
        hanko
            .verify(&account.peer_board, &message.hanko_digest())
            .map_err(|r| Rejection::new(RejectionKind::BadSignature, r))?;
        let committed_before = account.machine.state.last_frame_hash;
        let pending_before = account.machine.pending.clone();
        let height_before = account.machine.state.height;
        let now = self.timestamp;
        let timed_out = account.timeouts_asked.clone();
        let decline = |frame: &crate::account::AccountFrame,
                       state: &crate::account::AccountState| {
            late_reveal(
                frame,
                state,
                account_side(state, &entity_address(&self.entity_id)),
                now,
                &timed_out,
            )
        };
        let account = self.accounts.get_mut(from).ok_or_else(|| {
            Rejection::new(RejectionKind::Unknown, "the account closed meanwhile")
        })?;
        let replies = account
            .machine
            .receive_with(Seal::Quorum, message, engine, &decline)
            .map_err(|e| Rejection::account(&hex32(from), &e))?;
        let declined = account.machine.take_declined();
        let height_after = account.machine.state.height;
        let confirmed = account.confirmed_by(message, &committed_before);
        account.confirm(confirmed);
        let height = self.height;
        if !replies.is_empty() {
            account.unconfirmed.extend(replies);
            account.updated_at = height;
        }
        // Rolled back by the left-wins rule: our txs are queued again.
        if account.machine.pending.is_none() && !account.machine.mempool.is_empty() {
            self.dirty.insert(*from);
        }
        for (tx, reason) in declined {
            let why = Rejection::new(
                RejectionKind::Timeout,
                format!("declined by {}: {reason}", hex32(from)),
            );
            self.on_own_tx_refused(from, &tx, why);
        }
        match &message.body {
            AccountMessageBody::Propose { frame, .. } if height_after == frame.height => {
                self.on_peer_frame(from, &frame.txs);
            }
            AccountMessageBody::Ack { .. } if height_after > height_before => {
                if let Some(frame) = pending_before {
                    self.on_own_frame(from, &frame.txs);
                }
            }
            _ => {}
        }
        self.dirty.insert(*from);
        self.flush_accounts(engine);
        Ok(())
    }

    /// Proposes every account with queued txs and no frame in flight, reacts to the txs a
    /// proposal refuses (which may queue more, in other accounts), until nothing is left.
    pub(super) fn flush_accounts(&mut self, engine: &mut dyn SubcontractEngine) {
        self.reveal_cleared_holds();
        for _ in 0..FLUSH_ROUNDS_MAX {
            let dirty = std::mem::take(&mut self.dirty);
            if dirty.is_empty() {
                return;
            }
            for peer in dirty {
                for (tx, why) in self.propose_account(&peer, engine) {
                    self.on_own_tx_refused(&peer, &tx, why);
                }
            }
        }
    }

    /// Proposes the account's queued txs if no frame is in flight; returns the txs the
    /// proposal refused, with why.
    fn propose_account(
        &mut self,
        peer: &EntityId,
        engine: &mut dyn SubcontractEngine,
    ) -> Vec<(AccountTx, Rejection)> {
        let (height, timestamp) = (self.height, self.timestamp);
        let Some(account) = self.accounts.get_mut(peer) else {
            return Vec::new();
        };
        if account.machine.pending.is_some() || account.machine.mempool.is_empty() {
            return Vec::new();
        }
        match account
            .machine
            .propose_sealed(Seal::Quorum, timestamp, engine)
        {
            Ok(outcome) => {
                if let Some(message) = outcome.message {
                    account.unconfirmed.push(message);
                    account.updated_at = height;
                }
                outcome
                    .rejected
                    .into_iter()
                    .map(|(tx, e)| (tx, Rejection::account(&hex32(peer), &e)))
                    .collect()
            }
            // Only a key mismatch or a signing failure can fail here, and a quorum side
            // has neither; the queue stays for the next attempt.
            Err(_) => Vec::new(),
        }
    }

    /// Δ of `token` in the account with `peer` as this entity sees it (left's balance).
    pub fn account_delta(&self, peer: &EntityId, token: TokenId) -> Option<BigInt> {
        self.accounts.get(peer).map(|a| {
            let d = a.machine.state.delta(token);
            d.ondelta + d.offdelta
        })
    }
}

/// The side `me` has in an account state.
fn account_side(
    state: &crate::account::AccountState,
    me: &crate::crypto::Address,
) -> crate::account::Side {
    if state.left == *me {
        crate::account::Side::Left
    } else {
        crate::account::Side::Right
    }
}

/// The decline rule of entity accounts: a peer frame that reveals (claims) an HTLC this
/// side locked is declined when this side's own clock `now` has reached the lock's timeout
/// AND this side has already asked to time the lock out (`timed_out`, the entity's
/// `timeouts_asked`). The frame's own timestamp (the peer's clock when its board decided)
/// must be before the timeout in any case (the HTLC code checks it).
///
/// Why both: off-chain, a reveal that reaches us late looks the same whether the peer's
/// board lagged (a partitioned peer commits an old proposal later) or we were away. If we
/// were here at the timeout, we asked for our lock back then, and may have let our own
/// upstream lock go: accepting the late reveal would make us pay downstream what we can no
/// longer claim upstream, so the absent peer bears it. If we were away (we never asked), the
/// peer revealed in time and we bear it: an honest intermediary next to an absent one is
/// never the one that loses. A peer that withholds a reveal past the timeout and back-dates
/// its frame gains nothing: an entity that was online asked at the timeout.
///
/// "Were we here" is read off our own clock when we first act on the expired lock: within
/// the grace window after its timeout we were (we ask at once); later, we were away, and we
/// ask only after a resync window (`absence_windows` and `run_timers` in payment.rs), so
/// the peer's in-time reveal — even one it could not send while we did not answer its
/// frame in flight — reaches us and is accepted before we take the lock back.
fn late_reveal(
    frame: &crate::account::AccountFrame,
    state: &crate::account::AccountState,
    me: crate::account::Side,
    now: u64,
    timed_out: &BTreeSet<u64>,
) -> Option<String> {
    let htlc = super::payment::htlc_code_hash();
    frame.txs.iter().find_map(|tx| match tx {
        AccountTx::CallSubcontract { id, method, .. } if method == "reveal" => {
            let lock = state.subcontracts.get(id)?;
            let timeout = super::payment::lock_timeout(&lock.params)?;
            (lock.owner == me && lock.code == htlc && now >= timeout && timed_out.contains(id))
                .then(|| {
                    format!(
                        "the reveal of lock {id} comes after its timeout {timeout}, which this \
                         side acted on (its clock is {now})"
                    )
                })
        }
        _ => None,
    })
}

/// Is the message one the account has not handled yet (its counter is the next one or
/// later)? Stale messages are repeats: the sender lost our reply.
pub(super) fn is_fresh(account: &EntityAccount, message: &AccountMessage) -> bool {
    message.counter > account.machine.received
}

// ----- the replica side: signing, gathering and re-sending hanko parts -----------------

/// A replica's account work outside consensus: parts gathered toward hankos, the height up
/// to which it has sealed its entity's account messages, and resend bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountLinks {
    #[serde(with = "crate::crypto::readable")]
    pub(super) pending: BTreeMap<[u8; 32], PendingHanko>,
    pub(super) sealed_height: u64,
    pub(super) proposals_resent_at: Option<u64>,
    /// Peers that repeated a message this side already handled: our unconfirmed messages
    /// are re-sent to them.
    #[serde(with = "crate::crypto::readable")]
    pub(super) replies_wanted: std::collections::BTreeSet<EntityId>,
    #[serde(with = "crate::crypto::readable")]
    pub(super) replies_resent_at: BTreeMap<EntityId, u64>,
    /// When this replica last asked for [`EntityTx::Timers`].
    #[serde(default)]
    pub(super) timers_asked_at: Option<u64>,
    /// Peers known to have opened their side (their [`AccountOpen`] arrived).
    #[serde(default, with = "crate::crypto::readable")]
    pub(super) peers_opened: std::collections::BTreeSet<EntityId>,
    /// When this replica last re-sent its open notes.
    #[serde(default)]
    pub(super) opens_resent_at: Option<u64>,
}

impl EntityReplica {
    /// Stores one validator's part of a peer entity's account message after checking it is
    /// for one of our accounts and signed by a validator of the peer's board.
    pub(super) fn on_account_part(&mut self, part: AccountPart) -> Result<(), EntityError> {
        let bad = |reason: String| EntityError::BadCertificate {
            what: "account part",
            reason,
        };
        if part.to != self.state.entity_id {
            return Err(bad(format!("addressed to entity {}", hex32(&part.to))));
        }
        let Some(account) = self.state.accounts.get(&part.from) else {
            // Not open here (yet): the sender re-sends until we answer.
            return Err(bad(format!("no open account with {}", hex32(&part.from))));
        };
        let message = &part.message;
        if message.from != account.machine.peer || message.to != account.machine.me {
            return Err(bad("message addresses do not match the account".into()));
        }
        if !account.peer_board.contains(&part.signer) {
            return Err(bad(format!("{} is not on the peer's board", part.signer)));
        }
        let digest = message.hanko_digest();
        if !verify_cached(&part.signer, &digest, &part.signature) {
            return Err(EntityError::BadSignature {
                what: "account part",
                signer: part.signer,
                height: 0,
            });
        }
        if !is_fresh(account, message) {
            self.links.replies_wanted.insert(part.from);
            return Ok(());
        }
        if self.links.pending.len() >= HANKO_PARTS_MAX && !self.links.pending.contains_key(&digest)
        {
            self.links.pending.pop_first();
        }
        let entry = self
            .links
            .pending
            .entry(digest)
            .or_insert_with(|| PendingHanko {
                from: part.from,
                message: part.message.clone(),
                hanko: Hanko::default(),
                submitted: false,
            });
        entry.hanko.0.insert(part.signer, part.signature);
        Ok(())
    }

    /// Whether an account still waits for the peer: a proposal not yet acked, or an
    /// account the peer has not shown it opened yet.
    pub(super) fn accounts_busy(&self) -> bool {
        self.state.accounts.iter().any(|(peer, a)| {
            a.machine.pending.is_some()
                || (a.machine.received == 0 && !self.links.peers_opened.contains(peer))
        })
    }

    /// After every input: seal the account messages of newly committed frames, answer
    /// peers that repeated themselves, re-send unacked proposals on the resend timer, and
    /// submit every message whose hanko is complete.
    pub(super) fn account_work(
        &mut self,
        key: &SecretKey,
        now: u64,
        on_tick: bool,
        out: &mut Vec<EntityOutput>,
    ) {
        if !self.state.board.contains(&self.me) {
            return;
        }
        let sealed = self.links.sealed_height;
        if self.state.height > sealed {
            for (peer, account) in &self.state.accounts {
                if account.opened_at > sealed {
                    self.send_open(key, peer, false, out);
                }
                if account.updated_at > sealed {
                    self.send_parts(key, peer, account.outbox(), out);
                }
            }
            self.links.sealed_height = self.state.height;
        }
        let opens_due = self
            .links
            .opens_resent_at
            .is_none_or(|t| now >= t.saturating_add(self.config.resend_interval));
        if on_tick && opens_due {
            let waiting: Vec<EntityId> = self
                .state
                .accounts
                .iter()
                .filter(|(p, a)| a.machine.received == 0 && !self.links.peers_opened.contains(*p))
                .map(|(p, _)| *p)
                .collect();
            if !waiting.is_empty() {
                self.links.opens_resent_at = Some(now);
                for peer in waiting {
                    self.send_open(key, &peer, false, out);
                }
            }
        }
        let interval = self.config.resend_interval;
        for peer in std::mem::take(&mut self.links.replies_wanted) {
            let due = self
                .links
                .replies_resent_at
                .get(&peer)
                .is_none_or(|t| now >= t.saturating_add(interval));
            if let (true, Some(account)) = (due, self.state.accounts.get(&peer)) {
                self.links.replies_resent_at.insert(peer, now);
                self.send_parts(key, &peer, account.outbox(), out);
            }
        }
        let resend_due = self
            .links
            .proposals_resent_at
            .is_none_or(|t| now >= t.saturating_add(interval));
        if on_tick && resend_due && self.accounts_busy() {
            self.links.proposals_resent_at = Some(now);
            for (peer, account) in &self.state.accounts {
                if account.machine.pending.is_some() {
                    self.send_parts(key, peer, account.outbox(), out);
                }
            }
        }
        self.submit_hankos(key, now, out);
        if on_tick {
            self.ask_timers(key, now, out);
        }
    }

    /// When a tick would ask for [`EntityTx::Timers`]: the earliest timeout of a lock of
    /// ours, but not before the last ask's resend interval has passed.
    pub(super) fn timers_wake_at(&self) -> Option<u64> {
        let timeout = self.state.next_lock_timeout()?;
        let again = self
            .links
            .timers_asked_at
            .map_or(0, |t| t.saturating_add(self.config.resend_interval));
        Some(timeout.max(again))
    }

    /// When this validator's clock says a lock of ours has timed out, it asks its board to
    /// take it back ([`EntityTx::Timers`]); at most once per resend interval, and not while
    /// such a tx waits in its mempool.
    fn ask_timers(&mut self, key: &SecretKey, now: u64, out: &mut Vec<EntityOutput>) {
        let due = self
            .links
            .timers_asked_at
            .is_none_or(|t| now >= t.saturating_add(self.config.resend_interval));
        let waiting = self
            .mempool
            .values()
            .any(|p| p.tx.signer == self.me && p.tx.tx == EntityTx::Timers);
        if due && !waiting && self.state.timers_due(now) {
            self.links.timers_asked_at = Some(now);
            let _ = self.submit(key, EntityTx::Timers, now, out);
        }
    }

    fn send_open(
        &self,
        key: &SecretKey,
        peer: &EntityId,
        reply: bool,
        out: &mut Vec<EntityOutput>,
    ) {
        let from = self.state.entity_id;
        let board = self.state.board.clone();
        let Ok(signature) = key.sign_digest(&AccountOpen::digest(&from, peer, &board, reply))
        else {
            return;
        };
        out.push(EntityOutput::ToEntity {
            entity: *peer,
            message: EntityMessage::AccountOpen(Box::new(AccountOpen {
                from,
                to: *peer,
                board,
                reply,
                signer: self.me,
                signature,
            })),
        });
    }

    /// A peer entity opened an account with us: open our side (submitting our own
    /// open-account tx, once), or note that the peer has opened.
    pub(super) fn on_account_open(
        &mut self,
        key: &SecretKey,
        note: AccountOpen,
        now: u64,
        out: &mut Vec<EntityOutput>,
    ) -> Result<(), EntityError> {
        let bad = |reason: String| EntityError::BadCertificate {
            what: "account open",
            reason,
        };
        if note.to != self.state.entity_id {
            return Err(bad(format!("addressed to entity {}", hex32(&note.to))));
        }
        if note.board.entity_id() != note.from {
            return Err(bad("the opener's board does not hash to its id".into()));
        }
        if !note.board.contains(&note.signer) {
            return Err(bad(format!("{} is not on the opener's board", note.signer)));
        }
        let digest = AccountOpen::digest(&note.from, &note.to, &note.board, note.reply);
        if !verify_cached(&note.signer, &digest, &note.signature) {
            return Err(EntityError::BadSignature {
                what: "account open",
                signer: note.signer,
                height: 0,
            });
        }
        // The note proves the peer opened its side.
        self.links.peers_opened.insert(note.from);
        if self.state.accounts.contains_key(&note.from) {
            // The peer asks because it has not seen our side yet: answer (not answers).
            if !note.reply {
                self.send_open(key, &note.from, true, out);
            }
            return Ok(());
        }
        let tx = EntityTx::OpenAccount {
            peer: note.from,
            peer_board: note.board,
        };
        let queued = self.mempool.values().any(|p| p.tx.tx == tx);
        if !queued && self.state.board.contains(&self.me) {
            self.submit(key, tx, now, out)?;
        }
        Ok(())
    }

    fn send_parts<'a>(
        &self,
        key: &SecretKey,
        peer: &EntityId,
        messages: impl Iterator<Item = &'a AccountMessage>,
        out: &mut Vec<EntityOutput>,
    ) {
        for message in messages {
            let Ok(signature) = key.sign_digest(&message.hanko_digest()) else {
                continue;
            };
            let part = AccountPart {
                from: self.state.entity_id,
                to: *peer,
                message: message.clone(),
                signer: self.me,
                signature,
            };
            out.push(EntityOutput::ToEntity {
                entity: *peer,
                message: EntityMessage::AccountPart(Box::new(part)),
            });
        }
    }

    /// Submits, as this validator's entity tx, each gathered message whose parts reach the
    /// peer board's threshold and that no tx in the mempool already carries; drops the
    /// gathered parts of messages the account has handled since.
    fn submit_hankos(&mut self, key: &SecretKey, now: u64, out: &mut Vec<EntityOutput>) {
        let accounts = &self.state.accounts;
        self.links.pending.retain(|_, p| {
            accounts
                .get(&p.from)
                .is_some_and(|a| is_fresh(a, &p.message))
        });
        // A message whose tx has left every mempool we know of, yet the account still waits
        // for it, was committed and refused (one frame may carry a run of a peer's messages
        // from different validators out of counter order: the later ones then meet a gap) or
        // lost: it is submitted again. Bounded: at most once per commit that consumed its tx.
        let carried: BTreeSet<[u8; 32]> = self
            .mempool
            .values()
            .filter_map(|pooled| pooled.account_digest)
            .collect();
        for (digest, p) in self.links.pending.iter_mut() {
            if p.submitted && !carried.contains(digest) {
                p.submitted = false;
            }
        }
        // Per peer, the sealed messages by counter; only a run that starts right after the
        // last one the account processed is submitted (a gap would only be rejected).
        let mut by_counter: BTreeMap<(EntityId, u64), ([u8; 32], bool)> = BTreeMap::new();
        for (digest, p) in &self.links.pending {
            let sealed = accounts.get(&p.from).is_some_and(|a| {
                a.peer_board
                    .is_quorum(a.peer_board.weight(p.hanko.0.keys()))
            });
            if sealed {
                by_counter.insert((p.from, p.message.counter), (*digest, p.submitted));
            }
        }
        let mut ready = Vec::new();
        for (peer, account) in accounts {
            let mut next = account.machine.received + 1;
            while let Some((digest, submitted)) = by_counter.get(&(*peer, next)) {
                if !submitted {
                    ready.push(*digest);
                }
                next += 1;
            }
        }
        for digest in ready {
            let Some(p) = self.links.pending.get(&digest).cloned() else {
                continue;
            };
            // The digest binds the message's sender, so equal digests mean the same message.
            let carried = carried.contains(&digest);
            let tx = EntityTx::AccountInput {
                from: p.from,
                message: Box::new(p.message.clone()),
                hanko: p.hanko.clone(),
            };
            if carried || self.submit(key, tx, now, out).is_ok() {
                if let Some(entry) = self.links.pending.get_mut(&digest) {
                    entry.submitted = true;
                }
            }
        }
    }
}

crate::plain_readable!(EntityAccount, PendingHanko);
