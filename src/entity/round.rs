//! Per-height consensus bookkeeping of a replica: the proposals, validated frames, votes and
//! view changes received for the height being decided, the lock, the valid frame, and the
//! tallies the rules in `replica.rs` read. Reset at every commit.

use std::collections::{BTreeMap, BTreeSet};

use super::frame::ValidatedFrame;
use super::{Board, Proposal, ValidCert, ViewChange, Vote, VoteKind};
use crate::crypto::Address;

crate::plain_readable!(ValidatedFrame, ValidCert);

/// A proposal accepted for a view, with its frame hash computed once.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredProposal {
    pub proposal: Proposal,
    #[serde(with = "crate::crypto::readable")]
    pub frame_hash: [u8; 32],
}

/// The state of deciding one height.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Round {
    /// The height being decided (committed + 1).
    pub height: u64,
    /// The current view.
    pub view: u64,
    /// When the current view's timer started; `None` while the replica has nothing to do.
    pub view_started_at: Option<u64>,
    /// The first acceptable proposal per view.
    pub proposals: BTreeMap<u64, StoredProposal>,
    /// Frames this replica has checked (from proposals and view-change certificates).
    #[serde(with = "crate::crypto::readable")]
    pub frames: BTreeMap<[u8; 32], ValidatedFrame>,
    /// Votes by (kind, view, voter); the first one received from each voter.
    pub votes: BTreeMap<(VoteKind, u64, Address), Vote>,
    /// View changes by (new view, sender).
    pub view_changes: BTreeMap<(u64, Address), ViewChange>,
    /// (view, frame hash) this replica precommitted last.
    #[serde(with = "crate::crypto::readable")]
    pub locked: Option<(u64, [u8; 32])>,
    /// The highest-view frame with a prevote quorum this replica knows, and its hash.
    #[serde(with = "crate::crypto::readable")]
    pub valid: Option<(ValidCert, [u8; 32])>,
    /// Views in which this replica proposed.
    pub proposed: BTreeSet<u64>,
    /// The highest view this replica asked to move to.
    pub view_change_sent: Option<u64>,
    /// Validators caught equivocating at this height: their votes no longer count.
    pub equivocators: BTreeSet<Address>,
    /// When this replica last resent its messages.
    pub last_resend_at: Option<u64>,
}

impl Round {
    /// A fresh round for `height` at view 0.
    pub fn new(height: u64) -> Self {
        Round {
            height,
            view: 0,
            view_started_at: None,
            proposals: BTreeMap::new(),
            frames: BTreeMap::new(),
            votes: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            locked: None,
            valid: None,
            proposed: BTreeSet::new(),
            view_change_sent: None,
            equivocators: BTreeSet::new(),
            last_resend_at: None,
        }
    }

    /// True once anything happened at this height (so timers must run).
    pub fn is_active(&self) -> bool {
        !self.proposals.is_empty()
            || !self.votes.is_empty()
            || !self.view_changes.is_empty()
            || self.locked.is_some()
            || self.valid.is_some()
    }

    /// Shares of non-equivocating voters whose `kind` vote at `view` is for `hash`.
    pub fn tally(&self, board: &Board, kind: VoteKind, view: u64, hash: &[u8; 32]) -> u64 {
        board.weight(self.voters(kind, view, hash))
    }

    /// The non-equivocating votes of `kind` at `view` for `hash`.
    pub fn votes_for(&self, kind: VoteKind, view: u64, hash: &[u8; 32]) -> Vec<Vote> {
        self.votes
            .range((kind, view, Address::default())..)
            .take_while(|((k, v, _), _)| *k == kind && *v == view)
            .filter(|((_, _, a), vote)| vote.frame_hash == *hash && !self.equivocators.contains(a))
            .map(|(_, vote)| vote.clone())
            .collect()
    }

    fn voters<'a>(
        &'a self,
        kind: VoteKind,
        view: u64,
        hash: &'a [u8; 32],
    ) -> impl Iterator<Item = &'a Address> + 'a {
        self.votes
            .range((kind, view, Address::default())..)
            .take_while(move |((k, v, _), _)| *k == kind && *v == view)
            .filter(move |((_, _, a), vote)| {
                vote.frame_hash == *hash && !self.equivocators.contains(a)
            })
            .map(|((_, _, a), _)| a)
    }

    /// Every (view, frame hash) that has `kind` votes, ascending.
    pub fn voted(&self, kind: VoteKind) -> BTreeSet<(u64, [u8; 32])> {
        self.votes
            .iter()
            .filter(|((k, _, _), _)| *k == kind)
            .map(|((_, v, _), vote)| (*v, vote.frame_hash))
            .collect()
    }

    /// The first (view, hash) of `kind` votes that reaches the threshold and whose frame
    /// this replica has checked, scanning views in `views`.
    pub fn quorum_with_frame(
        &self,
        board: &Board,
        kind: VoteKind,
        views: impl Fn(u64) -> bool,
    ) -> Option<(u64, [u8; 32])> {
        self.voted(kind).into_iter().find(|(view, hash)| {
            views(*view)
                && self.frames.contains_key(hash)
                && board.is_quorum(self.tally(board, kind, *view, hash))
        })
    }

    /// The highest view `w` such that validators whose latest view change asks for `w` or
    /// more hold at least `shares`.
    pub fn view_change_support(&self, board: &Board, shares: u64) -> Option<u64> {
        let mut latest: BTreeMap<Address, u64> = BTreeMap::new();
        for (view, who) in self.view_changes.keys() {
            let entry = latest.entry(*who).or_insert(*view);
            *entry = (*entry).max(*view);
        }
        let candidates: BTreeSet<u64> = latest.values().copied().collect();
        candidates.into_iter().rev().find(|w| {
            let supporters = latest.iter().filter(|(_, v)| **v >= *w).map(|(a, _)| a);
            board.weight(supporters) >= shares
        })
    }
}
