//! What can go wrong talking to an OpenBao/Vault server.
//!
//! No variant carries a value, a token or a server's error body verbatim: bodies can echo
//! what was sent. Server messages are kept only when they match a short list of texts
//! known to name no input (see `http::safe_server_message`).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RemoteError {
    /// The server could not be reached (connection refused, timeout, DNS, sealed or
    /// standby without a leader). Retried, and counted by the circuit breaker.
    #[error("cannot reach {url}: {reason}; cached values are served as configured (`stale`)")]
    Unreachable { url: String, reason: String },
    /// The circuit breaker is open after repeated failures: no request was sent.
    #[error(
        "{url} failed {failures} times in a row: not retried for {retry_in_secs} s (`openv sync` tries again after that)"
    )]
    CircuitOpen {
        url: String,
        failures: u32,
        retry_in_secs: u64,
    },
    #[error(
        "TLS with {url} failed: {reason}; give the server's CA with `openv remote add ... --ca-cert PEM`"
    )]
    Tls { url: String, reason: String },
    /// 401/403: the token is missing, expired, revoked, or lacks the policy.
    #[error(
        "{url} refused access to {what} (HTTP {status}): check the token's policies or log in again"
    )]
    Denied {
        url: String,
        what: String,
        status: u16,
    },
    /// 404 on a secret or endpoint.
    #[error("{what} does not exist on {url}")]
    NotFound { url: String, what: String },
    /// A check-and-set write lost the race: someone else wrote a newer version.
    #[error("{what} changed on the server while writing (check-and-set)")]
    CasMismatch { what: String },
    /// Any other HTTP status; `message` only when known to be free of input.
    #[error("{url} answered HTTP {status} for {what}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Server {
        url: String,
        what: String,
        status: u16,
        message: Option<String>,
    },
    #[error("{url} sent an answer openv does not understand for {what}: {reason}")]
    BadAnswer {
        url: String,
        what: String,
        reason: String,
    },
    #[error("{0}")]
    Config(String),
}

impl RemoteError {
    /// Failures that say nothing about the request: worth a retry and counted by the
    /// circuit breaker.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// The server answered that this identity may not see the secret, or that it is gone:
    /// cached values must be purged.
    pub fn is_revocation(&self) -> bool {
        matches!(self, Self::Denied { .. } | Self::NotFound { .. })
    }
}
