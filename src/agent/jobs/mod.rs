//! The agent's background jobs, each in a file named for it. `agent::run` starts them
//! and aborts them at shutdown.

pub mod backups;
pub mod fuse_sessions;
pub mod idle_lock;
pub mod reaper;
pub mod repair;
pub mod team_refresh;
