//! What can go wrong with the audit log; each message says what to do.

use std::io;

use thiserror::Error;

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
