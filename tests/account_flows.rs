//! Whole-flow tests of the bilateral account: two `AccountMachine`s with real keys and a
//! message queue between them — ping-pong payments, simultaneous proposals, capacity
//! errors for pure collateral / collateral+credit / pure credit, credit limits lowered
//! below drawn debt, and HTLCs (reveal, timeout, wrong preimage, reveal after timeout)
//! run by a small subcontract engine written in this file.

use std::collections::{BTreeMap, VecDeque};

use xln::account::{
    AccountError, AccountMachine, AccountMessage, AccountMessageBody, AccountTx, BigInt, Data,
    OverdrawBound, Reaction, Side, SubcontractCall, SubcontractEffect, SubcontractEngine, TokenId,
};
use xln::crypto::{keccak256, SecretKey};

// ---------------------------------------------------------------------------------------
// A test subcontract engine: "htlc" and "transfer-all"
// ---------------------------------------------------------------------------------------

/// `htlc`: params `{hash: bytes32, timeout: int}`; `reveal(preimage)` by the payee before
/// the timeout pays all holds to the payee; `timeout()` at or after it refunds (closes).
/// `transfer-all`: `all()` pays all holds to the peer; `take([token, amount])` moves from
/// the owner's holds; `tip([token, amount])` from the caller; `steal([token, amount])`
/// from the side that did not call.
struct TestEngine;

fn int_pair(args: &Data) -> Result<(TokenId, BigInt), String> {
    match args {
        Data::List(items) => match items.as_slice() {
            [Data::Int(token), Data::Int(amount)] => Ok((
                u64::try_from(token).map_err(|_| "bad token")?,
                amount.clone(),
            )),
            _ => Err("expected [token, amount]".into()),
        },
        _ => Err("expected a list".into()),
    }
}

fn htlc_params(params: &Data) -> Result<([u8; 32], u64), String> {
    let Data::Map(m) = params else {
        return Err("htlc params must be a map".into());
    };
    let hash = match m.get("hash") {
        Some(Data::Bytes(b)) if b.len() == 32 => {
            let mut h = [0u8; 32];
            h.copy_from_slice(b);
            h
        }
        _ => return Err("htlc needs a 32-byte hash".into()),
    };
    let timeout = match m.get("timeout") {
        Some(Data::Int(t)) => u64::try_from(t).map_err(|_| "bad timeout")?,
        _ => return Err("htlc needs a timeout".into()),
    };
    Ok((hash, timeout))
}

impl SubcontractEngine for TestEngine {
    fn check_code(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn call(&mut self, c: &SubcontractCall<'_>) -> Result<SubcontractEffect, String> {
        let all_holds = || -> Vec<(TokenId, Side, BigInt)> {
            c.holds
                .iter()
                .map(|(t, a)| (*t, c.owner, a.clone()))
                .collect()
        };
        let effect = |transfers, close| SubcontractEffect {
            transfers,
            params: c.params.clone(),
            close,
        };
        match (std::str::from_utf8(c.code).unwrap_or("?"), c.method) {
            ("htlc", "reveal") => {
                let (hash, timeout) = htlc_params(c.params)?;
                if c.caller == c.owner {
                    return Err("only the payee reveals".into());
                }
                if c.timestamp >= timeout {
                    return Err(format!("too late: timed out at {timeout}"));
                }
                match c.args {
                    Data::Bytes(p) if keccak256(p) == hash => Ok(effect(all_holds(), true)),
                    _ => Err("wrong preimage".into()),
                }
            }
            ("htlc", "timeout") => {
                let (_, timeout) = htlc_params(c.params)?;
                if c.timestamp < timeout {
                    return Err(format!("not timed out before {timeout}"));
                }
                Ok(effect(vec![], true))
            }
            ("transfer-all", "all") => Ok(effect(all_holds(), true)),
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
// Two machines and the wire between them
// ---------------------------------------------------------------------------------------

fn idx(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

/// Both sides of an account; index 0 is left.
struct Pair {
    keys: [SecretKey; 2],
    machines: [AccountMachine; 2],
    wire: VecDeque<AccountMessage>,
    time: u64,
    engine: TestEngine,
}

impl Pair {
    fn new() -> Pair {
        let a = SecretKey::from_seed(b"alice");
        let b = SecretKey::from_seed(b"bob");
        let (l, r) = if a.address() < b.address() {
            (a, b)
        } else {
            (b, a)
        };
        let mut machines = [
            AccountMachine::new(l.address(), r.address()),
            AccountMachine::new(r.address(), l.address()),
        ];
        // Both test codes installed, as if by a committed `InstallCode` frame (the code
        // bytes are the kind names the test engine dispatches on).
        for m in &mut machines {
            for code in [&b"htlc"[..], &b"transfer-all"[..]] {
                m.state.codes.insert(keccak256(code), code.to_vec());
            }
        }
        assert_eq!(machines[0].side, Side::Left);
        assert_eq!(machines[1].side, Side::Right);
        Pair {
            keys: [l, r],
            machines,
            wire: VecDeque::new(),
            time: 1_000,
            engine: TestEngine,
        }
    }

    /// Proposes from `side`; returns the txs rejected before signing.
    fn propose(&mut self, side: Side) -> Vec<(AccountTx, AccountError)> {
        let i = idx(side);
        let out = self.machines[i]
            .propose(&self.keys[i], self.time, &mut self.engine)
            .expect("propose");
        self.wire.extend(out.message);
        out.rejected
    }

    /// Delivers the oldest message; returns the replies it produced.
    fn deliver_one(&mut self) -> Option<usize> {
        let msg = self.wire.pop_front()?;
        let i = usize::from(msg.to == self.machines[1].me);
        let replies = self.machines[i]
            .receive(&self.keys[i], &msg, &mut self.engine)
            .expect("honest message accepted");
        let n = replies.len();
        self.wire.extend(replies);
        Some(n)
    }

    /// Delivers and proposes until both sides are idle; returns every rejected tx.
    fn sync(&mut self) -> Vec<(AccountTx, AccountError)> {
        let mut rejected = Vec::new();
        for _ in 0..1_000 {
            while self.deliver_one().is_some() {}
            for side in [Side::Left, Side::Right] {
                rejected.extend(self.propose(side));
            }
            if self.wire.is_empty() {
                self.assert_converged();
                return rejected;
            }
        }
        panic!("account did not settle");
    }

    /// Enqueues `tx` on `side` and syncs; returns the error if it was rejected.
    fn submit(&mut self, side: Side, tx: AccountTx) -> Result<(), AccountError> {
        self.machines[idx(side)].enqueue(tx);
        match self.sync().pop() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    fn assert_converged(&self) {
        let [l, r] = &self.machines;
        assert_eq!(l.state, r.state);
        assert_eq!(l.state.state_hash(), r.state.state_hash());
        assert!(l.pending.is_none() && r.pending.is_none());
    }

    fn delta(&self, token: TokenId) -> BigInt {
        self.machines[0].state.delta(token).delta()
    }

    fn out_capacity(&self, side: Side, token: TokenId) -> BigInt {
        let d = self.machines[idx(side)].state.delta(token);
        xln::account::view(&d, side).out_capacity
    }
}

fn pay(token: TokenId, amount: i64) -> AccountTx {
    AccountTx::Pay {
        token,
        amount: amount.into(),
    }
}
fn credit(token: TokenId, amount: i64) -> AccountTx {
    AccountTx::SetCreditLimit {
        token,
        amount: amount.into(),
    }
}
fn chain(token: TokenId, collateral: i64, ondelta: i64) -> AccountTx {
    AccountTx::ChainDelta {
        token,
        collateral_change: collateral.into(),
        ondelta_change: ondelta.into(),
    }
}
fn big(x: i64) -> BigInt {
    BigInt::from(x)
}

// ---------------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------------

#[test]
fn ping_pong_payments() {
    let mut p = Pair::new();
    p.submit(Side::Left, credit(1, 1_000)).unwrap(); // left extends credit to right
    p.submit(Side::Right, credit(1, 1_000)).unwrap();
    for round in 0..10 {
        p.time += 1;
        p.submit(Side::Left, pay(1, 7)).unwrap();
        p.submit(Side::Right, pay(1, 3)).unwrap();
        assert_eq!(p.delta(1), big(-4 * (round + 1)));
    }
    assert_eq!(p.machines[0].state.height, 22);
    // counters: every proposal and every ack is numbered
    assert_eq!(p.machines[0].sent, p.machines[1].received);
    assert_eq!(p.machines[1].sent, p.machines[0].received);
    assert_eq!(p.machines[0].state.timestamp, 1_010);
}

#[test]
fn many_payments_in_one_frame() {
    let mut p = Pair::new();
    p.submit(Side::Right, credit(1, 1_000)).unwrap();
    for _ in 0..50 {
        p.machines[0].enqueue(pay(1, 2));
    }
    assert!(p.sync().is_empty());
    assert_eq!(p.machines[0].state.height, 2, "one frame carried all 50");
    assert_eq!(p.delta(1), big(-100));
}

#[test]
fn simultaneous_proposals_left_wins_and_right_reproposes() {
    let mut p = Pair::new();
    p.submit(Side::Left, credit(1, 500)).unwrap();
    p.submit(Side::Right, credit(1, 500)).unwrap();
    let h = p.machines[0].state.height;

    p.machines[0].enqueue(pay(1, 10));
    p.machines[1].enqueue(pay(1, 25));
    p.machines[1].enqueue(pay(2, 0)); // rejected on the right's re-proposal
    let left_msg = p.machines[0]
        .propose(&p.keys[0], p.time, &mut p.engine)
        .unwrap()
        .message
        .unwrap();
    let right_out = p.machines[1]
        .propose(&p.keys[1], p.time, &mut p.engine)
        .unwrap();
    assert_eq!(right_out.rejected.len(), 1);
    let right_msg = right_out.message.unwrap();
    p.machines[1].enqueue(pay(1, 1)); // queued while the right's frame is in flight

    // The left ignores the right's proposal at the same height but consumes its counter.
    let before = p.machines[0].received;
    let replies = p.machines[0]
        .receive(&p.keys[0], &right_msg, &mut p.engine)
        .unwrap();
    assert!(replies.is_empty());
    assert_eq!(p.machines[0].received, before + 1);
    assert!(p.machines[0].pending.is_some());

    // The right rolls back, applies the left's frame and acks it.
    let mut replies = p.machines[1]
        .receive(&p.keys[1], &left_msg, &mut p.engine)
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert!(matches!(replies[0].body, AccountMessageBody::Ack { .. }));
    assert!(p.machines[1].pending.is_none());
    assert_eq!(
        p.machines[1].mempool,
        vec![pay(1, 25), pay(1, 1)],
        "rolled-back txs go back to the front of the mempool"
    );
    assert_eq!(p.machines[1].state.height, h + 1);

    let ack = replies.remove(0);
    assert!(p.machines[0]
        .receive(&p.keys[0], &ack, &mut p.engine)
        .unwrap()
        .is_empty());
    p.assert_converged();

    // The right re-proposes its payment on top of the left's frame.
    assert!(p.sync().is_empty());
    assert_eq!(p.machines[0].state.height, h + 2);
    assert_eq!(p.delta(1), big(16));
}

#[test]
fn simultaneous_proposals_with_messages_in_flight_converge() {
    let mut p = Pair::new();
    p.submit(Side::Left, credit(1, 100)).unwrap();
    p.submit(Side::Right, credit(1, 100)).unwrap();
    for i in 0..5 {
        p.machines[0].enqueue(pay(1, 1 + i));
        p.machines[1].enqueue(pay(1, 2 + i));
        p.propose(Side::Left);
        p.propose(Side::Right);
        // deliver in an interleaved order: the right's proposal first
        p.wire.rotate_left(1);
    }
    assert!(p.sync().is_empty());
    assert_eq!(p.delta(1), big(5));
}

// ---------------------------------------------------------------------------------------
// Capacity: pure credit, pure collateral, collateral + credit
// ---------------------------------------------------------------------------------------

#[test]
fn pure_credit_error_names_side_token_and_bound() {
    let mut p = Pair::new();
    p.submit(Side::Right, credit(1, 100)).unwrap(); // right lets left owe 100
    let err = p.submit(Side::Left, pay(1, 150)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "left cannot pay 150 of token 1: out-capacity is 100 (collateral 0, own credit 100, peer credit 0, held 0)"
    );
    assert_eq!(err.reaction(), Reaction::Reject);
    assert!(matches!(
        err,
        AccountError::CapacityExceeded { side: Side::Left, token: 1, ref capacity, .. } if *capacity == big(100)
    ));
    p.submit(Side::Left, pay(1, 100)).unwrap();
    assert_eq!(p.delta(1), big(-100));
    // right extended no credit to itself: it can only hand back left's debt
    assert_eq!(p.out_capacity(Side::Right, 1), big(100));
    let err = p.submit(Side::Right, pay(1, 101)).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("right cannot pay 101 of token 1: out-capacity is 100"));
    // other tokens are untouched
    let err = p.submit(Side::Left, pay(2, 1)).unwrap_err();
    assert!(
        err.to_string().contains("of token 2: out-capacity is 0"),
        "{err}"
    );
}

#[test]
fn pure_collateral() {
    let mut p = Pair::new();
    p.submit(Side::Left, chain(1, 100, 100)).unwrap(); // funded from left's reserve
    assert_eq!(p.delta(1), big(100));
    assert_eq!(p.out_capacity(Side::Left, 1), big(100));
    assert_eq!(p.out_capacity(Side::Right, 1), big(0));
    assert!(p.submit(Side::Right, pay(1, 1)).is_err());
    let err = p.submit(Side::Left, pay(1, 101)).unwrap_err();
    assert!(err
        .to_string()
        .contains("(collateral 100, own credit 0, peer credit 0, held 0)"));
    p.submit(Side::Left, pay(1, 60)).unwrap();
    assert_eq!(p.out_capacity(Side::Right, 1), big(60));
    p.submit(Side::Right, pay(1, 60)).unwrap();
    // funded from the right's reserve: collateral only
    p.submit(Side::Right, chain(1, 50, 0)).unwrap();
    assert_eq!(p.out_capacity(Side::Right, 1), big(50));
    assert_eq!(p.out_capacity(Side::Left, 1), big(100));
    let err = p.submit(Side::Left, chain(1, -200, 0)).unwrap_err();
    assert!(matches!(
        err,
        AccountError::CollateralNegative { token: 1, .. }
    ));
}

#[test]
fn collateral_plus_credit() {
    let mut p = Pair::new();
    p.submit(Side::Left, chain(1, 100, 100)).unwrap();
    p.submit(Side::Right, credit(1, 50)).unwrap(); // left may owe 50 beyond its collateral
    assert_eq!(p.out_capacity(Side::Left, 1), big(150));
    let err = p.submit(Side::Left, pay(1, 151)).unwrap_err();
    assert!(err
        .to_string()
        .contains("out-capacity is 150 (collateral 100, own credit 50, peer credit 0, held 0)"));
    p.submit(Side::Left, pay(1, 150)).unwrap();
    assert_eq!(p.delta(1), big(-50));
    // right now holds the 100 of collateral and 50 of left's debt
    assert_eq!(p.out_capacity(Side::Right, 1), big(150));
    p.submit(Side::Left, credit(1, 30)).unwrap(); // left lets right owe 30
    assert_eq!(p.out_capacity(Side::Right, 1), big(180));
    p.submit(Side::Right, pay(1, 180)).unwrap();
    assert_eq!(p.delta(1), big(130));
}

#[test]
fn lowering_a_limit_below_drawn_debt_blocks_new_debt_only() {
    let mut p = Pair::new();
    p.submit(Side::Right, credit(1, 100)).unwrap();
    p.submit(Side::Left, pay(1, 80)).unwrap();
    p.submit(Side::Right, credit(1, 50)).unwrap(); // allowed
    let v = xln::account::view(&p.machines[0].state.delta(1), Side::Left);
    assert_eq!(
        v.in_own_credit,
        big(80),
        "the view shows debt over the limit"
    );
    assert_eq!(v.total_capacity, big(80));
    let err = p.submit(Side::Left, pay(1, 1)).unwrap_err();
    assert!(matches!(
        err,
        AccountError::CapacityExceeded {
            side: Side::Left,
            ..
        }
    ));
    p.submit(Side::Right, pay(1, 20)).unwrap(); // repaying is fine
    assert_eq!(p.delta(1), big(-60));
}

// ---------------------------------------------------------------------------------------
// Subcontracts
// ---------------------------------------------------------------------------------------

fn htlc(id: u64, token: TokenId, amount: i64, preimage: &[u8], timeout: u64) -> AccountTx {
    AccountTx::OpenSubcontract {
        id,
        code: keccak256(b"htlc"),
        holds: vec![(token, amount.into())],
        params: Data::Map(BTreeMap::from([
            (
                "hash".to_string(),
                Data::Bytes(keccak256(preimage).to_vec()),
            ),
            ("timeout".to_string(), Data::Int(timeout.into())),
        ])),
    }
}
fn call(id: u64, method: &str, args: Data) -> AccountTx {
    AccountTx::CallSubcontract {
        id,
        method: method.into(),
        args,
    }
}

fn htlc_pair() -> Pair {
    let mut p = Pair::new();
    p.submit(Side::Left, chain(1, 100, 100)).unwrap();
    p.submit(Side::Right, credit(1, 20)).unwrap();
    p
}

#[test]
fn htlc_reveal_pays_the_payee() {
    let mut p = htlc_pair();
    p.submit(Side::Left, htlc(7, 1, 90, b"secret", 2_000))
        .unwrap();
    let d = p.machines[1].state.delta(1);
    assert_eq!(d.left_allowance, big(90));
    assert_eq!(
        p.out_capacity(Side::Left, 1),
        big(30),
        "held value cannot be spent twice"
    );
    let err = p.submit(Side::Left, pay(1, 31)).unwrap_err();
    assert!(err.to_string().contains("held 90"), "{err}");
    // the owner cannot reveal its own HTLC
    let err = p.submit(
        Side::Left,
        call(7, "reveal", Data::Bytes(b"secret".to_vec())),
    );
    assert!(matches!(err, Err(AccountError::SubcontractFailed { .. })));
    p.submit(
        Side::Right,
        call(7, "reveal", Data::Bytes(b"secret".to_vec())),
    )
    .unwrap();
    assert_eq!(p.delta(1), big(10));
    let d = p.machines[0].state.delta(1);
    assert_eq!(d.left_allowance, big(0));
    assert!(p.machines[0].state.subcontracts.is_empty());
    let err = p
        .submit(
            Side::Right,
            call(7, "reveal", Data::Bytes(b"secret".to_vec())),
        )
        .unwrap_err();
    assert_eq!(err, AccountError::UnknownSubcontract(7));
}

#[test]
fn htlc_wrong_preimage_is_rejected_and_nothing_moves() {
    let mut p = htlc_pair();
    p.submit(Side::Left, htlc(1, 1, 50, b"right one", 2_000))
        .unwrap();
    let before = p.machines[0].state.clone();
    let err = p
        .submit(
            Side::Right,
            call(1, "reveal", Data::Bytes(b"wrong one".to_vec())),
        )
        .unwrap_err();
    match &err {
        AccountError::SubcontractFailed {
            code,
            method,
            reason,
        } => {
            assert_eq!(
                (code.as_str(), method.as_str()),
                (
                    xln::account::short_hex(&keccak256(b"htlc")).as_str(),
                    "reveal"
                )
            );
            assert_eq!(reason, "wrong preimage");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(p.machines[0].state, before, "a rejected tx is never signed");
}

#[test]
fn htlc_timeout_refunds_and_reveal_after_timeout_fails() {
    let mut p = htlc_pair();
    p.submit(Side::Left, htlc(3, 1, 40, b"x", 1_500)).unwrap();
    // too early to time out
    let err = p.submit(Side::Left, call(3, "timeout", Data::List(vec![])));
    assert!(matches!(err, Err(AccountError::SubcontractFailed { .. })));
    p.time = 1_500;
    let err = p
        .submit(Side::Right, call(3, "reveal", Data::Bytes(b"x".to_vec())))
        .unwrap_err();
    assert!(err.to_string().contains("too late"), "{err}");
    p.submit(Side::Left, call(3, "timeout", Data::List(vec![])))
        .unwrap();
    assert_eq!(p.delta(1), big(100), "refunded: nothing moved");
    assert_eq!(p.machines[1].state.delta(1).left_allowance, big(0));
    assert_eq!(p.out_capacity(Side::Left, 1), big(120));
}

#[test]
fn held_value_still_pays_out_after_the_limit_is_lowered() {
    let mut p = Pair::new();
    p.submit(Side::Right, credit(1, 100)).unwrap();
    p.submit(Side::Left, htlc(9, 1, 100, b"p", 5_000)).unwrap();
    p.submit(Side::Right, credit(1, 0)).unwrap(); // lowered under what is held
    p.submit(Side::Right, call(9, "reveal", Data::Bytes(b"p".to_vec())))
        .unwrap();
    assert_eq!(p.delta(1), big(-100));
}

#[test]
fn holds_must_fit_the_owners_out_capacity() {
    let mut p = htlc_pair();
    let err = p
        .submit(Side::Left, htlc(1, 1, 121, b"x", 2_000))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "left cannot hold 121 of token 1: out-capacity is 120 (collateral 100, own credit 20, peer credit 0, held 0)"
    );
    p.submit(Side::Left, htlc(1, 1, 60, b"x", 2_000)).unwrap();
    let err = p
        .submit(Side::Left, htlc(1, 1, 1, b"y", 2_000))
        .unwrap_err();
    assert_eq!(err, AccountError::DuplicateSubcontract(1));
    let err = p
        .submit(Side::Left, htlc(2, 1, 61, b"y", 2_000))
        .unwrap_err();
    assert!(err.to_string().contains("held 60"), "{err}");
}

fn transfer_all(id: u64, holds: Vec<(TokenId, i64)>) -> AccountTx {
    AccountTx::OpenSubcontract {
        id,
        code: keccak256(b"transfer-all"),
        holds: holds.into_iter().map(|(t, a)| (t, a.into())).collect(),
        params: Data::Bool(true),
    }
}
fn pair_args(token: TokenId, amount: i64) -> Data {
    Data::List(vec![Data::Int(token.into()), Data::Int(amount.into())])
}

#[test]
fn subcontract_transfers_are_bounded_by_holds_and_caller_capacity() {
    let mut p = htlc_pair();
    p.submit(Side::Left, credit(1, 10)).unwrap(); // right may owe 10
    p.submit(Side::Left, transfer_all(5, vec![(1, 30)]))
        .unwrap();
    // the owner's transfer is capped by what the instance holds
    let err = p
        .submit(Side::Left, call(5, "take", pair_args(1, 31)))
        .unwrap_err();
    assert_eq!(
        err,
        AccountError::SubcontractOverdraw {
            id: 5,
            token: 1,
            from: Side::Left,
            amount: big(31),
            available: big(30),
            bound: OverdrawBound::Held,
        }
    );
    assert!(
        err.to_string().contains("the instance holds only 30"),
        "{err}"
    );
    p.submit(Side::Right, call(5, "take", pair_args(1, 10)))
        .unwrap();
    assert_eq!(p.machines[0].state.subcontracts[&5].holds[&1], big(20));
    assert_eq!(p.machines[0].state.delta(1).left_allowance, big(20));
    assert_eq!(p.delta(1), big(90));
    // a non-owner caller pays from its own out-capacity (10 received + 10 credit)
    let err = p
        .submit(Side::Right, call(5, "tip", pair_args(1, 21)))
        .unwrap_err();
    assert!(matches!(
        err,
        AccountError::SubcontractOverdraw {
            bound: OverdrawBound::CallerOutCapacity,
            ..
        }
    ));
    p.submit(Side::Right, call(5, "tip", pair_args(1, 20)))
        .unwrap();
    assert_eq!(p.delta(1), big(110));
    // nobody may make the subcontract take from the side that did not call
    let err = p
        .submit(Side::Left, call(5, "steal", pair_args(1, 1)))
        .unwrap_err();
    assert!(matches!(
        err,
        AccountError::SubcontractOverdraw {
            bound: OverdrawBound::NotCaller,
            from: Side::Right,
            ..
        }
    ));
    p.submit(Side::Right, call(5, "all", Data::Bool(false)))
        .unwrap();
    assert_eq!(p.delta(1), big(90));
    assert!(p.machines[1].state.subcontracts.is_empty());
    assert_eq!(p.machines[1].state.delta(1).left_allowance, big(0));
}

#[test]
fn code_must_be_installed_before_an_instance_opens() {
    let mut p = htlc_pair();
    let unknown = keccak256(b"nope");
    let open = |code| AccountTx::OpenSubcontract {
        id: 1,
        code,
        holds: vec![],
        params: Data::Text("x".into()),
    };
    let err = p.submit(Side::Left, open(unknown)).unwrap_err();
    assert!(matches!(err, AccountError::UnknownCode(_)), "{err}");
    // Installing it (a frame both sides sign) makes it available; twice is refused.
    let install = AccountTx::InstallCode {
        code: b"nope".to_vec(),
    };
    p.submit(Side::Right, install.clone()).unwrap();
    assert!(p.machines[0].state.codes.contains_key(&unknown));
    assert_eq!(p.machines[0].state, p.machines[1].state);
    let err = p.submit(Side::Left, install).unwrap_err();
    assert!(matches!(err, AccountError::DuplicateCode(_)), "{err}");
    p.submit(Side::Left, open(unknown)).unwrap();
    let err = p
        .submit(Side::Right, call(1, "go", Data::Bool(true)))
        .unwrap_err();
    assert!(err.to_string().contains("method `go` failed"), "{err}");
}

#[test]
fn ack_without_pending_and_misaddressed_messages() {
    let mut p = Pair::new();
    p.submit(Side::Right, credit(1, 10)).unwrap();
    p.machines[0].enqueue(pay(1, 1));
    p.propose(Side::Left);
    p.deliver_one().unwrap();
    let ack = p.wire.pop_front().unwrap();
    let mut stale = p.machines[0].clone();
    stale.pending = None;
    let err = stale.receive(&p.keys[0], &ack, &mut p.engine).unwrap_err();
    assert_eq!(err, AccountError::NoPendingFrame);
    let mut misrouted = ack.clone();
    misrouted.to = misrouted.from;
    let err = p.machines[0]
        .receive(&p.keys[0], &misrouted, &mut p.engine)
        .unwrap_err();
    assert_eq!(err.reaction(), Reaction::Ignore);
    let err = p.machines[0]
        .receive(&p.keys[1], &ack, &mut p.engine)
        .unwrap_err();
    assert!(matches!(err, AccountError::KeyMismatch { .. }));
    p.machines[0]
        .receive(&p.keys[0], &ack, &mut p.engine)
        .unwrap();
    p.assert_converged();
}
