//! `openv mcp`: a stdio MCP server for AI coding agents. It is a thin client of the
//! agent and NEVER receives a value: no request it sends is answered with one (it never
//! sends `Resolve`), and values a model passes to `append_variables` travel only in
//! `SecretValue` and are never logged or echoed.
//!
//! | file | owns |
//! |---|---|
//! | `server.rs` | the rmcp `ServerHandler`: instructions, tools/list, the call pipeline |
//! | `tools/` | one module per subject; definitions and dispatch in `tools/mod.rs` |
//! | `agent.rs` | the session's connection(s) to the agent |
//! | `args.rs` | argument parsing and name checks |
//! | `confine.rs` | the project root: which paths tools may touch |
//! | `check_env.rs` | what a project expects (`check_environment`) |
//! | `metrics.rs`, `ratelimit.rs` | `get_metrics`; calls per minute per client |
//! | `error.rs`, `log.rs` | tool errors with correlation ids; stderr logging |

mod agent;
pub mod args;
mod audit;
pub mod check_env;
pub mod confine;
pub mod error;
pub mod log;
pub mod metrics;
pub mod ratelimit;
mod server;
pub mod tools;

pub use server::{INSTRUCTIONS, OpenvMcp, Options};
