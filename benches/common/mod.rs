//! Helpers shared by the benches, one file per job. Each bench compiles this module on
//! its own and uses only part of it, hence `dead_code`.
#![allow(dead_code)]

pub mod home;
pub mod stats;

// Cargo builds benches and integration tests as separate crates with no module they can
// share but by path: the JSON-RPC line client is the one tests/mcp_leak.rs uses.
#[path = "../../tests/common/jsonrpc.rs"]
pub mod jsonrpc;
