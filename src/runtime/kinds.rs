//! The fixed names timeline events carry (`&'static str` message and evidence kinds) and
//! how a snapshot reads them back: each name maps to its static string, an unknown name is
//! an error (so a hand-edited timeline cannot invent kinds).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A kind name. An alias (not `&'static str` written out) because serde's derive would
/// otherwise borrow it from the input, which a snapshot read from a file cannot give.
pub type KindName = &'static str;

/// Every kind name an [`Event`](super::Event) can carry: those of
/// [`EntityMessage::kind`](crate::entity::EntityMessage::kind) (keep the two in step: a
/// snapshot holding an unlisted kind cannot be read back, which the crash test catches).
pub const KINDS: [&str; 8] = [
    "tx",
    "proposal",
    "prevote",
    "precommit",
    "view-change",
    "commit",
    "sync-request",
    "account-part",
];

/// `deserialize_with` for an event's `kind` field.
///
/// # Errors
/// Not a string, or not one of [`KINDS`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let name = String::deserialize(d)?;
    KINDS
        .iter()
        .find(|k| **k == name)
        .copied()
        .ok_or_else(|| D::Error::custom(format!("unknown message kind {name:?}")))
}
