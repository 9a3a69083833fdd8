//! The simulator's timeline: one structured [`Event`] per thing that happened (inputs
//! delivered, rejections, commits, evidence, ...) and its JSON-lines rendering for other
//! tools (hand-written, so the bytes are stable and need no dependency).

use std::fmt::Write;

use super::Behaviour;
use crate::crypto::Address;
use crate::entity::Reaction;

/// One thing that happened in the simulation. `entity` and `replica` are runtime indices.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// A tx was submitted to a replica and queued with `nonce`.
    Submitted {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The replica it was submitted to.
        replica: usize,
        /// The signed tx's hash.
        #[serde(with = "crate::crypto::readable")]
        tx_hash: [u8; 32],
        /// Its nonce.
        nonce: u64,
    },
    /// A message was delivered to a replica (whatever it then made of it).
    Delivered {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The sender.
        from: usize,
        /// The receiver.
        to: usize,
        /// The message kind.
        #[serde(deserialize_with = "super::kinds::deserialize")]
        kind: super::kinds::KindName,
        /// The message height.
        height: u64,
        /// The message view.
        view: u64,
    },
    /// The network lost a message.
    Lost {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The sender.
        from: usize,
        /// The intended receiver.
        to: usize,
        /// The message kind.
        #[serde(deserialize_with = "super::kinds::deserialize")]
        kind: super::kinds::KindName,
    },
    /// A replica refused an input.
    Rejected {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The replica.
        replica: usize,
        /// What the error says to do with the sender.
        reaction: Reaction,
        /// The error.
        error: String,
    },
    /// A replica committed a frame.
    Committed {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The replica.
        replica: usize,
        /// The height.
        height: u64,
        /// The deciding view.
        view: u64,
        /// The frame hash.
        #[serde(with = "crate::crypto::readable")]
        frame_hash: [u8; 32],
        /// The frame's state hash.
        #[serde(with = "crate::crypto::readable")]
        state_hash: [u8; 32],
        /// Txs in the frame.
        txs: usize,
        /// Of which rejected.
        rejected: usize,
    },
    /// A replica detected equivocation.
    Evidence {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The detecting replica.
        replica: usize,
        /// The equivocating validator.
        validator: Address,
        /// The height.
        height: u64,
        /// The view.
        view: u64,
        /// What was signed twice.
        #[serde(deserialize_with = "super::kinds::deserialize")]
        kind: super::kinds::KindName,
    },
    /// A replica dropped a mempool tx that can no longer commit.
    TxDropped {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The replica.
        replica: usize,
        /// The tx.
        #[serde(with = "crate::crypto::readable")]
        tx_hash: [u8; 32],
        /// Why.
        reason: String,
    },
    /// A replica's behaviour was set.
    BehaviourSet {
        /// The tick.
        tick: u64,
        /// The entity.
        entity: usize,
        /// The replica.
        replica: usize,
        /// The new behaviour.
        behaviour: Behaviour,
    },
}

/// Appends `s` as a JSON string literal (quotes, backslashes and control characters escaped).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

fn reaction_name(r: Reaction) -> &'static str {
    match r {
        Reaction::Ignore => "ignore",
        Reaction::Reject => "reject",
        Reaction::Punish => "punish",
    }
}

/// A JSON object under construction: `{"tick":..,"event":"..",...}`.
struct Line(String);

impl Line {
    fn new(tick: u64, event: &str, entity: usize) -> Line {
        let mut s = String::with_capacity(128);
        let _ = write!(
            s,
            "{{\"tick\":{tick},\"event\":\"{event}\",\"entity\":{entity}"
        );
        Line(s)
    }

    fn num(mut self, key: &str, value: u64) -> Line {
        let _ = write!(self.0, ",\"{key}\":{value}");
        self
    }

    fn text(mut self, key: &str, value: &str) -> Line {
        let _ = write!(self.0, ",\"{key}\":");
        push_json_string(&mut self.0, value);
        self
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Event {
    /// The event as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        match self {
            Event::Submitted { .. } | Event::Delivered { .. } | Event::Lost { .. } => {
                self.traffic_json()
            }
            Event::Committed { .. } => self.commit_json(),
            _ => self.replica_json(),
        }
    }

    fn traffic_json(&self) -> String {
        match self {
            Event::Submitted {
                tick,
                entity,
                replica,
                tx_hash,
                nonce,
            } => Line::new(*tick, "submitted", *entity)
                .num("replica", *replica as u64)
                .text("tx_hash", &hex(tx_hash))
                .num("nonce", *nonce)
                .finish(),
            Event::Delivered {
                tick,
                entity,
                from,
                to,
                kind,
                height,
                view,
            } => Line::new(*tick, "delivered", *entity)
                .num("from", *from as u64)
                .num("to", *to as u64)
                .text("kind", kind)
                .num("height", *height)
                .num("view", *view)
                .finish(),
            Event::Lost {
                tick,
                entity,
                from,
                to,
                kind,
            } => Line::new(*tick, "lost", *entity)
                .num("from", *from as u64)
                .num("to", *to as u64)
                .text("kind", kind)
                .finish(),
            _ => String::new(),
        }
    }

    fn commit_json(&self) -> String {
        match self {
            Event::Committed {
                tick,
                entity,
                replica,
                height,
                view,
                frame_hash,
                state_hash,
                txs,
                rejected,
            } => Line::new(*tick, "committed", *entity)
                .num("replica", *replica as u64)
                .num("height", *height)
                .num("view", *view)
                .text("frame_hash", &hex(frame_hash))
                .text("state_hash", &hex(state_hash))
                .num("txs", *txs as u64)
                .num("rejected", *rejected as u64)
                .finish(),
            _ => String::new(),
        }
    }

    fn replica_json(&self) -> String {
        match self {
            Event::Rejected {
                tick,
                entity,
                replica,
                reaction,
                error,
            } => Line::new(*tick, "rejected", *entity)
                .num("replica", *replica as u64)
                .text("reaction", reaction_name(*reaction))
                .text("error", error)
                .finish(),
            Event::Evidence {
                tick,
                entity,
                replica,
                validator,
                height,
                view,
                kind,
            } => Line::new(*tick, "evidence", *entity)
                .num("replica", *replica as u64)
                .text("validator", &validator.to_checksum())
                .num("height", *height)
                .num("view", *view)
                .text("kind", kind)
                .finish(),
            Event::TxDropped {
                tick,
                entity,
                replica,
                tx_hash,
                reason,
            } => Line::new(*tick, "tx-dropped", *entity)
                .num("replica", *replica as u64)
                .text("tx_hash", &hex(tx_hash))
                .text("reason", reason)
                .finish(),
            Event::BehaviourSet {
                tick,
                entity,
                replica,
                behaviour,
            } => Line::new(*tick, "behaviour", *entity)
                .num("replica", *replica as u64)
                .text("behaviour", behaviour.name())
                .finish(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let e = Event::Rejected {
            tick: 3,
            entity: 0,
            replica: 1,
            reaction: Reaction::Punish,
            error: "bad \"sig\"".into(),
        };
        assert_eq!(
            e.to_json(),
            "{\"tick\":3,\"event\":\"rejected\",\"entity\":0,\"replica\":1,\"reaction\":\"punish\",\"error\":\"bad \\\"sig\\\"\"}"
        );
    }
}
