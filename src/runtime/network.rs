//! The simulated network: a seeded PRNG ([`SplitMix64`]) and a message queue that loses,
//! duplicates, delays and reorders messages per a [`NetworkModel`], and cuts messages
//! between the groups of a [`Partition`] until it heals. Deterministic: the same seed and
//! the same sends give the same deliveries.

use std::collections::BTreeMap;

use crate::entity::EntityMessage;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-distributed 64-bit PRNG. Why
/// inline: the simulator's randomness must be reproducible from a seed forever, so it must
/// not change with a dependency's version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (0 when `n` is 0), by 128-bit multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `num / den` (false when `den` is 0).
    pub fn chance(&mut self, (num, den): (u64, u64)) -> bool {
        den != 0 && self.below(den) < num
    }
}

/// How the simulated network treats each message copy: lost with probability `loss`,
/// duplicated with probability `duplicate`, delivered `1 + uniform(0..=max_delay)` ticks
/// after it was sent. Random delays reorder messages; messages due in the same tick are
/// delivered in a random order too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetworkModel {
    /// Loss probability as (numerator, denominator).
    pub loss: (u64, u64),
    /// Duplication probability as (numerator, denominator).
    pub duplicate: (u64, u64),
    /// Most extra ticks of delay.
    pub max_delay: u64,
}

impl NetworkModel {
    /// No loss, no duplication, every message delivered on the next tick.
    pub fn perfect() -> Self {
        NetworkModel {
            loss: (0, 1),
            duplicate: (0, 1),
            max_delay: 0,
        }
    }
}

/// One replica anywhere in the simulation: (entity index, replica index in the entity).
pub type Node = (usize, usize);

/// Groups of replicas that cannot reach each other until tick `until` (exclusive): while
/// it is in force, a message between two nodes of different groups is cut (lost) when it
/// is sent. Every node named in no group belongs to one more group, "the rest". Messages
/// already in flight when a partition starts still arrive (it cuts links, not queues),
/// and cut messages draw no randomness, so a run without partitions is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partition {
    /// The groups; a node listed twice counts in its first group.
    pub groups: Vec<Vec<Node>>,
    /// The first tick at which the network is whole again.
    pub until: u64,
}

impl Partition {
    /// The group of `node`: its index in `groups`, or `groups.len()` for the rest.
    fn group_of(&self, node: Node) -> usize {
        self.groups
            .iter()
            .position(|g| g.contains(&node))
            .unwrap_or(self.groups.len())
    }

    /// True if a message from `from` to `to` sent at tick `now` is cut.
    pub fn cuts(&self, now: u64, from: Node, to: Node) -> bool {
        now < self.until && self.group_of(from) != self.group_of(to)
    }
}

/// A message on its way from one replica to another of the same entity.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// The entity (runtime index).
    pub entity: usize,
    /// The sending replica (index in its own entity, which for an account part is not
    /// `entity`).
    pub from: usize,
    /// The sending replica's validator address (what a node's session authenticates).
    #[serde(default = "unknown_sender")]
    pub sender: crate::crypto::Address,
    /// The receiving replica.
    pub to: usize,
    /// The message.
    pub message: EntityMessage,
}

fn unknown_sender() -> crate::crypto::Address {
    crate::crypto::Address([0; 20])
}

/// What happened to one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendFate {
    /// Dropped by the network.
    Lost,
    /// Queued once.
    Queued,
    /// Queued twice.
    Duplicated,
}

/// The in-flight queue, ordered by (delivery tick, random tie-break, sequence number).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Network {
    model: NetworkModel,
    rng: SplitMix64,
    queue: BTreeMap<(u64, u64, u64), Envelope>,
    next_seq: u64,
    /// The partition in force or last in force (absent from documents written without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partition: Option<Partition>,
}

impl Network {
    /// A network following `model`, its randomness seeded with `seed`.
    pub fn new(model: NetworkModel, seed: u64) -> Self {
        Network {
            model,
            rng: SplitMix64::new(seed),
            queue: BTreeMap::new(),
            next_seq: 0,
            partition: None,
        }
    }

    /// Splits the network into `partition`'s groups (replacing any partition before).
    pub fn set_partition(&mut self, partition: Partition) {
        self.partition = Some(partition);
    }

    /// Ends any partition now.
    pub fn heal_partition(&mut self) {
        self.partition = None;
    }

    /// The partition in force at tick `now`, if any.
    pub fn partition_at(&self, now: u64) -> Option<&Partition> {
        self.partition.as_ref().filter(|p| now < p.until)
    }

    /// Sends `envelope`, whose sender is replica `envelope.from` of entity `source`, at
    /// tick `now`: cut (reported [`SendFate::Lost`]) if a partition separates the two
    /// replicas, else through the model as [`Network::send`].
    pub fn send_from(&mut self, now: u64, source: usize, envelope: Envelope) -> SendFate {
        let (from, to) = ((source, envelope.from), (envelope.entity, envelope.to));
        if self
            .partition_at(now)
            .is_some_and(|p| p.cuts(now, from, to))
        {
            return SendFate::Lost;
        }
        self.send(now, envelope)
    }

    /// The model in force.
    pub fn model(&self) -> NetworkModel {
        self.model
    }

    /// Replaces the model and reseeds the randomness; messages in flight stay in flight.
    pub fn reconfigure(&mut self, model: NetworkModel, seed: u64) {
        self.model = model;
        self.rng = SplitMix64::new(seed);
    }

    /// Sends `envelope` at tick `now` through the model.
    pub fn send(&mut self, now: u64, envelope: Envelope) -> SendFate {
        if self.rng.chance(self.model.loss) {
            return SendFate::Lost;
        }
        let duplicated = self.rng.chance(self.model.duplicate);
        if duplicated {
            self.enqueue(now, envelope.clone());
        }
        self.enqueue(now, envelope);
        if duplicated {
            SendFate::Duplicated
        } else {
            SendFate::Queued
        }
    }

    fn enqueue(&mut self, now: u64, envelope: Envelope) {
        let delay = 1 + self.rng.below(self.model.max_delay.saturating_add(1));
        let tie = self.rng.next_u64();
        self.next_seq += 1;
        self.queue
            .insert((now.saturating_add(delay), tie, self.next_seq), envelope);
    }

    /// Removes and returns every message due at or before `now`, in delivery order.
    pub fn due(&mut self, now: u64) -> Vec<Envelope> {
        let later = self.queue.split_off(&(now.saturating_add(1), 0, 0));
        let due = std::mem::replace(&mut self.queue, later);
        due.into_values().collect()
    }

    /// Messages in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference output of SplitMix64 seeded with 1234567 (from the published C code).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        let mut a = SplitMix64::new(9);
        assert!((0..1000).all(|_| a.below(7) < 7));
        assert!(!a.chance((0, 1)) && a.chance((1, 1)) && !a.chance((1, 0)));
    }

    #[test]
    fn delays_stay_in_bounds_and_order_is_deterministic() {
        let model = NetworkModel {
            loss: (1, 4),
            duplicate: (1, 4),
            max_delay: 3,
        };
        let run = || {
            let mut n = Network::new(model, 42);
            for i in 0..100 {
                let env = Envelope {
                    entity: 0,
                    from: 0,
                    sender: unknown_sender(),
                    to: i % 3,
                    message: EntityMessage::SyncRequest {
                        from: Default::default(),
                        height: i as u64,
                    },
                };
                n.send(10, env);
            }
            assert!(n.due(10).is_empty());
            let mut all = Vec::new();
            for t in 11..=14 {
                all.extend(n.due(t).into_iter().map(|e| (t, e.message.height())));
            }
            assert_eq!(n.in_flight(), 0);
            all
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.len() > 50 && a.len() < 150);
    }

    fn envelope(entity: usize, from: usize, to: usize) -> Envelope {
        Envelope {
            entity,
            from,
            sender: unknown_sender(),
            to,
            message: EntityMessage::SyncRequest {
                from: Default::default(),
                height: 1,
            },
        }
    }

    #[test]
    fn a_partition_cuts_between_groups_until_it_heals() {
        let mut n = Network::new(NetworkModel::perfect(), 3);
        n.set_partition(Partition {
            groups: vec![vec![(0, 0), (0, 1)], vec![(0, 2)]],
            until: 10,
        });
        // Within a group, and within "the rest" ((0, 3) and (1, 0)), messages pass.
        assert_eq!(n.send_from(5, 0, envelope(0, 0, 1)), SendFate::Queued);
        assert_eq!(n.send_from(5, 0, envelope(0, 3, 3)), SendFate::Queued);
        assert_eq!(n.send_from(5, 0, envelope(1, 3, 0)), SendFate::Queued);
        // Across groups, both ways, and to the rest, they are cut.
        assert_eq!(n.send_from(5, 0, envelope(0, 0, 2)), SendFate::Lost);
        assert_eq!(n.send_from(5, 0, envelope(0, 2, 1)), SendFate::Lost);
        assert_eq!(n.send_from(9, 0, envelope(0, 1, 3)), SendFate::Lost);
        assert_eq!(n.send_from(9, 1, envelope(0, 0, 0)), SendFate::Lost);
        assert!(n.partition_at(9).is_some());
        // From tick `until` on, the network is whole.
        assert!(n.partition_at(10).is_none());
        assert_eq!(n.send_from(10, 0, envelope(0, 0, 2)), SendFate::Queued);
        n.set_partition(Partition {
            groups: vec![vec![(0, 0)]],
            until: 100,
        });
        assert_eq!(n.send_from(11, 0, envelope(0, 1, 0)), SendFate::Lost);
        n.heal_partition();
        assert_eq!(n.send_from(11, 0, envelope(0, 1, 0)), SendFate::Queued);
        assert_eq!(n.in_flight(), 5);
    }

    #[test]
    fn cut_messages_draw_no_randomness() {
        let model = NetworkModel {
            loss: (1, 3),
            duplicate: (1, 3),
            max_delay: 2,
        };
        let (mut whole, mut split) = (Network::new(model, 8), Network::new(model, 8));
        split.set_partition(Partition {
            groups: vec![vec![(0, 9)]],
            until: u64::MAX,
        });
        for i in 0..50 {
            // `split` also gets a message that the partition cuts before each real one.
            assert_eq!(split.send_from(i, 0, envelope(0, 9, 1)), SendFate::Lost);
            assert_eq!(
                whole.send_from(i, 0, envelope(0, 1, 2)),
                split.send_from(i, 0, envelope(0, 1, 2))
            );
        }
        assert_eq!(whole.due(100), split.due(100));
    }
}
