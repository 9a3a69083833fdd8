//! Byzantine replica behaviours for the simulator. A byzantine replica runs the honest
//! machine and the runtime rewrites what it sends ([`Behaviour`]); honest replicas must
//! reject or ignore the result and keep going.

use std::fmt;

use crate::crypto::{keccak256, SecretKey, Signature};
use crate::entity::{EntityFrame, EntityMessage, EntityReplica, Proposal, Vote};

/// How a replica misbehaves. Settable at any time; [`Behaviour::Honest`] is the default.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Sends nothing (a crashed or partitioned validator).
    Silent,
    /// As proposer, sends one frame to half of its peers and a different valid frame to the
    /// other half; as voter, sends every peer both its vote and a vote for a fabricated
    /// frame hash. (It does not coordinate with other byzantine replicas.)
    Equivocate,
    /// Every message it signs carries a signature over the wrong digest.
    InvalidSignatures,
    /// Its proposals carry a wrong state hash (properly signed).
    WrongStateHash,
    /// Behaves, and also re-sends a random old message (its own or one it received)
    /// every other tick.
    ReplayOld,
    /// Runs altered subcontract code: every transfer its subcontract engine computes is one
    /// unit more than the code says, so its states (and hashes) differ from the honest ones
    /// whenever a subcontract runs.
    AlteredSubcontract,
}

impl Behaviour {
    /// Every behaviour, honest first.
    pub const ALL: [Behaviour; 7] = [
        Behaviour::Honest,
        Behaviour::Silent,
        Behaviour::Equivocate,
        Behaviour::InvalidSignatures,
        Behaviour::WrongStateHash,
        Behaviour::ReplayOld,
        Behaviour::AlteredSubcontract,
    ];

    /// The kebab-case name used in the timeline.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Honest => "honest",
            Behaviour::Silent => "silent",
            Behaviour::Equivocate => "equivocate",
            Behaviour::InvalidSignatures => "invalid-signatures",
            Behaviour::WrongStateHash => "wrong-state-hash",
            Behaviour::ReplayOld => "replay-old",
            Behaviour::AlteredSubcontract => "altered-subcontract",
        }
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rewrites one message a byzantine replica sends to the peer at position `peer_rank`
/// among its recipients: the messages that peer receives instead (none, one or two).
pub(super) fn rewrite(
    behaviour: Behaviour,
    key: &SecretKey,
    replica: &EntityReplica,
    message: &EntityMessage,
    peer_rank: usize,
) -> Vec<EntityMessage> {
    let mine = message.author() == Some(replica.me());
    match behaviour {
        Behaviour::Honest | Behaviour::ReplayOld | Behaviour::AlteredSubcontract => {
            vec![message.clone()]
        }
        Behaviour::Silent => Vec::new(),
        Behaviour::InvalidSignatures if mine => vec![corrupt_signature(key, message)],
        Behaviour::WrongStateHash => match message {
            EntityMessage::Proposal(p) if mine => {
                let mut frame = p.frame.clone();
                frame.state_hash = keccak256(&frame.state_hash);
                resign_proposal(key, replica, p, frame).map_or_else(Vec::new, |m| vec![m])
            }
            _ => vec![message.clone()],
        },
        Behaviour::Equivocate if mine => equivocate(key, replica, message, peer_rank),
        Behaviour::InvalidSignatures | Behaviour::Equivocate => vec![message.clone()],
    }
}

fn equivocate(
    key: &SecretKey,
    replica: &EntityReplica,
    message: &EntityMessage,
    peer_rank: usize,
) -> Vec<EntityMessage> {
    match message {
        EntityMessage::Proposal(p) if peer_rank % 2 == 1 => {
            let mut engine = crate::sandbox::SandboxEngine::new();
            let frame = EntityFrame::build(
                replica.state(),
                p.frame.txs.clone(),
                p.frame.timestamp + 1,
                &mut engine,
            );
            resign_proposal(key, replica, p, frame).map_or_else(Vec::new, |m| vec![m])
        }
        EntityMessage::Vote(v) => {
            let fake = [&v.frame_hash[..], b"equivocate"].concat();
            let Ok(other) = Vote::sign(
                &replica.entity_id(),
                key,
                v.validator,
                v.kind,
                v.height,
                v.view,
                keccak256(&fake),
            ) else {
                return vec![message.clone()];
            };
            let other = EntityMessage::Vote(other);
            if peer_rank % 2 == 0 {
                vec![message.clone(), other]
            } else {
                vec![other, message.clone()]
            }
        }
        _ => vec![message.clone()],
    }
}

/// The proposal `p` with `frame` instead, without a proof-of-lock, properly signed.
fn resign_proposal(
    key: &SecretKey,
    replica: &EntityReplica,
    p: &Proposal,
    frame: EntityFrame,
) -> Option<EntityMessage> {
    Proposal::sign(&replica.entity_id(), key, p.proposer, p.view, frame, None)
        .ok()
        .map(EntityMessage::Proposal)
}

thread_local! {
    /// The wrong signature of each key (signing is costly and the digest is fixed).
    static WRONG: std::cell::RefCell<std::collections::HashMap<crate::crypto::Address, Signature>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The message with its author's signature replaced by one over an unrelated digest: well
/// formed, but it does not verify.
fn corrupt_signature(key: &SecretKey, message: &EntityMessage) -> EntityMessage {
    let Some(author) = message.author() else {
        return message.clone();
    };
    let known = WRONG.with(|w| w.borrow().get(&author).copied());
    let wrong = match known {
        Some(sig) => sig,
        None => match key.sign_digest(&keccak256(b"xln/runtime/invalid-signature")) {
            Ok(sig) => {
                WRONG.with(|w| w.borrow_mut().insert(author, sig));
                sig
            }
            Err(_) => return message.clone(),
        },
    };
    let mut m = message.clone();
    let slot: Option<&mut Signature> = match &mut m {
        EntityMessage::Tx(t) => Some(&mut t.signature),
        EntityMessage::Proposal(p) => Some(&mut p.signature),
        EntityMessage::Vote(v) => Some(&mut v.signature),
        EntityMessage::ViewChange(v) => Some(&mut v.signature),
        EntityMessage::AccountPart(p) => Some(&mut p.signature),
        EntityMessage::ProfilePart(p) => Some(&mut p.signature),
        EntityMessage::AccountOpen(o) => Some(&mut o.signature),
        EntityMessage::Commit(_)
        | EntityMessage::SyncRequest { .. }
        | EntityMessage::Profile(_) => None,
    };
    if let Some(s) = slot {
        *s = wrong;
    }
    m
}
