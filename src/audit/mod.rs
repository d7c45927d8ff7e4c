//! The audit log: append-only JSON Lines, tamper-evident by a hash chain.
//!
//! NEVER A VALUE. Events carry names (environment, variables, rules) and facts about
//! processes only; [`Event`] has no field a secret value could go into (see `event.rs`).
//!
//! # Format
//!
//! One JSON object per line, `\n`-terminated, in `dir/audit.jsonl`:
//!
//! ```text
//! {"seq":1,"time":"2025-01-02T03:04:05.123456Z","prev":"0000…0000","kind":"read","env":"dev","names":["API_KEY"],"pid":4242,"exe":"/usr/bin/node","chain":["bash","codex"],"decision":"allowed","rule":"allow /usr/bin/node"}
//! ```
//!
//! * `seq` starts at 1 and grows by one per line, across rotations;
//! * `time` is RFC 3339 UTC with microseconds;
//! * `prev` is the hex SHA-256 of the previous line's exact bytes INCLUDING its `\n`
//!   (so `sed -n 7p audit.jsonl | sha256sum` equals line 8's `prev`), and [`GENESIS`]
//!   (64 zeros) on the very first line;
//! * the event's fields follow; empty ones are left out.
//!
//! When `audit.jsonl` would grow past `max_file_bytes` it is renamed `audit-000001.jsonl`
//! (then `-000002`, …; this module never deletes one) and a new `audit.jsonl` starts whose
//! first line's `prev` is the hash of the last line of the renamed file. The chain order
//! is the rotated files by number, then `audit.jsonl`.
//!
//! # What the chain proves
//!
//! [`verify`] detects any edited, removed, reordered or cut line, except at the very end:
//! dropping the LAST lines (or rewriting the whole chain from some line on) leaves a valid
//! chain, because the chain has no secret. Keep [`VerifyReport::head`] somewhere else
//! (another machine, a ticket) to pin the end.

mod event;
mod files;
mod log;
mod query;
mod verify;

use std::io;

use sha2::{Digest, Sha256};
use thiserror::Error;

pub use event::{Decision, Event, EventKind, Record};
pub use log::AuditLog;
pub use query::{Filter, query};
pub use verify::{Location, VerifyError, VerifyReport, verify};

/// `prev` of the first line ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Hex SHA-256 of one line's bytes (newline included): the next line's `prev`.
/// Only the sequence number of a line: what resuming and checking a file's end need.
#[derive(serde::Deserialize)]
pub(crate) struct SeqOnly {
    pub seq: u64,
}

pub(crate) fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: io::Error,
    },
    /// Not ours, or open to other users (the message names the file and the fix).
    #[error(transparent)]
    Permissions(#[from] crate::paths::PathError),
    #[error(
        "another process is already writing the audit log in {path}: stop it (`openv agent stop`) or use another OPENV_HOME"
    )]
    Busy { path: String },
    #[error(
        "the last line of {path} is not an audit record ({reason}), so the chain cannot continue from it: run `openv audit verify` to see the damage, then move that file out of the audit directory to start a new chain"
    )]
    Damaged { path: String, reason: String },
    #[error(
        "{path} line {line} is not an audit record ({reason}): run `openv audit verify` to check the log"
    )]
    Corrupt {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("cannot encode an audit record: {0}")]
    Encode(#[source] serde_json::Error),
}

impl AuditError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
