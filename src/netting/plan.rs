//! The planner: per token, a min-cost circulation over the accounts (cost of an account =
//! its [`debt`](super::debt), convex in Δ) found by cancelling negative cycles with
//! Bellman-Ford, then decomposed into cycles, each one [`Step`] of payments.
//!
//! Why a circulation: a set of payments leaves every party's net position unchanged exactly
//! when, at each party, what it pays equals what it receives. Why no obligation grows: each
//! account's Δ is confined to the part of its reachable range where its debt is at most what
//! it was (`[−debt₀, C + debt₀]`: an obligation may shrink, vanish or even change direction,
//! never grow), so every account — and therefore the count and the sum — is never worse. Within
//! that confinement the result minimises the total collateral moved (no negative cycle is
//! left) unless the work bounds stop it first ([`Plan::complete`] is then false).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use num_bigint::BigInt;
use num_traits::Signed;

use super::{
    Figures, NettingError, Position, TokenReport, CANCELLATIONS_MAX, POSITIONS_MAX, RELAXATIONS_MAX,
};
use crate::account::TokenId;

/// One payment of a netting step: `payer` pays `payee` over their account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer<P> {
    /// Who pays.
    pub payer: P,
    /// Who is paid.
    pub payee: P,
    /// The amount (> 0).
    pub amount: BigInt,
}

/// Payments around one cycle of accounts in one token; every party on it pays what it
/// receives, so its net position is unchanged. Executed all-or-nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step<P> {
    /// The token.
    pub token: TokenId,
    /// The payments, in cycle order.
    pub transfers: Vec<Transfer<P>>,
}

/// An ordered list of steps and the figures they lead to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<P> {
    /// The steps, token by token.
    pub steps: Vec<Step<P>>,
    /// Per token (ascending), settlements and collateral moved before and after.
    pub reports: Vec<TokenReport>,
    /// False if a work bound stopped the search early (the plan is still valid).
    pub complete: bool,
}

impl<P: Clone + Ord + Debug> Plan<P> {
    /// Keeps only the steps `keep` accepts (e.g. those through one entity) and recomputes
    /// the reports from `positions`, the positions the plan was made from. A subset of the
    /// planner's steps is still valid and never worse: every step moves each account
    /// monotonically toward its planned Δ.
    pub fn retain(&mut self, positions: &[Position<P>], keep: impl Fn(&Step<P>) -> bool) {
        self.steps.retain(|s| keep(s));
        let mut after: BTreeMap<(TokenId, P, P), BigInt> = positions
            .iter()
            .map(|p| ((p.token, p.left.clone(), p.right.clone()), p.delta.clone()))
            .collect();
        for step in &self.steps {
            for t in &step.transfers {
                // The payer is the left (Δ falls) or the right (Δ rises) of its account.
                let payer_left = (step.token, t.payer.clone(), t.payee.clone());
                let payer_right = (step.token, t.payee.clone(), t.payer.clone());
                if let Some(delta) = after.get_mut(&payer_left) {
                    *delta -= &t.amount;
                } else if let Some(delta) = after.get_mut(&payer_right) {
                    *delta += &t.amount;
                }
            }
        }
        for report in &mut self.reports {
            let token = report.token;
            let mine = positions.iter().filter(|p| p.token == token);
            report.after = Figures::of(mine.map(|p| {
                let key = (token, p.left.clone(), p.right.clone());
                (after.get(&key).unwrap_or(&p.delta), &p.collateral)
            }));
            let steps = self.steps.iter().filter(|s| s.token == token);
            report.steps = steps.clone().count();
            report.transfers = steps.map(|s| s.transfers.len()).sum();
        }
    }
}

/// One account inside the planner.
struct Edge {
    left: usize,
    right: usize,
    delta0: BigInt,
    delta: BigInt,
    collateral: BigInt,
    /// The confined range of Δ: reachable by payments, and no more debt than at `delta0`.
    /// Convex, and it contains `delta0`.
    lo: BigInt,
    hi: BigInt,
}

/// A residual arc: paying `length` more from `from` to `to` over `edge` changes the debt
/// by `cost` per unit (−1 shrinks a debt, 0 moves value inside collateral, +1 grows one —
/// never beyond its size before netting, in either direction).
struct Arc {
    from: usize,
    to: usize,
    edge: usize,
    cost: i64,
    length: BigInt,
}

/// Plans netting for `positions` (any tokens). Deterministic: parties are ordered by `Ord`
/// and ties are broken by that order.
///
/// # Errors
/// [`NettingError::TooManyPositions`], [`NettingError::DuplicatePosition`] or
/// [`NettingError::InvalidPosition`]; nothing is planned then.
pub fn plan<P: Clone + Ord + Debug>(positions: &[Position<P>]) -> Result<Plan<P>, NettingError> {
    if positions.len() > POSITIONS_MAX {
        return Err(NettingError::TooManyPositions {
            count: positions.len(),
            max: POSITIONS_MAX,
        });
    }
    let mut by_token: BTreeMap<TokenId, Vec<&Position<P>>> = BTreeMap::new();
    for p in positions {
        p.check()?;
        by_token.entry(p.token).or_default().push(p);
    }
    let mut result = Plan {
        steps: Vec::new(),
        reports: Vec::new(),
        complete: true,
    };
    let mut budget = RELAXATIONS_MAX;
    for (token, list) in by_token {
        let (parties, mut edges) = token_graph(token, &list)?;
        let complete = cancel_negative_cycles(parties.len(), &mut edges, &mut budget);
        result.complete &= complete;
        let steps = decompose(token, &parties, &edges);
        result.reports.push(TokenReport {
            token,
            before: Figures::of(edges.iter().map(|e| (&e.delta0, &e.collateral))),
            after: Figures::of(edges.iter().map(|e| (&e.delta, &e.collateral))),
            steps: steps.len(),
            transfers: steps.iter().map(|s| s.transfers.len()).sum(),
        });
        result.steps.extend(steps);
    }
    Ok(result)
}

/// The parties of one token (sorted) and its accounts, each once.
fn token_graph<P: Clone + Ord + Debug>(
    token: TokenId,
    list: &[&Position<P>],
) -> Result<(Vec<P>, Vec<Edge>), NettingError> {
    let parties: Vec<P> = list
        .iter()
        .flat_map(|p| [p.left.clone(), p.right.clone()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let at = |x: &P| parties.binary_search(x).unwrap_or(0);
    let mut seen = BTreeSet::new();
    let mut edges = Vec::with_capacity(list.len());
    for p in list {
        let pair = if p.left < p.right {
            (p.left.clone(), p.right.clone())
        } else {
            (p.right.clone(), p.left.clone())
        };
        if !seen.insert(pair) {
            return Err(NettingError::DuplicatePosition {
                account: p.account_name(),
                token,
            });
        }
        // debt(Δ) <= debt(Δ₀) exactly on [−debt(Δ₀), C + debt(Δ₀)]: an obligation may
        // shrink, vanish or change direction, never grow.
        let owed = p.debt();
        edges.push(Edge {
            left: at(&p.left),
            right: at(&p.right),
            lo: p.lower.clone().max(-&owed),
            hi: p.upper.clone().min(&p.collateral + &owed),
            delta0: p.delta.clone(),
            delta: p.delta.clone(),
            collateral: p.collateral.clone(),
        });
    }
    Ok((parties, edges))
}

/// The residual arcs of every edge at its current Δ, in edge order (left-pays first).
fn residual_arcs(edges: &[Edge]) -> Vec<Arc> {
    let mut arcs = Vec::with_capacity(edges.len() * 2);
    for (i, e) in edges.iter().enumerate() {
        // The left pays: Δ falls.
        let room = &e.delta - &e.lo;
        if room.is_positive() {
            let (cost, segment) = if e.delta > e.collateral {
                (-1, &e.delta - &e.collateral)
            } else if e.delta.is_positive() {
                (0, e.delta.clone())
            } else {
                (1, room.clone())
            };
            arcs.push(Arc {
                from: e.left,
                to: e.right,
                edge: i,
                cost,
                length: segment.min(room),
            });
        }
        // The right pays: Δ rises.
        let room = &e.hi - &e.delta;
        if room.is_positive() {
            let (cost, segment) = if e.delta.is_negative() {
                (-1, -&e.delta)
            } else if e.delta < e.collateral {
                (0, &e.collateral - &e.delta)
            } else {
                (1, room.clone())
            };
            arcs.push(Arc {
                from: e.right,
                to: e.left,
                edge: i,
                cost,
                length: segment.min(room),
            });
        }
    }
    arcs
}

/// Cancels negative cycles until none is left (true) or a work bound is reached (false).
fn cancel_negative_cycles(parties: usize, edges: &mut [Edge], budget: &mut u64) -> bool {
    for _ in 0..CANCELLATIONS_MAX {
        let arcs = residual_arcs(edges);
        if !arcs.iter().any(|a| a.cost < 0) {
            return true;
        }
        let cycle = match negative_cycle(parties, &arcs, budget) {
            Search::Found(cycle) => cycle,
            Search::None => return true,
            Search::OutOfWork => return false,
        };
        let bottleneck = cycle
            .iter()
            .map(|&a| arcs[a].length.clone())
            .min()
            .unwrap_or_default();
        for &a in &cycle {
            let e = &mut edges[arcs[a].edge];
            if arcs[a].from == e.left {
                e.delta -= &bottleneck;
            } else {
                e.delta += &bottleneck;
            }
            assert!(
                e.lo <= e.delta && e.delta <= e.hi,
                "netting invariant broken: Δ {} left its confined range [{}, {}]",
                e.delta,
                e.lo,
                e.hi
            );
        }
    }
    false
}

enum Search {
    Found(Vec<usize>),
    None,
    OutOfWork,
}

/// Bellman-Ford from a virtual source joined to every party at cost 0. After each round
/// that changed something, a cycle in the predecessor graph is a negative cycle (and one
/// must appear if any negative cycle exists), so it is returned as soon as it forms.
fn negative_cycle(n: usize, arcs: &[Arc], budget: &mut u64) -> Search {
    let mut dist = vec![0i64; n];
    let mut pred: Vec<Option<usize>> = vec![None; n];
    for _ in 0..=n {
        let mut changed = false;
        for (i, a) in arcs.iter().enumerate() {
            if *budget == 0 {
                return Search::OutOfWork;
            }
            *budget -= 1;
            let through = dist[a.from] + a.cost;
            if through < dist[a.to] {
                dist[a.to] = through;
                pred[a.to] = Some(i);
                changed = true;
            }
        }
        if !changed {
            return Search::None;
        }
        if let Some(cycle) = predecessor_cycle(&pred, arcs) {
            return Search::Found(cycle);
        }
    }
    // Unreachable in theory (a change after n rounds implies a predecessor cycle); treat
    // it as "nothing found" rather than loop.
    Search::None
}

/// A cycle in the predecessor graph, as arc indices in path order, if there is one.
fn predecessor_cycle(pred: &[Option<usize>], arcs: &[Arc]) -> Option<Vec<usize>> {
    let n = pred.len();
    let mut walk_of = vec![usize::MAX; n];
    for start in 0..n {
        let mut v = start;
        while walk_of[v] == usize::MAX {
            walk_of[v] = start;
            match pred[v] {
                Some(a) => v = arcs[a].from,
                None => break,
            }
        }
        if walk_of[v] == start && pred[v].is_some() {
            // v lies on a cycle found by this walk: collect it backwards from v.
            let mut cycle = Vec::new();
            let mut u = v;
            loop {
                let a = pred[u]?;
                cycle.push(a);
                u = arcs[a].from;
                if u == v {
                    break;
                }
            }
            cycle.reverse();
            return Some(cycle);
        }
    }
    None
}

/// Splits the final flow (Δ − Δ₀ on each edge) into cycles, each carrying flow in the same
/// direction as the net flow on every edge it uses, so every step moves each Δ monotonically
/// inside its confined range. Each cycle empties at least one arc: at most one step per edge.
fn decompose<P: Clone>(token: TokenId, parties: &[P], edges: &[Edge]) -> Vec<Step<P>> {
    // (from, to, remaining) per edge with non-zero flow, in edge order.
    let mut flow: Vec<(usize, usize, BigInt)> = edges
        .iter()
        .filter_map(|e| {
            let f = &e.delta - &e.delta0;
            if f.is_negative() {
                Some((e.left, e.right, -f))
            } else if f.is_positive() {
                Some((e.right, e.left, f))
            } else {
                None
            }
        })
        .collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); parties.len()];
    for (i, (from, _, _)) in flow.iter().enumerate() {
        out[*from].push(i);
    }
    let mut steps = Vec::new();
    let mut first = 0;
    while let Some(start) = (first..flow.len()).find(|&i| flow[i].2.is_positive()) {
        first = start;
        let cycle = walk_cycle(flow[start].0, &flow, &out);
        let amount = cycle
            .iter()
            .map(|&i| flow[i].2.clone())
            .min()
            .unwrap_or_default();
        let transfers = cycle
            .iter()
            .map(|&i| Transfer {
                payer: parties[flow[i].0].clone(),
                payee: parties[flow[i].1].clone(),
                amount: amount.clone(),
            })
            .collect();
        for &i in &cycle {
            flow[i].2 -= &amount;
        }
        steps.push(Step { token, transfers });
    }
    steps
}

/// From `start`, follows the first arc with flow left out of each party until a party
/// repeats; returns that cycle's arcs. Flow is conserved, so a way out always exists.
fn walk_cycle(start: usize, flow: &[(usize, usize, BigInt)], out: &[Vec<usize>]) -> Vec<usize> {
    let mut position_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut path: Vec<usize> = Vec::new();
    let mut v = start;
    loop {
        position_of.insert(v, path.len());
        let next = out[v].iter().copied().find(|&i| flow[i].2.is_positive());
        let Some(arc) = next else {
            panic!("netting invariant broken: flow is not conserved at party {v}");
        };
        path.push(arc);
        v = flow[arc].1;
        if let Some(&at) = position_of.get(&v) {
            return path.split_off(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(left: u32, right: u32, delta: i64, collateral: i64) -> Position<u32> {
        Position {
            left,
            right,
            token: 1,
            delta: delta.into(),
            collateral: collateral.into(),
            lower: (-1_000).into(),
            upper: 1_000.into(),
        }
    }

    #[test]
    fn a_triangle_of_debts_cancels_completely() {
        // 1 owes 2 30, 2 owes 3 30, 3 owes 1 30 (left owes when Δ < 0; 3-1 is stored as 1-3).
        let plan = plan(&[pos(1, 2, -30, 0), pos(2, 3, -30, 0), pos(1, 3, 30, 0)]).unwrap();
        let r = &plan.reports[0];
        assert_eq!((r.before.settlements, r.after.settlements), (3, 0));
        assert_eq!(r.after.collateral_moved, BigInt::from(0));
        assert_eq!(plan.steps.len(), 1);
        assert!(plan.complete);
    }

    #[test]
    fn a_chain_through_a_hub_nets_over_a_collateralised_account() {
        // 1 owes hub 9 40, hub owes 2 40; 1 and 2 share an account where 1 holds 50 of
        // collateral: 1 can pay 2 inside collateral, so both hub debts cancel.
        let plan = plan(&[pos(1, 9, -40, 0), pos(2, 9, 40, 0), pos(1, 2, 50, 50)]).unwrap();
        let r = &plan.reports[0];
        assert_eq!((r.before.settlements, r.after.settlements), (2, 0));
        assert_eq!(r.before.collateral_moved, 80.into());
    }

    #[test]
    fn a_tree_has_nothing_to_net() {
        let plan = plan(&[pos(1, 9, -40, 0), pos(2, 9, 40, 0)]).unwrap();
        assert!(plan.steps.is_empty());
        assert_eq!(plan.reports[0].after, plan.reports[0].before);
    }

    #[test]
    fn duplicates_and_bad_figures_are_refused() {
        assert!(matches!(
            plan(&[pos(1, 2, 0, 0), pos(2, 1, 0, 0)]),
            Err(NettingError::DuplicatePosition { .. })
        ));
        assert!(matches!(
            plan(&[pos(1, 2, 0, -1)]),
            Err(NettingError::InvalidPosition { .. })
        ));
    }
}
