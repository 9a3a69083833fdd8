//! Routed payments carried out by the entities themselves. The sender's entity locks an
//! HTLC on its first hop with an onion for the rest of the route; each intermediary, when
//! the incoming lock commits in its account, peels its layer and forwards by its OWN
//! [`FeePolicy`] (fee, timeout delta, capacity) or fails the lock back; the receiver
//! reveals; each hop claims upstream when the preimage arrives from downstream; each hop
//! enforces its timeouts with its own clock (the [`EntityTx::Timers`] tx its validators
//! submit when their clock passes a lock's timeout). Nothing outside the entities decides
//! anything about a payment beyond its own hop.
//!
//! The HTLC is a subcontract written in xln (`src/entity/htlc.xln`, [`HTLC_CODE`]): both
//! sides of every account evaluate it in the sandbox; this module only reads the locks'
//! params and reacts to committed frames. Everything here is pure state transition: the
//! same inputs give the same bytes on every replica.
//!
//! Safety of an intermediary: it forwards at most `incoming − fee(forwarded)` (never more
//! than it can claim), with a timeout at least its `timeout_delta` below the incoming
//! lock's, so after learning the preimage downstream it has `timeout_delta` ticks to claim
//! upstream. A failure anywhere refunds hop by hop (the receiver of a lock may give it back
//! at any time), or, if a peer is silent, each payer takes its lock back after the timeout.
//!
//! [`EntityTx::Timers`]: super::EntityTx::Timers

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, Zero};

use super::rejection::{Rejection, RejectionKind};
use super::state::hex32;
use super::tx::check_amount;
use super::{EntityId, EntityState, LogEntry, TokenId};
use crate::account::{AccountTx, Data, Side, SubcontractEngine};
use crate::crypto::onion::{peel_onion, OnionSecret};
use crate::crypto::{keccak256, tagged, Address, Canonical, RlpItem};

/// The HTLC subcontract's code (xln text); its keccak-256 is [`htlc_code_hash`].
pub const HTLC_CODE: &str = include_str!("htlc.xln");

/// Most parts one multi-part payment may be split into.
pub const PAYMENT_PARTS_MAX: usize = 16;

/// Most hops of one route (the onion holds a few more).
pub const ROUTE_HOPS_MAX: usize = 10;

/// The timeout delta an entity asks for by default (ticks between the lock it receives
/// and the one it forwards).
pub const TIMEOUT_DELTA_DEFAULT: u64 = 100;

/// Finished payments an entity remembers (sent and received); older ones are forgotten.
pub const PAYMENTS_KEPT_MAX: usize = 4_096;

/// Payments in flight one entity may send or forward at once.
pub const PAYMENTS_IN_FLIGHT_MAX: usize = 4_096;

/// keccak-256 of [`HTLC_CODE`] (computed once per process).
pub fn htlc_code_hash() -> [u8; 32] {
    static HASH: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    *HASH.get_or_init(|| keccak256(HTLC_CODE.as_bytes()))
}

/// What an entity charges to forward a payment out through one of its accounts, and the
/// timeout margin it wants: `fee = base + ceil(amount × ppm / 1,000,000)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeePolicy {
    /// Fixed fee per forwarded payment.
    #[serde(with = "crate::crypto::readable")]
    pub base: BigInt,
    /// Proportional fee in millionths of the forwarded amount.
    pub ppm: u32,
    /// Least difference between the incoming and the outgoing lock's timeouts, in ticks.
    pub timeout_delta: u64,
}

impl Default for FeePolicy {
    fn default() -> Self {
        FeePolicy {
            base: BigInt::zero(),
            ppm: 0,
            timeout_delta: TIMEOUT_DELTA_DEFAULT,
        }
    }
}

impl FeePolicy {
    /// The fee to forward `amount` (exact, rounded up).
    pub fn fee(&self, amount: &BigInt) -> BigInt {
        let proportional = (amount * BigInt::from(self.ppm)).div_ceil(&BigInt::from(1_000_000));
        &self.base + proportional
    }
}

/// Canonical encoding: `tagged("xln/fee-policy/v1", [base, ppm, timeout_delta])`.
impl Canonical for FeePolicy {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/fee-policy/v1",
            vec![
                self.base.canonical_rlp(),
                u64::from(self.ppm).canonical_rlp(),
                self.timeout_delta.canonical_rlp(),
            ],
        )
    }
}

/// One hop of a route as the sender plans it: the entity the lock goes to, its onion key
/// (from its profile), the amount locked toward it and that lock's timeout.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentHop {
    /// The entity receiving this hop's lock.
    #[serde(with = "crate::crypto::readable")]
    pub entity: EntityId,
    /// Its onion public key (compressed secp256k1).
    #[serde(with = "crate::crypto::readable")]
    pub onion_key: Vec<u8>,
    /// The amount locked toward it.
    #[serde(with = "crate::crypto::readable")]
    pub amount: BigInt,
    /// The lock's timeout (ticks).
    pub timeout: u64,
}

/// Canonical encoding: `tagged("xln/payment-hop/v1", [entity, onion_key, amount, timeout])`.
impl Canonical for PaymentHop {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/payment-hop/v1",
            vec![
                self.entity.canonical_rlp(),
                self.onion_key.canonical_rlp(),
                self.amount.canonical_rlp(),
                self.timeout.canonical_rlp(),
            ],
        )
    }
}

/// A routed payment as the sender's validator asks for it: `total` of `token` to the last
/// hop of every part, each part a route; all parts share one hashlock (the receiver reveals
/// only when the parts add up to `total`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoutedPayment {
    /// The token.
    pub token: TokenId,
    /// What the receiver gets in all.
    #[serde(with = "crate::crypto::readable")]
    pub total: BigInt,
    /// The routes, each from the sender's first hop to the receiver.
    pub parts: Vec<Vec<PaymentHop>>,
    /// Attempts the sender may make in all (this one is the first; each
    /// [`EntityTx::RetryPayment`](super::EntityTx::RetryPayment) is one more); 1: a failed
    /// part fails the payment.
    #[serde(default = "one")]
    pub attempts_max: u32,
    /// Most new parts one attempt may send (the wallet's planner limit, kept for retries).
    #[serde(default = "one")]
    pub parts_max: u32,
}

fn one() -> u32 {
    1
}

/// Canonical encoding: `tagged("xln/routed-payment/v2", [token, total, parts,
/// attempts_max, parts_max])`.
impl Canonical for RoutedPayment {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/routed-payment/v2",
            vec![
                self.token.canonical_rlp(),
                self.total.canonical_rlp(),
                self.parts.canonical_rlp(),
                self.attempts_max.canonical_rlp(),
                self.parts_max.canonical_rlp(),
            ],
        )
    }
}

/// Where a payment stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PaymentStatus {
    /// Locks are out; no outcome yet.
    Pending,
    /// Every part was revealed.
    Settled,
    /// It failed (every lock refunded or to be timed out).
    Failed(Rejection),
}

impl Canonical for PaymentStatus {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            PaymentStatus::Pending => tagged(b"xln/payment-status/pending/v1", vec![]),
            PaymentStatus::Settled => tagged(b"xln/payment-status/settled/v1", vec![]),
            PaymentStatus::Failed(r) => {
                tagged(b"xln/payment-status/failed/v1", vec![r.canonical_rlp()])
            }
        }
    }
}

/// One part of a sent payment: the lock on the first hop.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentPart {
    /// The first hop.
    #[serde(with = "crate::crypto::readable")]
    pub peer: EntityId,
    /// The HTLC's subcontract id in that account.
    pub id: u64,
    /// The amount locked.
    #[serde(with = "crate::crypto::readable")]
    pub amount: BigInt,
    /// What the part delivers to the receiver (the amount less the fees on the way).
    #[serde(default, with = "crate::crypto::readable")]
    pub delivered: BigInt,
    /// The entities its locks go to, first hop to receiver.
    #[serde(default, with = "crate::crypto::readable")]
    pub route: Vec<EntityId>,
    /// The attempt that sent it (1: the first).
    #[serde(default = "one")]
    pub attempt: u32,
    /// The part's outcome.
    pub status: PaymentStatus,
    /// For a failed part: the entity that reported the failure (this entity, a hop, or the
    /// receiver), as relayed back hop by hop: what the sender's wallet learns from.
    #[serde(default, with = "crate::crypto::readable")]
    pub failed_at: Option<EntityId>,
}

impl Canonical for SentPart {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/sent-part/v2",
            vec![
                self.peer.canonical_rlp(),
                self.id.canonical_rlp(),
                self.amount.canonical_rlp(),
                self.delivered.canonical_rlp(),
                self.route.canonical_rlp(),
                self.attempt.canonical_rlp(),
                self.status.canonical_rlp(),
                self.failed_at
                    .map(|e| e.to_vec())
                    .unwrap_or_default()
                    .canonical_rlp(),
            ],
        )
    }
}

/// A payment this entity sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentPayment {
    /// The token.
    pub token: TokenId,
    /// What the receiver is to get.
    #[serde(with = "crate::crypto::readable")]
    pub total: BigInt,
    /// The receiver.
    #[serde(with = "crate::crypto::readable")]
    pub receiver: EntityId,
    /// The preimage (the receiver learns it from its onion layer).
    #[serde(with = "crate::crypto::readable")]
    pub preimage: [u8; 32],
    /// The parts.
    pub parts: Vec<SentPart>,
    /// The outcome.
    pub status: PaymentStatus,
    /// The entity height at which it was sent.
    pub sent_at: u64,
    /// The hash of the signed tx that sent it.
    #[serde(with = "crate::crypto::readable")]
    pub tx: [u8; 32],
    /// Attempts made (1 + the retries committed).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Attempts allowed in all.
    #[serde(default = "one")]
    pub attempts_max: u32,
    /// Most new parts per attempt.
    #[serde(default = "one")]
    pub parts_max: u32,
}

impl SentPayment {
    /// What the parts not failed hold locked or paid (the delivered amount plus every fee
    /// on the way).
    pub fn locked(&self) -> BigInt {
        self.live_parts().map(|p| &p.amount).sum()
    }

    /// The parts pending or settled (not failed).
    pub fn live_parts(&self) -> impl Iterator<Item = &SentPart> {
        self.parts
            .iter()
            .filter(|p| !matches!(p.status, PaymentStatus::Failed(_)))
    }

    /// What the live parts deliver.
    pub fn live_delivered(&self) -> BigInt {
        self.live_parts().map(|p| &p.delivered).sum()
    }

    /// Whether the receiver revealed the preimage (some part settled): no retry may follow.
    pub fn revealed(&self) -> bool {
        self.parts
            .iter()
            .any(|p| p.status == PaymentStatus::Settled)
    }

    /// Revealed, and no part is still pending (or the settled parts deliver the total).
    fn revealed_and_done(&self) -> bool {
        self.settled_delivered() >= self.total
            || (self.revealed()
                && self
                    .parts
                    .iter()
                    .all(|p| p.status != PaymentStatus::Pending))
    }

    /// What the settled parts delivered.
    pub fn settled_delivered(&self) -> BigInt {
        self.parts
            .iter()
            .filter(|p| p.status == PaymentStatus::Settled)
            .map(|p| &p.delivered)
            .sum()
    }
}

impl Canonical for SentPayment {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/sent-payment/v2",
            vec![
                self.token.canonical_rlp(),
                self.total.canonical_rlp(),
                self.receiver.canonical_rlp(),
                self.preimage.canonical_rlp(),
                self.parts.canonical_rlp(),
                self.status.canonical_rlp(),
                self.sent_at.canonical_rlp(),
                self.tx.canonical_rlp(),
                self.attempts.canonical_rlp(),
                self.attempts_max.canonical_rlp(),
                self.parts_max.canonical_rlp(),
            ],
        )
    }
}

/// A payment this entity forwards: the incoming lock and the outgoing one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Forward {
    /// The payment's hashlock.
    #[serde(with = "crate::crypto::readable")]
    pub hashlock: [u8; 32],
    /// The token.
    pub token: TokenId,
    /// What the incoming lock holds.
    #[serde(with = "crate::crypto::readable")]
    pub incoming: BigInt,
    /// The incoming lock's timeout.
    pub incoming_timeout: u64,
    /// The next hop and the outgoing lock's id.
    #[serde(with = "crate::crypto::readable")]
    pub next: EntityId,
    /// The outgoing lock's subcontract id.
    pub out_id: u64,
    /// What the outgoing lock holds.
    #[serde(with = "crate::crypto::readable")]
    pub outgoing: BigInt,
}

impl Canonical for Forward {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/forward/v1",
            vec![
                self.hashlock.canonical_rlp(),
                self.token.canonical_rlp(),
                self.incoming.canonical_rlp(),
                self.incoming_timeout.canonical_rlp(),
                self.next.canonical_rlp(),
                self.out_id.canonical_rlp(),
                self.outgoing.canonical_rlp(),
            ],
        )
    }
}

/// A payment this entity receives (possibly in several parts).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receiving {
    /// The token.
    pub token: TokenId,
    /// What the sender promised in all.
    #[serde(with = "crate::crypto::readable")]
    pub total: BigInt,
    /// The preimage, if the sender's onion carried it.
    #[serde(with = "crate::crypto::readable")]
    pub preimage: Option<[u8; 32]>,
    /// The payment secret every part's final layer must carry (only the sender and this
    /// receiver know it: a hop cannot make a part the receiver would count).
    #[serde(default, with = "crate::crypto::readable")]
    pub secret: [u8; 32],
    /// The incoming locks held: (peer, subcontract id, amount).
    #[serde(with = "crate::crypto::readable")]
    pub parts: Vec<(EntityId, u64, BigInt)>,
    /// The tick by which the parts must add up to the total, or every held part is failed
    /// back (0: nothing held).
    #[serde(default)]
    pub hold_until: u64,
    /// The outcome.
    pub status: PaymentStatus,
}

impl Receiving {
    /// What the parts received so far hold.
    pub fn received(&self) -> BigInt {
        self.parts.iter().map(|(_, _, a)| a).sum()
    }
}

impl Canonical for Receiving {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/receiving/v2",
            vec![
                self.token.canonical_rlp(),
                self.total.canonical_rlp(),
                self.preimage
                    .map(|p| p.to_vec())
                    .unwrap_or_default()
                    .canonical_rlp(),
                self.secret.canonical_rlp(),
                self.parts.canonical_rlp(),
                self.hold_until.canonical_rlp(),
                self.status.canonical_rlp(),
            ],
        )
    }
}

/// What an outgoing lock (peer, id) belongs to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outgoing {
    /// Part `part` of a payment this entity sent.
    Sent {
        /// The hashlock.
        #[serde(with = "crate::crypto::readable")]
        hashlock: [u8; 32],
        /// The part's index.
        part: u64,
    },
    /// A forward, by its incoming lock.
    Forward {
        /// The previous hop.
        #[serde(with = "crate::crypto::readable")]
        from: EntityId,
        /// The incoming lock's id.
        in_id: u64,
    },
}

impl Canonical for Outgoing {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            Outgoing::Sent { hashlock, part } => tagged(
                b"xln/outgoing/sent/v1",
                vec![hashlock.canonical_rlp(), part.canonical_rlp()],
            ),
            Outgoing::Forward { from, in_id } => tagged(
                b"xln/outgoing/forward/v1",
                vec![from.canonical_rlp(), in_id.canonical_rlp()],
            ),
        }
    }
}

/// Everything an entity tracks about routed payments (part of its consensus state).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payments {
    /// Payments sent, by hashlock.
    #[serde(with = "crate::crypto::readable")]
    pub sent: BTreeMap<[u8; 32], SentPayment>,
    /// Payments forwarded, by the incoming lock (previous hop, id).
    #[serde(with = "crate::crypto::readable")]
    pub forwards: BTreeMap<(EntityId, u64), Forward>,
    /// Payments received, by hashlock.
    #[serde(with = "crate::crypto::readable")]
    pub received: BTreeMap<[u8; 32], Receiving>,
    /// Each outgoing lock (next hop, id) and what it belongs to.
    #[serde(with = "crate::crypto::readable")]
    pub outgoing: BTreeMap<(EntityId, u64), Outgoing>,
    /// Fees earned by forwarding, per token.
    #[serde(with = "crate::crypto::readable")]
    pub fees_earned: BTreeMap<TokenId, BigInt>,
    /// Preimages this entity learned when peers revealed locks it opened by hand (an
    /// exchange's other leg), by hashlock: incoming locks with that hashlock are claimed.
    #[serde(default, with = "crate::crypto::readable")]
    pub preimages: BTreeMap<[u8; 32], [u8; 32]>,
}

impl Canonical for Payments {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/payments/v1",
            vec![
                self.sent.canonical_rlp(),
                self.forwards.canonical_rlp(),
                self.received.canonical_rlp(),
                self.outgoing.canonical_rlp(),
                self.fees_earned.canonical_rlp(),
                self.preimages.canonical_rlp(),
            ],
        )
    }
}

/// What a hop's onion layer tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HopInstruction {
    /// Forward `amount` to `next` with a lock timing out at `timeout`.
    Forward {
        /// The next hop.
        next: EntityId,
        /// The amount to lock toward it.
        amount: BigInt,
        /// That lock's timeout.
        timeout: u64,
    },
    /// This hop is the receiver of `total` (in all parts), revealing `preimage` if given.
    Final {
        /// The payment's total (what all parts with this hashlock add up to).
        total: BigInt,
        /// The payment secret, the same in every part (see [`Receiving::secret`]).
        secret: [u8; 32],
        /// The preimage (keysend-style payments carry it to the receiver).
        preimage: Option<[u8; 32]>,
    },
}

impl HopInstruction {
    /// The canonical bytes: `tagged("xln/onion-forward/v1", [next, amount, timeout])` or
    /// `tagged("xln/onion-final/v2", [total, secret, preimage or empty])`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            HopInstruction::Forward {
                next,
                amount,
                timeout,
            } => tagged(
                b"xln/onion-forward/v1",
                vec![
                    next.canonical_rlp(),
                    amount.canonical_rlp(),
                    timeout.canonical_rlp(),
                ],
            ),
            HopInstruction::Final {
                total,
                secret,
                preimage,
            } => tagged(
                b"xln/onion-final/v2",
                vec![
                    total.canonical_rlp(),
                    secret.canonical_rlp(),
                    preimage
                        .map(|p| p.to_vec())
                        .unwrap_or_default()
                        .canonical_rlp(),
                ],
            ),
        }
        .encode()
    }

    /// Decodes strictly (the bytes must re-encode exactly).
    ///
    /// # Errors
    /// What is malformed.
    pub fn decode(bytes: &[u8]) -> Result<HopInstruction, String> {
        let item = RlpItem::decode(bytes).map_err(|e| e.to_string())?;
        let list = item.list().map_err(|e| e.to_string())?;
        let (tag, fields) = list.split_first().ok_or("empty instruction")?;
        let decoded = match (tag.bytes().map_err(|e| e.to_string())?, fields) {
            (b"xln/onion-forward/v1", [next, amount, timeout]) => HopInstruction::Forward {
                next: id32(next)?,
                amount: bigint(amount)?,
                timeout: crate::crypto::decode_u64(timeout).map_err(|e| e.to_string())?,
            },
            (b"xln/onion-final/v2", [total, secret, preimage]) => {
                let p = preimage.bytes().map_err(|e| e.to_string())?;
                HopInstruction::Final {
                    total: bigint(total)?,
                    secret: id32(secret)?,
                    preimage: match p.len() {
                        0 => None,
                        32 => Some(id32(preimage)?),
                        _ => return Err("a preimage is 32 bytes".into()),
                    },
                }
            }
            _ => return Err("unknown onion instruction".into()),
        };
        if decoded.encode() != bytes {
            return Err("not canonical".into());
        }
        Ok(decoded)
    }
}

fn id32(item: &RlpItem) -> Result<[u8; 32], String> {
    <[u8; 32]>::try_from(item.bytes().map_err(|e| e.to_string())?)
        .map_err(|_| "expected 32 bytes".to_string())
}

fn bigint(item: &RlpItem) -> Result<BigInt, String> {
    match item.list().map_err(|e| e.to_string())? {
        [sign, magnitude] => {
            let negative = match crate::crypto::decode_u64(sign).map_err(|e| e.to_string())? {
                0 => false,
                1 => true,
                _ => return Err("bad sign".into()),
            };
            let m = crate::crypto::decode_int(magnitude, 32).map_err(|e| e.to_string())?;
            let m = BigInt::from_bytes_be(num_bigint::Sign::Plus, m);
            Ok(if negative { -m } else { m })
        }
        _ => Err("expected [sign, magnitude]".into()),
    }
}

/// The HTLC params of a lock: `{#:hashlock #:timeout #:token #:amount #:onion}`.
pub fn htlc_params(
    hashlock: &[u8; 32],
    timeout: u64,
    token: TokenId,
    amount: &BigInt,
    onion: Vec<u8>,
) -> Data {
    Data::Map(BTreeMap::from([
        ("hashlock".into(), Data::Bytes(hashlock.to_vec())),
        ("timeout".into(), Data::Int(BigInt::from(timeout))),
        ("token".into(), Data::Int(BigInt::from(token))),
        ("amount".into(), Data::Int(amount.clone())),
        ("onion".into(), Data::Bytes(onion)),
    ]))
}

/// A lock's (hashlock, timeout, onion) read back from its params; the onion is empty for
/// a lock opened by hand (no route: the receiver's entity holds it, reveals nothing).
fn read_lock(params: &Data) -> Option<([u8; 32], u64, Vec<u8>)> {
    let Data::Map(m) = params else { return None };
    let hashlock = match m.get("hashlock") {
        Some(Data::Bytes(b)) => <[u8; 32]>::try_from(b.as_slice()).ok()?,
        _ => return None,
    };
    let timeout = match m.get("timeout") {
        Some(Data::Int(t)) => u64::try_from(t).ok()?,
        _ => return None,
    };
    let onion = match m.get("onion") {
        Some(Data::Bytes(b)) => b.clone(),
        _ => Vec::new(),
    };
    Some((hashlock, timeout, onion))
}

/// A lock's timeout, read from its params.
pub(super) fn lock_timeout(params: &Data) -> Option<u64> {
    read_lock(params).map(|(_, t, _)| t)
}

fn reason_args(r: &Rejection, origin: &EntityId) -> Data {
    Data::Map(BTreeMap::from([
        ("kind".into(), Data::Text(r.kind.name().into())),
        ("reason".into(), Data::Text(r.reason.clone())),
        ("at".into(), Data::Bytes(origin.to_vec())),
    ]))
}

/// The entity a refund's args name as the failure's origin (`#:at`), else `from`.
fn origin_from_args(args: &Data, from: &EntityId) -> EntityId {
    match args {
        Data::Map(m) => match m.get("at") {
            Some(Data::Bytes(b)) => <[u8; 32]>::try_from(b.as_slice()).unwrap_or(*from),
            _ => *from,
        },
        _ => *from,
    }
}

fn reason_from_args(args: &Data, from: &EntityId) -> Rejection {
    let Data::Map(m) = args else {
        return Rejection::new(RejectionKind::Route, format!("refunded by {}", hex32(from)));
    };
    let kind = match m.get("kind") {
        Some(Data::Text(k)) => RejectionKind::ALL
            .into_iter()
            .find(|x| x.name() == k)
            .unwrap_or(RejectionKind::Route),
        _ => RejectionKind::Route,
    };
    let reason = match m.get("reason") {
        Some(Data::Text(r)) => r.clone(),
        _ => format!("refunded by {}", hex32(from)),
    };
    Rejection::new(kind, reason)
}

fn preimage_from_args(args: &Data) -> Option<[u8; 32]> {
    match args {
        Data::Map(m) => match m.get("preimage") {
            Some(Data::Bytes(b)) => <[u8; 32]>::try_from(b.as_slice()).ok(),
            _ => None,
        },
        _ => None,
    }
}

fn method_call(id: u64, method: &str, args: Data) -> AccountTx {
    AccountTx::CallSubcontract {
        id,
        method: method.into(),
        args,
    }
}

impl EntityState {
    /// Applies [`super::EntityTx::PayRouted`]: checks the route, derives the preimage from
    /// the entity's onion secret and the tx's (signer, nonce), builds one onion per part
    /// and locks each part on its first hop.
    pub(super) fn pay_routed(
        &mut self,
        signer: &Address,
        nonce: u64,
        tx_hash: &[u8; 32],
        payment: &RoutedPayment,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), Rejection> {
        let secret = self
            .onion
            .clone()
            .ok_or_else(|| Rejection::new(RejectionKind::Route, "this entity has no onion key"))?;
        let receiver = self.check_route(payment)?;
        let preimage = keccak256(
            &tagged(
                b"xln/payment-preimage/v1",
                vec![
                    secret.0.canonical_rlp(),
                    signer.canonical_rlp(),
                    nonce.canonical_rlp(),
                ],
            )
            .encode(),
        );
        let hashlock = keccak256(&preimage);
        if self.payments.sent.contains_key(&hashlock) {
            return Err(Rejection::new(
                RejectionKind::Replay,
                "this payment was already sent",
            ));
        }
        let secret_bytes = payment_secret(&secret, &hashlock);
        let keys = (hashlock, preimage, secret_bytes);
        let parts = self.send_parts(&secret, keys, payment, 0, 1)?;
        self.payments.sent.insert(
            hashlock,
            SentPayment {
                token: payment.token,
                total: payment.total.clone(),
                receiver,
                preimage,
                parts,
                status: PaymentStatus::Pending,
                sent_at: self.height,
                tx: *tx_hash,
                attempts: 1,
                attempts_max: payment.attempts_max.max(1),
                parts_max: payment.parts_max.max(1),
            },
        );
        self.append_log(LogEntry::PaymentSent { hashlock });
        self.flush_accounts(engine);
        Ok(())
    }

    /// The stateless and account checks of a routed payment; returns the receiver.
    pub(super) fn check_route(&self, payment: &RoutedPayment) -> Result<EntityId, Rejection> {
        let invalid = |r: String| Rejection::new(RejectionKind::Invalid, r);
        if payment.parts.is_empty() || payment.parts.len() > PAYMENT_PARTS_MAX {
            return Err(invalid(format!(
                "a payment has 1..={PAYMENT_PARTS_MAX} parts, got {}",
                payment.parts.len()
            )));
        }
        check_amount("payment total", &payment.total, false).map_err(invalid)?;
        if self.payments.outgoing.len() + payment.parts.len() > PAYMENTS_IN_FLIGHT_MAX {
            return Err(Rejection::new(
                RejectionKind::Capacity,
                format!("{PAYMENTS_IN_FLIGHT_MAX} locks in flight, the most allowed"),
            ));
        }
        let receiver = payment.parts[0]
            .last()
            .map(|h| h.entity)
            .ok_or_else(|| invalid("a part with no hops".into()))?;
        let mut delivered = BigInt::zero();
        for hops in &payment.parts {
            if hops.is_empty() || hops.len() > ROUTE_HOPS_MAX {
                return Err(invalid(format!(
                    "a route has 1..={ROUTE_HOPS_MAX} hops, got {}",
                    hops.len()
                )));
            }
            let last = &hops[hops.len() - 1];
            if last.entity != receiver {
                return Err(invalid("every part must end at the same receiver".into()));
            }
            delivered += &last.amount;
            for (i, hop) in hops.iter().enumerate() {
                check_amount("hop amount", &hop.amount, false).map_err(invalid)?;
                if i + 1 < hops.len() && hop.entity == self.entity_id {
                    return Err(invalid("a route passes through its sender".into()));
                }
                if i > 0 {
                    let prev = &hops[i - 1];
                    if hop.amount > prev.amount {
                        return Err(invalid(format!(
                            "hop {i} is locked more than hop {}",
                            i - 1
                        )));
                    }
                    if hop.timeout >= prev.timeout {
                        return Err(invalid(format!(
                            "timeouts must shrink toward the receiver (hop {i})"
                        )));
                    }
                }
            }
            if last.timeout <= self.timestamp {
                return Err(Rejection::new(
                    RejectionKind::Timeout,
                    format!("the last lock times out at {}, already past", last.timeout),
                ));
            }
            if !self.accounts.contains_key(&hops[0].entity) {
                return Err(Rejection::new(
                    RejectionKind::Unknown,
                    format!(
                        "no open account with the first hop {}",
                        hex32(&hops[0].entity)
                    ),
                ));
            }
        }
        if delivered != payment.total {
            return Err(invalid(format!(
                "the parts deliver {delivered}, the payment's total is {}",
                payment.total
            )));
        }
        Ok(receiver)
    }

    /// Queues (code install if needed, then) an HTLC open on the account with `peer`;
    /// returns the lock's id.
    pub(super) fn open_htlc(
        &mut self,
        peer: &EntityId,
        token: TokenId,
        amount: &BigInt,
        params: Data,
    ) -> u64 {
        let code = htlc_code_hash();
        let Some(account) = self.accounts.get_mut(peer) else {
            return 0;
        };
        if !account.has_code(&code) {
            account.machine.enqueue(AccountTx::InstallCode {
                code: HTLC_CODE.as_bytes().to_vec(),
            });
        }
        let id = account.allocate_subcontract_id();
        account.machine.enqueue(AccountTx::OpenSubcontract {
            id,
            code,
            holds: vec![(token, amount.clone())],
            params,
        });
        self.dirty.insert(*peer);
        id
    }

    /// Queues a call of method `method` on subcontract `id` in the account with `peer`.
    pub(super) fn queue_call(&mut self, peer: &EntityId, id: u64, method: &str, args: Data) {
        if let Some(account) = self.accounts.get_mut(peer) {
            account.machine.enqueue(method_call(id, method, args));
            self.dirty.insert(*peer);
        }
    }

    /// Reacts to a frame of the peer's that committed in our account with `peer`.
    pub(super) fn on_peer_frame(&mut self, peer: &EntityId, txs: &[AccountTx]) {
        let htlc = htlc_code_hash();
        for tx in txs {
            match tx {
                AccountTx::OpenSubcontract { id, code, .. } if *code == htlc => {
                    self.on_incoming_lock(peer, *id);
                }
                AccountTx::CallSubcontract { id, method, args } => {
                    if !self.payments.outgoing.contains_key(&(*peer, *id)) {
                        // A lock of ours opened by hand, revealed: learn its preimage.
                        if let ("reveal", Some(preimage)) =
                            (method.as_str(), preimage_from_args(args))
                        {
                            self.learn_preimage(preimage);
                        }
                        continue;
                    }
                    match method.as_str() {
                        "reveal" => {
                            if let Some(preimage) = preimage_from_args(args) {
                                self.on_outgoing_revealed(peer, *id, preimage);
                            }
                        }
                        "refund" => {
                            let reason = reason_from_args(args, peer);
                            let origin = origin_from_args(args, peer);
                            self.on_outgoing_failed(peer, *id, reason, origin);
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }

    /// Reacts to a frame of ours that the peer acknowledged in the account with `peer`.
    pub(super) fn on_own_frame(&mut self, peer: &EntityId, txs: &[AccountTx]) {
        // A lock of ours whose timeout passed while it was still in flight (the peer had
        // not countersigned it; `run_timers` marked it then, as we were here): now that it
        // committed, we take it back at once, and a reveal the peer's board decided long
        // ago but sends only now is declined (see `late_reveal`).
        let marked: Vec<u64> = txs
            .iter()
            .filter_map(|tx| match tx {
                AccountTx::OpenSubcontract { id, .. } => Some(*id),
                _ => None,
            })
            .filter(|id| {
                self.accounts.get(peer).is_some_and(|a| {
                    a.timeouts_asked.contains(id) && a.machine.state.subcontracts.contains_key(id)
                })
            })
            .collect();
        for id in marked {
            self.queue_call(peer, id, "timeout", Data::Map(BTreeMap::new()));
        }
        for tx in txs {
            if let AccountTx::CallSubcontract { id, method, args } = tx {
                match method.as_str() {
                    "timeout" if self.payments.outgoing.contains_key(&(*peer, *id)) => {
                        let reason = Rejection::new(
                            RejectionKind::Timeout,
                            format!("the lock toward {} timed out", hex32(peer)),
                        );
                        let me = self.entity_id;
                        self.on_outgoing_failed(peer, *id, reason, me);
                    }
                    "reveal" => self.on_incoming_claimed(peer, *id),
                    "refund" => {
                        let reason = reason_from_args(args, &self.entity_id);
                        self.on_incoming_refunded(peer, *id, reason);
                    }
                    _ => {}
                }
            }
        }
    }

    /// One of our proposals refused `tx` in the account with `peer` (it never committed).
    pub(super) fn on_own_tx_refused(&mut self, peer: &EntityId, tx: &AccountTx, why: Rejection) {
        match tx {
            AccountTx::OpenSubcontract { id, .. }
                if self.payments.outgoing.contains_key(&(*peer, *id)) =>
            {
                let me = self.entity_id;
                self.on_outgoing_failed(peer, *id, why, me);
            }
            AccountTx::InstallCode { .. } if matches!(why.kind, RejectionKind::Subcontract) => {
                // Both sides installed the same code at once: the other copy is in.
            }
            AccountTx::CallSubcontract { id, method, .. } if method == "reveal" => {
                // Our claim of an incoming lock did not go through (too late): the part is
                // lost to us; the payer takes its lock back.
                self.payments.forwards.remove(&(*peer, *id));
                for r in self.payments.received.values_mut() {
                    if r.parts.iter().any(|(p, i, _)| p == peer && i == id) {
                        r.status = PaymentStatus::Failed(why.clone());
                    }
                }
                self.append_log(LogEntry::AccountTxRejected {
                    peer: *peer,
                    tx: tx.clone(),
                    rejection: why,
                });
            }
            _ => self.append_log(LogEntry::AccountTxRejected {
                peer: *peer,
                tx: tx.clone(),
                rejection: why,
            }),
        }
    }

    /// A lock toward us committed: peel our layer, then forward, receive, or fail it back.
    fn on_incoming_lock(&mut self, peer: &EntityId, id: u64) {
        let Some(account) = self.accounts.get(peer) else {
            return;
        };
        let Some(lock) = account.machine.state.subcontracts.get(&id) else {
            return;
        };
        let peer_side = account.machine.side.other();
        if lock.owner != peer_side {
            return;
        }
        let Some((token, amount)) = lock.holds.iter().next().map(|(t, a)| (*t, a.clone())) else {
            return;
        };
        let Some((hashlock, timeout, onion)) = read_lock(&lock.params) else {
            let why = Rejection::new(RejectionKind::Route, "the lock's params are not an HTLC's");
            return self.fail_back(peer, id, why);
        };
        if onion.is_empty() {
            // A lock opened by hand (an exchange, a script): nothing to forward; claim it
            // if this entity already learned its preimage (the exchange's other leg).
            if let Some(preimage) = self.payments.preimages.get(&hashlock).copied() {
                self.claim(peer, id, preimage);
            }
            return;
        }
        let Some(secret) = self.onion.clone() else {
            let why = Rejection::new(RejectionKind::Route, "the hop takes no routed payments");
            return self.fail_back(peer, id, why);
        };
        let instruction = peel_onion(&secret, &onion, &hashlock)
            .map_err(|e| e.to_string())
            .and_then(|p| HopInstruction::decode(&p.payload).map(|i| (i, p.next)));
        match instruction {
            Err(e) => {
                let why = Rejection::new(RejectionKind::Route, format!("onion refused: {e}"));
                self.fail_back(peer, id, why);
            }
            Ok((
                HopInstruction::Final {
                    total,
                    secret,
                    preimage,
                },
                _,
            )) => {
                let lock = (hashlock, token, amount, timeout);
                self.receive_part(peer, id, lock, (total, secret), preimage);
            }
            Ok((
                HopInstruction::Forward {
                    next,
                    amount: out,
                    timeout: out_timeout,
                },
                inner,
            )) => {
                let incoming = (hashlock, token, amount, timeout);
                match self.check_forward(peer, incoming.clone(), &next, &out, out_timeout) {
                    Err(why) => self.fail_back(peer, id, why),
                    Ok(()) => {
                        let params = htlc_params(
                            &hashlock,
                            out_timeout,
                            token,
                            &out,
                            inner.unwrap_or_default(),
                        );
                        let out_id = self.open_htlc(&next, token, &out, params);
                        self.payments.outgoing.insert(
                            (next, out_id),
                            Outgoing::Forward {
                                from: *peer,
                                in_id: id,
                            },
                        );
                        self.payments.forwards.insert(
                            (*peer, id),
                            Forward {
                                hashlock,
                                token,
                                incoming: incoming.2,
                                incoming_timeout: timeout,
                                next,
                                out_id,
                                outgoing: out,
                            },
                        );
                    }
                }
            }
        }
    }

    /// This entity's own policy for forwarding `incoming` (hashlock, token, amount,
    /// timeout) as `out` to `next` with timeout `out_timeout`.
    fn check_forward(
        &self,
        from: &EntityId,
        (_, token, amount, timeout): ([u8; 32], TokenId, BigInt, u64),
        next: &EntityId,
        out: &BigInt,
        out_timeout: u64,
    ) -> Result<(), Rejection> {
        let route = |r: String| Rejection::new(RejectionKind::Route, r);
        if next == from || *next == self.entity_id {
            return Err(route(
                "the next hop is the previous hop or this entity".into(),
            ));
        }
        let account = self
            .accounts
            .get(next)
            .ok_or_else(|| route(format!("no account with the next hop {}", hex32(next))))?;
        if !out.is_positive() {
            return Err(route("the forwarded amount must be positive".into()));
        }
        let fee = self.fee_policy.fee(out);
        if amount < out + &fee {
            return Err(route(format!(
                "fee too low: {amount} in, {out} out, this hop charges {fee}"
            )));
        }
        let delta = self.fee_policy.timeout_delta;
        if timeout < out_timeout.saturating_add(delta) {
            return Err(route(format!(
                "timeout delta too small: in {timeout}, out {out_timeout}, this hop needs {delta}"
            )));
        }
        if out_timeout <= self.timestamp {
            return Err(Rejection::new(
                RejectionKind::Timeout,
                format!("the forward's timeout {out_timeout} is already past"),
            ));
        }
        let capacity =
            crate::account::view(&account.machine.state.delta(token), account.machine.side)
                .out_capacity;
        if *out > capacity {
            return Err(Rejection::new(
                RejectionKind::Capacity,
                format!(
                    "the hop toward {} can carry {capacity} of token {token}, the payment needs {out}",
                    hex32(next)
                ),
            ));
        }
        Ok(())
    }

    /// A preimage learned from a peer's reveal of a lock this entity opened by hand: keep
    /// it, and claim every incoming lock with its hashlock (the other leg of an exchange:
    /// claiming can only gain).
    fn learn_preimage(&mut self, preimage: [u8; 32]) {
        let hashlock = keccak256(&preimage);
        if self.payments.preimages.len() >= PAYMENTS_KEPT_MAX {
            self.payments.preimages.pop_first();
        }
        self.payments.preimages.insert(hashlock, preimage);
        let htlc = htlc_code_hash();
        let mut claims = Vec::new();
        for (peer, account) in &self.accounts {
            let theirs = account.machine.side.other();
            for (id, lock) in &account.machine.state.subcontracts {
                let matches = lock.owner == theirs
                    && lock.code == htlc
                    && read_lock(&lock.params).is_some_and(|(h, _, _)| h == hashlock);
                if matches && !self.payments.forwards.contains_key(&(*peer, *id)) {
                    claims.push((*peer, *id));
                }
            }
        }
        for (peer, id) in claims {
            self.claim(&peer, id, preimage);
        }
    }

    /// Queues the reveal of incoming lock `id` from `peer`, unless one is already queued.
    pub(super) fn claim(&mut self, peer: &EntityId, id: u64, preimage: [u8; 32]) {
        let queued = self.accounts.get(peer).is_some_and(|a| {
            let reveals = |tx: &AccountTx| {
                matches!(tx, AccountTx::CallSubcontract { id: i, method, .. } if *i == id && method == "reveal")
            };
            a.machine.mempool.iter().any(reveals)
                || a.machine.pending.as_ref().is_some_and(|f| f.txs.iter().any(reveals))
        });
        if !queued {
            let args = Data::Map(BTreeMap::from([(
                "preimage".into(),
                Data::Bytes(preimage.to_vec()),
            )]));
            self.queue_call(peer, id, "reveal", args);
        }
    }

    /// The next hop revealed our outgoing lock: claim upstream, or the part is settled.
    fn on_outgoing_revealed(&mut self, peer: &EntityId, id: u64, preimage: [u8; 32]) {
        match self.payments.outgoing.remove(&(*peer, id)) {
            Some(Outgoing::Forward { from, in_id }) => {
                let args = Data::Map(BTreeMap::from([(
                    "preimage".into(),
                    Data::Bytes(preimage.to_vec()),
                )]));
                self.queue_call(&from, in_id, "reveal", args);
            }
            Some(Outgoing::Sent { hashlock, part }) => {
                if let Some(sent) = self.payments.sent.get_mut(&hashlock) {
                    if let Some(p) = sent.parts.get_mut(part as usize) {
                        p.status = PaymentStatus::Settled;
                    }
                    // Failed parts were replaced by retries: settled once what settled
                    // delivers the total (the receiver reveals only a complete set).
                    if sent.status == PaymentStatus::Pending && sent.revealed_and_done() {
                        sent.status = PaymentStatus::Settled;
                        self.append_log(LogEntry::PaymentSettled { hashlock });
                        self.forget_finished();
                    }
                }
            }
            None => {}
        }
    }

    /// Our outgoing lock failed (refunded, timed out, or never locked), as reported by
    /// `origin`: fail upstream (relaying the origin), or the part failed — and the payment
    /// with it once its attempts are used up (before that, the sender's wallet sends a
    /// [`super::EntityTx::RetryPayment`] with new parts, or gives up with one).
    fn on_outgoing_failed(&mut self, peer: &EntityId, id: u64, why: Rejection, origin: EntityId) {
        match self.payments.outgoing.remove(&(*peer, id)) {
            Some(Outgoing::Forward { from, in_id }) => {
                self.payments.forwards.remove(&(from, in_id));
                self.fail_back_from(&from, in_id, why, origin);
            }
            Some(Outgoing::Sent { hashlock, part }) => {
                if let Some(sent) = self.payments.sent.get_mut(&hashlock) {
                    if let Some(p) = sent.parts.get_mut(part as usize) {
                        p.status = PaymentStatus::Failed(why.clone());
                        p.failed_at = Some(origin);
                    }
                    if sent.status == PaymentStatus::Pending && sent.revealed_and_done() {
                        // The receiver revealed (a part settled): what settled is paid; a
                        // part lost after the reveal does not make the payment "failed".
                        sent.status = PaymentStatus::Settled;
                        self.append_log(LogEntry::PaymentSettled { hashlock });
                    } else if sent.status == PaymentStatus::Pending
                        && sent.attempts >= sent.attempts_max
                        && !sent.revealed()
                    {
                        sent.status = PaymentStatus::Failed(why.clone());
                        self.append_log(LogEntry::PaymentFailed {
                            hashlock,
                            rejection: why.clone(),
                        });
                    }
                    self.forget_finished();
                }
            }
            None => {}
        }
    }

    /// Our reveal of an incoming lock committed: the forward is done and its fee earned.
    fn on_incoming_claimed(&mut self, peer: &EntityId, id: u64) {
        if let Some(f) = self.payments.forwards.remove(&(*peer, id)) {
            let fee = &f.incoming - &f.outgoing;
            *self.payments.fees_earned.entry(f.token).or_default() += fee;
            self.append_log(LogEntry::PaymentForwarded {
                hashlock: f.hashlock,
            });
        }
    }

    /// Our refund of an incoming lock committed.
    fn on_incoming_refunded(&mut self, peer: &EntityId, id: u64, why: Rejection) {
        self.payments.forwards.remove(&(*peer, id));
        for r in self.payments.received.values_mut() {
            if r.parts.iter().any(|(p, i, _)| p == peer && *i == id)
                && r.status == PaymentStatus::Pending
            {
                r.status = PaymentStatus::Failed(why.clone());
            }
        }
    }

    /// Gives an incoming lock back (the receiver of a lock may refund at any time), as the
    /// origin of the failure.
    pub(super) fn fail_back(&mut self, peer: &EntityId, id: u64, why: Rejection) {
        let me = self.entity_id;
        self.fail_back_from(peer, id, why, me);
    }

    /// Gives an incoming lock back, naming `origin` as the entity that reported the
    /// failure (a hop relays what its next hop said, so the sender learns where it broke).
    fn fail_back_from(&mut self, peer: &EntityId, id: u64, why: Rejection, origin: EntityId) {
        self.append_log(LogEntry::PaymentRefused {
            peer: *peer,
            id,
            rejection: why.clone(),
        });
        self.queue_call(peer, id, "refund", reason_args(&why, &origin));
    }

    /// [`super::EntityTx::Timers`]: time out every lock this entity sent whose timeout has
    /// passed by the frame's clock and whose timeout was not asked for yet — at once if this
    /// entity was here when the timeout passed, after [`absence_windows`]' resync window if
    /// it notices the timeout only on coming back (see [`lock_timer`]).
    pub(super) fn run_timers(&mut self, engine: &mut dyn SubcontractEngine) {
        let now = self.timestamp;
        let windows = absence_windows(self.fee_policy.timeout_delta);
        let mut due = Vec::new();
        let mut noticed_late = Vec::new();
        for (peer, account) in &self.accounts {
            for id in account.machine.state.subcontracts.keys() {
                match lock_timer(account, *id, now, windows) {
                    LockTimer::AskNow => due.push((*peer, *id)),
                    LockTimer::NoticedLate => noticed_late.push((*peer, *id)),
                    LockTimer::NotDue | LockTimer::Resyncing => {}
                }
            }
        }
        for account in self.accounts.values_mut() {
            let live = &account.machine.state.subcontracts;
            account.late_timeouts.retain(|id, _| live.contains_key(id));
        }
        for (peer, id) in noticed_late {
            if let Some(account) = self.accounts.get_mut(&peer) {
                account.late_timeouts.insert(id, now);
            }
        }
        for (peer, id) in due {
            if let Some(account) = self.accounts.get_mut(&peer) {
                account.timeouts_asked.insert(id);
                account.late_timeouts.remove(&id);
            }
            self.queue_call(&peer, id, "timeout", Data::Map(BTreeMap::new()));
        }
        for account in self.accounts.values_mut() {
            for id in expired_in_flight(account, now) {
                account.timeouts_asked.insert(id);
            }
        }
        self.release_expired_holds();
        self.flush_accounts(engine);
    }

    /// The earliest timeout among the locks this entity sent that were not timed out yet:
    /// when a host's clock passes it, its validators must be ticked (they then submit
    /// [`super::EntityTx::Timers`]). None: no lock of ours waits for a timeout.
    pub fn next_lock_timeout(&self) -> Option<u64> {
        let (_, resync) = absence_windows(self.fee_policy.timeout_delta);
        let htlc = htlc_code_hash();
        self.accounts
            .values()
            .flat_map(|account| {
                account
                    .machine
                    .state
                    .subcontracts
                    .iter()
                    .filter(move |(id, sc)| {
                        sc.owner == account.machine.side
                            && sc.code == htlc
                            && !account.timeouts_asked.contains(*id)
                    })
                    .filter_map(|(id, sc)| {
                        let timeout = read_lock(&sc.params).map(|(_, t, _)| t)?;
                        Some(match account.late_timeouts.get(id) {
                            Some(noticed) => noticed.saturating_add(resync),
                            None => timeout,
                        })
                    })
            })
            .min()
    }

    /// Whether some lock this entity sent has timed out by `now` and was not timed out yet
    /// (validators submit [`super::EntityTx::Timers`] then).
    pub fn timers_due(&self, now: u64) -> bool {
        if self.holds_due(now) {
            return true;
        }
        let windows = absence_windows(self.fee_policy.timeout_delta);
        self.accounts.values().any(|account| {
            !expired_in_flight(account, now).is_empty()
                || account.machine.state.subcontracts.keys().any(|id| {
                    matches!(
                        lock_timer(account, *id, now, windows),
                        LockTimer::AskNow | LockTimer::NoticedLate
                    )
                })
        })
    }

    /// Forgets the oldest finished payments past [`PAYMENTS_KEPT_MAX`].
    pub(super) fn forget_finished(&mut self) {
        let finished = |s: &PaymentStatus| *s != PaymentStatus::Pending;
        while self.payments.sent.len() > PAYMENTS_KEPT_MAX {
            let oldest = self
                .payments
                .sent
                .iter()
                .filter(|(_, p)| finished(&p.status))
                .min_by_key(|(_, p)| p.sent_at)
                .map(|(h, _)| *h);
            match oldest {
                Some(h) => {
                    self.payments.sent.remove(&h);
                }
                None => break,
            }
        }
        while self.payments.received.len() > PAYMENTS_KEPT_MAX {
            let Some(h) = self
                .payments
                .received
                .iter()
                .find(|(_, r)| finished(&r.status))
                .map(|(h, _)| *h)
            else {
                break;
            };
            self.payments.received.remove(&h);
        }
    }
}

/// One onion layer: the hop's onion key and its instruction's bytes.
pub(super) type OnionLayer = ([u8; 33], Vec<u8>);

/// The onion layers of one route: each hop's onion key and its instruction.
pub(super) fn onion_layers(
    hops: &[PaymentHop],
    total: &BigInt,
    (preimage, secret): (&[u8; 32], &[u8; 32]),
) -> Result<Vec<OnionLayer>, Rejection> {
    hops.iter()
        .enumerate()
        .map(|(i, hop)| {
            let key = <[u8; 33]>::try_from(hop.onion_key.as_slice()).map_err(|_| {
                Rejection::new(
                    RejectionKind::Route,
                    format!("hop {i}'s onion key is not 33 bytes"),
                )
            })?;
            let instruction = match hops.get(i + 1) {
                Some(next) => HopInstruction::Forward {
                    next: next.entity,
                    amount: next.amount.clone(),
                    timeout: next.timeout,
                },
                None => HopInstruction::Final {
                    total: total.clone(),
                    secret: *secret,
                    preimage: Some(*preimage),
                },
            };
            Ok((key, instruction.encode()))
        })
        .collect()
}

/// The payment secret of the payment with `hashlock` from the sender with onion secret
/// `secret`: what every part's final layer carries (BOLT 4's `payment_secret`, derived so
/// retries of the payment carry the same one without storing it).
pub(super) fn payment_secret(secret: &OnionSecret, hashlock: &[u8; 32]) -> [u8; 32] {
    keccak256(
        &tagged(
            b"xln/payment-secret/v1",
            vec![secret.0.canonical_rlp(), hashlock.canonical_rlp()],
        )
        .encode(),
    )
}

/// This side's subcontract ids: `(n << 1) | side`, so two sides never pick the same id.
pub(super) fn subcontract_id(n: u64, side: Side) -> u64 {
    (n << 1) | u64::from(side == Side::Right)
}

/// The onion secret an entity in a simulation derives from its seed material.
pub fn onion_secret_from(seed: &[u8]) -> OnionSecret {
    OnionSecret::from_seed(&[b"xln/onion-secret/v1".as_slice(), seed].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_round_trip_strictly() {
        let f = HopInstruction::Forward {
            next: [3; 32],
            amount: BigInt::from(1234),
            timeout: 99,
        };
        let g = HopInstruction::Final {
            total: BigInt::from(5),
            secret: [7; 32],
            preimage: Some([9; 32]),
        };
        for i in [f, g] {
            assert_eq!(HopInstruction::decode(&i.encode()).unwrap(), i);
        }
        assert!(HopInstruction::decode(&[0xc0]).is_err());
        assert!(HopInstruction::decode(b"garbage").is_err());
    }

    #[test]
    fn fees_round_up_exactly() {
        let p = FeePolicy {
            base: BigInt::from(1),
            ppm: 1000,
            timeout_delta: 10,
        };
        assert_eq!(p.fee(&BigInt::from(500)), BigInt::from(2));
        assert_eq!(p.fee(&BigInt::from(1000)), BigInt::from(2));
        assert_eq!(p.fee(&BigInt::from(1001)), BigInt::from(3));
        assert_eq!(FeePolicy::default().fee(&BigInt::from(10)), BigInt::zero());
    }

    #[test]
    fn the_htlc_code_is_accepted_by_its_reader() {
        assert!(HTLC_CODE.trim_start().starts_with("(subcontract htlc"));
        assert_ne!(htlc_code_hash(), [0; 32]);
    }
}

crate::plain_readable!(
    SentPayment,
    Forward,
    Receiving,
    Outgoing,
    PaymentHop,
    FeePolicy
);

/// What the timer of one subcontract of an account calls for at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LockTimer {
    /// Not an HTLC this side locked, not expired, or already asked for.
    NotDue,
    /// Expired while this entity was here (within the grace window): ask for it back now.
    AskNow,
    /// Expired well before this entity could act on it — it was away (crashed, cut off,
    /// or its board without a quorum): start the resync window.
    NoticedLate,
    /// Noticed late; the resync window is still open.
    Resyncing,
}

/// (grace, resync) for an entity whose hop timeout delta is `delta` (its own time unit):
/// a lock whose timeout passed more than `grace` ago when the entity first acts on it was
/// noticed late, and is asked for only `resync` later. Why a window: a payer that was away
/// at its lock's timeout did not act on it, so a reveal its peer proposed in time — or
/// could not even send, queued behind a frame the payer never answered — must still reach
/// it; asking at once on return would race that reveal and make the honest peer bear the
/// payer's absence. A quarter and a half of the delta keep `grace + resync` below the
/// delta, so a reveal accepted in the window can still be claimed upstream, whose lock
/// times out a delta later.
pub(super) fn absence_windows(delta: u64) -> (u64, u64) {
    ((delta / 4).max(1), (delta / 2).max(1))
}

/// The timer of subcontract `id` in `account` at `now` (see [`LockTimer`]).
fn lock_timer(
    account: &super::accounts::EntityAccount,
    id: u64,
    now: u64,
    (grace, resync): (u64, u64),
) -> LockTimer {
    let Some(sc) = account.machine.state.subcontracts.get(&id) else {
        return LockTimer::NotDue;
    };
    let timeout = match read_lock(&sc.params) {
        Some((_, t, _)) if sc.owner == account.machine.side && sc.code == htlc_code_hash() => t,
        _ => return LockTimer::NotDue,
    };
    if timeout > now || account.timeouts_asked.contains(&id) {
        return LockTimer::NotDue;
    }
    match account.late_timeouts.get(&id) {
        Some(noticed) if now >= noticed.saturating_add(resync) => LockTimer::AskNow,
        Some(_) => LockTimer::Resyncing,
        None if now <= timeout.saturating_add(grace) => LockTimer::AskNow,
        None => LockTimer::NoticedLate,
    }
}

/// Our HTLC locks in the account's frame in flight (not countersigned yet) whose timeout
/// `now` has reached and that were not marked yet.
fn expired_in_flight(account: &super::accounts::EntityAccount, now: u64) -> Vec<u64> {
    let htlc = htlc_code_hash();
    account
        .machine
        .pending
        .iter()
        .flat_map(|frame| frame.txs.iter())
        .filter_map(|tx| match tx {
            AccountTx::OpenSubcontract {
                id, code, params, ..
            } if *code == htlc
                && read_lock(params).is_some_and(|(_, t, _)| t <= now)
                && !account.timeouts_asked.contains(id) =>
            {
                Some(*id)
            }
            _ => None,
        })
        .collect()
}
