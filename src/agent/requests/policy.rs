//! Persistent rules: add, list, remove. Every change is audited and reloads the rules the
//! approvals use.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::Response;
use crate::store::rules::Effect;

pub fn add(
    st: &mut State,
    env: String,
    effect: Effect,
    exe: String,
    cwd: Option<String>,
    for_secs: Option<u64>,
) -> Result<Response, AgentError> {
    let expires = for_secs.map(|s| crate::store::now() + s as i64);
    let id = st
        .vault()?
        .add_rule(&env, effect, &exe, cwd.as_deref(), expires)?;
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

pub fn remove(st: &mut State, id: i64) -> Result<Response, AgentError> {
    let r = st.vault()?.remove_rule(id)?;
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
