//! [`EntityReplica`]: one validator's copy of an entity. Owns the committed state, the
//! mempool and the commit history, and turns inputs ([`EntityInput`]) into outputs
//! ([`EntityOutput`]). This file checks every input and stores what it accepts; the
//! consensus rules that act on the stored data live in `rules.rs`.

use std::collections::{BTreeMap, VecDeque};

use super::accounts::AccountLinks;
use super::frame::ValidatedFrame;
use super::gossip::GossipView;
use super::message::verify_quorum;
use super::round::{Round, StoredProposal};
use super::{
    Board, CommitNotice, EntityConfig, EntityError, EntityId, EntityMessage, EntityState, EntityTx,
    Evidence, Proposal, RejectedTx, SignedTx, ViewChange, Vote, VoteKind,
};
use crate::account::SubcontractEngine;
use crate::crypto::{Address, Canonical, PublicKey, SecretKey};

/// What a replica is given. Time is not part of the input: it is the `now` argument of
/// [`EntityReplica::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityInput {
    /// A transaction this replica's validator asks for: signed with the next nonce, put in
    /// the mempool and gossiped.
    SubmitTx(EntityTx),
    /// A message from another replica (or relayed by one).
    Message(EntityMessage),
    /// Time passed: run timers (view timeout, resends, sync requests).
    Tick,
}

/// A frame this replica committed, as reported to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedFrame {
    /// The height.
    pub height: u64,
    /// The view whose precommits committed it.
    pub view: u64,
    /// The frame hash.
    pub frame_hash: [u8; 32],
    /// The frame's state hash.
    pub state_hash: [u8; 32],
    /// Hashes of all txs in the frame, applied or rejected, in order.
    pub tx_hashes: Vec<[u8; 32]>,
    /// The txs that were rejected, with reasons.
    pub rejected_txs: Vec<RejectedTx>,
}

/// What a replica asks its caller to do or tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityOutput {
    /// Send to every other replica of the entity.
    Broadcast(EntityMessage),
    /// Send to one validator.
    Send {
        /// The recipient.
        to: Address,
        /// The message.
        message: EntityMessage,
    },
    /// A submitted tx was signed and queued.
    Queued {
        /// Its hash ([`SignedTx::hash`]).
        tx_hash: [u8; 32],
        /// The nonce it was given.
        nonce: u64,
    },
    /// A frame committed.
    Committed(CommittedFrame),
    /// A validator equivocated (also recorded in [`EntityReplica::evidence`]).
    Evidence(Box<Evidence>),
    /// Send to every replica of another entity (account messages' hanko parts).
    ToEntity {
        /// The receiving entity.
        entity: EntityId,
        /// The message.
        message: EntityMessage,
    },
    /// A mempool tx can no longer commit (a frame used its nonce for another tx, or skipped
    /// past it); reported so no tx disappears silently.
    TxDropped {
        /// Its hash.
        tx_hash: [u8; 32],
        /// Why.
        reason: String,
    },
}

/// One validator's replica of an entity: a pure state machine driven by
/// [`EntityReplica::handle`]. See the module documentation for the consensus rules.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityReplica {
    pub(super) me: Address,
    #[serde(skip)]
    pub(super) me_public: Option<PublicKey>,
    pub(super) config: EntityConfig,
    pub(super) state: EntityState,
    #[serde(with = "crate::crypto::readable")]
    pub(super) frame_hashes: Vec<[u8; 32]>,
    #[serde(with = "crate::crypto::readable")]
    pub(super) state_hashes: Vec<[u8; 32]>,
    pub(super) recent_commits: VecDeque<CommitNotice>,
    pub(super) mempool: BTreeMap<(Address, u64), Pooled>,
    pub(super) round: Round,
    pub(super) evidence: Vec<Evidence>,
    pub(super) last_sync_at: Option<u64>,
    /// Account-side work outside consensus (hanko parts, resends); see `accounts.rs`.
    pub(super) links: AccountLinks,
    /// What this replica knows of other entities' profiles; see `gossip.rs`.
    #[serde(default)]
    pub(super) gossip: GossipView,
    /// This validator's wallet: scorer and retry sessions of its payments; see `wallet.rs`.
    #[serde(default)]
    pub(super) wallet: super::wallet::Wallet,
}

/// A mempool tx, signature verified, with its hash computed once — and, for an account
/// input, its message's hanko digest (which hashes the whole proposed account frame: the
/// hanko bookkeeping asks for it on every input handled, so it is computed once here, not
/// per look-up). Persisted as `{tx, hash}`; the digest is recomputed on load.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "PooledRecord", into = "PooledRecord")]
pub(super) struct Pooled {
    pub tx: SignedTx,
    pub hash: [u8; 32],
    /// The hanko digest of an [`EntityTx::AccountInput`]'s message; `None` for other txs.
    pub account_digest: Option<[u8; 32]>,
}

impl Pooled {
    /// A pooled `tx` whose hash is `hash`.
    pub fn new(tx: SignedTx, hash: [u8; 32]) -> Self {
        let account_digest = match &tx.tx {
            EntityTx::AccountInput { message, .. } => Some(message.hanko_digest()),
            _ => None,
        };
        Pooled {
            tx,
            hash,
            account_digest,
        }
    }
}

/// What a [`Pooled`] is persisted as.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct PooledRecord {
    tx: SignedTx,
    #[serde(with = "crate::crypto::readable")]
    hash: [u8; 32],
}

impl From<PooledRecord> for Pooled {
    fn from(r: PooledRecord) -> Self {
        Pooled::new(r.tx, r.hash)
    }
}

impl From<Pooled> for PooledRecord {
    fn from(p: Pooled) -> Self {
        PooledRecord {
            tx: p.tx,
            hash: p.hash,
        }
    }
}

/// Where a message's height stands relative to the replica's.
enum Position {
    Current,
    Future,
}

impl EntityReplica {
    /// A replica of the unregistered entity whose genesis board is `board` (no reserves),
    /// run by validator `me`, with the default [`EntityConfig`].
    ///
    /// # Errors
    /// [`EntityError::InvalidBoard`] for a bad board.
    pub fn new(board: Board, me: Address) -> Result<Self, EntityError> {
        Ok(Self::from_genesis(
            EntityState::genesis(board, Vec::new())?,
            me,
            EntityConfig::default(),
        ))
    }

    /// A replica starting from `genesis` (see [`EntityState::genesis`]), run by `me`.
    pub fn from_genesis(genesis: EntityState, me: Address, config: EntityConfig) -> Self {
        let height = genesis.height + 1;
        EntityReplica {
            me,
            me_public: None,
            config,
            state: genesis,
            frame_hashes: Vec::new(),
            state_hashes: Vec::new(),
            recent_commits: VecDeque::new(),
            mempool: BTreeMap::new(),
            round: Round::new(height),
            evidence: Vec::new(),
            last_sync_at: None,
            links: AccountLinks::default(),
            gossip: GossipView::default(),
            wallet: super::wallet::Wallet::default(),
        }
    }

    /// Handles one input at time `now`, signing with `key` (which must be this replica's).
    /// Returns the outputs to act on.
    ///
    /// # Errors
    /// Any [`EntityError`]; the replica is then unchanged. Use [`EntityError::reaction`] to
    /// decide what to do with the sender.
    pub fn handle(
        &mut self,
        key: &SecretKey,
        input: EntityInput,
        now: u64,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<Vec<EntityOutput>, EntityError> {
        let public = self.check_key(key)?;
        let mut out = Vec::new();
        let on_tick = input == EntityInput::Tick;
        match input {
            EntityInput::SubmitTx(tx) => self.submit(key, tx, now, &mut out)?,
            EntityInput::Message(EntityMessage::AccountOpen(note)) => {
                self.on_account_open(key, *note, now, &mut out)?
            }
            EntityInput::Message(message) => self.receive(message, now, &mut out, engine)?,
            EntityInput::Tick => self.tick(key, now, &mut out),
        }
        self.advance(key, now, on_tick, &mut out, engine);
        self.account_work(key, now, on_tick, &mut out);
        self.gossip_work(key, now, on_tick, &mut out);
        self.wallet_work(key, now, &mut out);
        self.me_public = Some(public);
        Ok(out)
    }

    /// The key's public key if it is this replica's. The address is derived once; later
    /// calls compare public keys, which is cheap.
    fn check_key(&self, key: &SecretKey) -> Result<PublicKey, EntityError> {
        let public = key.public_key();
        if self.me_public == Some(public) {
            return Ok(public);
        }
        let got = public.address();
        if got != self.me {
            return Err(EntityError::KeyMismatch {
                expected: self.me,
                got,
            });
        }
        Ok(public)
    }

    // ----- accessors ------------------------------------------------------------------

    /// This replica's validator address.
    pub fn me(&self) -> Address {
        self.me
    }

    /// The entity id.
    pub fn entity_id(&self) -> EntityId {
        self.state.entity_id
    }

    /// The committed state.
    pub fn state(&self) -> &EntityState {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &EntityConfig {
        &self.config
    }

    /// The height of the last committed frame.
    pub fn height(&self) -> u64 {
        self.state.height
    }

    /// The current view of the height being decided.
    pub fn view(&self) -> u64 {
        self.round.view
    }

    /// The hash of the committed state.
    pub fn state_hash(&self) -> [u8; 32] {
        self.state.hash()
    }

    /// The committed frame hashes; index `i` is height `i + 1`.
    pub fn committed_hashes(&self) -> &[[u8; 32]] {
        &self.frame_hashes
    }

    /// The committed frames' state hashes; index `i` is height `i + 1`.
    pub fn committed_state_hashes(&self) -> &[[u8; 32]] {
        &self.state_hashes
    }

    /// Evidence of equivocation this replica has seen.
    pub fn evidence(&self) -> &[Evidence] {
        &self.evidence
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// The (view, frame hash) this replica is locked on at the current height, if any.
    pub fn locked(&self) -> Option<(u64, [u8; 32])> {
        self.round.locked
    }

    /// True if the replica has nothing to do: an empty mempool and no activity at the
    /// height being decided.
    pub fn is_idle(&self) -> bool {
        self.mempool.is_empty() && !self.round.is_active() && !self.accounts_busy()
    }

    /// The earliest clock at which a [`EntityInput::Tick`] has work for this replica
    /// beyond its periodic sync request: now (0) while it is not idle; else the timeout of a
    /// lock it must take back, or the time to check whether its profile needs publishing.
    /// None: until an input arrives, ticks do nothing but sync. A host that does not tick
    /// every replica every time (the node skips idle ones) must tick by this, or HTLC
    /// timeouts would wait for the next sync interval.
    pub fn wake_at(&self) -> Option<u64> {
        if !self.is_idle() {
            return Some(0);
        }
        [self.timers_wake_at(), self.gossip_wake_at()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The commit notice of `height`, if this replica still keeps it.
    pub fn commit_notice(&self, height: u64) -> Option<&CommitNotice> {
        self.recent_commits
            .iter()
            .find(|c| c.frame.height == height)
    }

    // ----- inputs ---------------------------------------------------------------------

    pub(super) fn submit(
        &mut self,
        key: &SecretKey,
        tx: EntityTx,
        now: u64,
        out: &mut Vec<EntityOutput>,
    ) -> Result<(), EntityError> {
        if !self.state.board.contains(&self.me) {
            return Err(EntityError::NotAValidator { address: self.me });
        }
        tx.check_stateless()?;
        if self.mempool.len() >= self.config.mempool_max {
            return Err(EntityError::MempoolFull {
                max: self.config.mempool_max,
            });
        }
        let queued = self
            .mempool
            .range((self.me, 0)..=(self.me, u64::MAX))
            .next_back()
            .map_or(0, |((_, n), _)| *n);
        let nonce = self.state.nonce(&self.me).max(queued) + 1;
        let signed = SignedTx::sign(&self.state.entity_id, key, nonce, tx)?;
        let hash = signed.hash();
        if let EntityTx::PayRouted(payment) = &signed.tx {
            self.track_payment(hash, nonce, payment, now);
        }
        out.push(EntityOutput::Queued {
            tx_hash: hash,
            nonce,
        });
        out.push(EntityOutput::Broadcast(EntityMessage::Tx(signed.clone())));
        self.mempool
            .insert((self.me, nonce), Pooled::new(signed, hash));
        self.start_timer(now);
        Ok(())
    }

    fn receive(
        &mut self,
        message: EntityMessage,
        now: u64,
        out: &mut Vec<EntityOutput>,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), EntityError> {
        match message {
            EntityMessage::Tx(stx) => self.on_tx(stx, now),
            EntityMessage::Proposal(p) => self.on_proposal(p, now, out, engine),
            EntityMessage::Vote(v) => self.on_vote(v, now, out),
            EntityMessage::ViewChange(vc) => self.on_view_change(vc, now, out, engine),
            EntityMessage::Commit(c) => self.on_commit_notice(c, now, out, engine),
            EntityMessage::SyncRequest { from, height } => self.on_sync_request(from, height, out),
            EntityMessage::AccountPart(part) => self.on_account_part(*part),
            // Needs the key (it may submit a tx); handled in `handle`.
            EntityMessage::AccountOpen(_) => Ok(()),
            EntityMessage::ProfilePart(part) => self.on_profile_part(*part, out),
            EntityMessage::Profile(signed) => self.on_profile(*signed, out),
        }
    }

    fn position(
        &self,
        what: &'static str,
        height: u64,
        view: u64,
    ) -> Result<Position, EntityError> {
        if height < self.round.height {
            return Err(self.stale(what, height, view));
        }
        if height > self.round.height {
            return Ok(Position::Future);
        }
        let max = self.config.views_ahead_max;
        if view > self.round.view.saturating_add(max) {
            return Err(EntityError::ViewTooFarAhead {
                what,
                view,
                current_view: self.round.view,
                max,
            });
        }
        Ok(Position::Current)
    }

    fn stale(&self, what: &'static str, height: u64, view: u64) -> EntityError {
        EntityError::Stale {
            what,
            height,
            view,
            current_height: self.round.height,
            current_view: self.round.view,
        }
    }

    fn require_validator(&self, address: &Address) -> Result<(), EntityError> {
        if self.state.board.contains(address) {
            Ok(())
        } else {
            Err(EntityError::NotAValidator { address: *address })
        }
    }

    fn on_tx(&mut self, stx: SignedTx, now: u64) -> Result<(), EntityError> {
        self.require_validator(&stx.signer)?;
        let committed = self.state.nonce(&stx.signer);
        if stx.nonce <= committed {
            return Err(self.stale("tx", self.round.height, self.round.view));
        }
        if let Some(existing) = self.mempool.get(&(stx.signer, stx.nonce)) {
            return Err(if existing.tx == stx {
                EntityError::Duplicate { what: "tx" }
            } else {
                EntityError::NonceTaken {
                    signer: stx.signer,
                    nonce: stx.nonce,
                    committed,
                }
            });
        }
        if self.mempool.len() >= self.config.mempool_max {
            return Err(EntityError::MempoolFull {
                max: self.config.mempool_max,
            });
        }
        stx.tx.check_stateless()?;
        stx.verify(&self.state.entity_id, self.round.height)?;
        let hash = stx.hash();
        self.mempool
            .insert((stx.signer, stx.nonce), Pooled::new(stx, hash));
        self.start_timer(now);
        Ok(())
    }

    /// The mempool entry equal to `stx`, if any.
    fn pooled(&self, stx: &SignedTx) -> Option<&Pooled> {
        self.mempool
            .get(&(stx.signer, stx.nonce))
            .filter(|p| p.tx == *stx)
    }

    /// The frame's hash and its txs' hashes, reusing the mempool's hashes.
    pub(super) fn frame_hashes(&self, frame: &super::EntityFrame) -> ([u8; 32], Vec<[u8; 32]>) {
        let tx_hashes: Vec<[u8; 32]> = frame
            .txs
            .iter()
            .map(|t| self.pooled(t).map_or_else(|| t.hash(), |p| p.hash))
            .collect();
        let hash = frame.header(tx_hashes.clone()).canonical_hash();
        (hash, tx_hashes)
    }

    /// A frame checked against the committed state, unless it was checked before.
    fn checked_frame(
        &self,
        frame: &super::EntityFrame,
        hashes: ([u8; 32], Vec<[u8; 32]>),
        latest_timestamp: Option<u64>,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<Option<ValidatedFrame>, EntityError> {
        if self.round.frames.contains_key(&hashes.0) {
            return Ok(None);
        }
        let verified = |t: &SignedTx| self.pooled(t).is_some();
        frame
            .validate(&self.state, latest_timestamp, hashes, verified, engine)
            .map(Some)
    }

    fn on_proposal(
        &mut self,
        p: Proposal,
        now: u64,
        out: &mut Vec<EntityOutput>,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), EntityError> {
        if let Position::Future = self.position("proposal", p.height, p.view)? {
            self.request_sync(Some(p.proposer), now, out);
            return Ok(());
        }
        let expected = self.state.board.proposer(p.height, p.view);
        if p.proposer != expected {
            return Err(EntityError::WrongProposer {
                height: p.height,
                view: p.view,
                expected,
                got: p.proposer,
            });
        }
        let stored = self.round.proposals.get(&p.view);
        if stored.is_some_and(|s| s.proposal == p) {
            return Err(EntityError::Duplicate { what: "proposal" });
        }
        let hashes = self.frame_hashes(&p.frame);
        let frame_hash = hashes.0;
        p.verify_signature(&self.state.entity_id, &frame_hash)?;
        if let Some(stored) = stored {
            if stored.frame_hash == frame_hash {
                return Err(EntityError::Duplicate { what: "proposal" });
            }
            let first = EntityMessage::Proposal(stored.proposal.clone());
            self.record_evidence(p.proposer, first, EntityMessage::Proposal(p), out);
            return Ok(());
        }
        self.check_pol(&p, &frame_hash)?;
        let latest = now.saturating_add(self.config.clock_drift_max);
        let validated = self.checked_frame(&p.frame, hashes, Some(latest), engine)?;
        if let Some(v) = validated {
            self.round.frames.insert(frame_hash, v);
        }
        if p.proposer != self.me {
            out.push(EntityOutput::Broadcast(EntityMessage::Proposal(p.clone())));
        }
        let view = p.view;
        self.round.proposals.insert(
            view,
            StoredProposal {
                proposal: p,
                frame_hash,
            },
        );
        self.start_timer(now);
        Ok(())
    }

    fn check_pol(&self, p: &Proposal, frame_hash: &[u8; 32]) -> Result<(), EntityError> {
        match p.valid_view {
            None if p.pol.is_empty() => Ok(()),
            None => Err(EntityError::BadCertificate {
                what: "proof-of-lock",
                reason: "prevotes attached without a valid view".into(),
            }),
            Some(vr) if vr >= p.view => Err(EntityError::BadCertificate {
                what: "proof-of-lock",
                reason: format!(
                    "valid view {vr} is not below the proposal's view {}",
                    p.view
                ),
            }),
            Some(vr) => verify_quorum(
                &self.state.entity_id,
                &self.state.board,
                &p.pol,
                VoteKind::Prevote,
                p.height,
                vr,
                frame_hash,
                "proof-of-lock",
            ),
        }
    }

    fn on_vote(
        &mut self,
        v: Vote,
        now: u64,
        out: &mut Vec<EntityOutput>,
    ) -> Result<(), EntityError> {
        if let Position::Future = self.position(v.kind.name(), v.height, v.view)? {
            self.request_sync(Some(v.validator), now, out);
            return Ok(());
        }
        self.require_validator(&v.validator)?;
        let key = (v.kind, v.view, v.validator);
        let existing = self.round.votes.get(&key);
        if existing.is_some_and(|e| e.frame_hash == v.frame_hash) {
            return Err(EntityError::Duplicate {
                what: v.kind.name(),
            });
        }
        v.verify(&self.state.entity_id)?;
        if let Some(first) = existing {
            let first = EntityMessage::Vote(first.clone());
            self.record_evidence(v.validator, first, EntityMessage::Vote(v), out);
            return Ok(());
        }
        self.round.votes.insert(key, v);
        self.start_timer(now);
        Ok(())
    }

    fn on_view_change(
        &mut self,
        vc: ViewChange,
        now: u64,
        out: &mut Vec<EntityOutput>,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), EntityError> {
        if let Position::Future = self.position("view change", vc.height, vc.new_view)? {
            self.request_sync(Some(vc.validator), now, out);
            return Ok(());
        }
        if vc.new_view <= self.round.view {
            return Err(self.stale("view change", vc.height, vc.new_view));
        }
        self.require_validator(&vc.validator)?;
        if self
            .round
            .view_changes
            .contains_key(&(vc.new_view, vc.validator))
        {
            return Err(EntityError::Duplicate {
                what: "view change",
            });
        }
        let mut validated = None;
        let mut valid_hash = None;
        if let Some(cert) = &vc.valid {
            let hashes = self.frame_hashes(&cert.frame);
            let hash = hashes.0;
            if cert.view >= vc.new_view || cert.frame.height != vc.height {
                return Err(EntityError::BadCertificate {
                    what: "view-change valid frame",
                    reason: format!(
                        "frame of height {} at view {} cannot support view {} of height {}",
                        cert.frame.height, cert.view, vc.new_view, vc.height
                    ),
                });
            }
            vc.verify_signature(&self.state.entity_id, Some(hash))?;
            verify_quorum(
                &self.state.entity_id,
                &self.state.board,
                &cert.prevotes,
                VoteKind::Prevote,
                vc.height,
                cert.view,
                &hash,
                "view-change valid frame",
            )?;
            validated = self.checked_frame(&cert.frame, hashes, None, engine)?;
            valid_hash = Some(hash);
        } else {
            vc.verify_signature(&self.state.entity_id, None)?;
        }
        if let Some(v) = validated {
            self.round.frames.insert(v.hash, v);
        }
        if let (Some(cert), Some(hash)) = (&vc.valid, valid_hash) {
            if self
                .round
                .valid
                .as_ref()
                .is_none_or(|(c, _)| c.view < cert.view)
            {
                self.round.valid = Some((cert.clone(), hash));
            }
        }
        self.round
            .view_changes
            .insert((vc.new_view, vc.validator), vc);
        self.start_timer(now);
        Ok(())
    }

    fn on_commit_notice(
        &mut self,
        c: CommitNotice,
        now: u64,
        out: &mut Vec<EntityOutput>,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), EntityError> {
        let view = c.precommits.first().map_or(0, |v| v.view);
        if let Position::Future = self.position("commit notice", c.frame.height, self.round.view)? {
            self.request_sync(None, now, out);
            return Ok(());
        }
        let hashes = self.frame_hashes(&c.frame);
        let hash = hashes.0;
        verify_quorum(
            &self.state.entity_id,
            &self.state.board,
            &c.precommits,
            VoteKind::Precommit,
            c.frame.height,
            view,
            &hash,
            "commit",
        )?;
        if let Some(v) = self.checked_frame(&c.frame, hashes, None, engine)? {
            self.round.frames.insert(hash, v);
        }
        self.commit(hash, view, c.precommits, now, out);
        Ok(())
    }

    fn on_sync_request(
        &self,
        from: Address,
        height: u64,
        out: &mut Vec<EntityOutput>,
    ) -> Result<(), EntityError> {
        self.require_validator(&from)?;
        if from == self.me {
            return Ok(());
        }
        let answers = self
            .recent_commits
            .iter()
            .filter(|c| c.frame.height >= height)
            .take(self.config.commits_kept);
        for notice in answers {
            out.push(EntityOutput::Send {
                to: from,
                message: EntityMessage::Commit(notice.clone()),
            });
        }
        Ok(())
    }

    /// Asks peers for missed commits (rate-limited to one request per resend interval).
    pub(super) fn request_sync(
        &mut self,
        to: Option<Address>,
        now: u64,
        out: &mut Vec<EntityOutput>,
    ) {
        if !self.state.board.contains(&self.me)
            || self
                .last_sync_at
                .is_some_and(|t| now < t.saturating_add(self.config.resend_interval))
        {
            return;
        }
        self.last_sync_at = Some(now);
        let message = EntityMessage::SyncRequest {
            from: self.me,
            height: self.round.height,
        };
        out.push(match to {
            Some(to) => EntityOutput::Send { to, message },
            None => EntityOutput::Broadcast(message),
        });
    }

    fn record_evidence(
        &mut self,
        validator: Address,
        a: EntityMessage,
        b: EntityMessage,
        out: &mut Vec<EntityOutput>,
    ) {
        let evidence = Evidence { validator, a, b };
        let known = self.evidence.iter().any(|e| {
            e.validator == validator
                && e.height() == evidence.height()
                && e.view() == evidence.view()
                && e.kind() == evidence.kind()
        });
        self.round.equivocators.insert(validator);
        if !known {
            // Relay the conflicting message once, so every replica can see the equivocation.
            out.push(EntityOutput::Broadcast(evidence.b.clone()));
            self.evidence.push(evidence.clone());
            out.push(EntityOutput::Evidence(Box::new(evidence)));
        }
    }

    /// Starts the view timer if the replica has work and none is running.
    /// Starts the view timer when there is consensus work (txs waiting or activity at the
    /// height). Account work (a frame waiting for the peer) does not count: a view change
    /// cannot help it, and a timer started for it would change views at an empty height.
    pub(super) fn start_timer(&mut self, now: u64) {
        let consensus_work = !self.mempool.is_empty() || self.round.is_active();
        if self.round.view_started_at.is_none() && consensus_work {
            self.round.view_started_at = Some(now);
        }
    }
}
