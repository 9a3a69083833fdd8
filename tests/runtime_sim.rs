//! THE simulation test (TigerBeetle-VOPR style): many seeds, each one entity of 4
//! validators (threshold 3) under a lossy, duplicating, reordering network that is also
//! split into groups for a while (partitions drawn from the seed), with up to one
//! byzantine replica, ~20 random txs. Safety is checked by independent oracles
//! (`tests/support/entity_oracle.rs`): every honest replica's committed frames are
//! re-executed from genesis, state hashes recomputed and precommit certificates counted in
//! the test, and the reserves replayed by a ledger written in the test; honest replicas
//! must agree at every height. Progress once the network heals: quiet, frames committed,
//! every tx accounted for and most of them applied. Beyond the bound (2 of 4 equivocating)
//! progress is checked while all are honest and safety after they turn. Every failure
//! prints its seed; rerun one with `XLN_SIM_SEED=<seed> cargo test --test runtime_sim --
//! --nocapture`. `XLN_SIM_SEEDS=<n>` changes how many seeds the sweeps run (default 500).

#[path = "support/entity_oracle.rs"]
mod entity_oracle;

use entity_oracle::{CommitLog, Reexecution};
use num_bigint::BigInt;
use xln::entity::{EntityConfig, EntityState, EntityTx, Holder};
use xln::runtime::{Behaviour, Event, Runtime, SplitMix64, TxOutcome};

const HOLDERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// Ticks of the faulty phase (txs submitted, network lossy, partitions), before healing.
const FAULT_TICKS: u64 = 60;

/// A window in which the replicas are split: (first tick, first tick whole again, groups).
type Window = (u64, u64, Vec<Vec<usize>>);

/// What one seed does: drawn from the seed, printed on failure.
#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    loss: (u64, u64),
    duplicate: (u64, u64),
    max_delay: u64,
    byzantine: Vec<(usize, Behaviour)>,
    /// The tick at which the byzantine replicas turn.
    byzantine_from: u64,
    txs: Vec<(u64, EntityTx)>,
    partitions: Vec<Window>,
}

impl Plan {
    /// A plan for `seed` with `byzantine_count` byzantine replicas (of behaviour `only`, or
    /// random ones) that turn at tick `byzantine_from`.
    fn draw(
        seed: u64,
        byzantine_count: usize,
        only: Option<Behaviour>,
        byzantine_from: u64,
    ) -> Plan {
        let mut rng = SplitMix64::new(seed);
        let loss = (rng.below(16), 100);
        let duplicate = (rng.below(21), 100);
        let max_delay = rng.below(4);
        let mut byzantine = Vec::new();
        let mut replicas: Vec<usize> = (0..4).collect();
        for _ in 0..byzantine_count {
            let behaviour = only.unwrap_or_else(|| {
                let bad = &Behaviour::ALL[1..];
                bad[rng.below(bad.len() as u64) as usize]
            });
            let r = replicas.remove(rng.below(replicas.len() as u64) as usize);
            byzantine.push((r, behaviour));
        }
        let count = 16 + rng.below(9);
        let mut txs: Vec<(u64, EntityTx)> = (0..count)
            .map(|_| (rng.below(40), random_tx(&mut rng)))
            .collect();
        txs.sort_by_key(|(t, _)| *t);
        let partitions = draw_partitions(&mut rng);
        Plan {
            seed,
            loss,
            duplicate,
            max_delay,
            byzantine,
            byzantine_from,
            txs,
            partitions,
        }
    }

    fn describe(&self) -> String {
        format!(
            "seed {} (loss {}/{}, dup {}/{}, max_delay {}, byzantine {:?} from tick {}, {} txs, \
             partitions {:?}); rerun with XLN_SIM_SEED={} cargo test --test runtime_sim -- \
             --nocapture",
            self.seed,
            self.loss.0,
            self.loss.1,
            self.duplicate.0,
            self.duplicate.1,
            self.max_delay,
            self.byzantine,
            self.byzantine_from,
            self.txs.len(),
            self.partitions,
            self.seed
        )
    }
}

/// Three seeds in four get one or two partition windows inside the faulty phase: each
/// replica lands in one of two groups (one of three, one time in four), never all in one.
fn draw_partitions(rng: &mut SplitMix64) -> Vec<Window> {
    if rng.below(4) == 0 {
        return Vec::new();
    }
    let mut windows = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let start = rng.below(FAULT_TICKS - 5);
        let until = (start + 3 + rng.below(50)).min(FAULT_TICKS);
        let count = if rng.below(4) == 0 { 3 } else { 2 };
        let mut groups = vec![Vec::new(); count as usize];
        for replica in 0..4 {
            groups[rng.below(count) as usize].push(replica);
        }
        if groups.iter().filter(|g| !g.is_empty()).count() < 2 {
            // All landed together: split off the first replica.
            groups = vec![vec![0], vec![1, 2, 3]];
        }
        groups.retain(|g| !g.is_empty());
        windows.push((start, until, groups));
    }
    windows.sort_by_key(|w| w.0);
    windows
}

fn random_tx(rng: &mut SplitMix64) -> EntityTx {
    let holder = |rng: &mut SplitMix64| HOLDERS[rng.below(4) as usize];
    if rng.below(6) == 0 {
        return EntityTx::Message {
            text: format!("note {}", rng.below(1000)),
        };
    }
    let from = holder(rng);
    let mut to = holder(rng);
    if to == from {
        to = HOLDERS[(HOLDERS.iter().position(|h| *h == from).unwrap_or(0) + 1) % 4];
    }
    EntityTx::Payment {
        from: from.into(),
        to: to.into(),
        token: 1,
        amount: BigInt::from(1 + rng.below(60)),
    }
}

fn genesis_reserves() -> Vec<(Holder, u64, BigInt)> {
    HOLDERS
        .iter()
        .map(|h| (Holder::from(*h), 1, BigInt::from(100)))
        .collect()
}

/// A runtime and the log of every frame its replicas committed, harvested every tick.
struct Sim {
    rt: Runtime,
    log: CommitLog,
    /// The first harvest that failed (a notice evicted before it was read).
    harvest_error: Option<String>,
}

impl Sim {
    fn new(rt: Runtime) -> Sim {
        Sim {
            rt,
            log: CommitLog::default(),
            harvest_error: None,
        }
    }

    fn tick(&mut self) {
        self.rt.run_ticks(1);
        for e in 0..self.rt.entity_count() {
            for r in 0..self.rt.replica_count(e) {
                if let Ok(replica) = self.rt.replica(e, r) {
                    if let Err(err) = self.log.harvest((e, r), replica) {
                        self.harvest_error.get_or_insert(err);
                    }
                }
            }
        }
    }

    fn ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// As [`Runtime::run_until_quiet`], harvesting every tick.
    fn until_quiet(&mut self, max_ticks: u64) -> bool {
        for _ in 0..max_ticks {
            if self.rt.is_quiet() {
                return true;
            }
            self.tick();
        }
        self.rt.is_quiet()
    }
}

/// One faulty phase of ticks `first..first + FAULT_TICKS` (plan ticks are relative to
/// `first`): byzantine replicas turn, txs are submitted, partitions start; the loss model is
/// the plan's throughout.
fn fault_phase(sim: &mut Sim, plan: &Plan, first: u64, txs: bool) {
    let entity = 0;
    sim.rt.set_network(
        plan.loss,
        plan.duplicate,
        plan.max_delay,
        plan.seed ^ 0xA5A5 ^ first,
    );
    let mut pending = plan.txs.iter().filter(|_| txs).peekable();
    for tick in 0..FAULT_TICKS {
        if tick == plan.byzantine_from {
            for (replica, behaviour) in &plan.byzantine {
                sim.rt
                    .set_behaviour(entity, *replica, *behaviour)
                    .expect("behaviour");
            }
        }
        for (start, until, groups) in &plan.partitions {
            if *start == tick {
                sim.rt.partition_entity(entity, groups, first + until);
            }
        }
        while let Some((_, tx)) = pending.next_if(|(t, _)| *t <= tick) {
            sim.rt.submit(entity, tx.clone()).expect("submit");
        }
        sim.tick();
    }
}

fn new_runtime(seed: u64) -> Runtime {
    let mut rt = Runtime::new(seed);
    rt.set_entity_config(EntityConfig {
        batch_delay: 8,
        ..EntityConfig::default()
    });
    rt.add_entity(4, 3, genesis_reserves()).expect("entity");
    rt
}

/// Runs a plan: faulty phase, then healed; then runs until quiet (at most
/// `settle_ticks`), or exactly `settle_ticks` if `until_quiet` is false.
fn run(plan: &Plan, until_quiet: bool, settle_ticks: u64) -> Sim {
    let mut sim = Sim::new(new_runtime(plan.seed));
    fault_phase(&mut sim, plan, 0, true);
    sim.rt.heal_network();
    if until_quiet {
        sim.until_quiet(settle_ticks);
    } else {
        sim.ticks(settle_ticks);
    }
    sim
}

/// Safety, by the independent oracles: each honest replica's committed frames re-execute
/// from genesis to its state (recomputed hashes, counted certificates), the test's own
/// ledger judges every committed tx as the crate did and ends with the reserves the
/// replicas hold, and honest replicas agree at every height. Returns the heights committed.
fn check_safety(sim: &Sim, plan: &Plan) -> Result<u64, String> {
    let ctx = |e: String| format!("{e}: {}", plan.describe());
    if let Some(e) = &sim.harvest_error {
        return Err(ctx(e.clone()));
    }
    let rt = &sim.rt;
    let board = rt.genesis_board(0).map_err(|e| e.to_string())?.clone();
    let genesis = EntityState::genesis(board, genesis_reserves())
        .map_err(|e| e.to_string())?
        .with_onion(rt.onion_secret(0));
    let honest = rt.honest(0);
    let mut runs: Vec<(usize, &xln::entity::EntityReplica, Reexecution)> = Vec::new();
    for &i in &honest {
        let replica = rt.replica(0, i).map_err(|e| e.to_string())?;
        let x = entity_oracle::reexecute(&genesis, replica, sim.log.frames((0, i)))
            .map_err(|e| ctx(format!("honest replica {i}: {e}")))?;
        runs.push((i, replica, x));
    }
    let refs: Vec<(usize, &xln::entity::EntityReplica, &Reexecution)> =
        runs.iter().map(|(i, r, x)| (*i, *r, x)).collect();
    entity_oracle::check_agreement(&refs).map_err(ctx)?;
    for (i, replica, x) in &runs {
        let reserves = entity_oracle::ledger(&genesis_reserves(), &x.txs)
            .map_err(|e| ctx(format!("honest replica {i}: {e}")))?;
        for ((holder, token), amount) in &reserves {
            if replica.state().reserve(holder, *token) != *amount {
                return Err(ctx(format!(
                    "honest replica {i}: {holder} holds {} where the ledger says {amount}",
                    replica.state().reserve(holder, *token)
                )));
            }
        }
    }
    Ok(runs.iter().map(|(_, r, _)| r.height()).max().unwrap_or(0))
}

/// What happened to the txs of one seed (of those submitted to replicas that stayed
/// honest).
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    submitted: usize,
    applied: usize,
    rejected: usize,
    dropped: usize,
    heights: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.submitted += o.submitted;
        self.applied += o.applied;
        self.rejected += o.rejected;
        self.dropped += o.dropped;
        self.heights += o.heights;
    }
}

/// Progress once healed: quiet; every tx submitted to a replica that stayed honest
/// committed (applied, or rejected as the ledger of [`check_safety`] agrees), none dropped
/// and none lost, so frames were committed; all honest replicas hold one state and the
/// reserves are conserved. (The sweep also requires most txs to be applied.)
fn check_progress(sim: &Sim, plan: &Plan) -> Result<Tally, String> {
    let rt = &sim.rt;
    if !rt.is_quiet() {
        let heights: Vec<u64> = (0..4)
            .map(|i| rt.replica(0, i).map_or(0, |r| r.height()))
            .collect();
        return Err(format!(
            "not quiet after healing (heights {heights:?}, tick {}): {}",
            rt.now(),
            plan.describe()
        ));
    }
    // A tx handed to a replica that later turned byzantine may die with it (a crashed
    // submitter); every other tx must be accounted for.
    let turned: Vec<usize> = plan.byzantine.iter().map(|(r, _)| *r).collect();
    let mut tally = Tally::default();
    for sub in rt
        .submitted()
        .iter()
        .filter(|s| !turned.contains(&s.replica))
    {
        tally.submitted += 1;
        match rt.outcome(&sub.tx_hash) {
            Some(TxOutcome::Applied { .. }) => tally.applied += 1,
            Some(TxOutcome::Rejected { .. }) => tally.rejected += 1,
            Some(TxOutcome::Dropped { .. }) => tally.dropped += 1,
            None => {
                return Err(format!(
                    "tx 0x{} (submitted to replica {} at tick {}) neither committed nor \
                     reported rejected: {}",
                    alloy_hex(&sub.tx_hash),
                    sub.replica,
                    sub.tick,
                    plan.describe()
                ))
            }
        }
    }
    let honest = rt.honest(0);
    let first = rt.replica(0, honest[0]).map_err(|e| e.to_string())?;
    tally.heights = first.height();
    if tally.dropped > 0 || (tally.submitted > 0 && tally.heights == 0) {
        return Err(format!(
            "healed, yet {} txs of honest submitters were dropped and {} frames committed: {}",
            tally.dropped,
            tally.heights,
            plan.describe()
        ));
    }
    for &i in &honest {
        let r = rt.replica(0, i).map_err(|e| e.to_string())?;
        if r.state().hash() != first.state().hash() {
            return Err(format!(
                "honest replica {i} has a different state: {}",
                plan.describe()
            ));
        }
    }
    let total: BigInt = HOLDERS
        .iter()
        .map(|h| first.state().reserve(&Holder::from(*h), 1))
        .sum();
    if total != BigInt::from(400) {
        return Err(format!(
            "reserves sum to {total}, not 400: {}",
            plan.describe()
        ));
    }
    Ok(tally)
}

fn alloy_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed_override() -> Option<u64> {
    std::env::var("XLN_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
}

fn seed_count() -> u64 {
    std::env::var("XLN_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

/// Runs the in-bound sweep over `seeds`, collecting every failure.
fn sweep(seeds: impl Iterator<Item = u64>) {
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut count = 0;
    let mut tally = Tally::default();
    let mut partitioned = 0;
    for seed in seeds {
        count += 1;
        // Three seeds in four have a byzantine replica; half of those turn mid-run.
        let from = if seed % 8 < 4 { 0 } else { seed % 40 };
        let plan = Plan::draw(seed, (seed % 4 != 0) as usize, None, from);
        partitioned += usize::from(!plan.partitions.is_empty());
        let sim = run(&plan, true, 3_000);
        match check_safety(&sim, &plan).and_then(|_| check_progress(&sim, &plan)) {
            Ok(t) => tally += t,
            Err(e) => {
                eprintln!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    eprintln!(
        "{count} seeds ({partitioned} partitioned) in {:.1?}: {tally:?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} seed(s) failed; first: {}",
        failures.len(),
        failures[0]
    );
    // Payments are rejected only for want of reserve (each holder starts with 100, a
    // payment moves at most 60): most must go through.
    assert!(
        tally.applied * 4 >= tally.submitted * 3,
        "only {} of {} txs applied over the sweep",
        tally.applied,
        tally.submitted
    );
}

/// Seeds of one half of the sweep (the two halves run in parallel on two cores), or just
/// `XLN_SIM_SEED` in the half it belongs to.
fn half(part: u64) -> Vec<u64> {
    match seed_override() {
        Some(seed) if seed % 2 == part => vec![seed],
        Some(_) => Vec::new(),
        None => (0..seed_count()).filter(|s| s % 2 == part).collect(),
    }
}

#[test]
fn simulation_within_the_bound_even_seeds() {
    sweep(half(0).into_iter());
}

#[test]
fn simulation_within_the_bound_odd_seeds() {
    sweep(half(1).into_iter());
}

/// Beyond the bound (2 of 4 validators equivocating, threshold 3) the protocol promises
/// nothing, so the test asks what it does promise before that, and what this behaviour
/// keeps after: while all four are honest, under the seed's faults and partitions and
/// then healed, every tx commits (progress); then two replicas equivocate under faults and
/// partitions again, with more txs, and the two honest replicas must still never commit
/// conflicting frames (checked by the oracles: re-execution, certificates, agreement).
#[test]
fn beyond_the_bound_two_equivocators_never_split_honest_replicas() {
    let seeds: Vec<u64> = match seed_override() {
        Some(seed) => vec![seed],
        None => (0..seed_count() / 16).map(|s| 1_000_000 + s).collect(),
    };
    let (mut before, mut after) = (0, 0);
    for seed in seeds {
        let plan = Plan::draw(seed, 2, Some(Behaviour::Equivocate), seed % 20);
        let honest_phase = Plan {
            byzantine: Vec::new(),
            ..plan.clone()
        };
        let mut sim = Sim::new(new_runtime(seed));
        fault_phase(&mut sim, &honest_phase, 0, true);
        sim.rt.heal_network();
        sim.until_quiet(3_000);
        let tally = check_safety(&sim, &honest_phase)
            .and_then(|_| check_progress(&sim, &honest_phase))
            .unwrap_or_else(|e| panic!("while all were honest: {e}"));
        assert!(
            tally.heights > 0 && tally.applied > 0,
            "nothing committed while all were honest: {}",
            plan.describe()
        );
        before += tally.heights;
        let first = sim.rt.now();
        fault_phase(&mut sim, &plan, first, true);
        sim.rt.heal_network();
        sim.ticks(100);
        let height = check_safety(&sim, &plan).unwrap_or_else(|e| panic!("{e}"));
        after += height - tally.heights;
    }
    eprintln!(
        "beyond the bound: {before} frames committed while honest, {after} more by the honest \
         replicas after two turned, never conflicting"
    );
    // Equivocators are caught and stop counting within a frame or two, so few frames
    // commit after they turn; but some must, or the safety check above compared nothing.
    assert!(
        seed_override().is_some() || after > 0,
        "no frame committed after the equivocators turned: the check compared nothing"
    );
}

/// A partition with no side holding the threshold (2 | 2 of 4, threshold 3) stops commits
/// without splitting anyone; one with a 3-replica side lets that side go on while the lone
/// replica waits. After healing, every replica catches up to the same state and every tx
/// commits. Checked through the oracles, on a perfect network otherwise.
#[test]
fn partitions_stall_the_minority_and_heal() {
    for (groups, quorum_side) in [
        (vec![vec![0, 1], vec![2, 3]], None),
        (vec![vec![3], vec![0, 1, 2]], Some(vec![0, 1, 2])),
    ] {
        let plan = Plan {
            seed: 99,
            loss: (0, 1),
            duplicate: (0, 1),
            max_delay: 0,
            byzantine: Vec::new(),
            byzantine_from: 0,
            txs: Vec::new(),
            partitions: vec![(0, 200, groups.clone())],
        };
        let mut sim = Sim::new(new_runtime(99));
        sim.rt.partition_entity(0, &groups, 200);
        let mut hashes = Vec::new();
        for (i, amount) in [5, 6, 7, 8, 9, 10].into_iter().enumerate() {
            let tx = EntityTx::Payment {
                from: HOLDERS[i % 4].into(),
                to: HOLDERS[(i + 1) % 4].into(),
                token: 1,
                amount: BigInt::from(amount),
            };
            hashes.push(sim.rt.submit(0, tx).expect("submit"));
        }
        sim.ticks(199);
        assert!(sim.rt.partition_in_force().is_some());
        let heights: Vec<u64> = (0..4)
            .map(|i| sim.rt.replica(0, i).unwrap().height())
            .collect();
        check_safety(&sim, &plan).unwrap_or_else(|e| panic!("{e}"));
        match &quorum_side {
            None => assert_eq!(heights, vec![0; 4], "{groups:?}: no side has 3 shares"),
            Some(side) => {
                for i in 0..4 {
                    assert_eq!(heights[i] > 0, side.contains(&i), "{groups:?}: {heights:?}");
                }
            }
        }
        sim.ticks(1);
        assert!(sim.rt.partition_in_force().is_none());
        assert!(
            sim.until_quiet(2_000),
            "{groups:?}: not quiet after healing"
        );
        check_safety(&sim, &plan).unwrap_or_else(|e| panic!("{e}"));
        let tally = check_progress(&sim, &plan).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tally.applied, 6, "{groups:?}: {tally:?}");
        let state = sim.rt.replica(0, 0).unwrap().state().hash();
        assert!((1..4).all(|i| sim.rt.replica(0, i).unwrap().state().hash() == state));
        for h in &hashes {
            assert!(matches!(sim.rt.outcome(h), Some(TxOutcome::Applied { .. })));
        }
    }
}

#[test]
fn same_seed_gives_identical_state_hashes_and_timeline() {
    let seed = seed_override().unwrap_or(7);
    let plan = Plan::draw(seed, 1, Some(Behaviour::Equivocate), 0);
    let (a, b) = (run(&plan, true, 3_000).rt, run(&plan, true, 3_000).rt);
    let hashes = |rt: &Runtime| -> Vec<Vec<[u8; 32]>> {
        (0..4)
            .map(|i| {
                rt.replica(0, i)
                    .map(|r| r.committed_state_hashes().to_vec())
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(hashes(&a), hashes(&b), "{}", plan.describe());
    let (ja, jb) = (a.to_json_lines(), b.to_json_lines());
    assert_eq!(ja, jb, "timelines differ: {}", plan.describe());
    assert!(ja.lines().count() > 100);
    assert!(ja.contains("\"event\":\"committed\""));
    for line in ja.lines().take(500) {
        let parsed: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
        assert!(parsed.get("tick").is_some());
    }
    let other = run(
        &Plan::draw(seed + 1, 1, Some(Behaviour::Equivocate), 0),
        true,
        3_000,
    )
    .rt;
    assert_ne!(ja, other.to_json_lines(), "another seed, another timeline");
}

/// Diagnostics, not a check: per-seed message counts and time
/// (`cargo test --test runtime_sim seed_statistics -- --ignored --nocapture`).
#[test]
#[ignore]
fn seed_statistics() {
    for seed in 0..8 {
        let plan = Plan::draw(seed, (seed % 4 != 0) as usize, None, 0);
        let started = std::time::Instant::now();
        let rt = run(&plan, true, 3_000).rt;
        let delivered = |k: &str| {
            rt.timeline()
                .iter()
                .filter(|e| matches!(e, Event::Delivered { kind, .. } if *kind == k))
                .count()
        };
        let height = rt.replica(0, rt.honest(0)[0]).map_or(0, |r| r.height());
        eprintln!(
            "seed {seed} {:?}: height {height} at tick {}, {} events; delivered: {} proposals, \
             {} prevotes, {} precommits, {} view changes, {} commits, {} txs; {:.1?}",
            plan.byzantine,
            rt.now(),
            rt.timeline().len(),
            delivered("proposal"),
            delivered("prevote"),
            delivered("precommit"),
            delivered("view-change"),
            delivered("commit"),
            delivered("tx"),
            started.elapsed()
        );
    }
}

/// Accounts between two boards (hub: 4 validators, threshold 3, one of them byzantine in
/// half the seeds; shop: 3 of threshold 2) under the same lossy network, partitioned for a
/// while in two seeds of three: random payments both ways. After healing, both sides hold the same account state with nothing in flight,
/// every payment is accounted for, and Δ equals what the applied payments moved (a payment
/// applied as an entity tx but refused when its queued frame was finally proposed is in
/// the entity's log with its amount).
#[test]
fn accounts_between_boards_converge_under_faults() {
    use xln::account::AccountTx;
    use xln::entity::{entity_address, LogEntry};
    let seeds: Vec<u64> = match seed_override() {
        Some(seed) => vec![seed],
        None => (0..(seed_count() / 8).max(1))
            .map(|s| 2_000_000 + s)
            .collect(),
    };
    let count = seeds.len();
    let mut settled = 0usize;
    for seed in seeds {
        let mut rng = SplitMix64::new(seed);
        let mut sim = Sim::new(Runtime::new(seed));
        let (hub, shop) = (
            sim.rt.add_entity(4, 3, Vec::new()).expect("hub"),
            sim.rt.add_entity(3, 2, Vec::new()).expect("shop"),
        );
        if seed % 2 == 1 {
            let bad = &Behaviour::ALL[1..];
            let behaviour = bad[rng.below(bad.len() as u64) as usize];
            sim.rt
                .set_behaviour(hub, rng.below(4) as usize, behaviour)
                .expect("behaviour");
        }
        sim.rt.set_network(
            (rng.below(16), 100),
            (rng.below(21), 100),
            rng.below(4),
            seed,
        );
        let ids = [
            sim.rt.entity_id(hub).unwrap(),
            sim.rt.entity_id(shop).unwrap(),
        ];
        let boards = [
            sim.rt.genesis_board(hub).unwrap().clone(),
            sim.rt.genesis_board(shop).unwrap().clone(),
        ];
        let ctx = format!("seed {seed}; rerun with XLN_SIM_SEED={seed}");
        for (me, peer) in [(hub, 1), (shop, 0)] {
            sim.rt
                .submit(
                    me,
                    EntityTx::OpenAccount {
                        peer: ids[peer],
                        peer_board: boards[peer].clone(),
                    },
                )
                .expect("open");
        }
        assert!(sim.until_quiet(20_000), "accounts not open: {ctx}");
        for (me, peer) in [(hub, 1), (shop, 0)] {
            let amount = BigInt::from(100 + rng.below(200));
            sim.rt
                .submit(
                    me,
                    EntityTx::Account {
                        peer: ids[peer],
                        tx: AccountTx::SetCreditLimit { token: 1, amount },
                    },
                )
                .expect("credit");
        }
        // (payer, amount, tx hash)
        let mut payments = Vec::new();
        for tick in 0..40 {
            if rng.below(3) == 0 {
                let payer = rng.below(2) as usize;
                let amount = BigInt::from(1 + rng.below(80));
                let tx = EntityTx::Account {
                    peer: ids[1 - payer],
                    tx: AccountTx::Pay {
                        token: 1,
                        amount: amount.clone(),
                    },
                };
                let hash = sim.rt.submit([hub, shop][payer], tx).expect("pay");
                payments.push((payer, amount, hash));
            }
            // Cut the hub off from the shop (a third of the seeds) or split the hub's own
            // board 2 | 2 (another third) for ticks 10..30 of the payments.
            if tick == 10 && seed % 3 == 0 {
                let hub_side = (0..4).map(|r| (hub, r)).collect();
                sim.rt.partition(vec![hub_side], sim.rt.now() + 20);
            } else if tick == 10 && seed % 3 == 1 {
                sim.rt
                    .partition_entity(hub, &[vec![0, 1], vec![2, 3]], sim.rt.now() + 20);
            }
            sim.tick();
        }
        sim.rt.heal_network();
        if !sim.until_quiet(20_000) {
            for e in [hub, shop] {
                for i in 0..sim.rt.replica_count(e) {
                    let r = sim.rt.replica(e, i).unwrap();
                    let acct: Vec<String> = r
                        .state()
                        .accounts
                        .values()
                        .map(|a| {
                            format!(
                                "h{} sent {} recv {} pending {} queued {}",
                                a.machine.state.height,
                                a.machine.sent,
                                a.machine.received,
                                a.machine.pending.is_some(),
                                a.machine.mempool.len()
                            )
                        })
                        .collect();
                    eprintln!(
                        "entity {e} replica {i} {:?}: height {} idle {} mempool {} {acct:?}",
                        sim.rt.behaviour(e, i).unwrap(),
                        r.height(),
                        r.is_idle(),
                        r.mempool_len()
                    );
                }
            }
            panic!("not quiet: {ctx}");
        }
        let side = |e: usize, peer: usize| {
            let r = sim.rt.replica(e, sim.rt.honest(e)[0]).expect("replica");
            r.state().accounts[&ids[peer]].clone()
        };
        let (a, b) = (side(hub, 1), side(shop, 0));
        assert_eq!(
            a.machine.state.state_hash(),
            b.machine.state.state_hash(),
            "the two sides differ: {ctx}"
        );
        assert!(
            a.machine.pending.is_none() && b.machine.pending.is_none(),
            "{ctx}"
        );
        assert!(
            a.machine.mempool.is_empty() && b.machine.mempool.is_empty(),
            "{ctx}"
        );
        // Δ is the left's balance: the left's payments lower it, the right's raise it.
        let hub_is_left = entity_address(&ids[0]) < entity_address(&ids[1]);
        let sign = |payer: usize| if (payer == 0) == hub_is_left { -1 } else { 1 };
        let mut expected = BigInt::from(0);
        for (payer, amount, hash) in &payments {
            match sim.rt.outcome(hash) {
                Some(xln::runtime::TxOutcome::Applied { .. }) => {
                    expected += amount * sign(*payer);
                    settled += 1;
                }
                Some(_) => {}
                None => panic!("payment never accounted for: {ctx}"),
            }
        }
        for (payer, e) in [(0, hub), (1, shop)] {
            let r = sim.rt.replica(e, sim.rt.honest(e)[0]).expect("replica");
            for entry in &r.state().log {
                if let LogEntry::AccountTxRejected {
                    tx: AccountTx::Pay { amount, .. },
                    ..
                } = entry
                {
                    expected -= amount * sign(payer);
                    settled -= 1;
                }
            }
        }
        let d = a.machine.state.delta(1);
        assert_eq!(
            d.ondelta + d.offdelta,
            expected,
            "Δ is not what the payments moved: {ctx}"
        );
        // The oracles: each honest replica's frames re-execute from genesis to its state,
        // with counted certificates, and honest replicas agree at every height.
        for e in [hub, shop] {
            if let Some(err) = &sim.harvest_error {
                panic!("{err}: {ctx}");
            }
            let genesis = EntityState::genesis(boards[e].clone(), Vec::new())
                .unwrap()
                .with_onion(sim.rt.onion_secret(e));
            let honest = sim.rt.honest(e);
            let runs: Vec<_> = honest
                .iter()
                .map(|&i| {
                    let replica = sim.rt.replica(e, i).unwrap();
                    let x = entity_oracle::reexecute(&genesis, replica, sim.log.frames((e, i)))
                        .unwrap_or_else(|err| panic!("entity {e} replica {i}: {err}: {ctx}"));
                    (i, replica, x)
                })
                .collect();
            let refs: Vec<_> = runs.iter().map(|(i, r, x)| (*i, *r, x)).collect();
            entity_oracle::check_agreement(&refs)
                .unwrap_or_else(|err| panic!("entity {e}: {err}: {ctx}"));
            let first = sim.rt.replica(e, honest[0]).unwrap().state().hash();
            for i in honest {
                assert_eq!(sim.rt.replica(e, i).unwrap().state().hash(), first, "{ctx}");
            }
        }
    }
    eprintln!("{count} account seeds: {settled} payments settled across boards");
}
