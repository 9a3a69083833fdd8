//! The payments of a chaos run: client threads that pay at random over every account
//! (direct, both ways) and between users with no account of their own (routed through the
//! hub they share), each remembering what the node answered; and the resolver that follows
//! every acknowledged payment to its outcome (a direct payment's tx applied, rejected or
//! dropped; a routed payment settled or failed, i.e. refunded).
//!
//! Direct payments from an account's first-named side to its second go in token 1, the
//! other way in token 2, routed payments in token 3. So each token of each account moves
//! one way only under direct payments, and a payment lost or applied twice cannot hide
//! behind one that went the other way.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use num_bigint::BigInt;

use crate::entity::FeePolicy;
use crate::node::client::NodeClient;
use crate::node::net::Network;
use crate::runtime::SplitMix64;

/// The token of direct payments from an account's first-named side to its second.
pub const TOKEN_FORWARD: u64 = 1;
/// The token of direct payments the other way.
pub const TOKEN_BACK: u64 = 2;
/// The token of routed payments.
pub const TOKEN_ROUTED: u64 = 3;

/// The fee policy the controller gives every hub before traffic starts (the routed test's:
/// base 2, 1000 ppm, a 5 s timeout delta on the node's millisecond clock).
pub fn hub_policy() -> FeePolicy {
    FeePolicy {
        base: BigInt::from(2),
        ppm: 1_000,
        timeout_delta: 5_000,
    }
}

/// What a payment is.
#[derive(Clone, Debug)]
pub enum PayKind {
    /// Over account `account` (index in the network file), from its first-named side
    /// (`forward`) or its second.
    Direct {
        /// The account.
        account: usize,
        /// First-named side pays.
        forward: bool,
    },
    /// From `from` to `to` through `via`; `first` is the account from–via, `second` via–to.
    Routed {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// The hub between.
        via: String,
        /// Account indices (from–via, via–to).
        accounts: (usize, usize),
    },
}

/// What the node answered.
#[derive(Clone, Debug)]
pub enum Ack {
    /// A tx hash: the submission is durable.
    Acked(String),
    /// A definite refusal (the node said why, or no connection was made): never applied.
    Refused(String),
    /// The call broke after the request may have reached the node: it may or may not have
    /// been logged. Reconciled at the end against what the accounts show.
    Ambiguous(String),
}

/// Where an acknowledged payment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Final {
    /// Not known yet.
    Pending,
    /// A direct payment's tx was applied.
    Applied,
    /// A direct payment's tx was rejected or dropped, with why (a refusal after the ack).
    Refused(String),
    /// A routed payment settled.
    Settled,
    /// A routed payment failed: its locks were refunded.
    Failed(String),
}

/// One payment as the client saw it.
#[derive(Clone, Debug)]
pub struct Payment {
    /// What.
    pub kind: PayKind,
    /// The amount (the receiver's).
    pub amount: u64,
    /// The paying entity.
    pub payer: String,
    /// The node it was submitted to.
    pub node: usize,
    /// Its answer.
    pub ack: Ack,
    /// Its outcome (acknowledged payments only).
    pub outcome: Final,
}

/// The shape traffic is drawn from.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Accounts `(a, b)` by index.
    pub accounts: Vec<(String, String)>,
    /// Routed pairs: (from, to, via, (account from–via, account via–to)).
    pub routed: Vec<(String, String, String, (usize, usize))>,
    /// The nodes hosting each entity.
    pub hosts: Vec<(String, Vec<usize>)>,
    /// Every hub's fee policy.
    pub fee: FeePolicy,
}

impl Plan {
    /// The payments a network file makes possible.
    pub fn of(net: &Network) -> Plan {
        let accounts: Vec<(String, String)> = net
            .accounts
            .iter()
            .map(|(a, b, _)| (a.clone(), b.clone()))
            .collect();
        let account = |x: &str, y: &str| {
            accounts
                .iter()
                .position(|(a, b)| (a == x && b == y) || (a == y && b == x))
        };
        let mut routed = Vec::new();
        for from in &net.entities {
            for to in &net.entities {
                if from.name == to.name || account(&from.name, &to.name).is_some() {
                    continue;
                }
                let via = net.entities.iter().find_map(|h| {
                    Some((
                        h.name.clone(),
                        (account(&from.name, &h.name)?, account(&h.name, &to.name)?),
                    ))
                });
                if let Some((via, accounts)) = via {
                    routed.push((from.name.clone(), to.name.clone(), via, accounts));
                }
            }
        }
        let hosts = net
            .entities
            .iter()
            .map(|e| {
                let nodes = net
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.hosts.iter().any(|(h, _)| *h == e.name))
                    .map(|(i, _)| i)
                    .collect();
                (e.name.clone(), nodes)
            })
            .collect();
        Plan {
            accounts,
            routed,
            hosts,
            fee: hub_policy(),
        }
    }

    /// The nodes hosting `entity`.
    pub fn nodes_of(&self, entity: &str) -> &[usize] {
        self.hosts
            .iter()
            .find(|(e, _)| e == entity)
            .map_or(&[], |(_, n)| n.as_slice())
    }

    /// The hubs routed payments go through.
    pub fn hubs(&self) -> BTreeSet<String> {
        self.routed.iter().map(|r| r.2.clone()).collect()
    }

    /// The fee a hub takes to forward `amount`.
    pub fn fee(&self, amount: u64) -> i64 {
        let f = self.fee.fee(&BigInt::from(amount));
        i64::try_from(f).unwrap_or(i64::MAX)
    }

    /// A payment's effect on account balances if it is applied: (account, token, change of
    /// the first-named side's balance).
    pub fn effects(&self, kind: &PayKind, amount: u64) -> Vec<(usize, u64, i64)> {
        let x = i64::try_from(amount).unwrap_or(i64::MAX);
        match kind {
            PayKind::Direct { account, forward } => {
                if *forward {
                    vec![(*account, TOKEN_FORWARD, -x)]
                } else {
                    vec![(*account, TOKEN_BACK, x)]
                }
            }
            PayKind::Routed {
                from,
                to,
                accounts: (first, second),
                ..
            } => {
                let paid = x + self.fee(amount);
                let sign = |account: usize, who: &str| {
                    if self.accounts[account].0 == who {
                        1
                    } else {
                        -1
                    }
                };
                vec![
                    (*first, TOKEN_ROUTED, -paid * sign(*first, from)),
                    (*second, TOKEN_ROUTED, x * sign(*second, to)),
                ]
            }
        }
    }
}

/// What the traffic threads and the controller share.
pub struct Shared {
    /// Every payment sent.
    pub payments: Mutex<Vec<Payment>>,
    /// Nodes the controller has taken down (clients prefer others).
    pub down: Mutex<BTreeSet<usize>>,
    /// Acknowledged payments resolved so far (the controller's measure of progress).
    pub resolved: AtomicU64,
    /// Payments acknowledged so far.
    pub acked: AtomicU64,
    /// Stop sending.
    pub stop_sending: AtomicBool,
    /// Stop resolving.
    pub stop_resolving: AtomicBool,
}

impl Shared {
    /// Nothing sent yet.
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            payments: Mutex::new(Vec::new()),
            down: Mutex::new(BTreeSet::new()),
            resolved: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            stop_sending: AtomicBool::new(false),
            stop_resolving: AtomicBool::new(false),
        })
    }

    /// The payments (a poisoned lock still holds them).
    pub fn payments(&self) -> std::sync::MutexGuard<'_, Vec<Payment>> {
        self.payments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_down(&self, node: usize) -> bool {
        self.down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&node)
    }
}

/// Whether a failed call certainly never reached the node's core: the node refused it
/// with one of its own errors (bad params, no such entity, no route, not queued), or no
/// connection was made. Anything else (a reset, a timeout, a reply cut off) is ambiguous.
pub fn refused_for_sure(error: &str) -> bool {
    // jsonrpsee prints a node's error object with its code (`ServerError(-32010)`, or
    // the standard codes by name); a failed connect as hyper's `client error (Connect)`.
    const SURE: [&str; 7] = [
        "-32010",
        "-32011",
        "InvalidParams",
        "MethodNotFound",
        "client error (Connect)",
        "Connection refused",
        "connection refused",
    ];
    SURE.iter().any(|c| error.contains(c))
}

/// Connects a client to every node.
///
/// # Errors
/// A URL the client refuses.
pub fn clients(urls: &[String]) -> Result<Vec<NodeClient>, String> {
    urls.iter().map(|u| NodeClient::connect(u, None)).collect()
}

/// One payment: drawn from `rng`, sent, recorded.
pub fn pay_one(plan: &Plan, shared: &Shared, clients: &[NodeClient], rng: &mut SplitMix64) {
    let amount = 1 + rng.below(20);
    let routed = !plan.routed.is_empty() && rng.chance((3, 10));
    let (kind, payer) = if routed {
        let (from, to, via, accounts) = &plan.routed[rng.below(plan.routed.len() as u64) as usize];
        (
            PayKind::Routed {
                from: from.clone(),
                to: to.clone(),
                via: via.clone(),
                accounts: *accounts,
            },
            from.clone(),
        )
    } else {
        let account = rng.below(plan.accounts.len() as u64) as usize;
        let forward = rng.chance((1, 2));
        let (a, b) = &plan.accounts[account];
        (
            PayKind::Direct { account, forward },
            if forward { a.clone() } else { b.clone() },
        )
    };
    let nodes = plan.nodes_of(&payer);
    let up: Vec<usize> = nodes
        .iter()
        .copied()
        .filter(|n| !shared.is_down(*n))
        .collect();
    let choice = if up.is_empty() { nodes } else { &up };
    let Some(&node) = choice.get(rng.below(choice.len() as u64) as usize) else {
        return;
    };
    let result = match &kind {
        PayKind::Direct { account, forward } => {
            let (a, b) = &plan.accounts[*account];
            let (from, to, token) = if *forward {
                (a, b, TOKEN_FORWARD)
            } else {
                (b, a, TOKEN_BACK)
            };
            clients[node].pay(from, to, token, &amount.to_string())
        }
        PayKind::Routed { from, to, .. } => {
            clients[node].pay_routed(from, to, TOKEN_ROUTED, &amount.to_string())
        }
    };
    let ack = match result {
        Ok(hash) => {
            shared.acked.fetch_add(1, Ordering::Relaxed);
            Ack::Acked(hash)
        }
        Err(e) if refused_for_sure(&e) => Ack::Refused(e),
        Err(e) => Ack::Ambiguous(e),
    };
    shared.payments().push(Payment {
        kind,
        amount,
        payer,
        node,
        ack,
        outcome: Final::Pending,
    });
}

/// Most acknowledged payments without an outcome before the payers wait: the load stays
/// what the network can carry (a stalled hub stops new payments instead of piling up an
/// ever longer drain).
pub const IN_FLIGHT_MAX: u64 = 200;

/// A payer thread: pays until told to stop, pausing 20-120 ms between payments.
pub fn payer(plan: Arc<Plan>, shared: Arc<Shared>, urls: Vec<String>, seed: u64) {
    let Ok(clients) = clients(&urls) else {
        return;
    };
    let mut rng = SplitMix64::new(seed);
    while !shared.stop_sending.load(Ordering::Relaxed) {
        let in_flight = shared.acked.load(Ordering::Relaxed)
            - shared
                .resolved
                .load(Ordering::Relaxed)
                .min(shared.acked.load(Ordering::Relaxed));
        if in_flight >= IN_FLIGHT_MAX {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        pay_one(&plan, &shared, &clients, &mut rng);
        std::thread::sleep(Duration::from_millis(20 + rng.below(100)));
    }
}

/// Asks a node hosting the payer what became of an acknowledged payment.
fn outcome_of(plan: &Plan, shared: &Shared, clients: &[NodeClient], p: &Payment) -> Final {
    let Ack::Acked(hash) = &p.ack else {
        return Final::Pending;
    };
    // The node it was submitted to, else any other replica of the payer (all of them
    // commit the same txs).
    let mut nodes = vec![p.node];
    nodes.extend(plan.nodes_of(&p.payer).iter().filter(|n| **n != p.node));
    for node in nodes {
        if shared.is_down(node) {
            continue;
        }
        let client = &clients[node];
        match &p.kind {
            PayKind::Direct { .. } => {
                let Ok(o) = client.outcome(hash) else {
                    continue;
                };
                return match o["outcome"].as_str() {
                    Some("applied") => Final::Applied,
                    Some("rejected") | Some("dropped") => Final::Refused(format!(
                        "{}: {}",
                        o["outcome"].as_str().unwrap_or(""),
                        o["reason"].as_str().unwrap_or("")
                    )),
                    // Pending at this replica: ask no other (it is the one that knows).
                    _ => Final::Pending,
                };
            }
            PayKind::Routed { from, .. } => {
                let Ok(s) = client.payment_status(from, hash) else {
                    continue;
                };
                return match s["status"].as_str() {
                    Some("settled") => Final::Settled,
                    Some("failed") => Final::Failed(format!(
                        "{}: {}",
                        s["kind"].as_str().unwrap_or(""),
                        s["reason"].as_str().unwrap_or("")
                    )),
                    _ => Final::Pending,
                };
            }
        }
    }
    Final::Pending
}

/// The resolver thread: follows every acknowledged payment until it has an outcome.
pub fn resolver(plan: Arc<Plan>, shared: Arc<Shared>, urls: Vec<String>) {
    let Ok(clients) = clients(&urls) else {
        return;
    };
    let mut next = 0;
    while !shared.stop_resolving.load(Ordering::Relaxed) {
        let pending: Vec<(usize, Payment)> = {
            let all = shared.payments();
            if next >= all.len() {
                next = 0;
            }
            all.iter()
                .enumerate()
                .skip(next)
                .filter(|(_, p)| matches!(p.ack, Ack::Acked(_)) && p.outcome == Final::Pending)
                .take(64)
                .map(|(i, p)| (i, p.clone()))
                .collect()
        };
        if pending.is_empty() {
            next = 0;
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        next = pending.last().map_or(0, |(i, _)| i + 1);
        for (i, p) in pending {
            let outcome = outcome_of(&plan, &shared, &clients, &p);
            if outcome != Final::Pending {
                shared.payments()[i].outcome = outcome;
                shared.resolved.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Acknowledged payments without an outcome yet.
pub fn unresolved(shared: &Shared) -> usize {
    shared
        .payments()
        .iter()
        .filter(|p| matches!(p.ack, Ack::Acked(_)) && p.outcome == Final::Pending)
        .count()
}
