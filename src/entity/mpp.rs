//! Multi-part payments on entity accounts, the consensus half: the sender locks every part
//! as its own HTLC chain under ONE hashlock, each part's final onion layer carrying the
//! total and a payment secret; the receiver holds the parts it gets (their amounts stay
//! locked) until the parts with that hashlock add up to the total, then reveals for all —
//! or, if its clock passes the hold deadline first, fails every held part back. Retries
//! ([`EntityTx::RetryPayment`]) add parts that replace failed ones, within the payment's
//! attempt budget; the wallet that plans them lives beside the gossip view (`wallet.rs`).
//! Intermediaries change nothing: each part is an ordinary routed HTLC to them.
//!
//! Why the receiver may hold safely: a held part's lock stays in its account until the
//! receiver reveals or refunds it (its payer can only time it out after its timeout), and
//! the hold deadline is at least [`RECEIVE_TIMEOUT_MARGIN`] ticks before the earliest
//! held lock's timeout, so a complete set is revealed with every lock still claimable and
//! an incomplete one is given back before any payer's timeout: all or nothing per
//! hashlock (BOLT 4's basic MPP semantics; the secret plays `payment_secret`'s part).
//!
//! [`EntityTx::RetryPayment`]: super::EntityTx::RetryPayment

use std::collections::BTreeMap;

use num_bigint::BigInt;

use super::payment::{
    onion_layers, payment_secret, PaymentHop, PaymentStatus, Receiving, RoutedPayment, SentPart,
    PAYMENT_PARTS_MAX,
};
use super::rejection::{Rejection, RejectionKind};
use super::{EntityId, EntityState, LogEntry, TokenId};
use crate::account::{Data, SubcontractEngine};
use crate::crypto::keccak256;
use crate::crypto::onion::{build_onion, OnionSecret};
use crate::crypto::{tagged, Canonical};

/// Ticks a receiver holds the parts of an incomplete payment, counted from the first part
/// it holds, before it fails them all back.
pub const RECEIVE_HOLD_TICKS: u64 = 120;

/// Ticks a receiver keeps between its hold deadline and the earliest timeout of a lock it
/// holds, so a reveal (or refund) commits before that lock's payer may time it out.
pub const RECEIVE_TIMEOUT_MARGIN: u64 = 100;

/// Most parts one sent payment records over all its attempts.
pub const PAYMENT_PART_RECORDS_MAX: usize = 64;

/// Most attempts a payment may be given.
pub const PAYMENT_ATTEMPTS_MAX: u32 = 8;

impl EntityState {
    /// Builds one onion per part of `payment` (all first, so a bad part changes nothing),
    /// then locks each part on its first hop; part `i` is recorded as `first_index + i` of
    /// the payment, sent by attempt `attempt`.
    pub(super) fn send_parts(
        &mut self,
        secret: &OnionSecret,
        (hashlock, preimage, payment_secret): ([u8; 32], [u8; 32], [u8; 32]),
        payment: &RoutedPayment,
        first_index: usize,
        attempt: u32,
    ) -> Result<Vec<SentPart>, Rejection> {
        let mut onions = Vec::with_capacity(payment.parts.len());
        for (i, hops) in payment.parts.iter().enumerate() {
            let layers = onion_layers(hops, &payment.total, (&preimage, &payment_secret))?;
            let seed = keccak256(
                &tagged(
                    b"xln/onion-seed/v1",
                    vec![
                        secret.0.canonical_rlp(),
                        hashlock.canonical_rlp(),
                        ((first_index + i) as u64).canonical_rlp(),
                    ],
                )
                .encode(),
            );
            let onion = build_onion(&layers, &hashlock, &seed)
                .map_err(|e| Rejection::new(RejectionKind::Route, e.to_string()))?;
            onions.push(onion);
        }
        let mut parts = Vec::with_capacity(onions.len());
        for (i, (hops, onion)) in payment.parts.iter().zip(onions).enumerate() {
            let (first, last) = (&hops[0], &hops[hops.len() - 1]);
            let params = super::payment::htlc_params(
                &hashlock,
                first.timeout,
                payment.token,
                &first.amount,
                onion,
            );
            let id = self.open_htlc(&first.entity, payment.token, &first.amount, params);
            self.payments.outgoing.insert(
                (first.entity, id),
                super::payment::Outgoing::Sent {
                    hashlock,
                    part: (first_index + i) as u64,
                },
            );
            parts.push(SentPart {
                peer: first.entity,
                id,
                amount: first.amount.clone(),
                delivered: last.amount.clone(),
                route: hops.iter().map(|h| h.entity).collect(),
                attempt,
                status: PaymentStatus::Pending,
                failed_at: None,
            });
        }
        Ok(parts)
    }

    /// Applies [`super::EntityTx::RetryPayment`]: new parts for the pending payment with
    /// `hashlock` that together deliver exactly what its live parts do not (one more
    /// attempt), or, with no parts, the sender gives up: the payment fails with the first
    /// part failure's kind (the cause) and `reason` added.
    ///
    /// # Errors
    /// `Unknown` for no such payment; `Invalid` if it is finished, its attempts are used
    /// up, the parts are too many or do not deliver the missing amount to its receiver;
    /// what [`EntityState::check_route`] refuses.
    pub(super) fn retry_payment(
        &mut self,
        hashlock: &[u8; 32],
        parts: &[Vec<PaymentHop>],
        reason: &str,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<(), Rejection> {
        let invalid = |r: String| Rejection::new(RejectionKind::Invalid, r);
        let sent = self
            .payments
            .sent
            .get(hashlock)
            .ok_or_else(|| Rejection::new(RejectionKind::Unknown, "no such payment sent"))?;
        if sent.status != PaymentStatus::Pending {
            return Err(invalid("the payment is finished".into()));
        }
        if sent.revealed() {
            return Err(invalid(
                "the receiver revealed the payment: it can neither retry nor fail".into(),
            ));
        }
        if parts.is_empty() {
            let cause = sent.parts.iter().find_map(|p| match &p.status {
                PaymentStatus::Failed(r) => Some(r.clone()),
                _ => None,
            });
            let why = match cause {
                Some(r) => Rejection::new(
                    r.kind,
                    format!("{}; the sender gave up: {reason}", r.reason),
                ),
                None => Rejection::new(
                    RejectionKind::Route,
                    format!("the sender gave up: {reason}"),
                ),
            };
            if let Some(sent) = self.payments.sent.get_mut(hashlock) {
                sent.status = PaymentStatus::Failed(why.clone());
            }
            self.append_log(LogEntry::PaymentFailed {
                hashlock: *hashlock,
                rejection: why,
            });
            self.forget_finished();
            return Ok(());
        }
        if sent.attempts >= sent.attempts_max {
            return Err(invalid(format!(
                "all {} attempts of the payment were made",
                sent.attempts_max
            )));
        }
        if parts.len() > sent.parts_max as usize
            || sent.parts.len() + parts.len() > PAYMENT_PART_RECORDS_MAX
        {
            return Err(invalid(format!(
                "{} new parts: at most {} per attempt and {PAYMENT_PART_RECORDS_MAX} in all",
                parts.len(),
                sent.parts_max
            )));
        }
        let missing = &sent.total - sent.live_delivered();
        let retry = RoutedPayment {
            token: sent.token,
            total: missing,
            parts: parts.to_vec(),
            attempts_max: 1,
            parts_max: PAYMENT_PARTS_MAX as u32,
        };
        let receiver = self.check_route(&retry)?;
        let sent = &self.payments.sent[hashlock];
        if receiver != sent.receiver {
            return Err(invalid("the new parts go to another receiver".into()));
        }
        let (preimage, total, first, attempt) = (
            sent.preimage,
            sent.total.clone(),
            sent.parts.len(),
            sent.attempts + 1,
        );
        let secret = self
            .onion
            .clone()
            .ok_or_else(|| Rejection::new(RejectionKind::Route, "this entity has no onion key"))?;
        let keys = (*hashlock, preimage, payment_secret(&secret, hashlock));
        // Every part's final layer names the payment's whole total, not the retry's share.
        let onion_payment = RoutedPayment { total, ..retry };
        let new_parts = self.send_parts(&secret, keys, &onion_payment, first, attempt)?;
        if let Some(sent) = self.payments.sent.get_mut(hashlock) {
            sent.parts.extend(new_parts);
            sent.attempts = attempt;
        }
        self.flush_accounts(engine);
        Ok(())
    }

    /// The receiver's part of a routed payment: checks its final layer against the other
    /// parts with its hashlock, holds it, and reveals every held part once they add up to
    /// the total; a part that does not fit is failed back alone (the set is untouched).
    pub(super) fn receive_part(
        &mut self,
        peer: &EntityId,
        id: u64,
        (hashlock, token, amount, timeout): ([u8; 32], TokenId, BigInt, u64),
        (total, secret): (BigInt, [u8; 32]),
        preimage: Option<[u8; 32]>,
    ) {
        let refuse = |reason: &str| Rejection::new(RejectionKind::Route, reason);
        // Keysend-style: the sender's onion carries the preimage; only the sender and this
        // receiver know it before the reveal, so a part that carries it is the sender's.
        let Some(preimage) = preimage.filter(|p| keccak256(p) == hashlock) else {
            return self.fail_back(
                peer,
                id,
                refuse("the onion's preimage is missing or does not match the lock"),
            );
        };
        let now = self.timestamp;
        let entry = self
            .payments
            .received
            .entry(hashlock)
            .or_insert_with(|| Receiving {
                token,
                total: total.clone(),
                preimage: Some(preimage),
                secret,
                parts: Vec::new(),
                hold_until: 0,
                status: PaymentStatus::Pending,
            });
        if entry.status == PaymentStatus::Settled {
            return self.fail_back(peer, id, refuse("this payment is already settled"));
        }
        if entry.token != token || entry.total != total || entry.secret != secret {
            return self.fail_back(
                peer,
                id,
                refuse("this part does not match the payment's other parts"),
            );
        }
        if matches!(entry.status, PaymentStatus::Failed(_)) && entry.parts.is_empty() {
            // A retry after the held parts were given back: a new hold starts.
            entry.status = PaymentStatus::Pending;
        }
        if entry.parts.is_empty() {
            entry.hold_until = now.saturating_add(RECEIVE_HOLD_TICKS);
        }
        entry.hold_until = entry
            .hold_until
            .min(timeout.saturating_sub(RECEIVE_TIMEOUT_MARGIN));
        entry.parts.push((*peer, id, amount));
        if entry.hold_until <= now {
            return self.release_hold(&hashlock, "a part came too close to its lock's timeout");
        }
        if entry.received() < entry.total {
            return;
        }
        self.reveal_if_clear(&hashlock);
    }

    /// The account (peer) some part of the complete payment with `hashlock` came over in
    /// which a frame of ours is still in flight, if any: a reveal queued there could not be
    /// signed until the peer answers.
    fn reveal_blocked_by(&self, hashlock: &[u8; 32]) -> Option<EntityId> {
        let entry = self.payments.received.get(hashlock)?;
        entry.parts.iter().map(|(peer, _, _)| *peer).find(|peer| {
            self.accounts
                .get(peer)
                .is_some_and(|a| a.machine.pending.is_some())
        })
    }

    /// Reveals every part of the complete payment with `hashlock` — but only once no part's
    /// account has a frame of ours in flight. Why wait: off-chain, a reveal counts only
    /// when a frame carrying it is countersigned before the lock's timeout, and a reveal
    /// queued behind a frame an unresponsive peer never confirms cannot be; revealing the
    /// other parts meanwhile would deliver part of the payment (the sender's paths settle,
    /// the stuck part times out). Waiting keeps the set whole: it is revealed together
    /// once every account is clear, or failed back together at the hold deadline
    /// ([`EntityState::release_expired_holds`]), which lies [`RECEIVE_TIMEOUT_MARGIN`]
    /// ticks before the earliest lock's timeout. A part's lock stays claimable while held.
    fn reveal_if_clear(&mut self, hashlock: &[u8; 32]) {
        let Some(entry) = self.payments.received.get(hashlock) else {
            return;
        };
        if entry.status != PaymentStatus::Pending || entry.received() < entry.total {
            return;
        }
        let Some(preimage) = entry.preimage else {
            return;
        };
        if self.reveal_blocked_by(hashlock).is_some() {
            return;
        }
        let Some(entry) = self.payments.received.get_mut(hashlock) else {
            return;
        };
        entry.status = PaymentStatus::Settled;
        let parts = entry.parts.clone();
        for (p, part_id, _) in parts {
            let args = Data::Map(BTreeMap::from([(
                "preimage".into(),
                Data::Bytes(preimage.to_vec()),
            )]));
            self.queue_call(&p, part_id, "reveal", args);
        }
        self.append_log(LogEntry::PaymentReceived {
            hashlock: *hashlock,
        });
        self.forget_finished();
    }

    /// Reveals every complete payment that waited for its accounts to clear and now may
    /// (called before account proposals are flushed, so a reveal rides the next frame).
    pub(super) fn reveal_cleared_holds(&mut self) {
        let waiting: Vec<[u8; 32]> = self
            .payments
            .received
            .iter()
            .filter(|(_, r)| r.status == PaymentStatus::Pending && r.received() >= r.total)
            .map(|(h, _)| *h)
            .collect();
        for hashlock in waiting {
            self.reveal_if_clear(&hashlock);
        }
    }

    /// Whether some incomplete payment this entity holds parts of is past its hold
    /// deadline by `now` (validators then submit [`super::EntityTx::Timers`]).
    pub(super) fn holds_due(&self, now: u64) -> bool {
        self.payments.received.values().any(|r| {
            r.status == PaymentStatus::Pending && !r.parts.is_empty() && r.hold_until <= now
        })
    }

    /// Fails back every held part of every incomplete payment past its hold deadline.
    pub(super) fn release_expired_holds(&mut self) {
        let now = self.timestamp;
        let due: Vec<[u8; 32]> = self
            .payments
            .received
            .iter()
            .filter(|(_, r)| {
                r.status == PaymentStatus::Pending && !r.parts.is_empty() && r.hold_until <= now
            })
            .map(|(h, _)| *h)
            .collect();
        for hashlock in due {
            self.release_hold(&hashlock, "its parts did not add up to the total in time");
        }
    }

    /// Gives back every held part of the payment with `hashlock` (a timeout refusal): the
    /// entry keeps its secret and total, so a retry of the sender may start a new hold.
    fn release_hold(&mut self, hashlock: &[u8; 32], why: &str) {
        let blocked = self.reveal_blocked_by(hashlock);
        let Some(entry) = self.payments.received.get_mut(hashlock) else {
            return;
        };
        let why = match blocked {
            Some(peer) if entry.received() >= entry.total => format!(
                "every part arrived, but the account with {} kept a frame of ours unconfirmed, \
                 so no reveal could be signed there in time (revealing the rest would have \
                 delivered part of the payment)",
                super::state::hex32(&peer)
            ),
            _ => why.to_string(),
        };
        let why = Rejection::new(
            RejectionKind::Timeout,
            format!(
                "the receiver held {} of {} by tick {}: {why}",
                entry.received(),
                entry.total,
                entry.hold_until
            ),
        );
        entry.status = PaymentStatus::Failed(why.clone());
        entry.hold_until = 0;
        let parts = std::mem::take(&mut entry.parts);
        for (peer, id, _) in parts {
            self.fail_back(&peer, id, why.clone());
        }
    }
}
