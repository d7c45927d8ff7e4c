//! Helpers shared by the integration tests, one file per job. Each test binary compiles
//! this module on its own and uses only part of it, hence `dead_code`.
#![allow(dead_code, clippy::unwrap_used)]

pub mod agent;
pub mod bao;
pub mod faults;
pub mod jsonrpc;
pub mod mcp;
pub mod pinentries;
pub mod readers;
pub mod run;
pub mod tmux;
pub mod tools;
pub mod xvfb;

// The names most tests use, at the top; which ones a binary uses varies (as above).
#[allow(unused_imports)]
pub use agent::{BIN, Openv, pid_alive, wait_pending_at};
#[allow(unused_imports)]
pub use mcp::MCP_TOOLS;
#[allow(unused_imports)]
pub use tools::{client_bin, require, run_client};
