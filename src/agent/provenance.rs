//! Who a value came from, decided here from the asking process and the proof — never from
//! what a request claims. `human`: a proof of the human came with it; `agent`: through
//! `openv mcp`, or from a process an AI agent started (`approvals::agent_started`); `cli`: anything else. A process whose ancestry cannot be read
//! counts as the agent's.

use super::state::State;
use crate::store::ValueSource;

/// The source to store a value from `peer` under.
pub fn of(st: &State, peer: Option<i32>, proven: bool) -> ValueSource {
    if proven {
        return ValueSource::Human;
    }
    let Some(reader) = peer.and_then(|pid| openv_mount::identify(pid).ok()) else {
        return ValueSource::Agent;
    };
    if is_mcp_server(&reader) || st.approvals.agent_mark(&reader).is_some() {
        ValueSource::Agent
    } else {
        ValueSource::Cli
    }
}

/// A client's claim may only lower what the agent found: an MCP write stays `agent`
/// even when it was a human's CLI that relayed it, and no claim raises a source.
pub fn with_claim(found: ValueSource, claimed: ValueSource) -> ValueSource {
    match (found, claimed) {
        (_, ValueSource::Agent) => ValueSource::Agent,
        (ValueSource::Human, ValueSource::Generated | ValueSource::Import) => claimed,
        (found, _) => found,
    }
}

/// `openv mcp` (or anything that looks like it: counting it as the agent's costs nothing).
fn is_mcp_server(r: &openv_mount::Reader) -> bool {
    r.cmdline.get(1).is_some_and(|a| a == "mcp")
}
