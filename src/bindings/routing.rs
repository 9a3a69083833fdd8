//! Routing bindings over the entities' own gossip: each entity's fee policy (an entity
//! tx), waiting for profiles to spread (`gossip-sync!`), what an entity's replica knows,
//! routes planned over the sender's view, and `pay!`: a direct payment when the two share
//! an account, otherwise a routed payment the sender's entity locks on its first hop and
//! every hop forwards on its own. The bindings only plan (as the sender's wallet would)
//! and wait; they decide nothing for any hop.

use std::collections::BTreeMap;

use num_bigint::BigInt;

use super::accounts::{id_of, map_of, refusal, side_of, state_of};
use super::runtime::{
    entity_arg, entity_value, rejection_error, settle, sim, submit_and_settle, submit_tx,
};
use crate::entity::gossip::{GossipView, GOSSIP_INTERVAL};
use crate::entity::payment::SentPayment;
use crate::entity::wallet::{self, PAYMENT_ATTEMPTS_DEFAULT, PAYMENT_PARTS_DEFAULT};
use crate::entity::{
    EntityId, EntityTx, FeePolicy, PaymentStatus, RejectionKind, RoutedPayment, TokenId,
};
use crate::lang::builtins::{index_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};
use crate::runtime::RuntimeInput;

type R = Result<Value, LangError>;

/// Rounds `gossip-sync!` runs before it gives up (each round is two gossip intervals).
const GOSSIP_ROUNDS_MAX: usize = 200;

/// The gossip view of entity `index` (its first honest replica's).
fn view_of<'i>(
    interp: &'i mut Interp,
    index: usize,
    who: &str,
) -> Result<&'i GossipView, LangError> {
    let s = sim(interp);
    let replica = *s
        .runtime
        .honest(index)
        .first()
        .ok_or_else(|| value_error(who, "the entity has no honest replica"))?;
    s.runtime
        .replica(index, replica)
        .map(|r| r.gossip())
        .map_err(|e| super::runtime::runtime_error(who, e))
}

/// The first honest replica of entity `index` (whose view and wallet plan its payments).
fn replica_of<'i>(
    interp: &'i mut Interp,
    index: usize,
    who: &str,
) -> Result<&'i crate::entity::EntityReplica, LangError> {
    let s = sim(interp);
    let replica = *s
        .runtime
        .honest(index)
        .first()
        .ok_or_else(|| value_error(who, "the entity has no honest replica"))?;
    s.runtime
        .replica(index, replica)
        .map_err(|e| super::runtime::runtime_error(who, e))
}

/// Runtime index by entity id.
fn index_of(interp: &mut Interp, id: &EntityId) -> Option<usize> {
    sim(interp).runtime.entity_index(id)
}

/// `(set-fee-policy! e base ppm [timeout-delta])`: the entity's own forwarding policy.
fn set_fee_policy(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "set-fee-policy!";
    let e = entity_arg(a, 0, who)?;
    let base = to_bigint(&a[1])
        .filter(|b| b.sign() != num_bigint::Sign::Minus)
        .ok_or_else(|| type_error(who, 1, "a non-negative base fee", &a[1]))?;
    let ppm = u32::try_from(index_arg(a, 2, who)?)
        .map_err(|_| value_error(who, "ppm must fit in 32 bits"))?;
    let mut policy = FeePolicy {
        base,
        ppm,
        ..FeePolicy::default()
    };
    if a.get(3).is_some() {
        policy.timeout_delta = index_arg(a, 3, who)? as u64;
    }
    submit_and_settle(interp, e, EntityTx::SetFeePolicy(policy), who)?;
    Ok(Value::Void)
}

/// What every honest replica's view knows: (entity, replica) → {profile entity → height}.
fn views_fingerprint(interp: &mut Interp) -> Vec<BTreeMap<EntityId, u64>> {
    let count = sim(interp).runtime.entity_count();
    let mut out = Vec::new();
    for e in 0..count {
        let s = sim(interp);
        for r in s.runtime.honest(e) {
            if let Ok(replica) = s.runtime.replica(e, r) {
                out.push(
                    replica
                        .gossip()
                        .profiles()
                        .map(|p| (p.entity, p.height))
                        .collect(),
                );
            }
        }
    }
    out
}

/// `(gossip-sync!)`: lets time pass until every entity has published its current profile
/// and no replica learns anything new; returns the ticks it took.
fn gossip_sync(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let who = "gossip-sync!";
    let start = sim(interp).runtime.now();
    let mut last = None;
    for _ in 0..GOSSIP_ROUNDS_MAX {
        settle(interp, who, "the network")?;
        let input = RuntimeInput::RunTicks {
            ticks: 2 * GOSSIP_INTERVAL + 2,
        };
        super::storage::apply(interp, input, who)?;
        settle(interp, who, "the network")?;
        let now = views_fingerprint(interp);
        if last.as_ref() == Some(&now) {
            let ticks = sim(interp).runtime.now() - start;
            return Ok(Value::from_bigint(BigInt::from(ticks)));
        }
        last = Some(now);
    }
    Err(LangError::new(
        Code::Timeout,
        format!("{who}: gossip did not settle in {GOSSIP_ROUNDS_MAX} rounds"),
    ))
}

fn known(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "gossip-known";
    let e = entity_arg(a, 0, who)?;
    let ids: Vec<EntityId> = view_of(interp, e, who)?
        .profiles()
        .map(|p| p.entity)
        .collect();
    let mut names = Vec::new();
    for id in ids {
        if let Some(i) = index_of(interp, &id) {
            names.push(Value::string(&super::runtime::entity_name_of(interp, i)));
        }
    }
    Ok(Value::list(names))
}

/// `(gossip-profile e [as-seen-by])`: e's profile in its own view (or another's).
fn profile_value(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "gossip-profile";
    let e = entity_arg(a, 0, who)?;
    let seer = match a.get(1) {
        Some(_) => entity_arg(a, 1, who)?,
        None => e,
    };
    let id = id_of(interp, e, who)?;
    let Some(p) = view_of(interp, seer, who)?.get(&id).cloned() else {
        return Ok(Value::Bool(false));
    };
    let mut accounts = Vec::new();
    for adv in &p.accounts {
        let peer = match index_of(interp, &adv.peer) {
            Some(i) => entity_value(interp, i),
            None => Value::bytes(&adv.peer),
        };
        accounts.push(map_of(vec![
            ("peer", peer),
            ("token", Value::from_bigint(BigInt::from(adv.token))),
            ("out", Value::from_bigint(adv.out.clone())),
            ("in", Value::from_bigint(adv.inn.clone())),
        ]));
    }
    Ok(map_of(vec![
        ("entity", entity_value(interp, e)),
        ("height", Value::from_bigint(BigInt::from(p.height))),
        ("fee-base", Value::from_bigint(p.fee_base.clone())),
        ("fee-ppm", Value::from_bigint(BigInt::from(p.fee_ppm))),
        (
            "timeout-delta",
            Value::from_bigint(BigInt::from(p.timeout_delta)),
        ),
        ("accounts", Value::list(accounts)),
    ]))
}

/// A planned payment as a script value: hops `{#:from #:to #:amount #:fee #:timeout}` (the
/// fee is what `from` keeps for forwarding; 0 on the sender's own hop), `#:total-fee`,
/// `#:amount-sent`.
fn plan_value(interp: &mut Interp, from: usize, plan: &RoutedPayment) -> Value {
    let Some(hops) = plan.parts.first() else {
        return Value::Bool(false);
    };
    let sent = hops[0].amount.clone();
    map_of(vec![
        ("hops", hops_value(interp, from, hops)),
        ("total-fee", Value::from_bigint(&sent - &plan.total)),
        ("amount-sent", Value::from_bigint(sent)),
    ])
}

/// One route's hops as script values (see [`plan_value`]).
fn hops_value(interp: &mut Interp, from: usize, hops: &[crate::entity::PaymentHop]) -> Value {
    let mut out = Vec::new();
    let mut prev: Option<(usize, BigInt)> = None;
    for hop in hops {
        let to = index_of(interp, &hop.entity);
        let (from_index, fee) = match &prev {
            None => (from, BigInt::from(0)),
            Some((i, amount)) => (*i, amount - &hop.amount),
        };
        let to_value = to.map_or(Value::Bool(false), |i| entity_value(interp, i));
        out.push(map_of(vec![
            ("from", entity_value(interp, from_index)),
            ("to", to_value),
            ("amount", Value::from_bigint(hop.amount.clone())),
            ("fee", Value::from_bigint(fee)),
            ("timeout", Value::from_bigint(BigInt::from(hop.timeout))),
        ]));
        prev = Some((to.unwrap_or(usize::MAX), hop.amount.clone()));
    }
    Value::list(out)
}

fn amount_token(a: &[Value], who: &str) -> Result<(BigInt, TokenId), LangError> {
    let amount = to_bigint(&a[2])
        .filter(|x| x.sign() == num_bigint::Sign::Plus)
        .ok_or_else(|| type_error(who, 2, "a positive amount", &a[2]))?;
    Ok((amount, index_arg(a, 3, who)? as TokenId))
}

/// Plans up to `n` payments from `a[0]` to `a[1]` over the sender's view.
fn plans(
    interp: &mut Interp,
    a: &[Value],
    n: usize,
    who: &str,
) -> Result<(usize, Vec<RoutedPayment>), LangError> {
    let from = entity_arg(a, 0, who)?;
    let to = entity_arg(a, 1, who)?;
    let (amount, token) = amount_token(a, who)?;
    let (from_id, to_id) = (id_of(interp, from, who)?, id_of(interp, to, who)?);
    let now = sim(interp).runtime.now();
    let plans = view_of(interp, from, who)?
        .plans(&from_id, &to_id, &amount, token, now, n)
        .map_err(|r| rejection_error(who, &r))?;
    Ok((from, plans))
}

fn route(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let (from, plans) = plans(interp, a, 1, "route")?;
    plans
        .first()
        .map(|p| plan_value(interp, from, p))
        .ok_or_else(|| refusal("route", RejectionKind::Route, "no route"))
}

fn routes(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 4, "routes")?.clamp(1, 64);
    let (from, plans) = plans(interp, a, n, "routes")?;
    Ok(Value::list(
        plans
            .iter()
            .map(|p| plan_value(interp, from, p))
            .collect::<Vec<_>>(),
    ))
}

/// The payment entity `from` sent with tx `tx`, per its committed state.
fn sent_payment(
    interp: &mut Interp,
    from: usize,
    tx: &[u8; 32],
    who: &str,
) -> Result<Option<SentPayment>, LangError> {
    Ok(state_of(interp, from, who)?
        .payments
        .sent
        .values()
        .find(|p| p.tx == *tx)
        .cloned())
}

/// Submits the routed payment `plan` to entity `from`; returns the tx hash (not settled).
fn send_routed(
    interp: &mut Interp,
    from: usize,
    plan: RoutedPayment,
    who: &str,
) -> Result<[u8; 32], LangError> {
    submit_tx(interp, from, EntityTx::PayRouted(Box::new(plan)), who)
}

/// `pay!`'s options: `#:max-parts n` (parts per attempt, 1: never split) and
/// `#:max-attempts n` (attempts in all, 1: no retry).
fn pay_options(a: &[Value], who: &str) -> Result<(usize, u32), LangError> {
    let mut parts = PAYMENT_PARTS_DEFAULT;
    let mut attempts = PAYMENT_ATTEMPTS_DEFAULT;
    for (k, v) in super::runtime::keyword_args(a, 4, who)? {
        let n = match &v {
            Value::Int(n) if *n >= 1 => *n as usize,
            _ => return Err(type_error(who, 4, "a positive count", &v)),
        };
        match k.as_str() {
            "max-parts" => parts = n.min(crate::entity::payment::PAYMENT_PARTS_MAX),
            "max-attempts" => {
                attempts = u32::try_from(n)
                    .unwrap_or(u32::MAX)
                    .min(crate::entity::mpp::PAYMENT_ATTEMPTS_MAX)
            }
            _ => {
                return Err(value_error(who, format!("unknown option #:{k}"))
                    .with_hint("options: #:max-parts n, #:max-attempts n"))
            }
        }
    }
    Ok((parts, attempts))
}

/// Plans `a`'s payment with the sender's wallet (scored, split when no single route
/// carries it) over its view and exact own liquidity.
fn plan_split(
    interp: &mut Interp,
    a: &[Value],
    who: &str,
) -> Result<(usize, RoutedPayment), LangError> {
    let from = entity_arg(a, 0, who)?;
    let to = entity_arg(a, 1, who)?;
    let (amount, token) = amount_token(a, who)?;
    let options = pay_options(a, who)?;
    let to_id = id_of(interp, to, who)?;
    let now = sim(interp).runtime.now();
    let replica = replica_of(interp, from, who)?;
    let plan = wallet::plan(
        replica.gossip(),
        replica.state(),
        replica.wallet(),
        (&to_id, &amount, token),
        now,
        options,
    )
    .map_err(|r| rejection_error(who, &r))?;
    Ok((from, plan))
}

/// The parts of a sent payment that settled, as script values: `{#:hops (entities, the
/// receiver last) #:amount-sent #:delivered #:fee #:attempt}`.
fn settled_parts(interp: &mut Interp, sent: &SentPayment) -> Vec<Value> {
    let mut out = Vec::new();
    for part in sent
        .parts
        .iter()
        .filter(|p| p.status == PaymentStatus::Settled)
    {
        let hops: Vec<Value> = part
            .route
            .iter()
            .map(|id| match index_of(interp, id) {
                Some(i) => entity_value(interp, i),
                None => Value::bytes(id),
            })
            .collect();
        out.push(map_of(vec![
            ("hops", Value::list(hops)),
            ("amount-sent", Value::from_bigint(part.amount.clone())),
            ("delivered", Value::from_bigint(part.delivered.clone())),
            ("fee", Value::from_bigint(&part.amount - &part.delivered)),
            ("attempt", Value::from_bigint(BigInt::from(part.attempt))),
        ]));
    }
    out
}

/// `(pay! from to amount token [#:max-parts n] [#:max-attempts n])`: tells `from`'s entity
/// to pay. Directly when they share an account; otherwise routed, planned by the sender's
/// wallet over its view: one route, or — when no single route carries the amount — up to
/// `max-parts` parts under one hashlock (the receiver reveals only once it holds them
/// all); failed parts are planned again, up to `max-attempts` attempts in all. Settles,
/// then returns `#:hops #:total-fee #:amount-sent` (the first planned route), `#:parts`
/// (the parts that settled) and `#:attempts`, or raises the payment's failure with its
/// code (E030 capacity, E034 timeout, E035 route, ...).
fn pay(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "pay!";
    let from = entity_arg(a, 0, who)?;
    let to = entity_arg(a, 1, who)?;
    if side_of(interp, from, to, who)?.is_some() {
        pay_options(a, who)?;
        let (amount, _) = amount_token(a, who)?;
        super::accounts::pay_direct(interp, &a[..4], span)?;
        let hop = map_of(vec![
            ("from", entity_value(interp, from)),
            ("to", entity_value(interp, to)),
            ("amount", Value::from_bigint(amount.clone())),
            ("fee", Value::from_bigint(BigInt::from(0))),
        ]);
        let part = map_of(vec![
            ("hops", Value::list(vec![entity_value(interp, to)])),
            ("amount-sent", Value::from_bigint(amount.clone())),
            ("delivered", Value::from_bigint(amount.clone())),
            ("fee", Value::from_bigint(BigInt::from(0))),
            ("attempt", Value::from_bigint(BigInt::from(1))),
        ]);
        return Ok(map_of(vec![
            ("hops", Value::list(vec![hop])),
            ("total-fee", Value::from_bigint(BigInt::from(0))),
            ("amount-sent", Value::from_bigint(amount)),
            ("parts", Value::list(vec![part])),
            ("attempts", Value::from_bigint(BigInt::from(1))),
        ]));
    }
    let (from, plan) = plan_split(interp, a, who)?;
    let first_hops = match plan.parts.first() {
        Some(hops) => hops_value(interp, from, hops),
        None => Value::list(Vec::new()),
    };
    let tx = send_routed(interp, from, plan, who)?;
    settle(interp, who, "the payment")?;
    match super::runtime::sim(interp).runtime.outcome(&tx) {
        Some(crate::runtime::TxOutcome::Rejected { rejection, .. }) => {
            return Err(rejection_error(who, rejection))
        }
        Some(crate::runtime::TxOutcome::Applied { .. }) => {}
        _ => {
            return Err(refusal(
                who,
                RejectionKind::Timeout,
                "the payment was not committed",
            ))
        }
    }
    let sent = sent_payment(interp, from, &tx, who)?;
    match sent.as_ref().map(|p| (p, p.status.clone())) {
        Some((sent, PaymentStatus::Settled)) => {
            let sent = sent.clone();
            let parts = settled_parts(interp, &sent);
            let locked = sent.locked();
            Ok(map_of(vec![
                ("hops", first_hops),
                ("parts", Value::list(parts)),
                ("attempts", Value::from_bigint(BigInt::from(sent.attempts))),
                ("total-fee", Value::from_bigint(&locked - &sent.total)),
                ("amount-sent", Value::from_bigint(locked)),
            ]))
        }
        Some((_, PaymentStatus::Failed(r))) => Err(rejection_error(who, &r)),
        Some((_, PaymentStatus::Pending)) | None => Err(refusal(
            who,
            RejectionKind::Timeout,
            "the payment is still pending (a lock waits for its timeout)",
        )),
    }
}

/// `(pay-async! from to amount token [#:max-parts n] [#:max-attempts n])`: as `pay!` over
/// a route, but returns at once with the payment's tx hash; `(payment-status from hash)`
/// follows it.
fn pay_async(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "pay-async!";
    let (from, plan) = plan_split(interp, a, who)?;
    let tx = send_routed(interp, from, plan, who)?;
    Ok(Value::bytes(&tx))
}

/// `(payment-status from hash)`: 'pending, 'settled, or (failed kind reason).
fn payment_status(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "payment-status";
    let from = entity_arg(a, 0, who)?;
    let hash = crate::lang::builtins::bytes_arg(a, 1, who)?;
    let hash =
        <[u8; 32]>::try_from(&hash[..]).map_err(|_| value_error(who, "a tx hash is 32 bytes"))?;
    Ok(
        match sent_payment(interp, from, &hash, who)?.map(|p| p.status) {
            None | Some(PaymentStatus::Pending) => Value::sym("pending"),
            Some(PaymentStatus::Settled) => Value::sym("settled"),
            Some(PaymentStatus::Failed(r)) => Value::list(vec![
                Value::sym("failed"),
                Value::sym(r.kind.name()),
                Value::string(&r.reason),
            ]),
        },
    )
}

/// `(fees-earned e token)`: what the entity earned forwarding payments.
fn fees_earned(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "fees-earned";
    let e = entity_arg(a, 0, who)?;
    let token = index_arg(a, 1, who)? as TokenId;
    Ok(Value::from_bigint(
        state_of(interp, e, who)?
            .payments
            .fees_earned
            .get(&token)
            .cloned()
            .unwrap_or_default(),
    ))
}

/// `(payments-in-flight e)`: locks the entity sent or forwarded that are not settled yet.
fn in_flight(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "payments-in-flight";
    let e = entity_arg(a, 0, who)?;
    let n = state_of(interp, e, who)?.payments.outgoing.len();
    Ok(Value::from_bigint(BigInt::from(n)))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "set-fee-policy!", 3, Some(4), set_fee_policy, "(set-fee-policy! e base ppm [timeout-delta]): the fee e charges to forward, base + ceil(amount x ppm / 1,000,000), and the timeout margin it wants (an entity tx of e's board).", "(set-fee-policy! hub 1 1000)";
    "gossip-sync!", 0, Some(0), gossip_sync, "Lets time pass until every entity has published its profile (signed by its board, spread along accounts) and no replica learns anything new; returns the ticks taken.", "(gossip-sync!) => 36";
    "gossip-known", 1, Some(1), known, "Names of the entities whose profiles the entity's replica knows.", "(gossip-known alice) => (\"hub\" \"carol\")";
    "gossip-profile", 1, Some(2), profile_value, "(gossip-profile e [seer]): e's published profile (fees, timeout delta, accounts and capacities) as e (or seer) knows it, or #f.", "(hash-ref (gossip-profile hub) #:fee-ppm) => 1000";
    "route", 4, Some(4), route, "(route from to amount token): the cheapest route over what from's entity knows, with each hop's amount, fee and timeout: {#:hops #:total-fee #:amount-sent}.", "(hash-ref (route alice carol 100 1) #:total-fee)";
    "routes", 5, Some(5), routes, "(routes from to amount token n): up to n routes, cheapest first.", "(length (routes alice carol 100 1 3))";
    "pay!", 4, Some(8), pay, "(pay! from to amount token [#:max-parts n] [#:max-attempts n]): tells from's entity to pay — directly over their account, or routed: from's wallet plans over its view (split into up to max-parts parts under one hashlock when no single route carries the amount; the receiver reveals only once it holds them all), locks an HTLC per part on its first hop with an onion, each hop forwards by its own policy; failed parts are planned again up to max-attempts attempts. Settles; returns {#:hops #:total-fee #:amount-sent #:parts #:attempts}, or raises the failure's code (E030 capacity, E034 timeout, E035 route ...).", "(length (hash-ref (pay! alice carol 1500 1 #:max-parts 3) #:parts))";
    "pay-async!", 4, Some(8), pay_async, "As pay! over a route (same options), but returns the payment's tx hash at once (follow it with payment-status).", "(define p (pay-async! alice carol 5 1 #:max-attempts 1))";
    "payment-status", 2, Some(2), payment_status, "(payment-status from hash): 'pending, 'settled or (failed kind reason).", "(payment-status alice p) => settled";
    "fees-earned", 2, Some(2), fees_earned, "What the entity earned forwarding payments in a token.", "(fees-earned hub 1) => 2";
    "payments-in-flight", 1, Some(1), in_flight, "Locks the entity sent or forwarded that have not settled or failed yet.", "(payments-in-flight hub) => 0";
];
