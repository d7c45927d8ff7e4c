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

mod chain;
mod error;
mod event;
mod files;
mod log;
mod query;
pub mod seal;
mod sealed_verify;
mod verify;

pub use chain::GENESIS;
pub use error::AuditError;
pub use event::{Decision, Event, EventKind, Record};
pub use log::AuditLog;
pub use query::{Filter, query};
pub use sealed_verify::{SealedReport, VaultHead, verify_sealed};
pub use verify::{Location, VerifyError, VerifyReport, verify};

#[cfg(test)]
mod tests;
