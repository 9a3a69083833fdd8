//! [`Input`] (what a host hands a replica) and [`HostRecord`] (what it logs when the
//! replica accepts it), with the records' canonical encoding and strict decoder. The format
//! is the project's tagged RLP, versioned by tag:
//!
//! ```text
//! tagged("xln/host-record/genesis/v2", [validator, board, reserves, config, onion key])
//! tagged("xln/host-record/tick/v1",    [entity, validator, now])
//! tagged("xln/host-record/message/v1", [entity, validator, now, sender, message bytes])
//! tagged("xln/host-record/submit/v1",  [entity, validator, now, tx])
//! ```
//!
//! A message is kept as its canonical bytes (what travelled), decoded strictly by the wire
//! codec on replay; `config` is the ten [`EntityConfig`] numbers in declaration order, as in
//! the simulator's input log; the onion key is the *public* key of the secret the entity's
//! validators share for routed payments (empty: none) — the secret itself stays with the
//! host's [`Signer`](super::Signer), and replay checks it matches; a submitted tx is
//! unsigned (the replica signs it with its next nonce, and RFC 6979 makes the signature the
//! same on replay).

use num_bigint::BigInt;

use super::ReplicaId;
use crate::crypto::{tagged, Address, Canonical, RlpItem};
use crate::entity::wire::{
    decode_message, field_count, read_address, read_bytes, read_hash, read_u64, tagged_parts,
    unknown_tag, WireDecode, WireError, WIRE_MESSAGE_BYTES_MAX,
};
use crate::entity::{Board, EntityConfig, EntityInput, EntityMessage, EntityTx, Holder, TokenId};
use crate::runtime::{config_items, read_config, read_reserves};

/// Every record tag starts with this (how a node's WAL is told from a simulator's).
pub const RECORD_TAG_PREFIX: &[u8] = b"xln/host-record/";

/// Largest encoded record: a largest message plus the record's own fields.
const RECORD_BYTES_MAX: usize = WIRE_MESSAGE_BYTES_MAX + 4_096;

/// What a host hands a replica (the time is given beside it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Time passed: run the replica's timers.
    Tick,
    /// A message from validator `from` (authenticated by the host's transport).
    Message {
        /// The sending validator.
        from: Address,
        /// The message.
        message: EntityMessage,
    },
    /// A tx this replica's validator asks for (signed by the replica with its next nonce).
    Submit(EntityTx),
}

impl Input {
    /// The replica's input (the sender is the host's business, not the machine's).
    pub(super) fn into_entity_input(self) -> EntityInput {
        match self {
            Input::Tick => EntityInput::Tick,
            Input::Message { message, .. } => EntityInput::Message(message),
            Input::Submit(tx) => EntityInput::SubmitTx(tx),
        }
    }

    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Tick => "tick",
            Input::Message { message, .. } => message.kind(),
            Input::Submit(_) => "submit",
        }
    }
}

/// One logged record: a replica's start, or an input it accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostRecord {
    /// A replica of a new entity starts from this genesis, run by `validator`.
    Genesis {
        /// The validator running the replica.
        validator: Address,
        /// The entity's genesis board (its id is this board's hash).
        board: Board,
        /// Genesis reserves.
        reserves: Vec<(Holder, TokenId, BigInt)>,
        /// The replica's timing and size configuration.
        config: EntityConfig,
        /// The compressed public key of the entity's onion secret (empty: the entity takes
        /// no routed payments). The secret comes from the host's signer.
        onion_key: Vec<u8>,
    },
    /// `replica` accepted `input` at time `now`.
    Input {
        /// The replica.
        replica: ReplicaId,
        /// The time the input was handled at.
        now: u64,
        /// The input.
        input: Input,
    },
}

impl HostRecord {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.canonical_bytes()
    }

    /// Decodes a record strictly (it must re-encode to exactly `bytes`).
    ///
    /// # Errors
    /// [`WireError`] naming what is malformed.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > RECORD_BYTES_MAX {
            return Err(WireError::TooLarge {
                bytes: bytes.len(),
                max: RECORD_BYTES_MAX,
            });
        }
        let item = RlpItem::decode(bytes)?;
        let record = Self::from_item(&item)?;
        if record.encode() != bytes {
            return Err(WireError::NotCanonical { what: Self::WHAT });
        }
        Ok(record)
    }

    /// Whether `bytes` look like a host record (by their tag), without decoding them.
    pub fn is_host_record(bytes: &[u8]) -> bool {
        RlpItem::decode(bytes)
            .ok()
            .and_then(|i| {
                tagged_parts(&i, "record")
                    .ok()
                    .map(|(t, _)| t.starts_with(RECORD_TAG_PREFIX))
            })
            .unwrap_or(false)
    }
}

fn replica_fields(r: &ReplicaId, now: u64) -> Vec<RlpItem> {
    vec![
        r.entity.canonical_rlp(),
        r.validator.canonical_rlp(),
        now.canonical_rlp(),
    ]
}

impl Canonical for HostRecord {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            HostRecord::Genesis {
                validator,
                board,
                reserves,
                config,
                onion_key,
            } => tagged(
                b"xln/host-record/genesis/v2",
                vec![
                    validator.canonical_rlp(),
                    board.canonical_rlp(),
                    reserves.canonical_rlp(),
                    RlpItem::List(config_items(config)),
                    onion_key.canonical_rlp(),
                ],
            ),
            HostRecord::Input {
                replica,
                now,
                input,
            } => input_item(replica, *now, input),
        }
    }
}

/// The record of `replica` accepting `input` at `now`, encoded (without building a
/// [`HostRecord`], so the driver need not clone the input).
pub(super) fn input_record(replica: &ReplicaId, now: u64, input: &Input) -> Vec<u8> {
    input_item(replica, now, input).encode()
}

fn input_item(replica: &ReplicaId, now: u64, input: &Input) -> RlpItem {
    let mut fields = replica_fields(replica, now);
    let tag: &[u8] = match input {
        Input::Tick => b"xln/host-record/tick/v1",
        Input::Message { from, message } => {
            fields.push(from.canonical_rlp());
            fields.push(RlpItem::Bytes(message.canonical_bytes()));
            b"xln/host-record/message/v1"
        }
        Input::Submit(tx) => {
            fields.push(tx.canonical_rlp());
            b"xln/host-record/submit/v1"
        }
    };
    tagged(tag, fields)
}

impl WireDecode for HostRecord {
    const WHAT: &'static str = "host record";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let replica = |f: &[RlpItem]| -> Result<(ReplicaId, u64), WireError> {
            Ok((
                ReplicaId {
                    entity: read_hash(&f[0], "record entity")?,
                    validator: read_address(&f[1], "record validator")?,
                },
                read_u64(&f[2], "record time")?,
            ))
        };
        let (replica, now, input) = match tag {
            b"xln/host-record/genesis/v2" => {
                let f = field_count(f, 5, Self::WHAT)?;
                let config = f[3].as_list().filter(|c| c.len() == 10).ok_or_else(|| {
                    WireError::Malformed {
                        what: Self::WHAT,
                        reason: "the config is a list of 10 numbers".into(),
                    }
                })?;
                let bad = |e: crate::runtime::InputDecodeError| WireError::Malformed {
                    what: Self::WHAT,
                    reason: e.0,
                };
                return Ok(HostRecord::Genesis {
                    validator: read_address(&f[0], "genesis validator")?,
                    board: Board::from_item(&f[1])?,
                    reserves: read_reserves(&f[2]).map_err(bad)?,
                    config: read_config(config).map_err(bad)?,
                    onion_key: read_bytes(&f[4], "genesis onion key")?.to_vec(),
                });
            }
            b"xln/host-record/tick/v1" => {
                let f = field_count(f, 3, Self::WHAT)?;
                let (r, now) = replica(f)?;
                (r, now, Input::Tick)
            }
            b"xln/host-record/message/v1" => {
                let f = field_count(f, 5, Self::WHAT)?;
                let (r, now) = replica(f)?;
                let from = read_address(&f[3], "message sender")?;
                let message = decode_message(read_bytes(&f[4], "message bytes")?)?;
                (r, now, Input::Message { from, message })
            }
            b"xln/host-record/submit/v1" => {
                let f = field_count(f, 4, Self::WHAT)?;
                let (r, now) = replica(f)?;
                (r, now, Input::Submit(EntityTx::from_item(&f[3])?))
            }
            other => return Err(unknown_tag(Self::WHAT, other)),
        };
        Ok(HostRecord::Input {
            replica,
            now,
            input,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::entity::Validator;

    #[test]
    fn records_round_trip_and_decode_strictly() {
        let key = SecretKey::from_seed(b"record-test");
        let board = Board::new(vec![Validator::new(key.address(), 1)], 1).expect("board");
        let replica = ReplicaId {
            entity: board.entity_id(),
            validator: key.address(),
        };
        let records = vec![
            HostRecord::Genesis {
                validator: key.address(),
                board: board.clone(),
                reserves: vec![("alice".into(), 1, BigInt::from(10))],
                config: EntityConfig::default(),
                onion_key: vec![2; 33],
            },
            HostRecord::Input {
                replica,
                now: 5,
                input: Input::Tick,
            },
            HostRecord::Input {
                replica,
                now: 6,
                input: Input::Message {
                    from: Address([3; 20]),
                    message: EntityMessage::SyncRequest {
                        from: Address([3; 20]),
                        height: 2,
                    },
                },
            },
            HostRecord::Input {
                replica,
                now: u64::MAX,
                input: Input::Submit(EntityTx::Message { text: "hi".into() }),
            },
        ];
        for r in records {
            let bytes = r.encode();
            assert!(HostRecord::is_host_record(&bytes));
            assert_eq!(HostRecord::decode(&bytes), Ok(r.clone()));
            let mut longer = bytes.clone();
            longer.push(0x80);
            assert!(HostRecord::decode(&longer).is_err());
        }
        assert!(!HostRecord::is_host_record(&[0xc0]));
    }
}
