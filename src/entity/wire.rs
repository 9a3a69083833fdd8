//! The wire codec: strict decoders for every message a peer can send — [`EntityMessage`]
//! and everything inside it (proposals, votes, view changes, commit notices, sync requests,
//! account parts with their account messages, frames and txs, account-open notes, signed
//! profiles and their parts, signed entity txs with routed payments, boards) —
//! the inverse of their [`Canonical`] encodings. Peers (the node's sockets) carry exactly
//! the canonical bytes the simulator delivers; [`decode_message`] turns them back.
//!
//! **Strict.** [`decode_exact`] accepts a byte string only if it is at most
//! [`WIRE_MESSAGE_BYTES_MAX`] long, is strict RLP nested at most [`WIRE_NESTING_MAX`]
//! deep, has the expected tags and field counts, and *re-encodes to exactly the same
//! bytes*. So no second byte string decodes to a value (no unsorted hanko, no negative
//! zero, no padded integer), and nothing a peer sends can make a replica hash or sign
//! something other than what arrived. Recursion is bounded by the nesting limit; every
//! allocation is bounded by the input's length.
//!
//! **Extending.** Each enum is decoded by one `match` on its tag: a new [`EntityTx`],
//! [`AccountTx`] or [`EntityMessage`] variant needs one arm here. The tests hold one sample
//! of every kind in `EntityTx::KINDS`, `AccountTx::KINDS` and `EntityMessage::KINDS` and
//! fail when a kind has no sample or its sample does not round-trip (`tests/node_wire.rs`).

use std::collections::BTreeMap;

use num_bigint::{BigInt, BigUint, Sign};

use super::gossip::{Advertised, EntityProfile, ProfilePart, SignedProfile};
use super::{
    AccountOpen, AccountPart, Board, CommitNotice, EntityFrame, EntityMessage, EntityTx, FeePolicy,
    Hanko, Holder, PaymentHop, Proposal, ProposalAction, RoutedPayment, SignedTx, ValidCert,
    Validator, ViewChange, Vote, VoteKind,
};
use crate::account::{AccountFrame, AccountMessage, AccountMessageBody, AccountTx, Data, Delta};
use crate::crypto::{decode_int, decode_u64, Address, Canonical, CryptoError, RlpItem, Signature};

/// Largest encoded message [`decode_message`] accepts. A full frame of
/// [`FRAME_TXS_MAX`](super::FRAME_TXS_MAX) txs with maximal payloads stays below it.
pub const WIRE_MESSAGE_BYTES_MAX: usize = 8 << 20;

/// Deepest RLP nesting accepted: the message structure nests about a dozen levels and
/// subcontract [`Data`] two per level up to [`DATA_DEPTH_MAX`](crate::account::DATA_DEPTH_MAX).
pub const WIRE_NESTING_MAX: usize = 128;

/// Largest integer magnitude accepted, in bytes (amounts are int256; a bound on input).
const INT_BYTES_MAX: usize = 64;

/// Why bytes are not a canonical encoding of what was expected. Every variant names the
/// structure (`what`) and the rule broken; a peer that sends one is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// More bytes than the limit.
    #[error("{bytes} bytes, at most {max} accepted")]
    TooLarge {
        /// The length received.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Not strict RLP (or nested too deep).
    #[error("not strict RLP: {0}")]
    Rlp(#[from] CryptoError),
    /// A structure with the wrong shape (a list for bytes, a wrong field count, bad UTF-8).
    #[error("{what}: {reason}")]
    Malformed {
        /// The structure being decoded.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A tag that names no known variant of `what`.
    #[error("{what}: unknown tag {tag:?}")]
    UnknownTag {
        /// The structure being decoded.
        what: &'static str,
        /// The tag received (lossy UTF-8).
        tag: String,
    },
    /// A well-formed value whose canonical encoding differs from the bytes received.
    #[error("{what}: not the canonical encoding (it re-encodes differently)")]
    NotCanonical {
        /// The structure decoded.
        what: &'static str,
    },
}

fn malformed(what: &'static str, reason: impl Into<String>) -> WireError {
    WireError::Malformed {
        what,
        reason: reason.into(),
    }
}

/// A value with a strict decoder from its canonical RLP item (the inverse of
/// [`Canonical::canonical_rlp`]).
pub trait WireDecode: Canonical + Sized {
    /// The structure's name in errors.
    const WHAT: &'static str;

    /// Decodes one item. Strictness of the whole is checked by [`decode_exact`].
    ///
    /// # Errors
    /// [`WireError`] naming the structure and the broken rule.
    fn from_item(item: &RlpItem) -> Result<Self, WireError>;
}

/// Decodes `bytes` as one `T`, strictly (see the module doc).
///
/// # Errors
/// [`WireError::TooLarge`], [`WireError::Rlp`], [`WireError::Malformed`],
/// [`WireError::UnknownTag`] or [`WireError::NotCanonical`].
pub fn decode_exact<T: WireDecode>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > WIRE_MESSAGE_BYTES_MAX {
        return Err(WireError::TooLarge {
            bytes: bytes.len(),
            max: WIRE_MESSAGE_BYTES_MAX,
        });
    }
    let item = RlpItem::decode_with_max_depth(bytes, WIRE_NESTING_MAX)?;
    let value = T::from_item(&item)?;
    if value.canonical_bytes() != bytes {
        return Err(WireError::NotCanonical { what: T::WHAT });
    }
    Ok(value)
}

/// Decodes the canonical bytes of an [`EntityMessage`] received from a peer.
///
/// # Errors
/// As [`decode_exact`].
pub fn decode_message(bytes: &[u8]) -> Result<EntityMessage, WireError> {
    decode_exact(bytes)
}

// ----- primitive readers (shared with the runtime's input log) -------------------------

/// A tagged structure: its tag and fields.
///
/// # Errors
/// [`WireError::Malformed`] for anything but a list starting with a byte string.
pub fn tagged_parts<'a>(
    item: &'a RlpItem,
    what: &'static str,
) -> Result<(&'a [u8], &'a [RlpItem]), WireError> {
    let list = item
        .as_list()
        .ok_or_else(|| malformed(what, "expected a tagged list"))?;
    let (tag, fields) = list
        .split_first()
        .ok_or_else(|| malformed(what, "an empty list has no tag"))?;
    let tag = tag
        .as_bytes()
        .ok_or_else(|| malformed(what, "the tag is a list"))?;
    Ok((tag, fields))
}

/// Exactly `n` fields.
///
/// # Errors
/// [`WireError::Malformed`] for another count.
pub fn field_count<'a>(
    fields: &'a [RlpItem],
    n: usize,
    what: &'static str,
) -> Result<&'a [RlpItem], WireError> {
    if fields.len() == n {
        Ok(fields)
    } else {
        Err(malformed(
            what,
            format!("{} fields, expected {n}", fields.len()),
        ))
    }
}

/// The fields of a structure whose only tag is `tag`.
///
/// # Errors
/// [`WireError::UnknownTag`] or [`WireError::Malformed`].
pub fn expect_tagged<'a>(
    item: &'a RlpItem,
    tag: &[u8],
    n: usize,
    what: &'static str,
) -> Result<&'a [RlpItem], WireError> {
    let (got, fields) = tagged_parts(item, what)?;
    if got != tag {
        return Err(unknown_tag(what, got));
    }
    field_count(fields, n, what)
}

/// The error for an unexpected tag.
pub fn unknown_tag(what: &'static str, tag: &[u8]) -> WireError {
    WireError::UnknownTag {
        what,
        tag: String::from_utf8_lossy(tag).into_owned(),
    }
}

/// An unsigned integer (strict: no leading zero byte, at most 8 bytes).
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_u64(item: &RlpItem, what: &'static str) -> Result<u64, WireError> {
    decode_u64(item).map_err(|e| malformed(what, e.to_string()))
}

/// A size (a `u64` that fits `usize`).
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_usize(item: &RlpItem, what: &'static str) -> Result<usize, WireError> {
    usize::try_from(read_u64(item, what)?).map_err(|_| malformed(what, "too large"))
}

/// A `u64` that fits 32 bits (fee ppm).
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_u32(item: &RlpItem, what: &'static str) -> Result<u32, WireError> {
    u32::try_from(read_u64(item, what)?).map_err(|_| malformed(what, "beyond 32 bits"))
}

/// A byte string.
///
/// # Errors
/// [`WireError::Malformed`] for a list.
pub fn read_bytes<'a>(item: &'a RlpItem, what: &'static str) -> Result<&'a [u8], WireError> {
    item.as_bytes()
        .ok_or_else(|| malformed(what, "expected bytes, got a list"))
}

/// UTF-8 text.
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_text(item: &RlpItem, what: &'static str) -> Result<String, WireError> {
    String::from_utf8(read_bytes(item, what)?.to_vec())
        .map_err(|_| malformed(what, "text is not UTF-8"))
}

/// A 32-byte hash or id.
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_hash(item: &RlpItem, what: &'static str) -> Result<[u8; 32], WireError> {
    <[u8; 32]>::try_from(read_bytes(item, what)?).map_err(|_| malformed(what, "expected 32 bytes"))
}

/// A 20-byte address.
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_address(item: &RlpItem, what: &'static str) -> Result<Address, WireError> {
    Address::from_slice(read_bytes(item, what)?).map_err(|e| malformed(what, e.to_string()))
}

/// A 65-byte signature `r || s || v`, taken as is: whoever relies on it verifies it (which
/// re-validates low-S and `v`), and some fields legitimately hold a non-signature (the
/// [`UNSEALED`](crate::account::UNSEALED) field of a quorum-sealed account message).
///
/// # Errors
/// [`WireError::Malformed`] unless exactly 65 bytes.
pub fn read_signature(item: &RlpItem, what: &'static str) -> Result<Signature, WireError> {
    let b = read_bytes(item, what)?;
    if b.len() != 65 {
        return Err(malformed(
            what,
            format!("{} bytes, a signature is 65", b.len()),
        ));
    }
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&b[..32]);
    s.copy_from_slice(&b[32..64]);
    Ok(Signature { r, s, v: b[64] })
}

/// A boolean (the integer 0 or 1).
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_bool(item: &RlpItem, what: &'static str) -> Result<bool, WireError> {
    match read_u64(item, what)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(malformed(what, format!("a boolean is 0 or 1, got {n}"))),
    }
}

/// A signed integer `[sign, magnitude]`.
///
/// # Errors
/// [`WireError::Malformed`].
pub fn read_bigint(item: &RlpItem, what: &'static str) -> Result<BigInt, WireError> {
    match item.as_list() {
        Some([sign, magnitude]) => {
            let negative = read_bool(sign, what)?;
            let m =
                decode_int(magnitude, INT_BYTES_MAX).map_err(|e| malformed(what, e.to_string()))?;
            let sign = if negative { Sign::Minus } else { Sign::Plus };
            Ok(BigInt::from_biguint(sign, BigUint::from_bytes_be(m)))
        }
        _ => Err(malformed(what, "expected [sign, magnitude]")),
    }
}

/// A list's items.
///
/// # Errors
/// [`WireError::Malformed`] for a byte string.
pub fn read_list<'a>(item: &'a RlpItem, what: &'static str) -> Result<&'a [RlpItem], WireError> {
    item.as_list()
        .ok_or_else(|| malformed(what, "expected a list, got bytes"))
}

/// A list decoded element by element.
///
/// # Errors
/// The first element's error.
pub fn read_vec<T>(
    item: &RlpItem,
    what: &'static str,
    each: impl Fn(&RlpItem) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    read_list(item, what)?.iter().map(each).collect()
}

/// An option: `[]` or `[x]`.
///
/// # Errors
/// [`WireError::Malformed`] for a longer list; `each`'s error.
pub fn read_option<T>(
    item: &RlpItem,
    what: &'static str,
    each: impl Fn(&RlpItem) -> Result<T, WireError>,
) -> Result<Option<T>, WireError> {
    match read_list(item, what)? {
        [] => Ok(None),
        [x] => each(x).map(Some),
        _ => Err(malformed(what, "an option has at most one item")),
    }
}

/// A map: a list of `[key, value]` pairs (the order is checked by re-encoding).
fn read_map<K: Ord, V>(
    item: &RlpItem,
    what: &'static str,
    key: impl Fn(&RlpItem) -> Result<K, WireError>,
    value: impl Fn(&RlpItem) -> Result<V, WireError>,
) -> Result<BTreeMap<K, V>, WireError> {
    let mut map = BTreeMap::new();
    for entry in read_list(item, what)? {
        match entry.as_list() {
            Some([k, v]) => {
                if map.insert(key(k)?, value(v)?).is_some() {
                    return Err(malformed(what, "a key appears twice"));
                }
            }
            _ => return Err(malformed(what, "a map entry is [key, value]")),
        }
    }
    Ok(map)
}

fn decode<T: WireDecode>(item: &RlpItem) -> Result<T, WireError> {
    T::from_item(item)
}

// ----- entity structures ---------------------------------------------------------------

impl WireDecode for Holder {
    const WHAT: &'static str = "holder";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let f = field_count(f, 1, Self::WHAT)?;
        match tag {
            b"xln/holder/name/v1" => Ok(Holder::Name(read_text(&f[0], "holder name")?)),
            b"xln/holder/address/v1" => Ok(Holder::Address(read_address(&f[0], "holder")?)),
            other => Err(unknown_tag(Self::WHAT, other)),
        }
    }
}

impl WireDecode for Validator {
    const WHAT: &'static str = "validator";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/validator/v1", 2, Self::WHAT)?;
        Ok(Validator {
            address: read_address(&f[0], "validator address")?,
            shares: read_u64(&f[1], "validator shares")?,
        })
    }
}

impl WireDecode for Board {
    const WHAT: &'static str = "board";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/board/v1", 2, Self::WHAT)?;
        Ok(Board {
            validators: read_vec(&f[0], "board validators", decode)?,
            threshold: read_u64(&f[1], "board threshold")?,
        })
    }
}

impl WireDecode for ProposalAction {
    const WHAT: &'static str = "proposal action";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let f = field_count(f, 1, Self::WHAT)?;
        match tag {
            b"xln/proposal-action/board/v1" => Ok(ProposalAction::BoardChange(decode(&f[0])?)),
            b"xln/proposal-action/text/v1" => Ok(ProposalAction::Text(read_text(&f[0], "text")?)),
            other => Err(unknown_tag(Self::WHAT, other)),
        }
    }
}

impl WireDecode for Hanko {
    const WHAT: &'static str = "hanko";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/hanko/v1", 1, Self::WHAT)?;
        let parts = read_map(
            &f[0],
            "hanko signatures",
            |k| read_address(k, "hanko signer"),
            |v| read_signature(v, "hanko signature"),
        )?;
        Ok(Hanko(parts))
    }
}

/// One arm per [`EntityTx`] variant: `xln/entity-tx/<kind>/v1` with its fields.
impl WireDecode for EntityTx {
    const WHAT: &'static str = "entity tx";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let n = |n: usize| field_count(f, n, Self::WHAT);
        Ok(match tag {
            b"xln/entity-tx/message/v1" => EntityTx::Message {
                text: read_text(&n(1)?[0], "message text")?,
            },
            b"xln/entity-tx/open-account/v1" => {
                let f = n(2)?;
                EntityTx::OpenAccount {
                    peer: read_hash(&f[0], "peer")?,
                    peer_board: decode(&f[1])?,
                }
            }
            b"xln/entity-tx/account-input/v1" => {
                let f = n(3)?;
                EntityTx::AccountInput {
                    from: read_hash(&f[0], "account input sender")?,
                    message: Box::new(decode(&f[1])?),
                    hanko: decode(&f[2])?,
                }
            }
            b"xln/entity-tx/account/v1" => {
                let f = n(2)?;
                EntityTx::Account {
                    peer: read_hash(&f[0], "peer")?,
                    tx: decode(&f[1])?,
                }
            }
            b"xln/entity-tx/payment/v1" => {
                let f = n(4)?;
                EntityTx::Payment {
                    from: decode(&f[0])?,
                    to: decode(&f[1])?,
                    token: read_u64(&f[2], "token")?,
                    amount: read_bigint(&f[3], "amount")?,
                }
            }
            b"xln/entity-tx/propose/v1" => {
                let f = n(2)?;
                EntityTx::Propose {
                    id: read_u64(&f[0], "proposal id")?,
                    action: decode(&f[1])?,
                }
            }
            b"xln/entity-tx/vote/v1" => {
                let f = n(2)?;
                EntityTx::Vote {
                    id: read_u64(&f[0], "proposal id")?,
                    yes: read_bool(&f[1], "vote")?,
                }
            }
            b"xln/entity-tx/chain-event/v1" => EntityTx::ChainEvent {
                bytes: read_bytes(&n(1)?[0], "chain event payload")?.to_vec(),
            },
            b"xln/entity-tx/set-fee-policy/v1" => EntityTx::SetFeePolicy(decode(&n(1)?[0])?),
            b"xln/entity-tx/pay-routed/v1" => EntityTx::PayRouted(Box::new(decode(&n(1)?[0])?)),
            b"xln/entity-tx/retry-payment/v1" => {
                let f = n(3)?;
                EntityTx::RetryPayment {
                    hashlock: read_hash(&f[0], "hashlock")?,
                    parts: read_vec(&f[1], "payment parts", |part| {
                        read_vec(part, "payment part", decode)
                    })?,
                    reason: read_text(&f[2], "retry reason")?,
                }
            }
            b"xln/entity-tx/timers/v1" => {
                n(0)?;
                EntityTx::Timers
            }
            b"xln/entity-tx/publish-profile/v1" => {
                n(0)?;
                EntityTx::PublishProfile
            }
            other => return Err(unknown_tag(Self::WHAT, other)),
        })
    }
}

impl WireDecode for SignedTx {
    const WHAT: &'static str = "signed entity tx";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-signed-tx/v1", 4, Self::WHAT)?;
        Ok(SignedTx {
            signer: read_address(&f[0], "tx signer")?,
            nonce: read_u64(&f[1], "tx nonce")?,
            tx: decode(&f[2])?,
            signature: read_signature(&f[3], "tx signature")?,
        })
    }
}

impl WireDecode for EntityFrame {
    const WHAT: &'static str = "entity frame";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-frame/v1", 5, Self::WHAT)?;
        Ok(EntityFrame {
            height: read_u64(&f[0], "frame height")?,
            prev_hash: read_hash(&f[1], "frame prev hash")?,
            timestamp: read_u64(&f[2], "frame timestamp")?,
            txs: read_vec(&f[3], "frame txs", decode)?,
            state_hash: read_hash(&f[4], "frame state hash")?,
        })
    }
}

impl WireDecode for Vote {
    const WHAT: &'static str = "vote";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let kind = match tag {
            b"xln/entity-prevote/v1" => VoteKind::Prevote,
            b"xln/entity-precommit/v1" => VoteKind::Precommit,
            other => return Err(unknown_tag(Self::WHAT, other)),
        };
        let f = field_count(f, 5, Self::WHAT)?;
        Ok(Vote {
            kind,
            height: read_u64(&f[0], "vote height")?,
            view: read_u64(&f[1], "vote view")?,
            frame_hash: read_hash(&f[2], "vote frame hash")?,
            validator: read_address(&f[3], "voter")?,
            signature: read_signature(&f[4], "vote signature")?,
        })
    }
}

impl WireDecode for Proposal {
    const WHAT: &'static str = "proposal";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-proposal-message/v1", 7, Self::WHAT)?;
        Ok(Proposal {
            height: read_u64(&f[0], "proposal height")?,
            view: read_u64(&f[1], "proposal view")?,
            frame: decode(&f[2])?,
            valid_view: read_option(&f[3], "proposal valid view", |x| {
                read_u64(x, "proposal valid view")
            })?,
            pol: read_vec(&f[4], "proof-of-lock", decode)?,
            proposer: read_address(&f[5], "proposer")?,
            signature: read_signature(&f[6], "proposal signature")?,
        })
    }
}

impl WireDecode for ValidCert {
    const WHAT: &'static str = "valid-frame certificate";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-valid-cert/v1", 3, Self::WHAT)?;
        Ok(ValidCert {
            view: read_u64(&f[0], "certificate view")?,
            frame: decode(&f[1])?,
            prevotes: read_vec(&f[2], "certificate prevotes", decode)?,
        })
    }
}

impl WireDecode for ViewChange {
    const WHAT: &'static str = "view change";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-view-change-message/v1", 5, Self::WHAT)?;
        Ok(ViewChange {
            height: read_u64(&f[0], "view change height")?,
            new_view: read_u64(&f[1], "view change view")?,
            validator: read_address(&f[2], "view change sender")?,
            valid: read_option(&f[3], "view change valid frame", decode)?,
            signature: read_signature(&f[4], "view change signature")?,
        })
    }
}

impl WireDecode for CommitNotice {
    const WHAT: &'static str = "commit notice";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-commit-notice/v1", 2, Self::WHAT)?;
        Ok(CommitNotice {
            frame: decode(&f[0])?,
            precommits: read_vec(&f[1], "precommits", decode)?,
        })
    }
}

impl WireDecode for AccountPart {
    const WHAT: &'static str = "account part";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/account-part/v1", 5, Self::WHAT)?;
        Ok(AccountPart {
            from: read_hash(&f[0], "account part sender")?,
            to: read_hash(&f[1], "account part receiver")?,
            message: decode(&f[2])?,
            signer: read_address(&f[3], "account part signer")?,
            signature: read_signature(&f[4], "account part signature")?,
        })
    }
}

/// One arm per [`EntityMessage`] variant: `xln/entity-message/<kind>/v1`.
impl WireDecode for EntityMessage {
    const WHAT: &'static str = "entity message";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let one = || field_count(f, 1, Self::WHAT).map(|f| &f[0]);
        Ok(match tag {
            b"xln/entity-message/tx/v1" => EntityMessage::Tx(decode(one()?)?),
            b"xln/entity-message/proposal/v1" => EntityMessage::Proposal(decode(one()?)?),
            b"xln/entity-message/vote/v1" => EntityMessage::Vote(decode(one()?)?),
            b"xln/entity-message/view-change/v1" => EntityMessage::ViewChange(decode(one()?)?),
            b"xln/entity-message/commit/v1" => EntityMessage::Commit(decode(one()?)?),
            b"xln/entity-message/sync-request/v1" => {
                let f = field_count(f, 2, Self::WHAT)?;
                EntityMessage::SyncRequest {
                    from: read_address(&f[0], "sync request sender")?,
                    height: read_u64(&f[1], "sync request height")?,
                }
            }
            b"xln/entity-message/account-part/v1" => {
                EntityMessage::AccountPart(Box::new(decode(one()?)?))
            }
            b"xln/entity-message/account-open/v1" => {
                EntityMessage::AccountOpen(Box::new(decode(one()?)?))
            }
            b"xln/entity-message/profile-part/v1" => {
                EntityMessage::ProfilePart(Box::new(decode(one()?)?))
            }
            b"xln/entity-message/profile/v1" => EntityMessage::Profile(Box::new(decode(one()?)?)),
            other => return Err(unknown_tag(Self::WHAT, other)),
        })
    }
}

impl WireDecode for AccountOpen {
    const WHAT: &'static str = "account open note";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/account-open/v1", 6, Self::WHAT)?;
        Ok(AccountOpen {
            from: read_hash(&f[0], "account open sender")?,
            to: read_hash(&f[1], "account open receiver")?,
            board: decode(&f[2])?,
            reply: read_bool(&f[3], "account open reply")?,
            signer: read_address(&f[4], "account open signer")?,
            signature: read_signature(&f[5], "account open signature")?,
        })
    }
}

// ----- routed payments and gossip ------------------------------------------------------

impl WireDecode for FeePolicy {
    const WHAT: &'static str = "fee policy";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/fee-policy/v1", 3, Self::WHAT)?;
        Ok(FeePolicy {
            base: read_bigint(&f[0], "base fee")?,
            ppm: read_u32(&f[1], "fee ppm")?,
            timeout_delta: read_u64(&f[2], "timeout delta")?,
        })
    }
}

impl WireDecode for PaymentHop {
    const WHAT: &'static str = "payment hop";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/payment-hop/v1", 4, Self::WHAT)?;
        Ok(PaymentHop {
            entity: read_hash(&f[0], "hop entity")?,
            onion_key: read_bytes(&f[1], "hop onion key")?.to_vec(),
            amount: read_bigint(&f[2], "hop amount")?,
            timeout: read_u64(&f[3], "hop timeout")?,
        })
    }
}

impl WireDecode for RoutedPayment {
    const WHAT: &'static str = "routed payment";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/routed-payment/v2", 5, Self::WHAT)?;
        Ok(RoutedPayment {
            token: read_u64(&f[0], "token")?,
            total: read_bigint(&f[1], "payment total")?,
            parts: read_vec(&f[2], "payment parts", |part| {
                read_vec(part, "payment part", decode)
            })?,
            attempts_max: read_u32(&f[3], "payment attempts")?,
            parts_max: read_u32(&f[4], "parts per attempt")?,
        })
    }
}

impl WireDecode for Advertised {
    const WHAT: &'static str = "advertised account";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/advertised/v1", 4, Self::WHAT)?;
        Ok(Advertised {
            peer: read_hash(&f[0], "advertised peer")?,
            token: read_u64(&f[1], "token")?,
            out: read_bigint(&f[2], "advertised out capacity")?,
            inn: read_bigint(&f[3], "advertised in capacity")?,
        })
    }
}

impl WireDecode for EntityProfile {
    const WHAT: &'static str = "entity profile";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/entity-profile/v1", 8, Self::WHAT)?;
        Ok(EntityProfile {
            entity: read_hash(&f[0], "profile entity")?,
            board: decode(&f[1])?,
            height: read_u64(&f[2], "profile height")?,
            fee_base: read_bigint(&f[3], "profile base fee")?,
            fee_ppm: read_u32(&f[4], "profile fee ppm")?,
            timeout_delta: read_u64(&f[5], "profile timeout delta")?,
            onion_key: read_bytes(&f[6], "profile onion key")?.to_vec(),
            accounts: read_vec(&f[7], "profile accounts", decode)?,
        })
    }
}

impl WireDecode for SignedProfile {
    const WHAT: &'static str = "signed profile";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/signed-profile/v1", 2, Self::WHAT)?;
        Ok(SignedProfile {
            profile: decode(&f[0])?,
            hanko: decode(&f[1])?,
        })
    }
}

impl WireDecode for ProfilePart {
    const WHAT: &'static str = "profile part";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/profile-part/v1", 3, Self::WHAT)?;
        Ok(ProfilePart {
            profile: decode(&f[0])?,
            signer: read_address(&f[1], "profile part signer")?,
            signature: read_signature(&f[2], "profile part signature")?,
        })
    }
}

// ----- account structures --------------------------------------------------------------

/// One arm per [`Data`] variant. Recursive, bounded by [`WIRE_NESTING_MAX`].
impl WireDecode for Data {
    const WHAT: &'static str = "subcontract data";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let x = &field_count(f, 1, Self::WHAT)?[0];
        Ok(match tag {
            b"xln/data/int/v1" => Data::Int(read_bigint(x, "data integer")?),
            b"xln/data/bytes/v1" => Data::Bytes(read_bytes(x, "data bytes")?.to_vec()),
            b"xln/data/text/v1" => Data::Text(read_text(x, "data text")?),
            b"xln/data/bool/v1" => Data::Bool(read_bool(x, "data boolean")?),
            b"xln/data/list/v1" => Data::List(read_vec(x, "data list", decode)?),
            b"xln/data/map/v1" => Data::Map(read_map(
                x,
                "data map",
                |k| read_text(k, "data map key"),
                decode,
            )?),
            other => return Err(unknown_tag(Self::WHAT, other)),
        })
    }
}

/// One arm per [`AccountTx`] variant: `xln/account-tx/<kind>/v1` with its fields.
impl WireDecode for AccountTx {
    const WHAT: &'static str = "account tx";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        let n = |n: usize| field_count(f, n, Self::WHAT);
        Ok(match tag {
            b"xln/account-tx/pay/v1" => {
                let f = n(2)?;
                AccountTx::Pay {
                    token: read_u64(&f[0], "token")?,
                    amount: read_bigint(&f[1], "amount")?,
                }
            }
            b"xln/account-tx/set-credit-limit/v1" => {
                let f = n(2)?;
                AccountTx::SetCreditLimit {
                    token: read_u64(&f[0], "token")?,
                    amount: read_bigint(&f[1], "credit limit")?,
                }
            }
            b"xln/account-tx/chain-delta/v1" => {
                let f = n(3)?;
                AccountTx::ChainDelta {
                    token: read_u64(&f[0], "token")?,
                    collateral_change: read_bigint(&f[1], "collateral change")?,
                    ondelta_change: read_bigint(&f[2], "ondelta change")?,
                }
            }
            b"xln/account-tx/install-code/v1" => AccountTx::InstallCode {
                code: read_bytes(&n(1)?[0], "subcontract code")?.to_vec(),
            },
            b"xln/account-tx/open-subcontract/v2" => {
                let f = n(4)?;
                AccountTx::OpenSubcontract {
                    id: read_u64(&f[0], "subcontract id")?,
                    code: read_hash(&f[1], "subcontract code hash")?,
                    holds: read_vec(&f[2], "subcontract holds", |h| match h.as_list() {
                        Some([t, a]) => Ok((read_u64(t, "token")?, read_bigint(a, "held")?)),
                        _ => Err(malformed("subcontract holds", "a hold is [token, amount]")),
                    })?,
                    params: decode(&f[3])?,
                }
            }
            b"xln/account-tx/call-subcontract/v1" => {
                let f = n(3)?;
                AccountTx::CallSubcontract {
                    id: read_u64(&f[0], "subcontract id")?,
                    method: read_text(&f[1], "subcontract method")?,
                    args: decode(&f[2])?,
                }
            }
            other => return Err(unknown_tag(Self::WHAT, other)),
        })
    }
}

impl WireDecode for Delta {
    const WHAT: &'static str = "delta";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/delta/v1", 7, Self::WHAT)?;
        Ok(Delta {
            collateral: read_bigint(&f[0], "collateral")?,
            ondelta: read_bigint(&f[1], "ondelta")?,
            offdelta: read_bigint(&f[2], "offdelta")?,
            left_credit_limit: read_bigint(&f[3], "left credit limit")?,
            right_credit_limit: read_bigint(&f[4], "right credit limit")?,
            left_allowance: read_bigint(&f[5], "left allowance")?,
            right_allowance: read_bigint(&f[6], "right allowance")?,
        })
    }
}

impl WireDecode for AccountFrame {
    const WHAT: &'static str = "account frame";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let f = expect_tagged(item, b"xln/account-frame/v1", 7, Self::WHAT)?;
        Ok(AccountFrame {
            height: read_u64(&f[0], "account frame height")?,
            timestamp: read_u64(&f[1], "account frame timestamp")?,
            prev_frame_hash: read_hash(&f[2], "account frame prev hash")?,
            txs: read_vec(&f[3], "account frame txs", decode)?,
            token_ids: read_vec(&f[4], "account frame token ids", |t| read_u64(t, "token"))?,
            deltas: read_vec(&f[5], "account frame deltas", decode)?,
            state_hash: read_hash(&f[6], "account frame state hash")?,
        })
    }
}

/// `[from, to, counter, kind, body fields...]`: kind 0 is a proposal, 1 an ack, 2 a decline.
impl WireDecode for AccountMessage {
    const WHAT: &'static str = "account message";
    fn from_item(item: &RlpItem) -> Result<Self, WireError> {
        let (tag, f) = tagged_parts(item, Self::WHAT)?;
        if tag != b"xln/account-message/v1" {
            return Err(unknown_tag(Self::WHAT, tag));
        }
        let head = f.get(..4).ok_or_else(|| {
            malformed(
                Self::WHAT,
                format!("{} fields, expected at least 4", f.len()),
            )
        })?;
        let rest = &f[4..];
        let body = match read_u64(&head[3], "account message kind")? {
            0 => {
                let b = field_count(rest, 2, Self::WHAT)?;
                AccountMessageBody::Propose {
                    frame: decode(&b[0])?,
                    signature: read_signature(&b[1], "account proposal signature")?,
                }
            }
            1 => {
                let b = field_count(rest, 3, Self::WHAT)?;
                AccountMessageBody::Ack {
                    height: read_u64(&b[0], "ack height")?,
                    frame_hash: read_hash(&b[1], "ack frame hash")?,
                    signature: read_signature(&b[2], "ack signature")?,
                }
            }
            2 => {
                let b = field_count(rest, 4, Self::WHAT)?;
                AccountMessageBody::Decline {
                    height: read_u64(&b[0], "decline height")?,
                    frame_hash: read_hash(&b[1], "decline frame hash")?,
                    reason: read_text(&b[2], "decline reason")?,
                    signature: read_signature(&b[3], "decline signature")?,
                }
            }
            k => return Err(malformed(Self::WHAT, format!("unknown kind {k}"))),
        };
        Ok(AccountMessage {
            from: read_address(&head[0], "account message sender")?,
            to: read_address(&head[1], "account message receiver")?,
            counter: read_u64(&head[2], "account message counter")?,
            body,
        })
    }
}
