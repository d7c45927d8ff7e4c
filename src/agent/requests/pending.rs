//! Requests waiting for a person: the queue (`openv pending`) and its answers.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::approvals::Verdict;
use crate::approvals::describe;
use crate::approvals::pending::Item;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::Response;

pub fn list(st: &mut State) -> Response {
    Response::Pending {
        requests: st.approvals.list_pending(),
    }
}

pub fn answer(
    st: &mut State,
    id: u64,
    allow: bool,
    scope: Option<crate::approvals::grants::Scope>,
    for_secs: Option<u64>,
    cwd: Option<String>,
) -> Result<Response, AgentError> {
    let scope = scope.unwrap_or(st.approvals.settings.scope);
    let ttl = for_secs.map(std::time::Duration::from_secs);
    let by = "openv approve/deny";
    let Some((item, verdict)) = st
        .approvals
        .answer(id, allow, scope, ttl, cwd.map(Into::into), by)
    else {
        return Err(AgentError::not_found(format!(
            "no pending request {id}: it was answered, timed out or its process exited; see `openv pending`"
        )));
    };
    record_answer(st, &item, &verdict, "queue");
    item.settle(&verdict);
    Ok(Response::Done)
}

/// Records a person's answer to a pending request (`via`: the queue or the dialog).
pub fn record_answer(st: &mut State, item: &Item, verdict: &Verdict, via: &str) {
    let r = &item.reader;
    let (kind, decision) = match verdict {
        Verdict::Allow { .. } => (EventKind::Approve, Decision::Allowed),
        Verdict::Deny(_) => (EventKind::Deny, Decision::Denied),
    };
    let mut ev = Event::new(kind)
        .env(item.env.clone())
        .pid(r.pid)
        .chain(describe::chain(r))
        .decision(decision)
        .rule(verdict.why())
        .detail(format!("request {} answered via {via}", item.id));
    if let Some(e) = &r.exe {
        ev = ev.exe(e.display().to_string());
    }
    st.audit(ev);
}
