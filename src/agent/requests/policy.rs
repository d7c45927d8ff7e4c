//! Persistent rules: add, list, remove. Every change is audited and reloads the rules the
//! approvals use.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::Response;
use crate::store::policy_seal::AgentPolicy;
use crate::store::rules::{Effect, NewRule};

pub fn add(
    st: &mut State,
    env: String,
    effect: Effect,
    exe: String,
    cwd: Option<String>,
    for_secs: Option<u64>,
    agents: bool,
) -> Result<Response, AgentError> {
    let expires = for_secs.map(|s| crate::store::now() + s as i64);
    let id = st.vault()?.add_rule(&NewRule {
        env: &env,
        effect,
        exe: &exe,
        cwd: cwd.as_deref(),
        expires,
        agents,
    })?;
    st.approvals.rules_changed();
    tracing::info!(%env, %exe, effect = effect.as_str(), id, "rule added");
    st.audit(
        Event::new(EventKind::RuleChange)
            .env(env)
            .exe(exe)
            .rule(format!("{} rule #{id}", effect.as_str()))
            .detail(if agents {
                "added (covers agent-started readers too)"
            } else {
                "added"
            }),
    );
    Ok(Response::RuleAdded { id })
}

/// Every rule in the table, with what the check against the seal found (the vault must
/// be unlocked for that check; locked, the rules are listed unchecked).
pub fn list(st: &mut State) -> Result<Response, AgentError> {
    let rules = st.vault()?.list_rules()?;
    // The policy as the approvals use it (checked against the seal when it was loaded).
    let (problem, agents_denied) = match st
        .vault
        .as_ref()
        .filter(|v| crate::store::Backend::is_unlocked(*v))
    {
        Some(v) => {
            let p = st.approvals.policy(v)?;
            let mut denied: Vec<String> = p
                .agents
                .iter()
                .filter(|(_, a)| **a == AgentPolicy::Deny)
                .map(|(e, _)| e.clone())
                .collect();
            if p.agents_denied {
                denied = vec!["every environment (the policy seal does not verify)".into()];
            }
            denied.sort();
            (p.summary(), denied)
        }
        None => (None, Vec::new()),
    };
    Ok(Response::Rules {
        rules,
        problem,
        agents_denied,
    })
}

/// The human accepts the table as it is (a proof came with the request: human tier).
pub fn confirm(st: &mut State) -> Result<Response, AgentError> {
    let found = st.unlocked_vault_mut()?.confirm_policy()?;
    st.approvals.rules_changed();
    st.audit(Event::new(EventKind::RuleChange).detail(format!(
        "policy confirmed by the human ({} finding(s) accepted)",
        found.len()
    )));
    Ok(Response::PolicyConfirmed { found })
}

/// An environment's agent policy. `ask` after `deny` widens: the router asks for a proof.
pub fn agents(st: &mut State, env: String, policy: AgentPolicy) -> Result<Response, AgentError> {
    st.unlocked_vault_mut()?.set_agent_policy(&env, policy)?;
    st.approvals.rules_changed();
    st.audit(
        Event::new(EventKind::RuleChange)
            .env(env)
            .detail(format!("agent policy set to {}", policy.as_str())),
    );
    Ok(Response::Done)
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
