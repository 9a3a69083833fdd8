//! The subcontract sandbox: [`SandboxEngine`], the one implementation of
//! [`SubcontractEngine`] that runs subcontract code written in xln. The account and entity
//! layers never see the interpreter; they hand this engine the installed code (by hash)
//! and a call, and get back an effect whose money rules they check themselves.
//!
//! # What code is
//! The code of a subcontract is the canonical text of one form
//! `(subcontract NAME (METHOD (params args ctx) body ...) ...)` — what `define-subcontract`
//! writes (see `stdlib/subcontract.xln`). Its identity is the keccak-256 of those bytes.
//! A method returns `{#:transfers ((token side amount) ...) #:params p #:close bool}`.
//!
//! # Why it is deterministic
//! Every replica of both entities of an account runs the same call and must reach the same
//! bytes. So the code may only use pure procedures: it is checked, symbol by symbol, at
//! install and at every call, against [`FORBIDDEN`] (I/O, `eval`/`load`, the clock-free but
//! process-global `gensym`, `exit`, test bookkeeping, every binding of the protocol layers
//! except pure hashing and signature checks) and `set!` is refused (so no call can change
//! what a later call sees). Each call evaluates the code afresh (new closures, nothing
//! kept between calls) under a step budget ([`SUBCONTRACT_STEP_BUDGET`]) and a depth bound
//! ([`SUBCONTRACT_DEPTH_MAX`]) that trips long before the Rust stack does, on any build.
//! Its params and args are [`Data`], its context a map of the caller, owner, frame height
//! and timestamp and holds; nothing else of the world is reachable.
//!
//! A [`SandboxEngine`] may be put in *tampering* mode ([`SandboxEngine::set_tampering`]):
//! it then adds one unit to every transfer a method returns — a model of a replica running
//! altered code, which the simulator's byzantine behaviours use to show it is caught.

pub mod data;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use num_bigint::BigInt;

use crate::account::{
    short_hex, Data, Side, SubcontractCall, SubcontractEffect, SubcontractEngine, TokenId,
};
use crate::lang::eval::{Interp, Limits};
use crate::lang::number::to_bigint;
use crate::lang::reader::read_all;
use crate::lang::source::{add_source, Span};
use crate::lang::symbol::Sym;
use crate::lang::syntax::{Datum, Syntax};
use crate::lang::value::{Primitive, Value};

pub use data::{data_to_value, value_to_data};

/// Procedure calls one subcontract method may make before it is refused.
pub const SUBCONTRACT_STEP_BUDGET: u64 = 100_000;

/// Nested evaluation depth a subcontract method may reach. Low enough that the interpreter's
/// depth check always fires before its stack-size safety net, on debug and release builds
/// alike, so a deep recursion fails the same way on every replica.
pub const SUBCONTRACT_DEPTH_MAX: usize = 200;

/// Parsed codes the engine keeps; past this many it forgets them all and parses again.
const PARSED_CODES_MAX: usize = 256;

/// Names subcontract code may not use: I/O, evaluation of other code, process-global
/// state, and the protocol layers' bindings (except the pure ones in [`PURE_BINDINGS`]).
pub const FORBIDDEN: &[&str] = &[
    "display",
    "write",
    "newline",
    "displayln",
    "print",
    "printf",
    "eprintf",
    "flush-output",
    "read",
    "eval",
    "load",
    "run-script",
    "command-line-arguments",
    "exit",
    "gensym",
    "set!",
    "require",
    "provide",
    "test-begin",
    "test-end",
    "test-counts",
    "test-note",
];

/// Protocol bindings that are pure functions and so allowed in subcontract code.
pub const PURE_BINDINGS: &[&str] = &[
    "keccak256",
    "sha256",
    "verify",
    "recover",
    "rlp-encode",
    "rlp-decode",
    "abi-encode",
    "merkle-root",
    "merkle-proof",
    "merkle-verify",
    "hex",
];

/// Helpers every subcontract may use, and the `subcontract` form itself.
const SANDBOX_PRELUDE: &str = r#"
(define-syntax subcontract
  (syntax-rules ()
    [(_ name (method (params args ctx) body ...) ...)
     (list 'name (list->hash (list (cons 'method (lambda (params args ctx) body ...)) ...)))]))
(define (peer-of side) (if (eq? side 'left) 'right 'left))
(define (caller-is-owner? ctx) (eq? (hash-ref ctx #:caller) (hash-ref ctx #:owner)))
"#;

/// The engine. Cheap to create; it builds its interpreter on first use and keeps it, but
/// no call can leave anything behind in it (see the module documentation).
#[derive(Default)]
pub struct SandboxEngine {
    interp: Option<Interp>,
    parsed: HashMap<[u8; 32], Rc<Syntax>>,
    tampering: bool,
}

impl std::fmt::Debug for SandboxEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxEngine")
            .field("parsed", &self.parsed.len())
            .field("tampering", &self.tampering)
            .finish()
    }
}

impl Clone for SandboxEngine {
    /// A fresh engine (interpreters are not shared): clones of a simulator get their own.
    fn clone(&self) -> Self {
        SandboxEngine {
            interp: None,
            parsed: HashMap::new(),
            tampering: self.tampering,
        }
    }
}

impl SandboxEngine {
    /// A fresh, honest engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call add one unit to each transfer (a byzantine replica's altered
    /// code), or stops it.
    pub fn set_tampering(&mut self, on: bool) {
        self.tampering = on;
    }

    fn interp(&mut self) -> &mut Interp {
        self.interp.get_or_insert_with(|| {
            // The language's sandbox: no files, clock, environment or process control
            // (E021), output discarded, ordered iteration, per-object and heap bounds. The
            // step budget is set per call below.
            let limits = Limits {
                max_depth: SUBCONTRACT_DEPTH_MAX,
                step_budget: None,
                ..Limits::sandbox()
            };
            let mut interp = Interp::sandboxed_with(limits, &[pure_bindings()]);
            interp.module = interp.modules.new_module("subcontract", None);
            if let Err(e) = interp.eval_source("<subcontract prelude>", SANDBOX_PRELUDE) {
                // Ships with the binary: failing to load it is a build defect, and every
                // call will then fail with the unbound `subcontract` form.
                eprintln!(
                    "xln: internal error in the subcontract prelude: {}",
                    e.message
                );
            }
            interp
        })
    }

    /// The code's form, parsed once per hash and checked against [`FORBIDDEN`].
    fn parse(&mut self, hash: &[u8; 32], code: &[u8]) -> Result<Rc<Syntax>, String> {
        if let Some(form) = self.parsed.get(hash) {
            return Ok(form.clone());
        }
        let form = Rc::new(parse_code(code)?);
        if self.parsed.len() >= PARSED_CODES_MAX {
            self.parsed.clear();
        }
        self.parsed.insert(*hash, form.clone());
        Ok(form)
    }

    /// Evaluates the code afresh: its name and its method table.
    fn methods(&mut self, hash: &[u8; 32], code: &[u8]) -> Result<(String, Value), String> {
        let form = self.parse(hash, code)?;
        let interp = self.interp();
        let saved = interp.limits.step_budget;
        interp.limits.step_budget = Some(interp.steps.saturating_add(SUBCONTRACT_STEP_BUDGET));
        let evaluated = interp.eval_toplevel(&form);
        interp.limits.step_budget = saved;
        let value = evaluated.map_err(|e| format!("{} {}", e.code.as_str(), e.message))?;
        match value.list_to_vec().as_deref() {
            Some([Value::Symbol(name), table @ Value::Map(_)]) => {
                Ok((name.name().to_string(), table.clone()))
            }
            _ => Err(
                "the code is not a (subcontract NAME (METHOD (params args ctx) ...) ...) form"
                    .into(),
            ),
        }
    }
}

impl SubcontractEngine for SandboxEngine {
    fn check_code(&mut self, code: &[u8]) -> Result<(), String> {
        let hash = crate::crypto::keccak256(code);
        self.methods(&hash, code).map(|_| ())
    }

    fn call(&mut self, call: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
        let (name, table) = self.methods(call.code_hash, call.code)?;
        let Value::Map(methods) = &table else {
            return Err("corrupt method table".into());
        };
        let method = methods
            .get(&Value::sym(call.method))
            .cloned()
            .ok_or_else(|| format!("subcontract `{name}` has no method `{}`", call.method))?;
        let ctx = context(call);
        let tampering = self.tampering;
        let interp = self.interp();
        let saved = interp.limits.step_budget;
        interp.limits.step_budget = Some(interp.steps.saturating_add(SUBCONTRACT_STEP_BUDGET));
        let result = interp.apply(
            &method,
            vec![data_to_value(call.params), data_to_value(call.args), ctx],
            Span::default(),
        );
        interp.limits.step_budget = saved;
        interp.depth = 0;
        interp.stack.clear();
        interp.exception_handlers.clear();
        let value = result.map_err(|e| format!("{} {}", e.code.as_str(), e.message))?;
        let mut effect = effect_from_value(&value, call)?;
        if tampering {
            for (_, _, amount) in &mut effect.transfers {
                *amount += 1;
            }
        }
        Ok(effect)
    }
}

/// The context map a method receives.
fn context(call: &SubcontractCall<'_>) -> Value {
    let k = |n: &str| Value::Keyword(Sym::new(n));
    let holds: imbl::OrdMap<Value, Value> = call
        .holds
        .iter()
        .map(|(t, a)| {
            (
                Value::from_bigint(BigInt::from(*t)),
                Value::from_bigint(a.clone()),
            )
        })
        .collect();
    Value::Map(Rc::new(
        [
            (k("caller"), side_symbol(call.caller)),
            (k("owner"), side_symbol(call.owner)),
            (k("height"), Value::from_bigint(BigInt::from(call.height))),
            (
                k("timestamp"),
                Value::from_bigint(BigInt::from(call.timestamp)),
            ),
            (k("holds"), Value::Map(Rc::new(holds))),
        ]
        .into_iter()
        .collect(),
    ))
}

/// `'left` or `'right`.
pub fn side_symbol(side: Side) -> Value {
    Value::sym(match side {
        Side::Left => "left",
        Side::Right => "right",
    })
}

fn side_from_value(v: &Value, call: &SubcontractCall<'_>) -> Result<Side, String> {
    match v {
        Value::Symbol(s) => match &*s.name() {
            "left" => Ok(Side::Left),
            "right" => Ok(Side::Right),
            "owner" => Ok(call.owner),
            "peer" => Ok(call.owner.other()),
            "caller" => Ok(call.caller),
            other => Err(format!(
                "unknown side `{other}` (use left, right, owner, peer or caller)"
            )),
        },
        other => Err(format!(
            "a transfer's side must be a symbol, got {}",
            other.type_name()
        )),
    }
}

fn effect_from_value(v: &Value, call: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
    let Value::Map(m) = v else {
        return Err(format!(
            "a subcontract method returns {{#:transfers ... #:params ... #:close ...}}, got {}",
            v.type_name()
        ));
    };
    let get = |n: &str| m.get(&Value::Keyword(Sym::new(n))).cloned();
    let mut transfers = Vec::new();
    let listed = get("transfers").unwrap_or(Value::Nil);
    let items = listed
        .list_to_vec()
        .ok_or("#:transfers must be a list of (token side amount)")?;
    if items.len() > crate::account::EFFECT_TRANSFERS_MAX {
        return Err(format!(
            "{} transfers, at most {}",
            items.len(),
            crate::account::EFFECT_TRANSFERS_MAX
        ));
    }
    for t in items {
        match t.list_to_vec().as_deref() {
            Some([token, side, amount]) => {
                let token = to_bigint(token)
                    .and_then(|t| TokenId::try_from(t).ok())
                    .ok_or("a transfer's token must be a non-negative integer")?;
                let amount = to_bigint(amount).ok_or("a transfer's amount must be an integer")?;
                transfers.push((token, side_from_value(side, call)?, amount));
            }
            _ => return Err("each transfer is (token side amount)".into()),
        }
    }
    let params = match get("params") {
        Some(p) => value_to_data(&p).map_err(|e| e.message.clone())?,
        None => call.params.clone(),
    };
    let close = get("close").is_some_and(|c| c.is_true());
    Ok(SubcontractEffect {
        transfers,
        params,
        close,
    })
}

/// Reads code bytes as one `(subcontract NAME ...)` form and refuses forbidden names.
///
/// # Errors
/// Not UTF-8, not exactly one form, not a `subcontract` form, or a forbidden name used.
pub fn parse_code(code: &[u8]) -> Result<Syntax, String> {
    let text = std::str::from_utf8(code).map_err(|_| "subcontract code is not UTF-8 text")?;
    let file = add_source("<subcontract code>", text);
    let mut forms = read_all(text, file).map_err(|errors| {
        errors
            .first()
            .map_or_else(|| "unreadable".to_string(), |e| e.message.clone())
    })?;
    if forms.len() != 1 {
        return Err(format!("subcontract code is one form, got {}", forms.len()));
    }
    let form = forms.remove(0);
    let head = form.list().and_then(|items| items.first());
    if !head.is_some_and(|h| h.is_symbol("subcontract")) {
        return Err("subcontract code must be a (subcontract NAME ...) form".into());
    }
    let forbidden = forbidden_names();
    let mut stack = vec![&form];
    while let Some(node) = stack.pop() {
        match &node.datum {
            Datum::Symbol(s) => {
                if forbidden.contains(&*s.name()) {
                    return Err(format!(
                        "subcontract code may not use `{}` (no I/O, evaluation, mutation of globals or protocol state inside consensus)",
                        s.name()
                    ));
                }
            }
            Datum::List(items)
            | Datum::Vector(items)
            | Datum::ConstVector(items)
            | Datum::Map(items)
            | Datum::Set(items)
            | Datum::Struct(items) => stack.extend(items.iter()),
            Datum::Dotted(items, tail) => {
                stack.extend(items.iter());
                stack.push(tail);
            }
            Datum::Atom(_) => {}
        }
    }
    Ok(form)
}

/// The protocol bindings named in [`PURE_BINDINGS`], as one native table for the sandbox
/// (built once; the sandbox caches its prepared builtins per table).
fn pure_bindings() -> &'static [Primitive] {
    static TABLE: std::sync::OnceLock<Vec<Primitive>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        crate::bindings::tables()
            .into_iter()
            .flat_map(|(_, table)| table.iter())
            .filter(|p| PURE_BINDINGS.contains(&p.name))
            .map(|p| Primitive {
                name: p.name,
                min_args: p.min_args,
                max_args: p.max_args,
                func: p.func,
                doc: p.doc,
                example: p.example,
            })
            .collect()
    })
}

/// [`FORBIDDEN`] plus every protocol binding that is not in [`PURE_BINDINGS`].
fn forbidden_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = FORBIDDEN.iter().map(|s| s.to_string()).collect();
    for (_, table) in crate::bindings::tables() {
        for p in table {
            if !PURE_BINDINGS.contains(&p.name) {
                names.insert(p.name.to_string());
            }
        }
    }
    names
}

/// The name a code gives itself (`htlc` in `(subcontract htlc ...)`), if it reads.
pub fn code_name(code: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(code).ok()?;
    let rest = text.trim_start().strip_prefix("(subcontract")?;
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ')' && *c != '(')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Codes by name, for messages: `{name: hash}` of the given codes.
pub fn names_of(codes: &BTreeMap<[u8; 32], Vec<u8>>) -> BTreeMap<String, String> {
    codes
        .iter()
        .map(|(h, c)| (code_name(c).unwrap_or_else(|| "?".into()), short_hex(h)))
        .collect()
}

/// Converts a method argument map for callers (kept here so the layers above share one
/// conversion): `Data` from a script value.
///
/// # Errors
/// As [`value_to_data`], as a message.
pub fn data_of(v: &Value) -> Result<Data, String> {
    value_to_data(v).map_err(|e| e.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pure_binding_is_in_the_sandbox_table() {
        let names: BTreeSet<&str> = pure_bindings().iter().map(|p| p.name).collect();
        let wanted: BTreeSet<&str> = PURE_BINDINGS.iter().copied().collect();
        assert_eq!(names, wanted, "a pure binding was renamed or removed");
    }
    use crate::account::{AccountState, AccountTx};
    use crate::crypto::{keccak256, Address};

    const ESCROW: &str = "(subcontract escrow (release (params args ctx) {#:transfers (list (list 1 'owner (hash-ref args #:amount)))}) (spin (params args ctx) (let loop () (loop))))";

    #[test]
    fn forbidden_names_are_refused_at_install() {
        let mut engine = SandboxEngine::new();
        assert!(engine.check_code(ESCROW.as_bytes()).is_ok());
        for bad in [
            "(subcontract x (m (p a c) (display 1)))",
            "(subcontract x (m (p a c) (set! p 1)))",
            "(subcontract x (m (p a c) (pay! 1 2 3 4)))",
            "(subcontract x (m (p a c) (eval '(+ 1 2))))",
            "(define x 1)",
            "(subcontract x) (subcontract y)",
            "(subcontract x (m (p a c)",
        ] {
            assert!(engine.check_code(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(engine
            .check_code(b"(subcontract h (m (p a c) (keccak256 #x\"00\")))")
            .is_ok());
    }

    #[test]
    fn calls_run_in_budget_and_leave_nothing_behind() {
        let mut engine = SandboxEngine::new();
        let mut state = AccountState::new(Address([1; 20]), Address([2; 20]));
        let install = AccountTx::InstallCode {
            code: ESCROW.as_bytes().to_vec(),
        };
        state
            .apply_tx(&install, Side::Left, 1, 0, &mut engine)
            .unwrap();
        let hash = keccak256(ESCROW.as_bytes());
        let holds = BTreeMap::from([(1u64, BigInt::from(10))]);
        let args = Data::Map(BTreeMap::from([("amount".into(), Data::Int(4.into()))]));
        let call = |method: &'static str| SubcontractCall {
            code_hash: &hash,
            code: ESCROW.as_bytes(),
            method,
            params: &Data::Bool(true),
            args: &args,
            caller: Side::Left,
            owner: Side::Left,
            holds: &holds,
            height: 1,
            timestamp: 0,
        };
        let first = engine.call(&call("release")).unwrap();
        assert_eq!(first.transfers, vec![(1, Side::Left, BigInt::from(4))]);
        let spun = engine.call(&call("spin")).unwrap_err();
        assert!(spun.starts_with("E009"), "{spun}");
        assert_eq!(engine.call(&call("release")).unwrap(), first);
        assert!(engine.call(&call("nope")).is_err());
        engine.set_tampering(true);
        assert_eq!(
            engine.call(&call("release")).unwrap().transfers,
            vec![(1, Side::Left, BigInt::from(5))]
        );
        assert_eq!(code_name(ESCROW.as_bytes()).as_deref(), Some("escrow"));
    }
}
