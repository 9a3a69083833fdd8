//! Executing a plan: each [`Step`] (payments around one cycle of accounts) runs through a
//! [`Ledger`] as ONE all-or-nothing operation — in an XLN network a circular payment locked
//! by one hashlock on every hop, which settles on every hop or refunds on every hop — after
//! checking, from the accounts' current positions, that it would leave no account owing
//! more than before netting. Nothing is ever undone by overwriting a signed account state.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::{debt, NettingError, Step, Transfer, STEP_TRANSFERS_MAX};
use crate::account::TokenId;

/// Where the payments of a plan happen. Implemented by the entity network (circular
/// HTLC payments between entities) and by [`super::MachineLedger`] (a two-machine test
/// tool).
pub trait Ledger {
    /// Names a party.
    type Party: Clone + Ord + Debug;

    /// Runs the step's `transfers` (one cycle, all in `token`) as one operation that
    /// either completes on every account or changes none.
    ///
    /// # Errors
    /// Why it did not complete (capacity, a hop's policy, no account); nothing changed.
    fn pay_cycle(
        &mut self,
        token: TokenId,
        transfers: &[Transfer<Self::Party>],
    ) -> Result<(), String>;

    /// Δ and collateral of the account between `a` and `b` in `token`, where the account's
    /// left is the lesser party.
    ///
    /// # Errors
    /// A message if there is no such account.
    fn position(
        &self,
        a: &Self::Party,
        b: &Self::Party,
        token: TokenId,
    ) -> Result<(BigInt, BigInt), String>;

    /// A party's name for messages.
    fn describe(&self, party: &Self::Party) -> String {
        format!("{party:?}")
    }
}

/// The transfers of a step in cycle order, starting from the first payer: each payee is
/// the next payer and the last payee is the first payer; all amounts equal.
///
/// # Errors
/// Why the step is not one cycle of equal payments.
pub fn cycle_order<P: Clone + Ord + Debug>(step: &Step<P>) -> Result<Vec<Transfer<P>>, String> {
    let first = step.transfers.first().ok_or("an empty step")?;
    let mut rest: Vec<&Transfer<P>> = step.transfers.iter().skip(1).collect();
    let mut order = vec![first.clone()];
    while let Some(i) = rest
        .iter()
        .position(|t| Some(&t.payer) == order.last().map(|l| &l.payee))
    {
        order.push(rest.remove(i).clone());
    }
    let closed = order.last().is_some_and(|l| l.payee == first.payer);
    if !rest.is_empty() || !closed {
        return Err("the step is not one cycle of payments".into());
    }
    if order.iter().any(|t| t.amount != first.amount) {
        return Err("the payments of a cycle must all be of one amount".into());
    }
    Ok(order)
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Every payment committed.
    Applied,
    /// Nothing of the step remains: every account of it is as it was before the step.
    Aborted {
        /// Why.
        reason: String,
    },
}

/// The outcome of every step, in plan order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// One outcome per step.
    pub outcomes: Vec<StepOutcome>,
}

impl Execution {
    /// How many steps committed.
    pub fn applied(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, StepOutcome::Applied))
            .count()
    }
}

/// Checks that every step is a netting step: at most [`STEP_TRANSFERS_MAX`] payments, each
/// positive and between two different parties, and every party paying exactly what it
/// receives.
///
/// # Errors
/// [`NettingError::InvalidStep`] for the first step that is not.
pub fn check_steps<P: Clone + Ord + Debug>(steps: &[Step<P>]) -> Result<(), NettingError> {
    for (index, step) in steps.iter().enumerate() {
        let invalid = |reason: String| NettingError::InvalidStep {
            step: index,
            reason,
        };
        if step.transfers.len() > STEP_TRANSFERS_MAX {
            return Err(invalid(format!(
                "{} payments, at most {STEP_TRANSFERS_MAX}",
                step.transfers.len()
            )));
        }
        let mut net: BTreeMap<&P, BigInt> = BTreeMap::new();
        for t in &step.transfers {
            if !t.amount.is_positive() {
                return Err(invalid(format!("payment of {} is not positive", t.amount)));
            }
            if t.payer == t.payee {
                return Err(invalid(format!("{:?} pays itself", t.payer)));
            }
            *net.entry(&t.payer).or_default() -= &t.amount;
            *net.entry(&t.payee).or_default() += &t.amount;
        }
        if let Some((party, change)) = net.iter().find(|(_, x)| !x.is_zero()) {
            return Err(invalid(format!(
                "it changes {party:?}'s net position by {change}"
            )));
        }
    }
    Ok(())
}

/// Executes `steps` in order through `ledger`. A step that would raise an obligation is
/// refused before it runs; one whose cycle fails changes nothing; both are reported and
/// the following steps still run (the planner's steps are independent: each moves every
/// account monotonically toward its planned Δ).
///
/// # Errors
/// [`NettingError::InvalidStep`] if some step is not a netting step ([`check_steps`]);
/// nothing is executed then.
pub fn execute<L: Ledger>(
    steps: &[Step<L::Party>],
    ledger: &mut L,
) -> Result<Execution, NettingError> {
    check_steps(steps)?;
    let mut caps = Caps::new();
    let outcomes = steps
        .iter()
        .map(|step| execute_step(step, ledger, &mut caps))
        .collect();
    Ok(Execution { outcomes })
}

/// Per (token, account), its obligation before the execution first touched it: no step may
/// leave it owing more. (Not the obligation before each step: one that changes direction
/// passes through zero in one step and grows back, smaller, in the next.)
type Caps<P> = BTreeMap<(TokenId, P, P), BigInt>;

fn ordered<P: Clone + Ord>(a: &P, b: &P) -> (P, P) {
    if a < b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

fn execute_step<L: Ledger>(
    step: &Step<L::Party>,
    ledger: &mut L,
    caps: &mut Caps<L::Party>,
) -> StepOutcome {
    let aborted = |reason: String| StepOutcome::Aborted { reason };
    let accounts: BTreeSet<(L::Party, L::Party)> = step
        .transfers
        .iter()
        .map(|t| ordered(&t.payer, &t.payee))
        .collect();
    let mut projected = BTreeMap::new();
    for (a, b) in &accounts {
        match ledger.position(a, b, step.token) {
            Ok(p) => {
                let owed = debt(&p.0, &p.1);
                caps.entry((step.token, a.clone(), b.clone()))
                    .or_insert(owed);
                projected.insert((a.clone(), b.clone()), p);
            }
            Err(reason) => return aborted(reason),
        }
    }
    for t in &step.transfers {
        let key = ordered(&t.payer, &t.payee);
        if let Some((delta, _)) = projected.get_mut(&key) {
            // A payment from the left lowers Δ (the left's balance), from the right raises it.
            if t.payer == key.0 {
                *delta -= &t.amount;
            } else {
                *delta += &t.amount;
            }
        }
    }
    for ((a, b), (delta, collateral)) in &projected {
        let limit = &caps[&(step.token, a.clone(), b.clone())];
        let owed = debt(delta, collateral);
        if owed > *limit {
            return aborted(format!(
                "the account {}-{} would owe {owed}, more than the {limit} it owed before netting; netting never raises an obligation, so the step did not run",
                ledger.describe(a),
                ledger.describe(b)
            ));
        }
    }
    let order = match cycle_order(step) {
        Ok(o) => o,
        Err(reason) => return aborted(reason),
    };
    match ledger.pay_cycle(step.token, &order) {
        Ok(()) => StepOutcome::Applied,
        Err(reason) => aborted(format!(
            "the step's circular payment ({}) failed, and nothing changed: {reason}",
            order
                .iter()
                .map(|t| format!(
                    "{} pays {} {}",
                    ledger.describe(&t.payer),
                    ledger.describe(&t.payee),
                    t.amount
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
