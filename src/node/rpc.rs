//! The client API: JSON-RPC 2.0 over HTTP and WebSocket (`jsonrpsee`), on the node's
//! `#:rpc` address (loopback unless a token is configured; with a token every call must
//! carry it as `"auth"`). Params are one JSON object; entities are named by their
//! configured name or their `0x` id; amounts are decimal strings (exact integers).
//!
//! | method | params | result |
//! |---|---|---|
//! | `xln_status` | — | node name, WAL records, node state hash, each replica's entity, validator, height, state hash, idle |
//! | `xln_submit` | `entity`, `tx` (`{"kind": …}`, kinds below) | `tx_hash` (once the submission is durable) |
//! | `xln_pay` | `from`, `to`, `token`, `amount` | `tx_hash` of the `account-payment` (a direct payment over their account) |
//! | `xln_payRouted` | `from`, `to`, `token`, `amount` | `tx_hash` of the routed payment the node planned over its replica's gossip view (the receiver's lock times out [`ROUTE_FINAL_MARGIN_MS`](super::core::ROUTE_FINAL_MARGIN_MS) after now) |
//! | `xln_paymentStatus` | `entity` (the sender), `tx_hash` | `pending`, `settled` or `failed` (+ `kind`, `reason`), and the payment's parts |
//! | `xln_txOutcome` | `tx_hash` | `pending`, `applied`, `rejected` or `dropped` (+ `height`, `reason`) |
//! | `xln_entity` | `entity` | height, state hash, board, reserves, account peers, account txs refused after queueing |
//! | `xln_account` | `entity`, `peer`, `token` | side, height, delta, credit limits, in-flight, queued, open locks, sent, received, state hash |
//! | `xln_subscribe` | — | notifications `xln_event`: `committed` (entity, validator, height, state hash), `account` (entity, peer, height), `evidence`, and [`telemetry`](super::telemetry)'s `lock` and `payment` |
//! | `xln_view` | — | every replica here as the web view draws it ([`super::web::view`]) |
//!
//! The same port answers `GET /`, `/metrics` and `/api/network` ([`super::web`]).
//!
//! Tx kinds: `message {text}`, `payment {from, to, token, amount}` (reserves),
//! `open-account {peer}`, `account-payment {peer, token, amount}`, `set-credit {peer,
//! token, amount}`, `set-fee-policy {base, ppm, timeout_delta}` (timeout delta in the
//! node's clock unit, milliseconds), `propose {id, text}`, `vote {id, yes}`.

use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use num_bigint::BigInt;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::core::{CoreEvent, CoreView, Directory, Outcome};
use crate::account::AccountTx;
use crate::crypto::readable::{from_hex, to_hex};
use crate::entity::{EntityId, EntityTx, FeePolicy, Holder, PaymentStatus, ProposalAction};

/// The context every method sees.
pub struct RpcContext {
    /// The core's input channel.
    pub core: mpsc::Sender<CoreEvent>,
    /// Events for subscribers.
    pub events: broadcast::Sender<Value>,
    /// The token calls must carry, if any.
    pub token: Option<String>,
    /// Entity names and boards (to resolve names and build open-account txs).
    pub entities: Vec<(String, crate::entity::Board)>,
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// A client error: bad params (-32602).
fn bad(message: impl Into<String>) -> ErrorObjectOwned {
    error(-32602, message)
}

type RpcResult = Result<Value, ErrorObjectOwned>;

impl RpcContext {
    pub(crate) fn check_token(&self, params: &Value) -> Result<(), ErrorObjectOwned> {
        match &self.token {
            None => Ok(()),
            Some(t) if params.get("auth").and_then(Value::as_str) == Some(t.as_str()) => Ok(()),
            Some(_) => Err(error(
                -32001,
                "unauthorized: this node requires its RPC token",
            )),
        }
    }

    /// An entity named by its configured name or `0x` id.
    fn entity(&self, params: &Value, key: &str) -> Result<EntityId, ErrorObjectOwned> {
        let name = text(params, key)?;
        if let Some((_, b)) = self.entities.iter().find(|(n, _)| *n == name) {
            return Ok(b.entity_id());
        }
        from_hex(&name)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| bad(format!("#{key}: no entity named {name:?}")))
    }

    fn board(&self, id: &EntityId) -> Result<crate::entity::Board, ErrorObjectOwned> {
        self.entities
            .iter()
            .find(|(_, b)| b.entity_id() == *id)
            .map(|(_, b)| b.clone())
            .ok_or_else(|| bad("the peer's board is not in this node's configuration"))
    }

    pub(crate) async fn ask(&self, q: super::core::Query) -> RpcResult {
        let (tx, rx) = oneshot::channel();
        self.core
            .send(CoreEvent::Query(q, tx))
            .await
            .map_err(|_| error(-32000, "the node is stopping"))?;
        rx.await.map_err(|_| error(-32000, "the node is stopping"))
    }

    async fn submit(&self, entity: EntityId, tx: EntityTx) -> RpcResult {
        let (reply, rx) = oneshot::channel();
        self.core
            .send(CoreEvent::Submit { entity, tx, reply })
            .await
            .map_err(|_| error(-32000, "the node is stopping"))?;
        match rx.await {
            Ok(Ok(hash)) => Ok(json!({ "tx_hash": to_hex(&hash) })),
            Ok(Err(why)) => Err(error(-32010, why)),
            Err(_) => Err(error(-32000, "the node is stopping")),
        }
    }

    fn tx(&self, tx: &Value) -> Result<EntityTx, ErrorObjectOwned> {
        let kind = text(tx, "kind")?;
        let peer = || self.entity(tx, "peer");
        Ok(match kind.as_str() {
            "message" => EntityTx::Message { text: text(tx, "text")? },
            "payment" => EntityTx::Payment {
                from: Holder::Name(text(tx, "from")?),
                to: Holder::Name(text(tx, "to")?),
                token: number(tx, "token")?,
                amount: amount(tx, "amount")?,
            },
            "open-account" => {
                let peer = peer()?;
                EntityTx::OpenAccount { peer, peer_board: self.board(&peer)? }
            }
            "account-payment" => EntityTx::Account {
                peer: peer()?,
                tx: AccountTx::Pay {
                    token: number(tx, "token")?,
                    amount: amount(tx, "amount")?,
                },
            },
            "set-credit" => EntityTx::Account {
                peer: peer()?,
                tx: AccountTx::SetCreditLimit {
                    token: number(tx, "token")?,
                    amount: amount(tx, "amount")?,
                },
            },
            "set-fee-policy" => EntityTx::SetFeePolicy(FeePolicy {
                base: amount(tx, "base")?,
                ppm: u32::try_from(number(tx, "ppm")?)
                    .map_err(|_| bad("\"ppm\" is at most 2^32 - 1"))?,
                timeout_delta: number(tx, "timeout_delta")?,
            }),
            "propose" => EntityTx::Propose {
                id: number(tx, "id")?,
                action: ProposalAction::Text(text(tx, "text")?),
            },
            "vote" => EntityTx::Vote {
                id: number(tx, "id")?,
                yes: tx.get("yes").and_then(Value::as_bool).ok_or_else(|| bad("vote needs \"yes\": true|false"))?,
            },
            other => return Err(bad(format!(
                "unknown tx kind {other:?}; kinds: message, payment, open-account, account-payment, set-credit, set-fee-policy, propose, vote"
            ))),
        })
    }
}

fn text(v: &Value, key: &str) -> Result<String, ErrorObjectOwned> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad(format!("needs \"{key}\": a string")))
}

fn number(v: &Value, key: &str) -> Result<u64, ErrorObjectOwned> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| bad(format!("needs \"{key}\": a non-negative integer")))
}

fn amount(v: &Value, key: &str) -> Result<BigInt, ErrorObjectOwned> {
    let s = match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => {
            return Err(bad(format!(
                "needs \"{key}\": an integer (a decimal string)"
            )))
        }
    };
    s.parse()
        .map_err(|_| bad(format!("\"{key}\" {s:?} is not an integer")))
}

fn hash_param(v: &Value, key: &str) -> Result<[u8; 32], ErrorObjectOwned> {
    let s = text(v, key)?;
    from_hex(&s)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| bad(format!("\"{key}\" must be a 0x-hex 32-byte hash")))
}

/// The status of every replica (also the node's state hash).
pub fn status(view: &CoreView<'_>) -> Value {
    let replicas: Vec<Value> = view
        .replicas
        .iter()
        .map(|(id, r)| {
            json!({
                "entity": to_hex(&id.entity),
                "name": view.directory.name(&id.entity),
                "validator": id.validator.to_checksum(),
                "height": r.height(),
                "state_hash": to_hex(&r.state_hash()),
                "idle": r.is_idle(),
                "mempool": r.mempool_len(),
            })
        })
        .collect();
    json!({
        "node": view.name,
        "records": view.records,
        "state_hash": to_hex(&view.replicas.state_hash()),
        "replicas": replicas,
    })
}

fn replica_of<'a>(
    view: &'a CoreView<'_>,
    entity: &EntityId,
) -> Option<&'a crate::entity::EntityReplica> {
    view.replicas
        .iter()
        .find(|(id, _)| id.entity == *entity)
        .map(|(_, r)| r)
}

fn entity_view(view: &CoreView<'_>, entity: &EntityId) -> Value {
    let Some(r) = replica_of(view, entity) else {
        return json!({ "error": "this node hosts no replica of that entity" });
    };
    let s = r.state();
    let reserves: Vec<Value> = s
        .reserves
        .iter()
        .map(|((h, t), a)| json!({ "holder": h.to_string(), "token": t, "amount": a.to_string() }))
        .collect();
    let accounts: Vec<Value> = s
        .accounts
        .keys()
        .map(|p| json!(view.directory.name(p)))
        .collect();
    let refused: Vec<Value> = s
        .log
        .iter()
        .filter_map(|e| match e {
            crate::entity::LogEntry::AccountTxRejected {
                peer,
                tx,
                rejection,
            } => Some(json!({
                "peer": view.directory.name(peer), "tx": tx.kind(),
                "kind": rejection.kind.name(), "reason": rejection.reason,
            })),
            _ => None,
        })
        .collect();
    json!({
        "entity": to_hex(entity),
        "name": view.directory.name(entity),
        "account_txs_refused": refused,
        "height": r.height(),
        "state_hash": to_hex(&r.state_hash()),
        "validators": s.board.validators.iter().map(|v| v.address.to_checksum()).collect::<Vec<_>>(),
        "threshold": s.board.threshold,
        "reserves": reserves,
        "accounts": accounts,
        "fees_earned": s.payments.fees_earned.iter()
            .map(|(t, a)| json!({ "token": t, "amount": a.to_string() }))
            .collect::<Vec<_>>(),
        "known_profiles": r.gossip().profiles().count(),
    })
}

/// The routed payment `entity` sent with tx `tx`, per its committed state.
fn payment_view(view: &CoreView<'_>, entity: &EntityId, tx: &[u8; 32]) -> Value {
    let Some(r) = replica_of(view, entity) else {
        return json!({ "error": "this node hosts no replica of that entity" });
    };
    let Some(p) = r.state().payments.sent.values().find(|p| p.tx == *tx) else {
        return json!({ "status": "pending", "committed": false });
    };
    let (status, kind, reason) = match &p.status {
        PaymentStatus::Pending => ("pending", None, None),
        PaymentStatus::Settled => ("settled", None, None),
        PaymentStatus::Failed(r) => ("failed", Some(r.kind.name()), Some(r.reason.clone())),
    };
    json!({
        "status": status,
        "committed": true,
        "kind": kind,
        "reason": reason,
        "receiver": view.directory.name(&p.receiver),
        "total": p.total.to_string(),
        "token": p.token,
        "parts": p.parts.len(),
    })
}

/// One side's view of an account (the simulator's `entity-account` shape).
pub fn account_view(view: &CoreView<'_>, entity: &EntityId, peer: &EntityId, token: u64) -> Value {
    let Some(account) = replica_of(view, entity).and_then(|r| r.state().accounts.get(peer)) else {
        return json!({ "error": "no open account between these entities here" });
    };
    let m = &account.machine;
    let d = m.state.delta(token);
    json!({
        "side": match m.side { crate::account::Side::Left => "left", crate::account::Side::Right => "right" },
        "height": m.state.height,
        "delta": (&d.ondelta + &d.offdelta).to_string(),
        "left_credit_limit": d.left_credit_limit.to_string(),
        "right_credit_limit": d.right_credit_limit.to_string(),
        "in_flight": m.pending.is_some(),
        "queued": m.mempool.len(),
        "locks": m.state.subcontracts.len(),
        "sent": m.sent,
        "received": m.received,
        "state_hash": to_hex(&m.state.state_hash()),
    })
}

fn outcome_view(outcome: Option<&Outcome>) -> Value {
    match outcome {
        None => json!({ "outcome": "pending" }),
        Some(Outcome::Applied(h)) => json!({ "outcome": "applied", "height": h }),
        Some(Outcome::Rejected(h, why)) => {
            json!({ "outcome": "rejected", "height": h, "reason": why })
        }
        Some(Outcome::Dropped(why)) => json!({ "outcome": "dropped", "reason": why }),
    }
}

/// Registers every method on a module over `ctx`.
///
/// # Errors
/// A duplicate method name (a bug).
pub fn module(ctx: RpcContext) -> Result<RpcModule<RpcContext>, String> {
    let mut m = RpcModule::new(ctx);
    let e = |e: jsonrpsee::core::RegisterMethodError| e.to_string();
    m.register_async_method("xln_status", |p, ctx, _| async move {
        let p: Value = p.parse().unwrap_or(Value::Null);
        ctx.check_token(&p)?;
        ctx.ask(Box::new(status)).await
    })
    .map_err(e)?;
    m.register_async_method("xln_submit", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let entity = ctx.entity(&p, "entity")?;
        let tx = ctx.tx(p
            .get("tx")
            .ok_or_else(|| bad("needs \"tx\": {\"kind\": …}"))?)?;
        ctx.submit(entity, tx).await
    })
    .map_err(e)?;
    m.register_async_method("xln_pay", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let tx = EntityTx::Account {
            peer: ctx.entity(&p, "to")?,
            tx: AccountTx::Pay {
                token: number(&p, "token")?,
                amount: amount(&p, "amount")?,
            },
        };
        ctx.submit(ctx.entity(&p, "from")?, tx).await
    })
    .map_err(e)?;
    m.register_async_method("xln_payRouted", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let (reply, rx) = oneshot::channel();
        let event = CoreEvent::PayRouted {
            entity: ctx.entity(&p, "from")?,
            to: ctx.entity(&p, "to")?,
            token: number(&p, "token")?,
            amount: amount(&p, "amount")?,
            reply,
        };
        ctx.core
            .send(event)
            .await
            .map_err(|_| error(-32000, "the node is stopping"))?;
        match rx.await {
            Ok(Ok(hash)) => Ok(json!({ "tx_hash": to_hex(&hash) })),
            Ok(Err(why)) => Err(error(-32011, why)),
            Err(_) => Err(error(-32000, "the node is stopping")),
        }
    })
    .map_err(e)?;
    m.register_async_method("xln_paymentStatus", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let id = ctx.entity(&p, "entity")?;
        let hash = hash_param(&p, "tx_hash")?;
        ctx.ask(Box::new(move |v| payment_view(v, &id, &hash)))
            .await
    })
    .map_err(e)?;
    m.register_async_method("xln_txOutcome", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let hash = hash_param(&p, "tx_hash")?;
        ctx.ask(Box::new(move |v| outcome_view(v.outcomes.get(&hash))))
            .await
    })
    .map_err(e)?;
    m.register_async_method("xln_entity", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let id = ctx.entity(&p, "entity")?;
        ctx.ask(Box::new(move |v| entity_view(v, &id))).await
    })
    .map_err(e)?;
    m.register_async_method("xln_account", |p, ctx, _| async move {
        let p: Value = p.parse().map_err(|_| bad("params must be an object"))?;
        ctx.check_token(&p)?;
        let (id, peer) = (ctx.entity(&p, "entity")?, ctx.entity(&p, "peer")?);
        let token = number(&p, "token")?;
        ctx.ask(Box::new(move |v| account_view(v, &id, &peer, token)))
            .await
    })
    .map_err(e)?;
    m.register_subscription(
        "xln_subscribe",
        "xln_event",
        "xln_unsubscribe",
        |p, pending, ctx, _| async move {
            let p: Value = p.parse().unwrap_or(Value::Null);
            if let Err(e) = ctx.check_token(&p) {
                pending.reject(e).await;
                return Ok(());
            }
            let mut events = ctx.events.subscribe();
            let sink = pending.accept().await?;
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let raw = serde_json::value::to_raw_value(&event)?;
                        if sink.send(raw).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
        },
    )
    .map_err(e)?;
    Ok(m)
}

/// Starts the server on `addr`.
///
/// # Errors
/// The address cannot be bound, or a method registration failed.
pub async fn serve(
    addr: std::net::SocketAddr,
    ctx: RpcContext,
    site: std::sync::Arc<super::web::Site>,
) -> Result<(ServerHandle, std::net::SocketAddr), String> {
    let server = Server::builder()
        .set_http_middleware(tower::ServiceBuilder::new().layer(super::web::WebLayer(site)))
        .build(addr)
        .await
        .map_err(|e| format!("cannot listen for clients on {addr}: {e}"))?;
    let bound = server.local_addr().map_err(|e| e.to_string())?;
    let mut module = module(ctx)?;
    super::web::register(&mut module)?;
    Ok((server.start(module), bound))
}

/// For the directory's use in `mod.rs`: entity names and boards.
pub fn entity_boards(directory: &Directory) -> Vec<(String, crate::entity::Board)> {
    directory
        .entities
        .values()
        .map(|(n, b)| (n.clone(), b.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::host::Replicas;

    /// A core stand-in that answers queries over empty state.
    fn fake_core(rt: &tokio::runtime::Runtime) -> mpsc::Sender<CoreEvent> {
        let (tx, mut rx) = mpsc::channel::<CoreEvent>(8);
        rt.spawn(async move {
            let (replicas, outcomes) = (Replicas::new(), BTreeMap::new());
            let directory = Directory {
                entities: BTreeMap::new(),
                host_of: BTreeMap::new(),
            };
            while let Some(event) = rx.recv().await {
                if let CoreEvent::Query(q, reply) = event {
                    let view = CoreView {
                        name: "fake",
                        replicas: &replicas,
                        outcomes: &outcomes,
                        directory: &directory,
                        records: 7,
                    };
                    let _ = reply.send(q(&view));
                }
            }
        });
        tx
    }

    fn obj(v: Value) -> jsonrpsee::core::params::ObjectParams {
        let mut p = jsonrpsee::core::params::ObjectParams::new();
        if let Value::Object(m) = v {
            for (k, v) in m {
                p.insert(&k, v).unwrap();
            }
        }
        p
    }

    #[test]
    fn a_token_guards_every_call_and_params_are_checked() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let core = fake_core(&rt);
        let (events, _) = broadcast::channel(4);
        let ctx = RpcContext {
            core,
            events,
            token: Some("s3cret".into()),
            entities: Vec::new(),
        };
        let m = module(ctx).unwrap();
        rt.block_on(async {
            let denied: Result<Value, _> = m.call("xln_status", obj(json!({}))).await;
            assert!(denied.unwrap_err().to_string().contains("unauthorized"));
            let ok: Value = m
                .call("xln_status", obj(json!({ "auth": "s3cret" })))
                .await
                .unwrap();
            assert_eq!(ok["node"], "fake");
            assert_eq!(ok["records"], 7);
            let bad: Result<Value, _> = m
                .call(
                    "xln_pay",
                    obj(json!({ "auth": "s3cret", "from": "nobody", "to": "nobody", "token": 1 })),
                )
                .await;
            assert!(bad.unwrap_err().to_string().contains("no entity named"));
        });
    }
}
