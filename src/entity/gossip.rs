//! Gossip as entity behaviour. Each entity publishes its own profile — fee policy, onion
//! key, accounts with the capacities its committed state shows — signed by its board: when
//! a validator sees its entity's profile changed, it asks its board to publish
//! (`EntityTx::PublishProfile`); the frame that applies it fixes the profile in the state,
//! so every validator signs the same bytes and sends its signature to the replicas of every
//! account peer, which assemble a quorum (a hanko) and keep the profile in their replica's
//! [`GossipView`]. A replica that learns a newer profile passes
//! it on along its own accounts (last write wins per entity, so floods die out). Routes
//! are planned by a validator of the sender over its view ([`GossipView::plan`]); the
//! entity then carries the payment out itself (`payment.rs`).
//!
//! The view is replica state (not consensus state): validators of one entity may see
//! profiles at slightly different times. It is persisted with the replica.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};

use super::accounts::{entity_address, Hanko};
use super::message::verify_cached;
use super::payment::{PaymentHop, RoutedPayment, ROUTE_HOPS_MAX};
use super::rejection::{Rejection, RejectionKind};
use super::replica::{EntityOutput, EntityReplica};
use super::state::hex32;
use super::{Board, EntityId, EntityMessage, EntityState, TokenId};
use crate::crypto::{tagged, Address, Canonical, RlpItem, SecretKey, Signature};
use crate::routing::{self, AdvertisedAccount, ChannelGraph, GossipState};

/// Ticks between two publications of one entity's profile (it publishes only if its
/// profile changed since the last one).
pub const GOSSIP_INTERVAL: u64 = 8;

/// Most accounts one profile advertises (the first ones by peer address).
pub const PROFILE_ACCOUNTS_MAX: usize = 1_024;

/// Most profiles one view keeps; new entities beyond it are not learned.
pub const VIEW_PROFILES_MAX: usize = 100_000;

/// Most profile parts a replica holds while waiting for a quorum.
pub const PROFILE_PARTS_MAX: usize = 4_096;

/// The margin the last lock of a route gets beyond the sender's clock, in ticks.
pub const FINAL_TIMEOUT_MARGIN: u64 = 200;

/// What an entity tells the network about itself (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityProfile {
    /// The entity.
    #[serde(with = "crate::crypto::readable")]
    pub entity: EntityId,
    /// Its board (its id is this board's hash), whose quorum signs the profile.
    pub board: Board,
    /// The entity height the profile was built at (last write wins).
    pub height: u64,
    /// Fixed forwarding fee.
    #[serde(with = "crate::crypto::readable")]
    pub fee_base: BigInt,
    /// Proportional forwarding fee, millionths.
    pub fee_ppm: u32,
    /// Timeout delta it asks for.
    pub timeout_delta: u64,
    /// Its onion public key (empty: it takes no routed payments).
    #[serde(with = "crate::crypto::readable")]
    pub onion_key: Vec<u8>,
    /// What it can send and receive per account and token.
    pub accounts: Vec<Advertised>,
}

/// One account and token an entity advertises.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advertised {
    /// The peer.
    #[serde(with = "crate::crypto::readable")]
    pub peer: EntityId,
    /// The token.
    pub token: TokenId,
    /// What the entity can send through it.
    #[serde(with = "crate::crypto::readable")]
    pub out: BigInt,
    /// What it can receive through it.
    #[serde(with = "crate::crypto::readable")]
    pub inn: BigInt,
}

/// Canonical encoding: `tagged("xln/advertised/v1", [peer, token, out, in])`.
impl Canonical for Advertised {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/advertised/v1",
            vec![
                self.peer.canonical_rlp(),
                self.token.canonical_rlp(),
                self.out.canonical_rlp(),
                self.inn.canonical_rlp(),
            ],
        )
    }
}

/// Canonical encoding: `tagged("xln/entity-profile/v1", [entity, board, height, fee_base,
/// fee_ppm, timeout_delta, onion_key, accounts])`.
impl Canonical for EntityProfile {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/entity-profile/v1",
            vec![
                self.entity.canonical_rlp(),
                self.board.canonical_rlp(),
                self.height.canonical_rlp(),
                self.fee_base.canonical_rlp(),
                u64::from(self.fee_ppm).canonical_rlp(),
                self.timeout_delta.canonical_rlp(),
                self.onion_key.canonical_rlp(),
                self.accounts.canonical_rlp(),
            ],
        )
    }
}

impl EntityProfile {
    /// What the board's validators sign.
    pub fn digest(&self) -> [u8; 32] {
        tagged(b"xln/profile-seal/v1", vec![self.canonical_rlp()]).canonical_hash()
    }

    /// The same profile but for its height (to tell whether anything changed).
    pub(super) fn content(&self) -> RlpItem {
        let mut copy = self.clone();
        copy.height = 0;
        copy.canonical_rlp()
    }

    /// The profile `state` publishes.
    pub fn of(state: &EntityState) -> EntityProfile {
        let mut accounts = Vec::new();
        for (peer, account) in state.accounts.iter().take(PROFILE_ACCOUNTS_MAX) {
            for (token, delta) in &account.machine.state.deltas {
                let v = crate::account::view(delta, account.machine.side);
                accounts.push(Advertised {
                    peer: *peer,
                    token: *token,
                    out: v.out_capacity,
                    inn: v.in_capacity,
                });
            }
        }
        EntityProfile {
            entity: state.entity_id,
            board: state.board.clone(),
            height: state.height,
            fee_base: state.fee_policy.base.clone(),
            fee_ppm: state.fee_policy.ppm,
            timeout_delta: state.fee_policy.timeout_delta,
            onion_key: state
                .onion
                .as_ref()
                .map(|o| o.public_key().to_vec())
                .unwrap_or_default(),
            accounts,
        }
    }
}

/// A profile with its board's hanko.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedProfile {
    /// The profile.
    pub profile: EntityProfile,
    /// Signatures of its board's validators over [`EntityProfile::digest`].
    pub hanko: Hanko,
}

/// Canonical encoding: `tagged("xln/signed-profile/v1", [profile, hanko])`.
impl Canonical for SignedProfile {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/signed-profile/v1",
            vec![self.profile.canonical_rlp(), self.hanko.canonical_rlp()],
        )
    }
}

impl SignedProfile {
    /// Checks that the board is the entity's (its hash is the id) and the hanko a quorum of
    /// it over the digest.
    ///
    /// # Errors
    /// What does not hold.
    pub fn verify(&self) -> Result<(), String> {
        let p = &self.profile;
        if p.board.entity_id() != p.entity {
            return Err(format!(
                "the profile's board does not hash to {}",
                hex32(&p.entity)
            ));
        }
        self.hanko.verify(&p.board, &p.digest())
    }
}

/// One validator's signature over an entity's profile, sent to account peers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfilePart {
    /// The profile.
    pub profile: EntityProfile,
    /// The validator.
    pub signer: Address,
    /// Its signature over [`EntityProfile::digest`].
    pub signature: Signature,
}

/// Canonical encoding: `tagged("xln/profile-part/v1", [profile, signer, signature])`.
impl Canonical for ProfilePart {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/profile-part/v1",
            vec![
                self.profile.canonical_rlp(),
                self.signer.canonical_rlp(),
                self.signature.canonical_rlp(),
            ],
        )
    }
}

/// What one replica knows of the network: the newest signed profile of each entity, parts
/// of profiles still short of a quorum, and what it published itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GossipView {
    #[serde(with = "crate::crypto::readable")]
    profiles: BTreeMap<EntityId, SignedProfile>,
    #[serde(with = "crate::crypto::readable")]
    parts: BTreeMap<[u8; 32], SignedProfile>,
    published_at: Option<u64>,
    /// Height of the board's published profile this replica last signed.
    signed_height: u64,
    synced_height: u64,
    /// The entity height whose profile was last compared with the published one.
    checked_height: u64,
}

crate::plain_readable!(SignedProfile, EntityProfile);

impl GossipView {
    /// The newest profile known of `entity`.
    pub fn get(&self, entity: &EntityId) -> Option<&EntityProfile> {
        self.profiles.get(entity).map(|s| &s.profile)
    }

    /// Every profile known, by entity.
    pub fn profiles(&self) -> impl Iterator<Item = &EntityProfile> {
        self.profiles.values().map(|s| &s.profile)
    }

    /// Keeps `signed` if it is newer than what the view has (height, then bytes); returns
    /// whether it did.
    fn merge(&mut self, signed: SignedProfile) -> bool {
        let entity = signed.profile.entity;
        let newer = match self.profiles.get(&entity) {
            None => self.profiles.len() < VIEW_PROFILES_MAX,
            Some(old) => {
                (signed.profile.height, signed.profile.canonical_bytes())
                    > (old.profile.height, old.profile.canonical_bytes())
            }
        };
        if newer {
            self.profiles.insert(entity, signed);
        }
        newer
    }

    /// The view as the routing layer's gossip state for `token`: profiles keyed by the
    /// entities' 20-byte addresses, capacities saturated to 128 bits.
    pub fn routing_state(&self) -> GossipState {
        let mut state = GossipState::new();
        for p in self.profiles() {
            state.merge(routing::Profile {
                entity: entity_address(&p.entity).0,
                timestamp: p.height,
                capabilities: vec!["route".into()],
                fee_base: saturate(&p.fee_base),
                fee_ppm: p.fee_ppm,
                accounts: p
                    .accounts
                    .iter()
                    .map(|a| AdvertisedAccount {
                        peer: entity_address(&a.peer).0,
                        token: a.token,
                        capacity_out: saturate(&a.out),
                        capacity_in: saturate(&a.inn),
                    })
                    .collect(),
            });
        }
        state
    }

    /// Plans a payment of `amount` of `token` from `from` to `to` over this view, at the
    /// sender's clock `now`: the cheapest route, with each hop's amount (fees of the hops
    /// after it added, by their advertised policies) and timeout (their timeout deltas).
    ///
    /// # Errors
    /// [`RejectionKind::Route`] when the view does not know the receiver or no route
    /// carries the amount.
    pub fn plan(
        &self,
        from: &EntityId,
        to: &EntityId,
        amount: &BigInt,
        token: TokenId,
        now: u64,
    ) -> Result<RoutedPayment, Rejection> {
        self.plans(from, to, amount, token, now, 1)?
            .into_iter()
            .next()
            .ok_or_else(|| Rejection::new(RejectionKind::Route, "no route"))
    }

    /// Up to `n` payments along the `n` cheapest routes (see [`GossipView::plan`]).
    ///
    /// # Errors
    /// As [`GossipView::plan`].
    pub fn plans(
        &self,
        from: &EntityId,
        to: &EntityId,
        amount: &BigInt,
        token: TokenId,
        now: u64,
        n: usize,
    ) -> Result<Vec<RoutedPayment>, Rejection> {
        self.plans_with_margin(from, to, amount, token, (now, FINAL_TIMEOUT_MARGIN), n)
    }

    /// As [`GossipView::plans`], the receiver's lock timing out `final_margin` after `now`
    /// (a host whose clock counts milliseconds, as a node's does, needs a wider margin than
    /// the simulator's [`FINAL_TIMEOUT_MARGIN`] ticks).
    ///
    /// # Errors
    /// As [`GossipView::plan`].
    pub fn plans_with_margin(
        &self,
        from: &EntityId,
        to: &EntityId,
        amount: &BigInt,
        token: TokenId,
        (now, final_margin): (u64, u64),
        n: usize,
    ) -> Result<Vec<RoutedPayment>, Rejection> {
        let no_route = |r: String| Rejection::new(RejectionKind::Route, r);
        let graph = ChannelGraph::from_gossip(&self.routing_state(), token);
        let node = |id: &EntityId| {
            graph
                .node_by_key(&entity_address(id).0)
                .ok_or_else(|| no_route(format!("the sender's view does not know {}", hex32(id))))
        };
        let (src, dst) = (node(from)?, node(to)?);
        let wanted = amount
            .to_u128()
            .filter(|_| amount.is_positive())
            .ok_or_else(|| no_route(format!("cannot route {amount}")))?;
        // Fee-ordered routes over advertised capacities (the scored, multi-part planner is
        // routing::plan_payment, used for multi-part payments).
        let limits = routing::SearchLimits {
            max_hops: ROUTE_HOPS_MAX,
            ..routing::SearchLimits::fee_only()
        };
        let routes = routing::find_routes_with_limits(&graph, src, dst, wanted, n.max(1), &limits)
            .map_err(|e| no_route(e.to_string()))?;
        let by_address: BTreeMap<[u8; 20], &EntityProfile> = self
            .profiles()
            .map(|p| (entity_address(&p.entity).0, p))
            .collect();
        let mut plans = Vec::new();
        for route in routes {
            let mut path = Vec::new();
            for hop in &route.hops {
                let key = graph
                    .node_key(hop.to)
                    .and_then(|k| <[u8; 20]>::try_from(k).ok())
                    .ok_or_else(|| no_route("a route node without a key".into()))?;
                let profile = by_address.get(&key).ok_or_else(|| {
                    no_route("a route through an entity without a profile".into())
                })?;
                path.push(*profile);
            }
            plans.push(RoutedPayment {
                token,
                total: amount.clone(),
                parts: vec![hops_within(&path, amount, now, final_margin)],
                attempts_max: 1,
                parts_max: 1,
            });
        }
        Ok(plans)
    }
}

/// Amounts and timeouts along `path` (the entities receiving each hop's lock, receiver
/// last): the receiver gets `amount` with a lock timing out `FINAL_TIMEOUT_MARGIN` after
/// `now`; each earlier lock adds the fee and timeout delta of the entity that forwards it.
pub fn hops_for(path: &[&EntityProfile], amount: &BigInt, now: u64) -> Vec<PaymentHop> {
    hops_within(path, amount, now, FINAL_TIMEOUT_MARGIN)
}

/// As [`hops_for`], with the receiver's lock timing out `final_margin` after `now`.
pub fn hops_within(
    path: &[&EntityProfile],
    amount: &BigInt,
    now: u64,
    final_margin: u64,
) -> Vec<PaymentHop> {
    let mut hops = Vec::with_capacity(path.len());
    let mut amount = amount.clone();
    let mut timeout = now.saturating_add(final_margin);
    for (i, p) in path.iter().enumerate().rev() {
        hops.push(PaymentHop {
            entity: p.entity,
            onion_key: p.onion_key.clone(),
            amount: amount.clone(),
            timeout,
        });
        if i > 0 {
            let forwarder = path[i - 1];
            let policy = super::FeePolicy {
                base: forwarder.fee_base.clone(),
                ppm: forwarder.fee_ppm,
                timeout_delta: forwarder.timeout_delta,
            };
            amount = &amount + policy.fee(&amount);
            timeout = timeout.saturating_add(forwarder.timeout_delta);
        }
    }
    hops.reverse();
    hops
}

fn saturate(x: &BigInt) -> u128 {
    if x.is_negative() {
        0
    } else {
        x.to_u128().unwrap_or(u128::MAX)
    }
}

impl EntityReplica {
    /// The replica's view of the network.
    pub fn gossip(&self) -> &GossipView {
        &self.gossip
    }

    /// After every input: hand a new account's peer what this replica knows; sign and send
    /// the profile the board last agreed to publish (the same bytes on every validator: it
    /// is fixed in the consensus state by [`EntityTx::PublishProfile`]); and, on a tick, ask
    /// the board to publish when the current profile differs from the published one and the
    /// interval has passed.
    ///
    /// [`EntityTx::PublishProfile`]: super::EntityTx::PublishProfile
    pub(super) fn gossip_work(
        &mut self,
        key: &SecretKey,
        now: u64,
        on_tick: bool,
        out: &mut Vec<EntityOutput>,
    ) {
        if !self.state.board.contains(&self.me) || self.state.height == 0 {
            return;
        }
        let synced = self.gossip.synced_height;
        if self.state.height > synced {
            for (peer, account) in &self.state.accounts {
                if account.opened_at <= synced {
                    continue;
                }
                for signed in self.gossip.profiles.values() {
                    let p = &signed.profile;
                    if p.entity != *peer && p.entity != self.state.entity_id {
                        out.push(EntityOutput::ToEntity {
                            entity: *peer,
                            message: EntityMessage::Profile(Box::new(signed.clone())),
                        });
                    }
                }
            }
            self.gossip.synced_height = self.state.height;
        }
        self.sign_published(key, out);
        if on_tick {
            self.ask_to_publish(key, now, out);
        }
    }

    /// Signs the profile the board fixed at its last [`EntityTx::PublishProfile`] (once per
    /// publication) and sends the part to every account peer.
    ///
    /// [`EntityTx::PublishProfile`]: super::EntityTx::PublishProfile
    fn sign_published(&mut self, key: &SecretKey, out: &mut Vec<EntityOutput>) {
        let Some(profile) = self.state.profile.clone() else {
            return;
        };
        if profile.height <= self.gossip.signed_height {
            return;
        }
        let Ok(signature) = key.sign_digest(&profile.digest()) else {
            return;
        };
        self.gossip.signed_height = profile.height;
        self.gossip.merge(SignedProfile {
            profile: profile.clone(),
            hanko: Hanko(BTreeMap::from([(self.me, signature)])),
        });
        let part = ProfilePart {
            profile,
            signer: self.me,
            signature,
        };
        for peer in self.state.accounts.keys() {
            out.push(EntityOutput::ToEntity {
                entity: *peer,
                message: EntityMessage::ProfilePart(Box::new(part.clone())),
            });
        }
    }

    /// When a tick would compare the committed profile with the published one (a height
    /// not checked yet, with someone to tell), not before [`GOSSIP_INTERVAL`] after the
    /// last publication.
    pub(super) fn gossip_wake_at(&self) -> Option<u64> {
        let unchecked = self.gossip.checked_height != self.state.height;
        (unchecked && !self.state.accounts.is_empty() && self.state.height > 0).then(|| {
            self.gossip
                .published_at
                .map_or(0, |t| t.saturating_add(GOSSIP_INTERVAL))
        })
    }

    /// Submits [`EntityTx::PublishProfile`] when the profile of the committed state differs
    /// from the published one, at most once per [`GOSSIP_INTERVAL`], not while one waits.
    ///
    /// [`EntityTx::PublishProfile`]: super::EntityTx::PublishProfile
    fn ask_to_publish(&mut self, key: &SecretKey, now: u64, out: &mut Vec<EntityOutput>) {
        let due = self
            .gossip
            .published_at
            .is_none_or(|t| now >= t.saturating_add(GOSSIP_INTERVAL));
        // Nobody to tell without an account (profiles travel along accounts).
        if !due || self.gossip.checked_height == self.state.height || self.state.accounts.is_empty()
        {
            return;
        }
        self.gossip.checked_height = self.state.height;
        let current = EntityProfile::of(&self.state).content().encode();
        let published = self.state.profile.as_ref().map(|p| p.content().encode());
        if published.as_ref() == Some(&current) {
            return;
        }
        let waiting = self
            .mempool
            .values()
            .any(|p| p.tx.tx == super::EntityTx::PublishProfile);
        if !waiting {
            self.gossip.published_at = Some(now);
            let _ = self.submit(key, super::EntityTx::PublishProfile, now, out);
        }
    }

    /// One validator's part of a peer's profile: gather toward a quorum of its board; a
    /// complete profile that is new is kept and passed on.
    pub(super) fn on_profile_part(
        &mut self,
        part: ProfilePart,
        out: &mut Vec<EntityOutput>,
    ) -> Result<(), super::EntityError> {
        let bad = |reason: String| super::EntityError::BadCertificate {
            what: "profile part",
            reason,
        };
        let p = &part.profile;
        if p.board.entity_id() != p.entity {
            return Err(bad("the profile's board does not hash to its entity".into()));
        }
        if !p.board.contains(&part.signer) {
            return Err(bad(format!(
                "{} is not on the profile's board",
                part.signer
            )));
        }
        let digest = p.digest();
        if !verify_cached(&part.signer, &digest, &part.signature) {
            return Err(super::EntityError::BadSignature {
                what: "profile part",
                signer: part.signer,
                height: p.height,
            });
        }
        if self
            .gossip
            .get(&p.entity)
            .is_some_and(|known| known.height >= p.height)
        {
            return Ok(());
        }
        if self.gossip.parts.len() >= PROFILE_PARTS_MAX && !self.gossip.parts.contains_key(&digest)
        {
            self.gossip.parts.pop_first();
        }
        let entry = self
            .gossip
            .parts
            .entry(digest)
            .or_insert_with(|| SignedProfile {
                profile: part.profile.clone(),
                hanko: Hanko::default(),
            });
        entry.hanko.0.insert(part.signer, part.signature);
        if entry
            .profile
            .board
            .is_quorum(entry.profile.board.weight(entry.hanko.0.keys()))
        {
            if let Some(complete) = self.gossip.parts.remove(&digest) {
                self.learn_profile(complete, out);
            }
        }
        Ok(())
    }

    /// A complete profile relayed by a peer.
    pub(super) fn on_profile(
        &mut self,
        signed: SignedProfile,
        out: &mut Vec<EntityOutput>,
    ) -> Result<(), super::EntityError> {
        signed
            .verify()
            .map_err(|reason| super::EntityError::BadCertificate {
                what: "profile",
                reason,
            })?;
        self.learn_profile(signed, out);
        Ok(())
    }

    fn learn_profile(&mut self, signed: SignedProfile, out: &mut Vec<EntityOutput>) {
        let source = signed.profile.entity;
        if signed.profile.entity == self.state.entity_id || !self.gossip.merge(signed.clone()) {
            return;
        }
        for peer in self.state.accounts.keys().filter(|p| **p != source) {
            out.push(EntityOutput::ToEntity {
                entity: *peer,
                message: EntityMessage::Profile(Box::new(signed.clone())),
            });
        }
    }
}
