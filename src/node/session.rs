//! Peer sessions: a WebSocket carrying the Noise protocol (`Noise_XX_25519_ChaChaPoly_BLAKE2s`,
//! the `snow` library), then mutual authentication by validator key, then framed, encrypted
//! messages. No cryptography is written here: Noise (snow) encrypts and authenticates the
//! channel; secp256k1 signatures (`crate::crypto`) prove who is at each end.
//!
//! **Authentication.** After the Noise handshake both sides hold its handshake hash `h`,
//! unique to this session (fresh ephemeral keys on both sides). Each side sends, encrypted,
//! one signature per validator key it holds over
//! `keccak(tagged("xln/node-session/v1", [h, role, address]))` (role 0 = dialer, 1 =
//! listener, so a proof cannot be reflected back). The listener checks the dialer's proofs
//! first and answers only then; the dialer requires the listener to prove exactly the
//! validators its configuration says that peer hosts. A proof made for another session (a
//! replay) or by another key does not verify. The listener accepts a dialer whose every
//! proven validator is a configured peer's.
//!
//! **Framing.** A Noise message carries at most 65,535 bytes, so a message is sent as
//! chunks: each encrypted frame's first plaintext byte says what it is ([`FRAME_MORE`],
//! [`FRAME_LAST`], [`FRAME_PING`]); a message is reassembled up to
//! [`PEER_MESSAGE_BYTES_MAX`] bytes. Noise's nonces make every frame usable once, in order:
//! a replayed, reordered or altered frame fails to decrypt and ends the session.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::crypto::{tagged, verify_address, Address, Canonical, RlpItem, SecretKey};
use crate::entity::wire::{read_address, read_list, read_signature, WIRE_MESSAGE_BYTES_MAX};

/// The Noise protocol every session runs.
pub const NOISE_PATTERN: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";

/// Largest Noise message (the protocol's limit).
pub const NOISE_MESSAGE_BYTES_MAX: usize = 65_535;

/// Largest WebSocket message or frame a session accepts: one Noise message. Anything
/// larger is refused by the WebSocket layer before it is buffered.
pub const WS_MESSAGE_BYTES_MAX: usize = NOISE_MESSAGE_BYTES_MAX;

/// Largest reassembled peer message (an envelope around one entity message).
pub const PEER_MESSAGE_BYTES_MAX: usize = WIRE_MESSAGE_BYTES_MAX + 4_096;

/// Longest a connection may take from TCP accept to authenticated (a handshake that never
/// finishes is cut off here).
pub const HANDSHAKE_MS_MAX: u64 = 5_000;

/// Most validator proofs one side may send (a node may host many 1-of-1 entities; each
/// proof costs the other side one signature check per session).
pub const AUTH_PROOFS_MAX: usize = 4_096;

/// Frame kinds (the first plaintext byte).
pub const FRAME_MORE: u8 = 1;
/// The last chunk of a message.
pub const FRAME_LAST: u8 = 2;
/// A keep-alive.
pub const FRAME_PING: u8 = 3;

const TAG_BYTES: usize = 16;
const CHUNK_BYTES_MAX: usize = NOISE_MESSAGE_BYTES_MAX - TAG_BYTES - 1;

/// Why a session failed. Each names the rule broken; the node logs it with the peer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The WebSocket layer failed (not a WebSocket handshake, an oversized frame, a reset).
    #[error("websocket: {0}")]
    WebSocket(String),
    /// The Noise handshake or a frame's decryption failed (garbage, a replayed or altered frame).
    #[error("noise: {0}")]
    Noise(String),
    /// The handshake did not finish within [`HANDSHAKE_MS_MAX`].
    #[error("the handshake did not finish within {ms} ms")]
    HandshakeTimeout {
        /// The limit.
        ms: u64,
    },
    /// The peer's proofs do not show it holds the validator keys expected.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A reassembled message over [`PEER_MESSAGE_BYTES_MAX`].
    #[error("a message of more than {max} bytes")]
    MessageTooLarge {
        /// The limit.
        max: usize,
    },
    /// A frame that is not what the protocol allows here.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer closed the connection.
    #[error("closed by the peer")]
    Closed,
}

fn ws_error(e: impl std::fmt::Display) -> SessionError {
    SessionError::WebSocket(e.to_string())
}

fn noise_error(e: impl std::fmt::Display) -> SessionError {
    SessionError::Noise(e.to_string())
}

/// The WebSocket limits every session uses.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(WS_MESSAGE_BYTES_MAX))
        .max_frame_size(Some(WS_MESSAGE_BYTES_MAX))
}

/// Which end of the session this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Dialed the connection.
    Dialer,
    /// Accepted it.
    Listener,
}

impl Role {
    fn byte(self) -> u64 {
        match self {
            Role::Dialer => 0,
            Role::Listener => 1,
        }
    }
}

/// What the other side must prove.
pub enum Expect<'a> {
    /// Exactly these validators (a dialer knows whom it dialed).
    Exactly(&'a [Address]),
    /// At least one validator, all of them in this set (a listener's configured peers).
    AnyOf(&'a [Address]),
}

/// The digest a validator signs to prove it is at one end of the session with hash `h`.
pub fn auth_digest(h: &[u8], role: Role, address: &Address) -> [u8; 32] {
    tagged(
        b"xln/node-session/v1",
        vec![
            RlpItem::Bytes(h.to_vec()),
            role.byte().canonical_rlp(),
            address.canonical_rlp(),
        ],
    )
    .canonical_hash()
}

/// An authenticated, encrypted session.
pub struct Session {
    noise: snow::TransportState,
    /// The validators the other side proved it holds.
    pub peer_validators: Vec<Address>,
    reassembly: Vec<u8>,
    buffer: Vec<u8>,
}

/// What one received frame completed.
pub enum Received {
    /// A whole message.
    Message(Vec<u8>),
    /// A keep-alive.
    Ping,
    /// A chunk of a message still arriving.
    Partial,
}

async fn next_binary<S>(ws: &mut WebSocketStream<S>) -> Result<Vec<u8>, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            None => return Err(SessionError::Closed),
            Some(Err(e)) => return Err(ws_error(e)),
            Some(Ok(Message::Binary(b))) => return Ok(b.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) => return Err(SessionError::Closed),
            Some(Ok(other)) => {
                return Err(SessionError::Protocol(format!(
                    "a {} WebSocket message; sessions carry binary frames only",
                    match other {
                        Message::Text(_) => "text",
                        _ => "raw",
                    }
                )))
            }
        }
    }
}

async fn send_binary<S>(ws: &mut WebSocketStream<S>, bytes: Vec<u8>) -> Result<(), SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(Message::Binary(bytes.into()))
        .await
        .map_err(ws_error)
}

fn proofs(h: &[u8], role: Role, keys: &[&SecretKey]) -> Result<Vec<u8>, SessionError> {
    let mut items = Vec::new();
    for key in keys {
        let address = key.address();
        let signature = key
            .sign_digest(&auth_digest(h, role, &address))
            .map_err(|e| SessionError::Auth(e.to_string()))?;
        items.push(RlpItem::List(vec![
            address.canonical_rlp(),
            signature.canonical_rlp(),
        ]));
    }
    Ok(tagged(b"xln/node-auth/v1", vec![RlpItem::List(items)]).encode())
}

fn check_proofs(
    h: &[u8],
    role: Role,
    bytes: &[u8],
    expect: &Expect<'_>,
) -> Result<Vec<Address>, SessionError> {
    let bad = |m: String| SessionError::Auth(m);
    let item = RlpItem::decode(bytes).map_err(|e| bad(format!("unreadable proofs: {e}")))?;
    let f = crate::entity::wire::expect_tagged(&item, b"xln/node-auth/v1", 1, "auth")
        .map_err(|e| bad(e.to_string()))?;
    let list = read_list(&f[0], "proofs").map_err(|e| bad(e.to_string()))?;
    if list.is_empty() || list.len() > AUTH_PROOFS_MAX {
        return Err(bad(format!(
            "{} proofs, 1..={AUTH_PROOFS_MAX} allowed",
            list.len()
        )));
    }
    let mut proven = Vec::new();
    for p in list {
        let Some([a, s]) = p.as_list() else {
            return Err(bad("a proof is [address, signature]".into()));
        };
        let address = read_address(a, "proof address").map_err(|e| bad(e.to_string()))?;
        let signature = read_signature(s, "proof signature").map_err(|e| bad(e.to_string()))?;
        if verify_address(&address, &auth_digest(h, role, &address), &signature).is_err() {
            return Err(bad(format!(
                "the proof for {address} is not that validator's signature over this session"
            )));
        }
        proven.push(address);
    }
    proven.sort();
    proven.dedup();
    match expect {
        Expect::Exactly(want) => {
            let mut want = want.to_vec();
            want.sort();
            if proven != want {
                return Err(bad(format!(
                    "the peer proved {proven:?} but is configured to host {want:?}"
                )));
            }
        }
        Expect::AnyOf(known) => {
            if let Some(stranger) = proven.iter().find(|a| !known.contains(a)) {
                return Err(bad(format!(
                    "{stranger} is not a validator of any configured peer"
                )));
            }
        }
    }
    Ok(proven)
}

fn builder() -> Result<snow::Builder<'static>, SessionError> {
    let params: snow::params::NoiseParams = NOISE_PATTERN.parse().map_err(noise_error)?;
    Ok(snow::Builder::new(params))
}

impl Session {
    /// Runs the Noise handshake and the mutual authentication over `ws`, proving the keys
    /// in `mine` and requiring `expect` of the other side, all within [`HANDSHAKE_MS_MAX`].
    ///
    /// # Errors
    /// [`SessionError`]: timeout, WebSocket, Noise or authentication failure.
    pub async fn establish<S>(
        ws: &mut WebSocketStream<S>,
        role: Role,
        mine: &[&SecretKey],
        expect: Expect<'_>,
    ) -> Result<Session, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let limit = Duration::from_millis(HANDSHAKE_MS_MAX);
        tokio::time::timeout(limit, Self::handshake(ws, role, mine, expect))
            .await
            .map_err(|_| SessionError::HandshakeTimeout {
                ms: HANDSHAKE_MS_MAX,
            })?
    }

    async fn handshake<S>(
        ws: &mut WebSocketStream<S>,
        role: Role,
        mine: &[&SecretKey],
        expect: Expect<'_>,
    ) -> Result<Session, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let b = builder()?;
        let static_key = b.generate_keypair().map_err(noise_error)?;
        let b = builder()?
            .local_private_key(&static_key.private)
            .map_err(noise_error)?;
        let mut hs = match role {
            Role::Dialer => b.build_initiator(),
            Role::Listener => b.build_responder(),
        }
        .map_err(noise_error)?;
        let mut buf = vec![0u8; NOISE_MESSAGE_BYTES_MAX];
        let mut payload = vec![0u8; NOISE_MESSAGE_BYTES_MAX];
        // XX: -> e; <- e, ee, s, es; -> s, se.
        let mut write = role == Role::Dialer;
        while !hs.is_handshake_finished() {
            if write {
                let n = hs.write_message(&[], &mut buf).map_err(noise_error)?;
                send_binary(ws, buf[..n].to_vec()).await?;
            } else {
                let frame = next_binary(ws).await?;
                hs.read_message(&frame, &mut payload).map_err(noise_error)?;
            }
            write = !write;
        }
        let h = hs.get_handshake_hash().to_vec();
        let noise = hs.into_transport_mode().map_err(noise_error)?;
        let mut session = Session {
            noise,
            peer_validators: Vec::new(),
            reassembly: Vec::new(),
            buffer: vec![0u8; NOISE_MESSAGE_BYTES_MAX],
        };
        let my_proofs = proofs(&h, role, mine)?;
        let their_role = match role {
            Role::Dialer => Role::Listener,
            Role::Listener => Role::Dialer,
        };
        // The proofs travel as the session's first message (chunked: a node hosting many
        // validators proves each of them).
        if role == Role::Dialer {
            session.send_message(ws, &my_proofs).await?;
        }
        let body = match session.receive(ws).await? {
            Received::Message(m) => m,
            _ => {
                return Err(SessionError::Protocol(
                    "expected the authentication message first".into(),
                ))
            }
        };
        session.peer_validators = check_proofs(&h, their_role, &body, &expect)?;
        if role == Role::Listener {
            session.send_message(ws, &my_proofs).await?;
        }
        Ok(session)
    }

    fn decrypt(&mut self, frame: &[u8]) -> Result<(u8, Vec<u8>), SessionError> {
        if frame.len() > NOISE_MESSAGE_BYTES_MAX {
            return Err(SessionError::Protocol(
                "a frame over the Noise limit".into(),
            ));
        }
        let n = self
            .noise
            .read_message(frame, &mut self.buffer)
            .map_err(|e| noise_error(format!("{e} (a replayed, altered or foreign frame)")))?;
        let plain = &self.buffer[..n];
        match plain.split_first() {
            Some((kind, body)) => Ok((*kind, body.to_vec())),
            None => Err(SessionError::Protocol("an empty frame".into())),
        }
    }

    /// Encrypts one frame of `kind`.
    fn encrypt(&mut self, kind: u8, body: &[u8]) -> Result<Vec<u8>, SessionError> {
        let mut plain = Vec::with_capacity(body.len() + 1);
        plain.push(kind);
        plain.extend_from_slice(body);
        let mut out = vec![0u8; plain.len() + TAG_BYTES];
        let n = self
            .noise
            .write_message(&plain, &mut out)
            .map_err(noise_error)?;
        out.truncate(n);
        Ok(out)
    }

    async fn send_message<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        message: &[u8],
    ) -> Result<(), SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        for frame in self.seal(message)? {
            send_binary(ws, frame).await?;
        }
        Ok(())
    }

    /// The encrypted frames that carry `message` (chunked to fit Noise).
    ///
    /// # Errors
    /// [`SessionError::MessageTooLarge`]; a Noise failure (nonce exhaustion).
    pub fn seal(&mut self, message: &[u8]) -> Result<Vec<Vec<u8>>, SessionError> {
        if message.len() > PEER_MESSAGE_BYTES_MAX {
            return Err(SessionError::MessageTooLarge {
                max: PEER_MESSAGE_BYTES_MAX,
            });
        }
        let chunks: Vec<&[u8]> = if message.is_empty() {
            vec![&[]]
        } else {
            message.chunks(CHUNK_BYTES_MAX).collect()
        };
        let last = chunks.len() - 1;
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| self.encrypt(if i == last { FRAME_LAST } else { FRAME_MORE }, c))
            .collect()
    }

    /// A keep-alive frame.
    ///
    /// # Errors
    /// A Noise failure.
    pub fn ping(&mut self) -> Result<Vec<u8>, SessionError> {
        self.encrypt(FRAME_PING, &[])
    }

    /// Decrypts one received frame, reassembling messages.
    ///
    /// # Errors
    /// [`SessionError::Noise`] (a frame that does not decrypt in order),
    /// [`SessionError::MessageTooLarge`], [`SessionError::Protocol`].
    pub fn open(&mut self, frame: &[u8]) -> Result<Received, SessionError> {
        let (kind, body) = self.decrypt(frame)?;
        match kind {
            FRAME_PING => Ok(Received::Ping),
            FRAME_MORE | FRAME_LAST => {
                if self.reassembly.len() + body.len() > PEER_MESSAGE_BYTES_MAX {
                    return Err(SessionError::MessageTooLarge {
                        max: PEER_MESSAGE_BYTES_MAX,
                    });
                }
                self.reassembly.extend_from_slice(&body);
                if kind == FRAME_LAST {
                    Ok(Received::Message(std::mem::take(&mut self.reassembly)))
                } else {
                    Ok(Received::Partial)
                }
            }
            other => Err(SessionError::Protocol(format!(
                "unknown frame kind {other}"
            ))),
        }
    }

    /// Receives frames until a whole message (or a ping) arrives.
    ///
    /// # Errors
    /// As [`Session::open`]; WebSocket failures; [`SessionError::Closed`].
    pub async fn receive<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
    ) -> Result<Received, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            let frame = next_binary(ws).await?;
            match self.open(&frame)? {
                Received::Partial => continue,
                done => return Ok(done),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ends of a Noise session run in memory.
    fn pair() -> (Session, Session) {
        let keys = builder().unwrap().generate_keypair().unwrap();
        let other = builder().unwrap().generate_keypair().unwrap();
        let mut i = builder()
            .unwrap()
            .local_private_key(&keys.private)
            .unwrap()
            .build_initiator()
            .unwrap();
        let mut r = builder()
            .unwrap()
            .local_private_key(&other.private)
            .unwrap()
            .build_responder()
            .unwrap();
        let (mut buf, mut out) = (
            vec![0u8; NOISE_MESSAGE_BYTES_MAX],
            vec![0u8; NOISE_MESSAGE_BYTES_MAX],
        );
        let mut turn = true;
        while !i.is_handshake_finished() || !r.is_handshake_finished() {
            let (w, rd) = if turn {
                (&mut i, &mut r)
            } else {
                (&mut r, &mut i)
            };
            let n = w.write_message(&[], &mut buf).unwrap();
            rd.read_message(&buf[..n], &mut out).unwrap();
            turn = !turn;
        }
        assert_eq!(i.get_handshake_hash(), r.get_handshake_hash());
        let session = |hs: snow::HandshakeState| Session {
            noise: hs.into_transport_mode().unwrap(),
            peer_validators: Vec::new(),
            reassembly: Vec::new(),
            buffer: vec![0u8; NOISE_MESSAGE_BYTES_MAX],
        };
        (session(i), session(r))
    }

    #[test]
    fn messages_are_chunked_reassembled_and_frames_cannot_be_replayed() {
        let (mut a, mut b) = pair();
        let message: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let frames = a.seal(&message).unwrap();
        assert!(frames.len() > 3 && frames.iter().all(|f| f.len() <= NOISE_MESSAGE_BYTES_MAX));
        let mut got = None;
        for f in &frames {
            if let Received::Message(m) = b.open(f).unwrap() {
                got = Some(m);
            }
        }
        assert_eq!(got, Some(message));
        // The same frame again fails to decrypt (its nonce was used).
        assert!(matches!(b.open(&frames[0]), Err(SessionError::Noise(_))));
        assert!(matches!(
            a.seal(&vec![0; PEER_MESSAGE_BYTES_MAX + 1]),
            Err(SessionError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn proofs_bind_the_session_and_the_role() {
        let key = SecretKey::from_seed(b"session-proof");
        let h = [5u8; 32];
        let bytes = proofs(&h, Role::Dialer, &[&key]).unwrap();
        let me = [key.address()];
        assert_eq!(
            check_proofs(&h, Role::Dialer, &bytes, &Expect::Exactly(&me)).unwrap(),
            me.to_vec()
        );
        assert!(
            check_proofs(&[6u8; 32], Role::Dialer, &bytes, &Expect::Exactly(&me)).is_err(),
            "another session"
        );
        assert!(
            check_proofs(&h, Role::Listener, &bytes, &Expect::Exactly(&me)).is_err(),
            "reflected"
        );
        assert!(
            check_proofs(&h, Role::Dialer, &bytes, &Expect::AnyOf(&[])).is_err(),
            "not a peer"
        );
    }
}
