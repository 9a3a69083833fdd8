//! Netting bindings: obligations and settlement figures of the interpreter's network of
//! accounts, `netting-plan` (a plan as plain data) and `net!` (executes it as signed frames,
//! each step all-or-nothing by snapshot and restore of the step's accounts).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use num_bigint::BigInt;

use super::account::{entity_arg, kw, map_of, network, AccountHandle, EntityHandle, LangEngine};
use crate::account::{AccountMachine, AccountMessage, AccountTx, Side, TokenId};
use crate::crypto::Address;
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

/// The accounts of the interpreter's network and its entities by address.
struct NetworkView {
    accounts: BTreeMap<(Address, Address), Rc<AccountHandle>>,
    entities: BTreeMap<Address, Rc<EntityHandle>>,
}

fn network_view(interp: &mut Interp) -> NetworkView {
    let accounts = network(interp).accounts.clone();
    let mut entities = BTreeMap::new();
    for handle in accounts.values() {
        if let Ok(pair) = handle.0.try_borrow() {
            for e in &pair.entities {
                entities.insert(e.address, e.clone());
            }
        }
    }
    NetworkView { accounts, entities }
}

impl NetworkView {
    /// Every account's committed positions (the left's copy), optionally one token only.
    fn positions(
        &self,
        token: Option<TokenId>,
        who: &str,
    ) -> Result<Vec<Position<Address>>, LangError> {
        let mut out = Vec::new();
        for ((left, right), handle) in &self.accounts {
            let pair = handle
                .0
                .try_borrow()
                .map_err(|_| value_error(who, "an account is busy"))?;
            for (t, d) in &pair.machines[0].state.deltas {
                if token.is_none_or(|x| x == *t) {
                    out.push(Position::from_delta(*left, *right, *t, d));
                }
            }
        }
        Ok(out)
    }

    fn entity(&self, a: &Address) -> Value {
        match self.entities.get(a) {
            Some(e) => Value::Native(e.clone()),
            None => Value::string(&a.to_checksum()),
        }
    }
}

/// The interpreter's network as a netting [`Ledger`]: payments are proposed by the payer,
/// delivered, verified and countersigned by the payee (the same path as `pay!`).
struct InterpLedger<'a> {
    interp: &'a mut Interp,
    span: Span,
    view: NetworkView,
}

type PairSnapshot = (
    Rc<AccountHandle>,
    [AccountMachine; 2],
    Option<AccountMessage>,
);

fn ordered(a: Address, b: Address) -> (Address, Address) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

impl InterpLedger<'_> {
    fn handle(&self, a: &Address, b: &Address) -> Result<Rc<AccountHandle>, String> {
        self.view
            .accounts
            .get(&ordered(*a, *b))
            .cloned()
            .ok_or_else(|| format!("{} and {} have no account", self.name(a), self.name(b)))
    }

    fn name(&self, a: &Address) -> String {
        self.view
            .entities
            .get(a)
            .map_or_else(|| a.to_checksum(), |e| e.name.clone())
    }
}

impl Ledger for InterpLedger<'_> {
    type Party = Address;
    type Snapshot = Vec<PairSnapshot>;

    fn snapshot(&self, accounts: &[(Address, Address)]) -> Result<Self::Snapshot, String> {
        let mut out = Vec::new();
        for (a, b) in accounts {
            let handle = self.handle(a, b)?;
            let pair = handle.0.try_borrow().map_err(|_| "an account is busy")?;
            let busy = !pair.in_flight.is_empty()
                || pair
                    .machines
                    .iter()
                    .any(|m| m.pending.is_some() || !m.mempool.is_empty());
            if busy {
                return Err(format!(
                    "the account {}-{} has frames in flight or queued txs; sync it first",
                    self.name(a),
                    self.name(b)
                ));
            }
            let saved = (pair.machines.clone(), pair.last_delivered.clone());
            drop(pair);
            out.push((handle, saved.0, saved.1));
        }
        Ok(out)
    }

    fn restore(&mut self, snapshot: Self::Snapshot) {
        for (handle, machines, last_delivered) in snapshot {
            if let Ok(mut pair) = handle.0.try_borrow_mut() {
                pair.machines = machines;
                pair.last_delivered = last_delivered;
                pair.in_flight.clear();
            }
        }
    }

    fn pay(
        &mut self,
        payer: &Address,
        payee: &Address,
        token: TokenId,
        amount: &BigInt,
    ) -> Result<(), String> {
        let handle = self.handle(payer, payee)?;
        let mut pair = handle
            .0
            .try_borrow_mut()
            .map_err(|_| "the account is busy")?;
        let side = if pair.entities[0].address == *payer {
            Side::Left
        } else {
            Side::Right
        };
        let i = usize::from(side == Side::Right);
        pair.machines[i].enqueue(AccountTx::Pay {
            token,
            amount: amount.clone(),
        });
        let mut engine = LangEngine {
            interp: self.interp,
            span: self.span,
        };
        let who = "net!";
        pair.propose(side, &mut engine, who)
            .and_then(|_| pair.sync(&mut engine, who))
            .map_err(|e| e.message.clone())
    }

    fn debt(&self, a: &Address, b: &Address, token: TokenId) -> Result<BigInt, String> {
        let handle = self.handle(a, b)?;
        let pair = handle.0.try_borrow().map_err(|_| "the account is busy")?;
        let d = pair.machines[0].state.delta(token);
        Ok(netting::debt(&d.delta(), &d.collateral))
    }

    fn describe(&self, party: &Address) -> String {
        self.name(party)
    }
}

fn figures_value(f: &Figures) -> Value {
    map_of(vec![
        ("settlements", Value::Int(f.settlements as i64)),
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

fn step_value(view: &NetworkView, step: &Step<Address>) -> Value {
    let transfers = step.transfers.iter().map(|t| {
        Value::list(vec![
            view.entity(&t.payer),
            view.entity(&t.payee),
            Value::from_bigint(t.amount.clone()),
        ])
    });
    map_of(vec![
        ("token", Value::Int(step.token as i64)),
        ("transfers", Value::list(transfers.collect::<Vec<_>>())),
    ])
}

fn plan_value(view: &NetworkView, plan: &Plan<Address>) -> Value {
    let report = plan.reports.iter().map(|r| {
        (
            Value::Int(r.token as i64),
            map_of(vec![
                ("before", figures_value(&r.before)),
                ("after", figures_value(&r.after)),
                ("steps", Value::Int(r.steps as i64)),
                ("transfers", Value::Int(r.transfers as i64)),
            ]),
        )
    });
    map_of(vec![
        (
            "steps",
            Value::vector(plan.steps.iter().map(|s| step_value(view, s))),
        ),
        ("report", Value::Map(Rc::new(report.collect()))),
        ("complete", Value::Bool(plan.complete)),
    ])
}

/// `#:token t` and `#:entity e` options.
fn plan_options(
    a: &[Value],
    who: &str,
) -> Result<(Option<TokenId>, Option<Rc<EntityHandle>>), LangError> {
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
    let view = network_view(interp);
    let positions = view.positions(token, who)?;
    let mut plan = netting::plan(&positions).map_err(|e| value_error(who, e))?;
    if let Some(e) = entity {
        let through = |s: &Step<Address>| {
            s.transfers
                .iter()
                .any(|t| t.payer == e.address || t.payee == e.address)
        };
        plan.retain(&positions, through);
    }
    Ok(plan_value(&view, &plan))
}

fn amount_of(v: &Value, who: &str) -> Result<BigInt, LangError> {
    to_bigint(v).ok_or_else(|| type_error(who, 0, "an integer amount", v))
}

/// Reads the `#:steps` of a plan value back into steps.
fn steps_from_value(plan: &Value, who: &str) -> Result<Vec<Step<Address>>, LangError> {
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
    steps
        .iter()
        .map(|s| {
            let token = index_arg(&[field(s, "token")?], 0, who)? as TokenId;
            let transfers = sequence_arg(&[field(s, "transfers")?], 0, who)?
                .iter()
                .map(|t| match t.list_to_vec().as_deref() {
                    Some([payer, payee, amount]) => Ok(Transfer {
                        payer: entity_arg(std::slice::from_ref(payer), 0, who)?.address,
                        payee: entity_arg(std::slice::from_ref(payee), 0, who)?.address,
                        amount: amount_of(amount, who)?,
                    }),
                    _ => Err(value_error(who, "each transfer is (payer payee amount)")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Step { token, transfers })
        })
        .collect()
}

fn net(interp: &mut Interp, a: &[Value], span: Span) -> R {
    let who = "net!";
    let steps = steps_from_value(&a[0], who)?;
    netting::check_steps(&steps).map_err(|e| value_error(who, e))?;
    let view = network_view(interp);
    let tokens: BTreeSet<TokenId> = steps.iter().map(|s| s.token).collect();
    let before = figures_by_token(&view.positions(None, who)?);
    let mut ledger = InterpLedger { interp, span, view };
    let run = netting::execute(&steps, &mut ledger).map_err(|e| value_error(who, e))?;
    let view = ledger.view;
    let after = figures_by_token(&view.positions(None, who)?);
    let aborted = run
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            StepOutcome::Aborted { reason } => Some(Value::list(vec![
                Value::Int(i as i64),
                Value::string(reason),
            ])),
            StepOutcome::Applied => None,
        });
    let report = tokens.iter().map(|t| {
        let none = Figures::default();
        (
            Value::Int(*t as i64),
            map_of(vec![
                ("before", figures_value(before.get(t).unwrap_or(&none))),
                ("after", figures_value(after.get(t).unwrap_or(&none))),
            ]),
        )
    });
    Ok(map_of(vec![
        ("applied", Value::Int(run.applied() as i64)),
        ("aborted", Value::list(aborted.collect::<Vec<_>>())),
        ("report", Value::Map(Rc::new(report.collect()))),
    ]))
}

fn obligations(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "obligations";
    let token = match a.first() {
        Some(_) => Some(index_arg(a, 0, who)? as TokenId),
        None => None,
    };
    let view = network_view(interp);
    let items = view
        .positions(token, who)?
        .iter()
        .filter_map(|p| p.obligation())
        .map(|o| {
            map_of(vec![
                ("debtor", view.entity(&o.debtor)),
                ("creditor", view.entity(&o.creditor)),
                ("token", Value::Int(o.token as i64)),
                ("amount", Value::from_bigint(o.amount)),
            ])
        })
        .collect::<Vec<_>>();
    Ok(Value::list(items))
}

fn settlement_figures(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "settlement-figures";
    let token = match a.first() {
        Some(_) => Some(index_arg(a, 0, who)? as TokenId),
        None => None,
    };
    let view = network_view(interp);
    let figures = figures_by_token(&view.positions(token, who)?);
    Ok(Value::Map(Rc::new(
        figures
            .iter()
            .map(|(t, f)| (Value::Int(*t as i64), figures_value(f)))
            .collect(),
    )))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "obligations", 0, Some(1), obligations, "What each account owes beyond collateral (a settlement would move it): ({#:debtor e #:creditor e #:token t #:amount x} ...), optionally for one token.", "(obligations 1)";
    "settlement-figures", 0, Some(1), settlement_figures, "Per token, the settlements the network would need now and the collateral they would move: {token {#:settlements n #:collateral-moved x}}.", "(hash-ref-in (settlement-figures) (list 1 #:settlements)) => 8";
    "netting-plan", 0, Some(4), netting_plan, "Plans netting over every account (or #:token t; #:entity e keeps the steps through e): {#:steps [{#:token t #:transfers ((payer payee amount) ...)} ...] #:report {token {#:before figures #:after figures #:steps n #:transfers m}} #:complete #t}. Never raises an obligation; keeps every entity's net position.", "(hash-ref (netting-plan) #:report)";
    "net!", 1, Some(1), net, "Executes a netting plan: each payment a frame signed by the payer and countersigned by the payee; a step that fails is undone (its accounts restored) and reported. Returns {#:applied n #:aborted ((step reason) ...) #:report {token {#:before #:after}}} with figures measured on the accounts.", "(net! (netting-plan))";
];
