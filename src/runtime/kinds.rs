//! The fixed names timeline events carry (`&'static str` message and evidence kinds) and
//! how a snapshot reads them back: each name maps to its static string, an unknown name is
//! an error (so a hand-edited timeline cannot invent kinds).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::entity::EntityMessage;

/// A kind name. An alias (not `&'static str` written out) because serde's derive would
/// otherwise borrow it from the input, which a snapshot read from a file cannot give.
pub type KindName = &'static str;

/// `deserialize_with` for an event's `kind` field.
///
/// # Errors
/// Not a string, or not one of [`EntityMessage::KINDS`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let name = String::deserialize(d)?;
    EntityMessage::KINDS
        .iter()
        .find(|k| **k == name)
        .copied()
        .ok_or_else(|| D::Error::custom(format!("unknown message kind {name:?}")))
}
