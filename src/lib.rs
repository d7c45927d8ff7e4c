//! openv: a local Environments manager. See docs/architecture.md for the parts and the
//! flow of one read.
//!
//! The public surface is what the `openv` binary, the benchmarks and the integration
//! tests use; everything else is private to the crate.

/// The command line: [`cli::Cli`] parses it, [`cli::run`] runs a command.
pub mod cli;
/// Logging set-up shared by the CLI, the agent and the MCP server.
pub mod logging;

/// Who may read what: rules, session grants and pending requests (benchmarked alone).
pub mod approvals;
/// The hash-chained audit log: append, query, verify.
pub mod audit;
/// The agent's fixed environment (the clean-agent tests check the agent runs with it).
pub mod clean_env;
/// Names whose value can change what code a program runs (only the human sets them).
pub mod code_names;
/// Reading a plaintext .env for `openv import` (its errors are store errors).
pub mod envfile;
/// `openv guard`: the Landlock domain an AI agent runs in (its plan is unit-tested).
pub mod guard;
/// The agent's socket protocol and its client.
pub mod ipc;
/// The `openv mcp` server (tested in-process over a duplex stream).
pub mod mcp;
/// Which names environments and variables may have.
pub mod names;
/// Where openv keeps its state (`OPENV_HOME`).
pub mod paths;
/// pinentry dialogs (driven for real in the prompt tests).
pub mod prompt;
/// Team environments: the OpenBao/Vault client, the cache mapping and sync.
pub mod remote;
/// Values to `.env` bytes that the readers read back exactly.
pub mod render;
/// The secret value type: never printed, zeroized when dropped.
pub mod secret;
/// The encrypted vault behind the storage interface.
pub mod store;

pub(crate) mod agent;
pub(crate) mod config;
pub(crate) mod mount_table;
pub(crate) mod project;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod security_settings;
