//! The end-of-run checks of a chaos run, over each node's state as *replaying its WAL*
//! gives it (after checking that this equals the hash the live node reported): every
//! replica of an entity agrees, both sides of every account agree, no lock is left, value
//! is conserved per token, and every acknowledged payment is applied exactly once (the
//! accounts' balances equal the sum of the acknowledged direct payments' effects — a
//! payment whose call broke may or may not have been applied, so the difference must be
//! the effect of some subset of those — plus the routed payments' HTLC flows that the
//! senders' and receivers' records say settled, each acknowledged routed payment being in
//! its sender's record as the client saw it end).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use num_bigint::BigInt;

use super::traffic::{Ack, Final, PayKind, Payment, Plan};
use crate::account::{AccountTx, Side};
use crate::crypto::readable::to_hex;
use crate::entity::{EntityId, LogEntry, RejectionKind};
use crate::host::Replicas;
use crate::node::config::NodeConfig;
use crate::node::keys::KeyRing;
use crate::node::store::recover_read_only;

/// A node's recovered state.
pub struct Replayed {
    /// The node's name.
    pub node: String,
    /// Its replicas as its WAL replays.
    pub replicas: Replicas,
    /// The node state hash they give.
    pub hash: String,
}

/// Replays the data directory of `node_dir` with its keys.
///
/// # Errors
/// Keys or WAL unreadable, a record that does not replay.
pub fn replay(node: &str, node_dir: &Path) -> Result<Replayed, String> {
    let ring = KeyRing::read_dir(&node_dir.join("keys")).map_err(|e| format!("{node}: {e}"))?;
    let (replicas, _) =
        recover_read_only(&node_dir.join("data"), &ring).map_err(|e| format!("{node}: {e}"))?;
    let hash = to_hex(&replicas.state_hash());
    Ok(Replayed {
        node: node.to_string(),
        replicas,
        hash,
    })
}

/// What the checks found.
#[derive(Default, Debug)]
pub struct Findings {
    /// Entities whose replicas disagree.
    pub divergences: u64,
    /// Accounts whose two sides disagree (or one side is missing, or a frame is in flight).
    pub accounts_disagreeing: u64,
    /// Locks (subcontracts) still open in accounts.
    pub locks_left: u64,
    /// Tokens whose total changed.
    pub not_conserved: u64,
    /// Acknowledged payments not applied, or account balances short of them.
    pub lost: u64,
    /// Account balances past what the payments explain (some payment applied twice).
    pub applied_twice: u64,
    /// Payments whose call broke, found applied by the reconciliation.
    pub ambiguous_applied: u64,
    /// Account txs refused by an account after the entity had applied them, by
    /// [`refusal_label`] (one replica per entity counted).
    pub refusals: BTreeMap<String, u64>,
    /// Those of them no fault of the run explains ([`refusal_explained`] is false): each
    /// is a failure.
    pub refusals_unexplained: u64,
    /// Routed payments whose receiver was paid while the sender took its lock back (the
    /// hub bore them: a reveal it could not pass on in time).
    pub hub_losses: u64,
    /// Tokens checked for conservation.
    pub tokens: Vec<u64>,
    /// One line per problem.
    pub problems: Vec<String>,
}

fn own_balance(side: Side, d: &crate::account::Delta) -> BigInt {
    let left = &d.ondelta + &d.offdelta;
    match side {
        Side::Left => left,
        Side::Right => -left,
    }
}

/// Runs every check. `config` is any node's configuration (for the entities' ids and
/// genesis reserves).
pub fn check(
    config: &NodeConfig,
    plan: &Plan,
    nodes: &[Replayed],
    payments: &[Payment],
) -> Findings {
    let mut f = Findings::default();
    let id_of: BTreeMap<String, EntityId> = config
        .entities
        .iter()
        .map(|e| (e.name.clone(), e.id()))
        .collect();
    // Every replica of every entity agrees.
    let mut by_entity: BTreeMap<EntityId, Vec<(String, u64, [u8; 32])>> = BTreeMap::new();
    for n in nodes {
        for (id, r) in n.replicas.iter() {
            by_entity.entry(id.entity).or_default().push((
                n.node.clone(),
                r.height(),
                r.state_hash(),
            ));
        }
    }
    for spec in &config.entities {
        let Some(rs) = by_entity.get(&spec.id()) else {
            f.divergences += 1;
            f.problems
                .push(format!("entity {}: no replica recovered", spec.name));
            continue;
        };
        if rs.len() != spec.board.validators.len() {
            f.problems.push(format!(
                "entity {}: {} replicas recovered of {}",
                spec.name,
                rs.len(),
                spec.board.validators.len()
            ));
            f.divergences += 1;
        } else if rs.iter().any(|r| r.1 != rs[0].1 || r.2 != rs[0].2) {
            f.divergences += 1;
            let each: Vec<String> = rs
                .iter()
                .map(|(n, h, s)| format!("{n} height {h} {}", &to_hex(s)[..12]))
                .collect();
            f.problems.push(format!(
                "entity {} diverges: {}",
                spec.name,
                each.join(", ")
            ));
        }
    }
    // One replica per entity (they agree, or that was reported) for the rest.
    let mut replica = BTreeMap::new();
    for n in nodes {
        for (id, r) in n.replicas.iter() {
            replica.entry(id.entity).or_insert(r);
        }
    }
    let name_of = |id: &EntityId| {
        id_of
            .iter()
            .find(|(_, i)| *i == id)
            .map_or_else(|| to_hex(id), |(n, _)| n.clone())
    };
    let named = |name: &str| id_of.get(name).and_then(|id| replica.get(id));
    // Both sides of every account agree, nothing in flight, no lock left.
    let mut observed: BTreeMap<(usize, u64), i64> = BTreeMap::new();
    let mut tokens: BTreeSet<u64> = BTreeSet::new();
    for (i, (a, b)) in plan.accounts.iter().enumerate() {
        let (Some(ra), Some(rb)) = (named(a), named(b)) else {
            f.accounts_disagreeing += 1;
            f.problems
                .push(format!("account {a}-{b}: a side has no replica"));
            continue;
        };
        let (Some(ea), Some(eb)) = (
            ra.state().accounts.get(&id_of[b]),
            rb.state().accounts.get(&id_of[a]),
        ) else {
            f.accounts_disagreeing += 1;
            f.problems
                .push(format!("account {a}-{b}: not open on both sides"));
            continue;
        };
        let (ma, mb) = (&ea.machine, &eb.machine);
        if ma.state.state_hash() != mb.state.state_hash()
            || ma.pending.is_some()
            || mb.pending.is_some()
        {
            f.accounts_disagreeing += 1;
            f.problems.push(format!(
                "account {a}-{b}: sides disagree (heights {} / {}, in flight {} / {})",
                ma.state.height,
                mb.state.height,
                ma.pending.is_some(),
                mb.pending.is_some()
            ));
        }
        let locks = (ma.state.subcontracts.len() + mb.state.subcontracts.len()) as u64;
        if locks > 0 {
            f.locks_left += locks;
            f.problems
                .push(format!("account {a}-{b}: {locks} locks still open"));
        }
        for (token, d) in &ma.state.deltas {
            tokens.insert(*token);
            let bal = own_balance(ma.side, d);
            observed.insert((i, *token), i64::try_from(bal).unwrap_or(i64::MAX));
        }
    }
    // Value conserved per token: reserves plus every entity's own side of its accounts.
    let mut genesis: BTreeMap<u64, BigInt> = BTreeMap::new();
    for spec in &config.entities {
        for (_, t, a) in &spec.reserves {
            *genesis.entry(*t).or_default() += a;
        }
    }
    let mut now: BTreeMap<u64, BigInt> = BTreeMap::new();
    for (id, r) in &replica {
        let s = r.state();
        for ((_, t), a) in &s.reserves {
            *now.entry(*t).or_default() += a;
        }
        for account in s.accounts.values() {
            let m = &account.machine;
            for (t, d) in &m.state.deltas {
                *now.entry(*t).or_default() += own_balance(m.side, d);
            }
        }
        for e in &s.log {
            if let LogEntry::AccountTxRejected { tx, rejection, .. } = e {
                *f.refusals
                    .entry(refusal_label(tx, rejection.kind))
                    .or_default() += 1;
                if !refusal_explained(tx, rejection.kind) {
                    f.refusals_unexplained += 1;
                    f.problems.push(format!(
                        "{}: {} refused ({}): {}",
                        name_of(id),
                        tx.kind(),
                        rejection.kind.name(),
                        rejection.reason
                    ));
                }
            }
        }
    }
    tokens.extend(genesis.keys());
    tokens.extend(now.keys());
    for t in &tokens {
        let (g, n) = (
            genesis.get(t).cloned().unwrap_or_default(),
            now.get(t).cloned().unwrap_or_default(),
        );
        if g != n {
            f.not_conserved += 1;
            f.problems
                .push(format!("token {t}: {g} at genesis, {n} now"));
        }
    }
    f.tokens = tokens.into_iter().collect();
    let routed = routed_flows(&mut f, plan, &id_of, &replica, payments);
    exactly_once(&mut f, plan, payments, &observed, &routed);
    f
}

/// What a refused account tx was, for the figures: its kind (a call's method too) and the
/// refusal's kind.
pub fn refusal_label(tx: &AccountTx, kind: RejectionKind) -> String {
    match tx {
        AccountTx::CallSubcontract { method, .. } => format!("{method} ({})", kind.name()),
        _ => format!("{} ({})", tx.kind(), kind.name()),
    }
}

/// Whether a refusal is one the faults of a run explain, so that it is not a failure by
/// itself (what the refused tx would have moved is judged by the payment checks):
/// - a reveal or a timeout that lost its race: the lock had expired or was already gone
///   when the frame carrying it was proposed, because its side was killed or cut off past
///   the lock's timeout (the absent party bears it: a hub's loss, or the receiver's part
///   refunded to the sender) — kinds `timeout`, `unknown`, `subcontract` (the HTLC's own
///   code declines a late reveal);
/// - a lock or a direct payment beyond capacity, or a lock whose timing no longer fits
///   (queued behind a frame in flight while other payments used the room or the clock
///   moved): the payment fails back or is refused, and its client is told.
///
/// Everything else — a bad signature, a replay, an invalid or unknown-kind tx, a refused
/// credit limit or code install — means a node proposed what it should not have.
pub fn refusal_explained(tx: &AccountTx, kind: RejectionKind) -> bool {
    use RejectionKind as K;
    match tx {
        AccountTx::CallSubcontract { .. } => {
            matches!(kind, K::Timeout | K::Unknown | K::Subcontract)
        }
        AccountTx::OpenSubcontract { .. } => matches!(kind, K::Capacity | K::Timeout | K::Route),
        AccountTx::Pay { .. } => kind == K::Capacity,
        _ => false,
    }
}

/// How many finished payments an entity keeps in its records (the entity layer's
/// `PAYMENTS_KEPT_MAX`): past it the oldest are forgotten and the routed check below
/// could not see every payment, so a record that full is reported as a problem.
const PAYMENTS_KEPT: usize = 4_096;

/// The settled HTLC flows of routed payments, from the senders' and receivers' own
/// records: (account index, token, change of the first-named side's balance).
fn routed_flows(
    f: &mut Findings,
    plan: &Plan,
    id_of: &BTreeMap<String, EntityId>,
    replica: &BTreeMap<EntityId, &crate::entity::EntityReplica>,
    payments: &[Payment],
) -> BTreeMap<(usize, u64), i64> {
    let mut flows: BTreeMap<(usize, u64), i64> = BTreeMap::new();
    let name_of: BTreeMap<EntityId, &String> = id_of.iter().map(|(n, id)| (*id, n)).collect();
    let account_of = |x: &str, y: &str| {
        plan.accounts
            .iter()
            .position(|(a, b)| (a == x && b == y) || (a == y && b == x))
    };
    let mut flow =
        |f: &mut Findings, me: &str, peer: &EntityId, token: u64, amount: &BigInt, sign: i64| {
            let Some(peer) = name_of.get(peer) else {
                return;
            };
            let Some(i) = account_of(me, peer) else {
                f.problems.push(format!(
                    "a lock between {me} and {peer}, who have no account"
                ));
                return;
            };
            let x = i64::try_from(amount.clone()).unwrap_or(i64::MAX) * sign;
            let first = if plan.accounts[i].0 == me { x } else { -x };
            *flows.entry((i, token)).or_default() += first;
        };
    let mut by_tx: BTreeMap<String, (bool, bool)> = BTreeMap::new(); // tx -> (settled, failed)
    let mut hub_losses = 0u64;
    let mut sent_settled: BTreeSet<[u8; 32]> = BTreeSet::new();
    for (name, id) in id_of {
        let Some(r) = replica.get(id) else { continue };
        let book = &r.state().payments;
        if book.sent.len() >= PAYMENTS_KEPT || book.received.len() >= PAYMENTS_KEPT {
            f.problems.push(format!(
                "{name} keeps {} sent and {} received payments: older ones were forgotten, the routed check is incomplete",
                book.sent.len(),
                book.received.len()
            ));
            f.lost += 1;
        }
        for (hashlock, p) in &book.sent {
            for part in &p.parts {
                if part.status == crate::entity::PaymentStatus::Settled {
                    flow(f, name, &part.peer, p.token, &part.amount, -1);
                }
            }
            let settled = p.status == crate::entity::PaymentStatus::Settled;
            if settled {
                sent_settled.insert(*hashlock);
            }
            by_tx.insert(
                to_hex(&p.tx),
                (
                    settled,
                    matches!(p.status, crate::entity::PaymentStatus::Failed(_)),
                ),
            );
        }
        for (hashlock, rcv) in &book.received {
            if rcv.status == crate::entity::PaymentStatus::Settled {
                for (peer, _, amount) in &rcv.parts {
                    flow(f, name, peer, rcv.token, amount, 1);
                }
                if !sent_settled.contains(hashlock)
                    && !replica.values().any(|o| {
                        o.state()
                            .payments
                            .sent
                            .get(hashlock)
                            .is_some_and(|p| p.status == crate::entity::PaymentStatus::Settled)
                    })
                {
                    // The receiver was paid but the sender took its lock back: the
                    // intermediary bore it (a late reveal while it could not act in time).
                    hub_losses += 1;
                }
            }
        }
    }
    f.hub_losses = hub_losses;
    // Every acknowledged routed payment is in its sender's record, as the client saw it.
    for p in payments {
        let (Ack::Acked(hash), PayKind::Routed { .. }) = (&p.ack, &p.kind) else {
            continue;
        };
        match (by_tx.get(hash), &p.outcome) {
            (Some((true, _)), Final::Settled) | (Some((_, true)), Final::Failed(_)) => {}
            (None, _) => {
                f.lost += 1;
                f.problems.push(format!(
                    "routed payment {hash} by {} acknowledged but not in its record",
                    p.payer
                ));
            }
            (Some(state), seen) => {
                f.problems.push(format!(
                    "routed payment {hash}: the client saw {seen:?}, the record says settled {} failed {}",
                    state.0, state.1
                ));
                f.lost += 1;
            }
        }
    }
    flows
}

/// Every acknowledged payment applied exactly once: see the module documentation. Direct
/// payments are checked against what the clients saw acknowledged; routed ones against
/// the HTLC flows the senders' and receivers' records say settled (each record checked
/// against the client's view in [`routed_flows`]).
fn exactly_once(
    f: &mut Findings,
    plan: &Plan,
    payments: &[Payment],
    observed: &BTreeMap<(usize, u64), i64>,
    routed: &BTreeMap<(usize, u64), i64>,
) {
    let mut expected: BTreeMap<(usize, u64), i64> = routed.clone();
    // Each direct payment moves one account token only, so reconciling the broken calls
    // per account token is exact.
    let mut ambiguous: BTreeMap<(usize, u64), Vec<i64>> = BTreeMap::new();
    for p in payments {
        if !matches!(p.kind, PayKind::Direct { .. }) {
            continue;
        }
        match (&p.ack, &p.outcome) {
            (Ack::Acked(_), Final::Applied) => {
                for (a, t, x) in plan.effects(&p.kind, p.amount) {
                    *expected.entry((a, t)).or_default() += x;
                }
            }
            (Ack::Acked(h), Final::Pending) => {
                f.lost += 1;
                f.problems.push(format!(
                    "payment {h} by {} acknowledged, never finished",
                    p.payer
                ));
            }
            (Ack::Ambiguous(_), _) => {
                for (a, t, x) in plan.effects(&p.kind, p.amount) {
                    ambiguous.entry((a, t)).or_default().push(x);
                }
            }
            _ => {}
        }
    }
    let keys: BTreeSet<(usize, u64)> = expected.keys().chain(observed.keys()).copied().collect();
    for k in keys {
        let (seen, want) = (
            observed.get(&k).copied().unwrap_or(0),
            expected.get(&k).copied().unwrap_or(0),
        );
        let d = seen - want;
        if d == 0 {
            continue;
        }
        // Which subsets of the broken calls on this key could explain d? (Sums of at most
        // a few hundred payments of at most 20 each: a small set.)
        let items = ambiguous.get(&k).cloned().unwrap_or_default();
        let mut reachable: BTreeMap<i64, u64> = BTreeMap::from([(0, 0)]);
        for x in &items {
            let more: Vec<(i64, u64)> = reachable.iter().map(|(s, n)| (s + x, n + 1)).collect();
            for (s, n) in more {
                reachable.entry(s).or_insert(n);
            }
        }
        if let Some(n) = reachable.get(&d) {
            f.ambiguous_applied += n;
            continue;
        }
        let (account, token) = k;
        let (a, b) = &plan.accounts[account];
        let direction = match token {
            super::traffic::TOKEN_FORWARD => -1,
            super::traffic::TOKEN_BACK => 1,
            _ => want.signum(),
        };
        if d.signum() == direction {
            f.applied_twice += 1;
        } else {
            f.lost += 1;
        }
        f.problems.push(format!(
            "account {a}-{b} token {token}: {a}'s balance is {seen} but the payments make it {want} ({} calls on it broke)",
            items.len()
        ));
    }
}
