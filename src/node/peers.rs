//! Peer connections. Every node dials every peer (its sends go over the sessions it
//! dialed) and accepts the peers' dials (what it receives comes over those), so each pair
//! of nodes has one session each way and no tie-breaking is needed.
//!
//! * **Listening** ([`listen`]): at most [`PEER_CONNECTIONS_MAX`] connections at once (more
//!   are refused at accept); each must finish the WebSocket upgrade, the Noise handshake
//!   and the authentication within [`HANDSHAKE_MS_MAX`](super::session::HANDSHAKE_MS_MAX);
//!   a session silent for [`PEER_IDLE_MS_MAX`] is closed. Every complete message goes to
//!   the core, which checks it came from a validator the session proved.
//! * **Dialing** ([`dial`]): reconnects with exponential backoff from
//!   [`RECONNECT_MS_MIN`] to [`RECONNECT_MS_MAX`] plus jitter (from a generator seeded by
//!   the operating system at start, never inside the machines), sends keep-alives every
//!   [`PING_MS`], and keeps the queue across reconnects. A message lost with a broken
//!   socket is re-sent by the replicas' own timers (they keep unconfirmed consensus and
//!   account messages in their state, which survives restarts in the WAL).
//!
//! Every refusal is one log line (`peer refused`, [`super::log`]) naming the remote address
//! (and the peer, once authenticated), a reason label (also counted in
//! `xln_inputs_rejected_total`) and the detail in words.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::core::CoreEvent;
use super::session::{ws_config, Expect, Received, Role, Session, SessionError, HANDSHAKE_MS_MAX};
use crate::crypto::{Address, SecretKey};
use crate::runtime::SplitMix64;

/// Most peer connections accepted at once.
pub const PEER_CONNECTIONS_MAX: usize = 64;

/// A session that receives nothing (not even a keep-alive) for this long is closed.
pub const PEER_IDLE_MS_MAX: u64 = 15_000;

/// Keep-alive period of a dialed session.
pub const PING_MS: u64 = 2_000;

/// First reconnect delay.
pub const RECONNECT_MS_MIN: u64 = 100;

/// Longest reconnect delay.
pub const RECONNECT_MS_MAX: u64 = 3_000;

/// Why a connection was refused or closed by the limits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// [`PEER_CONNECTIONS_MAX`] connections are open.
    #[error("{max} peer connections are open; refused")]
    TooManyConnections {
        /// The limit.
        max: usize,
    },
    /// Nothing received for [`PEER_IDLE_MS_MAX`].
    #[error("idle for {ms} ms; closed")]
    IdleTimeout {
        /// The limit.
        ms: u64,
    },
}

/// What the listener needs.
pub struct ListenContext {
    /// The node's name (for logs).
    pub name: String,
    /// The validator keys this node proves.
    pub keys: Vec<SecretKey>,
    /// Validators of every configured peer, and each one's peer name.
    pub known: Vec<(Address, String)>,
    /// The core's input.
    pub core: mpsc::Sender<CoreEvent>,
    /// Connections open now.
    pub open: AtomicUsize,
}

/// Why an inbound connection was refused or closed: a reason label and the detail.
struct Refusal {
    reason: &'static str,
    peer: Option<String>,
    detail: String,
}

impl Refusal {
    fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Refusal {
            reason,
            peer: None,
            detail: detail.into(),
        }
    }

    /// One log line and one count.
    fn log(&self, node: &str, remote: SocketAddr) {
        super::metrics::rejected(self.reason);
        tracing::warn!(
            node = %node,
            remote = %remote,
            peer = self.peer.as_deref(),
            reason = self.reason,
            detail = %self.detail,
            "peer refused"
        );
    }
}

/// Decrements the open-connection count when a connection task ends.
struct Slot(Arc<ListenContext>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts peer connections forever.
pub async fn listen(listener: TcpListener, ctx: Arc<ListenContext>) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if ctx.open.fetch_add(1, Ordering::Relaxed) >= PEER_CONNECTIONS_MAX {
            ctx.open.fetch_sub(1, Ordering::Relaxed);
            let e = LimitError::TooManyConnections {
                max: PEER_CONNECTIONS_MAX,
            };
            Refusal::new("too-many-connections", e.to_string()).log(&ctx.name, addr);
            drop(stream);
            continue;
        }
        let slot = Slot(ctx.clone());
        tokio::spawn(async move {
            let ctx = slot.0.clone();
            if let Err(why) = serve(stream, addr, &ctx).await {
                why.log(&ctx.name, addr);
            }
            drop(slot);
        });
    }
}

async fn serve(stream: TcpStream, addr: SocketAddr, ctx: &ListenContext) -> Result<(), Refusal> {
    let limit = Duration::from_millis(HANDSHAKE_MS_MAX);
    let upgrade = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()));
    let mut ws = match tokio::time::timeout(limit, upgrade).await {
        Err(_) => {
            let e = SessionError::HandshakeTimeout {
                ms: HANDSHAKE_MS_MAX,
            };
            return Err(Refusal::new("handshake-timeout", e.to_string()));
        }
        Ok(Err(e)) => {
            return Err(Refusal::new(
                "not-websocket",
                format!("not a WebSocket handshake: {e}"),
            ))
        }
        Ok(Ok(ws)) => ws,
    };
    let keys: Vec<&SecretKey> = ctx.keys.iter().collect();
    let known: Vec<Address> = ctx.known.iter().map(|(a, _)| *a).collect();
    let mut session = Session::establish(&mut ws, Role::Listener, &keys, Expect::AnyOf(&known))
        .await
        .map_err(|e| Refusal::new("handshake", e.to_string()))?;
    let peer = ctx
        .known
        .iter()
        .find(|(a, _)| session.peer_validators.contains(a))
        .map_or_else(|| addr.to_string(), |(_, n)| format!("{n} ({addr})"));
    let _live = super::metrics::PeerSession::new("in");
    let after_auth = |reason: &'static str, detail: String| Refusal {
        reason,
        peer: Some(peer.clone()),
        detail: format!("peer {peer}: {detail}"),
    };
    let validators = Arc::new(session.peer_validators.clone());
    let idle = Duration::from_millis(PEER_IDLE_MS_MAX);
    loop {
        match tokio::time::timeout(idle, session.receive(&mut ws)).await {
            Err(_) => {
                let e = LimitError::IdleTimeout {
                    ms: PEER_IDLE_MS_MAX,
                };
                return Err(after_auth("idle-timeout", e.to_string()));
            }
            Ok(Err(SessionError::Closed)) => return Ok(()),
            Ok(Err(e)) => return Err(after_auth("bad-frame", e.to_string())),
            Ok(Ok(Received::Ping | Received::Partial)) => {}
            Ok(Ok(Received::Message(envelope))) => {
                let event = CoreEvent::Peer {
                    peer: peer.clone(),
                    validators: validators.clone(),
                    envelope,
                };
                if ctx.core.send(event).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// What one dialer needs.
pub struct DialContext {
    /// The node's name (for logs).
    pub name: String,
    /// The peer's name.
    pub peer: String,
    /// Its URL.
    pub url: String,
    /// The validators it must prove.
    pub validators: Vec<Address>,
    /// This node's keys.
    pub keys: Vec<SecretKey>,
    /// Bytes queued for it (shared with the core).
    pub pending: Arc<AtomicUsize>,
    /// Seed of the jitter generator.
    pub jitter_seed: u64,
}

/// Keeps a session to one peer and sends its queue, reconnecting forever.
pub async fn dial(ctx: DialContext, mut queue: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut jitter = SplitMix64::new(ctx.jitter_seed);
    let mut backoff = RECONNECT_MS_MIN;
    let mut failures = 0u64;
    loop {
        match connect(&ctx).await {
            Ok((mut ws, mut session)) => {
                tracing::info!(node = %ctx.name, peer = %ctx.peer, url = %ctx.url,
                    failed_attempts = failures, "peer connected");
                failures = 0;
                backoff = RECONNECT_MS_MIN;
                let live = super::metrics::PeerSession::new("out");
                let why = pump(&ctx, &mut ws, &mut session, &mut queue).await;
                drop(live);
                match why {
                    None => return,
                    Some(e) => tracing::warn!(node = %ctx.name, peer = %ctx.peer, reason = %e,
                        "peer lost"),
                }
            }
            Err(e) => {
                failures += 1;
                // Logged at 1, 2, 4, 8, ... attempts: a peer down for long is not a flood.
                if failures.is_power_of_two() {
                    tracing::warn!(node = %ctx.name, peer = %ctx.peer, url = %ctx.url,
                        attempts = failures, reason = %e, "peer unreachable");
                }
            }
        }
        let wait = backoff + jitter.below(backoff / 2 + 1);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        backoff = (backoff * 2).min(RECONNECT_MS_MAX);
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn connect(ctx: &DialContext) -> Result<(Ws, Session), String> {
    let limit = Duration::from_millis(HANDSHAKE_MS_MAX);
    let dial = tokio_tungstenite::connect_async_with_config(&ctx.url, Some(ws_config()), true);
    let (mut ws, _) = tokio::time::timeout(limit, dial)
        .await
        .map_err(|_| format!("no WebSocket within {HANDSHAKE_MS_MAX} ms"))?
        .map_err(|e| e.to_string())?;
    let keys: Vec<&SecretKey> = ctx.keys.iter().collect();
    let session = Session::establish(
        &mut ws,
        Role::Dialer,
        &keys,
        Expect::Exactly(&ctx.validators),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((ws, session))
}

/// Sends the queue until the session breaks (Some(why)) or the queue closes (None).
async fn pump(
    ctx: &DialContext,
    ws: &mut Ws,
    session: &mut Session,
    queue: &mut mpsc::UnboundedReceiver<Vec<u8>>,
) -> Option<String> {
    let mut ping = tokio::time::interval(Duration::from_millis(PING_MS));
    loop {
        tokio::select! {
            next = queue.recv() => {
                let bytes = next?;
                ctx.pending.fetch_sub(bytes.len().min(ctx.pending.load(Ordering::Relaxed)), Ordering::Relaxed);
                let frames = match session.seal(&bytes) {
                    Ok(f) => f,
                    Err(e) => return Some(e.to_string()),
                };
                for frame in frames {
                    if let Err(e) = ws.feed(Message::Binary(frame.into())).await {
                        return Some(e.to_string());
                    }
                }
                if queue.is_empty() {
                    if let Err(e) = ws.flush().await {
                        return Some(e.to_string());
                    }
                }
            }
            _ = ping.tick() => {
                let frame = match session.ping() {
                    Ok(f) => f,
                    Err(e) => return Some(e.to_string()),
                };
                if let Err(e) = ws.send(Message::Binary(frame.into())).await {
                    return Some(e.to_string());
                }
            }
            incoming = ws.next() => match incoming {
                None | Some(Ok(Message::Close(_))) => return Some("closed by the peer".into()),
                Some(Err(e)) => return Some(e.to_string()),
                Some(Ok(_)) => {}
            },
        }
    }
}
