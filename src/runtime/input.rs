//! [`RuntimeInput`]: every way the runtime's state can change, as one closed enum with a
//! canonical binary encoding (the project's tagged RLP, decoded strictly), and
//! [`Runtime::apply`], the one entry point that applies an input. Why: the write-ahead log
//! stores exactly these inputs, so replaying them from a snapshot gives back the state.
//!
//! Submissions are logged unsigned: the replica signs them with its seed-derived key and
//! its next nonce, which replay reproduces exactly (RFC 6979 signatures are deterministic).

use std::fmt;

use num_bigint::BigInt;

use super::{Behaviour, Runtime, RuntimeError};
use crate::crypto::{tagged, Canonical, RlpItem};
use crate::entity::wire::{
    field_count, read_bigint, read_list, read_text, read_u64, tagged_parts, WireDecode, WireError,
};
use crate::entity::{EntityConfig, EntityTx, Holder, TokenId};

/// Largest encoded input accepted by [`RuntimeInput::decode`] (a bound on hostile input;
/// the largest real input, a tx with a maximal payload, is far smaller).
pub const INPUT_BYTES_MAX: usize = 1 << 20;

/// One accepted change to the runtime. Indices are runtime indices (entities numbered from
/// 0 in the order they were added, replicas within their entity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeInput {
    /// Start over: an empty runtime with this seed ([`Runtime::new`]).
    Reset {
        /// The seed.
        seed: u64,
    },
    /// The replica configuration for entities added from now on.
    SetEntityConfig(EntityConfig),
    /// Add an entity of equal-share validators ([`Runtime::add_entity`]).
    AddEntity {
        /// Its name (a label for people and tools).
        name: String,
        /// Number of validators.
        validators: u64,
        /// Shares needed to decide.
        threshold: u64,
        /// Genesis reserves.
        reserves: Vec<(Holder, TokenId, BigInt)>,
    },
    /// Submit a tx to the next honest replica ([`Runtime::submit`]).
    Submit {
        /// The entity.
        entity: u64,
        /// The unsigned tx.
        tx: EntityTx,
    },
    /// Submit a tx to one replica ([`Runtime::submit_to`]).
    SubmitTo {
        /// The entity.
        entity: u64,
        /// The replica.
        replica: u64,
        /// The unsigned tx.
        tx: EntityTx,
    },
    /// Set a replica's behaviour ([`Runtime::set_behaviour`]).
    SetBehaviour {
        /// The entity.
        entity: u64,
        /// The replica.
        replica: u64,
        /// The behaviour.
        behaviour: Behaviour,
    },
    /// Set the network model ([`Runtime::set_network`]).
    SetNetwork {
        /// Loss probability (numerator, denominator).
        loss: (u64, u64),
        /// Duplication probability (numerator, denominator).
        duplicate: (u64, u64),
        /// Most extra ticks of delay.
        max_delay: u64,
        /// The network's seed.
        seed: u64,
    },
    /// Make the network perfect ([`Runtime::heal_network`]).
    HealNetwork,
    /// Run ticks ([`Runtime::run_ticks`]).
    RunTicks {
        /// How many.
        ticks: u64,
    },
    /// Run until quiet or out of ticks ([`Runtime::run_until_quiet`]).
    RunUntilQuiet {
        /// The tick budget.
        max_ticks: u64,
    },
}

/// What applying an input returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeOutput {
    /// Nothing to report.
    Done,
    /// The index of the entity added.
    Entity(usize),
    /// The signed tx's hash.
    TxHash([u8; 32]),
    /// The tick reached.
    Tick(u64),
    /// Whether the runtime became quiet.
    Quiet(bool),
}

/// Why bytes are not a canonical [`RuntimeInput`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a runtime input: {0}")]
pub struct InputDecodeError(pub String);

fn bad(what: impl Into<String>) -> InputDecodeError {
    InputDecodeError(what.into())
}

impl Runtime {
    /// Applies one input: THE way to change a runtime whose history is persisted. On `Ok`
    /// the input is accepted (and must be logged); on `Err` nothing changed.
    ///
    /// # Errors
    /// The [`RuntimeError`] of the underlying call (unknown entity, bad board, refusal).
    pub fn apply(&mut self, input: &RuntimeInput) -> Result<RuntimeOutput, RuntimeError> {
        Ok(match input {
            RuntimeInput::Reset { seed } => {
                *self = Runtime::new(*seed);
                RuntimeOutput::Done
            }
            RuntimeInput::SetEntityConfig(config) => {
                self.set_entity_config(config.clone());
                RuntimeOutput::Done
            }
            RuntimeInput::AddEntity {
                name,
                validators,
                threshold,
                reserves,
            } => {
                let validators = usize::try_from(*validators).map_err(|_| {
                    RuntimeError::Entity(crate::entity::EntityError::InvalidBoard {
                        reason: format!("{validators} validators"),
                    })
                })?;
                let index = self.add_entity(validators, *threshold, reserves.clone())?;
                self.entities[index].name = name.clone();
                RuntimeOutput::Entity(index)
            }
            RuntimeInput::Submit { entity, tx } => {
                RuntimeOutput::TxHash(self.submit(index(*entity), tx.clone())?)
            }
            RuntimeInput::SubmitTo {
                entity,
                replica,
                tx,
            } => RuntimeOutput::TxHash(self.submit_to(
                index(*entity),
                index(*replica),
                tx.clone(),
            )?),
            RuntimeInput::SetBehaviour {
                entity,
                replica,
                behaviour,
            } => {
                self.set_behaviour(index(*entity), index(*replica), *behaviour)?;
                RuntimeOutput::Done
            }
            RuntimeInput::SetNetwork {
                loss,
                duplicate,
                max_delay,
                seed,
            } => {
                self.set_network(*loss, *duplicate, *max_delay, *seed);
                RuntimeOutput::Done
            }
            RuntimeInput::HealNetwork => {
                self.heal_network();
                RuntimeOutput::Done
            }
            RuntimeInput::RunTicks { ticks } => {
                self.run_ticks(*ticks);
                RuntimeOutput::Tick(self.now())
            }
            RuntimeInput::RunUntilQuiet { max_ticks } => {
                RuntimeOutput::Quiet(self.run_until_quiet(*max_ticks))
            }
        })
    }
}

/// A logged index as a `usize` (saturating: an index that large names nothing and is
/// refused as unknown).
fn index(i: u64) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

fn u(x: u64) -> RlpItem {
    x.canonical_rlp()
}

fn pair(p: (u64, u64)) -> RlpItem {
    RlpItem::List(vec![u(p.0), u(p.1)])
}

pub(crate) fn config_items(c: &EntityConfig) -> Vec<RlpItem> {
    [
        c.view_timeout_base,
        c.view_timeout_step,
        c.view_timeout_max,
        c.batch_delay,
        c.resend_interval,
        c.sync_interval,
        c.commits_kept as u64,
        c.views_ahead_max,
        c.clock_drift_max,
        c.mempool_max as u64,
    ]
    .into_iter()
    .map(u)
    .collect()
}

/// Canonical encoding: `tagged("xln/runtime-input/<kind>/v1", fields)`, fields in
/// declaration order; a behaviour is its name as text; a reserve is `[holder, token, amount]`.
impl Canonical for RuntimeInput {
    fn canonical_rlp(&self) -> RlpItem {
        match self {
            RuntimeInput::Reset { seed } => tagged(b"xln/runtime-input/reset/v1", vec![u(*seed)]),
            RuntimeInput::SetEntityConfig(c) => {
                tagged(b"xln/runtime-input/entity-config/v1", config_items(c))
            }
            RuntimeInput::AddEntity {
                name,
                validators,
                threshold,
                reserves,
            } => tagged(
                b"xln/runtime-input/add-entity/v1",
                vec![
                    name.canonical_rlp(),
                    u(*validators),
                    u(*threshold),
                    reserves.canonical_rlp(),
                ],
            ),
            RuntimeInput::Submit { entity, tx } => tagged(
                b"xln/runtime-input/submit/v1",
                vec![u(*entity), tx.canonical_rlp()],
            ),
            RuntimeInput::SubmitTo {
                entity,
                replica,
                tx,
            } => tagged(
                b"xln/runtime-input/submit-to/v1",
                vec![u(*entity), u(*replica), tx.canonical_rlp()],
            ),
            RuntimeInput::SetBehaviour {
                entity,
                replica,
                behaviour,
            } => tagged(
                b"xln/runtime-input/set-behaviour/v1",
                vec![u(*entity), u(*replica), behaviour.name().canonical_rlp()],
            ),
            RuntimeInput::SetNetwork {
                loss,
                duplicate,
                max_delay,
                seed,
            } => tagged(
                b"xln/runtime-input/set-network/v1",
                vec![pair(*loss), pair(*duplicate), u(*max_delay), u(*seed)],
            ),
            RuntimeInput::HealNetwork => tagged(b"xln/runtime-input/heal-network/v1", vec![]),
            RuntimeInput::RunTicks { ticks } => {
                tagged(b"xln/runtime-input/run-ticks/v1", vec![u(*ticks)])
            }
            RuntimeInput::RunUntilQuiet { max_ticks } => {
                tagged(b"xln/runtime-input/run-until-quiet/v1", vec![u(*max_ticks)])
            }
        }
    }
}

// Decoding reuses the wire codec's strict readers (one decoder per structure, shared with
// what peers send); only the runtime's own shapes are read here.

impl From<WireError> for InputDecodeError {
    fn from(e: WireError) -> Self {
        InputDecodeError(e.to_string())
    }
}

/// A submitted tx: any entity tx except an account input, which replicas make themselves
/// from sealed peer messages (a caller cannot submit one, so it is never a runtime input).
pub(crate) fn read_tx(item: &RlpItem) -> Result<EntityTx, InputDecodeError> {
    match EntityTx::from_item(item)? {
        EntityTx::AccountInput { .. } => Err(bad(
            "account inputs are made by replicas from sealed peer messages, not submitted",
        )),
        tx => Ok(tx),
    }
}

fn read_pair(item: &RlpItem, what: &'static str) -> Result<(u64, u64), InputDecodeError> {
    match item.list() {
        Ok([a, b]) => Ok((read_u64(a, what)?, read_u64(b, what)?)),
        _ => Err(bad(format!("{what}: expected a pair"))),
    }
}

pub(crate) fn read_config(f: &[RlpItem]) -> Result<EntityConfig, InputDecodeError> {
    let v = f
        .iter()
        .map(|x| read_u64(x, "entity config"))
        .collect::<Result<Vec<u64>, _>>()?;
    let size = |x: u64| usize::try_from(x).map_err(|_| bad("entity config: size too large"));
    Ok(EntityConfig {
        view_timeout_base: v[0],
        view_timeout_step: v[1],
        view_timeout_max: v[2],
        batch_delay: v[3],
        resend_interval: v[4],
        sync_interval: v[5],
        commits_kept: size(v[6])?,
        views_ahead_max: v[7],
        clock_drift_max: v[8],
        mempool_max: size(v[9])?,
    })
}

fn read_behaviour(item: &RlpItem) -> Result<Behaviour, InputDecodeError> {
    let name = read_text(item, "behaviour")?;
    Behaviour::ALL
        .iter()
        .copied()
        .find(|b| b.name() == name)
        .ok_or_else(|| bad(format!("unknown behaviour {name:?}")))
}

pub(crate) fn read_reserves(
    item: &RlpItem,
) -> Result<Vec<(Holder, TokenId, BigInt)>, InputDecodeError> {
    read_list(item, "reserves")?
        .iter()
        .map(|r| match r.list() {
            Ok([h, t, a]) => Ok((
                Holder::from_item(h)?,
                read_u64(t, "token")?,
                read_bigint(a, "reserve")?,
            )),
            _ => Err(bad("reserve: expected [holder, token, amount]")),
        })
        .collect()
}

fn fields<'a>(
    item: &'a RlpItem,
    what: &'static str,
    n: usize,
) -> Result<&'a [RlpItem], InputDecodeError> {
    let (_, f) = tagged_parts(item, what)?;
    Ok(field_count(f, n, what)?)
}

impl RuntimeInput {
    /// The canonical bytes (what the write-ahead log stores).
    pub fn encode(&self) -> Vec<u8> {
        self.canonical_bytes()
    }

    /// Decodes canonical bytes strictly: the result re-encodes to exactly `bytes`.
    ///
    /// # Errors
    /// [`InputDecodeError`] naming what is malformed (too long, bad RLP, unknown tag, wrong
    /// field count or type, non-canonical bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, InputDecodeError> {
        if bytes.len() > INPUT_BYTES_MAX {
            return Err(bad(format!(
                "{} bytes, at most {INPUT_BYTES_MAX}",
                bytes.len()
            )));
        }
        let item = RlpItem::decode(bytes).map_err(|e| bad(e.to_string()))?;
        let input = Self::from_item(&item)?;
        if input.encode() != bytes {
            return Err(bad("not the canonical encoding"));
        }
        Ok(input)
    }

    fn from_item(item: &RlpItem) -> Result<Self, InputDecodeError> {
        let (tag, _) = tagged_parts(item, "runtime input")?;
        let kind = String::from_utf8_lossy(tag).to_string();
        let n = |n: usize| fields(item, "runtime input", n);
        Ok(match tag {
            b"xln/runtime-input/reset/v1" => RuntimeInput::Reset {
                seed: read_u64(&n(1)?[0], "seed")?,
            },
            b"xln/runtime-input/entity-config/v1" => {
                RuntimeInput::SetEntityConfig(read_config(n(10)?)?)
            }
            b"xln/runtime-input/add-entity/v1" => {
                let f = n(4)?;
                RuntimeInput::AddEntity {
                    name: read_text(&f[0], "name")?,
                    validators: read_u64(&f[1], "validators")?,
                    threshold: read_u64(&f[2], "threshold")?,
                    reserves: read_reserves(&f[3])?,
                }
            }
            b"xln/runtime-input/submit/v1" => {
                let f = n(2)?;
                RuntimeInput::Submit {
                    entity: read_u64(&f[0], "entity")?,
                    tx: read_tx(&f[1])?,
                }
            }
            b"xln/runtime-input/submit-to/v1" => {
                let f = n(3)?;
                RuntimeInput::SubmitTo {
                    entity: read_u64(&f[0], "entity")?,
                    replica: read_u64(&f[1], "replica")?,
                    tx: read_tx(&f[2])?,
                }
            }
            b"xln/runtime-input/set-behaviour/v1" => {
                let f = n(3)?;
                RuntimeInput::SetBehaviour {
                    entity: read_u64(&f[0], "entity")?,
                    replica: read_u64(&f[1], "replica")?,
                    behaviour: read_behaviour(&f[2])?,
                }
            }
            b"xln/runtime-input/set-network/v1" => {
                let f = n(4)?;
                RuntimeInput::SetNetwork {
                    loss: read_pair(&f[0], "loss")?,
                    duplicate: read_pair(&f[1], "duplicate")?,
                    max_delay: read_u64(&f[2], "max delay")?,
                    seed: read_u64(&f[3], "seed")?,
                }
            }
            b"xln/runtime-input/heal-network/v1" => {
                n(0)?;
                RuntimeInput::HealNetwork
            }
            b"xln/runtime-input/run-ticks/v1" => RuntimeInput::RunTicks {
                ticks: read_u64(&n(1)?[0], "ticks")?,
            },
            b"xln/runtime-input/run-until-quiet/v1" => RuntimeInput::RunUntilQuiet {
                max_ticks: read_u64(&n(1)?[0], "max ticks")?,
            },
            _ => return Err(bad(format!("unknown input tag {kind:?}"))),
        })
    }
}

fn tx_text(tx: &EntityTx) -> String {
    match tx {
        EntityTx::Payment {
            from,
            to,
            token,
            amount,
        } => format!("payment {from} -> {to} token {token} amount {amount}"),
        EntityTx::Message { text } => format!("message {text:?}"),
        other => format!("{} {other:?}", other.kind()),
    }
}

/// One line per input, for `xln wal inspect`.
impl fmt::Display for RuntimeInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeInput::Reset { seed } => write!(f, "reset seed {seed}"),
            RuntimeInput::SetEntityConfig(c) => write!(f, "set-entity-config {c:?}"),
            RuntimeInput::AddEntity {
                name,
                validators,
                threshold,
                reserves,
            } => write!(
                f,
                "add-entity {name:?} validators {validators} threshold {threshold} reserves {}",
                reserves.len()
            ),
            RuntimeInput::Submit { entity, tx } => {
                write!(f, "submit entity {entity}: {}", tx_text(tx))
            }
            RuntimeInput::SubmitTo {
                entity,
                replica,
                tx,
            } => write!(
                f,
                "submit entity {entity} replica {replica}: {}",
                tx_text(tx)
            ),
            RuntimeInput::SetBehaviour {
                entity,
                replica,
                behaviour,
            } => write!(
                f,
                "set-behaviour entity {entity} replica {replica} {behaviour}"
            ),
            RuntimeInput::SetNetwork {
                loss,
                duplicate,
                max_delay,
                seed,
            } => write!(
                f,
                "set-network loss {}/{} dup {}/{} max-delay {max_delay} seed {seed}",
                loss.0, loss.1, duplicate.0, duplicate.1
            ),
            RuntimeInput::HealNetwork => write!(f, "heal-network"),
            RuntimeInput::RunTicks { ticks } => write!(f, "run-ticks {ticks}"),
            RuntimeInput::RunUntilQuiet { max_ticks } => write!(f, "run-until-quiet {max_ticks}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountTx, Data};
    use crate::crypto::Address;
    use crate::entity::{Board, FeePolicy, PaymentHop, ProposalAction, RoutedPayment, Validator};

    fn samples() -> Vec<RuntimeInput> {
        let pay = EntityTx::Payment {
            from: "alice".into(),
            to: Holder::Address(Address([3; 20])),
            token: 1,
            amount: BigInt::from(-5) * BigInt::from(u64::MAX),
        };
        let board = Board {
            validators: vec![Validator::new(Address([1; 20]), 2)],
            threshold: 2,
        };
        vec![
            RuntimeInput::Reset { seed: 7 },
            RuntimeInput::SetEntityConfig(EntityConfig::default()),
            RuntimeInput::AddEntity {
                name: "hub".into(),
                validators: 4,
                threshold: 3,
                reserves: vec![("treasury".into(), 1, BigInt::from(1000))],
            },
            RuntimeInput::Submit { entity: 0, tx: pay },
            RuntimeInput::SubmitTo {
                entity: 1,
                replica: 2,
                tx: EntityTx::Propose {
                    id: 3,
                    action: ProposalAction::BoardChange(board),
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Vote { id: 3, yes: true },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Account {
                    peer: [9; 32],
                    tx: AccountTx::SetCreditLimit {
                        token: 2,
                        amount: BigInt::from(0),
                    },
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Account {
                    peer: [9; 32],
                    tx: AccountTx::OpenSubcontract {
                        id: 3,
                        code: [4; 32],
                        holds: vec![(1, BigInt::from(5))],
                        params: Data::Map(std::collections::BTreeMap::from([(
                            "k".to_string(),
                            Data::List(vec![Data::Bool(true), Data::Text("x".into())]),
                        )])),
                    },
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Account {
                    peer: [9; 32],
                    tx: AccountTx::InstallCode {
                        code: vec![1, 2, 3],
                    },
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Account {
                    peer: [9; 32],
                    tx: AccountTx::CallSubcontract {
                        id: 3,
                        method: "reveal".into(),
                        args: Data::Bytes(vec![7; 32]),
                    },
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Account {
                    peer: [9; 32],
                    tx: AccountTx::ChainDelta {
                        token: 1,
                        collateral_change: BigInt::from(-4),
                        ondelta_change: BigInt::from(4),
                    },
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::SetFeePolicy(FeePolicy {
                    base: BigInt::from(1),
                    ppm: 10,
                    timeout_delta: 9,
                }),
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::PayRouted(Box::new(RoutedPayment {
                    token: 1,
                    total: BigInt::from(5),
                    parts: vec![vec![PaymentHop {
                        entity: [2; 32],
                        onion_key: vec![3; 33],
                        amount: BigInt::from(6),
                        timeout: 50,
                    }]],
                    attempts_max: 3,
                    parts_max: 2,
                })),
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::RetryPayment {
                    hashlock: [7; 32],
                    parts: vec![vec![PaymentHop {
                        entity: [2; 32],
                        onion_key: vec![3; 33],
                        amount: BigInt::from(6),
                        timeout: 50,
                    }]],
                    reason: String::new(),
                },
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::Timers,
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::PublishProfile,
            },
            RuntimeInput::Submit {
                entity: 0,
                tx: EntityTx::ChainEvent { bytes: vec![1, 2] },
            },
            RuntimeInput::SetBehaviour {
                entity: 0,
                replica: 1,
                behaviour: Behaviour::Equivocate,
            },
            RuntimeInput::SetNetwork {
                loss: (1, 10),
                duplicate: (0, 1),
                max_delay: 3,
                seed: 9,
            },
            RuntimeInput::HealNetwork,
            RuntimeInput::RunTicks { ticks: 100 },
            RuntimeInput::RunUntilQuiet { max_ticks: 10_000 },
        ]
    }

    #[test]
    fn every_input_round_trips_and_decoding_is_strict() {
        for input in samples() {
            let bytes = input.encode();
            assert_eq!(RuntimeInput::decode(&bytes), Ok(input.clone()), "{input}");
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(RuntimeInput::decode(&longer).is_err());
            assert!(RuntimeInput::decode(&bytes[..bytes.len() - 1]).is_err());
        }
        assert!(RuntimeInput::decode(&[0xc0]).is_err());
    }

    #[test]
    fn apply_matches_the_direct_calls() {
        let mut direct = Runtime::new(3);
        let e = direct
            .add_entity(4, 3, vec![("alice".into(), 1, BigInt::from(10))])
            .unwrap();
        let pay = EntityTx::Payment {
            from: "alice".into(),
            to: "bob".into(),
            token: 1,
            amount: BigInt::from(4),
        };
        let h = direct.submit(e, pay.clone()).unwrap();
        direct.run_ticks(20);

        let mut applied = Runtime::new(99);
        let inputs = [
            RuntimeInput::Reset { seed: 3 },
            RuntimeInput::AddEntity {
                name: "e".into(),
                validators: 4,
                threshold: 3,
                reserves: vec![("alice".into(), 1, BigInt::from(10))],
            },
            RuntimeInput::Submit { entity: 0, tx: pay },
            RuntimeInput::RunTicks { ticks: 20 },
        ];
        let outs: Vec<_> = inputs.iter().map(|i| applied.apply(i).unwrap()).collect();
        assert_eq!(outs[2], RuntimeOutput::TxHash(h));
        assert_eq!(outs[3], RuntimeOutput::Tick(20));
        assert_eq!(
            applied.replica(0, 0).unwrap().state_hash(),
            direct.replica(0, 0).unwrap().state_hash()
        );
        assert!(applied.apply(&RuntimeInput::RunTicks { ticks: 0 }).is_ok());
        assert!(applied
            .apply(&RuntimeInput::SetBehaviour {
                entity: 5,
                replica: 0,
                behaviour: Behaviour::Silent
            })
            .is_err());
    }
}
