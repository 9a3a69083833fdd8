//! `RuntimeInput::decode` (what the WAL stores; entity txs inside `Submit`): bytes that
//! decode are the canonical encoding of the input, and applying the input to a small
//! runtime is an `Ok` or an `Err`, never a panic. Inputs that ask for long runs (more than
//! a few hundred ticks) are decoded but not applied: a long run is not a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use num_bigint::BigInt;
use xln::entity::Holder;
use xln::runtime::{Runtime, RuntimeInput};

const TICKS_APPLIED_MAX: u64 = 200;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = RuntimeInput::decode(data) else {
        return;
    };
    assert_eq!(
        input.encode(),
        data,
        "decoded input is not its canonical encoding"
    );
    assert_eq!(RuntimeInput::decode(&input.encode()).as_ref(), Ok(&input));
    let long = match &input {
        RuntimeInput::RunTicks { ticks } => *ticks > TICKS_APPLIED_MAX,
        RuntimeInput::RunUntilQuiet { max_ticks } => *max_ticks > TICKS_APPLIED_MAX,
        _ => false,
    };
    if long {
        return;
    }
    let mut runtime = Runtime::new(7);
    let reserves = vec![(Holder::from("alice"), 1, BigInt::from(100))];
    runtime.add_entity(2, 2, reserves).expect("a 2-of-2 entity");
    runtime
        .add_entity(1, 1, Vec::new())
        .expect("a 1-of-1 entity");
    let before = format!("{:?}", runtime.entity_count());
    match runtime.apply(&input) {
        Ok(_) => {
            runtime.run_ticks(20);
        }
        Err(_) => assert_eq!(format!("{:?}", runtime.entity_count()), before),
    }
});
