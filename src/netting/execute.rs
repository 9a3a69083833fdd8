//! Executing a plan: each [`Step`]'s payments go through a [`Ledger`] (ordinary signed
//! account frames in practice), all or nothing: if a payment fails, or the step would leave
//! some account owing more than before, every account of the step is restored to its
//! snapshot from before the step and the next step runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use super::{NettingError, Step, STEP_TRANSFERS_MAX};
use crate::account::TokenId;

/// Where the payments of a plan happen. Implemented by [`super::MachineLedger`] (real
/// account machines) and by the interpreter's network of accounts.
pub trait Ledger {
    /// Names a party (an address in practice).
    type Party: Clone + Ord + Debug;
    /// The saved state of some accounts.
    type Snapshot;

    /// Saves the accounts between these pairs, as they are now.
    ///
    /// # Errors
    /// A message if an account does not exist or is not quiet (frames in flight or queued
    /// txs): a step only starts on settled accounts.
    fn snapshot(&self, accounts: &[(Self::Party, Self::Party)]) -> Result<Self::Snapshot, String>;

    /// Puts the saved accounts back exactly as they were.
    fn restore(&mut self, snapshot: Self::Snapshot);

    /// `payer` pays `payee` `amount` of `token` as a frame the payer signs and the payee
    /// verifies and countersigns.
    ///
    /// # Errors
    /// Why the payment was refused (capacity, RCPAN, no account).
    fn pay(
        &mut self,
        payer: &Self::Party,
        payee: &Self::Party,
        token: TokenId,
        amount: &BigInt,
    ) -> Result<(), String>;

    /// What the account between `a` and `b` owes beyond collateral in `token` (see
    /// [`super::debt`]).
    ///
    /// # Errors
    /// A message if there is no such account.
    fn debt(&self, a: &Self::Party, b: &Self::Party, token: TokenId) -> Result<BigInt, String>;

    /// A party's name for messages.
    fn describe(&self, party: &Self::Party) -> String {
        format!("{party:?}")
    }
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

/// Executes `steps` in order through `ledger`. A step that fails is rolled back (snapshot
/// restore) and reported; the following steps still run (the planner's steps are
/// independent: each moves every account monotonically toward its planned Δ).
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

fn execute_step<L: Ledger>(
    step: &Step<L::Party>,
    ledger: &mut L,
    caps: &mut Caps<L::Party>,
) -> StepOutcome {
    let accounts: Vec<(L::Party, L::Party)> = step
        .transfers
        .iter()
        .map(|t| {
            if t.payer < t.payee {
                (t.payer.clone(), t.payee.clone())
            } else {
                (t.payee.clone(), t.payer.clone())
            }
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let aborted = |reason: String| StepOutcome::Aborted { reason };
    let now = match debts(ledger, &accounts, step.token) {
        Ok(d) => d,
        Err(reason) => return aborted(reason),
    };
    let limits: Vec<BigInt> = accounts
        .iter()
        .zip(now)
        .map(|((a, b), owed)| {
            let key = (step.token, a.clone(), b.clone());
            caps.entry(key).or_insert(owed).clone()
        })
        .collect();
    let snapshot = match ledger.snapshot(&accounts) {
        Ok(s) => s,
        Err(reason) => return aborted(reason),
    };
    let failure = run_payments(step, ledger)
        .err()
        .or_else(|| over_limit(ledger, &accounts, &limits, step.token));
    match failure {
        None => StepOutcome::Applied,
        Some(reason) => {
            ledger.restore(snapshot);
            aborted(reason)
        }
    }
}

/// Why some account of the step now owes more than its limit, if one does.
fn over_limit<L: Ledger>(
    ledger: &L,
    accounts: &[(L::Party, L::Party)],
    limits: &[BigInt],
    token: TokenId,
) -> Option<String> {
    let after = match debts(ledger, accounts, token) {
        Ok(d) => d,
        Err(reason) => return Some(reason),
    };
    accounts
        .iter()
        .zip(limits.iter().zip(&after))
        .find(|(_, (limit, owed))| owed > limit)
        .map(|((a, b), (limit, owed))| {
            format!(
                "the account {}-{} would owe {owed}, more than the {limit} it owed before netting; netting never raises an obligation",
                ledger.describe(a),
                ledger.describe(b)
            )
        })
}

fn run_payments<L: Ledger>(step: &Step<L::Party>, ledger: &mut L) -> Result<(), String> {
    for (i, t) in step.transfers.iter().enumerate() {
        ledger
            .pay(&t.payer, &t.payee, step.token, &t.amount)
            .map_err(|e| {
                format!(
                    "payment {} of the step ({} pays {} {}) failed: {e}",
                    i + 1,
                    ledger.describe(&t.payer),
                    ledger.describe(&t.payee),
                    t.amount
                )
            })?;
    }
    Ok(())
}

fn debts<L: Ledger>(
    ledger: &L,
    accounts: &[(L::Party, L::Party)],
    token: TokenId,
) -> Result<Vec<BigInt>, String> {
    accounts
        .iter()
        .map(|(a, b)| ledger.debt(a, b, token))
        .collect()
}
