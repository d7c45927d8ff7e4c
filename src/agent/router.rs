//! The one router: every `Request` kind maps to its handler here, in one `match`, and
//! each arm declares who may ask for it ([`Tier`]) and whether it may wait for a person
//! ([`Job::Waits`]) or is answered at once under the state lock ([`Job::Now`]).

use futures::future::BoxFuture;

use super::error::AgentError;
use super::provenance;
use super::requests::{
    audit, backups, consent, environments, mounts, pending, policy, settings, team, variables,
    vault,
};
use super::state::{Shared, State, lock};
use crate::ipc::protocol::{ErrorCode, Request, Response};
use crate::store::policy_seal::AgentPolicy;

/// Who may ask for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Any process of the user: it lists, declares, narrows, asks the human, or reads
    /// values through an approval.
    Agent,
    /// It widens access: only the human may ask for it.
    Human,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Human => "human",
        }
    }
}

type NowFn = Box<dyn FnOnce(&mut State) -> Result<Response, AgentError> + Send>;

/// How a request is answered.
pub enum Job {
    /// At once, with the state lock held, on the blocking pool. `uses_vault`: the request
    /// counts as use of the vault for the idle lock (listing names does not).
    Now { uses_vault: bool, run: NowFn },
    /// May wait for a person, so it runs without holding the state lock.
    Waits(BoxFuture<'static, Result<Response, AgentError>>),
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Now { uses_vault, .. } => write!(f, "Now {{ uses_vault: {uses_vault} }}"),
            Self::Waits(_) => f.write_str("Waits"),
        }
    }
}

/// A request's declared tier and its handler.
#[derive(Debug)]
pub struct Route {
    pub tier: Tier,
    pub job: Job,
}

/// Answered at once; `look`s do not count as use of the vault for the idle lock.
fn now(
    tier: Tier,
    uses_vault: bool,
    f: impl FnOnce(&mut State) -> Result<Response, AgentError> + Send + 'static,
) -> Route {
    Route {
        tier,
        job: Job::Now {
            uses_vault,
            run: Box::new(f),
        },
    }
}

fn look(
    tier: Tier,
    f: impl FnOnce(&mut State) -> Result<Response, AgentError> + Send + 'static,
) -> Route {
    now(tier, false, f)
}

fn act(
    tier: Tier,
    f: impl FnOnce(&mut State) -> Result<Response, AgentError> + Send + 'static,
) -> Route {
    now(tier, true, f)
}

fn waits(
    tier: Tier,
    f: impl std::future::Future<Output = Result<Response, AgentError>> + Send + 'static,
) -> Route {
    Route {
        tier,
        job: Job::Waits(Box::pin(f)),
    }
}

/// What the human must be asked for, when a request of the `Human` tier comes without a
/// proof: a short name of what it would widen.
pub fn widens(req: &Request) -> &'static str {
    match req {
        Request::Answer { .. } => "allowing a pending request",
        Request::PolicyAdd { .. } => "an allow rule",
        Request::PolicyRemove { .. } => "removing a deny rule",
        Request::Resolve { .. } => "running without output masking",
        Request::Restore { .. } => "restoring the vault from a copy",
        Request::RemoteAdd { .. } => "adding a team remote",
        Request::ConfigSet { .. } => "a security setting (`openv config set`)",
        Request::AuditAccept => "accepting a changed audit log (`openv audit accept`)",
        Request::GuardLoosen { .. } => "loosening the guard's defaults",
        Request::VarSet { .. }
        | Request::VarSetMany { .. }
        | Request::VarGenerate { .. }
        | Request::Import { .. } => {
            "a value for a name that changes what code runs (PATH, LD_*, NODE_OPTIONS, ...)"
        }
        _ => "this request",
    }
}

/// Maps a request to its handler. `peer` is the asking process (from the socket's peer
/// credentials, never from the request); `proven`: a proof of the human came with it.
pub fn route(req: Request, peer: Option<i32>, proven: bool, state: &Shared, cid: &str) -> Route {
    use Tier::{Agent, Human};
    let (state, cid) = (state.clone(), cid.to_owned());
    match req {
        Request::Hello { .. } => look(Agent, |_| Ok(Response::Done)),
        Request::Status => look(Agent, |st| Ok(vault::status(st))),
        Request::Prove { proof, .. } => act(Agent, move |st| vault::prove(st, proof)),
        Request::Init {
            secret,
            create_keyfile,
        } => act(Agent, move |st| vault::init(st, secret, create_keyfile)),
        Request::Unlock { secret } => act(Agent, move |st| vault::unlock(st, secret)),
        Request::Lock => act(Agent, |st| Ok(vault::lock(st))),
        Request::Verify => act(Agent, vault::verify),
        Request::Backup { path } => act(Agent, move |st| backups::backup(st, &path)),
        // It replaces every value and rule: the human's, proven against the current
        // vault. Only when that vault cannot check a proof (missing or damaged) does the
        // copy's own secret suffice: `backups::restore` decides.
        Request::Restore { path, secret } => {
            act(Agent, move |st| backups::restore(st, &path, secret, proven))
        }
        Request::EnvList => look(Agent, environments::list),
        Request::EnvCreate { name } => act(Agent, move |st| environments::create(st, &name)),
        Request::EnvRename { name, new_name } => {
            act(Agent, move |st| environments::rename(st, &name, &new_name))
        }
        Request::EnvDelete { name } => act(Agent, move |st| environments::delete(st, &name)),
        Request::VarList { env } => look(Agent, move |st| variables::list(st, env)),
        Request::VarDeclare { env, names } => {
            act(Agent, move |st| variables::declare(st, &env, &names))
        }
        // A value for a name that can become code (`code_names`) only from the human.
        // Who gave a value is the agent's finding (`provenance`), never the request's.
        Request::VarSet { env, name, value } => act(code_tier([name.as_str()]), move |st| {
            let source = provenance::of(st, peer, proven);
            variables::set(st, &env, name, value, source)
        }),
        Request::VarSetMany { env, vars, source } => {
            act(code_tier(vars.iter().map(|(n, _)| n.as_str())), move |st| {
                let source = provenance::with_claim(provenance::of(st, peer, proven), source);
                variables::set_many(st, &env, vars, source)
            })
        }
        Request::VarGenerate {
            env,
            names,
            length,
            charset,
        } => act(code_tier(names.iter().map(String::as_str)), move |st| {
            variables::generate(st, &env, names, length, charset)
        }),
        Request::VarRemove { env, names } => {
            act(Agent, move |st| variables::remove(st, &env, names))
        }
        // The file's names are known once the agent has read it: `import` asks for the
        // human when one of them can become code.
        Request::Import { env, path } => act(Agent, move |st| {
            let source = provenance::of(st, peer, proven);
            variables::import(st, &env, &path, source)
        }),
        Request::Mount {
            path,
            env,
            mode,
            import,
        } => act(Agent, move |st| {
            let source = provenance::of(st, peer, proven);
            mounts::mount(st, path, env, &mode, import, source)
        }),
        Request::Unmount { path } => act(Agent, move |st| mounts::unmount(st, &path)),
        Request::Mounts => look(Agent, |st| Ok(mounts::list(st))),
        // Adding an allow rule widens access; a deny rule only narrows it.
        Request::PolicyAdd {
            env,
            effect,
            exe,
            cwd,
            for_secs,
            lift_builtin,
            agents,
        } => {
            let tier = match effect {
                crate::store::rules::Effect::Allow => Human,
                crate::store::rules::Effect::Deny => Agent,
            };
            act(tier, move |st| {
                crate::approvals::builtin::check_allow(effect, &exe, lift_builtin)
                    .map_err(AgentError::denied)?;
                policy::add(st, env, effect, exe, cwd, for_secs, agents)
            })
        }
        Request::PolicyConfirm => act(Human, policy::confirm),
        // Refusing agent-started readers narrows; going back to asking widens.
        Request::PolicyAgents { env, policy: p } => {
            let tier = match p {
                AgentPolicy::Deny => Agent,
                AgentPolicy::Ask => Human,
            };
            act(tier, move |st| policy::agents(st, env, p))
        }
        Request::PolicyList => look(Agent, policy::list),
        // Removing an allow rule narrows; removing a deny rule widens: `policy::remove`
        // knows the rule's effect and refuses the latter without a proof.
        Request::PolicyRemove { id } => act(Agent, move |st| policy::remove(st, id, proven)),
        Request::Pending => look(Agent, |st| Ok(pending::list(st))),
        // Allowing a pending read widens access; denying narrows.
        Request::Answer {
            id,
            allow,
            scope,
            for_secs,
            cwd,
        } => act(if allow { Human } else { Agent }, move |st| {
            pending::answer(st, id, allow, scope, for_secs, cwd)
        }),
        Request::AuditVerify => act(Agent, audit::verify),
        Request::AuditAccept => act(Human, audit::accept),
        Request::GuardLoosen { loosens } => {
            act(Human, move |st| Ok(audit::guard_loosened(st, loosens)))
        }
        Request::ConfigList => look(Agent, |st| Ok(settings::list(st))),
        Request::ConfigSet { key, value } => act(Human, move |st| settings::set(st, key, value)),
        Request::McpAudit {
            tool,
            env,
            names,
            client,
            allowed,
            detail,
        } => act(Agent, move |st| {
            Ok(audit::mcp_call(
                st, tool, env, names, client, allowed, detail,
            ))
        }),
        Request::Resolve {
            envs,
            only,
            command,
            unmasked,
        } => waits(
            if unmasked { Human } else { Agent },
            consent::resolve(state, peer, envs, only, command, cid),
        ),
        Request::Confirm {
            action,
            env,
            client,
        } => waits(Agent, consent::confirm(state, peer, action, env, client)),
        // Team environments (agent/requests/team.rs). Adding a remote decides where
        // values come from and holds credentials: only the human.
        req @ Request::RemoteAdd { .. } => act(Human, move |st| team::handle(st, req)),
        req @ Request::RemoteList => look(Agent, move |st| team::handle(st, req)),
        req @ (Request::RemoteStatus { .. }
        | Request::RemoteRemove { .. }
        | Request::EnvCreateShared { .. }
        | Request::EnvLink { .. }
        | Request::EnvUnlink { .. }
        | Request::Sync { .. }) => act(Agent, move |st| team::handle(st, req)),
        Request::AskValues {
            env,
            names,
            timeout_secs,
        } => waits(
            Agent,
            consent::ask_values(state, peer, env, names, timeout_secs),
        ),
    }
}

/// `Human` when one of `names` takes a value that can become code.
fn code_tier<'a>(names: impl IntoIterator<Item = &'a str>) -> Tier {
    if names.into_iter().any(crate::code_names::is_code_name) {
        Tier::Human
    } else {
        Tier::Agent
    }
}

/// Runs a routed request's handler and turns a failure into `Response::Error` with the
/// correlation id.
pub async fn run(route: Route, state: &Shared, cid: &str) -> Response {
    let result = match route.job {
        Job::Now { uses_vault, run } => {
            let st = state.clone();
            tokio::task::spawn_blocking(move || {
                let mut st = lock(&st);
                if uses_vault {
                    st.touch();
                }
                // A refused write names what changed under the vault and the remedy.
                run(&mut st).map_err(|e| match e.code {
                    ErrorCode::Damaged => crate::agent::health::damage(&mut st)
                        .map_or(e, |m| AgentError::new(ErrorCode::Damaged, m)),
                    _ => e,
                })
            })
            .await
            .unwrap_or_else(|_| Err(AgentError::internal()))
        }
        Job::Waits(fut) => fut.await,
    };
    result.unwrap_or_else(|e| {
        tracing::info!(error = %e, "request failed");
        e.into_response(cid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rules::Effect;

    fn tier_of(req: Request) -> Tier {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let handler = crate::agent::reads::fast_path::FastPath::new(tx);
        let dir = tempfile::tempdir().expect("temp dir");
        let home = crate::paths::Home::at(dir.path().to_path_buf());
        let state = std::sync::Arc::new(std::sync::Mutex::new(State::new(
            home,
            crate::config::Config::default(),
            crate::mount_table::Mounts::new(std::sync::Arc::new(handler), None),
        )));
        route(req, None, false, &state, "test").tier
    }

    #[test]
    fn widening_requests_are_the_humans() {
        let answer = |allow| Request::Answer {
            id: 1,
            allow,
            scope: None,
            for_secs: None,
            cwd: None,
        };
        assert_eq!(tier_of(answer(true)), Tier::Human);
        assert_eq!(tier_of(answer(false)), Tier::Agent);
        let rule = |effect| Request::PolicyAdd {
            env: "dev".into(),
            effect,
            exe: "/usr/bin/env".into(),
            cwd: None,
            for_secs: None,
            lift_builtin: false,
            agents: false,
        };
        assert_eq!(tier_of(rule(Effect::Allow)), Tier::Human);
        assert_eq!(tier_of(rule(Effect::Deny)), Tier::Agent);
        let agents = |policy| Request::PolicyAgents {
            env: "dev".into(),
            policy,
        };
        assert_eq!(tier_of(agents(AgentPolicy::Ask)), Tier::Human);
        assert_eq!(tier_of(agents(AgentPolicy::Deny)), Tier::Agent);
        assert_eq!(tier_of(Request::PolicyConfirm), Tier::Human);
        assert_eq!(tier_of(Request::Status), Tier::Agent);
    }
}
