//! The audit log's requests: the MCP server's record of each tool call, and the keyed
//! verification behind `openv audit verify`.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response};
use crate::store::mac_keys::Purpose;

/// Checks the log against the seals and the vault's record of the last seal. Needs the
/// key, so the vault must be unlocked. Runs under the state lock: no line is appended
/// while it reads.
pub fn verify(st: &mut State) -> Result<Response, AgentError> {
    let Some(v) = st.unlocked_vault() else {
        return Err(AgentError::new(
            ErrorCode::Locked,
            "the vault is locked: run `openv unlock` first (the seals are checked with the vault key), or `openv audit verify --offline` for the unkeyed chain only",
        ));
    };
    let mac = v.mac_key(Purpose::Audit)?;
    let head = v.audit_head()?;
    let dir = st.home.audit_dir();
    let report = crate::audit::verify_sealed(&dir, &mac, &head).map_err(|e| {
        AgentError::new(
            ErrorCode::Internal,
            format!("cannot read the audit log in {}: {e}", dir.display()),
        )
    })?;
    Ok(Response::AuditVerified(Box::new(report)))
}

pub fn mcp_call(
    st: &mut State,
    tool: String,
    env: Option<String>,
    names: Vec<String>,
    client: Option<String>,
    allowed: bool,
    detail: Option<String>,
) -> Response {
    let mut ev = Event::new(EventKind::McpCall)
        .names(names)
        .decision(if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        })
        .rule(tool);
    if let Some(e) = env {
        ev = ev.env(e);
    }
    if let Some(c) = client {
        ev = ev.client(c);
    }
    if let Some(d) = detail {
        ev = ev.detail(d);
    }
    st.audit(ev);
    Response::Done
}
