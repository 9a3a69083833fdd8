//! Chain events as entity inputs: logs of the registry and depository decoded into typed
//! [`ChainEvent`]s ordered by (block, log index); an [`EventCursor`] that says which were
//! already handed over, persisted atomically (temp file + rename) so that across restarts
//! none is missed; and the canonical bytes an entity records as `EntityTx::ChainEvent`.
//!
//! Delivery is at-least-once: [`EventWatcher::poll`] returns events after the cursor and
//! [`EventWatcher::ack`] advances it once the consumer has applied them. Every event's
//! bytes carry its (block, log index), so a consumer that crashed between applying and
//! acking recognizes the repeats and applies each event exactly once.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, I256, U256};
use alloy_sol_types::SolEvent;

use super::contracts::{Depository as D, EntityRegistry as R};
use super::signing::{i256_to_bigint, u256_to_bigint};
use super::{ChainError, Deployment, Jurisdiction, RawLog};
use crate::crypto::{tagged, Canonical, RlpItem};

/// Most logs one poll hands over (bounds memory; the next poll continues).
pub const POLL_LOGS_MAX: usize = 10_000;

/// A decoded event. Numbers are entity numbers; amounts are exact integers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainEvent {
    EntityRegistered {
        entity: U256,
        board_hash: [u8; 32],
    },
    ReserveUpdated {
        entity: U256,
        token: U256,
        balance: U256,
    },
    CollateralUpdated {
        left: U256,
        right: U256,
        token: U256,
        collateral: U256,
        ondelta: I256,
    },
    Settled {
        left: U256,
        right: U256,
        nonce: U256,
    },
    DisputeStarted {
        left: U256,
        right: U256,
        nonce: U256,
        deadline: U256,
    },
    DisputeFinalized {
        left: U256,
        right: U256,
        nonce: U256,
    },
    DebtRecorded {
        debtor: U256,
        creditor: U256,
        token: U256,
        amount: U256,
    },
}

/// An event with its position on the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionedEvent {
    pub block: u64,
    pub log_index: u64,
    pub event: ChainEvent,
}

/// Decodes `log` as event `E` and accepts it only in the one form the contract emits:
/// re-encoding must give back exactly its topics and data (no extra topics, no bytes after
/// the fields, no dirty padding).
fn strict<E: SolEvent>(log: &RawLog) -> Result<E, ChainError> {
    let bad = |why: String| ChainError::Inconsistent {
        message: format!(
            "undecodable {} log at block {} index {}: {why}",
            E::SIGNATURE,
            log.block,
            log.log_index
        ),
    };
    let event =
        E::decode_raw_log(log.topics.iter().copied(), &log.data).map_err(|e| bad(e.to_string()))?;
    let again = event.encode_log_data();
    if again.topics() != log.topics.as_slice() || again.data != log.data {
        return Err(bad("not the canonical encoding of the event".into()));
    }
    Ok(event)
}

impl ChainEvent {
    /// Decodes one log; `None` for a log that is none of ours (an unknown topic).
    ///
    /// # Errors
    /// [`ChainError::Inconsistent`] for a log with our topic whose fields do not decode
    /// strictly (a node returning garbage): wrong topic count, short data, or bytes after
    /// the fields (see `strict`: one event has one accepted log form).
    pub fn decode(log: &RawLog) -> Result<Option<ChainEvent>, ChainError> {
        let Some(topic) = log.topics.first() else {
            return Ok(None);
        };
        let ev = match *topic {
            t if t == R::EntityRegistered::SIGNATURE_HASH => {
                let e = strict::<R::EntityRegistered>(log)?;
                ChainEvent::EntityRegistered {
                    entity: e.entity,
                    board_hash: e.boardHash.0,
                }
            }
            t if t == D::ReserveUpdated::SIGNATURE_HASH => {
                let e = strict::<D::ReserveUpdated>(log)?;
                ChainEvent::ReserveUpdated {
                    entity: e.entity,
                    token: e.token,
                    balance: e.newBalance,
                }
            }
            t if t == D::CollateralUpdated::SIGNATURE_HASH => {
                let e = strict::<D::CollateralUpdated>(log)?;
                ChainEvent::CollateralUpdated {
                    left: e.left,
                    right: e.right,
                    token: e.token,
                    collateral: e.collateral,
                    ondelta: e.ondelta,
                }
            }
            t if t == D::Settled::SIGNATURE_HASH => {
                let e = strict::<D::Settled>(log)?;
                ChainEvent::Settled {
                    left: e.left,
                    right: e.right,
                    nonce: e.nonce,
                }
            }
            t if t == D::DisputeStarted::SIGNATURE_HASH => {
                let e = strict::<D::DisputeStarted>(log)?;
                ChainEvent::DisputeStarted {
                    left: e.left,
                    right: e.right,
                    nonce: e.nonce,
                    deadline: e.deadline,
                }
            }
            t if t == D::DisputeFinalized::SIGNATURE_HASH => {
                let e = strict::<D::DisputeFinalized>(log)?;
                ChainEvent::DisputeFinalized {
                    left: e.left,
                    right: e.right,
                    nonce: e.nonce,
                }
            }
            t if t == D::DebtRecorded::SIGNATURE_HASH => {
                let e = strict::<D::DebtRecorded>(log)?;
                ChainEvent::DebtRecorded {
                    debtor: e.debtor,
                    creditor: e.creditor,
                    token: e.token,
                    amount: e.amount,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(ev))
    }

    /// The event's kind, as scripts see it.
    pub fn kind(&self) -> &'static str {
        match self {
            ChainEvent::EntityRegistered { .. } => "entity-registered",
            ChainEvent::ReserveUpdated { .. } => "reserve-updated",
            ChainEvent::CollateralUpdated { .. } => "collateral-updated",
            ChainEvent::Settled { .. } => "settled",
            ChainEvent::DisputeStarted { .. } => "dispute-started",
            ChainEvent::DisputeFinalized { .. } => "dispute-finalized",
            ChainEvent::DebtRecorded { .. } => "debt-recorded",
        }
    }

    /// The named fields, in declaration order, as exact integers (hashes as bytes).
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        use FieldValue::{Bytes32, Int};
        let u = |v: &U256| Int(u256_to_bigint(*v));
        match self {
            ChainEvent::EntityRegistered { entity, board_hash } => {
                vec![("entity", u(entity)), ("board-hash", Bytes32(*board_hash))]
            }
            ChainEvent::ReserveUpdated {
                entity,
                token,
                balance,
            } => {
                vec![
                    ("entity", u(entity)),
                    ("token", u(token)),
                    ("balance", u(balance)),
                ]
            }
            ChainEvent::CollateralUpdated {
                left,
                right,
                token,
                collateral,
                ondelta,
            } => vec![
                ("left", u(left)),
                ("right", u(right)),
                ("token", u(token)),
                ("collateral", u(collateral)),
                ("ondelta", Int(i256_to_bigint(*ondelta))),
            ],
            ChainEvent::Settled { left, right, nonce }
            | ChainEvent::DisputeFinalized { left, right, nonce } => {
                vec![("left", u(left)), ("right", u(right)), ("nonce", u(nonce))]
            }
            ChainEvent::DisputeStarted {
                left,
                right,
                nonce,
                deadline,
            } => vec![
                ("left", u(left)),
                ("right", u(right)),
                ("nonce", u(nonce)),
                ("deadline", u(deadline)),
            ],
            ChainEvent::DebtRecorded {
                debtor,
                creditor,
                token,
                amount,
            } => vec![
                ("debtor", u(debtor)),
                ("creditor", u(creditor)),
                ("token", u(token)),
                ("amount", u(amount)),
            ],
        }
    }
}

/// A field of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Int(num_bigint::BigInt),
    Bytes32([u8; 32]),
}

/// Canonical encoding: `tagged("xln/chain-event/v1", [chain id, block, log index, kind,
/// fields...])` — the bytes of `EntityTx::ChainEvent`.
impl PositionedEvent {
    pub fn canonical(&self, chain_id: u64) -> RlpItem {
        let mut items = vec![
            chain_id.canonical_rlp(),
            self.block.canonical_rlp(),
            self.log_index.canonical_rlp(),
            self.event.kind().canonical_rlp(),
        ];
        for (_, v) in self.event.fields() {
            items.push(match v {
                FieldValue::Int(n) => n.canonical_rlp(),
                FieldValue::Bytes32(b) => b.canonical_rlp(),
            });
        }
        tagged(b"xln/chain-event/v1", items)
    }

    /// The bytes an entity records for this event (`EntityTx::ChainEvent { bytes }`).
    pub fn entity_input_bytes(&self, chain_id: u64) -> Vec<u8> {
        self.canonical(chain_id).canonical_bytes()
    }
}

/// The last event handed over: (block, log index); events at or before it are done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventCursor {
    /// `None` before the first event.
    pub last: Option<(u64, u64)>,
}

impl EventCursor {
    /// Is the event at (block, index) after the cursor?
    pub fn is_new(&self, block: u64, log_index: u64) -> bool {
        self.last.is_none_or(|last| (block, log_index) > last)
    }

    /// The first block that may still hold new events.
    pub fn from_block(&self) -> u64 {
        self.last.map_or(0, |(b, _)| b)
    }
}

const CURSOR_MAGIC: &str = "xln-chain-cursor v1";

/// Reads and writes a cursor file `<dir>/chain-cursor` bound to one deployment.
#[derive(Clone, Debug)]
pub struct CursorFile {
    pub path: PathBuf,
}

impl CursorFile {
    pub fn in_dir(dir: &Path) -> Self {
        CursorFile {
            path: dir.join("chain-cursor"),
        }
    }

    fn header(d: &Deployment) -> String {
        format!(
            "{CURSOR_MAGIC} chain {} depository {}",
            d.chain_id, d.depository
        )
    }

    /// Loads the cursor; a missing file is the start. A file for another deployment or a
    /// malformed one is an error (never silently reset: that would re-apply events).
    ///
    /// # Errors
    /// [`ChainError::Cursor`].
    pub fn load(&self, d: &Deployment) -> Result<EventCursor, ChainError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(EventCursor::default()),
            Err(e) => return Err(cursor_error(&self.path, e)),
        };
        let mut lines = text.lines();
        let bad = |why: &str| ChainError::Cursor {
            message: format!("{} is not a valid cursor file: {why}", self.path.display()),
        };
        if lines.next() != Some(Self::header(d).as_str()) {
            return Err(bad(
                "it belongs to another chain or deployment, or is not a cursor",
            ));
        }
        match lines.next() {
            Some("none") => Ok(EventCursor::default()),
            Some(pos) => {
                let mut it = pos.split(' ');
                let block = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("bad block"))?;
                let index = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("bad log index"))?;
                Ok(EventCursor {
                    last: Some((block, index)),
                })
            }
            None => Err(bad("truncated")),
        }
    }

    /// Writes the cursor atomically: a temp file, fsync, rename over the old one.
    ///
    /// # Errors
    /// [`ChainError::Cursor`]; the previous file stays intact.
    pub fn store(&self, d: &Deployment, cursor: &EventCursor) -> Result<(), ChainError> {
        use std::io::Write;
        let body = match cursor.last {
            None => "none".to_string(),
            Some((b, i)) => format!("{b} {i}"),
        };
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(format!("{}\n{body}\n", Self::header(d)).as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| cursor_error(&self.path, e))
    }
}

fn cursor_error(path: &Path, e: std::io::Error) -> ChainError {
    ChainError::Cursor {
        message: format!("{}: {e}", path.display()),
    }
}

/// Follows the contracts' logs from a cursor, up to the backend's confirmed block.
#[derive(Clone, Debug)]
pub struct EventWatcher {
    pub deployment: Deployment,
    pub cursor: EventCursor,
    file: Option<CursorFile>,
}

impl EventWatcher {
    /// A watcher whose cursor lives in memory only.
    pub fn in_memory(deployment: Deployment) -> Self {
        EventWatcher {
            deployment,
            cursor: EventCursor::default(),
            file: None,
        }
    }

    /// A watcher whose cursor is persisted in `dir` (loaded now if present).
    ///
    /// # Errors
    /// As [`CursorFile::load`].
    pub fn persisted(deployment: Deployment, dir: &Path) -> Result<Self, ChainError> {
        let file = CursorFile::in_dir(dir);
        let cursor = file.load(&deployment)?;
        Ok(EventWatcher {
            deployment,
            cursor,
            file: Some(file),
        })
    }

    /// Confirmed events after the cursor (at most [`POLL_LOGS_MAX`]); does not advance it.
    ///
    /// # Errors
    /// A backend error, or [`ChainError::Inconsistent`] for garbage logs. The cursor is
    /// unchanged, so a retry misses nothing.
    pub fn poll(&self, chain: &mut dyn Jurisdiction) -> Result<Vec<PositionedEvent>, ChainError> {
        let to = chain.confirmed_block()?;
        let from = self.cursor.from_block();
        if from > to {
            return Ok(Vec::new());
        }
        let addresses: [Address; 2] = [self.deployment.registry, self.deployment.depository];
        let mut logs = chain.logs(&addresses, from, to)?;
        logs.sort_by_key(|l| (l.block, l.log_index));
        let mut out = Vec::new();
        for log in logs
            .iter()
            .filter(|l| self.cursor.is_new(l.block, l.log_index))
        {
            if out.len() >= POLL_LOGS_MAX {
                break;
            }
            if let Some(event) = ChainEvent::decode(log)? {
                out.push(PositionedEvent {
                    block: log.block,
                    log_index: log.log_index,
                    event,
                });
            }
        }
        Ok(out)
    }

    /// Marks everything up to `event` as applied and persists the cursor (if a file).
    ///
    /// # Errors
    /// [`ChainError::Cursor`]; the in-memory cursor is advanced only if the write worked.
    pub fn ack(&mut self, event: &PositionedEvent) -> Result<(), ChainError> {
        let next = EventCursor {
            last: Some((event.block, event.log_index)),
        };
        if next <= self.cursor {
            return Ok(());
        }
        if let Some(f) = &self.file {
            f.store(&self.deployment, &next)?;
        }
        self.cursor = next;
        Ok(())
    }
}
