//! Persistent rules: add, list, remove. Every change is audited and reloads the rules the
//! approvals use.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::Response;
use crate::store::rules::{Effect, NewRule};

pub fn add(
    st: &mut State,
    env: String,
    effect: Effect,
    exe: String,
    cwd: Option<String>,
    for_secs: Option<u64>,
) -> Result<Response, AgentError> {
    let expires = for_secs.map(|s| crate::store::now() + s as i64);
    let id = st.vault()?.add_rule(&NewRule {
        env: &env,
        effect,
        exe: &exe,
        cwd: cwd.as_deref(),
        expires,
        agents: false,
    })?;
    st.approvals.rules_changed();
    tracing::info!(%env, %exe, effect = effect.as_str(), id, "rule added");
    st.audit(
        Event::new(EventKind::RuleChange)
            .env(env)
            .exe(exe)
            .rule(format!("{} rule #{id}", effect.as_str()))
            .detail("added"),
    );
    Ok(Response::RuleAdded { id })
}

pub fn list(st: &mut State) -> Result<Response, AgentError> {
    Ok(Response::Rules {
        rules: st.vault()?.list_rules()?,
    })
}

/// Removing an allow rule narrows access; removing a deny rule widens it, so that needs
/// a proof of the human (`proven`).
pub fn remove(st: &mut State, id: i64, proven: bool) -> Result<Response, AgentError> {
    let v = st.vault()?;
    let is_deny = v
        .list_rules()?
        .iter()
        .any(|r| r.id == id && r.effect == Effect::Deny);
    if is_deny && !proven {
        return Err(AgentError::needs_human("removing a deny rule"));
    }
    let r = v.remove_rule(id)?;
    st.approvals.rules_changed();
    st.audit(
        Event::new(EventKind::RuleChange)
            .env(r.env)
            .exe(r.exe)
            .rule(format!("{} rule #{id}", r.effect.as_str()))
            .detail("removed"),
    );
    Ok(Response::Done)
}
