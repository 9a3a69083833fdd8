//! Differential check of the two chain backends: the same seeded call sequences (mints,
//! reserve transfers, funding, settlements with good, stale, unbalanced and under-signed
//! diffs, disputes with newer and older proofs, finalizations before and after the
//! deadline, mined blocks) run on the embedded EVM (revm) and on a real anvil, and every
//! step must give the same outcome: the same refusal reason, or success with the same
//! logs (address, topics, data, decoded event) and gas; after every step the same reserves,
//! collateral, nonces, disputes and debts.
//!
//! Runs when anvil is available (`ANVIL_BIN`, contracts/node_modules, or PATH); CI sets
//! `XLN_REQUIRE_ANVIL=1` so a missing anvil fails instead of skipping. A failure prints its
//! seed; rerun one with `XLN_CHAIN_DIFF_SEED=<seed> cargo test --test chain_diff`.

mod chain_support;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy_primitives::{I256, U256};
use chain_support::{anvil_path, anvil_required, key};
use xln::chain::{
    AccountProof, ChainBoard, ChainError, ChainEvent, Depository, EmbeddedChain, EntityKeys,
    EntityNumber, Receipt, RpcChain, RpcConfig, SettlementDiff,
};
use xln::runtime::SplitMix64;

/// Short disputes, so sequences reach finalization.
const TIMEOUT_BLOCKS: u64 = 4;
const TOKENS: u64 = 2;
const STEPS: usize = 48;

fn anvil() -> Option<AnvilInstance> {
    let Some(path) = anvil_path() else {
        assert!(
            !anvil_required(),
            "XLN_REQUIRE_ANVIL=1 but no anvil found (set ANVIL_BIN or run npm ci in contracts/)"
        );
        eprintln!("anvil not found: skipping the differential check (set ANVIL_BIN to run it)");
        return None;
    };
    Some(
        Anvil::at(path)
            .args(["--hardfork", "prague"])
            .try_spawn()
            .expect("anvil starts on 127.0.0.1"),
    )
}

/// What one step did, in a form both backends must agree on.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Refused(String),
    Done {
        gas: u64,
        logs: Vec<(String, Vec<String>, String, Option<ChainEvent>)>,
    },
}

fn outcome(r: Result<Receipt, ChainError>) -> Result<Outcome, String> {
    match r {
        Ok(receipt) => Ok(Outcome::Done {
            gas: receipt.gas_used,
            logs: receipt
                .logs
                .iter()
                .map(|l| {
                    (
                        l.address.to_string(),
                        l.topics.iter().map(|t| t.to_string()).collect(),
                        l.data.to_string(),
                        ChainEvent::decode(l).ok().flatten(),
                    )
                })
                .collect(),
        }),
        Err(ChainError::Rejected { reason, .. }) => Ok(Outcome::Refused(reason)),
        Err(other) => Err(format!("not a contract outcome: {other:?}")),
    }
}

/// The parties: two single-signer entities and a 2-of-3 board (of which the test holds
/// two keys, so it can also sign below threshold).
struct Parties {
    keys: Vec<EntityKeys>,
    under_signed: EntityKeys,
}

fn parties() -> Parties {
    let board_keys: Vec<_> = (0..3).map(|i| key(&format!("diff board {i}"))).collect();
    let validators = board_keys
        .iter()
        .map(|k| (alloy_primitives::Address::from(k.address().0), 1))
        .collect();
    let board = ChainBoard::new(validators, 2).expect("2-of-3 board");
    let multi = EntityKeys {
        board: board.clone(),
        keys: board_keys[..2].to_vec(),
    };
    let under_signed = EntityKeys {
        board,
        keys: board_keys[..1].to_vec(),
    };
    Parties {
        keys: vec![
            EntityKeys::single(key("diff alice")),
            EntityKeys::single(key("diff bob")),
            multi,
        ],
        under_signed,
    }
}

/// One random step, applied to `dep`; the same rng state gives the same step.
fn step(dep: &mut Depository, p: &Parties, rng: &mut SplitMix64) -> Result<Receipt, ChainError> {
    let n = p.keys.len() as u64;
    let entity = 1 + rng.below(n);
    let other = 1 + (entity + rng.below(n - 1)) % n;
    let (left, right) = (entity.min(other), entity.max(other));
    let keys = |e: EntityNumber| &p.keys[(e - 1) as usize];
    let token = 1 + rng.below(TOKENS);
    let amount = U256::from(rng.below(400));
    match rng.below(10) {
        0 => dep.mint_reserve(entity, token, U256::from(100 + rng.below(1000))),
        1 => dep.reserve_to_reserve(entity, keys(entity), other, token, amount),
        2 | 3 => dep.reserve_to_collateral(entity, keys(entity), other, token, amount),
        4 | 5 => {
            let nonce = dep.account_nonce(left, right)? + rng.below(3);
            let take = I256::try_from(rng.below(200) as i64).expect("small");
            let (lr, rr) = match rng.below(3) {
                0 => (take, I256::ZERO),
                1 => (I256::ZERO, take),
                _ => (take, take), // does not sum to zero with the collateral below
            };
            let diff = SettlementDiff {
                token,
                left_reserve: lr,
                right_reserve: rr,
                collateral: -take,
                ondelta: -lr,
            };
            let signer = if rng.below(6) == 0 && right == 3 {
                &p.under_signed
            } else {
                keys(right)
            };
            dep.settle((left, right), (keys(left), signer), nonce, &[diff])
        }
        6 | 7 => {
            let floor = match dep.dispute(left, right)? {
                Some(d) => d.nonce,
                None => dep.account_nonce(left, right)?,
            };
            // Mostly newer proofs, sometimes the same or an older one.
            let nonce = (floor + 1 + rng.below(3)).saturating_sub(rng.below(4) / 3 * 2);
            let offdelta = I256::try_from(rng.below(600) as i64 - 300).expect("small");
            let proof = AccountProof {
                left,
                right,
                nonce,
                offdeltas: vec![(token, offdelta)],
            };
            let sigs = dep.sign_proof(&proof, (keys(left), keys(right)))?;
            dep.dispute_start(&proof, left, sigs)
        }
        8 => dep.dispute_finalize(left, right),
        _ => {
            dep.chain.mine(1 + rng.below(TIMEOUT_BLOCKS))?;
            Ok(Receipt {
                block: 0,
                gas_used: 0,
                logs: Vec::new(),
            })
        }
    }
}

/// Every piece of state the steps can change.
fn state(dep: &mut Depository) -> Result<Vec<String>, ChainError> {
    let mut out = Vec::new();
    for e in 1..=3 {
        for t in 1..=TOKENS {
            out.push(format!("reserve {e} {t} {}", dep.reserve(e, t)?));
            for c in 1..=3 {
                out.push(format!("debt {e} {c} {t} {}", dep.debt(e, c, t)?));
            }
        }
    }
    for (l, r) in [(1, 2), (1, 3), (2, 3)] {
        out.push(format!("nonce {l} {r} {}", dep.account_nonce(l, r)?));
        out.push(format!(
            "dispute {l} {r} {:?}",
            dep.dispute(l, r)?.map(|d| (d.nonce, d.started_by))
        ));
        for t in 1..=TOKENS {
            out.push(format!(
                "collateral {l} {r} {t} {:?}",
                dep.collateral(l, r, t)?
            ));
        }
    }
    Ok(out)
}

fn register_all(dep: &mut Depository, p: &Parties) {
    for k in &p.keys {
        dep.register_entity(&k.board).expect("registers");
    }
}

fn run_seed(seed: u64, url: &str) -> Result<(usize, usize), String> {
    let ctx = |what: String| {
        format!("seed {seed}: {what}; rerun with XLN_CHAIN_DIFF_SEED={seed} cargo test --test chain_diff")
    };
    let rpc = RpcChain::connect(RpcConfig::local(url)).map_err(|e| ctx(format!("{e:?}")))?;
    let mut on_anvil =
        Depository::deploy(Box::new(rpc), TIMEOUT_BLOCKS).map_err(|e| ctx(format!("{e:?}")))?;
    let mut embedded = Depository::deploy(Box::new(EmbeddedChain::default()), TIMEOUT_BLOCKS)
        .map_err(|e| ctx(format!("{e:?}")))?;
    let p = parties();
    register_all(&mut embedded, &p);
    register_all(&mut on_anvil, &p);
    let (mut done, mut refused) = (0, 0);
    let mut rng_a = SplitMix64::new(seed);
    let mut rng_b = SplitMix64::new(seed);
    for i in 0..STEPS {
        let a = outcome(step(&mut embedded, &p, &mut rng_a))
            .map_err(|e| ctx(format!("step {i} on revm: {e}")))?;
        let b = outcome(step(&mut on_anvil, &p, &mut rng_b))
            .map_err(|e| ctx(format!("step {i} on anvil: {e}")))?;
        if a != b {
            return Err(ctx(format!("step {i}: revm {a:?} but anvil {b:?}")));
        }
        match a {
            Outcome::Done { .. } => done += 1,
            Outcome::Refused(_) => refused += 1,
        }
        let (sa, sb) = (
            state(&mut embedded).map_err(|e| ctx(format!("{e:?}")))?,
            state(&mut on_anvil).map_err(|e| ctx(format!("{e:?}")))?,
        );
        if sa != sb {
            let diff: Vec<_> = sa.iter().zip(&sb).filter(|(x, y)| x != y).collect();
            return Err(ctx(format!("after step {i} the states differ: {diff:?}")));
        }
    }
    Ok((done, refused))
}

#[test]
fn embedded_evm_and_anvil_agree_on_seeded_call_sequences() {
    let seeds: Vec<u64> = match std::env::var("XLN_CHAIN_DIFF_SEED") {
        Ok(s) => vec![s.parse().expect("XLN_CHAIN_DIFF_SEED is a number")],
        Err(_) => (1..=6).collect(),
    };
    let mut totals = (0, 0);
    for seed in seeds {
        // A fresh node per seed: both backends start from the same empty chain.
        let Some(node) = anvil() else { return };
        let (done, refused) = run_seed(seed, &node.endpoint()).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "seed {seed}: {done} steps succeeded and {refused} were refused alike on both backends"
        );
        totals.0 += done;
        totals.1 += refused;
    }
    // The sequences must exercise both paths, or the comparison means little.
    assert!(
        totals.0 >= 20 && totals.1 >= 10,
        "too few successes or refusals: {totals:?}"
    );
}
