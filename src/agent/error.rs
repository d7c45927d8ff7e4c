//! The agent's one error type: a protocol error code and a message for the user. Every
//! handler returns it; the router turns it into `Response::Error` with the request's
//! correlation id.

use crate::ipc::protocol::{ErrorCode, Response};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    pub code: ErrorCode,
    pub message: String,
}

impl AgentError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Denied, message)
    }

    pub fn mount(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Mount, message)
    }

    /// The refusal of a human-tier request that came without a proof of the human.
    pub fn needs_human(what: &str) -> Self {
        Self::new(
            ErrorCode::NeedsHuman,
            format!(
                "{what} widens access, so only the human can do it: run the command in your own terminal and type the vault passphrase when asked, or give --keyfile PATH (see docs/security.md)"
            ),
        )
    }

    /// The refusal of a human-tier request from inside `openv guard`: no proof counts
    /// there, since the guarded agent controls the terminal a proof would be typed in.
    pub fn guarded(what: &str) -> Self {
        Self::new(
            ErrorCode::NeedsHuman,
            format!(
                "{what} widens access, and this request comes from inside `openv guard`, where no proof counts: ask the human to run the command in their own terminal, outside the guard"
            ),
        )
    }

    /// A bug or a panic inside the agent: the details are in its log only.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "internal error in the agent: see its log",
        )
    }

    pub fn into_response(self, cid: &str) -> Response {
        Response::Error {
            code: self.code,
            message: self.message,
            cid: cid.to_owned(),
        }
    }
}

impl From<StoreError> for AgentError {
    fn from(e: StoreError) -> Self {
        Self::new(code_of(&e), e.to_string())
    }
}

impl From<openv_mount::MountError> for AgentError {
    fn from(e: openv_mount::MountError) -> Self {
        Self::mount(e.to_string())
    }
}

/// The protocol code of a store error.
pub fn code_of(e: &StoreError) -> ErrorCode {
    match e {
        StoreError::NoVault(_) => ErrorCode::NoVault,
        StoreError::VaultExists(_) => ErrorCode::VaultExists,
        StoreError::Locked => ErrorCode::Locked,
        StoreError::WrongSecret(_) | StoreError::BadKeyfile(_) => ErrorCode::WrongSecret,
        StoreError::NoEnvironment(_) | StoreError::NoVariable { .. } | StoreError::NoRule(_) => {
            ErrorCode::NotFound
        }
        StoreError::EnvironmentExists(_) => ErrorCode::Exists,
        StoreError::Name(_) | StoreError::Unrepresentable { .. } => ErrorCode::InvalidInput,
        StoreError::Tampered { .. } | StoreError::PolicyBroken(_) => ErrorCode::Tampered,
        StoreError::Path(_) | StoreError::EnvFile(_) => ErrorCode::InvalidInput,
        StoreError::Damaged(_) => ErrorCode::Damaged,
        StoreError::Remote(_) => ErrorCode::Remote,
        StoreError::Db(_) | StoreError::Corrupt(_) | StoreError::Io { .. } => ErrorCode::Internal,
    }
}
