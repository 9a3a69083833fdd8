//! Language bindings of the native layers: each file exposes one layer's public API to
//! scripts as a table of documented primitives. The layers themselves never see the
//! interpreter; only this module depends on both.

pub mod accounts;
pub mod arch;
pub mod chain;
pub mod crypto;
pub mod netting;
pub mod node;
pub mod routing;
pub mod runtime;
pub mod storage;

use crate::lang::value::Primitive;

/// Every binding table with its reference section title.
pub fn tables() -> Vec<(&'static str, &'static [Primitive])> {
    vec![
        ("Crypto", crypto::PRIMITIVES),
        ("Accounts and subcontracts", accounts::PRIMITIVES),
        ("Gossip and routing", routing::PRIMITIVES),
        ("Entities and the simulator", runtime::PRIMITIVES),
        ("Netting", netting::PRIMITIVES),
        ("Architecture", arch::PRIMITIVES),
        ("Jurisdiction (chain)", chain::PRIMITIVES),
        ("Persistence and time travel", storage::PRIMITIVES),
        ("Live nodes", node::PRIMITIVES),
    ]
}
