//! Node bindings: scripts and the REPL drive a live `xln node` over its JSON-RPC API with
//! the simulator's shapes. `(connect-node! URL)` (or `xln repl --node URL`) picks the node;
//! then the node twins of the simulator builtins take entity *names* (as configured) where
//! the simulator takes entity handles, and return the same values:
//!
//! | simulator | live node |
//! |---|---|
//! | `submit!` | `node-submit!` (same kinds and arguments; peers by name) |
//! | `tx-outcome` | `node-tx-outcome` |
//! | `entity-account` | `node-entity-account` (same keys) |
//! | `entity-height`, `entity-state-hash` | `node-entity-height`, `node-entity-state-hash` |
//! | `run-until-quiet!` | `node-wait-until-quiet!` (waits on the node, bounded by a timeout in ms) |
//!
//! Twins rather than the same names: a simulated entity is a handle into the interpreter's
//! simulator, a node's entity is a name on another process, and a script that mixes both
//! (simulate, then compare with a live network) must say which it means.

use std::any::Any;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::lang::builtins::{bytes_arg, index_arg, str_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, Primitive, Value};
use crate::node::client::NodeClient;

type R = Result<Value, LangError>;

/// How long `node-wait-until-quiet!` waits by default.
const QUIET_MS_DEFAULT: u64 = 60_000;

/// The connected node of one interpreter.
struct NodeConnection {
    client: NodeClient,
}

/// A handle to a connected node (what `connect-node!` returns).
pub struct NodeHandle {
    url: String,
}

impl NativeObject for NodeHandle {
    fn type_name(&self) -> &'static str {
        "node"
    }
    fn describe(&self) -> String {
        format!("#<node {}>", self.url)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equal(&self, other: &dyn NativeObject) -> bool {
        other
            .as_any()
            .downcast_ref::<NodeHandle>()
            .is_some_and(|o| o.url == self.url)
    }
}

/// Connects `interp` to the node at `url` (checking that it answers); the node builtins
/// use it from then on. Used by `(connect-node! URL)` and `xln repl --node URL`.
///
/// # Errors
/// The node does not answer.
pub fn connect(interp: &mut Interp, url: &str, token: Option<String>) -> Result<String, String> {
    let client = NodeClient::connect(url, token)?;
    let status = client.status()?;
    interp
        .extensions
        .insert("node", Box::new(NodeConnection { client }) as Box<dyn Any>);
    Ok(format!(
        "connected to node {} at {url}",
        status["node"].as_str().unwrap_or("?")
    ))
}

fn client<'a>(interp: &'a mut Interp, who: &str) -> Result<&'a NodeClient, LangError> {
    interp
        .extensions
        .get("node")
        .and_then(|b| b.downcast_ref::<NodeConnection>())
        .map(|c| &c.client)
        .ok_or_else(|| {
            value_error(who, "no node connected").with_hint(
                "(connect-node! \"http://127.0.0.1:7201\"), or start `xln repl --node URL`",
            )
        })
}

fn call(interp: &mut Interp, who: &str, method: &str, params: Json) -> Result<Json, LangError> {
    let r = client(interp, who)?
        .call(method, params)
        .map_err(|e| LangError::new(Code::Value, format!("{who}: {e}")))?;
    match r.get("error").and_then(Json::as_str) {
        Some(e) => Err(value_error(who, e)),
        None => Ok(r),
    }
}

/// An entity named by a string or symbol.
fn name(a: &[Value], i: usize, who: &str) -> Result<String, LangError> {
    match &a[i] {
        Value::Str(s) => Ok(s.to_string()),
        Value::Symbol(s) => Ok(s.name().to_string()),
        v => Err(type_error(who, i, "an entity name (a string or symbol)", v)),
    }
}

fn amount(a: &[Value], i: usize, who: &str) -> Result<String, LangError> {
    to_bigint(&a[i])
        .map(|n| n.to_string())
        .ok_or_else(|| type_error(who, i, "an integer amount", &a[i]))
}

fn hash_value(r: &Json, who: &str) -> R {
    let hex = r["tx_hash"]
        .as_str()
        .ok_or_else(|| value_error(who, "the node returned no tx hash"))?;
    hex_bytes(hex, who)
}

fn hex_bytes(hex: &str, who: &str) -> R {
    crate::crypto::readable::from_hex(hex)
        .map(|b| Value::bytes(&b))
        .map_err(|e| value_error(who, format!("bad hex from the node: {e}")))
}

fn number(j: &Json) -> Value {
    match j {
        Json::String(s) => s
            .parse::<num_bigint::BigInt>()
            .map_or_else(|_| Value::string(s), Value::from_bigint),
        Json::Number(n) => n.as_i64().map_or(Value::Void, Value::Int),
        Json::Bool(b) => Value::Bool(*b),
        _ => Value::Void,
    }
}

fn connect_node(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "connect-node!";
    let url = str_arg(a, 0, who)?.to_string();
    let token = match a.get(1) {
        Some(_) => Some(str_arg(a, 1, who)?.to_string()),
        None => None,
    };
    connect(interp, &url, token).map_err(|e| value_error(who, e))?;
    Ok(Value::Native(Rc::new(NodeHandle { url })))
}

fn status(interp: &mut Interp, _: &[Value], _: Span) -> R {
    let who = "node-status";
    let s = call(interp, who, "xln_status", json!({}))?;
    let replicas: Vec<Value> = s["replicas"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    Value::list(vec![
                        Value::string(r["name"].as_str().unwrap_or("")),
                        Value::string(r["validator"].as_str().unwrap_or("")),
                        number(&r["height"]),
                        hex_bytes(r["state_hash"].as_str().unwrap_or("0x"), who)
                            .unwrap_or(Value::Void),
                        Value::Bool(r["idle"] == json!(true)),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(super::accounts::map_of(vec![
        ("node", Value::string(s["node"].as_str().unwrap_or(""))),
        ("records", number(&s["records"])),
        (
            "state-hash",
            hex_bytes(s["state_hash"].as_str().unwrap_or("0x"), who)?,
        ),
        ("replicas", Value::list(replicas)),
    ]))
}

/// `(node-submit! entity 'kind args ...)`: the kinds of `submit!`.
fn submit(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "node-submit!";
    let entity = name(a, 0, who)?;
    let kind = match &a[1] {
        Value::Symbol(s) => s.name().to_string(),
        v => return Err(type_error(who, 1, "a transaction kind symbol", v)),
    };
    let args = &a[2..];
    let need = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(value_error(who, format!("`{kind}` takes {n} arguments")))
        }
    };
    let tx = match kind.as_str() {
        "message" => {
            need(1)?;
            json!({ "kind": "message", "text": str_arg(args, 0, who)?.to_string() })
        }
        "payment" => {
            need(4)?;
            json!({ "kind": "payment", "from": name(args, 0, who)?, "to": name(args, 1, who)?,
                    "token": index_arg(args, 2, who)?, "amount": amount(args, 3, who)? })
        }
        "open-account" => {
            need(1)?;
            json!({ "kind": "open-account", "peer": name(args, 0, who)? })
        }
        "account-payment" | "set-credit" => {
            need(3)?;
            json!({ "kind": kind, "peer": name(args, 0, who)?, "token": index_arg(args, 1, who)?,
                    "amount": amount(args, 2, who)? })
        }
        "set-fee-policy" => {
            need(3)?;
            json!({ "kind": "set-fee-policy", "base": amount(args, 0, who)?,
                    "ppm": index_arg(args, 1, who)?, "timeout_delta": index_arg(args, 2, who)? })
        }
        "propose" => {
            need(2)?;
            json!({ "kind": "propose", "id": index_arg(args, 0, who)?, "text": str_arg(args, 1, who)?.to_string() })
        }
        "vote" => {
            need(2)?;
            json!({ "kind": "vote", "id": index_arg(args, 0, who)?, "yes": args[1].is_true() })
        }
        other => return Err(
            value_error(who, format!("unknown entity transaction `{other}`")).with_hint(
                "kinds: message, payment, open-account, account-payment, set-credit, set-fee-policy (base ppm timeout-delta-ms), propose, vote",
            ),
        ),
    };
    let r = call(
        interp,
        who,
        "xln_submit",
        json!({ "entity": entity, "tx": tx }),
    )?;
    hash_value(&r, who)
}

fn pay(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "node-pay!";
    let params = json!({ "from": name(a, 0, who)?, "to": name(a, 1, who)?,
                         "token": index_arg(a, 2, who)?, "amount": amount(a, 3, who)? });
    let r = call(interp, who, "xln_pay", params)?;
    hash_value(&r, who)
}

fn outcome(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "node-tx-outcome";
    let hash = bytes_arg(a, 0, who)?;
    let hex = crate::crypto::readable::to_hex(hash);
    let o = call(interp, who, "xln_txOutcome", json!({ "tx_hash": hex }))?;
    let reason = || Value::string(o["reason"].as_str().unwrap_or(""));
    Ok(match o["outcome"].as_str() {
        Some("applied") => Value::sym("applied"),
        Some("rejected") => Value::list(vec![Value::sym("rejected"), reason()]),
        Some("dropped") => Value::list(vec![Value::sym("dropped"), reason()]),
        _ => Value::sym("pending"),
    })
}

fn entity_account(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "node-entity-account";
    let params = json!({ "entity": name(a, 0, who)?, "peer": name(a, 1, who)?, "token": index_arg(a, 2, who)? });
    let v = call(interp, who, "xln_account", params)?;
    let side = v["side"].as_str().unwrap_or("left");
    Ok(super::accounts::map_of(vec![
        ("side", Value::sym(side)),
        ("height", number(&v["height"])),
        ("delta", number(&v["delta"])),
        ("left-credit-limit", number(&v["left_credit_limit"])),
        ("right-credit-limit", number(&v["right_credit_limit"])),
        ("in-flight", number(&v["in_flight"])),
        ("queued", number(&v["queued"])),
        ("sent", number(&v["sent"])),
        ("received", number(&v["received"])),
        (
            "state-hash",
            hex_bytes(v["state_hash"].as_str().unwrap_or("0x"), who)?,
        ),
    ]))
}

fn entity_field(
    interp: &mut Interp,
    a: &[Value],
    who: &str,
    field: &str,
) -> Result<Json, LangError> {
    let v = call(
        interp,
        who,
        "xln_entity",
        json!({ "entity": name(a, 0, who)? }),
    )?;
    Ok(v[field].clone())
}

fn entity_height(interp: &mut Interp, a: &[Value], _: Span) -> R {
    Ok(number(&entity_field(
        interp,
        a,
        "node-entity-height",
        "height",
    )?))
}

fn entity_state_hash(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "node-entity-state-hash";
    let h = entity_field(interp, a, who, "state_hash")?;
    hex_bytes(h.as_str().unwrap_or("0x"), who)
}

fn wait_quiet(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let who = "node-wait-until-quiet!";
    let ms = match a.first() {
        Some(_) => index_arg(a, 0, who)? as u64,
        None => QUIET_MS_DEFAULT,
    };
    let quiet = client(interp, who)?
        .wait_quiet(Duration::from_millis(ms))
        .map_err(|e| value_error(who, e))?;
    Ok(Value::Bool(quiet))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "connect-node!", 1, Some(2), connect_node, "Connects to a live `xln node` by its JSON-RPC URL (and token, if it has one); the node-* builtins use it.", "(connect-node! \"http://127.0.0.1:7201\")";
    "node-status", 0, Some(0), status, "The connected node: #:node name, #:records in its WAL, #:state-hash, #:replicas ((entity validator height state-hash idle?) ...).", "(node-status)";
    "node-submit!", 2, None, submit, "(node-submit! entity 'kind args ...): submit! on a live node; entities by name. Returns the tx hash once it is durable.", "(node-submit! \"hub\" 'account-payment \"alice\" 1 10)";
    "node-pay!", 4, Some(4), pay, "(node-pay! from to token amount): a payment through the account from -> to on the live node. Returns the tx hash.", "(node-pay! \"hub\" \"alice\" 1 10)";
    "node-tx-outcome", 1, Some(1), outcome, "tx-outcome on the live node: 'pending, 'applied, (rejected reason) or (dropped reason).", "(node-tx-outcome h) => applied";
    "node-entity-account", 3, Some(3), entity_account, "(node-entity-account entity peer token): entity-account on the live node (same keys).", "(node-entity-account \"alice\" \"hub\" 1)";
    "node-entity-height", 1, Some(1), entity_height, "Committed height of the node's replica of an entity.", "(node-entity-height \"hub\") => 12";
    "node-entity-state-hash", 1, Some(1), entity_state_hash, "State hash of the node's replica of an entity.", "(node-entity-state-hash \"hub\")";
    "node-wait-until-quiet!", 0, Some(1), wait_quiet, "Waits (at most ms, default 60000) until every replica of the node is idle; #t if it became quiet.", "(node-wait-until-quiet! 10000) => #t";
];
