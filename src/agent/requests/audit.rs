//! The audit log's requests: the MCP server's record of each tool call, and the keyed
//! verification behind `openv audit verify`.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response};
use crate::store::Backend;
use crate::store::mac_keys::Purpose;

/// Checks the log against the seals and the vault's record of the last seal. Needs the
/// key, so the vault must be unlocked. Runs under the state lock: no line is appended
/// while it reads.
pub fn verify(st: &mut State) -> Result<Response, AgentError> {
    Ok(Response::AuditVerified(Box::new(report(st)?)))
}

fn report(st: &State) -> Result<crate::audit::SealedReport, AgentError> {
    let Some(v) = st.unlocked_vault() else {
        return Err(AgentError::new(
            ErrorCode::Locked,
            "the vault is locked: run `openv unlock` first (the seals are checked with the vault key), or `openv audit verify --offline` for the unkeyed chain only",
        ));
    };
    let mac = v.mac_key(Purpose::Audit)?;
    let head = v.audit_head()?;
    let dir = st.home.audit_dir();
    crate::audit::verify_sealed(&dir, &mac, &head).map_err(|e| {
        AgentError::new(
            ErrorCode::Internal,
            format!("cannot read the audit log in {}: {e}", dir.display()),
        )
    })
}

/// `openv audit accept` (human tier): the human has read what `verify` reports and wants
/// a log the seals vouch for again. Nothing is deleted: the old files move untouched to
/// `audit/set-aside-SECS/`, the new log opens with an event naming them and the problems,
/// and it is sealed at once, with the vault's record of the last seal written anew (the
/// one path that replaces a missing or forged record).
pub fn accept(st: &mut State) -> Result<Response, AgentError> {
    let found = report(st)?;
    if found.problems.is_empty() {
        return Err(AgentError::new(
            ErrorCode::InvalidInput,
            "the audit log verifies: there is nothing to accept (`openv audit verify` shows it)",
        ));
    }
    let (Some(vault), Some(log)) = (
        st.vault.as_mut().filter(|v| v.is_unlocked()),
        st.audit.as_mut(),
    ) else {
        return Err(AgentError::new(
            ErrorCode::Internal,
            "the audit log is not open in the agent: see its log file",
        ));
    };
    let mac = vault.mac_key(Purpose::Audit)?;
    let internal =
        |e: crate::audit::AuditError| AgentError::new(ErrorCode::Internal, e.to_string());
    let moved = log.start_anew().map_err(internal)?;
    log.append(Event::new(EventKind::Approve).detail(format!(
        "the human accepted the audit log's problems and started a new log; the old files are in {}: {}",
        moved.display(),
        found.problems.join("; ")
    )))
    .map_err(internal)?;
    let point = log.seal(&mac, "accept").map_err(internal)?;
    vault.put_audit_head(&point)?;
    st.audit_seal_problem = None;
    tracing::warn!(set_aside = %moved.display(), "the human accepted a changed audit log");
    Ok(Response::AuditAccepted {
        problems: found.problems,
        set_aside: moved.display().to_string(),
    })
}

/// A proven `openv guard` profile that loosens the defaults: what it opens, in the log.
pub fn guard_loosened(st: &mut State, loosens: Vec<String>) -> Response {
    st.audit(
        Event::new(EventKind::RuleChange)
            .decision(Decision::Allowed)
            .detail(format!(
                "openv guard profile loosens: {}",
                loosens.join("; ")
            )),
    );
    Response::Done
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
