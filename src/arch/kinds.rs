//! Validation of the transaction kinds: each kind has a handler (one sample of it, applied
//! through the machine's real dispatch, is accepted and changes the state) and a test
//! script (a form of its script surface appears in some `scripts/*.xln`).

use std::collections::BTreeSet;
use std::path::Path;

use num_bigint::BigInt;

use crate::account::{
    AccountState, AccountTx, Data, Side, SubcontractCall, SubcontractEffect, SubcontractEngine,
};
use crate::crypto::SecretKey;
use crate::entity::{Board, EntityState, EntityTx, Holder, ProposalAction, SignedTx, Validator};

/// Most script files scanned, and the largest read (bytes): the scan is bounded.
const SCRIPT_FILES_MAX: usize = 1_000;
const SCRIPT_BYTES_MAX: u64 = 1 << 20;

/// Where a kind shows up in the language: primitives (or stdlib procedures) that produce
/// it, and quoted kind symbols passed to `account-enqueue!` / `submit!`. A test checks every
/// unquoted form is a builtin or a stdlib definition.
pub(super) const SURFACE: [(&str, &str, &[&str]); 19] = [
    ("account", "pay", &["pay!", "pay-direct!", "'pay"]),
    (
        "account",
        "set-credit-limit",
        &["set-credit!", "'set-credit"],
    ),
    (
        "account",
        "chain-delta",
        &["fund-collateral!", "'chain-delta"],
    ),
    (
        "account",
        "install-code",
        &["'open", "pay!", "subcontract-code", "htlc-lock!"],
    ),
    (
        "account",
        "open-subcontract",
        &["'open", "htlc-lock!", "place-order!", "pay!"],
    ),
    (
        "account",
        "call-subcontract",
        &[
            "'call",
            "htlc-reveal!",
            "htlc-timeout!",
            "htlc-refund!",
            "fill-order!",
            "cancel-order!",
        ],
    ),
    ("entity", "message", &["'message"]),
    ("entity", "open-account", &["'open-account"]),
    // Replicas create account inputs themselves, one per sealed message of a peer board;
    // a script drives them by paying through an account between entities.
    (
        "entity",
        "account-input",
        &["'account-payment", "pay!", "pay-direct!"],
    ),
    (
        "entity",
        "account",
        &[
            "'account-payment",
            "'set-credit",
            "pay-direct!",
            "set-credit!",
            "account-submit!",
        ],
    ),
    ("entity", "payment", &["'payment"]),
    ("entity", "propose", &["'propose"]),
    ("entity", "vote", &["'vote"]),
    ("entity", "chain-event", &["chain-feed!"]),
    ("entity", "set-fee-policy", &["set-fee-policy!"]),
    ("entity", "pay-routed", &["pay!", "pay-async!", "net!"]),
    // A sender's wallet submits it when parts of a multi-part payment failed.
    ("entity", "retry-payment", &["pay!"]),
    // Validators submit it themselves when their clock passes a lock's timeout.
    ("entity", "timers", &["run-ticks!"]),
    // Validators submit it themselves when their entity's profile changed.
    ("entity", "publish-profile", &["gossip-sync!"]),
];

/// The check of one transaction kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindCheck {
    /// The machine ("account" or "entity").
    pub machine: &'static str,
    /// The kind name.
    pub kind: &'static str,
    /// Ok if the dispatch handles a sample, else why not.
    pub handler: Result<(), String>,
    /// The scripts (file names) that use the kind.
    pub scripts: Vec<String>,
}

/// Every kind's check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    /// One per transaction kind of every machine.
    pub kinds: Vec<KindCheck>,
}

impl Validation {
    /// Every problem as a line: a kind without a working handler or without a script.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for k in &self.kinds {
            if let Err(why) = &k.handler {
                out.push(format!(
                    "{} tx `{}` has no working handler: {why}",
                    k.machine, k.kind
                ));
            }
            if k.scripts.is_empty() {
                out.push(format!(
                    "{} tx `{}` is used by no script in scripts/",
                    k.machine, k.kind
                ));
            }
        }
        out
    }
}

/// Checks every transaction kind against the dispatch and the scripts in `scripts_dir`.
///
/// # Errors
/// If the directory cannot be read.
pub fn validate(scripts_dir: &Path) -> Result<Validation, String> {
    let scripts = script_tokens(scripts_dir)?;
    let mut handlers = account_handlers();
    handlers.extend(entity_handlers());
    let kinds = handlers
        .into_iter()
        .map(|(machine, kind, handler)| {
            let forms = SURFACE
                .iter()
                .find(|(m, k, _)| *m == machine && *k == kind)
                .map_or(&[][..], |s| s.2);
            let used = scripts
                .iter()
                .filter(|(_, tokens)| forms.iter().any(|f| tokens.contains(*f)))
                .map(|(name, _)| name.clone())
                .collect();
            KindCheck {
                machine,
                kind,
                handler,
                scripts: used,
            }
        })
        .collect();
    Ok(Validation { kinds })
}

/// (file name, its tokens without comments) of every `*.xln` in `dir`, sorted by name.
fn script_tokens(dir: &Path) -> Result<Vec<(String, BTreeSet<String>)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xln"))
        .take(SCRIPT_FILES_MAX)
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let too_big = std::fs::metadata(&path).map_or(true, |m| m.len() > SCRIPT_BYTES_MAX);
        let Ok(text) = (if too_big {
            Err(())
        } else {
            std::fs::read_to_string(&path).map_err(|_| ())
        }) else {
            continue;
        };
        let tokens = text
            .lines()
            .map(|l| l.split(';').next().unwrap_or(""))
            .flat_map(|l| l.split(|c: char| c.is_whitespace() || "()[]{}".contains(c)))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        out.push((name, tokens));
    }
    Ok(out)
}

/// A subcontract engine for the probe: any code installs; every call closes the instance
/// and moves nothing.
struct ProbeEngine;

impl SubcontractEngine for ProbeEngine {
    fn call(&mut self, _: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
        Ok(SubcontractEffect {
            transfers: Vec::new(),
            params: Data::Bool(true),
            close: true,
        })
    }

    fn check_code(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

const PROBE_CODE: &[u8] = b"(subcontract probe (close (params args ctx) {#:close #t}))";

/// One sample of every account tx kind, in an order where each applies after the ones
/// before it (collateral first, so the payment has capacity).
pub(super) fn account_samples() -> Vec<AccountTx> {
    vec![
        AccountTx::ChainDelta {
            token: 1,
            collateral_change: BigInt::from(100),
            ondelta_change: BigInt::from(100),
        },
        AccountTx::Pay {
            token: 1,
            amount: BigInt::from(10),
        },
        AccountTx::SetCreditLimit {
            token: 1,
            amount: BigInt::from(50),
        },
        AccountTx::InstallCode {
            code: PROBE_CODE.to_vec(),
        },
        AccountTx::OpenSubcontract {
            id: 1,
            code: crate::crypto::keccak256(PROBE_CODE),
            holds: vec![(1, BigInt::from(5))],
            params: Data::Bool(false),
        },
        AccountTx::CallSubcontract {
            id: 1,
            method: "close".into(),
            args: Data::List(Vec::new()),
        },
    ]
}

/// Applies each sample through `AccountState::apply_tx` (the account's dispatch).
fn account_handlers() -> Vec<(&'static str, &'static str, Result<(), String>)> {
    let a = SecretKey::from_seed(b"arch probe left").address();
    let b = SecretKey::from_seed(b"arch probe right").address();
    let mut state = AccountState::new(a, b);
    account_samples()
        .into_iter()
        .map(|tx| {
            let before = state.state_hash();
            let result = state
                .apply_tx(&tx, Side::Left, 1, 0, &mut ProbeEngine)
                .map_err(|e| e.to_string())
                .and_then(|()| changed(before, state.state_hash()));
            ("account", tx.kind(), result)
        })
        .collect()
}

fn changed(before: [u8; 32], after: [u8; 32]) -> Result<(), String> {
    if before == after {
        Err("the dispatch accepted it but the state did not change".into())
    } else {
        Ok(())
    }
}

/// One sample of every entity tx kind with its signer (0 or 1 of the probe board), in an
/// order where each applies after the ones before it.
pub(super) fn entity_samples() -> Vec<(usize, EntityTx)> {
    vec![
        (
            0,
            EntityTx::Message {
                text: "probe".into(),
            },
        ),
        (
            0,
            EntityTx::OpenAccount {
                peer: probe_peer().board.entity_id(),
                peer_board: probe_peer().board,
            },
        ),
        (0, probe_peer().credit_message(&[9; 32])),
        (
            0,
            EntityTx::Account {
                peer: probe_peer().board.entity_id(),
                tx: AccountTx::Pay {
                    token: 1,
                    amount: BigInt::from(5),
                },
            },
        ),
        (
            0,
            EntityTx::Payment {
                from: Holder::from("treasury"),
                to: Holder::from("alice"),
                token: 1,
                amount: BigInt::from(10),
            },
        ),
        (
            0,
            EntityTx::Propose {
                id: 1,
                action: ProposalAction::Text("probe".into()),
            },
        ),
        (1, EntityTx::Vote { id: 1, yes: true }),
        (0, EntityTx::ChainEvent { bytes: vec![2] }),
        (
            0,
            EntityTx::SetFeePolicy(crate::entity::FeePolicy {
                base: BigInt::from(1),
                ..crate::entity::FeePolicy::default()
            }),
        ),
        (
            0,
            EntityTx::PayRouted(Box::new(crate::entity::RoutedPayment {
                token: 1,
                total: BigInt::from(3),
                parts: vec![vec![crate::entity::PaymentHop {
                    entity: probe_peer().board.entity_id(),
                    onion_key: crate::entity::payment::onion_secret_from(b"arch probe peer")
                        .public_key()
                        .to_vec(),
                    amount: BigInt::from(3),
                    timeout: 100,
                }]],
                attempts_max: 1,
                parts_max: 1,
            })),
        ),
        (
            0,
            EntityTx::RetryPayment {
                hashlock: [4; 32],
                parts: Vec::new(),
                reason: "probe".into(),
            },
        ),
        (0, EntityTx::Timers),
        (0, EntityTx::PublishProfile),
    ]
}

/// Kinds whose handler may leave the state unchanged on the probe: [`EntityTx::Timers`]
/// does nothing when no lock is due (its effect is tested with real timeouts in
/// `tests/entity_payments.rs`).
const MAY_CHANGE_NOTHING: [&str; 1] = ["timers"];

/// A single-signer peer entity for the probe's account samples.
struct ProbePeer {
    key: SecretKey,
    board: Board,
}

fn probe_peer() -> ProbePeer {
    let key = SecretKey::from_seed(b"arch probe peer");
    let board = Board {
        validators: vec![Validator::new(key.address(), 1)],
        threshold: 1,
    };
    ProbePeer { key, board }
}

impl ProbePeer {
    /// The peer's first account message to entity `to`: a credit line of 50 for it, sealed
    /// by the peer's (one-validator) board. `to` is replaced by the probe entity's id when
    /// the samples are applied.
    fn credit_message(&self, to: &[u8; 32]) -> EntityTx {
        let mut machine = crate::account::AccountMachine::new(
            crate::entity::entity_address(&self.board.entity_id()),
            crate::entity::entity_address(to),
        );
        machine.enqueue(AccountTx::SetCreditLimit {
            token: 1,
            amount: BigInt::from(50),
        });
        let proposed = machine.propose_sealed(
            crate::account::Seal::Quorum,
            0,
            &mut crate::account::NoSubcontracts,
        );
        let mut hanko = crate::entity::Hanko::default();
        let message = match proposed.ok().and_then(|o| o.message) {
            Some(m) => m,
            None => {
                return EntityTx::Message {
                    text: "no probe message".into(),
                }
            }
        };
        if let Ok(signature) = self.key.sign_digest(&message.hanko_digest()) {
            hanko.0.insert(self.key.address(), signature);
        }
        EntityTx::AccountInput {
            from: self.board.entity_id(),
            message: Box::new(message),
            hanko,
        }
    }
}

/// Applies each sample through `EntityState::apply_txs` (the entity's dispatch).
fn entity_handlers() -> Vec<(&'static str, &'static str, Result<(), String>)> {
    let keys = [
        SecretKey::from_seed(b"arch probe validator 0"),
        SecretKey::from_seed(b"arch probe validator 1"),
    ];
    let board = Board::new(
        keys.iter()
            .map(|k| Validator::new(k.address(), 1))
            .collect(),
        2,
    );
    let genesis = board.and_then(|b| {
        EntityState::genesis(b, vec![(Holder::from("treasury"), 1, BigInt::from(100))])
            .map(|s| s.with_onion(crate::entity::payment::onion_secret_from(b"arch probe")))
    });
    let mut state = match genesis {
        Ok(s) => s,
        Err(e) => {
            let why = format!("the probe entity cannot be created: {e}");
            return EntityTx::KINDS
                .iter()
                .map(|k| ("entity", *k, Err(why.clone())))
                .collect();
        }
    };
    let mut nonces = [0u64; 2];
    entity_samples()
        .into_iter()
        .map(|(signer, tx)| {
            let tx = match tx {
                EntityTx::AccountInput { .. } => probe_peer().credit_message(&state.entity_id),
                // A retry names the payment the pay-routed sample sent.
                EntityTx::RetryPayment { parts, reason, .. } => EntityTx::RetryPayment {
                    hashlock: state
                        .payments
                        .sent
                        .keys()
                        .next()
                        .copied()
                        .unwrap_or([0; 32]),
                    parts,
                    reason,
                },
                other => other,
            };
            let kind = tx.kind();
            nonces[signer] += 1;
            let result = SignedTx::sign(&state.entity_id, &keys[signer], nonces[signer], tx)
                .map_err(|e| e.to_string())
                .and_then(|stx| {
                    let mut engine = ProbeEngine;
                    let (next, rejected) =
                        state.apply_txs(state.height + 1, 0, &[stx], &mut engine);
                    if let Some(r) = rejected.first() {
                        return Err(r.rejection.to_string());
                    }
                    // Height and nonce change on every tx; the handler must change more.
                    let mut bookkeeping_only = state.clone();
                    bookkeeping_only.height = next.height;
                    bookkeeping_only.nonces = next.nonces.clone();
                    let result = if MAY_CHANGE_NOTHING.contains(&kind) {
                        Ok(())
                    } else {
                        changed(bookkeeping_only.hash(), next.hash())
                    };
                    state = next;
                    result
                });
            ("entity", kind, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adding a variant breaks these matches until it gets a sample, a KINDS entry and a
    /// SURFACE row: the registry cannot silently miss a kind.
    #[test]
    fn samples_cover_every_kind_exactly_once() {
        let names: Vec<&str> = account_samples()
            .iter()
            .map(|tx| {
                let position = match tx {
                    AccountTx::Pay { .. } => 0,
                    AccountTx::SetCreditLimit { .. } => 1,
                    AccountTx::ChainDelta { .. } => 2,
                    AccountTx::InstallCode { .. } => 3,
                    AccountTx::OpenSubcontract { .. } => 4,
                    AccountTx::CallSubcontract { .. } => 5,
                };
                assert_eq!(AccountTx::KINDS[position], tx.kind());
                tx.kind()
            })
            .collect();
        assert_eq!(
            names.iter().collect::<BTreeSet<_>>().len(),
            AccountTx::KINDS.len()
        );
        let names: Vec<&str> = entity_samples()
            .iter()
            .map(|(_, tx)| {
                let position = match tx {
                    EntityTx::Message { .. } => 0,
                    EntityTx::OpenAccount { .. } => 1,
                    EntityTx::AccountInput { .. } => 2,
                    EntityTx::Account { .. } => 3,
                    EntityTx::Payment { .. } => 4,
                    EntityTx::Propose { .. } => 5,
                    EntityTx::Vote { .. } => 6,
                    EntityTx::ChainEvent { .. } => 7,
                    EntityTx::SetFeePolicy(_) => 8,
                    EntityTx::PayRouted(_) => 9,
                    EntityTx::RetryPayment { .. } => 10,
                    EntityTx::Timers => 11,
                    EntityTx::PublishProfile => 12,
                };
                assert_eq!(EntityTx::KINDS[position], tx.kind());
                tx.kind()
            })
            .collect();
        assert_eq!(
            names.iter().collect::<BTreeSet<_>>().len(),
            EntityTx::KINDS.len()
        );
        let surface: BTreeSet<(&str, &str)> = SURFACE.iter().map(|(m, k, _)| (*m, *k)).collect();
        let all: BTreeSet<(&str, &str)> = AccountTx::KINDS
            .iter()
            .map(|k| ("account", *k))
            .chain(EntityTx::KINDS.iter().map(|k| ("entity", *k)))
            .collect();
        assert_eq!(surface, all);
    }

    #[test]
    fn every_handler_applies_its_sample() {
        for (machine, kind, result) in account_handlers().into_iter().chain(entity_handlers()) {
            assert_eq!(result, Ok(()), "{machine} {kind}");
        }
    }

    #[test]
    fn unquoted_surface_forms_are_builtins_or_stdlib_definitions() {
        let stdlib = concat!(env!("CARGO_MANIFEST_DIR"), "/stdlib");
        let defined: String = std::fs::read_dir(stdlib)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .collect();
        for (_, _, forms) in SURFACE {
            for form in forms.iter().filter(|f| !f.starts_with('\'')) {
                let builtin = crate::lang::builtins::find_primitive(form).is_some();
                let in_stdlib = defined.contains(&format!("(define ({form} "));
                assert!(
                    builtin || in_stdlib,
                    "`{form}` is neither a builtin nor defined in stdlib/"
                );
            }
        }
    }
}
