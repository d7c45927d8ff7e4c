//! The one vocabulary of a decision about a read (a mount open or `openv run`) or an
//! action: a [`Verdict`] once it is decided, a [`Ruling`] while a person may still be
//! asked. Every waiter of a prompt hears the same [`Verdict`].

use tokio::sync::oneshot;

/// What was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow { because: String },
    Deny(Denial),
}

/// Why a read or action was refused: the text for the user and the audit log, and the
/// kind, so callers never recognise a cause by its wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub cause: DenyCause,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyCause {
    /// A deny rule, or nothing covers it and prompts are off.
    Policy,
    /// A person said no, or the request was closed (lock, exit, timeout).
    Person,
    /// The prompt rate limit: denied without asking anybody.
    RateLimited,
    /// The vault is locked or missing, the environment is gone, or its values cannot be
    /// served.
    Unavailable,
}

impl Verdict {
    pub fn deny(cause: DenyCause, reason: impl Into<String>) -> Self {
        Self::Deny(Denial {
            cause,
            reason: reason.into(),
        })
    }

    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    /// The rule, grant or answer that decided, for the audit log.
    pub fn why(&self) -> &str {
        match self {
            Self::Allow { because } => because,
            Self::Deny(d) => &d.reason,
        }
    }
}

/// A decision from rules and grants, or a question put to a person.
#[derive(Debug)]
pub enum Ruling {
    Decided(Verdict),
    Ask(Asked),
}

/// A request waiting for a person: wait on `rx`, bounded by `timeout`; show `job` if the
/// prompt is new (a joined prompt is already on screen).
#[derive(Debug)]
pub struct Asked {
    pub env: String,
    pub id: u64,
    pub rx: oneshot::Receiver<Verdict>,
    pub job: Option<PromptJob>,
    pub timeout: std::time::Duration,
}

/// A prompt that must be shown now (a new pending request).
#[derive(Debug, Clone)]
pub struct PromptJob {
    pub id: u64,
    pub env: String,
    pub text: String,
}
