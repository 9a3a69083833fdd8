//! [`RuntimeInput`]: every way the runtime's state can change, as one closed enum with a
//! canonical binary encoding (the project's tagged RLP, decoded strictly), and
//! [`Runtime::apply`], the one entry point that applies an input. Why: the write-ahead log
//! stores exactly these inputs, so replaying them from a snapshot gives back the state.
//!
//! Submissions are logged unsigned: the replica signs them with its seed-derived key and
//! its next nonce, which replay reproduces exactly (RFC 6979 signatures are deterministic).

use std::fmt;

use num_bigint::{BigInt, BigUint, Sign};

use super::{Behaviour, Runtime, RuntimeError};
use crate::account::{AccountTx, Data};
use crate::crypto::{decode_u64, tagged, Address, Canonical, RlpItem};
use crate::entity::payment::{PAYMENT_PARTS_MAX, ROUTE_HOPS_MAX};
use crate::entity::{
    Board, EntityConfig, EntityTx, FeePolicy, Holder, PaymentHop, ProposalAction, RoutedPayment,
    TokenId, Validator,
};

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

fn config_items(c: &EntityConfig) -> Vec<RlpItem> {
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

/// A tagged struct's fields, checked for the expected count.
fn fields<'a>(item: &'a RlpItem, what: &str, n: usize) -> Result<&'a [RlpItem], InputDecodeError> {
    let list = item
        .list()
        .map_err(|_| bad(format!("{what}: expected a list")))?;
    let fields = list.get(1..).unwrap_or(&[]);
    if list.is_empty() || fields.len() != n {
        return Err(bad(format!("{what}: expected {n} fields")));
    }
    Ok(fields)
}

fn tag_of(item: &RlpItem) -> Result<&[u8], InputDecodeError> {
    item.list()
        .ok()
        .and_then(|l| l.first())
        .and_then(RlpItem::as_bytes)
        .ok_or_else(|| bad("expected a tagged structure"))
}

fn read_u64(item: &RlpItem, what: &str) -> Result<u64, InputDecodeError> {
    decode_u64(item).map_err(|e| bad(format!("{what}: {e}")))
}

fn read_text(item: &RlpItem, what: &str) -> Result<String, InputDecodeError> {
    let b = item
        .bytes()
        .map_err(|_| bad(format!("{what}: expected text")))?;
    String::from_utf8(b.to_vec()).map_err(|_| bad(format!("{what}: not UTF-8")))
}

fn read_bytes(item: &RlpItem, what: &str) -> Result<Vec<u8>, InputDecodeError> {
    Ok(item
        .bytes()
        .map_err(|_| bad(format!("{what}: expected bytes")))?
        .to_vec())
}

fn read_id(item: &RlpItem, what: &str) -> Result<[u8; 32], InputDecodeError> {
    <[u8; 32]>::try_from(read_bytes(item, what)?.as_slice())
        .map_err(|_| bad(format!("{what}: expected 32 bytes")))
}

fn read_address(item: &RlpItem, what: &str) -> Result<Address, InputDecodeError> {
    Address::from_slice(&read_bytes(item, what)?).map_err(|e| bad(format!("{what}: {e}")))
}

fn read_bool(item: &RlpItem, what: &str) -> Result<bool, InputDecodeError> {
    match read_u64(item, what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad(format!("{what}: expected 0 or 1"))),
    }
}

fn read_pair(item: &RlpItem, what: &str) -> Result<(u64, u64), InputDecodeError> {
    match item.list() {
        Ok([a, b]) => Ok((read_u64(a, what)?, read_u64(b, what)?)),
        _ => Err(bad(format!("{what}: expected a pair"))),
    }
}

fn read_bigint(item: &RlpItem, what: &str) -> Result<BigInt, InputDecodeError> {
    match item.list() {
        Ok([sign, magnitude]) => {
            let negative = read_bool(sign, what)?;
            let m = crate::crypto::decode_int(magnitude, 64)
                .map_err(|e| bad(format!("{what}: {e}")))?;
            let sign = if negative { Sign::Minus } else { Sign::Plus };
            Ok(BigInt::from_biguint(sign, BigUint::from_bytes_be(m)))
        }
        _ => Err(bad(format!("{what}: expected [sign, magnitude]"))),
    }
}

fn read_list<'a>(item: &'a RlpItem, what: &str) -> Result<&'a [RlpItem], InputDecodeError> {
    item.list()
        .map_err(|_| bad(format!("{what}: expected a list")))
}

fn read_holder(item: &RlpItem) -> Result<Holder, InputDecodeError> {
    match tag_of(item)? {
        b"xln/holder/name/v1" => Ok(Holder::Name(read_text(
            &fields(item, "holder", 1)?[0],
            "holder",
        )?)),
        b"xln/holder/address/v1" => Ok(Holder::Address(read_address(
            &fields(item, "holder", 1)?[0],
            "holder",
        )?)),
        _ => Err(bad("unknown holder tag")),
    }
}

fn read_board(item: &RlpItem) -> Result<Board, InputDecodeError> {
    if tag_of(item)? != b"xln/board/v1" {
        return Err(bad("expected a board"));
    }
    let f = fields(item, "board", 2)?;
    let validators = read_list(&f[0], "board validators")?
        .iter()
        .map(|v| {
            if tag_of(v)? != b"xln/validator/v1" {
                return Err(bad("expected a validator"));
            }
            let f = fields(v, "validator", 2)?;
            Ok(Validator {
                address: read_address(&f[0], "validator")?,
                shares: read_u64(&f[1], "validator shares")?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Board {
        validators,
        threshold: read_u64(&f[1], "board threshold")?,
    })
}

fn read_action(item: &RlpItem) -> Result<ProposalAction, InputDecodeError> {
    let f = fields(item, "proposal action", 1)?;
    match tag_of(item)? {
        b"xln/proposal-action/board/v1" => Ok(ProposalAction::BoardChange(read_board(&f[0])?)),
        b"xln/proposal-action/text/v1" => Ok(ProposalAction::Text(read_text(&f[0], "text")?)),
        _ => Err(bad("unknown proposal action tag")),
    }
}

fn read_tx(item: &RlpItem) -> Result<EntityTx, InputDecodeError> {
    let tag = tag_of(item)?;
    let kind = String::from_utf8_lossy(tag).to_string();
    let n = match tag {
        b"xln/entity-tx/payment/v1" => 4,
        b"xln/entity-tx/open-account/v1" | b"xln/entity-tx/account/v1" => 2,
        b"xln/entity-tx/propose/v1" | b"xln/entity-tx/vote/v1" => 2,
        b"xln/entity-tx/timers/v1" | b"xln/entity-tx/publish-profile/v1" => 0,
        b"xln/entity-tx/retry-payment/v1" => 3,
        _ => 1,
    };
    let f = fields(item, &kind, n)?;
    Ok(match tag {
        b"xln/entity-tx/message/v1" => EntityTx::Message {
            text: read_text(&f[0], "message")?,
        },
        b"xln/entity-tx/open-account/v1" => EntityTx::OpenAccount {
            peer: read_id(&f[0], "peer")?,
            peer_board: read_board(&f[1])?,
        },
        b"xln/entity-tx/account/v1" => EntityTx::Account {
            peer: read_id(&f[0], "peer")?,
            tx: read_account_tx(&f[1])?,
        },
        // Replicas make account inputs themselves from sealed peer messages; a caller
        // cannot submit one, so it is never a runtime input.
        b"xln/entity-tx/account-input/v1" => {
            return Err(bad(
                "account inputs are made by replicas from sealed peer messages, not submitted",
            ))
        }
        b"xln/entity-tx/chain-event/v1" => EntityTx::ChainEvent {
            bytes: read_bytes(&f[0], "payload")?,
        },
        b"xln/entity-tx/payment/v1" => EntityTx::Payment {
            from: read_holder(&f[0])?,
            to: read_holder(&f[1])?,
            token: read_u64(&f[2], "token")?,
            amount: read_bigint(&f[3], "amount")?,
        },
        b"xln/entity-tx/propose/v1" => EntityTx::Propose {
            id: read_u64(&f[0], "proposal id")?,
            action: read_action(&f[1])?,
        },
        b"xln/entity-tx/vote/v1" => EntityTx::Vote {
            id: read_u64(&f[0], "proposal id")?,
            yes: read_bool(&f[1], "vote")?,
        },
        b"xln/entity-tx/set-fee-policy/v1" => EntityTx::SetFeePolicy(read_fee_policy(&f[0])?),
        b"xln/entity-tx/pay-routed/v1" => EntityTx::PayRouted(Box::new(read_routed(&f[0])?)),
        b"xln/entity-tx/retry-payment/v1" => EntityTx::RetryPayment {
            hashlock: read_id(&f[0], "hashlock")?,
            parts: read_parts(&f[1])?,
            reason: read_text(&f[2], "reason")?,
        },
        b"xln/entity-tx/timers/v1" => EntityTx::Timers,
        b"xln/entity-tx/publish-profile/v1" => EntityTx::PublishProfile,
        _ => return Err(bad(format!("unknown entity tx tag {kind:?}"))),
    })
}

fn read_fee_policy(item: &RlpItem) -> Result<FeePolicy, InputDecodeError> {
    if tag_of(item)? != b"xln/fee-policy/v1" {
        return Err(bad("expected a fee policy"));
    }
    let f = fields(item, "fee policy", 3)?;
    Ok(FeePolicy {
        base: read_bigint(&f[0], "base fee")?,
        ppm: u32::try_from(read_u64(&f[1], "fee ppm")?)
            .map_err(|_| bad("fee ppm beyond 32 bits"))?,
        timeout_delta: read_u64(&f[2], "timeout delta")?,
    })
}

fn read_routed(item: &RlpItem) -> Result<RoutedPayment, InputDecodeError> {
    if tag_of(item)? != b"xln/routed-payment/v2" {
        return Err(bad("expected a routed payment"));
    }
    let f = fields(item, "routed payment", 5)?;
    let small = |item: &RlpItem, what: &str| -> Result<u32, InputDecodeError> {
        u32::try_from(read_u64(item, what)?).map_err(|_| bad(format!("{what} beyond 32 bits")))
    };
    Ok(RoutedPayment {
        token: read_u64(&f[0], "token")?,
        total: read_bigint(&f[1], "total")?,
        parts: read_parts(&f[2])?,
        attempts_max: small(&f[3], "attempts")?,
        parts_max: small(&f[4], "parts per attempt")?,
    })
}

/// A payment's routes (each a list of hops), at most one beyond the bounds each (so the
/// stateless check names the bound).
fn read_parts(item: &RlpItem) -> Result<Vec<Vec<PaymentHop>>, InputDecodeError> {
    read_list(item, "payment parts")?
        .iter()
        .take(PAYMENT_PARTS_MAX + 1)
        .map(|part| {
            read_list(part, "payment part")?
                .iter()
                .take(ROUTE_HOPS_MAX + 1)
                .map(read_hop)
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

fn read_hop(item: &RlpItem) -> Result<PaymentHop, InputDecodeError> {
    if tag_of(item)? != b"xln/payment-hop/v1" {
        return Err(bad("expected a payment hop"));
    }
    let f = fields(item, "payment hop", 4)?;
    Ok(PaymentHop {
        entity: read_id(&f[0], "hop entity")?,
        onion_key: read_bytes(&f[1], "onion key")?,
        amount: read_bigint(&f[2], "hop amount")?,
        timeout: read_u64(&f[3], "hop timeout")?,
    })
}

/// An account tx, strictly (every kind a validator may submit).
pub(crate) fn read_account_tx(item: &RlpItem) -> Result<AccountTx, InputDecodeError> {
    let tag = tag_of(item)?;
    let kind = String::from_utf8_lossy(tag).to_string();
    let token_amount = |f: &[RlpItem]| -> Result<(TokenId, BigInt), InputDecodeError> {
        Ok((read_u64(&f[0], "token")?, read_bigint(&f[1], "amount")?))
    };
    Ok(match tag {
        b"xln/account-tx/pay/v1" => {
            let (token, amount) = token_amount(fields(item, &kind, 2)?)?;
            AccountTx::Pay { token, amount }
        }
        b"xln/account-tx/set-credit-limit/v1" => {
            let (token, amount) = token_amount(fields(item, &kind, 2)?)?;
            AccountTx::SetCreditLimit { token, amount }
        }
        b"xln/account-tx/chain-delta/v1" => {
            let f = fields(item, &kind, 3)?;
            AccountTx::ChainDelta {
                token: read_u64(&f[0], "token")?,
                collateral_change: read_bigint(&f[1], "collateral change")?,
                ondelta_change: read_bigint(&f[2], "ondelta change")?,
            }
        }
        b"xln/account-tx/install-code/v1" => AccountTx::InstallCode {
            code: read_bytes(&fields(item, &kind, 1)?[0], "code")?,
        },
        b"xln/account-tx/open-subcontract/v2" => {
            let f = fields(item, &kind, 4)?;
            let holds = read_list(&f[2], "holds")?
                .iter()
                .take(crate::account::SUBCONTRACT_HOLDS_MAX + 1)
                .map(|h| match h.list() {
                    Ok([t, a]) => Ok((read_u64(t, "token")?, read_bigint(a, "held amount")?)),
                    _ => Err(bad("a hold is [token, amount]")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            AccountTx::OpenSubcontract {
                id: read_u64(&f[0], "subcontract id")?,
                code: read_id(&f[1], "code hash")?,
                holds,
                params: read_data(&f[3], 0)?,
            }
        }
        b"xln/account-tx/call-subcontract/v1" => {
            let f = fields(item, &kind, 3)?;
            AccountTx::CallSubcontract {
                id: read_u64(&f[0], "subcontract id")?,
                method: read_text(&f[1], "method")?,
                args: read_data(&f[2], 0)?,
            }
        }
        _ => return Err(bad(format!("unknown account tx tag {kind:?}"))),
    })
}

/// Subcontract data, strictly, nested at most [`crate::account::DATA_DEPTH_MAX`] deep.
pub(crate) fn read_data(item: &RlpItem, depth: usize) -> Result<Data, InputDecodeError> {
    if depth > crate::account::DATA_DEPTH_MAX {
        return Err(bad("subcontract data nested too deep"));
    }
    let tag = tag_of(item)?;
    let f = fields(item, "data", 1)?;
    Ok(match tag {
        b"xln/data/int/v1" => Data::Int(read_bigint(&f[0], "data int")?),
        b"xln/data/bytes/v1" => Data::Bytes(read_bytes(&f[0], "data bytes")?),
        b"xln/data/text/v1" => Data::Text(read_text(&f[0], "data text")?),
        b"xln/data/bool/v1" => Data::Bool(read_bool(&f[0], "data bool")?),
        b"xln/data/list/v1" => Data::List(
            read_list(&f[0], "data list")?
                .iter()
                .map(|x| read_data(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        b"xln/data/map/v1" => {
            let mut map = std::collections::BTreeMap::new();
            for entry in read_list(&f[0], "data map")? {
                match entry.list() {
                    Ok([k, v]) => {
                        map.insert(read_text(k, "data key")?, read_data(v, depth + 1)?);
                    }
                    _ => return Err(bad("a data map entry is [key, value]")),
                }
            }
            Data::Map(map)
        }
        _ => return Err(bad("unknown data tag")),
    })
}

fn read_config(f: &[RlpItem]) -> Result<EntityConfig, InputDecodeError> {
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

fn read_reserves(item: &RlpItem) -> Result<Vec<(Holder, TokenId, BigInt)>, InputDecodeError> {
    read_list(item, "reserves")?
        .iter()
        .map(|r| match r.list() {
            Ok([h, t, a]) => Ok((
                read_holder(h)?,
                read_u64(t, "token")?,
                read_bigint(a, "reserve")?,
            )),
            _ => Err(bad("reserve: expected [holder, token, amount]")),
        })
        .collect()
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
        let tag = tag_of(item)?;
        let kind = String::from_utf8_lossy(tag).to_string();
        let n = |n: usize| fields(item, &kind, n);
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
