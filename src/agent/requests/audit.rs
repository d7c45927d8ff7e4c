//! The MCP server's record of each tool call, written to the agent's audit log.

use crate::agent::state::State;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::Response;

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
