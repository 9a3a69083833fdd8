//! LDK's `NetworkGraph` built from the same channels as xln's `ChannelGraph`, and the maps
//! between the two.
//!
//! Correspondence (exact, checked by `Correspondence::check`):
//! * node `i` of the xln graph ↔ the public key of secret key `i + 1` (the file has no keys;
//!   any distinct valid keys would do, and LDK's router needs valid points);
//! * xln channel `c` (edges `2c`, `2c + 1`) ↔ LDK short channel id `c + 1`, announced with
//!   `add_channel_from_partial_announcement` with the channel's capacity in satoshi and the
//!   lexicographically smaller key as `node_one`;
//! * each xln edge ↔ one `UnsignedChannelUpdate` of that channel in its direction (bit 0 of
//!   `channel_flags`: 0 from `node_one`), with the same base fee, proportional fee, htlc
//!   minimum and maximum, cltv delta and disabled flag (bit 1).
//!
//! Where LDK's message fields are narrower than xln's, values are clamped and counted:
//! base fees above `u32::MAX` msat, cltv deltas above `u16::MAX`, htlc maxima above the
//! capacity (LDK rejects those updates). The counts are printed with every run.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use lightning::bitcoin::constants::ChainHash;
use lightning::bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lightning::bitcoin::Network;
use lightning::ln::msgs::UnsignedChannelUpdate;
use lightning::routing::gossip::{NetworkGraph, NodeId as LdkNodeId};
use lightning::types::features::ChannelFeatures;
use lightning::util::logger::{Logger, Record};
use xln::routing::{ChannelGraph, EdgeId, NodeId};

/// LDK wants a logger; the comparison prints nothing from LDK.
pub struct Quiet;

impl Logger for Quiet {
    fn log(&self, _record: Record) {}
}

/// What had to be clamped to fit LDK's message fields.
#[derive(Debug, Default)]
pub struct Clamped {
    pub base_fee: usize,
    pub cltv_delta: usize,
    pub htlc_max: usize,
    pub rejected_updates: usize,
    pub rejected_channels: usize,
}

/// The LDK graph and the maps between node ids and keys.
pub struct LdkGraph {
    pub graph: NetworkGraph<&'static Quiet>,
    pub keys: Vec<PublicKey>,
    pub node_of: HashMap<PublicKey, NodeId>,
    pub clamped: Clamped,
}

pub static QUIET: Quiet = Quiet;

/// The short channel id of xln channel `c`.
pub fn scid(channel: u32) -> u64 {
    u64::from(channel) + 1
}

/// Builds LDK's graph from `g` (see the module doc).
pub fn build(g: &ChannelGraph) -> LdkGraph {
    let secp = Secp256k1::signing_only();
    let keys: Vec<PublicKey> = (0..g.node_count())
        .map(|i| {
            let mut bytes = [0u8; 32];
            bytes[24..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let secret = SecretKey::from_slice(&bytes).expect("1..n are valid secret keys");
            PublicKey::from_secret_key(&secp, &secret)
        })
        .collect();
    let node_of = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, i as NodeId))
        .collect();
    let graph = NetworkGraph::new(Network::Bitcoin, &QUIET);
    let mut clamped = Clamped::default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let edges = g.edges();
    for pair in edges.chunks(2) {
        let first = &pair[0];
        let (a, b) = (
            LdkNodeId::from_pubkey(&keys[first.from as usize]),
            LdkNodeId::from_pubkey(&keys[first.to as usize]),
        );
        let (one, two) = if a < b { (a, b) } else { (b, a) };
        let capacity_sat = (first.capacity / 1_000) as u64;
        let added = graph.add_channel_from_partial_announcement(
            scid(first.channel),
            Some(capacity_sat),
            now,
            ChannelFeatures::empty(),
            one,
            two,
        );
        if added.is_err() {
            clamped.rejected_channels += 1;
            continue;
        }
        for edge in pair {
            let from = LdkNodeId::from_pubkey(&keys[edge.from as usize]);
            let direction = u8::from(from != one);
            let disabled = if edge.disabled { 2 } else { 0 };
            let capacity_msat = capacity_sat * 1_000;
            let htlc_max = edge.htlc_max.map_or(capacity_msat as u128, |m| m);
            if htlc_max > capacity_msat as u128 {
                clamped.htlc_max += 1;
            }
            if edge.fee_base > u128::from(u32::MAX) {
                clamped.base_fee += 1;
            }
            if edge.cltv_expiry_delta > u32::from(u16::MAX) {
                clamped.cltv_delta += 1;
            }
            let update = UnsignedChannelUpdate {
                chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
                short_channel_id: scid(edge.channel),
                timestamp: now as u32,
                message_flags: 1,
                channel_flags: direction | disabled,
                cltv_expiry_delta: edge.cltv_expiry_delta.min(u32::from(u16::MAX)) as u16,
                htlc_minimum_msat: edge.htlc_min.unwrap_or(0).min(u128::from(u64::MAX)) as u64,
                htlc_maximum_msat: htlc_max.min(capacity_msat as u128) as u64,
                fee_base_msat: edge.fee_base.min(u128::from(u32::MAX)) as u32,
                fee_proportional_millionths: edge.fee_ppm,
                excess_data: Vec::new(),
            };
            if graph.update_channel_unsigned(&update).is_err() {
                clamped.rejected_updates += 1;
            }
        }
    }
    LdkGraph {
        graph,
        keys,
        node_of,
        clamped,
    }
}

impl LdkGraph {
    /// The xln edge an LDK hop (`scid`, into node `to`) crosses.
    pub fn edge_of(&self, g: &ChannelGraph, scid: u64, to: &PublicKey) -> Option<EdgeId> {
        let channel = u32::try_from(scid.checked_sub(1)?).ok()?;
        let to = *self.node_of.get(to)?;
        [2 * channel, 2 * channel + 1].into_iter().find(|&id| {
            g.edge(id)
                .is_some_and(|e| e.to == to && e.channel == channel)
        })
    }

    /// Checks the correspondence on every channel: LDK holds it with the same capacity and
    /// both directions with the same fees, bounds and delays (up to the counted clamps).
    pub fn check(&self, g: &ChannelGraph) -> Result<usize, String> {
        let read = self.graph.read_only();
        let mut checked = 0;
        for pair in g.edges().chunks(2) {
            let Some(info) = read.channel(scid(pair[0].channel)) else {
                continue;
            };
            if info.capacity_sats != Some((pair[0].capacity / 1_000) as u64) {
                return Err(format!("channel {}: capacity differs", pair[0].channel));
            }
            for edge in pair {
                let from = LdkNodeId::from_pubkey(&self.keys[edge.from as usize]);
                let update = if from == info.node_one {
                    info.one_to_two.as_ref()
                } else {
                    info.two_to_one.as_ref()
                };
                let Some(update) = update else {
                    continue;
                };
                let same = update.enabled != edge.disabled
                    && u128::from(update.fees.base_msat) == edge.fee_base.min(u128::from(u32::MAX))
                    && update.fees.proportional_millionths == edge.fee_ppm
                    && u32::from(update.cltv_expiry_delta)
                        == edge.cltv_expiry_delta.min(u32::from(u16::MAX))
                    && u128::from(update.htlc_minimum_msat) == edge.htlc_min.unwrap_or(0);
                if !same {
                    return Err(format!("edge of channel {} differs", edge.channel));
                }
                checked += 1;
            }
        }
        Ok(checked)
    }
}
