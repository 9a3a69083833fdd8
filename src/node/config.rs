//! Node configuration files: S-expression *data* in the language's syntax, read with the
//! language's reader (so every error names `file:line:col` and what is wrong), never
//! evaluated. A node file describes one node; `xln net up` writes them.
//!
//! ```scheme
//! (node #:name "hub-0" #:listen "127.0.0.1:7100" #:rpc "127.0.0.1:7200"
//!       #:data "data" #:keys "keys" #:tick-ms 50)          ; paths relative to this file
//! (entity #:name "hub" #:threshold 3
//!         #:validators ("0xA…" "0xB…" "0xC…" "0xD…")         ; or ("0xA…" 2): 2 shares
//!         #:reserves (("treasury" 1 1000)))
//! (replica #:entity "hub" #:validator "0xA…")               ; hosted here (its key in keys/)
//! (peer #:name "hub-1" #:url "ws://127.0.0.1:7101" #:validators ("0xB…"))
//! ```
//!
//! Optional `node` keys: `#:rpc-token "…"` (required when `#:rpc` is not a loopback
//! address), `#:group-commit N` (records per fsync at most, default 256), `#:snapshot-every
//! N` (records between snapshots, default 20,000), and the entity
//! timing knobs in milliseconds `#:view-timeout-ms`, `#:resend-ms`, `#:batch-ms`; the logs'
//! `#:log-level "info"` and `#:log-format "text"|"json"` (see [`super::log`]). Optional
//! `peer` key: `#:rpc "ws://…"`, the peer's client WebSocket (the web view opens it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use num_bigint::BigInt;

use crate::crypto::Address;
use crate::entity::{Board, EntityConfig, EntityId, Holder, TokenId, Validator};
use crate::lang::number::to_bigint;
use crate::lang::reader::read_all;
use crate::lang::source::{add_source, describe, Span};
use crate::lang::syntax::{Datum, Syntax};
use crate::lang::value::Value;

/// A configuration error: where (`file:line:col`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ConfigError {
    /// `file:line:col` (or the file alone).
    pub at: String,
    /// What is wrong.
    pub message: String,
}

fn err(span: Span, message: impl Into<String>) -> ConfigError {
    ConfigError {
        at: describe(span),
        message: message.into(),
    }
}

/// One top-level form `(head positional... #:key value ...)`.
pub(crate) struct Form<'a> {
    pub head: String,
    pub span: Span,
    pub positional: Vec<&'a Syntax>,
    keys: Vec<(String, &'a Syntax)>,
}

impl<'a> Form<'a> {
    fn parse(syntax: &'a Syntax) -> Result<Self, ConfigError> {
        let items = syntax
            .list()
            .ok_or_else(|| err(syntax.span, "expected a form like (node #:name \"…\" …)"))?;
        let (head, rest) = items
            .split_first()
            .ok_or_else(|| err(syntax.span, "an empty form"))?;
        let head = head
            .symbol()
            .ok_or_else(|| err(head.span, "a form starts with its kind, a symbol"))?
            .name()
            .to_string();
        let mut form = Form {
            head,
            span: syntax.span,
            positional: Vec::new(),
            keys: Vec::new(),
        };
        let mut i = 0;
        while i < rest.len() {
            if let Some(k) = rest[i].keyword() {
                let value = rest
                    .get(i + 1)
                    .ok_or_else(|| err(rest[i].span, format!("#:{} needs a value", k.name())))?;
                if form.keys.iter().any(|(n, _)| n.as_str() == &*k.name()) {
                    return Err(err(rest[i].span, format!("#:{} given twice", k.name())));
                }
                form.keys.push((k.name().to_string(), value));
                i += 2;
            } else {
                form.positional.push(&rest[i]);
                i += 1;
            }
        }
        Ok(form)
    }

    /// Refuses keys outside `known` (a typo must not be ignored).
    pub fn only(&self, known: &[&str]) -> Result<(), ConfigError> {
        for (k, v) in &self.keys {
            if !known.contains(&k.as_str()) {
                return Err(err(
                    v.span,
                    format!(
                        "`{}` has no #:{k}; it takes {}",
                        self.head,
                        known
                            .iter()
                            .map(|k| format!("#:{k}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&'a Syntax> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn need(&self, key: &str) -> Result<&'a Syntax, ConfigError> {
        self.get(key)
            .ok_or_else(|| err(self.span, format!("`{}` needs #:{key}", self.head)))
    }

    pub fn text(&self, key: &str) -> Result<String, ConfigError> {
        text(self.need(key)?, key)
    }

    pub fn text_or(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.get(key).map(|v| text(v, key)).transpose()
    }

    pub fn number_or(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        self.get(key).map_or(Ok(default), |v| number(v, key))
    }
}

/// Reads a file's forms.
pub(crate) fn read_forms(path: &Path) -> Result<(Vec<Syntax>, Span), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        at: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    let file = add_source(&path.display().to_string(), &text);
    let whole = Span::new(file, 0, 0);
    let forms = read_all(&text, file).map_err(|errors| {
        let first = errors.into_iter().next();
        match first {
            Some(e) => ConfigError {
                at: e.span.map_or_else(|| path.display().to_string(), describe),
                message: e.message.clone(),
            },
            None => err(whole, "unreadable"),
        }
    })?;
    Ok((forms, whole))
}

pub(crate) fn forms(syntax: &[Syntax]) -> Result<Vec<Form<'_>>, ConfigError> {
    syntax.iter().map(Form::parse).collect()
}

fn atom(s: &Syntax) -> Option<&Value> {
    match &s.datum {
        Datum::Atom(v) => Some(v),
        _ => None,
    }
}

pub(crate) fn text(s: &Syntax, what: &str) -> Result<String, ConfigError> {
    match atom(s) {
        Some(Value::Str(t)) => Ok(t.to_string()),
        _ => match s.symbol() {
            Some(sym) => Ok(sym.name().to_string()),
            None => Err(err(s.span, format!("#:{what} must be a string"))),
        },
    }
}

pub(crate) fn number(s: &Syntax, what: &str) -> Result<u64, ConfigError> {
    match atom(s)
        .and_then(to_bigint)
        .and_then(|n| u64::try_from(n).ok())
    {
        Some(n) => Ok(n),
        None => Err(err(
            s.span,
            format!("{what} must be a non-negative integer"),
        )),
    }
}

pub(crate) fn integer(s: &Syntax, what: &str) -> Result<BigInt, ConfigError> {
    atom(s)
        .and_then(to_bigint)
        .ok_or_else(|| err(s.span, format!("{what} must be an integer")))
}

pub(crate) fn list<'a>(s: &'a Syntax, what: &str) -> Result<&'a [Syntax], ConfigError> {
    s.list()
        .ok_or_else(|| err(s.span, format!("#:{what} must be a list")))
}

fn address(s: &Syntax) -> Result<Address, ConfigError> {
    let t = text(s, "validator")?;
    Address::from_hex(&t).map_err(|e| err(s.span, format!("not an address {t:?}: {e}")))
}

fn socket(s: &Syntax, what: &str) -> Result<SocketAddr, ConfigError> {
    let t = text(s, what)?;
    t.parse().map_err(|_| {
        err(
            s.span,
            format!("#:{what} {t:?} is not HOST:PORT (e.g. \"127.0.0.1:7100\")"),
        )
    })
}

/// `(("holder" token amount) ...)`.
pub(crate) fn reserves(s: &Syntax) -> Result<Vec<(Holder, TokenId, BigInt)>, ConfigError> {
    list(s, "reserves")?
        .iter()
        .map(|r| match r.list() {
            Some([h, t, a]) => Ok((
                Holder::Name(text(h, "reserve holder")?),
                number(t, "a token id")?,
                integer(a, "a reserve amount")?,
            )),
            _ => Err(err(r.span, "a reserve is (\"holder\" token amount)")),
        })
        .collect()
}

/// An entity as configured: its name, genesis board and reserves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntitySpec {
    /// A label for people (the id is the board's hash).
    pub name: String,
    /// The genesis board.
    pub board: Board,
    /// Genesis reserves.
    pub reserves: Vec<(Holder, TokenId, BigInt)>,
}

impl EntitySpec {
    /// The entity id (the board's hash).
    pub fn id(&self) -> EntityId {
        self.board.entity_id()
    }
}

/// Another node: where to dial it and which validators it must prove it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    /// Its name.
    pub name: String,
    /// Its peer WebSocket URL.
    pub url: String,
    /// The validators it hosts.
    pub validators: Vec<Address>,
    /// Its client (JSON-RPC) WebSocket URL, if known: the web view reads it there.
    pub rpc: Option<String>,
}

/// One node's configuration. See the module documentation for the file format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// The node's name.
    pub name: String,
    /// Where peers connect (WebSocket).
    pub listen: SocketAddr,
    /// Where clients connect (JSON-RPC over HTTP and WebSocket).
    pub rpc: SocketAddr,
    /// The token every client call must carry, if set.
    pub rpc_token: Option<String>,
    /// The data directory (WAL and snapshots).
    pub data: PathBuf,
    /// The key directory (one owner-only file per validator).
    pub keys: PathBuf,
    /// Milliseconds between ticks.
    pub tick_ms: u64,
    /// Most records per fsync (group commit).
    pub group_commit: usize,
    /// Records between snapshots of the data directory.
    pub snapshot_every: u64,
    /// The replicas' timing knobs (in milliseconds: the node's clock unit).
    pub entity_config: EntityConfig,
    /// Every entity this node knows (its own and its peers').
    pub entities: Vec<EntitySpec>,
    /// The replicas hosted here: (entity name, validator).
    pub replicas: Vec<(String, Address)>,
    /// The other nodes.
    pub peers: Vec<PeerSpec>,
    /// The log filter (`#:log-level`), if set.
    pub log_level: Option<String>,
    /// The log format (`#:log-format`: text or json), if set.
    pub log_format: Option<String>,
}

/// The replica timing a node uses by default, in milliseconds.
pub fn node_entity_config(view_timeout_ms: u64, resend_ms: u64, batch_ms: u64) -> EntityConfig {
    EntityConfig {
        view_timeout_base: view_timeout_ms,
        view_timeout_step: view_timeout_ms / 2,
        view_timeout_max: view_timeout_ms.saturating_mul(16),
        batch_delay: batch_ms,
        resend_interval: resend_ms,
        sync_interval: resend_ms.saturating_mul(4),
        commits_kept: 64,
        views_ahead_max: 64,
        clock_drift_max: 60_000,
        mempool_max: 100_000,
    }
}

impl NodeConfig {
    /// Reads and checks a node file. Relative paths are relative to the file's directory.
    ///
    /// # Errors
    /// [`ConfigError`] naming `file:line:col` and what is wrong.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let (syntax, whole) = read_forms(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut node = None;
        let (mut entities, mut replicas, mut peers) = (Vec::new(), Vec::new(), Vec::new());
        for form in forms(&syntax)? {
            match form.head.as_str() {
                "node" => {
                    if node.is_some() {
                        return Err(err(form.span, "a second (node …) form"));
                    }
                    node = Some(node_form(&form, base)?);
                }
                "entity" => entities.push(entity_form(&form)?),
                "replica" => {
                    form.only(&["entity", "validator"])?;
                    replicas.push((form.text("entity")?, address(form.need("validator")?)?));
                }
                "peer" => {
                    form.only(&["name", "url", "validators", "rpc"])?;
                    let validators = list(form.need("validators")?, "validators")?
                        .iter()
                        .map(address)
                        .collect::<Result<_, _>>()?;
                    peers.push(PeerSpec {
                        name: form.text("name")?,
                        url: form.text("url")?,
                        validators,
                        rpc: form.text_or("rpc")?,
                    });
                }
                other => {
                    return Err(err(
                        form.span,
                        format!("unknown form `{other}`; a node file has node, entity, replica and peer forms"),
                    ))
                }
            }
        }
        let mut config = node.ok_or_else(|| err(whole, "no (node …) form"))?;
        config.entities = entities;
        config.replicas = replicas;
        config.peers = peers;
        config.check(whole)?;
        Ok(config)
    }

    fn check(&self, whole: Span) -> Result<(), ConfigError> {
        if !self.rpc.ip().is_loopback() && self.rpc_token.is_none() {
            return Err(err(
                whole,
                format!("#:rpc {} is not a loopback address: set #:rpc-token so remote clients must authenticate", self.rpc),
            ));
        }
        for (entity, validator) in &self.replicas {
            let spec = self
                .entity(entity)
                .ok_or_else(|| err(whole, format!("replica of unknown entity {entity:?}")))?;
            if !spec.board.contains(validator) {
                return Err(err(
                    whole,
                    format!("{validator} is not on the board of entity {entity:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The entity named `name`.
    pub fn entity(&self, name: &str) -> Option<&EntitySpec> {
        self.entities.iter().find(|e| e.name == name)
    }
}

fn node_form(form: &Form<'_>, base: &Path) -> Result<NodeConfig, ConfigError> {
    form.only(&[
        "name",
        "listen",
        "rpc",
        "rpc-token",
        "data",
        "keys",
        "tick-ms",
        "group-commit",
        "snapshot-every",
        "view-timeout-ms",
        "resend-ms",
        "batch-ms",
        "log-level",
        "log-format",
    ])?;
    let path = |key: &str| -> Result<PathBuf, ConfigError> { Ok(base.join(form.text(key)?)) };
    let tick_ms = form.number_or("tick-ms", 50)?.max(1);
    Ok(NodeConfig {
        name: form.text("name")?,
        listen: socket(form.need("listen")?, "listen")?,
        rpc: socket(form.need("rpc")?, "rpc")?,
        rpc_token: form.text_or("rpc-token")?,
        data: path("data")?,
        keys: path("keys")?,
        tick_ms,
        group_commit: usize::try_from(form.number_or("group-commit", 256)?.max(1)).unwrap_or(256),
        snapshot_every: form
            .number_or("snapshot-every", super::store::SNAPSHOT_EVERY_RECORDS)?
            .max(1),
        entity_config: node_entity_config(
            form.number_or("view-timeout-ms", 2_000)?,
            form.number_or("resend-ms", 500)?,
            form.number_or("batch-ms", 0)?,
        ),
        entities: Vec::new(),
        replicas: Vec::new(),
        peers: Vec::new(),
        log_level: form.text_or("log-level")?,
        log_format: match form.text_or("log-format")? {
            Some(f) => Some(
                super::log::LogFormat::parse(&f)
                    .map(|_| f)
                    .map_err(|e| err(form.span, e))?,
            ),
            None => None,
        },
    })
}

fn entity_form(form: &Form<'_>) -> Result<EntitySpec, ConfigError> {
    form.only(&["name", "threshold", "validators", "reserves"])?;
    let validators = list(form.need("validators")?, "validators")?
        .iter()
        .map(|v| match v.list() {
            Some([a, shares]) => Ok(Validator::new(address(a)?, number(shares, "shares")?)),
            _ => Ok(Validator::new(address(v)?, 1)),
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let threshold = number(form.need("threshold")?, "threshold")?;
    let board = Board::new(validators, threshold).map_err(|e| err(form.span, e.to_string()))?;
    Ok(EntitySpec {
        name: form.text("name")?,
        board,
        reserves: form.get("reserves").map_or(Ok(Vec::new()), reserves)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xln-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_a_node_and_names_the_line_of_errors() {
        let a = "0x1111111111111111111111111111111111111111";
        let good = format!(
            "(node #:name \"n\" #:listen \"127.0.0.1:1\" #:rpc \"127.0.0.1:2\" #:data \"d\" #:keys \"k\")\n(entity #:name \"e\" #:threshold 1 #:validators (\"{a}\") #:reserves ((\"t\" 1 5)))\n(replica #:entity \"e\" #:validator \"{a}\")\n"
        );
        let c = NodeConfig::read(&write("good.xln", &good)).unwrap();
        assert_eq!(c.replicas.len(), 1);
        assert_eq!(c.entity("e").unwrap().reserves.len(), 1);
        let typo = good.replace("#:keys", "#:kees");
        let e = NodeConfig::read(&write("typo.xln", &typo)).unwrap_err();
        assert!(
            e.at.ends_with("typo.xln:1:82") || e.at.contains("typo.xln:1:"),
            "{e}"
        );
        assert!(e.message.contains("#:kees"), "{e}");
        let bad_port = good.replace("127.0.0.1:2", "nowhere");
        let e = NodeConfig::read(&write("port.xln", &bad_port)).unwrap_err();
        assert!(
            e.message.contains("HOST:PORT") && e.at.contains("port.xln:1:"),
            "{e}"
        );
        let remote = good.replace("127.0.0.1:2", "0.0.0.0:2");
        assert!(NodeConfig::read(&write("remote.xln", &remote))
            .unwrap_err()
            .message
            .contains("rpc-token"));
        let unclosed = NodeConfig::read(&write("open.xln", "(node #:name \"n\"\n")).unwrap_err();
        assert!(unclosed.at.contains("open.xln:"), "{unclosed}");
    }
}
