//! Helpers shared by the benches, one file per job. Each bench compiles this module on
//! its own and uses only part of it, hence `dead_code`.
#![allow(dead_code)]

pub mod home;
pub mod stats;

// Cargo builds benches and integration tests as separate crates with no module they can
// share but by path: the JSON-RPC line client is the one tests/mcp_leak.rs uses.
#[path = "../../tests/common/jsonrpc.rs"]
pub mod jsonrpc;

// The real OpenBao server the tests start (tests/common/bao.rs), for benches/team.rs.
// Test code: a failed step panics with its reason, as in the tests.
#[allow(clippy::unwrap_used)]
#[path = "../../tests/common/bao.rs"]
pub mod bao;

/// What tests/common/bao.rs asks of its parent: a bench reports a missing tool and goes
/// on without it.
pub fn require(available: bool, what: &str) -> bool {
    if !available {
        eprintln!("not measured: {what} is not available");
    }
    available
}
