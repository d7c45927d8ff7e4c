//! openv: a local Environments manager. See docs/architecture.md for the parts and the
//! flow of one read.

pub mod agent;
pub mod approvals;
pub mod audit;
pub mod cli;
pub mod config;
pub mod ipc;
pub mod logging;
pub mod mcp;
pub mod mounts;
pub mod names;
pub mod paths;
pub mod project;
pub mod prompt;
pub mod registry;
pub mod remote;
pub mod render;
pub mod run;
pub mod secret;
pub mod store;
