//! Jurisdiction benchmark (`cargo bench --bench chain`): cooperative settlements per second
//! on the embedded EVM (signing by both entities + revm execution + commit), the EVM part
//! alone, a view call, and the gas of every contract operation. Set XLN_CHAIN_URL to a
//! node (e.g. anvil) to time the same settlement over JSON-RPC too.

use alloy_primitives::U256;
use num_bigint::BigInt;
use xln::bench::measure;
use xln::chain::{
    AccountProof, Depository, EmbeddedChain, EntityKeys, Jurisdiction, RpcChain, RpcConfig,
    SettlementDiff,
};
use xln::crypto::SecretKey;

struct World {
    dep: Depository,
    a: EntityKeys,
    b: EntityKeys,
}

/// Two entities with a large collateral between them.
fn world(chain: Box<dyn Jurisdiction>) -> World {
    let mut dep = Depository::deploy_default(chain).expect("deploys");
    let a = EntityKeys::single(SecretKey::from_seed(b"bench-a"));
    let b = EntityKeys::single(SecretKey::from_seed(b"bench-b"));
    for k in [&a, &b] {
        let n = dep.register_entity(&k.board).expect("registers");
        dep.mint_reserve(n, 1, U256::from(1u64 << 40))
            .expect("mints");
    }
    dep.reserve_to_collateral(1, &a, 2, 1, U256::from(1u64 << 39))
        .expect("funds");
    dep.reserve_to_collateral(2, &b, 1, 1, U256::from(1u64 << 39))
        .expect("funds");
    World { dep, a, b }
}

fn settle(w: &mut World, nonce: u64) {
    let diff = SettlementDiff::withdraw(1, &BigInt::from(1), &BigInt::from(1)).expect("diff");
    w.dep
        .settle((1, 2), (&w.a, &w.b), nonce, &[diff])
        .expect("settles");
}

fn gas_table(w: &mut World) {
    // One of each remaining operation, so the table covers them all.
    w.dep
        .reserve_to_reserve(1, &w.a, 2, 1, U256::from(5))
        .expect("transfer");
    let nonce = w.dep.account_nonce(1, 2).expect("nonce");
    let stale = AccountProof {
        left: 1,
        right: 2,
        nonce: nonce + 1,
        offdeltas: vec![(1, alloy_primitives::I256::ZERO)],
    };
    let newer = AccountProof {
        nonce: nonce + 2,
        ..stale.clone()
    };
    for p in [&stale, &newer] {
        let sigs = w.dep.sign_proof(p, (&w.a, &w.b)).expect("signs");
        w.dep.dispute_start(p, 1, sigs).expect("dispute");
    }
    w.dep
        .chain
        .mine(w.dep.deployment.dispute_timeout_blocks)
        .expect("mines");
    w.dep.dispute_finalize(1, 2).expect("finalizes");
    println!("== gas per operation (median over the calls made) ==");
    for (op, gas) in &w.dep.gas {
        let mut g = gas.clone();
        g.sort();
        println!("{op:<44} {:>10} gas  ({} calls)", g[g.len() / 2], g.len());
    }
}

fn main() {
    println!("== embedded EVM (revm, in-process) ==");
    let mut w = world(Box::new(EmbeddedChain::default()));
    let mut nonce = 0;
    let m = measure("settle (2 signatures + EVM + commit)", 11, 200, |_| {
        nonce += 1;
        settle(&mut w, nonce);
    });
    println!(
        "{:<44} {:>10.0} settlements/s",
        "  => embedded",
        m.per_second()
    );

    // The EVM alone: pre-signed settlements, each at its own nonce.
    let diff = SettlementDiff::withdraw(1, &BigInt::from(1), &BigInt::from(0)).expect("diff");
    let start = nonce + 1;
    let signed: Vec<_> = (start..start + 2200)
        .map(|n| {
            let d = w
                .dep
                .domain()
                .settlement_digest(1, 2, n, std::slice::from_ref(&diff));
            (n, w.a.sign(d).expect("signs"), w.b.sign(d).expect("signs"))
        })
        .collect();
    let mut it = signed.into_iter();
    let m = measure("settle, pre-signed (EVM + commit only)", 11, 200, |_| {
        let (n, l, r) = it.next().expect("enough pre-signed settlements");
        w.dep
            .settle_signed((1, 2), n, std::slice::from_ref(&diff), l, r)
            .expect("settles");
    });
    println!(
        "{:<44} {:>10.0} settlements/s",
        "  => embedded EVM",
        m.per_second()
    );
    measure("reserve view (eth_call equivalent)", 11, 500, |_| {
        w.dep.reserve(1, 1).expect("reads")
    });
    gas_table(&mut w);

    if let Ok(url) = std::env::var("XLN_CHAIN_URL") {
        println!("== JSON-RPC node at {url} ==");
        let chain = RpcChain::connect(RpcConfig::local(&url)).expect("connects");
        let mut w = world(Box::new(chain));
        let mut nonce = 0;
        let m = measure(
            "settle over JSON-RPC (simulate+send+receipt)",
            5,
            20,
            |_| {
                nonce += 1;
                settle(&mut w, nonce);
            },
        );
        println!("{:<44} {:>10.0} settlements/s", "  => rpc", m.per_second());
    }
}
