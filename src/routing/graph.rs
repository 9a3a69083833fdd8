//! The channel graph pathfinding runs on: directed [`Edge`]s between dense [`NodeId`]s, each
//! with capacity, fees and HTLC bounds, indexed both ways (inbound lists drive the backward
//! search). Built from gossip ([`ChannelGraph::from_gossip`]) or a Lightning file. An
//! [`EdgeKey`] names a directed edge by its end nodes' keys, so learned liquidity survives a
//! rebuild of the graph (edge ids do not).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::gossip::{EntityAddress, GossipState};
use super::route::hop_fee;
use super::RoutingError;

/// A node: an index into the graph's nodes (dense, `0..node_count`).
pub type NodeId = u32;
/// An edge: an index into [`ChannelGraph::edges`].
pub type EdgeId = u32;
/// A channel (account): both directed edges of one bilateral channel share it.
pub type ChannelId = u32;

/// One direction of a channel: `from` forwards to `to`. Amounts are in the smallest unit of
/// the graph's token (msat for Lightning). `fee_base`/`fee_ppm` are what `from` charges to
/// forward onto this edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The channel this direction belongs to.
    pub channel: ChannelId,
    /// Forwarding node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Most this direction can carry in one payment.
    pub capacity: u128,
    /// Fixed fee per forwarded payment.
    pub fee_base: u128,
    /// Proportional fee in millionths of the forwarded amount.
    pub fee_ppm: u32,
    /// Smallest amount accepted (`None`: no minimum).
    pub htlc_min: Option<u128>,
    /// Largest amount accepted (`None`: only `capacity` limits).
    pub htlc_max: Option<u128>,
    /// Blocks of timelock `from` asks for (Lightning `cltv_expiry_delta`; 0 if unknown).
    pub cltv_expiry_delta: u32,
    /// The forwarding side announced it will not forward on this direction.
    pub disabled: bool,
}

/// The bound that stops an edge from carrying an amount (see [`Edge::refusal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarryBound {
    /// The direction is disabled.
    Disabled,
    /// The amount exceeds the capacity.
    Capacity,
    /// The amount is below htlc_min.
    HtlcMinimum,
    /// The amount exceeds htlc_max.
    HtlcMaximum,
}

impl fmt::Display for CarryBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CarryBound::Disabled => "enabled flag (the edge is disabled)",
            CarryBound::Capacity => "capacity",
            CarryBound::HtlcMinimum => "htlc_min",
            CarryBound::HtlcMaximum => "htlc_max",
        })
    }
}

impl Edge {
    /// An enabled edge with no fees, no HTLC bounds and no timelock: the caller sets the
    /// rest with struct update syntax.
    pub fn new(channel: ChannelId, from: NodeId, to: NodeId, capacity: u128) -> Edge {
        Edge {
            channel,
            from,
            to,
            capacity,
            fee_base: 0,
            fee_ppm: 0,
            htlc_min: None,
            htlc_max: None,
            cltv_expiry_delta: 0,
            disabled: false,
        }
    }

    /// Why this edge cannot carry `amount`, or `None` if it can. The single definition of
    /// feasibility, shared by the search and by route checking.
    #[inline]
    pub fn refusal(&self, amount: u128) -> Option<CarryBound> {
        if self.disabled {
            Some(CarryBound::Disabled)
        } else if amount > self.capacity {
            Some(CarryBound::Capacity)
        } else if self.htlc_min.is_some_and(|min| amount < min) {
            Some(CarryBound::HtlcMinimum)
        } else if self.htlc_max.is_some_and(|max| amount > max) {
            Some(CarryBound::HtlcMaximum)
        } else {
            None
        }
    }

    /// The largest amount this edge accepts (0 if disabled).
    pub fn max_carry(&self) -> u128 {
        if self.disabled {
            0
        } else {
            self.htlc_max
                .map_or(self.capacity, |m| m.min(self.capacity))
        }
    }

    /// Fee `from` charges to forward `amount` onto this edge; see [`hop_fee`].
    /// Fails with `Overflow` if it does not fit in 128 bits.
    pub fn fee(&self, amount: u128) -> Result<u128, RoutingError> {
        hop_fee(amount, self.fee_base, self.fee_ppm)
    }
}

/// The identity of a directed edge that does not depend on edge ids: the external keys of
/// its two ends (entity addresses, Lightning public keys; the node id as 4 big-endian bytes
/// when the graph has no keys) and, among several edges between the same two nodes in the
/// same direction, its rank by edge id (`parallel`, 0 for the first). Why: a sender's
/// learned liquidity is persisted and must still name the same account after gossip
/// rebuilt the graph with different dense ids.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct EdgeKey {
    /// Key of the forwarding node.
    #[serde(with = "crate::crypto::readable")]
    pub from: Vec<u8>,
    /// Key of the receiving node.
    #[serde(with = "crate::crypto::readable")]
    pub to: Vec<u8>,
    /// Rank among the parallel edges `from → to` (ascending edge id).
    pub parallel: u32,
}

impl crate::crypto::Canonical for EdgeKey {
    fn canonical_rlp(&self) -> crate::crypto::RlpItem {
        crate::crypto::tagged(
            b"xln/edge-key/v1",
            vec![
                self.from.canonical_rlp(),
                self.to.canonical_rlp(),
                self.parallel.canonical_rlp(),
            ],
        )
    }
}

/// A directed graph of channel edges, with inbound and outbound adjacency in compressed
/// (CSR) form, sorted by edge id so every traversal is deterministic, and an index of the
/// edges by (from, to, id) for [`EdgeKey`] look-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGraph {
    node_count: usize,
    channel_count: usize,
    edges: Vec<Edge>,
    inbound_start: Vec<u32>,
    inbound: Vec<EdgeId>,
    outbound_start: Vec<u32>,
    outbound: Vec<EdgeId>,
    /// Edge ids sorted by (from, to, id).
    pairs: Vec<EdgeId>,
    node_keys: Vec<Vec<u8>>,
    key_index: BTreeMap<Vec<u8>, NodeId>,
}

/// CSR adjacency: `start[n]..start[n+1]` indexes the edge ids of node `n`, by edge id.
fn adjacency(
    node_count: usize,
    edges: &[Edge],
    end: impl Fn(&Edge) -> NodeId,
) -> (Vec<u32>, Vec<EdgeId>) {
    let mut start = vec![0u32; node_count + 1];
    for e in edges {
        start[end(e) as usize + 1] += 1;
    }
    for n in 0..node_count {
        start[n + 1] += start[n];
    }
    let mut fill = start.clone();
    let mut list = vec![0; edges.len()];
    for (id, e) in edges.iter().enumerate() {
        let slot = &mut fill[end(e) as usize];
        list[*slot as usize] = id as EdgeId;
        *slot += 1;
    }
    (start, list)
}

impl ChannelGraph {
    /// Builds a graph of `node_count` nodes from `edges` (edge id = position). Fails with
    /// `UnknownNode` if an edge names a node `>= node_count`, and with `Overflow` if there
    /// are more nodes or edges than 32-bit ids can name.
    pub fn new(node_count: usize, edges: Vec<Edge>) -> Result<ChannelGraph, RoutingError> {
        if node_count >= u32::MAX as usize || edges.len() >= u32::MAX as usize {
            return Err(RoutingError::Overflow {
                what: "node or edge count (ids are 32-bit)",
            });
        }
        if let Some(node) = edges
            .iter()
            .flat_map(|e| [e.from, e.to])
            .find(|&n| n as usize >= node_count)
        {
            return Err(RoutingError::UnknownNode { node, node_count });
        }
        let channel_count = edges
            .iter()
            .map(|e| e.channel)
            .collect::<BTreeSet<_>>()
            .len();
        let (inbound_start, inbound) = adjacency(node_count, &edges, |e| e.to);
        let (outbound_start, outbound) = adjacency(node_count, &edges, |e| e.from);
        let mut pairs: Vec<EdgeId> = (0..edges.len() as EdgeId).collect();
        pairs.sort_by_key(|&id| (edges[id as usize].from, edges[id as usize].to, id));
        Ok(ChannelGraph {
            node_count,
            channel_count,
            edges,
            inbound_start,
            inbound,
            outbound_start,
            outbound,
            pairs,
            node_keys: Vec::new(),
            key_index: BTreeMap::new(),
        })
    }

    /// Attaches external keys (entity addresses, Lightning public keys) to the nodes, one per
    /// node in id order, so callers can translate keys to ids. Fails with `InvalidNodeKeys`
    /// if the number of keys differs from the node count or two nodes share a key.
    pub fn with_node_keys(mut self, keys: Vec<Vec<u8>>) -> Result<ChannelGraph, RoutingError> {
        if keys.len() != self.node_count {
            return Err(RoutingError::InvalidNodeKeys {
                reason: format!("{} keys for {} nodes", keys.len(), self.node_count),
            });
        }
        let mut index = BTreeMap::new();
        for (id, key) in keys.iter().enumerate() {
            if let Some(first) = index.insert(key.clone(), id as NodeId) {
                return Err(RoutingError::InvalidNodeKeys {
                    reason: format!("nodes {first} and {id} share a key"),
                });
            }
        }
        self.node_keys = keys;
        self.key_index = index;
        Ok(self)
    }

    /// Number of nodes (ids `0..node_count`).
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Number of directed edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Number of distinct channels the edges belong to.
    pub fn channel_count(&self) -> usize {
        self.channel_count
    }

    /// All edges; an [`EdgeId`] indexes this slice.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The edge with id `id`, if it exists.
    pub fn edge(&self, id: EdgeId) -> Option<&Edge> {
        self.edges.get(id as usize)
    }

    /// Ids of the edges ending at `node`, ascending (empty for an unknown node).
    pub fn inbound(&self, node: NodeId) -> &[EdgeId] {
        Self::slice(&self.inbound_start, &self.inbound, node)
    }

    /// Ids of the edges leaving `node`, ascending (empty for an unknown node).
    pub fn outbound(&self, node: NodeId) -> &[EdgeId] {
        Self::slice(&self.outbound_start, &self.outbound, node)
    }

    fn slice<'a>(start: &[u32], list: &'a [EdgeId], node: NodeId) -> &'a [EdgeId] {
        let n = node as usize;
        match (start.get(n), start.get(n + 1)) {
            (Some(&a), Some(&b)) => &list[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The external key of `node` (address or public key), if keys are attached.
    pub fn node_key(&self, node: NodeId) -> Option<&[u8]> {
        self.node_keys.get(node as usize).map(Vec::as_slice)
    }

    /// The node whose external key is `key`, if keys are attached and one matches.
    pub fn node_by_key(&self, key: &[u8]) -> Option<NodeId> {
        self.key_index.get(key).copied()
    }

    /// The edge ids from `from` to `to`, ascending (empty if there are none).
    pub fn edges_between(&self, from: NodeId, to: NodeId) -> &[EdgeId] {
        let key = |id: &EdgeId| {
            let e = &self.edges[*id as usize];
            (e.from, e.to)
        };
        let start = self.pairs.partition_point(|id| key(id) < (from, to));
        let end = self.pairs.partition_point(|id| key(id) <= (from, to));
        &self.pairs[start..end]
    }

    /// The other direction of `id`'s channel (same channel, ends swapped), if the graph has it.
    pub fn reverse_edge(&self, id: EdgeId) -> Option<EdgeId> {
        let e = self.edge(id)?;
        self.edges_between(e.to, e.from)
            .iter()
            .copied()
            .find(|&r| self.edges[r as usize].channel == e.channel)
    }

    /// The key bytes of `node`: its attached key, or its id as 4 big-endian bytes.
    fn key_bytes(&self, node: NodeId) -> Vec<u8> {
        match self.node_key(node) {
            Some(key) => key.to_vec(),
            None => node.to_be_bytes().to_vec(),
        }
    }

    /// The node a key names: an attached key, or (without keys) a 4-byte big-endian id.
    fn node_of_key(&self, key: &[u8]) -> Option<NodeId> {
        if self.node_keys.is_empty() {
            let id = NodeId::from_be_bytes(<[u8; 4]>::try_from(key).ok()?);
            (id < self.node_count as NodeId).then_some(id)
        } else {
            self.node_by_key(key)
        }
    }

    /// The stable [`EdgeKey`] of edge `id` (`None` if there is no such edge).
    pub fn edge_key(&self, id: EdgeId) -> Option<EdgeKey> {
        let e = self.edge(id)?;
        let parallel = self
            .edges_between(e.from, e.to)
            .partition_point(|&p| p < id);
        Some(EdgeKey {
            from: self.key_bytes(e.from),
            to: self.key_bytes(e.to),
            parallel: parallel as u32,
        })
    }

    /// The edge `key` names in this graph, if its ends and rank exist here.
    pub fn edge_by_key(&self, key: &EdgeKey) -> Option<EdgeId> {
        let from = self.node_of_key(&key.from)?;
        let to = self.node_of_key(&key.to)?;
        self.edges_between(from, to)
            .get(key.parallel as usize)
            .copied()
    }

    /// Builds the graph of one token from gossip. Nodes are every entity with a profile plus
    /// every peer they name in `token`, in ascending address order (node keys = addresses).
    /// A direction u→v exists only if u advertises the account (u sets the fees for
    /// forwarding out, like a Lightning `channel_update`): capacity is u's `capacity_out`,
    /// lowered to v's `capacity_in` if v advertises the account too (both claims must hold);
    /// fees are u's. Accounts with oneself are ignored. Cannot fail.
    pub fn from_gossip(state: &GossipState, token: u64) -> ChannelGraph {
        let mut addresses: BTreeSet<EntityAddress> = BTreeSet::new();
        for p in state.profiles() {
            addresses.insert(p.entity);
            for a in p.accounts.iter().filter(|a| a.token == token) {
                addresses.insert(a.peer);
            }
        }
        let ids: BTreeMap<EntityAddress, NodeId> = addresses
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, i as NodeId))
            .collect();
        let mut channels: BTreeMap<(NodeId, NodeId), ChannelId> = BTreeMap::new();
        let mut edges = Vec::new();
        for p in state.profiles() {
            let from = ids[&p.entity];
            let mut seen = BTreeSet::new();
            for a in p.accounts.iter().filter(|a| a.token == token) {
                if a.peer == p.entity || !seen.insert(a.peer) {
                    continue;
                }
                let to = ids[&a.peer];
                let capacity = match state.get(&a.peer).and_then(|q| q.account(&p.entity, token)) {
                    Some(back) => a.capacity_out.min(back.capacity_in),
                    None => a.capacity_out,
                };
                let next = channels.len() as ChannelId;
                let channel = *channels.entry((from.min(to), from.max(to))).or_insert(next);
                edges.push(Edge {
                    fee_base: p.fee_base,
                    fee_ppm: p.fee_ppm,
                    ..Edge::new(channel, from, to, capacity)
                });
            }
        }
        let keys = addresses.iter().map(|a| a.to_vec()).collect();
        // Node ids come from `ids` and keys are distinct addresses, so neither step can fail;
        // fall back to an empty graph rather than panic if that invariant were ever broken.
        ChannelGraph::new(addresses.len(), edges)
            .and_then(|g| g.with_node_keys(keys))
            .unwrap_or_else(|_| ChannelGraph::empty())
    }

    /// A graph with no nodes.
    pub fn empty() -> ChannelGraph {
        ChannelGraph {
            node_count: 0,
            channel_count: 0,
            edges: Vec::new(),
            inbound_start: vec![0],
            inbound: Vec::new(),
            outbound_start: vec![0],
            outbound: Vec::new(),
            pairs: Vec::new(),
            node_keys: Vec::new(),
            key_index: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::gossip::{AdvertisedAccount, Profile};

    #[test]
    fn adjacency_is_sorted_and_complete() {
        let edges = vec![
            Edge::new(0, 0, 1, 10),
            Edge::new(0, 1, 0, 10),
            Edge::new(1, 2, 1, 5),
        ];
        let g = ChannelGraph::new(3, edges).unwrap();
        assert_eq!(g.inbound(1), &[0, 2]);
        assert_eq!(g.outbound(1), &[1]);
        assert_eq!(g.inbound(7), &[] as &[EdgeId]);
        assert_eq!(g.channel_count(), 2);
        assert_eq!(
            ChannelGraph::new(2, vec![Edge::new(0, 0, 2, 1)]),
            Err(RoutingError::UnknownNode {
                node: 2,
                node_count: 2
            })
        );
    }

    #[test]
    fn refusal_names_the_broken_bound() {
        let e = Edge {
            htlc_min: Some(10),
            htlc_max: Some(50),
            ..Edge::new(0, 0, 1, 100)
        };
        assert_eq!(e.refusal(5), Some(CarryBound::HtlcMinimum));
        assert_eq!(e.refusal(60), Some(CarryBound::HtlcMaximum));
        assert_eq!(e.refusal(10), None);
        assert_eq!(
            Edge::new(0, 0, 1, 100).refusal(101),
            Some(CarryBound::Capacity)
        );
        let off = Edge {
            disabled: true,
            ..e
        };
        assert_eq!(off.refusal(20), Some(CarryBound::Disabled));
        assert_eq!(off.max_carry(), 0);
    }

    #[test]
    fn from_gossip_takes_fees_from_the_forwarder_and_the_lower_capacity() {
        let acc = |peer: u8, out, inn| AdvertisedAccount {
            peer: [peer; 20],
            token: 7,
            capacity_out: out,
            capacity_in: inn,
        };
        let profile = |e: u8, fee_base, accounts| Profile {
            entity: [e; 20],
            timestamp: 1,
            capabilities: vec![],
            fee_base,
            fee_ppm: 0,
            accounts,
        };
        let mut s = GossipState::new();
        s.merge(profile(1, 3, vec![acc(2, 100, 40), acc(9, 5, 5)]));
        s.merge(profile(2, 4, vec![acc(1, 30, 80)]));
        let g = ChannelGraph::from_gossip(&s, 7);
        assert_eq!(g.node_count(), 3); // 1, 2 and 9 (named as a peer)
        assert_eq!(g.channel_count(), 2);
        let (n1, n2) = (
            g.node_by_key(&[1; 20]).unwrap(),
            g.node_by_key(&[2; 20]).unwrap(),
        );
        let e12 = g
            .edges()
            .iter()
            .find(|e| e.from == n1 && e.to == n2)
            .unwrap();
        assert_eq!((e12.capacity, e12.fee_base), (80, 3));
        let e21 = g
            .edges()
            .iter()
            .find(|e| e.from == n2 && e.to == n1)
            .unwrap();
        assert_eq!((e21.capacity, e21.fee_base), (30, 4));
        assert_eq!(e12.channel, e21.channel);
        assert_eq!(ChannelGraph::from_gossip(&s, 8).edge_count(), 0);
        // keys name the same edges after a rebuild, and the reverse edge is found
        let key = g.edge_key(0).unwrap();
        assert_eq!(key.from, vec![1; 20]);
        assert_eq!(g.edge_by_key(&key), Some(0));
        let r = g.reverse_edge(0).unwrap();
        assert_eq!(
            (g.edges()[r as usize].from, g.edges()[r as usize].to),
            (n2, n1)
        );
    }

    #[test]
    fn edge_keys_rank_parallel_edges_and_work_without_node_keys() {
        let g = ChannelGraph::new(
            3,
            vec![
                Edge::new(0, 0, 1, 10),
                Edge::new(1, 1, 2, 10),
                Edge::new(2, 0, 1, 20),
                Edge::new(2, 1, 0, 20),
            ],
        )
        .unwrap();
        assert_eq!(g.edges_between(0, 1), &[0, 2]);
        let k = g.edge_key(2).unwrap();
        assert_eq!((k.from.as_slice(), k.parallel), (&[0u8, 0, 0, 0][..], 1));
        assert_eq!(g.edge_by_key(&k), Some(2));
        assert_eq!(g.reverse_edge(2), Some(3));
        assert_eq!(g.reverse_edge(0), None);
        let missing = EdgeKey {
            parallel: 2,
            ..k.clone()
        };
        assert_eq!(g.edge_by_key(&missing), None);
        let unknown = EdgeKey {
            from: vec![0, 0, 0, 9],
            ..k
        };
        assert_eq!(g.edge_by_key(&unknown), None);
    }
}
