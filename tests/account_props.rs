//! Property tests of the bilateral account: random tx sequences (payments both ways, credit
//! limits up and down, chain deltas, HTLC and transfer-all subcontracts run by a small
//! engine written in this file) driven through two machines with a message queue,
//! including simultaneous proposals. Every committed frame is replayed tx by tx and checked
//! against an independent model: the RCPAN rule, conservation of value, allowances equal
//! to open holds, and equal state hashes on both sides. Tamper tests check that a forged,
//! replayed or out-of-order message is rejected and leaves the receiver byte-identical.
//!
//! Failures print proptest's minimal case; rerun with `PROPTEST_CASES` / the regression
//! file to reproduce it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use xln::account::{
    AccountError, AccountFrame, AccountMachine, AccountMessage, AccountMessageBody, AccountState,
    AccountTx, BigInt, Data, Delta, Reaction, Side, SubcontractCall, SubcontractEffect,
    SubcontractEngine, TokenId,
};
use xln::crypto::{keccak256, SecretKey};

// ---------------------------------------------------------------------------------------
// The test subcontract engine ("htlc", "transfer-all")
// ---------------------------------------------------------------------------------------

/// `htlc`: params `{hash, timeout}`; `reveal(preimage)` by the payee strictly before the
/// timeout pays every hold to the payee and closes; `timeout()` at or after it closes
/// (refund). `transfer-all`: `all()` pays every hold and closes; `take([t, a])` moves from
/// the owner's holds; `tip([t, a])` from the caller; `steal([t, a])` from the non-caller.
struct TestEngine;

fn int_pair(args: &Data) -> Result<(TokenId, BigInt), String> {
    match args {
        Data::List(items) => match items.as_slice() {
            [Data::Int(t), Data::Int(a)] => {
                Ok((u64::try_from(t).map_err(|_| "bad token")?, a.clone()))
            }
            _ => Err("expected [token, amount]".into()),
        },
        _ => Err("expected a list".into()),
    }
}

fn htlc_params(params: &Data) -> Result<([u8; 32], u64), String> {
    let Data::Map(m) = params else {
        return Err("htlc params must be a map".into());
    };
    let (Some(Data::Bytes(h)), Some(Data::Int(t))) = (m.get("hash"), m.get("timeout")) else {
        return Err("htlc needs hash and timeout".into());
    };
    let hash: [u8; 32] = h
        .as_slice()
        .try_into()
        .map_err(|_| "hash is not 32 bytes")?;
    Ok((hash, u64::try_from(t).map_err(|_| "bad timeout")?))
}

/// Both test codes installed, as if by a committed `InstallCode` frame (the code bytes
/// are the kind names the test engine dispatches on).
fn with_test_codes(mut m: AccountMachine) -> AccountMachine {
    for code in [&b"htlc"[..], &b"transfer-all"[..]] {
        m.state.codes.insert(keccak256(code), code.to_vec());
    }
    m
}

impl SubcontractEngine for TestEngine {
    fn check_code(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn call(&mut self, c: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
        let all: Vec<(TokenId, Side, BigInt)> = c
            .holds
            .iter()
            .map(|(t, a)| (*t, c.owner, a.clone()))
            .collect();
        let effect = |transfers, close| SubcontractEffect {
            transfers,
            params: c.params.clone(),
            close,
        };
        match (std::str::from_utf8(c.code).unwrap_or("?"), c.method) {
            ("htlc", "reveal") => {
                let (hash, timeout) = htlc_params(c.params)?;
                if c.caller == c.owner || c.timestamp >= timeout {
                    return Err("not the payee, or too late".into());
                }
                match c.args {
                    Data::Bytes(p) if keccak256(p) == hash => Ok(effect(all, true)),
                    _ => Err("wrong preimage".into()),
                }
            }
            ("htlc", "timeout") => {
                let (_, timeout) = htlc_params(c.params)?;
                if c.timestamp < timeout {
                    return Err("not timed out".into());
                }
                Ok(effect(vec![], true))
            }
            ("transfer-all", "all") => Ok(effect(all, true)),
            ("transfer-all", "take") => {
                let (t, a) = int_pair(c.args)?;
                Ok(effect(vec![(t, c.owner, a)], false))
            }
            ("transfer-all", "tip") => {
                let (t, a) = int_pair(c.args)?;
                Ok(effect(vec![(t, c.caller, a)], false))
            }
            ("transfer-all", "steal") => {
                let (t, a) = int_pair(c.args)?;
                Ok(effect(vec![(t, c.caller.other(), a)], false))
            }
            (kind, method) => Err(format!("unknown {kind}.{method}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Independent model checks
// ---------------------------------------------------------------------------------------

fn zero() -> BigInt {
    BigInt::from(0)
}

fn max0(x: BigInt) -> BigInt {
    x.max(zero())
}

/// How far Δ − left's holds lies below −left_limit, and Δ + right's holds above
/// collateral + right_limit, measured against `bounds`' limits and collateral.
fn excess(values: &Delta, bounds: &Delta) -> (BigInt, BigInt) {
    let d = &values.ondelta + &values.offdelta;
    let lower = max0(-&bounds.left_credit_limit - (&d - &values.left_allowance));
    let upper =
        max0(&d + &values.right_allowance - (&bounds.collateral + &bounds.right_credit_limit));
    (lower, upper)
}

/// RCPAN: no step moves Δ (with held amounts) further outside the (new) bounds.
fn check_rcpan_step(before: &AccountState, after: &AccountState) -> Result<(), String> {
    let tokens: BTreeSet<TokenId> = before
        .deltas
        .keys()
        .chain(after.deltas.keys())
        .copied()
        .collect();
    for t in tokens {
        let (b, a) = (before.delta(t), after.delta(t));
        let (lb, ub) = excess(&b, &a);
        let (la, ua) = excess(&a, &a);
        if la > lb || ua > ub {
            return Err(format!("RCPAN broken on token {t}: {b:?} -> {a:?}"));
        }
        if a.collateral < zero() {
            return Err(format!("negative collateral on token {t}"));
        }
    }
    Ok(())
}

/// Allowances equal the sum of open holds, per token and side; holds are positive.
fn check_allowances(s: &AccountState) -> Result<(), String> {
    let mut held: BTreeMap<(TokenId, Side), BigInt> = BTreeMap::new();
    for sc in s.subcontracts.values() {
        for (t, a) in &sc.holds {
            if *a <= zero() {
                return Err(format!("non-positive hold in subcontract {}", sc.id));
            }
            *held.entry((*t, sc.owner)).or_insert_with(zero) += a;
        }
    }
    for (t, d) in &s.deltas {
        for (side, allowance) in [
            (Side::Left, &d.left_allowance),
            (Side::Right, &d.right_allowance),
        ] {
            let h = held.remove(&(*t, side)).unwrap_or_else(zero);
            if *allowance != h {
                return Err(format!(
                    "{side} allowance {allowance} != holds {h} on token {t}"
                ));
            }
        }
    }
    if let Some(((t, side), _)) = held.into_iter().next() {
        return Err(format!("{side} holds token {t} without an allowance entry"));
    }
    Ok(())
}

/// The model's change of (Δ, collateral) per token for one tx by `by` on `state`.
fn model_change(
    state: &AccountState,
    tx: &AccountTx,
    by: Side,
    at: (u64, u64),
) -> BTreeMap<TokenId, (BigInt, BigInt)> {
    let signed = |side: Side, a: &BigInt| if side == Side::Left { -a } else { a.clone() };
    let mut out: BTreeMap<TokenId, (BigInt, BigInt)> = BTreeMap::new();
    match tx {
        AccountTx::InstallCode { .. } => {}
        AccountTx::Pay { token, amount } => {
            out.insert(*token, (signed(by, amount), zero()));
        }
        AccountTx::ChainDelta {
            token,
            collateral_change,
            ondelta_change,
        } => {
            out.insert(*token, (ondelta_change.clone(), collateral_change.clone()));
        }
        AccountTx::CallSubcontract { id, method, args } => {
            let sc = &state.subcontracts[id];
            let call = SubcontractCall {
                code_hash: &sc.code,
                code: &state.codes[&sc.code],
                method,
                params: &sc.params,
                args,
                caller: by,
                owner: sc.owner,
                holds: &sc.holds,
                height: at.0,
                timestamp: at.1,
            };
            let effect = TestEngine
                .call(&call)
                .expect("committed call succeeds in the model");
            for (t, from, a) in effect.transfers {
                out.entry(t).or_insert_with(|| (zero(), zero())).0 += signed(from, &a);
            }
        }
        AccountTx::SetCreditLimit { .. } | AccountTx::OpenSubcontract { .. } => {}
    }
    out
}

/// Checks one successful step `before → after` of `tx` by `by`: RCPAN, allowances, and
/// that Δ and collateral changed exactly as the model says; returns that change.
fn check_step(
    before: &AccountState,
    after: &AccountState,
    tx: &AccountTx,
    by: Side,
    at: (u64, u64),
) -> Result<BTreeMap<TokenId, (BigInt, BigInt)>, String> {
    let expected = model_change(before, tx, by, at);
    check_rcpan_step(before, after)?;
    check_allowances(after)?;
    let tokens: BTreeSet<TokenId> = before
        .deltas
        .keys()
        .chain(after.deltas.keys())
        .copied()
        .collect();
    for t in tokens {
        let (b, a) = (before.delta(t), after.delta(t));
        let (dd, dc) = expected.get(&t).cloned().unwrap_or((zero(), zero()));
        if a.delta() - b.delta() != dd || &a.collateral - &b.collateral != dc {
            return Err(format!("value not conserved on token {t} by {tx:?}"));
        }
    }
    Ok(expected)
}

/// Replays a committed frame tx by tx on the previous committed state, checking every step
/// against the model; returns the per-token (Δ, collateral) change of the whole frame.
fn check_frame(
    prev: &AccountState,
    frame: &AccountFrame,
    proposer: Side,
    committed: &AccountState,
) -> Result<BTreeMap<TokenId, (BigInt, BigInt)>, String> {
    if committed.height != prev.height + 1 || frame.height != committed.height {
        return Err(format!("height {} after {}", committed.height, prev.height));
    }
    let mut s = prev.clone();
    let mut total: BTreeMap<TokenId, (BigInt, BigInt)> = BTreeMap::new();
    let at = (frame.height, frame.timestamp);
    for tx in &frame.txs {
        let before = s.clone();
        s.apply_tx(tx, proposer, at.0, at.1, &mut TestEngine)
            .map_err(|e| format!("committed tx fails on replay: {e}"))?;
        for (t, (dd, dc)) in check_step(&before, &s, tx, proposer, at)? {
            let e = total.entry(t).or_insert_with(|| (zero(), zero()));
            e.0 += dd;
            e.1 += dc;
        }
    }
    if s.deltas != committed.deltas || s.subcontracts != committed.subcontracts {
        return Err("replay differs from the committed state".into());
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// The harness: two machines, two FIFO queues, the model
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Gen {
    Pay(TokenId, i64),
    Credit(TokenId, i64),
    Fund(TokenId, i64, bool),
    Withdraw(TokenId, i64, bool),
    OpenHtlc(TokenId, i64, u8, u64),
    Reveal(usize, bool),
    Timeout(usize),
    OpenTransferAll(TokenId, i64),
    CallTransfer(usize, u8, TokenId, i64),
}

#[derive(Clone, Debug)]
enum Op {
    Enqueue(Side, Gen),
    Propose(Side),
    ProposeBoth,
    Deliver(Side),
    Tick(u64),
}

fn idx(side: Side) -> usize {
    usize::from(side == Side::Right)
}

struct Harness {
    keys: [SecretKey; 2],
    m: [AccountMachine; 2],
    /// Messages on their way to left (0) and right (1), in order.
    queues: [VecDeque<AccountMessage>; 2],
    time: u64,
    next_id: u64,
    opened: Vec<(u64, u8)>,
    hashes: BTreeMap<u64, [u8; 32]>,
    /// The model's Δ and collateral per token, from committed frames (once per height).
    model: BTreeMap<TokenId, (BigInt, BigInt)>,
    modelled: BTreeSet<u64>,
    /// Whether every committed state must lie within the bounds (no limit ever lowered).
    strict_bounds: bool,
}

fn preimage(secret: u8) -> Vec<u8> {
    vec![secret; 3]
}

impl Harness {
    fn new(strict_bounds: bool) -> Harness {
        let a = SecretKey::from_seed(b"prop-a");
        let b = SecretKey::from_seed(b"prop-b");
        let (l, r) = if a.address() < b.address() {
            (a, b)
        } else {
            (b, a)
        };
        Harness {
            m: [
                with_test_codes(AccountMachine::new(l.address(), r.address())),
                with_test_codes(AccountMachine::new(r.address(), l.address())),
            ],
            keys: [l, r],
            queues: [VecDeque::new(), VecDeque::new()],
            time: 100,
            next_id: 1,
            opened: Vec::new(),
            hashes: BTreeMap::new(),
            model: BTreeMap::new(),
            modelled: BTreeSet::new(),
            strict_bounds,
        }
    }

    /// The tx `g` describes for `side`; calls target an instance open in `side`'s
    /// committed state when there is one (else any instance ever opened).
    fn tx(&mut self, side: Side, g: &Gen) -> AccountTx {
        let state = &self.m[idx(side)].state;
        // reveals mostly target the peer's HTLCs (only the payee may reveal)
        let payee_of = |owner: Side| !matches!(g, Gen::Reveal(_, true)) || owner != side;
        let open: Vec<u64> = state
            .subcontracts
            .values()
            .filter(|sc| payee_of(sc.owner))
            .map(|sc| sc.id)
            .collect();
        let opened = &self.opened;
        let pick = |i: usize| -> (u64, u8) {
            let id = match open.get(i % open.len().max(1)) {
                Some(id) => *id,
                None => opened.get(i % opened.len().max(1)).map_or(999, |o| o.0),
            };
            (id, opened.iter().find(|o| o.0 == id).map_or(0, |o| o.1))
        };
        match *g {
            Gen::Pay(t, a) => AccountTx::Pay {
                token: t,
                amount: a.into(),
            },
            Gen::Credit(t, a) => AccountTx::SetCreditLimit {
                token: t,
                amount: a.into(),
            },
            Gen::Fund(t, a, left) => AccountTx::ChainDelta {
                token: t,
                collateral_change: a.into(),
                ondelta_change: if left { a.into() } else { zero() },
            },
            Gen::Withdraw(t, a, left) => AccountTx::ChainDelta {
                token: t,
                collateral_change: (-a).into(),
                ondelta_change: if left { (-a).into() } else { zero() },
            },
            Gen::OpenHtlc(t, a, secret, ttl) => {
                let id = self.next_id;
                self.next_id += 1;
                self.opened.push((id, secret));
                AccountTx::OpenSubcontract {
                    id,
                    code: keccak256(b"htlc"),
                    holds: vec![(t, a.into())],
                    params: Data::Map(BTreeMap::from([
                        (
                            "hash".to_string(),
                            Data::Bytes(keccak256(&preimage(secret)).to_vec()),
                        ),
                        ("timeout".to_string(), Data::Int((self.time + ttl).into())),
                    ])),
                }
            }
            Gen::Reveal(i, correct) => {
                let (id, secret) = pick(i);
                let p = if correct {
                    preimage(secret)
                } else {
                    b"nope".to_vec()
                };
                AccountTx::CallSubcontract {
                    id,
                    method: "reveal".into(),
                    args: Data::Bytes(p),
                }
            }
            Gen::Timeout(i) => {
                let (id, _) = pick(i);
                AccountTx::CallSubcontract {
                    id,
                    method: "timeout".into(),
                    args: Data::List(vec![]),
                }
            }
            Gen::OpenTransferAll(t, a) => {
                let id = self.next_id;
                self.next_id += 1;
                self.opened.push((id, 0));
                AccountTx::OpenSubcontract {
                    id,
                    code: keccak256(b"transfer-all"),
                    holds: vec![(t, a.into())],
                    params: Data::Text("t".into()),
                }
            }
            Gen::CallTransfer(i, method, t, a) => {
                let (id, _) = pick(i);
                let method = ["all", "take", "tip", "steal"][usize::from(method % 4)];
                let args = Data::List(vec![Data::Int(t.into()), Data::Int(a.into())]);
                AccountTx::CallSubcontract {
                    id,
                    method: method.into(),
                    args,
                }
            }
        }
    }

    fn propose(&mut self, side: Side) -> Result<(), TestCaseError> {
        let i = idx(side);
        let out = self.m[i]
            .propose(&self.keys[i], self.time, &mut TestEngine)
            .map_err(|e| TestCaseError::fail(format!("propose failed: {e}")))?;
        for (_, e) in &out.rejected {
            prop_assert_eq!(e.reaction(), Reaction::Reject);
        }
        if let Some(msg) = out.message {
            self.queues[1 - i].push_back(msg);
        }
        Ok(())
    }

    /// Delivers the next message to `to`, then checks any frame it committed.
    fn deliver(&mut self, to: Side) -> Result<bool, TestCaseError> {
        let i = idx(to);
        let Some(msg) = self.queues[i].pop_front() else {
            return Ok(false);
        };
        let prev = self.m[i].state.clone();
        let pending = self.m[i].pending.clone();
        let replies = self.m[i]
            .receive(&self.keys[i], &msg, &mut TestEngine)
            .map_err(|e| TestCaseError::fail(format!("honest message rejected: {e}")))?;
        self.queues[1 - i].extend(replies);
        if self.m[i].state.height == prev.height {
            return Ok(true);
        }
        let (frame, proposer) = match &msg.body {
            AccountMessageBody::Propose { frame, .. } => (frame.clone(), to.other()),
            AccountMessageBody::Ack { .. } => {
                (pending.expect("an ack commits the pending frame"), to)
            }
            AccountMessageBody::Decline { .. } => {
                return Err(TestCaseError::fail("these machines never decline"))
            }
        };
        let committed = self.m[i].state.clone();
        let change =
            check_frame(&prev, &frame, proposer, &committed).map_err(TestCaseError::fail)?;
        check_allowances(&committed).map_err(TestCaseError::fail)?;
        let hash = committed.state_hash();
        let recorded = *self.hashes.entry(committed.height).or_insert(hash);
        prop_assert_eq!(
            recorded,
            hash,
            "sides disagree at height {}",
            committed.height
        );
        if self.modelled.insert(committed.height) {
            for (t, (dd, dc)) in change {
                let e = self.model.entry(t).or_insert_with(|| (zero(), zero()));
                e.0 += dd;
                e.1 += dc;
            }
        }
        for (t, (d, c)) in &self.model {
            let got = committed.delta(*t);
            prop_assert_eq!(&got.delta(), d, "Δ of token {} differs from the model", t);
            prop_assert_eq!(&got.collateral, c);
        }
        if self.strict_bounds {
            for (t, d) in &committed.deltas {
                let (lower, upper) = excess(d, d);
                prop_assert!(
                    lower == zero() && upper == zero(),
                    "token {} out of bounds: {:?}",
                    t,
                    d
                );
            }
        }
        Ok(true)
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Enqueue(side, g) => {
                let tx = self.tx(*side, g);
                self.m[idx(*side)].enqueue(tx);
            }
            Op::Propose(side) => self.propose(*side)?,
            Op::ProposeBoth => {
                self.propose(Side::Left)?;
                self.propose(Side::Right)?;
            }
            Op::Deliver(side) => {
                self.deliver(*side)?;
            }
            Op::Tick(dt) => self.time += dt,
        }
        Ok(())
    }

    /// Delivers and proposes until quiet, then checks both sides agree.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..200 {
            while self.deliver(Side::Left)? || self.deliver(Side::Right)? {}
            self.propose(Side::Left)?;
            self.propose(Side::Right)?;
            if self.queues.iter().all(VecDeque::is_empty) {
                let [l, r] = &self.m;
                prop_assert_eq!(&l.state, &r.state);
                prop_assert!(l.mempool.is_empty() && r.mempool.is_empty());
                prop_assert!(l.pending.is_none() && r.pending.is_none());
                return Ok(());
            }
        }
        Err(TestCaseError::fail("did not settle in 200 rounds"))
    }
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Left), Just(Side::Right)]
}

fn token() -> impl Strategy<Value = TokenId> {
    1u64..=2
}

fn gen(limits_move: bool) -> impl Strategy<Value = Gen> {
    let amount = || -5i64..150;
    let credit_weight = if limits_move { 2 } else { 0 };
    prop_oneof![
        6 => (token(), amount()).prop_map(|(t, a)| Gen::Pay(t, a)),
        credit_weight => (token(), 0i64..200).prop_map(|(t, a)| Gen::Credit(t, a)),
        2 => (token(), 0i64..150, any::<bool>()).prop_map(|(t, a, l)| Gen::Fund(t, a, l)),
        credit_weight => (token(), 0i64..150, any::<bool>()).prop_map(|(t, a, l)| Gen::Withdraw(t, a, l)),
        3 => (token(), amount(), any::<u8>(), 0u64..40).prop_map(|(t, a, s, ttl)| Gen::OpenHtlc(t, a, s, ttl)),
        4 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(i, c)| Gen::Reveal(i, c)),
        1 => any::<usize>().prop_map(Gen::Timeout),
        1 => (token(), amount()).prop_map(|(t, a)| Gen::OpenTransferAll(t, a)),
        3 => (any::<usize>(), any::<u8>(), token(), -2i64..60)
            .prop_map(|(i, m, t, a)| Gen::CallTransfer(i, m, t, a)),
    ]
}

fn op(limits_move: bool) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (side(), gen(limits_move)).prop_map(|(s, g)| Op::Enqueue(s, g)),
        3 => side().prop_map(Op::Propose),
        1 => Just(Op::ProposeBoth),
        5 => side().prop_map(Op::Deliver),
        1 => (0u64..8).prop_map(Op::Tick),
    ]
}

/// Credit both ways and some collateral from each side, so payments mostly fit.
fn setup(h: &mut Harness) -> Result<(), TestCaseError> {
    for t in [1, 2] {
        h.run(&Op::Enqueue(Side::Left, Gen::Credit(t, 100)))?;
        h.run(&Op::Enqueue(Side::Right, Gen::Credit(t, 100)))?;
        h.run(&Op::Enqueue(Side::Left, Gen::Fund(t, 50, true)))?;
        h.run(&Op::Enqueue(Side::Right, Gen::Fund(t, 50, false)))?;
    }
    h.drain()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random traffic with limits moving up and down: every committed frame replays to the
    /// committed state, obeys RCPAN step by step, conserves value, keeps allowances equal
    /// to holds, and both sides hash alike at every height; at the end both converge.
    #[test]
    fn random_traffic_keeps_every_invariant(ops in prop::collection::vec(op(true), 1..60)) {
        let mut h = Harness::new(false);
        setup(&mut h)?;
        for o in &ops {
            h.run(o)?;
        }
        h.drain()?;
    }

    /// With limits only set once and collateral only added, every committed state of both
    /// sides lies within −left_credit_limit ≤ Δ − left_allowance and
    /// Δ + right_allowance ≤ collateral + right_credit_limit.
    #[test]
    fn committed_states_stay_within_bounds(ops in prop::collection::vec(op(false), 1..60)) {
        let mut h = Harness::new(true);
        setup(&mut h)?;
        for o in &ops {
            h.run(o)?;
        }
        h.drain()?;
    }
}

// ---------------------------------------------------------------------------------------
// Pure state: apply_tx never changes the state on error and never breaks the invariants
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// apply_tx on random sequences: an Err leaves the state identical; an Ok obeys RCPAN,
    /// conservation and the allowance invariant.
    #[test]
    fn apply_tx_is_atomic_and_lawful(
        steps in prop::collection::vec((side(), gen(true), 0u64..5), 1..40)
    ) {
        let mut h = Harness::new(false);
        let mut s = h.m[0].state.clone();
        let setup = [
            (Side::Left, Gen::Credit(1, 100)),
            (Side::Right, Gen::Credit(1, 100)),
            (Side::Left, Gen::Fund(1, 50, true)),
            (Side::Right, Gen::Fund(2, 50, false)),
        ];
        for (by, g) in &setup {
            let tx = h.tx(*by, g);
            s.apply_tx(&tx, *by, 1, h.time, &mut TestEngine).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        for (by, g, dt) in &steps {
            h.time += dt;
            // calls target instances open in `s`
            h.m[idx(*by)].state = s.clone();
            let tx = h.tx(*by, g);
            let before = s.clone();
            match s.apply_tx(&tx, *by, 1, h.time, &mut TestEngine) {
                Err(e) => {
                    prop_assert_eq!(&s, &before, "state changed by a failed tx: {}", e);
                    prop_assert_eq!(e.reaction(), Reaction::Reject);
                }
                Ok(()) => {
                    check_step(&before, &s, &tx, *by, (1, h.time)).map_err(TestCaseError::fail)?;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tampering: forged, replayed and out-of-order messages
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Tamper {
    ForeignSignature,
    SignatureOverOtherHash,
    StateHash,
    Replay,
    Gap,
    Height,
    PrevHash,
    Deltas,
    InvalidTx,
    Timestamp,
    AckSignature,
    AckHash,
}

const TAMPERS: [Tamper; 12] = [
    Tamper::ForeignSignature,
    Tamper::SignatureOverOtherHash,
    Tamper::StateHash,
    Tamper::Replay,
    Tamper::Gap,
    Tamper::Height,
    Tamper::PrevHash,
    Tamper::Deltas,
    Tamper::InvalidTx,
    Tamper::Timestamp,
    Tamper::AckSignature,
    Tamper::AckHash,
];

/// Re-signs a proposal's frame with `key` (so only the tampered field is wrong).
fn resign(msg: &mut AccountMessage, key: &SecretKey) {
    if let AccountMessageBody::Propose { frame, signature } = &mut msg.body {
        *signature = key.sign_digest(&frame.hash()).expect("sign");
    }
}

fn frame_mut(msg: &mut AccountMessage) -> &mut AccountFrame {
    match &mut msg.body {
        AccountMessageBody::Propose { frame, .. } => frame,
        AccountMessageBody::Ack { .. } | AccountMessageBody::Decline { .. } => {
            panic!("not a proposal")
        }
    }
}

/// Applies `tamper` to the in-flight message and delivers it; returns the error.
fn tamper_and_deliver(h: &mut Harness, tamper: Tamper) -> Result<AccountError, TestCaseError> {
    // the left's proposal is queued for the right
    let mut msg = h.queues[1].front().cloned().expect("a proposal in flight");
    let (lk, rk) = (h.keys[0].clone(), h.keys[1].clone());
    let mut target = 1;
    match tamper {
        Tamper::ForeignSignature => {
            let other = SecretKey::from_seed(b"mallory");
            resign(&mut msg, &other);
        }
        Tamper::SignatureOverOtherHash => {
            if let AccountMessageBody::Propose { signature, .. } = &mut msg.body {
                *signature = lk.sign_digest(&[7; 32]).expect("sign");
            }
        }
        Tamper::StateHash => {
            frame_mut(&mut msg).state_hash[0] ^= 1;
            resign(&mut msg, &lk);
        }
        Tamper::Replay => {
            msg.counter = h.m[1].received;
        }
        Tamper::Gap => msg.counter += 1,
        Tamper::Height => {
            frame_mut(&mut msg).height += 1;
            resign(&mut msg, &lk);
        }
        Tamper::PrevHash => {
            frame_mut(&mut msg).prev_frame_hash[31] ^= 0x80;
            resign(&mut msg, &lk);
        }
        Tamper::Deltas => {
            let f = frame_mut(&mut msg);
            f.deltas[0].offdelta += 1;
            resign(&mut msg, &lk);
        }
        Tamper::InvalidTx => {
            let f = frame_mut(&mut msg);
            f.txs.push(AccountTx::Pay {
                token: 1,
                amount: BigInt::from(1) << 200,
            });
            resign(&mut msg, &lk);
        }
        Tamper::Timestamp => {
            frame_mut(&mut msg).timestamp = 0;
            resign(&mut msg, &lk);
        }
        Tamper::AckSignature | Tamper::AckHash => {
            // deliver the genuine proposal, then forge the right's ack to the left
            h.deliver(Side::Right)?;
            msg = h.queues[0].back().cloned().expect("an ack");
            target = 0;
            if let AccountMessageBody::Ack {
                frame_hash,
                signature,
                ..
            } = &mut msg.body
            {
                if matches!(tamper, Tamper::AckHash) {
                    frame_hash[0] ^= 1;
                    *signature = rk.sign_digest(frame_hash).expect("sign");
                } else {
                    *signature = lk.sign_digest(frame_hash).expect("sign");
                }
            }
        }
    }
    let key = h.keys[target].clone();
    let before = format!("{:?}", h.m[target]);
    let err = match h.m[target].receive(&key, &msg, &mut TestEngine) {
        Ok(_) => return Err(TestCaseError::fail(format!("{tamper:?} accepted"))),
        Err(e) => e,
    };
    prop_assert_eq!(
        before,
        format!("{:?}", h.m[target]),
        "{:?} changed the receiver",
        tamper
    );
    Ok(err)
}

fn expected_error(tamper: Tamper, err: &AccountError) -> bool {
    use AccountError as E;
    match tamper {
        Tamper::ForeignSignature | Tamper::SignatureOverOtherHash | Tamper::AckSignature => {
            matches!(err, E::BadSignature { .. })
        }
        Tamper::StateHash => matches!(err, E::StateHashMismatch { .. }),
        Tamper::Replay => matches!(err, E::Replay { .. }),
        Tamper::Gap => matches!(err, E::Gap { .. }),
        Tamper::Height => matches!(err, E::WrongHeight { .. }),
        Tamper::PrevHash => matches!(err, E::WrongPrevHash { .. }),
        Tamper::Deltas => matches!(err, E::FrameDeltasMismatch { .. }),
        Tamper::InvalidTx => matches!(err, E::PeerFrameTxInvalid { .. }),
        Tamper::Timestamp => matches!(err, E::TimestampRegressed { .. }),
        Tamper::AckHash => matches!(err, E::WrongFrameHash { .. }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    /// After some random history, a tampered message is rejected with the matching error
    /// and reaction, leaves the receiver byte-identical (Debug output compared), and the
    /// genuine message is still accepted afterwards. Optionally the right has its own
    /// frame in flight (a simultaneous proposal), which a rejected frame must not roll back.
    #[test]
    fn tampered_messages_are_rejected_without_effect(
        history in prop::collection::vec(op(true), 0..25),
        tamper in 0usize..TAMPERS.len(),
        right_pending in any::<bool>(),
    ) {
        let tamper = TAMPERS[tamper];
        let mut h = Harness::new(false);
        setup(&mut h)?;
        for o in &history {
            h.run(o)?;
        }
        h.drain()?;
        h.time += 1;
        // raising or lowering a limit is always valid, so a frame is always proposed
        h.run(&Op::Enqueue(Side::Left, Gen::Credit(1, 100)))?;
        h.propose(Side::Left)?;
        if right_pending && !matches!(tamper, Tamper::AckSignature | Tamper::AckHash) {
            h.run(&Op::Enqueue(Side::Right, Gen::Credit(2, 100)))?;
            h.propose(Side::Right)?;
        }
        let err = tamper_and_deliver(&mut h, tamper)?;
        prop_assert!(expected_error(tamper, &err), "{:?} gave {:?}", tamper, err);
        let reaction = match tamper {
            Tamper::Replay => Reaction::Ignore,
            Tamper::Gap => Reaction::Reject,
            _ => Reaction::ClosePeer,
        };
        prop_assert_eq!(err.reaction(), reaction, "{:?}: {}", tamper, err);
        // the genuine traffic still goes through
        h.drain()?;
    }
}

#[test]
fn a_delivered_message_replayed_is_ignored() {
    let mut h = Harness::new(false);
    setup(&mut h).unwrap();
    h.run(&Op::Enqueue(Side::Right, Gen::Pay(1, 10))).unwrap();
    h.propose(Side::Right).unwrap();
    let msg = h.queues[0].front().cloned().unwrap();
    h.deliver(Side::Left).unwrap();
    let before = format!("{:?}", h.m[0]);
    let err = h.m[0]
        .receive(&h.keys[0].clone(), &msg, &mut TestEngine)
        .unwrap_err();
    assert!(matches!(err, AccountError::Replay { .. }), "{err}");
    assert_eq!(err.reaction(), Reaction::Ignore);
    assert_eq!(before, format!("{:?}", h.m[0]));
    h.drain().unwrap();
}
