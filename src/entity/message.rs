//! What replicas of one entity say to each other ([`EntityMessage`]): proposals, prevotes
//! and precommits, view changes, commit notices, tx gossip and sync requests; the digest
//! each signer signs (every one binds the entity id and a per-kind domain tag); quorum
//! certificate checks; [`Evidence`] of equivocation; and the verified-signature cache.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use super::accounts::AccountOpen;
use super::gossip::{ProfilePart, SignedProfile};
use super::{AccountPart, Board, EntityError, EntityFrame, EntityId, SignedTx};
use crate::crypto::{tagged, verify_address, Address, Canonical, RlpItem, SecretKey, Signature};

/// Entries kept by the per-thread verified-signature cache before it is cleared.
const SIGNATURE_CACHE_MAX: usize = 1 << 16;

/// (signer, digest, signature): what one verification checks.
type SignatureCheck = (Address, [u8; 32], Signature);

thread_local! {
    static VERIFIED: RefCell<HashMap<SignatureCheck, bool>> = RefCell::new(HashMap::new());
}

/// `verify_address` memoised per thread: a (signer, digest, signature) triple is verified
/// once, then its result is looked up. Why: every replica of an entity checks the same
/// signatures, and relays and resends repeat them; verification is a pure function, so
/// caching it cannot change any outcome (only the cost). The cache is bounded: it is
/// cleared when it reaches [`SIGNATURE_CACHE_MAX`] entries.
pub(crate) fn verify_cached(signer: &Address, digest: &[u8; 32], signature: &Signature) -> bool {
    let key = (*signer, *digest, *signature);
    if let Some(known) = VERIFIED.with(|c| c.borrow().get(&key).copied()) {
        return known;
    }
    let ok = verify_address(signer, digest, signature).is_ok();
    VERIFIED.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= SIGNATURE_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, ok);
    });
    ok
}

fn sign(key: &SecretKey, digest: &[u8; 32]) -> Result<Signature, EntityError> {
    key.sign_digest(digest)
        .map_err(|e| EntityError::SigningFailed(e.to_string()))
}

/// The two voting steps of a view.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum VoteKind {
    /// "This proposal is valid and I may vote for it": `T` prevotes lock a frame.
    Prevote,
    /// "I saw `T` prevotes for this frame and locked it": `T` precommits commit it.
    Precommit,
}

impl VoteKind {
    fn tag(self) -> &'static [u8] {
        match self {
            VoteKind::Prevote => b"xln/entity-prevote/v1",
            VoteKind::Precommit => b"xln/entity-precommit/v1",
        }
    }

    /// "prevote" or "precommit".
    pub fn name(self) -> &'static str {
        match self {
            VoteKind::Prevote => "prevote",
            VoteKind::Precommit => "precommit",
        }
    }
}

/// A validator's signed prevote or precommit for a frame hash at `(height, view)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The height voted on.
    pub height: u64,
    /// The view voted in.
    pub view: u64,
    /// The frame voted for.
    #[serde(with = "crate::crypto::readable")]
    pub frame_hash: [u8; 32],
    /// The voter.
    pub validator: Address,
    /// The voter's signature over [`Vote::digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged(kind tag, [height, view, frame_hash, validator, signature])`
/// with kind tag `xln/entity-prevote/v1` or `xln/entity-precommit/v1`.
impl Canonical for Vote {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            self.kind.tag(),
            vec![
                self.height.canonical_rlp(),
                self.view.canonical_rlp(),
                self.frame_hash.canonical_rlp(),
                self.validator.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

impl Vote {
    /// The signed digest: `tagged(kind tag, [entity_id, height, view, frame_hash])` hashed.
    pub fn digest(
        entity: &EntityId,
        kind: VoteKind,
        height: u64,
        view: u64,
        frame_hash: &[u8; 32],
    ) -> [u8; 32] {
        tagged(
            kind.tag(),
            vec![
                entity.canonical_rlp(),
                height.canonical_rlp(),
                view.canonical_rlp(),
                frame_hash.canonical_rlp(),
            ],
        )
        .canonical_hash()
    }

    /// A vote signed by `key`.
    ///
    /// # Errors
    /// [`EntityError::SigningFailed`] with negligible probability.
    pub fn sign(
        entity: &EntityId,
        key: &SecretKey,
        validator: Address,
        kind: VoteKind,
        height: u64,
        view: u64,
        frame_hash: [u8; 32],
    ) -> Result<Vote, EntityError> {
        let digest = Vote::digest(entity, kind, height, view, &frame_hash);
        Ok(Vote {
            kind,
            height,
            view,
            frame_hash,
            validator,
            signature: sign(key, &digest)?,
        })
    }

    /// Checks the voter's signature.
    ///
    /// # Errors
    /// [`EntityError::BadSignature`].
    pub fn verify(&self, entity: &EntityId) -> Result<(), EntityError> {
        let digest = Vote::digest(entity, self.kind, self.height, self.view, &self.frame_hash);
        if verify_cached(&self.validator, &digest, &self.signature) {
            Ok(())
        } else {
            Err(EntityError::BadSignature {
                what: self.kind.name(),
                signer: self.validator,
                height: self.height,
            })
        }
    }
}

/// Checks that `votes` are a quorum certificate: all of `kind` at `(height, view)` for
/// `frame_hash`, from distinct validators of `board`, validly signed, with shares reaching
/// the threshold. `what` names the certificate in errors.
///
/// # Errors
/// [`EntityError::BadCertificate`] for a mismatch, a duplicate, a non-validator or too few
/// shares; [`EntityError::BadSignature`] for a bad vote signature.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify_quorum(
    entity: &EntityId,
    board: &Board,
    votes: &[Vote],
    kind: VoteKind,
    height: u64,
    view: u64,
    frame_hash: &[u8; 32],
    what: &'static str,
) -> Result<(), EntityError> {
    let bad = |reason: String| EntityError::BadCertificate { what, reason };
    if votes.len() > board.validators.len() {
        return Err(bad(format!(
            "{} votes for a board of {}",
            votes.len(),
            board.validators.len()
        )));
    }
    let mut signers = BTreeSet::new();
    for vote in votes {
        if vote.kind != kind || vote.height != height || vote.view != view {
            return Err(bad(format!(
                "a {} at height {} view {} where {} at height {height} view {view} is needed",
                vote.kind.name(),
                vote.height,
                vote.view,
                kind.name()
            )));
        }
        if vote.frame_hash != *frame_hash {
            return Err(bad("a vote for a different frame".into()));
        }
        if !board.contains(&vote.validator) {
            return Err(bad(format!("{} is not a validator", vote.validator)));
        }
        if !signers.insert(vote.validator) {
            return Err(bad(format!("{} votes twice", vote.validator)));
        }
    }
    let shares = board.weight(&signers);
    if !board.is_quorum(shares) {
        return Err(bad(format!(
            "{shares} shares, the threshold is {}",
            board.threshold
        )));
    }
    votes.iter().try_for_each(|v| v.verify(entity))
}

/// A frame proposed by the proposer of `(height, view)`. A re-proposed valid frame carries
/// `valid_view` and `pol`: `T` prevote shares for it at `valid_view` (its proof-of-lock).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    /// The height.
    pub height: u64,
    /// The view.
    pub view: u64,
    /// The proposed frame.
    pub frame: EntityFrame,
    /// The view whose prevotes `pol` holds, for a re-proposed frame.
    pub valid_view: Option<u64>,
    /// Prevotes for the frame at `valid_view` (empty when `valid_view` is `None`).
    pub pol: Vec<Vote>,
    /// The proposer.
    pub proposer: Address,
    /// The proposer's signature over [`Proposal::digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged("xln/entity-proposal-message/v1", [height, view, frame,
/// valid_view, pol, proposer, signature])`.
impl Canonical for Proposal {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-proposal-message/v1",
            vec![
                self.height.canonical_rlp(),
                self.view.canonical_rlp(),
                self.frame.canonical_rlp(),
                self.valid_view.canonical_rlp(),
                self.pol.canonical_rlp(),
                self.proposer.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

impl Proposal {
    /// The signed digest: `tagged("xln/entity-proposal/v1", [entity_id, height, view,
    /// frame_hash, valid_view])` hashed.
    pub fn digest(
        entity: &EntityId,
        height: u64,
        view: u64,
        frame_hash: &[u8; 32],
        valid_view: Option<u64>,
    ) -> [u8; 32] {
        tagged(
            b"xln/entity-proposal/v1",
            vec![
                entity.canonical_rlp(),
                height.canonical_rlp(),
                view.canonical_rlp(),
                frame_hash.canonical_rlp(),
                valid_view.canonical_rlp(),
            ],
        )
        .canonical_hash()
    }

    /// A proposal of `frame` at `view`, signed by `key` (whose address is `proposer`).
    ///
    /// # Errors
    /// [`EntityError::SigningFailed`] with negligible probability.
    pub fn sign(
        entity: &EntityId,
        key: &SecretKey,
        proposer: Address,
        view: u64,
        frame: EntityFrame,
        valid: Option<(u64, Vec<Vote>)>,
    ) -> Result<Proposal, EntityError> {
        let hash = frame.hash();
        Proposal::sign_hashed(entity, key, proposer, view, frame, &hash, valid)
    }

    /// As [`Proposal::sign`], with the frame's hash already computed.
    pub(crate) fn sign_hashed(
        entity: &EntityId,
        key: &SecretKey,
        proposer: Address,
        view: u64,
        frame: EntityFrame,
        frame_hash: &[u8; 32],
        valid: Option<(u64, Vec<Vote>)>,
    ) -> Result<Proposal, EntityError> {
        let (valid_view, pol) = match valid {
            Some((v, pol)) => (Some(v), pol),
            None => (None, Vec::new()),
        };
        let digest = Proposal::digest(entity, frame.height, view, frame_hash, valid_view);
        Ok(Proposal {
            height: frame.height,
            view,
            frame,
            valid_view,
            pol,
            proposer,
            signature: sign(key, &digest)?,
        })
    }

    /// Checks the proposer's signature, given the frame's hash (computed once by the caller).
    ///
    /// # Errors
    /// [`EntityError::BadSignature`].
    pub fn verify_signature(
        &self,
        entity: &EntityId,
        frame_hash: &[u8; 32],
    ) -> Result<(), EntityError> {
        let digest = Proposal::digest(entity, self.height, self.view, frame_hash, self.valid_view);
        if verify_cached(&self.proposer, &digest, &self.signature) {
            Ok(())
        } else {
            Err(EntityError::BadSignature {
                what: "proposal",
                signer: self.proposer,
                height: self.height,
            })
        }
    }
}

/// A frame with `T` prevote shares at `view`: what a replica may re-propose, and what it
/// reports in a view change so the next proposer re-proposes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidCert {
    /// The view of the prevotes.
    pub view: u64,
    /// The frame.
    pub frame: EntityFrame,
    /// `T` prevote shares for the frame at `view`.
    pub prevotes: Vec<Vote>,
}

/// Canonical encoding: `tagged("xln/entity-valid-cert/v1", [view, frame, prevotes])`.
impl Canonical for ValidCert {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-valid-cert/v1",
            vec![
                self.view.canonical_rlp(),
                self.frame.canonical_rlp(),
                self.prevotes.canonical_rlp(),
            ],
        )
    }
}

/// "The view at `height` timed out for me; let us move to `new_view`", with the sender's
/// valid frame (if any) so the next proposer re-proposes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ViewChange {
    /// The height.
    pub height: u64,
    /// The view to move to.
    pub new_view: u64,
    /// The sender.
    pub validator: Address,
    /// The sender's valid frame and its prevotes.
    pub valid: Option<ValidCert>,
    /// The sender's signature over [`ViewChange::digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged("xln/entity-view-change-message/v1", [height, new_view,
/// validator, valid, signature])`.
impl Canonical for ViewChange {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-view-change-message/v1",
            vec![
                self.height.canonical_rlp(),
                self.new_view.canonical_rlp(),
                self.validator.canonical_rlp(),
                self.valid.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

impl ViewChange {
    /// The signed digest: `tagged("xln/entity-view-change/v1", [entity_id, height, new_view,
    /// valid (view, frame hash) or none])` hashed.
    pub fn digest(
        entity: &EntityId,
        height: u64,
        new_view: u64,
        valid: Option<(u64, [u8; 32])>,
    ) -> [u8; 32] {
        tagged(
            b"xln/entity-view-change/v1",
            vec![
                entity.canonical_rlp(),
                height.canonical_rlp(),
                new_view.canonical_rlp(),
                valid.canonical_rlp(),
            ],
        )
        .canonical_hash()
    }

    /// A view change signed by `key`; `valid_hash` is the hash of `valid`'s frame.
    ///
    /// # Errors
    /// [`EntityError::SigningFailed`] with negligible probability.
    pub fn sign(
        entity: &EntityId,
        key: &SecretKey,
        validator: Address,
        height: u64,
        new_view: u64,
        valid: Option<(ValidCert, [u8; 32])>,
    ) -> Result<ViewChange, EntityError> {
        let reference = valid.as_ref().map(|(c, h)| (c.view, *h));
        let digest = ViewChange::digest(entity, height, new_view, reference);
        Ok(ViewChange {
            height,
            new_view,
            validator,
            valid: valid.map(|(c, _)| c),
            signature: sign(key, &digest)?,
        })
    }

    /// Checks the sender's signature, given the hash of the valid frame (if any).
    ///
    /// # Errors
    /// [`EntityError::BadSignature`].
    pub fn verify_signature(
        &self,
        entity: &EntityId,
        valid_hash: Option<[u8; 32]>,
    ) -> Result<(), EntityError> {
        let reference = self
            .valid
            .as_ref()
            .zip(valid_hash)
            .map(|(c, h)| (c.view, h));
        let digest = ViewChange::digest(entity, self.height, self.new_view, reference);
        if verify_cached(&self.validator, &digest, &self.signature) {
            Ok(())
        } else {
            Err(EntityError::BadSignature {
                what: "view change",
                signer: self.validator,
                height: self.height,
            })
        }
    }
}

/// A committed frame and the `T` precommit shares (one view) that commit it: lets a
/// replica that missed the votes catch up after checking the quorum itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitNotice {
    /// The committed frame.
    pub frame: EntityFrame,
    /// Precommits for its hash, all at one view.
    pub precommits: Vec<Vote>,
}

/// Canonical encoding: `tagged("xln/entity-commit-notice/v1", [frame, precommits])`.
impl Canonical for CommitNotice {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-commit-notice/v1",
            vec![self.frame.canonical_rlp(), self.precommits.canonical_rlp()],
        )
    }
}

/// A message between replicas of one entity.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntityMessage {
    /// Mempool gossip: a signed tx for whoever proposes next.
    Tx(SignedTx),
    /// A proposal (also relayed by replicas that accepted it).
    Proposal(Proposal),
    /// A prevote or precommit.
    Vote(Vote),
    /// A view change.
    ViewChange(ViewChange),
    /// A commit notice.
    Commit(CommitNotice),
    /// "I am `from` and my next height is `height`: send me the commits I lack." Unsigned:
    /// answers are self-verifying commit notices, sent only to validators, at most
    /// [`EntityConfig::commits_kept`](super::EntityConfig::commits_kept) per request.
    SyncRequest {
        /// The asking validator.
        from: Address,
        /// Its next height.
        height: u64,
    },
    /// One validator's part of the hanko of an account message to another entity.
    AccountPart(Box<AccountPart>),
    /// A validator's note that its entity opened an account with the receiving entity.
    AccountOpen(Box<AccountOpen>),
    /// One validator's signature over its entity's profile, to an account peer.
    ProfilePart(Box<ProfilePart>),
    /// A complete (quorum-signed) profile, passed along accounts.
    Profile(Box<SignedProfile>),
}

/// Canonical encoding: `tagged("xln/entity-message/<kind>/v1", [payload])`, or for a sync
/// request `tagged("xln/entity-message/sync-request/v1", [from, height])`.
impl Canonical for EntityMessage {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            EntityMessage::Tx(t) => tagged(b"xln/entity-message/tx/v1", vec![t.canonical_rlp()]),
            EntityMessage::Proposal(p) => {
                tagged(b"xln/entity-message/proposal/v1", vec![p.canonical_rlp()])
            }
            EntityMessage::Vote(v) => {
                tagged(b"xln/entity-message/vote/v1", vec![v.canonical_rlp()])
            }
            EntityMessage::ViewChange(v) => tagged(
                b"xln/entity-message/view-change/v1",
                vec![v.canonical_rlp()],
            ),
            EntityMessage::Commit(c) => {
                tagged(b"xln/entity-message/commit/v1", vec![c.canonical_rlp()])
            }
            EntityMessage::SyncRequest { from, height } => tagged(
                b"xln/entity-message/sync-request/v1",
                vec![from.canonical_rlp(), height.canonical_rlp()],
            ),
            EntityMessage::AccountPart(p) => tagged(
                b"xln/entity-message/account-part/v1",
                vec![p.canonical_rlp()],
            ),
            EntityMessage::AccountOpen(o) => tagged(
                b"xln/entity-message/account-open/v1",
                vec![o.canonical_rlp()],
            ),
            EntityMessage::ProfilePart(p) => tagged(
                b"xln/entity-message/profile-part/v1",
                vec![p.canonical_rlp()],
            ),
            EntityMessage::Profile(p) => {
                tagged(b"xln/entity-message/profile/v1", vec![p.canonical_rlp()])
            }
        }
    }
}

impl EntityMessage {
    /// Every name [`EntityMessage::kind`] returns (keep the two side by side in step: a
    /// snapshot reads timeline kinds back against this list).
    pub const KINDS: [&'static str; 11] = [
        "tx",
        "proposal",
        "prevote",
        "precommit",
        "view-change",
        "commit",
        "sync-request",
        "account-part",
        "account-open",
        "profile-part",
        "profile",
    ];

    /// The kind name, one of [`EntityMessage::KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            EntityMessage::Tx(_) => "tx",
            EntityMessage::Proposal(_) => "proposal",
            EntityMessage::Vote(v) => v.kind.name(),
            EntityMessage::ViewChange(_) => "view-change",
            EntityMessage::Commit(_) => "commit",
            EntityMessage::SyncRequest { .. } => "sync-request",
            EntityMessage::AccountPart(_) => "account-part",
            EntityMessage::AccountOpen(_) => "account-open",
            EntityMessage::ProfilePart(_) => "profile-part",
            EntityMessage::Profile(_) => "profile",
        }
    }

    /// The height the message is about (0 for gossip txs, which have none).
    pub fn height(&self) -> u64 {
        match self {
            EntityMessage::Tx(_) => 0,
            EntityMessage::Proposal(p) => p.height,
            EntityMessage::Vote(v) => v.height,
            EntityMessage::ViewChange(v) => v.height,
            EntityMessage::Commit(c) => c.frame.height,
            EntityMessage::SyncRequest { height, .. } => *height,
            EntityMessage::AccountPart(_)
            | EntityMessage::AccountOpen(_)
            | EntityMessage::ProfilePart(_)
            | EntityMessage::Profile(_) => 0,
        }
    }

    /// The view the message is about (the new view for a view change; 0 where none).
    pub fn view(&self) -> u64 {
        match self {
            EntityMessage::Proposal(p) => p.view,
            EntityMessage::Vote(v) => v.view,
            EntityMessage::ViewChange(v) => v.new_view,
            EntityMessage::Commit(c) => c.precommits.first().map_or(0, |v| v.view),
            EntityMessage::Tx(_)
            | EntityMessage::SyncRequest { .. }
            | EntityMessage::AccountPart(_)
            | EntityMessage::AccountOpen(_)
            | EntityMessage::ProfilePart(_)
            | EntityMessage::Profile(_) => 0,
        }
    }

    /// Who signed (or, for a sync request, claims to send) the message; `None` for a commit
    /// notice, which is a certificate of many signers.
    pub fn author(&self) -> Option<Address> {
        match self {
            EntityMessage::Tx(t) => Some(t.signer),
            EntityMessage::Proposal(p) => Some(p.proposer),
            EntityMessage::Vote(v) => Some(v.validator),
            EntityMessage::ViewChange(v) => Some(v.validator),
            EntityMessage::Commit(_) => None,
            EntityMessage::SyncRequest { from, .. } => Some(*from),
            EntityMessage::AccountPart(p) => Some(p.signer),
            EntityMessage::AccountOpen(o) => Some(o.signer),
            EntityMessage::ProfilePart(p) => Some(p.signer),
            EntityMessage::Profile(_) => None,
        }
    }
}

/// Proof that `validator` signed two different things at one `(height, view)`: two
/// proposals with different frames, or two votes of one kind for different frame hashes.
/// Both signed messages are kept so anyone can check it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The equivocating validator.
    pub validator: Address,
    /// The first signed message.
    pub a: EntityMessage,
    /// The conflicting signed message.
    pub b: EntityMessage,
}

/// Canonical encoding: `tagged("xln/entity-evidence/v1", [validator, a, b])`.
impl Canonical for Evidence {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-evidence/v1",
            vec![
                self.validator.canonical_rlp(),
                self.a.canonical_rlp(),
                self.b.canonical_rlp(),
            ],
        )
    }
}

impl Evidence {
    /// The height of the equivocation.
    pub fn height(&self) -> u64 {
        self.a.height()
    }

    /// The view of the equivocation.
    pub fn view(&self) -> u64 {
        self.a.view()
    }

    /// What was signed twice: "proposal", "prevote" or "precommit".
    pub fn kind(&self) -> &'static str {
        self.a.kind()
    }
}
