//! Gossip: the [`Profile`] an entity advertises (capabilities, fees, accounts with capacities)
//! and [`GossipState`], the last-write-wins CRDT of the newest profile per entity.
//!
//! Order of two profiles of one entity: the higher `timestamp` wins; on equal timestamps the
//! profile with the greater canonical bytes wins. That order is total, so merging is
//! commutative, associative and idempotent: replicas that saw the same profiles, in any
//! order, any grouping and with any duplicates, hold identical states (and state hashes).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::crypto::{tagged, Canonical, RlpItem};

/// An entity address (20 bytes, as on chain).
pub type EntityAddress = [u8; 20];

/// One account an entity advertises: with whom, in which token, and how much it can send
/// (`capacity_out`) and receive (`capacity_in`) through it, in the token's smallest unit.
/// Advertised figures are claims, not guarantees: the account machine has the final word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdvertisedAccount {
    /// The counterparty entity.
    pub peer: EntityAddress,
    /// Token id of the account's delta.
    pub token: u64,
    /// What the advertising entity can send to `peer`.
    pub capacity_out: u128,
    /// What the advertising entity can receive from `peer`.
    pub capacity_in: u128,
}

impl Canonical for AdvertisedAccount {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/advertised-account/v1",
            vec![
                self.peer.canonical_rlp(),
                self.token.canonical_rlp(),
                self.capacity_out.canonical_rlp(),
                self.capacity_in.canonical_rlp(),
            ],
        )
    }
}

/// What an entity tells the network about itself. `fee_base` (in the token's smallest unit)
/// and `fee_ppm` (millionths of the forwarded amount) are what it charges to forward a
/// payment out through any of its accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Profile {
    /// The advertising entity; the CRDT key.
    pub entity: EntityAddress,
    /// Version of the profile: the entity's own clock reading, supplied as a runtime input.
    pub timestamp: u64,
    /// Free-form capability names (e.g. `"hub"`, `"swap"`).
    pub capabilities: Vec<String>,
    /// Fixed forwarding fee per payment.
    pub fee_base: u128,
    /// Proportional forwarding fee in millionths.
    pub fee_ppm: u32,
    /// Accounts the entity offers for routing.
    pub accounts: Vec<AdvertisedAccount>,
}

impl Canonical for Profile {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/profile/v1",
            vec![
                self.entity.canonical_rlp(),
                self.timestamp.canonical_rlp(),
                self.capabilities.canonical_rlp(),
                self.fee_base.canonical_rlp(),
                self.fee_ppm.canonical_rlp(),
                self.accounts.canonical_rlp(),
            ],
        )
    }
}

impl Profile {
    /// The last-write-wins order between two profiles (meaningful for the same entity):
    /// timestamp first, then canonical bytes. `Greater` means `self` wins. Total, so merge
    /// results never depend on arrival order.
    pub fn lww_cmp(&self, other: &Profile) -> Ordering {
        self.timestamp
            .cmp(&other.timestamp)
            .then_with(|| self.canonical_bytes().cmp(&other.canonical_bytes()))
    }

    /// The first advertised account with `peer` in `token`, if any. A profile that lists the
    /// same account twice is answered by its first entry, so the answer is deterministic.
    pub fn account(&self, peer: &EntityAddress, token: u64) -> Option<&AdvertisedAccount> {
        self.accounts
            .iter()
            .find(|a| &a.peer == peer && a.token == token)
    }
}

/// What [`GossipState::merge`] did with a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    /// First profile seen for this entity.
    Inserted,
    /// Newer than the stored one, which it replaced.
    Replaced,
    /// Not newer than (or equal to) the stored one: ignored.
    Kept,
}

/// The newest known [`Profile`] of every entity: a state-based last-write-wins CRDT keyed
/// by entity. Merging never fails; size limits on incoming profiles belong to the transport
/// (message size), not here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GossipState {
    profiles: BTreeMap<EntityAddress, Profile>,
}

impl GossipState {
    /// An empty state.
    pub fn new() -> GossipState {
        GossipState::default()
    }

    /// Merges one profile: it replaces the stored profile of its entity only if it wins
    /// [`Profile::lww_cmp`]. Returns what happened so callers can decide whether to relay it
    /// (relay `Inserted`/`Replaced`, drop `Kept`).
    pub fn merge(&mut self, profile: Profile) -> MergeOutcome {
        match self.profiles.get_mut(&profile.entity) {
            None => {
                self.profiles.insert(profile.entity, profile);
                MergeOutcome::Inserted
            }
            Some(stored) if profile.lww_cmp(stored) == Ordering::Greater => {
                *stored = profile;
                MergeOutcome::Replaced
            }
            Some(_) => MergeOutcome::Kept,
        }
    }

    /// Merges every profile of `other` (the CRDT join). Commutative, associative, idempotent.
    pub fn merge_state(&mut self, other: &GossipState) {
        for profile in other.profiles.values() {
            self.merge(profile.clone());
        }
    }

    /// The stored profile of `entity`, if any.
    pub fn get(&self, entity: &EntityAddress) -> Option<&Profile> {
        self.profiles.get(entity)
    }

    /// All stored profiles in ascending entity-address order.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// Number of entities with a profile.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// True if no profile has been merged.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }
}

impl Canonical for GossipState {
    /// The profiles in entity order; its hash is the state hash replicas compare.
    fn canonical_rlp(&self) -> RlpItem {
        let profiles: Vec<&Profile> = self.profiles.values().collect();
        tagged(b"xln/gossip-state/v1", vec![profiles.canonical_rlp()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(entity: u8, timestamp: u64, fee_base: u128) -> Profile {
        Profile {
            entity: [entity; 20],
            timestamp,
            capabilities: vec!["hub".into()],
            fee_base,
            fee_ppm: 100,
            accounts: vec![],
        }
    }

    #[test]
    fn newer_timestamp_wins_and_older_is_kept_out() {
        let mut s = GossipState::new();
        assert_eq!(s.merge(profile(1, 5, 10)), MergeOutcome::Inserted);
        assert_eq!(s.merge(profile(1, 4, 99)), MergeOutcome::Kept);
        assert_eq!(s.merge(profile(1, 6, 7)), MergeOutcome::Replaced);
        assert_eq!(s.get(&[1; 20]).map(|p| p.fee_base), Some(7));
        assert_eq!(s.merge(profile(1, 6, 7)), MergeOutcome::Kept);
    }

    #[test]
    fn equal_timestamps_break_ties_by_canonical_bytes_in_any_order() {
        let (a, b) = (profile(1, 5, 10), profile(1, 5, 11));
        let winner = if a.canonical_bytes() > b.canonical_bytes() {
            &a
        } else {
            &b
        };
        let mut ab = GossipState::new();
        ab.merge(a.clone());
        ab.merge(b.clone());
        let mut ba = GossipState::new();
        ba.merge(b.clone());
        ba.merge(a.clone());
        assert_eq!(ab, ba);
        assert_eq!(ab.get(&[1; 20]), Some(winner));
        assert_eq!(ab.canonical_hash(), ba.canonical_hash());
    }

    #[test]
    fn account_lookup_takes_the_first_entry() {
        let mut p = profile(1, 1, 0);
        let acc = |out| AdvertisedAccount {
            peer: [2; 20],
            token: 1,
            capacity_out: out,
            capacity_in: 0,
        };
        p.accounts = vec![acc(5), acc(9)];
        assert_eq!(p.account(&[2; 20], 1).map(|a| a.capacity_out), Some(5));
        assert_eq!(p.account(&[2; 20], 2), None);
    }
}
