//! Laws of netting on random obligation graphs: planning keeps every party's net position
//! per token, never makes settlements or collateral moved worse, and leaves nothing to net;
//! executing on real account machines (signed frames) keeps RCPAN and conserves value; a
//! forced failing step leaves every account as if the step had never been tried.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_traits::Zero;
use proptest::prelude::*;
use xln::account::{AccountTx, TokenId};
use xln::crypto::{Address, SecretKey};
use xln::netting::{
    execute, plan, Figures, Ledger, MachineLedger, NettingError, Position, Step, StepOutcome,
    Transfer,
};

// ---------------------------------------------------------------------------------------
// Abstract obligation graphs
// ---------------------------------------------------------------------------------------

/// A random set of positions over `parties` parties and two tokens: (left, right, token,
/// Δ, collateral, how far below Δ the left can pay, how far above the right can).
fn positions() -> impl Strategy<Value = Vec<Position<u8>>> {
    let one = (
        0u8..7,
        0u8..7,
        1u64..3,
        -200i64..200,
        0i64..150,
        0i64..300,
        0i64..300,
    );
    proptest::collection::vec(one, 0..24).prop_map(|raw| {
        let mut seen = std::collections::BTreeSet::new();
        raw.into_iter()
            .filter(|(a, b, t, ..)| a != b && seen.insert((*a.min(b), *a.max(b), *t)))
            .map(|(a, b, token, delta, collateral, down, up)| Position {
                left: a.min(b),
                right: a.max(b),
                token,
                delta: delta.into(),
                collateral: collateral.into(),
                lower: (delta - down).into(),
                upper: (delta + up).into(),
            })
            .collect()
    })
}

/// What each party holds per token: the left Δ, the right C − Δ.
fn holdings(positions: &[Position<u8>]) -> BTreeMap<(u8, TokenId), BigInt> {
    let mut out = BTreeMap::new();
    for p in positions {
        *out.entry((p.left, p.token)).or_insert_with(BigInt::zero) += &p.delta;
        *out.entry((p.right, p.token)).or_insert_with(BigInt::zero) += &p.collateral - &p.delta;
    }
    out
}

/// Applies a plan's payments to the positions, checking each stays within its range.
fn apply(positions: &[Position<u8>], steps: &[Step<u8>]) -> Result<Vec<Position<u8>>, String> {
    let mut after = positions.to_vec();
    for step in steps {
        for t in &step.transfers {
            let p = after
                .iter_mut()
                .find(|p| {
                    p.token == step.token
                        && ((p.left, p.right) == (t.payer, t.payee)
                            || (p.left, p.right) == (t.payee, t.payer))
                })
                .ok_or("a payment over an account that does not exist")?;
            if p.left == t.payer {
                p.delta -= &t.amount;
            } else {
                p.delta += &t.amount;
            }
            if p.delta < p.lower || p.delta > p.upper {
                return Err(format!(
                    "Δ {} left its range [{}, {}]",
                    p.delta, p.lower, p.upper
                ));
            }
        }
    }
    Ok(after)
}

fn figures(positions: &[Position<u8>], token: TokenId) -> Figures {
    Figures::of(
        positions
            .iter()
            .filter(|p| p.token == token)
            .map(|p| (&p.delta, &p.collateral)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn planning_keeps_net_positions_and_is_never_worse(ps in positions()) {
        let plan = plan(&ps).expect("valid positions");
        let after = apply(&ps, &plan.steps).map_err(TestCaseError::fail)?;
        prop_assert_eq!(holdings(&ps), holdings(&after));
        prop_assert!(plan.complete);
        for r in &plan.reports {
            prop_assert_eq!(&r.before, &figures(&ps, r.token));
            prop_assert_eq!(&r.after, &figures(&after, r.token));
            prop_assert!(r.after.no_worse_than(&r.before), "token {} got worse: {:?}", r.token, r);
        }
        // Every step alone is a netting step too, and no account owes more than before.
        for step in &plan.steps {
            let alone = apply(&ps, std::slice::from_ref(step)).map_err(TestCaseError::fail)?;
            prop_assert_eq!(holdings(&ps), holdings(&alone));
        }
        for (p, q) in ps.iter().zip(&after) {
            prop_assert!(q.debt() <= p.debt());
        }
        // Nothing is left to net: planning again changes nothing.
        let again = xln::netting::plan(&after).expect("valid positions");
        prop_assert!(again.steps.is_empty(), "a second plan found {} more steps", again.steps.len());
    }

    #[test]
    fn a_step_that_changes_a_net_position_is_refused(amount in 1i64..100) {
        let step = Step {
            token: 1,
            transfers: vec![Transfer { payer: 1u8, payee: 2, amount: amount.into() }],
        };
        let refused = matches!(
            xln::netting::check_steps(&[step]),
            Err(NettingError::InvalidStep { step: 0, .. })
        );
        prop_assert!(refused);
    }
}

// ---------------------------------------------------------------------------------------
// Real account machines
// ---------------------------------------------------------------------------------------

const PARTIES: usize = 5;
const TOKENS: [TokenId; 2] = [1, 2];

/// How a random network is built: extra accounts beyond a ring, credit limits, collateral
/// and payments (payments beyond capacity are refused by the machines and skipped).
#[derive(Clone, Debug)]
struct Network {
    chords: Vec<(usize, usize)>,
    limits: Vec<(usize, usize, TokenId, i64)>,
    collateral: Vec<(usize, usize, TokenId, i64)>,
    payments: Vec<(usize, usize, TokenId, i64, bool)>,
}

fn network() -> impl Strategy<Value = Network> {
    let pair = (0..PARTIES, 0..PARTIES);
    let token = prop_oneof![Just(1u64), Just(2u64)];
    (
        proptest::collection::vec(pair.clone(), 0..4),
        proptest::collection::vec((0..PARTIES, 0..PARTIES, token.clone(), 0i64..500), 0..6),
        proptest::collection::vec((0..PARTIES, 0..PARTIES, token.clone(), 1i64..300), 0..4),
        // (from, to, token, amount, routed): a routed payment pays every hop forward around
        // the ring from `from` to `to`, as a hub route would; overlapping routes leave debts
        // that run around the ring, which netting cancels.
        proptest::collection::vec(
            (0..PARTIES, 0..PARTIES, token, 1i64..100, any::<bool>()),
            4..24,
        ),
    )
        .prop_map(|(chords, limits, collateral, payments)| Network {
            chords,
            limits,
            collateral,
            payments,
        })
}

fn build(n: &Network) -> (MachineLedger, Vec<Address>) {
    let mut ledger = MachineLedger::new();
    let parties: Vec<Address> = (0..PARTIES)
        .map(|i| ledger.add_party(SecretKey::from_seed(format!("party {i}").as_bytes())))
        .collect();
    for i in 0..PARTIES {
        let _ = ledger.open(parties[i], parties[(i + 1) % PARTIES]);
    }
    for &(a, b) in &n.chords {
        let _ = ledger.open(parties[a], parties[b]);
    }
    // Every account starts with some credit both ways, so that payments go through.
    for (i, &a) in parties.iter().enumerate() {
        for &b in &parties[i + 1..] {
            if ledger.account(a, b).is_some() {
                for (lender, borrower, token) in [(a, b, 1), (b, a, 1), (a, b, 2), (b, a, 2)] {
                    let tx = AccountTx::SetCreditLimit {
                        token,
                        amount: 300.into(),
                    };
                    let _ = ledger.submit(lender, borrower, tx);
                }
            }
        }
    }
    for &(lender, borrower, token, amount) in &n.limits {
        let tx = AccountTx::SetCreditLimit {
            token,
            amount: amount.into(),
        };
        let _ = ledger.submit(parties[lender], parties[borrower], tx);
    }
    for &(funder, peer, token, amount) in &n.collateral {
        // Funded from the funder's reserve: the left's collateral raises ondelta too.
        let ondelta = if parties[funder] < parties[peer] {
            amount
        } else {
            0
        };
        let tx = AccountTx::ChainDelta {
            token,
            collateral_change: amount.into(),
            ondelta_change: ondelta.into(),
        };
        let _ = ledger.submit(parties[funder], parties[peer], tx);
    }
    for &(from, to, token, amount, routed) in &n.payments {
        let hops: Vec<(usize, usize)> = if routed {
            let mut at = from;
            let mut hops = Vec::new();
            while at != to {
                hops.push((at, (at + 1) % PARTIES));
                at = (at + 1) % PARTIES;
            }
            hops
        } else {
            vec![(from, to)]
        };
        for (a, b) in hops {
            let tx = AccountTx::Pay {
                token,
                amount: amount.into(),
            };
            if ledger.submit(parties[a], parties[b], tx).is_err() {
                break;
            }
        }
    }
    (ledger, parties)
}

fn balances(ledger: &MachineLedger, parties: &[Address]) -> Vec<BigInt> {
    parties
        .iter()
        .flat_map(|p| TOKENS.map(|t| ledger.balance(*p, t)))
        .collect()
}

fn ledger_figures(ledger: &MachineLedger, token: TokenId) -> Figures {
    let ps = ledger.positions();
    Figures::of(
        ps.iter()
            .filter(|p| p.token == token)
            .map(|p| (&p.delta, &p.collateral)),
    )
}

fn state_hashes(ledger: &MachineLedger, parties: &[Address]) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for (i, a) in parties.iter().enumerate() {
        for b in &parties[i + 1..] {
            if let Some(m) = ledger.account(*a, *b) {
                out.extend([m[0].state.state_hash(), m[1].state.state_hash()]);
            }
        }
    }
    out
}

/// Fails the `fail_at`-th cycle (counting from 0), passing everything else through.
struct FailingLedger {
    inner: MachineLedger,
    cycles: usize,
    fail_at: usize,
}

impl Ledger for FailingLedger {
    type Party = Address;
    fn pay_cycle(&mut self, t: TokenId, cycle: &[Transfer<Address>]) -> Result<(), String> {
        self.cycles += 1;
        if self.cycles - 1 == self.fail_at {
            return Err("injected failure".into());
        }
        self.inner.pay_cycle(t, cycle)
    }
    fn position(&self, a: &Address, b: &Address, t: TokenId) -> Result<(BigInt, BigInt), String> {
        self.inner.position(a, b, t)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn execution_on_machines_keeps_rcpan_and_conserves_value(n in network()) {
        let (mut ledger, parties) = build(&n);
        let before = balances(&ledger, &parties);
        let plan = plan(&ledger.positions()).expect("machine positions are valid");
        let run = execute(&plan.steps, &mut ledger).expect("planned steps are netting steps");
        prop_assert_eq!(run.applied(), plan.steps.len(), "{:?}", run.outcomes);
        prop_assert_eq!(before, balances(&ledger, &parties));
        prop_assert!(ledger.sides_agree());
        for p in ledger.positions() {
            prop_assert!(p.lower <= p.delta && p.delta <= p.upper);
        }
        for (a, b) in parties.iter().zip(parties.iter().cycle().skip(1)) {
            for t in TOKENS {
                if let Some(m) = ledger.account(*a, *b) {
                    let d = m[0].state.delta(t);
                    prop_assert!(d.lower_excess().is_zero() && d.upper_excess().is_zero(), "RCPAN broken: {:?}", d);
                }
            }
        }
        for r in &plan.reports {
            prop_assert_eq!(&r.after, &ledger_figures(&ledger, r.token));
            prop_assert!(r.after.no_worse_than(&r.before));
        }
    }

    #[test]
    fn a_failing_step_leaves_accounts_as_before_it(n in network(), pick in any::<prop::sample::Index>()) {
        let (ledger, parties) = build(&n);
        let plan = plan(&ledger.positions()).expect("valid");
        let total = plan.steps.len();
        if total == 0 {
            return Ok(());
        }
        let fail_at = pick.index(total);
        let before = balances(&ledger, &parties);
        let mut failing = FailingLedger { inner: ledger.clone(), cycles: 0, fail_at };
        let run = execute(&plan.steps, &mut failing).expect("valid steps");
        let failed: Vec<usize> = run.outcomes.iter().enumerate()
            .filter(|(_, o)| matches!(o, StepOutcome::Aborted { .. }))
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(failed.len(), 1);
        // The same plan without the failed step, on an untouched copy, gives identical
        // accounts: the aborted step left no trace (heights and hashes included).
        let mut skipped = plan.steps.clone();
        skipped.remove(failed[0]);
        let mut reference = ledger;
        execute(&skipped, &mut reference).expect("valid steps");
        prop_assert_eq!(state_hashes(&failing.inner, &parties), state_hashes(&reference, &parties));
        prop_assert_eq!(before, balances(&failing.inner, &parties));
        prop_assert!(failing.inner.sides_agree());
    }
}

#[test]
fn a_hub_network_needs_fewer_settlements_after_netting() {
    // Two hubs, four spokes on credit; payments routed alternately through each hub leave
    // a ring of debts (spoke -> hub1 -> spoke -> hub2 -> spoke) that cancels.
    let mut ledger = MachineLedger::new();
    let p: Vec<Address> = ["h1", "h2", "a", "b", "c", "d"]
        .iter()
        .map(|n| ledger.add_party(SecretKey::from_seed(n.as_bytes())))
        .collect();
    let (h1, h2) = (p[0], p[1]);
    for &spoke in &p[2..] {
        for hub in [h1, h2] {
            ledger.open(spoke, hub).unwrap();
            for (lender, borrower) in [(hub, spoke), (spoke, hub)] {
                let tx = AccountTx::SetCreditLimit {
                    token: 1,
                    amount: 1000.into(),
                };
                ledger.submit(lender, borrower, tx).unwrap();
            }
        }
    }
    let pay = |l: &mut MachineLedger, a: Address, b: Address, x: i64| {
        let tx = AccountTx::Pay {
            token: 1,
            amount: x.into(),
        };
        l.submit(a, b, tx).unwrap();
    };
    for (i, w) in p[2..].windows(2).enumerate() {
        let hub = if i % 2 == 0 { h1 } else { h2 };
        pay(&mut ledger, w[0], hub, 100);
        pay(&mut ledger, hub, w[1], 100);
    }
    pay(&mut ledger, p[5], h2, 100);
    pay(&mut ledger, h2, p[2], 100);
    let plan = plan(&ledger.positions()).unwrap();
    let r = &plan.reports[0];
    assert_eq!((r.before.settlements, r.after.settlements), (8, 0));
    let run = execute(&plan.steps, &mut ledger).unwrap();
    assert_eq!(run.applied(), plan.steps.len());
    assert_eq!(ledger_figures(&ledger, 1).settlements, 0);
}

#[test]
fn random_networks_do_exercise_netting() {
    // Guards the generator above: a good share of its networks must have something to net,
    // or the properties would pass vacuously.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut with_steps = 0;
    for _ in 0..20 {
        let n = network().new_tree(&mut runner).unwrap().current();
        let (ledger, _) = build(&n);
        if !plan(&ledger.positions()).unwrap().steps.is_empty() {
            with_steps += 1;
        }
    }
    assert!(
        with_steps >= 5,
        "only {with_steps} of 20 random networks had anything to net"
    );
}
