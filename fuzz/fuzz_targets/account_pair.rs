//! Structure-aware: two account machines (`AccountMachine::propose` / `receive`, real
//! signatures) driven by a fuzz-chosen sequence of operations, after LDK's
//! `chanmon_consistency`: queue txs on either side (payments, credit limits, chain deltas),
//! propose, deliver any in-flight message (reordering), drop one (a transport resends it
//! later), duplicate one, deliver a tampered copy, let time pass. Then quiescence: every
//! message is delivered in order and both sides propose until nothing is left.
//!
//! Findings: any panic; a genuine message delivered in order and refused; a tampered one
//! accepted, or a refusal that changed the receiver; a height that jumps or falls; the two
//! sides committing different states at a height; a payment that moves Δ further outside
//! its bounds (RCPAN); committed deltas that differ from an independent model of the
//! committed txs (conservation of value per token); and, after quiescence, frames still in
//! flight or different state hashes.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use xln::account::{
    AccountError, AccountFrame, AccountMachine, AccountMessage, AccountMessageBody, AccountTx,
    BigInt, Delta, NoSubcontracts, Side, TokenId,
};
use xln::crypto::SecretKey;

#[derive(Arbitrary, Debug, Clone)]
enum Tx {
    Pay {
        token: bool,
        amount: u16,
    },
    Credit {
        token: bool,
        amount: u16,
    },
    Chain {
        token: bool,
        collateral: i16,
        ondelta: i16,
    },
}

#[derive(Arbitrary, Debug)]
enum Op {
    Enqueue { left: bool, tx: Tx },
    Propose { left: bool },
    Deliver { index: u8 },
    Drop { index: u8 },
    Duplicate { index: u8 },
    Tamper { index: u8, how: u8 },
    Tick { by: u8 },
}

fn token(t: bool) -> TokenId {
    if t {
        2
    } else {
        1
    }
}

fn account_tx(tx: &Tx) -> AccountTx {
    match tx {
        Tx::Pay { token: t, amount } => AccountTx::Pay {
            token: token(*t),
            amount: BigInt::from(*amount),
        },
        Tx::Credit { token: t, amount } => AccountTx::SetCreditLimit {
            token: token(*t),
            amount: BigInt::from(*amount),
        },
        Tx::Chain {
            token: t,
            collateral,
            ondelta,
        } => AccountTx::ChainDelta {
            token: token(*t),
            collateral_change: BigInt::from(*collateral),
            ondelta_change: BigInt::from(*ondelta),
        },
    }
}

/// Δ's distance outside `bounds` (below −left limit, above collateral + right limit), with
/// held amounts counted (none here: no subcontracts).
fn excess(values: &Delta, bounds: &Delta) -> (BigInt, BigInt) {
    let zero = BigInt::from(0);
    let d = &values.ondelta + &values.offdelta;
    let lower = (-&bounds.left_credit_limit - (&d - &values.left_allowance)).max(zero.clone());
    let upper = (&d + &values.right_allowance - (&bounds.collateral + &bounds.right_credit_limit))
        .max(zero);
    (lower, upper)
}

/// One side, its key, and the model of what it committed.
struct Party {
    key: SecretKey,
    machine: AccountMachine,
    /// Expected delta per token from the committed txs alone.
    model: BTreeMap<TokenId, Delta>,
    /// State hash after each committed height.
    committed: BTreeMap<u64, [u8; 32]>,
}

impl Party {
    fn apply_model(&mut self, frame: &AccountFrame, proposer: Side) {
        for tx in &frame.txs {
            match tx {
                AccountTx::Pay { token, amount } => {
                    let d = self.model.entry(*token).or_default();
                    let before = d.clone();
                    // Δ is the left's balance: the left paying lowers it.
                    match proposer {
                        Side::Left => d.offdelta -= amount,
                        Side::Right => d.offdelta += amount,
                    }
                    // RCPAN: a payment never moves Δ further outside its bounds. (Limits
                    // may be lowered below drawn debt, and chain deltas are facts, so
                    // only payments are held to this.)
                    let (lb, ub) = excess(&before, d);
                    let (la, ua) = excess(d, d);
                    assert!(la <= lb && ua <= ub, "RCPAN: a payment of {amount} on token {token} moved Δ outside: {before:?} -> {d:?}");
                }
                AccountTx::SetCreditLimit { token, amount } => {
                    let d = self.model.entry(*token).or_default();
                    // A limit is set by the side that bears its risk.
                    match proposer {
                        Side::Left => d.right_credit_limit = amount.clone(),
                        Side::Right => d.left_credit_limit = amount.clone(),
                    }
                }
                AccountTx::ChainDelta {
                    token,
                    collateral_change,
                    ondelta_change,
                } => {
                    let d = self.model.entry(*token).or_default();
                    d.collateral += collateral_change;
                    d.ondelta += ondelta_change;
                }
                other => panic!("a frame carries a tx this harness never queued: {other:?}"),
            }
        }
    }
}

struct Harness {
    parties: [Party; 2], // index 0 = left
    /// (receiver index, message) in flight, in send order.
    wire: Vec<(usize, AccountMessage)>,
    /// Dropped or early messages a transport would resend.
    resend: Vec<(usize, AccountMessage)>,
    now: u64,
}

impl Harness {
    fn new() -> Harness {
        let mut keys = [
            SecretKey::from_seed(b"fuzz account a"),
            SecretKey::from_seed(b"fuzz account b"),
        ];
        if keys[0].address() > keys[1].address() {
            keys.swap(0, 1);
        }
        let [a, b] = keys;
        let party = |key: SecretKey, peer: &SecretKey| Party {
            machine: AccountMachine::new(key.address(), peer.address()),
            key,
            model: BTreeMap::new(),
            committed: BTreeMap::new(),
        };
        let left = party(a.clone(), &b);
        let right = party(b, &a);
        assert_eq!(left.machine.side, Side::Left);
        Harness {
            parties: [left, right],
            wire: Vec::new(),
            resend: Vec::new(),
            now: 1,
        }
    }

    fn propose(&mut self, i: usize) {
        let p = &mut self.parties[i];
        let outcome = p
            .machine
            .propose(&p.key, self.now, &mut NoSubcontracts)
            .expect("propose with the side's own key");
        if let Some(m) = outcome.message {
            self.wire.push((1 - i, m));
        }
    }

    /// Delivers a genuine message; returns false if it was put back for a resend.
    fn deliver(&mut self, to: usize, msg: AccountMessage) -> bool {
        let before_height = self.parties[to].machine.state.height;
        let before_pending = self.parties[to].machine.pending.clone();
        let before_state = self.parties[to].machine.state.clone();
        let expected = self.parties[to].machine.received + 1;
        let p = &mut self.parties[to];
        match p.machine.receive(&p.key, &msg, &mut NoSubcontracts) {
            Ok(replies) => {
                for r in replies {
                    self.wire.push((1 - to, r));
                }
            }
            Err(AccountError::Replay { .. }) => return true, // a duplicate: already applied
            Err(e @ AccountError::Gap { .. }) => {
                assert!(
                    msg.counter > expected,
                    "gap reported for counter {} (expected {expected}): {e}",
                    msg.counter
                );
                self.resend.push((to, msg));
                return false;
            }
            Err(e) => panic!(
                "a genuine in-order message (counter {}) was refused: {e}; message {msg:?}",
                msg.counter
            ),
        }
        let after = &self.parties[to].machine.state;
        let height = after.height;
        assert!(
            height == before_height || height == before_height + 1,
            "height {before_height} -> {height}"
        );
        if height == before_height + 1 {
            let (frame, proposer) = match &msg.body {
                AccountMessageBody::Propose { frame, .. } => {
                    (frame.clone(), self.parties[1 - to].machine.side)
                }
                AccountMessageBody::Decline { .. } => return true, // a decline commits nothing
                AccountMessageBody::Ack { .. } => (
                    before_pending.expect("an ack commits this side's pending frame"),
                    self.parties[to].machine.side,
                ),
            };
            self.commit(to, &before_state, &frame, proposer);
        }
        true
    }

    fn commit(
        &mut self,
        i: usize,
        before: &xln::account::AccountState,
        frame: &AccountFrame,
        proposer: Side,
    ) {
        let p = &mut self.parties[i];
        let after = p.machine.state.clone();
        assert_eq!(
            frame.height, after.height,
            "committed a frame of another height"
        );
        p.committed.insert(after.height, after.state_hash());
        let other = &self.parties[1 - i].committed;
        if let Some(h) = other.get(&after.height) {
            assert_eq!(
                *h,
                after.state_hash(),
                "the sides committed different states at height {}",
                after.height
            );
        }
        let p = &mut self.parties[i];
        p.apply_model(frame, proposer);
        let tokens: Vec<TokenId> = before
            .deltas
            .keys()
            .chain(after.deltas.keys())
            .chain(p.model.keys())
            .copied()
            .collect();
        for t in tokens {
            let a = after.delta(t);
            assert!(
                a.collateral >= BigInt::from(0),
                "negative collateral on token {t}"
            );
            let m = p.model.get(&t).cloned().unwrap_or_default();
            assert_eq!(
                (
                    &a.collateral,
                    &a.ondelta,
                    &a.offdelta,
                    &a.left_credit_limit,
                    &a.right_credit_limit
                ),
                (
                    &m.collateral,
                    &m.ondelta,
                    &m.offdelta,
                    &m.left_credit_limit,
                    &m.right_credit_limit
                ),
                "token {t}: the committed delta is not what the committed txs add up to"
            );
        }
    }

    /// Delivers a tampered copy: it must be refused and leave the receiver unchanged.
    fn tamper(&mut self, index: usize, how: u8) {
        let (to, msg) = self.wire[index].clone();
        let mut bad = msg.clone();
        match (how % 4, &mut bad.body) {
            (0, _) => bad.counter = bad.counter.wrapping_add(1 + u64::from(how)),
            (1, AccountMessageBody::Propose { frame, .. }) => frame.timestamp ^= 1 + u64::from(how),
            (1, AccountMessageBody::Ack { frame_hash, .. }) => {
                frame_hash[usize::from(how) % 32] ^= 1
            }
            (2, AccountMessageBody::Propose { signature, .. }) => signature.s[31] ^= 1,
            (2, AccountMessageBody::Ack { height, .. }) => *height = height.wrapping_add(1),
            (_, AccountMessageBody::Propose { frame, .. }) => frame.txs.push(AccountTx::Pay {
                token: 1,
                amount: BigInt::from(1),
            }),
            (_, _) => bad.counter = 0,
        }
        if bad == msg {
            return;
        }
        let p = &mut self.parties[to];
        let before = format!("{:?}", p.machine);
        let result = p.machine.receive(&p.key, &bad, &mut NoSubcontracts);
        assert!(result.is_err(), "a tampered message was accepted: {bad:?}");
        assert_eq!(
            format!("{:?}", p.machine),
            before,
            "a refused message changed the receiver"
        );
    }

    fn run(&mut self, op: &Op) {
        let pick = |n: usize, i: &u8| usize::from(*i) % n;
        match op {
            Op::Enqueue { left, tx } => self.parties[usize::from(!*left)]
                .machine
                .enqueue(account_tx(tx)),
            Op::Propose { left } => self.propose(usize::from(!*left)),
            Op::Deliver { index } if !self.wire.is_empty() => {
                let (to, msg) = self.wire.remove(pick(self.wire.len(), index));
                self.deliver(to, msg);
            }
            Op::Drop { index } if !self.wire.is_empty() => {
                let m = self.wire.remove(pick(self.wire.len(), index));
                self.resend.push(m);
            }
            Op::Duplicate { index } if !self.wire.is_empty() => {
                let m = self.wire[pick(self.wire.len(), index)].clone();
                self.wire.push(m);
            }
            Op::Tamper { index, how } if !self.wire.is_empty() => {
                self.tamper(pick(self.wire.len(), index), *how)
            }
            Op::Tick { by } => self.now += u64::from(*by),
            _ => {}
        }
    }

    /// Delivers everything (resends included) in order, proposing while txs remain.
    fn quiesce(&mut self) {
        for _ in 0..400 {
            if self.wire.is_empty() && self.resend.is_empty() {
                let before = (self.parties[0].machine.sent, self.parties[1].machine.sent);
                for i in 0..2 {
                    if self.parties[i].machine.pending.is_none()
                        && !self.parties[i].machine.mempool.is_empty()
                    {
                        self.propose(i);
                    }
                }
                if (self.parties[0].machine.sent, self.parties[1].machine.sent) == before {
                    return;
                }
            }
            let mut batch: Vec<(usize, AccountMessage)> =
                self.wire.drain(..).chain(self.resend.drain(..)).collect();
            batch.sort_by_key(|(to, m)| (*to, m.counter));
            for (to, msg) in batch {
                self.deliver(to, msg);
            }
        }
        panic!("no quiescence after 400 rounds");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut h = Harness::new();
    for op in ops.iter().take(200) {
        h.run(op);
    }
    h.quiesce();
    let [l, r] = &h.parties;
    assert!(
        l.machine.pending.is_none() && r.machine.pending.is_none(),
        "frames in flight after quiescence"
    );
    assert_eq!(
        l.machine.state.height, r.machine.state.height,
        "heights differ after quiescence"
    );
    assert_eq!(
        l.machine.state.state_hash(),
        r.machine.state.state_hash(),
        "the sides diverged"
    );
    assert_eq!(l.machine.state, r.machine.state);
});
