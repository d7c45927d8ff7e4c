//! Why a tool call failed. Every failure reaches the model as a tool error result
//! (`isError: true`) with a message that says what to do and a correlation id that
//! matches the agent's log (or this server's stderr log when the agent never saw it).

use std::time::Duration;

use crate::ipc::client::ClientError;
use crate::ipc::protocol::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema or openv's name rules.
    #[error("{0}")]
    Invalid(String),
    /// The agent refused or failed the request; `cid` is the agent's correlation id.
    #[error("{message}")]
    Agent {
        code: ErrorCode,
        message: String,
        cid: String,
    },
    /// The agent could not be reached or started.
    #[error("cannot reach the openv agent: {0}")]
    Unavailable(String),
    #[error(
        "rate limit: client {client} made more than {per_minute} calls in a minute; try again in {} s",
        retry_after.as_secs().max(1)
    )]
    RateLimited {
        client: String,
        per_minute: u32,
        retry_after: Duration,
    },
    #[error("no tool named {0:?}: call tools/list to see openv's tools")]
    UnknownTool(String),
    /// The request is well-formed but openv will not do it (`kind` says why).
    #[error("{message}")]
    Refused { kind: &'static str, message: String },
    /// Something this server did failed (reading the audit log, scanning a project).
    #[error("{0}")]
    Local(String),
}

impl ToolError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    /// A short machine-readable kind for the structured error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) | Self::UnknownTool(_) => "invalid_input",
            Self::Agent { code, .. } => match code {
                ErrorCode::Locked => "locked",
                ErrorCode::NotFound => "not_found",
                ErrorCode::Exists => "exists",
                ErrorCode::InvalidInput | ErrorCode::BadRequest => "invalid_input",
                ErrorCode::Denied => "denied",
                ErrorCode::RateLimited => "rate_limited",
                ErrorCode::NoVault => "no_vault",
                ErrorCode::Mount => "mount",
                ErrorCode::Tampered => "tampered",
                ErrorCode::Damaged => "damaged",
                ErrorCode::Remote => "remote",
                ErrorCode::NeedsHuman => "needs_human",
                _ => "agent",
            },
            Self::Unavailable(_) => "unavailable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Refused { kind, .. } => kind,
            Self::Local(_) => "internal",
        }
    }

    /// The agent's correlation id, when the agent produced this error.
    pub fn agent_cid(&self) -> Option<&str> {
        match self {
            Self::Agent { cid, .. } => Some(cid),
            _ => None,
        }
    }

    /// What the audit log records. Argument errors may quote the model's input (a value
    /// pasted into a name field, say), so they are recorded without it.
    pub fn audit_detail(&self) -> String {
        match self {
            Self::Invalid(_) => "invalid arguments".into(),
            other => other.to_string(),
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<ClientError> for ToolError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Agent { code, message, cid } => Self::Agent { code, message, cid },
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<crate::names::NameError> for ToolError {
    fn from(e: crate::names::NameError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// "vault locked" exactly as the agent says it, for checks made before asking a person.
pub fn locked() -> ToolError {
    ToolError::Agent {
        code: ErrorCode::Locked,
        message: crate::store::StoreError::Locked.to_string(),
        cid: crate::ipc::cid::new_cid(),
    }
}
