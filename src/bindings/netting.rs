//! Netting bindings over the entities' accounts: obligations and settlement figures,
//! `netting-plan` (a plan as plain data) and `net!`, which executes each step as ONE
//! circular payment: the step's first payer pays itself around the cycle, an HTLC on every
//! hop under one hashlock, each hop forwarding by its own policy — so a step settles on
//! every account or refunds on every account. A step that would raise an obligation is
//! refused before it runs.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use num_bigint::BigInt;

use super::accounts::{all_accounts, id_of, kw, map_of, state_of};
use super::runtime::{entity_arg, entity_value, settle, sim, submit_tx};
use crate::account::TokenId;
use crate::crypto::Address;
use crate::entity::gossip::hops_for;
use crate::entity::{entity_address, EntityId, EntityTx, PaymentStatus, RoutedPayment};
use crate::lang::builtins::{index_arg, sequence_arg, type_error, value_error};
use crate::lang::diagnostics::LangError;
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::value::{Primitive, Value};
use crate::netting::{self, Figures, Ledger, Plan, Position, Step, StepOutcome, Transfer};

type R = Result<Value, LangError>;

/// Most steps a plan handed to `net!` may have.
const PLAN_STEPS_MAX: usize = 100_000;

/// The simulator's entities by their account address (how netting names parties).
struct Parties {
    by_address: BTreeMap<Address, (usize, EntityId)>,
}

fn parties(interp: &mut Interp, who: &str) -> Result<Parties, LangError> {
    let mut by_address = BTreeMap::new();
    for e in 0..sim(interp).runtime.entity_count() {
        let id = id_of(interp, e, who)?;
        by_address.insert(entity_address(&id), (e, id));
    }
    Ok(Parties { by_address })
}

impl Parties {
    fn value(&self, interp: &mut Interp, a: &Address) -> Value {
        match self.by_address.get(a) {
            Some((e, _)) => entity_value(interp, *e),
            None => Value::string(&a.to_checksum()),
        }
    }
}

/// Every account's committed position (the left's copy), optionally of one token only.
fn positions(
    interp: &mut Interp,
    token: Option<TokenId>,
    who: &str,
) -> Result<Vec<Position<Address>>, LangError> {
    let mut out = Vec::new();
    for (left, right) in all_accounts(interp, who)? {
        let (lid, rid) = (id_of(interp, left, who)?, id_of(interp, right, who)?);
        let Some(account) = state_of(interp, left, who)?.accounts.get(&rid) else {
            continue;
        };
        for (t, d) in &account.machine.state.deltas {
            if token.is_none_or(|x| x == *t) {
                out.push(Position::from_delta(
                    entity_address(&lid),
                    entity_address(&rid),
                    *t,
                    d,
                ));
            }
        }
    }
    Ok(out)
}

/// The entity network as a netting [`Ledger`].
struct EntityLedger<'a> {
    interp: &'a mut Interp,
    parties: Parties,
    who: &'static str,
}

impl EntityLedger<'_> {
    fn index(&self, a: &Address) -> Result<(usize, EntityId), String> {
        self.parties
            .by_address
            .get(a)
            .copied()
            .ok_or_else(|| format!("no entity has the address {a}"))
    }

    /// The route of a cycle starting at its first payer: each payee's onion key and
    /// timeout delta from the first payer's gossip view (synced once if it lacks one).
    fn cycle_route(
        &mut self,
        token: TokenId,
        cycle: &[Transfer<Address>],
    ) -> Result<(usize, RoutedPayment), String> {
        let (sender, _) = self.index(&cycle[0].payer)?;
        let ids = cycle
            .iter()
            .map(|t| self.index(&t.payee).map(|(_, id)| id))
            .collect::<Result<Vec<_>, _>>()?;
        for attempt in 0..2 {
            let now = sim(self.interp).runtime.now();
            let s = sim(self.interp);
            let honest = *s
                .runtime
                .honest(sender)
                .first()
                .ok_or("the payer has no honest replica")?;
            let view = s
                .runtime
                .replica(sender, honest)
                .map_err(|e| e.to_string())?
                .gossip()
                .clone();
            let profiles: Option<Vec<_>> = ids.iter().map(|id| view.get(id)).collect();
            if let Some(path) = profiles {
                let amount = cycle[0].amount.clone();
                let mut hops = hops_for(&path, &amount, now);
                // Netting moves value around a cycle at no fee: every hop locks the same amount.
                for h in &mut hops {
                    h.amount = amount.clone();
                }
                return Ok((
                    sender,
                    RoutedPayment {
                        token,
                        total: amount,
                        parts: vec![hops],
                        attempts_max: 1,
                        parts_max: 1,
                    },
                ));
            }
            if attempt == 0 {
                let sync = crate::lang::builtins::primitive("gossip-sync!");
                self.interp
                    .apply(&sync, Vec::new(), Span::default())
                    .map_err(|e| e.message.clone())?;
            }
        }
        Err("the payer's view lacks a member's profile even after gossip".into())
    }
}

impl Ledger for EntityLedger<'_> {
    type Party = Address;

    fn pay_cycle(&mut self, token: TokenId, cycle: &[Transfer<Address>]) -> Result<(), String> {
        let (sender, plan) = self.cycle_route(token, cycle)?;
        let tx = submit_tx(
            self.interp,
            sender,
            EntityTx::PayRouted(Box::new(plan)),
            self.who,
        )
        .map_err(|e| e.message.clone())?;
        settle(self.interp, self.who, "the circular payment").map_err(|e| e.message.clone())?;
        if let Some(crate::runtime::TxOutcome::Rejected { rejection, .. }) =
            sim(self.interp).runtime.outcome(&tx)
        {
            return Err(rejection.to_string());
        }
        let status = state_of(self.interp, sender, self.who)
            .map_err(|e| e.message.clone())?
            .payments
            .sent
            .values()
            .find(|p| p.tx == tx)
            .map(|p| p.status.clone());
        match status {
            Some(PaymentStatus::Settled) => Ok(()),
            Some(PaymentStatus::Failed(r)) => Err(r.to_string()),
            _ => Err("the circular payment did not finish (a lock waits for its timeout)".into()),
        }
    }

    fn position(
        &self,
        a: &Address,
        b: &Address,
        token: TokenId,
    ) -> Result<(BigInt, BigInt), String> {
        let (left, right) = if a < b { (a, b) } else { (b, a) };
        let (li, _) = self.index(left)?;
        let (_, rid) = self.index(right)?;
        let s = sim_ref(self.interp);
        let honest = *s.runtime.honest(li).first().ok_or("no honest replica")?;
        let state = s
            .runtime
            .replica(li, honest)
            .map_err(|e| e.to_string())?
            .state();
        let account = state.accounts.get(&rid).ok_or_else(|| {
            format!(
                "{} and {} have no account",
                self.describe(a),
                self.describe(b)
            )
        })?;
        let d = account.machine.state.delta(token);
        Ok((d.delta(), d.collateral))
    }

    fn describe(&self, party: &Address) -> String {
        match self.parties.by_address.get(party) {
            Some((e, _)) => sim_ref(self.interp)
                .runtime
                .entity_name(*e)
                .unwrap_or("?")
                .to_string(),
            None => party.to_checksum(),
        }
    }
}

/// Read-only access to the simulator through a shared borrow.
fn sim_ref(interp: &Interp) -> &super::runtime::SimState {
    interp
        .extensions
        .get("runtime")
        .and_then(|b| b.downcast_ref::<super::runtime::SimState>())
        .expect("the simulator exists once an entity does")
}

fn figures_value(f: &Figures) -> Value {
    map_of(vec![
        (
            "settlements",
            Value::from_bigint(BigInt::from(f.settlements)),
        ),
        (
            "collateral-moved",
            Value::from_bigint(f.collateral_moved.clone()),
        ),
    ])
}

/// Current figures per token over the given positions.
fn figures_by_token(positions: &[Position<Address>]) -> BTreeMap<TokenId, Figures> {
    let tokens: BTreeSet<TokenId> = positions.iter().map(|p| p.token).collect();
    tokens
        .into_iter()
        .map(|t| {
            let mine = positions.iter().filter(|p| p.token == t);
            (t, Figures::of(mine.map(|p| (&p.delta, &p.collateral))))
        })
        .collect()
}

fn step_value(interp: &mut Interp, parties: &Parties, step: &Step<Address>) -> Value {
    let transfers: Vec<Value> = step
        .transfers
        .iter()
        .map(|t| {
            Value::list(vec![
                parties.value(interp, &t.payer),
                parties.value(interp, &t.payee),
                Value::from_bigint(t.amount.clone()),
            ])
        })
        .collect();
    map_of(vec![
        ("token", Value::from_bigint(BigInt::from(step.token))),
        ("transfers", Value::list(transfers)),
    ])
}

fn plan_value(interp: &mut Interp, parties: &Parties, plan: &Plan<Address>) -> Value {
    let report = plan.reports.iter().map(|r| {
        (
            Value::from_bigint(BigInt::from(r.token)),
            map_of(vec![
                ("before", figures_value(&r.before)),
                ("after", figures_value(&r.after)),
                ("steps", Value::from_bigint(BigInt::from(r.steps))),
                ("transfers", Value::from_bigint(BigInt::from(r.transfers))),
            ]),
        )
    });
    let report: Vec<(Value, Value)> = report.collect();
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| step_value(interp, parties, s))
        .collect();
    map_of(vec![
        ("steps", Value::vector(steps)),
        ("report", Value::Map(Rc::new(report.into_iter().collect()))),
        ("complete", Value::Bool(plan.complete)),
    ])
}

/// `#:token t` and `#:entity e` options.
fn plan_options(a: &[Value], who: &str) -> Result<(Option<TokenId>, Option<usize>), LangError> {
    let (mut token, mut entity) = (None, None);
    let mut i = 0;
    while i < a.len() {
        match (&a[i], a.get(i + 1)) {
            (Value::Keyword(k), Some(_)) if &*k.name() == "token" => {
                token = Some(index_arg(a, i + 1, who)? as TokenId)
            }
            (Value::Keyword(k), Some(_)) if &*k.name() == "entity" => {
                entity = Some(entity_arg(a, i + 1, who)?)
            }
            _ => {
                return Err(value_error(who, "expected #:token t or #:entity e options")
                    .with_hint("(netting-plan #:token 1 #:entity hub)"))
            }
        }
        i += 2;
    }
    Ok((token, entity))
}

fn netting_plan(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "netting-plan";
    let (token, entity) = plan_options(a, who)?;
    let parties = parties(interp, who)?;
    let positions = positions(interp, token, who)?;
    let mut plan = netting::plan(&positions).map_err(|e| value_error(who, e))?;
    if let Some(e) = entity {
        let address = entity_address(&id_of(interp, e, who)?);
        let through = |s: &Step<Address>| {
            s.transfers
                .iter()
                .any(|t| t.payer == address || t.payee == address)
        };
        plan.retain(&positions, through);
    }
    Ok(plan_value(interp, &parties, &plan))
}

fn amount_of(v: &Value, who: &str) -> Result<BigInt, LangError> {
    to_bigint(v).ok_or_else(|| type_error(who, 0, "an integer amount", v))
}

/// Reads the `#:steps` of a plan value back into steps.
fn steps_from_value(
    interp: &mut Interp,
    plan: &Value,
    who: &str,
) -> Result<Vec<Step<Address>>, LangError> {
    let field = |m: &Value, k: &str| -> Result<Value, LangError> {
        match m {
            Value::Map(m) => m
                .get(&kw(k))
                .cloned()
                .ok_or_else(|| value_error(who, format!("the plan has no #:{k}"))),
            v => Err(type_error(who, 0, "a plan (from netting-plan)", v)),
        }
    };
    let steps = sequence_arg(&[field(plan, "steps")?], 0, who)?;
    if steps.len() > PLAN_STEPS_MAX {
        return Err(value_error(
            who,
            format!("{} steps, at most {PLAN_STEPS_MAX}", steps.len()),
        ));
    }
    let mut address = |v: &Value| -> Result<Address, LangError> {
        let e = entity_arg(std::slice::from_ref(v), 0, who)?;
        Ok(entity_address(&id_of(interp, e, who)?))
    };
    let mut out = Vec::new();
    for s in &steps {
        let token = index_arg(&[field(s, "token")?], 0, who)? as TokenId;
        let mut transfers = Vec::new();
        for t in sequence_arg(&[field(s, "transfers")?], 0, who)? {
            match t.list_to_vec().as_deref() {
                Some([payer, payee, amount]) => transfers.push(Transfer {
                    payer: address(payer)?,
                    payee: address(payee)?,
                    amount: amount_of(amount, who)?,
                }),
                _ => return Err(value_error(who, "each transfer is (payer payee amount)")),
            }
        }
        out.push(Step { token, transfers });
    }
    Ok(out)
}

fn net(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "net!";
    let steps = steps_from_value(interp, &a[0], who)?;
    netting::check_steps(&steps).map_err(|e| value_error(who, e))?;
    let tokens: BTreeSet<TokenId> = steps.iter().map(|s| s.token).collect();
    let before = figures_by_token(&positions(interp, None, who)?);
    let parties = parties(interp, who)?;
    let mut ledger = EntityLedger {
        interp,
        parties,
        who,
    };
    let run = netting::execute(&steps, &mut ledger).map_err(|e| value_error(who, e))?;
    let after = figures_by_token(&positions(interp, None, who)?);
    let aborted: Vec<Value> = run
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            StepOutcome::Aborted { reason } => Some(Value::list(vec![
                Value::from_bigint(BigInt::from(i)),
                Value::string(reason),
            ])),
            StepOutcome::Applied => None,
        })
        .collect();
    let report: Vec<(Value, Value)> = tokens
        .iter()
        .map(|t| {
            let none = Figures::default();
            (
                Value::from_bigint(BigInt::from(*t)),
                map_of(vec![
                    ("before", figures_value(before.get(t).unwrap_or(&none))),
                    ("after", figures_value(after.get(t).unwrap_or(&none))),
                ]),
            )
        })
        .collect();
    Ok(map_of(vec![
        ("applied", Value::from_bigint(BigInt::from(run.applied()))),
        ("aborted", Value::list(aborted)),
        ("report", Value::Map(Rc::new(report.into_iter().collect()))),
    ]))
}

fn obligations(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "obligations";
    let token = match a.first() {
        Some(_) => Some(index_arg(a, 0, who)? as TokenId),
        None => None,
    };
    let parties = parties(interp, who)?;
    let found: Vec<_> = positions(interp, token, who)?
        .iter()
        .filter_map(|p| p.obligation())
        .collect();
    let mut items = Vec::new();
    for o in found {
        let debtor = parties.value(interp, &o.debtor);
        let creditor = parties.value(interp, &o.creditor);
        items.push(map_of(vec![
            ("debtor", debtor),
            ("creditor", creditor),
            ("token", Value::from_bigint(BigInt::from(o.token))),
            ("amount", Value::from_bigint(o.amount)),
        ]));
    }
    Ok(Value::list(items))
}

fn settlement_figures(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "settlement-figures";
    let token = match a.first() {
        Some(_) => Some(index_arg(a, 0, who)? as TokenId),
        None => None,
    };
    let figures = figures_by_token(&positions(interp, token, who)?);
    Ok(Value::Map(Rc::new(
        figures
            .iter()
            .map(|(t, f)| (Value::from_bigint(BigInt::from(*t)), figures_value(f)))
            .collect(),
    )))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "obligations", 0, Some(1), obligations, "What each account owes beyond collateral (a settlement would move it): ({#:debtor e #:creditor e #:token t #:amount x} ...), optionally for one token.", "(obligations 1)";
    "settlement-figures", 0, Some(1), settlement_figures, "Per token, the settlements the network would need now and the collateral they would move: {token {#:settlements n #:collateral-moved x}}.", "(hash-ref-in (settlement-figures) (list 1 #:settlements)) => 8";
    "netting-plan", 0, Some(4), netting_plan, "Plans netting over every entity account (or #:token t; #:entity e keeps the steps through e): {#:steps [{#:token t #:transfers ((payer payee amount) ...)} ...] #:report {token {#:before figures #:after figures #:steps n #:transfers m}} #:complete #t}. Never raises an obligation; keeps every entity's net position.", "(hash-ref (netting-plan) #:report)";
    "net!", 1, Some(1), net, "Executes a netting plan: each step one circular payment of its first payer, an HTLC on every hop under one hashlock (settles everywhere or refunds everywhere); a step that would raise an obligation does not run. Returns {#:applied n #:aborted ((step reason) ...) #:report {token {#:before #:after}}} measured on the accounts.", "(net! (netting-plan))";
];
