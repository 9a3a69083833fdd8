//! The contracts under the embedded EVM: reserves, transfers, collateral, settlement and
//! disputes work as DESIGN.md says, and every guarded path refuses bad input (one
//! signature, forged or high-S signatures, stale nonces, unbalanced diffs, active
//! disputes, early finalization, wrong boards).

mod chain_support;

use alloy_primitives::{Bytes, I256, U256};
use chain_support::*;
use xln::chain::{
    AccountProof, ChainBoard, ChainEvent, Depository, EntityKeys, EventWatcher, SettlementDiff,
};

fn i(n: i64) -> I256 {
    I256::try_from(n).expect("small")
}

/// alice and bob with 1000 of token 1 each, 300 collateral from each in their account.
fn funded_account() -> (Depository, Party, Party) {
    let mut dep = embedded();
    let a = funded(&mut dep, "alice", 1, 1000);
    let b = funded(&mut dep, "bob", 1, 1000);
    dep.reserve_to_collateral(a.number, &a.keys, b.number, 1, u(300))
        .expect("alice funds");
    dep.reserve_to_collateral(b.number, &b.keys, a.number, 1, u(300))
        .expect("bob funds");
    (dep, a, b)
}

#[test]
fn reserves_transfers_and_collateral() {
    let (mut dep, a, b) = funded_account();
    assert_eq!(a.number, 1);
    assert_eq!(b.number, 2);
    assert_eq!(dep.reserve(a.number, 1).unwrap(), u(700));
    // Collateral 600; ondelta counts only the left's (alice, number 1) funding.
    assert_eq!(dep.collateral(1, 2, 1).unwrap(), (u(600), i(300)));
    dep.reserve_to_reserve(a.number, &a.keys, b.number, 1, u(50))
        .expect("transfer");
    assert_eq!(dep.reserve(a.number, 1).unwrap(), u(650));
    assert_eq!(dep.reserve(b.number, 1).unwrap(), u(750));
    let reason = rejected(dep.reserve_to_reserve(a.number, &a.keys, b.number, 1, u(10_000)));
    assert!(reason.contains("InsufficientReserve"), "{reason}");
    // bob's key cannot move alice's reserve.
    let reason = rejected(dep.reserve_to_reserve(a.number, &b.keys, b.number, 1, u(1)));
    assert!(reason.contains("BoardMismatch"), "{reason}");
    assert_eq!(dep.board_hash(a.number).unwrap(), a.keys.board.hash());
}

#[test]
fn rust_digests_match_the_contract() {
    let (mut dep, _, _) = funded_account();
    let diffs = vec![SettlementDiff::withdraw(1, &100.into(), &(-20).into()).unwrap()];
    let to = dep.deployment.depository;
    let call = xln::chain::contracts::Depository::settlementDigestCall {
        left: u(1),
        right: u(2),
        nonce: u(7),
        diffs: diffs
            .iter()
            .map(|d| xln::chain::contracts::Depository::SettlementDiff {
                token: U256::from(d.token),
                leftReserveDiff: d.left_reserve,
                rightReserveDiff: d.right_reserve,
                collateralDiff: d.collateral,
                ondeltaDiff: d.ondelta,
            })
            .collect(),
    };
    use alloy_sol_types::SolCall;
    let out = dep.chain.call(to, Bytes::from(call.abi_encode())).unwrap();
    let on_chain =
        xln::chain::contracts::Depository::settlementDigestCall::abi_decode_returns(&out).unwrap();
    assert_eq!(on_chain, dep.domain().settlement_digest(1, 2, 7, &diffs));
}

#[test]
fn cooperative_settlement_applies_all_diffs() {
    let (mut dep, a, b) = funded_account();
    // alice withdraws 100 of the collateral, bob 50.
    let diffs = vec![SettlementDiff::withdraw(1, &100.into(), &50.into()).unwrap()];
    dep.settle((1, 2), (&a.keys, &b.keys), 1, &diffs)
        .expect("settles");
    assert_eq!(dep.reserve(1, 1).unwrap(), u(800));
    assert_eq!(dep.reserve(2, 1).unwrap(), u(750));
    assert_eq!(dep.collateral(1, 2, 1).unwrap(), (u(450), i(200)));
    assert_eq!(dep.account_nonce(1, 2).unwrap(), 1);
}

#[test]
fn settlement_refusals() {
    let (mut dep, a, b) = funded_account();
    let diffs = vec![SettlementDiff::withdraw(1, &100.into(), &0.into()).unwrap()];
    let digest = dep.domain().settlement_digest(1, 2, 1, &diffs);
    let good_left = a.keys.sign(digest).unwrap();
    let good_right = b.keys.sign(digest).unwrap();

    // One signature: the right entity's signature is empty.
    let mut unsigned = good_right.clone();
    unsigned.signatures = vec![Bytes::new()];
    let r = rejected(dep.settle_signed((1, 2), 1, &diffs, good_left.clone(), unsigned));
    assert!(r.contains("BelowThreshold"), "{r}");

    // Forged: mallory signs in bob's board slot.
    let forged = EntityKeys {
        board: b.keys.board.clone(),
        keys: vec![key("mallory")],
    };
    let mut sig = forged.sign(digest).unwrap();
    sig.signatures = vec![EntityKeys::single(key("mallory"))
        .sign(digest)
        .unwrap()
        .signatures[0]
        .clone()];
    let r = rejected(dep.settle_signed((1, 2), 1, &diffs, good_left.clone(), sig));
    assert!(r.contains("not the validator"), "{r}");

    // High-S twin of a valid signature (same signer, malleated): refused.
    let mut high = good_right.clone();
    high.signatures = vec![malleate(&good_right.signatures[0])];
    let r = rejected(dep.settle_signed((1, 2), 1, &diffs, good_left.clone(), high));
    assert!(r.contains("high s"), "{r}");

    // Signatures over another chain's digest (a replay across chains) do not verify.
    let other = xln::chain::signing::Domain {
        chain_id: 1,
        ..dep.domain()
    };
    let foreign = other.settlement_digest(1, 2, 1, &diffs);
    let r = rejected(dep.settle_signed(
        (1, 2),
        1,
        &diffs,
        a.keys.sign(foreign).unwrap(),
        b.keys.sign(foreign).unwrap(),
    ));
    assert!(r.contains("not the validator"), "{r}");

    // Unbalanced diff.
    let mut bad = diffs.clone();
    bad[0].collateral = i(-99);
    let r = rejected(dep.settle((1, 2), (&a.keys, &b.keys), 1, &bad));
    assert!(r.contains("does not sum to zero"), "{r}");

    // Wrong order of sides.
    let r = rejected(dep.settle((2, 1), (&b.keys, &a.keys), 1, &diffs));
    assert!(r.contains("BadAccount"), "{r}");

    // Withdrawing more collateral than there is.
    let big = vec![SettlementDiff::withdraw(1, &700.into(), &0.into()).unwrap()];
    let r = rejected(dep.settle((1, 2), (&a.keys, &b.keys), 1, &big));
    assert!(r.contains("collateral too low"), "{r}");

    // Nothing above changed anything; the good one applies once, then is stale.
    assert_eq!(dep.collateral(1, 2, 1).unwrap(), (u(600), i(300)));
    dep.settle_signed((1, 2), 1, &diffs, good_left.clone(), good_right.clone())
        .expect("valid");
    let r = rejected(dep.settle_signed((1, 2), 1, &diffs, good_left, good_right));
    assert!(r.contains("StaleNonce"), "{r}");
    assert_eq!(dep.reserve(1, 1).unwrap(), u(800));
}

/// The same signature with s' = n − s and the other recovery id: valid ECDSA, high S.
fn malleate(sig: &Bytes) -> Bytes {
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&sig[32..64]);
    let mut out = sig.to_vec();
    out[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    out[64] = if sig[64] == 27 { 28 } else { 27 };
    Bytes::from(out)
}

fn proof(nonce: u64, offdelta: i64) -> AccountProof {
    AccountProof {
        left: 1,
        right: 2,
        nonce,
        offdeltas: vec![(1, i(offdelta))],
    }
}

#[test]
fn dispute_newer_proof_wins_and_splits_collateral() {
    let (mut dep, a, b) = funded_account();
    // ondelta 300, collateral 600. Stale proof: offdelta +100 (Δ 400, alice favoured);
    // newer: offdelta −150 (Δ 150).
    let stale = proof(3, 100);
    let newer = proof(5, -150);
    let s_stale = dep.sign_proof(&stale, (&a.keys, &b.keys)).unwrap();
    let s_newer = dep.sign_proof(&newer, (&a.keys, &b.keys)).unwrap();
    dep.dispute_start(&stale, 1, s_stale.clone())
        .expect("alice starts with the stale proof");
    let info = dep.dispute(1, 2).unwrap().expect("active");
    assert_eq!((info.nonce, info.started_by), (3, 1));

    // Settlement and funding are frozen while the dispute runs.
    let diffs = vec![SettlementDiff::withdraw(1, &1.into(), &0.into()).unwrap()];
    let r = rejected(dep.settle((1, 2), (&a.keys, &b.keys), 9, &diffs));
    assert!(r.contains("DisputeActive"), "{r}");
    let r = rejected(dep.reserve_to_collateral(a.number, &a.keys, b.number, 1, u(1)));
    assert!(r.contains("DisputeActive"), "{r}");
    let r = rejected(dep.dispute_finalize(1, 2));
    assert!(r.contains("DisputeNotExpired"), "{r}");

    dep.dispute_start(&newer, 2, s_newer)
        .expect("bob overrides with the newer proof");
    let r = rejected(dep.dispute_start(&stale, 1, s_stale));
    assert!(r.contains("StaleNonce"), "{r}");

    dep.chain.mine(xln::chain::DISPUTE_TIMEOUT_BLOCKS).unwrap();
    dep.dispute_finalize(1, 2).expect("finalizes");
    // Δ = 300 − 150 = 150 < C = 600: alice takes 150, bob 450.
    assert_eq!(dep.reserve(1, 1).unwrap(), u(700 + 150));
    assert_eq!(dep.reserve(2, 1).unwrap(), u(700 + 450));
    assert_eq!(dep.collateral(1, 2, 1).unwrap(), (u(0), i(0)));
    assert_eq!(dep.account_nonce(1, 2).unwrap(), 5);
    assert!(dep.dispute(1, 2).unwrap().is_none());
}

#[test]
fn dispute_debt_is_paid_from_reserve_then_recorded() {
    let (mut dep, a, b) = funded_account();
    // Δ = 300 − 1500 = −1200: bob takes the 600 collateral, alice owes 1200, pays her
    // 700 reserve, 500 stays as debt.
    let p = proof(2, -1500);
    let sigs = dep.sign_proof(&p, (&a.keys, &b.keys)).unwrap();
    dep.dispute_start(&p, 2, sigs).unwrap();
    dep.chain.mine(xln::chain::DISPUTE_TIMEOUT_BLOCKS).unwrap();
    dep.dispute_finalize(1, 2).unwrap();
    assert_eq!(dep.reserve(1, 1).unwrap(), u(0));
    assert_eq!(dep.reserve(2, 1).unwrap(), u(700 + 600 + 700));
    assert_eq!(dep.debt(1, 2, 1).unwrap(), u(500));
}

#[test]
fn dispute_refusals() {
    let (mut dep, a, b) = funded_account();
    let p = proof(2, 10);
    let (ls, _) = dep.sign_proof(&p, (&a.keys, &b.keys)).unwrap();
    // Only alice signed.
    let mut rs = ls.clone();
    rs.board = b.keys.sign(Default::default()).unwrap().board;
    rs.signatures = vec![Bytes::new()];
    let r = rejected(dep.dispute_start(&p, 1, (ls.clone(), rs)));
    assert!(r.contains("BelowThreshold"), "{r}");
    // Malformed proof shape.
    let bad = AccountProof {
        offdeltas: vec![(2, i(1)), (1, i(1))],
        ..p.clone()
    };
    let sigs = dep.sign_proof(&bad, (&a.keys, &b.keys)).unwrap();
    let r = rejected(dep.dispute_start(&bad, 1, sigs));
    assert!(r.contains("strictly increasing"), "{r}");
    // Nonce at or below the last settlement.
    let diffs = vec![SettlementDiff::withdraw(1, &1.into(), &0.into()).unwrap()];
    dep.settle((1, 2), (&a.keys, &b.keys), 4, &diffs).unwrap();
    let old = proof(4, 0);
    let sigs = dep.sign_proof(&old, (&a.keys, &b.keys)).unwrap();
    let r = rejected(dep.dispute_start(&old, 1, sigs));
    assert!(r.contains("StaleNonce"), "{r}");
    let r = rejected(dep.dispute_finalize(1, 2));
    assert!(r.contains("NoDispute"), "{r}");
}

#[test]
fn threshold_boards() {
    let mut dep = embedded();
    let keys: Vec<_> = ["v1", "v2", "v3"].iter().map(|n| key(n)).collect();
    let board = ChainBoard::new(
        keys.iter()
            .map(|k| (alloy_primitives::Address::from(k.address().0), 1))
            .collect(),
        2,
    )
    .unwrap();
    let hub = dep.register_entity(&board).unwrap();
    let bob = party(&mut dep, "bob");
    dep.mint_reserve(hub, 1, u(100)).unwrap();
    let one = EntityKeys {
        board: board.clone(),
        keys: vec![keys[0].clone()],
    };
    let r = rejected(dep.reserve_to_reserve(hub, &one, bob.number, 1, u(10)));
    assert!(r.contains("BelowThreshold"), "{r}");
    let two = EntityKeys {
        board: board.clone(),
        keys: vec![keys[0].clone(), keys[2].clone()],
    };
    dep.reserve_to_reserve(hub, &two, bob.number, 1, u(10))
        .expect("2 of 3 signs");
    assert_eq!(dep.reserve(bob.number, 1).unwrap(), u(10));
    // A malformed board is refused before and by the registry.
    assert!(ChainBoard::new(vec![], 1).is_err());
    assert!(ChainBoard::new(vec![(alloy_primitives::Address::ZERO, 1)], 2).is_err());
}

#[test]
fn events_are_ordered_and_the_cursor_survives_restarts() {
    let dir = std::env::temp_dir().join(format!("xln-chain-cursor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("chain-cursor"));
    let (mut dep, a, b) = funded_account();
    let mut watcher = EventWatcher::persisted(dep.deployment, &dir).unwrap();
    let first = watcher.poll(dep.chain.as_mut()).unwrap();
    let kinds: Vec<_> = first.iter().map(|e| e.event.kind()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "entity-registered").count(),
        2
    );
    assert!(first
        .windows(2)
        .all(|w| (w[0].block, w[0].log_index) < (w[1].block, w[1].log_index)));
    assert!(matches!(
        first.last().unwrap().event,
        ChainEvent::CollateralUpdated { .. }
    ));
    // Not acked: the next poll hands the same events again (none is lost).
    assert_eq!(watcher.poll(dep.chain.as_mut()).unwrap(), first);
    watcher.ack(first.last().unwrap()).unwrap();
    assert!(watcher.poll(dep.chain.as_mut()).unwrap().is_empty());

    dep.reserve_to_reserve(a.number, &a.keys, b.number, 1, u(5))
        .unwrap();
    // A restart loads the cursor and sees only what is new.
    let restarted = EventWatcher::persisted(dep.deployment, &dir).unwrap();
    let new = restarted.poll(dep.chain.as_mut()).unwrap();
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new.iter().all(|e| e.event.kind() == "reserve-updated"));
    let bytes = new[0].entity_input_bytes(dep.deployment.chain_id);
    assert_eq!(bytes, new[0].entity_input_bytes(dep.deployment.chain_id));
    assert_ne!(bytes, new[1].entity_input_bytes(dep.deployment.chain_id));

    // A cursor file of another deployment, or garbage, is refused, never reset.
    std::fs::write(dir.join("chain-cursor"), "garbage\n").unwrap();
    assert!(EventWatcher::persisted(dep.deployment, &dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn embedded_runs_are_deterministic() {
    let run = || {
        let (mut dep, a, b) = funded_account();
        let diffs = vec![SettlementDiff::withdraw(1, &10.into(), &20.into()).unwrap()];
        dep.settle((1, 2), (&a.keys, &b.keys), 1, &diffs).unwrap();
        let w = EventWatcher::in_memory(dep.deployment);
        (
            w.poll(dep.chain.as_mut()).unwrap(),
            dep.gas.clone(),
            dep.deployment,
        )
    };
    assert_eq!(run(), run());
}
