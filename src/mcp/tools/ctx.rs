//! What every tool shares: the session it sees, the shape of a successful call, and the
//! few checks and errors common to them.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::ipc::protocol::{Request, Response, StatusInfo};
use crate::mcp::agent::AgentLink;
use crate::mcp::audit::AuditQueue;
use crate::mcp::confine::Project;
use crate::mcp::error::{ToolError, locked};
use crate::mcp::metrics::Metrics;
use crate::mcp::ratelimit::RateLimiter;

/// What a tool sees of the session.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub agent: &'a AgentLink,
    pub audit: &'a AuditQueue,
    pub metrics: &'a Metrics,
    pub limiter: &'a RateLimiter,
    /// `clientInfo.name` from the MCP `initialize` request.
    pub client: Option<&'a str>,
    /// The project every path must lie in; relative paths start there.
    pub project: &'a Project,
}

/// A successful call: the answer (JSON text), and what the audit log should say about it.
#[derive(Debug)]
pub struct Done {
    pub text: String,
    pub env: Option<String>,
    pub names: Vec<String>,
    pub detail: Option<String>,
}

impl Done {
    pub(super) fn new(value: Value) -> Self {
        Self {
            text: value.to_string(),
            env: None,
            names: Vec::new(),
            detail: None,
        }
    }
    /// Serialized straight from typed rows: no intermediate `Value` for long lists.
    pub(super) fn typed<T: serde::Serialize>(answer: &T) -> Result<Self, ToolError> {
        let text = serde_json::to_string(answer).map_err(|e| ToolError::Local(e.to_string()))?;
        Ok(Self {
            text,
            env: None,
            names: Vec::new(),
            detail: None,
        })
    }
    pub(super) fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }
    pub(super) fn names(mut self, names: Vec<String>) -> Self {
        self.names = names;
        self
    }
    pub(super) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Tools that take no arguments still reject unknown ones.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

pub(super) fn unexpected() -> ToolError {
    ToolError::Local("unexpected answer from the openv agent: run `openv agent restart`".into())
}

pub(super) async fn status_of(ctx: &Ctx<'_>) -> Result<StatusInfo, ToolError> {
    match ctx.agent.call(&Request::Status).await? {
        Response::Status(s) => Ok(*s),
        _ => Err(unexpected()),
    }
}

/// Before asking a person for something only an unlocked vault can do.
pub(super) async fn require_unlocked(ctx: &Ctx<'_>) -> Result<(), ToolError> {
    let s = status_of(ctx).await?;
    if !s.vault_exists {
        return Err(ToolError::Agent {
            code: crate::ipc::protocol::ErrorCode::NoVault,
            message: crate::store::StoreError::NoVault(s.vault).to_string(),
            cid: crate::ipc::cid::new_cid(),
        });
    }
    if s.locked {
        return Err(locked());
    }
    Ok(())
}
