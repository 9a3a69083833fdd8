//! The node's HTTP pages, on its RPC port beside JSON-RPC: an HTTP layer in front of
//! jsonrpsee answers `GET` (not a WebSocket upgrade) of
//!
//! | path | answer |
//! |---|---|
//! | `/` | the live web view (`web/index.html`) |
//! | `/app.js` | its bundle (`web/dist/app.js`, built from `web/src` with cytoscape.js by `npm run build` in `web/`; committed, so `cargo build` needs no Node) |
//! | `/metrics` | Prometheus text ([`super::metrics`]) |
//! | `/api/network` | who is who: every entity's board, which node hosts each validator, each node's RPC WebSocket |
//!
//! and passes everything else (JSON-RPC over HTTP POST and WebSocket) to jsonrpsee. The page
//! needs nothing from outside the node: it opens a JSON-RPC WebSocket to every node of the
//! network (`xln_view` for a snapshot of that node's replicas, `xln_subscribe` for live
//! events, [`super::telemetry`]'s `lock` and `payment` among them) and redraws what changed.
//! The data is the RPC API's, so a node with `#:rpc-token` serves the page but the page
//! must be given the token (`/#auth=TOKEN`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, CONTENT_TYPE, UPGRADE};
use http::{Method, StatusCode};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, RpcModule};
use serde_json::{json, Value};

use super::config::NodeConfig;
use super::core::CoreView;
use super::rpc::RpcContext;
use crate::account::view as capacity_view;
use crate::crypto::readable::to_hex;
use crate::entity::{EntityReplica, PaymentStatus};

/// The page.
const INDEX_HTML: &str = include_str!("../../web/index.html");
/// Its bundle (committed; see the module documentation).
const APP_JS: &str = include_str!("../../web/dist/app.js");

/// Most recent payments of each kind (sent, received) an `xln_view` lists per replica.
const VIEW_PAYMENTS_MAX: usize = 20;
/// Most entity log entries an `xln_view` lists per replica (the newest).
const VIEW_LOG_MAX: usize = 20;

/// What the pages serve, fixed at start-up.
pub struct Site {
    network: String,
}

impl Site {
    /// From the node's configuration.
    pub fn new(config: &NodeConfig) -> Self {
        let node_of = |v: &crate::crypto::Address| {
            if config.replicas.iter().any(|(_, r)| r == v) {
                Some(config.name.clone())
            } else {
                config
                    .peers
                    .iter()
                    .find(|p| p.validators.contains(v))
                    .map(|p| p.name.clone())
            }
        };
        let entities: Vec<Value> = config
            .entities
            .iter()
            .map(|e| {
                json!({
                    "id": to_hex(&e.id()),
                    "name": e.name,
                    "threshold": e.board.threshold,
                    "validators": e.board.validators.iter().map(|v| json!({
                        "address": v.address.to_checksum(),
                        "shares": v.shares,
                        "node": node_of(&v.address),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut nodes = vec![json!({ "name": config.name, "rpc": Value::Null })];
        nodes.extend(
            config
                .peers
                .iter()
                .map(|p| json!({ "name": p.name, "rpc": p.rpc })),
        );
        let network = json!({ "node": config.name, "nodes": nodes, "entities": entities });
        Site {
            network: network.to_string(),
        }
    }

    fn respond(&self, path: &str) -> Option<HttpResponse> {
        let (kind, body): (&str, HttpBody) = match path {
            "/" | "/index.html" => ("text/html; charset=utf-8", INDEX_HTML.into()),
            "/app.js" => ("text/javascript; charset=utf-8", APP_JS.into()),
            "/api/network" => ("application/json", self.network.clone().into()),
            "/metrics" => (
                "text/plain; version=0.0.4",
                super::metrics::render()
                    .unwrap_or_else(|| "# no metrics recorder in this process\n".into())
                    .into(),
            ),
            _ => return None,
        };
        http::Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, kind)
            .header(CACHE_CONTROL, "no-store")
            .body(body)
            .ok()
    }
}

/// The HTTP layer (see the module documentation).
#[derive(Clone)]
pub struct WebLayer(pub Arc<Site>);

impl<S> tower::Layer<S> for WebLayer {
    type Service = WebService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WebService {
            site: self.0.clone(),
            inner,
        }
    }
}

/// [`WebLayer`]'s service.
#[derive(Clone)]
pub struct WebService<S> {
    site: Arc<Site>,
    inner: S,
}

impl<S> tower::Service<HttpRequest> for WebService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let page = request.method() == Method::GET && !request.headers().contains_key(UPGRADE);
        if page {
            if let Some(response) = self.site.respond(request.uri().path()) {
                return Box::pin(async move { Ok(response) });
            }
        }
        Box::pin(self.inner.call(request))
    }
}

fn bigint(x: &num_bigint::BigInt) -> Value {
    json!(x.to_string())
}

fn replica_view(view: &CoreView<'_>, r: &EntityReplica) -> Value {
    let s = r.state();
    let accounts: Vec<Value> = s
        .accounts
        .iter()
        .map(|(peer, account)| {
            let m = &account.machine;
            let tokens: Vec<Value> = m
                .state
                .deltas
                .iter()
                .map(|(token, delta)| {
                    let c = capacity_view(delta, m.side);
                    json!({
                        "token": token,
                        "delta": bigint(&c.delta),
                        "collateral": bigint(&c.collateral),
                        "own_credit_limit": bigint(&c.own_credit_limit),
                        "peer_credit_limit": bigint(&c.peer_credit_limit),
                        "out_collateral": bigint(&c.out_collateral),
                        "in_collateral": bigint(&c.in_collateral),
                        "out_own_credit": bigint(&c.out_own_credit),
                        "in_own_credit": bigint(&c.in_own_credit),
                        "out_peer_credit": bigint(&c.out_peer_credit),
                        "in_peer_credit": bigint(&c.in_peer_credit),
                        "out_allowance": bigint(&c.out_allowance),
                        "in_allowance": bigint(&c.in_allowance),
                        "out_capacity": bigint(&c.out_capacity),
                        "in_capacity": bigint(&c.in_capacity),
                        "total_capacity": bigint(&c.total_capacity),
                    })
                })
                .collect();
            let locks: Vec<Value> = m
                .state
                .subcontracts
                .values()
                .map(|sc| {
                    json!({
                        "id": sc.id,
                        "mine": sc.owner == m.side,
                        "holds": sc.holds.iter().map(|(t, a)| json!({ "token": t, "amount": bigint(a) })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "peer": to_hex(peer),
                "peer_name": view.directory.name(peer),
                "side": if matches!(m.side, crate::account::Side::Left) { "left" } else { "right" },
                "height": m.state.height,
                "frame_hash": to_hex(&m.state.last_frame_hash),
                "state_hash": to_hex(&m.state.state_hash()),
                "in_flight": m.pending.is_some(),
                "queued": m.mempool.len(),
                "tokens": tokens,
                "locks": locks,
            })
        })
        .collect();
    let status = |st: &PaymentStatus| match st {
        PaymentStatus::Pending => json!("pending"),
        PaymentStatus::Settled => json!("settled"),
        PaymentStatus::Failed(r) => json!(format!("failed: {r}")),
    };
    let mut sent: Vec<(&u64, Value)> = s
        .payments
        .sent
        .iter()
        .map(|(hashlock, p)| {
            (
                &p.sent_at,
                json!({
                    "hashlock": to_hex(hashlock),
                    "receiver": to_hex(&p.receiver),
                    "total": bigint(&p.total),
                    "token": p.token,
                    "status": status(&p.status),
                    "sent_at": p.sent_at,
                    "parts": p.parts.iter().map(|part| json!({
                        "amount": bigint(&part.amount),
                        "route": part.route.iter().map(|h| to_hex(h)).collect::<Vec<_>>(),
                        "status": status(&part.status),
                    })).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    sent.sort_by_key(|(at, _)| std::cmp::Reverse(**at));
    sent.truncate(VIEW_PAYMENTS_MAX);
    let received: Vec<Value> = s
        .payments
        .received
        .iter()
        .take(VIEW_PAYMENTS_MAX)
        .map(|(hashlock, p)| {
            json!({ "hashlock": to_hex(hashlock), "total": bigint(&p.total), "token": p.token, "status": status(&p.status) })
        })
        .collect();
    let log: Vec<Value> = s
        .log
        .iter()
        .rev()
        .take(VIEW_LOG_MAX)
        .map(|e| json!(format!("{e:?}").chars().take(240).collect::<String>()))
        .collect();
    json!({
        "height": r.height(),
        "view": r.view(),
        "state_hash": to_hex(&r.state_hash()),
        "idle": r.is_idle(),
        "mempool": r.mempool_len(),
        "threshold": s.board.threshold,
        "board": s.board.validators.iter().map(|v| json!({ "address": v.address.to_checksum(), "shares": v.shares })).collect::<Vec<_>>(),
        "reserves": s.reserves.iter().map(|((h, t), a)| json!({ "holder": h.to_string(), "token": t, "amount": bigint(a) })).collect::<Vec<_>>(),
        "accounts": accounts,
        "sent": sent.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "forwarding": s.payments.forwards.len(),
        "received": received,
        "fees_earned": s.payments.fees_earned.iter().map(|(t, a)| json!({ "token": t, "amount": bigint(a) })).collect::<Vec<_>>(),
        "log": log,
    })
}

/// `xln_view`: every replica of this node (entity, name, validator, height, view, state
/// hash, board, reserves, each account's per-token capacity view and open locks, recent
/// payments and log entries), as the web view draws it.
pub fn view(view: &CoreView<'_>) -> Value {
    let replicas: Vec<Value> = view
        .replicas
        .iter()
        .map(|(id, r)| {
            let mut v = replica_view(view, r);
            v["entity"] = json!(to_hex(&id.entity));
            v["name"] = json!(view.directory.name(&id.entity));
            v["validator"] = json!(id.validator.to_checksum());
            v
        })
        .collect();
    json!({ "node": view.name, "records": view.records, "replicas": replicas })
}

/// Registers `xln_view` on the RPC module.
///
/// # Errors
/// A duplicate method name (a bug).
pub fn register(m: &mut RpcModule<RpcContext>) -> Result<(), String> {
    m.register_async_method("xln_view", |p, ctx, _| async move {
        let p: Value = p.parse().unwrap_or(Value::Null);
        ctx.check_token(&p)?;
        ctx.ask(Box::new(view)).await
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}
