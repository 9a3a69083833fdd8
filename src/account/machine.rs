//! [`AccountMachine`]: one side of an account driving the 2-of-2 protocol — mempool,
//! proposing and signing frames, verifying and countersigning the peer's, message
//! counters, one frame in flight, and the left-wins rule for simultaneous proposals.

use std::collections::BTreeSet;

use super::{
    AccountError, AccountFrame, AccountMessage, AccountMessageBody, AccountState, AccountTx, Side,
    SubcontractEngine, TokenId, FRAME_TXS_MAX,
};
use crate::crypto::{tagged, verify_address, Address, Canonical, RlpItem, SecretKey, Signature};

/// What a proposal produced: the message to send (None if nothing to propose or a frame is
/// already in flight) and txs rejected before signing.
#[derive(Clone, Debug)]
pub struct ProposeOutcome {
    /// The proposal to deliver to the peer, if a frame was made.
    pub message: Option<AccountMessage>,
    /// Txs dropped from the mempool because they failed against the committed state,
    /// with why (never signed).
    pub rejected: Vec<(AccountTx, AccountError)>,
}

/// Who seals this side's messages and how the peer's are checked.
#[derive(Clone, Copy)]
pub enum Seal<'a> {
    /// A single-signer side: `key` signs each proposal and ack, and the peer's secp256k1
    /// signature is verified against the peer's address.
    Key(&'a SecretKey),
    /// A side run by an entity board: the machine runs inside the entity's consensus, where
    /// no validator key may be used. Outgoing messages carry [`UNSEALED`] and are sealed
    /// afterwards by the board's quorum (a hanko); incoming ones are handed in only after
    /// the caller verified the peer board's hanko over [`AccountMessage::hanko_digest`].
    Quorum,
}

/// The signature field of a message whose real seal is a board's hanko carried beside it.
/// It never verifies (r = s = 0 are out of range).
pub const UNSEALED: Signature = Signature {
    r: [0; 32],
    s: [0; 32],
    v: 27,
};

/// One side of an account. `state` is what both sides committed; `pending` is this side's
/// frame in flight, whose resulting state is kept privately until the peer's ack.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AccountMachine {
    /// This side's address.
    pub me: Address,
    /// The peer's address.
    pub peer: Address,
    /// Which side this is (left if `me` is the lower address).
    pub side: Side,
    /// The committed state.
    pub state: AccountState,
    /// Txs waiting to be proposed, in order.
    pub mempool: Vec<AccountTx>,
    /// This side's frame in flight, if any.
    pub pending: Option<AccountFrame>,
    /// Counter of the last message sent (messages are numbered from 1).
    pub sent: u64,
    /// Counter of the last message received.
    pub received: u64,
    /// The state `pending` leads to (`last_frame_hash` still the previous frame's) and
    /// `pending`'s hash.
    #[serde(with = "crate::crypto::readable")]
    pending_state: Option<(AccountState, [u8; 32])>,
    /// Txs of this side's frame the peer declined, for the caller to take
    /// ([`AccountMachine::take_declined`]) right after [`AccountMachine::receive_with`].
    #[serde(skip)]
    declined: Vec<(AccountTx, String)>,
}

/// Decides whether to decline a valid peer frame: `Some(reason)` declines it. Given the
/// frame and this side's committed state before it.
pub type DeclineRule<'a> = &'a dyn Fn(&AccountFrame, &AccountState) -> Option<String>;

impl AccountMachine {
    /// A fresh machine for `me`'s side of the account with `peer`. `me == peer` gives a
    /// degenerate account that only ever talks to itself.
    pub fn new(me: Address, peer: Address) -> Self {
        AccountMachine {
            me,
            peer,
            side: if me <= peer { Side::Left } else { Side::Right },
            state: AccountState::new(me, peer),
            mempool: Vec::new(),
            pending: None,
            sent: 0,
            received: 0,
            pending_state: None,
            declined: Vec::new(),
        }
    }

    /// The txs of this side's frames the peer declined since the last call, with why.
    pub fn take_declined(&mut self) -> Vec<(AccountTx, String)> {
        std::mem::take(&mut self.declined)
    }

    /// Queues `tx` for this side's next proposal. It is validated only when proposed.
    pub fn enqueue(&mut self, tx: AccountTx) {
        self.mempool.push(tx);
    }

    /// Builds, applies (to a copy) and signs a frame from the mempool at height+1 with
    /// `timestamp` (raised to the committed timestamp if lower, so account time never runs
    /// backwards). Takes at most [`FRAME_TXS_MAX`] txs. Txs that fail validation are
    /// dropped from the mempool and returned in `rejected` (never signed). One frame in
    /// flight: returns message None while `pending` is Some.
    ///
    /// # Errors
    /// [`AccountError::KeyMismatch`] if `key` is not this side's;
    /// [`AccountError::SigningFailed`] (astronomically unlikely). The machine is unchanged.
    pub fn propose(
        &mut self,
        key: &SecretKey,
        timestamp: u64,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<ProposeOutcome, AccountError> {
        self.propose_sealed(Seal::Key(key), timestamp, engine)
    }

    /// [`AccountMachine::propose`] with the side's [`Seal`].
    ///
    /// # Errors
    /// As [`AccountMachine::propose`].
    pub fn propose_sealed(
        &mut self,
        seal: Seal<'_>,
        timestamp: u64,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<ProposeOutcome, AccountError> {
        self.check_seal(seal)?;
        let mut outcome = ProposeOutcome {
            message: None,
            rejected: Vec::new(),
        };
        if self.pending.is_some() || self.mempool.is_empty() {
            return Ok(outcome);
        }
        let mut next = self.next_state_shell(timestamp.max(self.state.timestamp))?;
        let frame_at = (next.height, next.timestamp);
        let take = self.mempool.len().min(FRAME_TXS_MAX);
        let mut txs = Vec::new();
        let mut touched = BTreeSet::new();
        for tx in &self.mempool[..take] {
            match next.apply_tx_touched(tx, self.side, frame_at, engine) {
                Ok(tokens) => {
                    touched.extend(tokens);
                    txs.push(tx.clone());
                }
                Err(e) => outcome.rejected.push((tx.clone(), e)),
            }
        }
        if txs.is_empty() {
            self.mempool.drain(..take);
            return Ok(outcome);
        }
        let frame = AccountFrame::seal(&next, txs, &touched);
        let hash = frame.hash();
        let signature = sign(seal, &hash)?;
        self.mempool.drain(..take);
        self.pending_state = Some((next, hash));
        self.pending = Some(frame.clone());
        outcome.message = Some(self.message(AccountMessageBody::Propose { frame, signature }));
        Ok(outcome)
    }

    /// Handles a peer message. Verifies: addressed to me from my peer; counter ==
    /// received+1 (else Replay / Gap); the secp256k1 signature of the peer over the frame
    /// hash; height == committed height+1; prev_frame_hash; timestamp not below the
    /// committed one; re-applies the txs and compares the deltas and state hash; only then
    /// commits and returns the countersignature (Ack). On Ack: verifies the peer's
    /// signature over my pending frame's hash, then commits it.
    ///
    /// Simultaneous proposals: if I have a pending frame at the same height: if I am LEFT
    /// I ignore the peer's proposal (still consume its counter; return no messages — the
    /// right will roll back); if I am RIGHT I roll back my pending frame (its txs go back
    /// to the FRONT of my mempool), apply the left's frame, and Ack it.
    ///
    /// # Errors
    /// Any [`AccountError`]; see [`AccountError::reaction`] for what to do with the peer.
    /// ANY error leaves the machine completely unchanged (counters included).
    pub fn receive(
        &mut self,
        key: &SecretKey,
        msg: &AccountMessage,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<Vec<AccountMessage>, AccountError> {
        self.receive_sealed(Seal::Key(key), msg, engine)
    }

    /// [`AccountMachine::receive`] with the side's [`Seal`]. With [`Seal::Quorum`] the
    /// message's own signature is not checked: the caller verified the peer's hanko.
    ///
    /// # Errors
    /// As [`AccountMachine::receive`].
    pub fn receive_sealed(
        &mut self,
        seal: Seal<'_>,
        msg: &AccountMessage,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<Vec<AccountMessage>, AccountError> {
        self.receive_with(seal, msg, engine, &|_, _| None)
    }

    /// [`AccountMachine::receive_sealed`] with a rule that may decline a valid peer frame
    /// (answered with [`AccountMessageBody::Decline`] instead of an ack; nothing commits).
    /// A decline of this side's own frame rolls it back; its txs are then in
    /// [`AccountMachine::take_declined`].
    ///
    /// # Errors
    /// As [`AccountMachine::receive`].
    pub fn receive_with(
        &mut self,
        seal: Seal<'_>,
        msg: &AccountMessage,
        engine: &mut dyn SubcontractEngine,
        decline: DeclineRule<'_>,
    ) -> Result<Vec<AccountMessage>, AccountError> {
        self.check_seal(seal)?;
        if msg.from != self.peer || msg.to != self.me {
            return Err(AccountError::NotAddressedToMe {
                from: msg.from,
                to: msg.to,
            });
        }
        let expected = self.received.saturating_add(1);
        if msg.counter < expected {
            return Err(AccountError::Replay {
                expected,
                got: msg.counter,
            });
        }
        if msg.counter > expected {
            return Err(AccountError::Gap {
                expected,
                got: msg.counter,
            });
        }
        // Work on a copy so that any error leaves `self` untouched.
        let mut next = self.clone();
        let replies = match &msg.body {
            AccountMessageBody::Propose { frame, signature } => {
                next.on_propose(seal, frame, signature, engine, decline)?
            }
            AccountMessageBody::Ack {
                height,
                frame_hash,
                signature,
            } => {
                next.on_ack(seal, *height, frame_hash, signature)?;
                Vec::new()
            }
            AccountMessageBody::Decline {
                height,
                frame_hash,
                reason,
                signature,
            } => {
                next.on_decline(seal, *height, frame_hash, reason, signature)?;
                Vec::new()
            }
        };
        next.received = expected;
        *self = next;
        Ok(replies)
    }

    fn on_propose(
        &mut self,
        seal: Seal<'_>,
        frame: &AccountFrame,
        signature: &Signature,
        engine: &mut dyn SubcontractEngine,
        decline: DeclineRule<'_>,
    ) -> Result<Vec<AccountMessage>, AccountError> {
        if frame.txs.len() > FRAME_TXS_MAX {
            return Err(AccountError::TooMany {
                what: "txs in one frame",
                count: frame.txs.len(),
                max: FRAME_TXS_MAX,
            });
        }
        for tx in &frame.txs {
            tx.check_depth()?;
        }
        let hash = frame.hash();
        verify_peer(seal, &self.peer, &hash, signature).map_err(|_| {
            AccountError::BadSignature {
                what: "proposal",
                height: frame.height,
            }
        })?;
        if let Some(mine) = &self.pending {
            if mine.height == frame.height {
                match self.side {
                    // Left wins: the right rolls back and acks our frame instead.
                    Side::Left => return Ok(Vec::new()),
                    Side::Right => self.roll_back(),
                }
            }
        }
        let next = self.verify_frame(frame, engine)?;
        if let Some(reason) = decline(frame, &self.state) {
            let mut reason = reason;
            reason.truncate(super::frame::DECLINE_REASON_BYTES_MAX);
            let signature = sign(seal, &hash)?;
            return Ok(vec![self.message(AccountMessageBody::Decline {
                height: frame.height,
                frame_hash: hash,
                reason,
                signature,
            })]);
        }
        self.commit(next, hash);
        let signature = sign(seal, &hash)?;
        Ok(vec![self.message(AccountMessageBody::Ack {
            height: frame.height,
            frame_hash: hash,
            signature,
        })])
    }

    /// The peer declined our frame in flight: drop it; its txs go to `declined`.
    fn on_decline(
        &mut self,
        seal: Seal<'_>,
        height: u64,
        frame_hash: &[u8; 32],
        reason: &str,
        signature: &Signature,
    ) -> Result<(), AccountError> {
        let (Some(pending), Some((_, hash))) = (&self.pending, &self.pending_state) else {
            return Err(AccountError::NoPendingFrame);
        };
        if height != pending.height {
            return Err(AccountError::WrongHeight {
                expected: pending.height,
                got: height,
            });
        }
        if frame_hash != hash {
            return Err(AccountError::WrongFrameHash { height });
        }
        verify_peer(seal, &self.peer, frame_hash, signature).map_err(|_| {
            AccountError::BadSignature {
                what: "decline",
                height,
            }
        })?;
        if let Some(frame) = self.pending.take() {
            self.declined
                .extend(frame.txs.into_iter().map(|tx| (tx, reason.to_string())));
        }
        self.pending_state = None;
        Ok(())
    }

    /// Checks that `frame` extends the committed state and re-applies its txs as the
    /// peer's; returns the state it leads to (with `last_frame_hash` still the previous).
    fn verify_frame(
        &self,
        frame: &AccountFrame,
        engine: &mut dyn SubcontractEngine,
    ) -> Result<AccountState, AccountError> {
        let expected_height = self.state.height.saturating_add(1);
        if frame.height != expected_height {
            return Err(AccountError::WrongHeight {
                expected: expected_height,
                got: frame.height,
            });
        }
        if frame.prev_frame_hash != self.state.last_frame_hash {
            return Err(AccountError::WrongPrevHash {
                height: frame.height,
            });
        }
        if frame.timestamp < self.state.timestamp {
            return Err(AccountError::TimestampRegressed {
                previous: self.state.timestamp,
                got: frame.timestamp,
            });
        }
        let mut next = self.next_state_shell(frame.timestamp)?;
        let mut touched: BTreeSet<TokenId> = BTreeSet::new();
        for (index, tx) in frame.txs.iter().enumerate() {
            let tokens = next
                .apply_tx_touched(
                    tx,
                    self.side.other(),
                    (frame.height, frame.timestamp),
                    engine,
                )
                .map_err(|e| AccountError::PeerFrameTxInvalid {
                    height: frame.height,
                    index,
                    error: Box::new(e),
                })?;
            touched.extend(tokens);
        }
        let deltas_match = frame.token_ids.iter().copied().eq(touched.iter().copied())
            && frame.deltas.len() == frame.token_ids.len()
            && frame
                .token_ids
                .iter()
                .zip(&frame.deltas)
                .all(|(token, delta)| next.deltas.get(token) == Some(delta));
        if !deltas_match {
            return Err(AccountError::FrameDeltasMismatch {
                height: frame.height,
            });
        }
        let state_hash = next.state_hash();
        if state_hash != frame.state_hash {
            return Err(AccountError::StateHashMismatch {
                height: frame.height,
                expected: state_hash,
                got: frame.state_hash,
            });
        }
        Ok(next)
    }

    fn on_ack(
        &mut self,
        seal: Seal<'_>,
        height: u64,
        frame_hash: &[u8; 32],
        signature: &Signature,
    ) -> Result<(), AccountError> {
        let (Some(pending), Some((_, hash))) = (&self.pending, &self.pending_state) else {
            return Err(AccountError::NoPendingFrame);
        };
        if height != pending.height {
            return Err(AccountError::WrongHeight {
                expected: pending.height,
                got: height,
            });
        }
        let hash = *hash;
        if *frame_hash != hash {
            return Err(AccountError::WrongFrameHash { height });
        }
        verify_peer(seal, &self.peer, &hash, signature).map_err(|_| {
            AccountError::BadSignature {
                what: "ack",
                height,
            }
        })?;
        if let Some((next, _)) = self.pending_state.take() {
            self.commit(next, hash);
        }
        Ok(())
    }

    /// The right's side of a simultaneous proposal: drop the frame in flight and put its
    /// txs back at the front of the mempool, to be re-proposed on top of the left's.
    fn roll_back(&mut self) {
        if let Some(frame) = self.pending.take() {
            self.mempool.splice(0..0, frame.txs);
        }
        self.pending_state = None;
    }

    /// Makes `next` (the state a frame leads to, `last_frame_hash` still the previous
    /// frame's) the committed state, chained by `frame_hash`. Clears the frame in flight.
    fn commit(&mut self, mut next: AccountState, frame_hash: [u8; 32]) {
        assert!(
            next.height == self.state.height + 1,
            "account invariant broken: committing height {} on top of height {}",
            next.height,
            self.state.height
        );
        assert!(
            next.last_frame_hash == self.state.last_frame_hash,
            "account invariant broken: frame at height {} does not chain to the committed frame",
            next.height
        );
        next.last_frame_hash = frame_hash;
        self.state = next;
        self.pending = None;
        self.pending_state = None;
    }

    /// A copy of the committed state at the next height and `timestamp`, for txs to be
    /// applied to.
    fn next_state_shell(&self, timestamp: u64) -> Result<AccountState, AccountError> {
        let height = self
            .state
            .height
            .checked_add(1)
            .ok_or(AccountError::WrongHeight {
                expected: self.state.height,
                got: self.state.height,
            })?;
        let mut next = self.state.clone();
        next.height = height;
        next.timestamp = timestamp;
        Ok(next)
    }

    /// Numbers and addresses an outgoing message.
    fn message(&mut self, body: AccountMessageBody) -> AccountMessage {
        self.sent += 1;
        AccountMessage {
            from: self.me,
            to: self.peer,
            counter: self.sent,
            body,
        }
    }

    fn check_seal(&self, seal: Seal<'_>) -> Result<(), AccountError> {
        let Seal::Key(key) = seal else {
            return Ok(());
        };
        let got = key.address();
        if got == self.me {
            Ok(())
        } else {
            Err(AccountError::KeyMismatch {
                expected: self.me,
                got,
            })
        }
    }
}

fn sign(seal: Seal<'_>, hash: &[u8; 32]) -> Result<Signature, AccountError> {
    match seal {
        Seal::Key(key) => key
            .sign_digest(hash)
            .map_err(|e| AccountError::SigningFailed(e.to_string())),
        Seal::Quorum => Ok(UNSEALED),
    }
}

/// Checks the peer's signature for a single-signer side; a quorum side's caller checked
/// the hanko before handing the message in.
fn verify_peer(
    seal: Seal<'_>,
    peer: &Address,
    hash: &[u8; 32],
    signature: &Signature,
) -> Result<(), ()> {
    match seal {
        Seal::Key(_) => verify_address(peer, hash, signature).map_err(|_| ()),
        Seal::Quorum => Ok(()),
    }
}

/// Canonical encoding of one side's whole machine (for hashing a state that contains it,
/// such as an entity's): `tagged("xln/account-machine/v1", [me, peer, state, mempool,
/// pending, sent, received])`. The private pending state is a function of `state` and
/// `pending`, so it needs no field of its own.
impl Canonical for AccountMachine {
    fn canonical_rlp(&self) -> RlpItem {
        tagged(
            b"xln/account-machine/v1",
            vec![
                self.me.canonical_rlp(),
                self.peer.canonical_rlp(),
                self.state.canonical_rlp(),
                self.mempool.canonical_rlp(),
                self.pending.canonical_rlp(),
                self.sent.canonical_rlp(),
                self.received.canonical_rlp(),
            ],
        )
    }
}
