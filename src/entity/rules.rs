//! The consensus rules of [`EntityReplica`], applied to what `replica.rs` stored: commit on
//! a precommit quorum, move views on view-change quorums, lock and precommit on a prevote
//! quorum, prevote under the locking rule, propose, and the timers (view timeout, resends,
//! sync). Each rule acts at most once per view, so [`EntityReplica::advance`] terminates.
//! Signing failures (probability below 2^-127) make a rule skip its action; it is retried
//! on the next input, so no rule can leave the replica half-changed.

use super::frame::ValidatedFrame;
use super::replica::{CommittedFrame, EntityOutput, EntityReplica};
use super::round::{Round, StoredProposal};
use super::{
    CommitNotice, EntityFrame, EntityMessage, Proposal, SignedTx, ValidCert, ViewChange, Vote,
    VoteKind, FRAME_TXS_MAX,
};
use crate::account::SubcontractEngine;
use crate::crypto::{Canonical, SecretKey};

impl EntityReplica {
    /// Applies the rules until none fires. `on_tick` says the input was a tick (when a
    /// batching proposer may propose a fresh frame).
    pub(super) fn advance(
        &mut self,
        key: &SecretKey,
        now: u64,
        on_tick: bool,
        out: &mut Vec<EntityOutput>,
        engine: &mut dyn SubcontractEngine,
    ) {
        // Every pass either commits (a new height) or moves a view or casts a vote that is
        // cast at most once per view; the bound only guards against a logic error.
        for _ in 0..10_000 {
            if let Some((view, hash)) =
                self.round
                    .quorum_with_frame(&self.state.board, VoteKind::Precommit, |_| true)
            {
                let precommits = self.round.votes_for(VoteKind::Precommit, view, &hash);
                self.commit(hash, view, precommits, now, out);
                continue;
            }
            let changed = self.enter_view(now)
                | self.join_view_change(key, out)
                | self.update_valid()
                | self.precommit(key, out)
                | self.prevote(key, out)
                | self.propose(key, now, on_tick, out, engine);
            if !changed {
                break;
            }
        }
        self.start_timer(now);
    }

    /// Commits the checked frame `hash` with `precommits` (a quorum at `view`).
    pub(super) fn commit(
        &mut self,
        hash: [u8; 32],
        view: u64,
        precommits: Vec<Vote>,
        now: u64,
        out: &mut Vec<EntityOutput>,
    ) {
        let Some(validated) = self.round.frames.remove(&hash) else {
            return;
        };
        let ValidatedFrame {
            frame,
            hash,
            next,
            rejected,
            tx_hashes,
        } = validated;
        assert_eq!(
            frame.height,
            self.state.height + 1,
            "entity heights must rise by exactly one"
        );
        self.state = next;
        self.frame_hashes.push(hash);
        self.state_hashes.push(frame.state_hash);
        for stx in &frame.txs {
            if self
                .mempool
                .get(&(stx.signer, stx.nonce))
                .is_some_and(|p| p.tx == *stx)
            {
                self.mempool.remove(&(stx.signer, stx.nonce));
            }
        }
        self.drop_stale_txs(out);
        out.push(EntityOutput::Committed(CommittedFrame {
            height: frame.height,
            view,
            frame_hash: hash,
            state_hash: frame.state_hash,
            tx_hashes,
            rejected_txs: rejected,
        }));
        let notice = CommitNotice { frame, precommits };
        out.push(EntityOutput::Broadcast(EntityMessage::Commit(
            notice.clone(),
        )));
        self.recent_commits.push_back(notice);
        while self.recent_commits.len() > self.config.commits_kept {
            self.recent_commits.pop_front();
        }
        self.round = Round::new(self.state.height + 1);
        self.start_timer(now);
    }

    /// Removes mempool txs whose nonce is now committed (by another tx), reporting each.
    fn drop_stale_txs(&mut self, out: &mut Vec<EntityOutput>) {
        let state = &self.state;
        let stale: Vec<(crate::crypto::Address, u64)> = self
            .mempool
            .keys()
            .filter(|(signer, nonce)| *nonce <= state.nonce(signer))
            .copied()
            .collect();
        for key in stale {
            if let Some(pooled) = self.mempool.remove(&key) {
                out.push(EntityOutput::TxDropped {
                    tx_hash: pooled.hash,
                    reason: format!(
                        "nonce {} of {} was used by another committed tx or skipped",
                        key.1, key.0
                    ),
                });
            }
        }
    }

    /// Moves to the highest view that `T` shares of view changes ask for.
    fn enter_view(&mut self, now: u64) -> bool {
        let board = &self.state.board;
        match self.round.view_change_support(board, board.threshold) {
            Some(w) if w > self.round.view => {
                self.round.view = w;
                self.round.view_started_at = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Joins a view change that at least one honest replica must have asked for.
    fn join_view_change(&mut self, key: &SecretKey, out: &mut Vec<EntityOutput>) -> bool {
        let board = &self.state.board;
        let Some(w) = self
            .round
            .view_change_support(board, board.honest_witness_shares())
        else {
            return false;
        };
        if w <= self.round.view || self.round.view_change_sent.is_some_and(|s| s >= w) {
            return false;
        }
        self.send_view_change(key, w, out)
    }

    /// Signs, stores and broadcasts a view change to `new_view`.
    pub(super) fn send_view_change(
        &mut self,
        key: &SecretKey,
        new_view: u64,
        out: &mut Vec<EntityOutput>,
    ) -> bool {
        if !self.state.board.contains(&self.me) {
            return false;
        }
        let Ok(vc) = ViewChange::sign(
            &self.state.entity_id,
            key,
            self.me,
            self.round.height,
            new_view,
            self.round.valid.clone(),
        ) else {
            return false;
        };
        self.round.view_change_sent = Some(new_view);
        self.round
            .view_changes
            .insert((new_view, self.me), vc.clone());
        out.push(EntityOutput::Broadcast(EntityMessage::ViewChange(vc)));
        true
    }

    /// Remembers the highest-view frame with a prevote quorum (what to re-propose).
    fn update_valid(&mut self) -> bool {
        let floor = self.round.valid.as_ref().map(|(c, _)| c.view);
        let current = self.round.view;
        let found = self
            .round
            .quorum_with_frame(&self.state.board, VoteKind::Prevote, |v| {
                v <= current && floor.is_none_or(|f| v > f)
            });
        let Some((view, hash)) = found else {
            return false;
        };
        let Some(frame) = self.round.frames.get(&hash).map(|v| v.frame.clone()) else {
            return false;
        };
        let prevotes = self.round.votes_for(VoteKind::Prevote, view, &hash);
        self.round.valid = Some((
            ValidCert {
                view,
                frame,
                prevotes,
            },
            hash,
        ));
        true
    }

    /// Locks and precommits the current view's frame once it has `T` prevote shares.
    fn precommit(&mut self, key: &SecretKey, out: &mut Vec<EntityOutput>) -> bool {
        let view = self.round.view;
        if self.has_voted(VoteKind::Precommit, view) {
            return false;
        }
        let Some(hash) = self.round.proposals.get(&view).map(|p| p.frame_hash) else {
            return false;
        };
        let board = &self.state.board;
        if !self.round.frames.contains_key(&hash)
            || !board.is_quorum(self.round.tally(board, VoteKind::Prevote, view, &hash))
        {
            return false;
        }
        if !self.cast(key, VoteKind::Precommit, hash, out) {
            return false;
        }
        self.round.locked = Some((view, hash));
        true
    }

    /// Prevotes the current view's proposal if the locking rule allows it.
    fn prevote(&mut self, key: &SecretKey, out: &mut Vec<EntityOutput>) -> bool {
        let view = self.round.view;
        if self.has_voted(VoteKind::Prevote, view) {
            return false;
        }
        let Some(StoredProposal {
            proposal,
            frame_hash,
        }) = self.round.proposals.get(&view)
        else {
            return false;
        };
        if self.round.equivocators.contains(&proposal.proposer) {
            return false;
        }
        let allowed = match self.round.locked {
            None => true,
            Some((_, locked_hash)) if locked_hash == *frame_hash => true,
            Some((locked_view, _)) => proposal
                .valid_view
                .is_some_and(|vr| vr >= locked_view && vr < view),
        };
        let hash = *frame_hash;
        allowed && self.cast(key, VoteKind::Prevote, hash, out)
    }

    fn has_voted(&self, kind: VoteKind, view: u64) -> bool {
        self.round.votes.contains_key(&(kind, view, self.me))
    }

    /// Signs, stores and broadcasts this replica's vote at the current view.
    fn cast(
        &mut self,
        key: &SecretKey,
        kind: VoteKind,
        hash: [u8; 32],
        out: &mut Vec<EntityOutput>,
    ) -> bool {
        if !self.state.board.contains(&self.me) {
            return false;
        }
        let view = self.round.view;
        let Ok(vote) = Vote::sign(
            &self.state.entity_id,
            key,
            self.me,
            kind,
            self.round.height,
            view,
            hash,
        ) else {
            return false;
        };
        self.round.votes.insert((kind, view, self.me), vote.clone());
        out.push(EntityOutput::Broadcast(EntityMessage::Vote(vote)));
        true
    }

    /// As proposer of the current view: re-propose the valid frame, or propose a fresh one
    /// from the mempool (never an empty frame).
    fn propose(
        &mut self,
        key: &SecretKey,
        now: u64,
        on_tick: bool,
        out: &mut Vec<EntityOutput>,
        engine: &mut dyn SubcontractEngine,
    ) -> bool {
        let view = self.round.view;
        let height = self.round.height;
        if self.state.board.proposer(height, view) != self.me
            || self.round.proposed.contains(&view)
            || self.round.proposals.contains_key(&view)
        {
            return false;
        }
        let (frame, hash, valid) = match &self.round.valid {
            Some((cert, hash)) => (
                cert.frame.clone(),
                *hash,
                Some((cert.view, cert.prevotes.clone())),
            ),
            None => {
                let started = self.round.view_started_at.unwrap_or(now);
                let batch_delay = self.config.batch_delay;
                let batching = view == 0 && batch_delay > 0;
                if batching && (!on_tick || now < started.saturating_add(batch_delay)) {
                    return false;
                }
                let txs = self.select_txs();
                if txs.is_empty() {
                    return false;
                }
                let validated = self.build_frame(txs, now.max(self.state.timestamp), engine);
                let hash = validated.hash;
                let frame = validated.frame.clone();
                self.round.frames.insert(hash, validated);
                (frame, hash, None)
            }
        };
        let entity = self.state.entity_id;
        let Ok(proposal) = Proposal::sign_hashed(&entity, key, self.me, view, frame, &hash, valid)
        else {
            return false;
        };
        self.round.proposed.insert(view);
        out.push(EntityOutput::Broadcast(EntityMessage::Proposal(
            proposal.clone(),
        )));
        self.round.proposals.insert(
            view,
            StoredProposal {
                proposal,
                frame_hash: hash,
            },
        );
        true
    }

    /// Mempool txs (with their hashes) for a fresh frame: per signer, the run of nonces
    /// that follows its committed nonce without a gap, at most [`FRAME_TXS_MAX`] in all.
    fn select_txs(&self) -> Vec<(SignedTx, [u8; 32])> {
        let mut txs = Vec::new();
        let mut signer = None;
        let mut expected = 0;
        for ((s, nonce), pooled) in &self.mempool {
            if signer != Some(*s) {
                signer = Some(*s);
                expected = self.state.nonce(s) + 1;
            }
            if *nonce == expected {
                txs.push((pooled.tx.clone(), pooled.hash));
                expected += 1;
                if txs.len() == FRAME_TXS_MAX {
                    break;
                }
            }
        }
        txs
    }

    /// Builds this replica's own frame, checked by construction (the txs came through the
    /// mempool, which verified their signatures).
    fn build_frame(
        &self,
        selected: Vec<(SignedTx, [u8; 32])>,
        timestamp: u64,
        engine: &mut dyn SubcontractEngine,
    ) -> ValidatedFrame {
        let height = self.state.height + 1;
        let (txs, tx_hashes): (Vec<SignedTx>, Vec<[u8; 32]>) = selected.into_iter().unzip();
        let (mut next, rejected) = self
            .state
            .apply_hashed_txs(height, timestamp, &txs, &tx_hashes, engine);
        let frame = EntityFrame {
            height,
            prev_hash: self.state.last_frame_hash,
            timestamp,
            txs,
            state_hash: next.hash(),
        };
        let hash = frame.header(tx_hashes.clone()).canonical_hash();
        next.last_frame_hash = hash;
        ValidatedFrame {
            frame,
            hash,
            next,
            rejected,
            tx_hashes,
        }
    }

    /// Timers: the view timeout, periodic resends of unfinished work, periodic sync.
    pub(super) fn tick(&mut self, key: &SecretKey, now: u64, out: &mut Vec<EntityOutput>) {
        self.start_timer(now);
        let view = self.round.view;
        if let Some(started) = self.round.view_started_at {
            let due = started.saturating_add(self.config.view_timeout(view));
            if now >= due && self.round.view_change_sent.is_none_or(|s| s <= view) {
                self.send_view_change(key, view + 1, out);
            }
        }
        let resend_due = self
            .round
            .last_resend_at
            .is_none_or(|t| now >= t.saturating_add(self.config.resend_interval));
        if !self.is_idle() && resend_due {
            self.round.last_resend_at = Some(now);
            self.resend(out);
        }
        let sync_due = self
            .last_sync_at
            .is_none_or(|t| now >= t.saturating_add(self.config.sync_interval));
        if sync_due {
            self.request_sync(None, now, out);
        }
    }

    /// Re-broadcasts what this replica said at the current view (messages may be lost) and
    /// its own uncommitted txs.
    fn resend(&self, out: &mut Vec<EntityOutput>) {
        let view = self.round.view;
        let mut again = Vec::new();
        if let Some(p) = self.round.proposals.get(&view) {
            if p.proposal.proposer == self.me {
                again.push(EntityMessage::Proposal(p.proposal.clone()));
            }
        }
        for kind in [VoteKind::Prevote, VoteKind::Precommit] {
            if let Some(v) = self.round.votes.get(&(kind, view, self.me)) {
                again.push(EntityMessage::Vote(v.clone()));
            }
        }
        if let Some(sent) = self.round.view_change_sent {
            if let Some(vc) = self.round.view_changes.get(&(sent, self.me)) {
                again.push(EntityMessage::ViewChange(vc.clone()));
            }
        }
        let own = self
            .mempool
            .range((self.me, 0)..=(self.me, u64::MAX))
            .take(FRAME_TXS_MAX)
            .map(|(_, pooled)| EntityMessage::Tx(pooled.tx.clone()));
        again.extend(own);
        out.extend(again.into_iter().map(EntityOutput::Broadcast));
    }
}
