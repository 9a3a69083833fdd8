//! A blocking client of a node's JSON-RPC API (over HTTP, `jsonrpsee`'s client): what the
//! REPL's node builtins, `xln net up`, the tests and the load bench use. One client owns a
//! small single-threaded tokio runtime, so callers stay synchronous.

use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::{json, Value};

/// How long one call may take before it fails.
pub const CALL_TIMEOUT_MS: u64 = 30_000;

/// A connection to one node.
pub struct NodeClient {
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
    token: Option<String>,
    /// The URL as given.
    pub url: String,
}

impl NodeClient {
    /// A client of the node at `url` (`http://HOST:PORT` or `ws://HOST:PORT`; both reach
    /// the same server), carrying `token` in every call if given.
    ///
    /// # Errors
    /// A malformed URL or a runtime that cannot start.
    pub fn connect(url: &str, token: Option<String>) -> Result<Self, String> {
        let http = url
            .strip_prefix("ws://")
            .map_or_else(|| url.to_string(), |rest| format!("http://{rest}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = {
            let _guard = runtime.enter();
            HttpClientBuilder::default()
                .request_timeout(Duration::from_millis(CALL_TIMEOUT_MS))
                .build(&http)
                .map_err(|e| format!("{url}: {e}"))?
        };
        Ok(NodeClient {
            runtime,
            client,
            token,
            url: url.to_string(),
        })
    }

    /// Calls `method` with the object `params` (plus the token, as `"auth"`).
    ///
    /// # Errors
    /// The node's error message, or a transport failure.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let mut p = ObjectParams::new();
        if let Value::Object(map) = params {
            for (k, v) in map {
                p.insert(&k, v).map_err(|e| e.to_string())?;
            }
        }
        if let Some(t) = &self.token {
            p.insert("auth", t).map_err(|e| e.to_string())?;
        }
        self.runtime
            .block_on(self.client.request::<Value, _>(method, p))
            .map_err(|e| format!("{method} at {}: {e}", self.url))
    }

    /// `xln_status`.
    ///
    /// # Errors
    /// As [`NodeClient::call`].
    pub fn status(&self) -> Result<Value, String> {
        self.call("xln_status", json!({}))
    }

    /// Submits `tx` (`{"kind": …}`) to `entity`; returns the tx hash (`0x…`).
    ///
    /// # Errors
    /// As [`NodeClient::call`].
    pub fn submit(&self, entity: &str, tx: Value) -> Result<String, String> {
        let r = self.call("xln_submit", json!({ "entity": entity, "tx": tx }))?;
        tx_hash(&r)
    }

    /// Pays through the account `from` → `to`; returns the tx hash.
    ///
    /// # Errors
    /// As [`NodeClient::call`].
    pub fn pay(&self, from: &str, to: &str, token: u64, amount: &str) -> Result<String, String> {
        let r = self.call(
            "xln_pay",
            json!({ "from": from, "to": to, "token": token, "amount": amount }),
        )?;
        tx_hash(&r)
    }

    /// Pays over a route the node plans from `from`'s gossip view (`xln_payRouted`);
    /// returns the payment's tx hash (follow it with [`NodeClient::payment_status`]).
    ///
    /// # Errors
    /// As [`NodeClient::call`]; no route yet is an error too.
    pub fn pay_routed(
        &self,
        from: &str,
        to: &str,
        token: u64,
        amount: &str,
    ) -> Result<String, String> {
        let r = self.call(
            "xln_payRouted",
            json!({ "from": from, "to": to, "token": token, "amount": amount }),
        )?;
        tx_hash(&r)
    }

    /// `xln_paymentStatus` of the payment `entity` sent with `tx_hash`.
    ///
    /// # Errors
    /// As [`NodeClient::call`].
    pub fn payment_status(&self, entity: &str, tx_hash: &str) -> Result<Value, String> {
        self.call(
            "xln_paymentStatus",
            json!({ "entity": entity, "tx_hash": tx_hash }),
        )
    }

    /// `xln_account`.
    ///
    /// # Errors
    /// As [`NodeClient::call`].
    pub fn account(&self, entity: &str, peer: &str, token: u64) -> Result<Value, String> {
        self.call(
            "xln_account",
            json!({ "entity": entity, "peer": peer, "token": token }),
        )
    }

    /// `xln_txOutcome`: "pending", "applied", "rejected" or "dropped".
    ///
    /// # Errors
    /// As [`NodeClient::call`].
    pub fn outcome(&self, tx_hash: &str) -> Result<Value, String> {
        self.call("xln_txOutcome", json!({ "tx_hash": tx_hash }))
    }

    /// Polls until every replica of this node is idle (empty mempool, nothing under way,
    /// no account frame in flight) on two polls in a row with unchanged heights, or
    /// `timeout` passes. Returns whether it became quiet.
    ///
    /// # Errors
    /// As [`NodeClient::call`] (a node that cannot be reached counts as an error).
    pub fn wait_quiet(&self, timeout: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            let s = self.status()?;
            let replicas = s["replicas"].as_array().cloned().unwrap_or_default();
            let idle = replicas.iter().all(|r| r["idle"] == json!(true));
            let heights: Vec<Value> = replicas.iter().map(|r| r["height"].clone()).collect();
            if idle && last.as_ref() == Some(&heights) {
                return Ok(true);
            }
            last = idle.then_some(heights);
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(false)
    }
}

fn tx_hash(r: &Value) -> Result<String, String> {
    r["tx_hash"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no tx hash in {r}"))
}
