//! Shared environments in the agent: the remote requests, writes routed to the server,
//! and the background refresh. The network part of a refresh runs without the state
//! lock; writes hold it (they are rare and bounded by the client's timeouts).

use std::sync::Arc;

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{Request, Response, WireAuth};
use crate::remote::auth::Credentials;
use crate::remote::registry::RemoteView;
use crate::remote::sync::{self, Change, Outcome};
use crate::remote::{Remote, RemoteSpec};
use crate::secret::SecretValue;
use crate::store::team::Link;
use crate::store::{Backend, StoreError};

fn remote_err(e: crate::remote::RemoteError) -> StoreError {
    StoreError::Remote(e.to_string())
}

/// Reads a credential file inside the agent (like key files): trimmed, never echoed.
fn read_secret_file(path: &std::path::Path, what: &str) -> Result<SecretValue, StoreError> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        StoreError::Io {
            what: format!("{what} {}", path.display()),
            source,
        }
    })?);
    let t = text.trim();
    if t.is_empty() {
        return Err(StoreError::Remote(format!(
            "{what} {} is empty: write the {what} into it",
            path.display()
        )));
    }
    Ok(SecretValue::new(t.to_owned()))
}

/// The team requests; `None` for any other request.
pub fn handle(st: &mut State, req: Request) -> Result<Response, AgentError> {
    Ok(match req {
        Request::RemoteAdd {
            name,
            url,
            kv_mount,
            prefix,
            auth,
            ca_pem,
        } => {
            let (kind, principal, creds) = match auth {
                WireAuth::TokenFile { path } => {
                    let t = read_secret_file(&path, "token file")?;
                    ("token", None, Credentials::Token(t))
                }
                WireAuth::AppRole {
                    role_id,
                    secret_id_file,
                } => {
                    let s = read_secret_file(&secret_id_file, "secret id file")?;
                    (
                        "approle",
                        Some(role_id.clone()),
                        Credentials::AppRole {
                            role_id,
                            secret_id: s,
                        },
                    )
                }
                WireAuth::Userpass { user, password } => (
                    "userpass",
                    Some(user.clone()),
                    Credentials::Userpass { user, password },
                ),
            };
            let spec = RemoteSpec {
                name: name.clone(),
                url,
                kv_mount,
                prefix,
                auth: kind.into(),
                principal,
                ca_pem,
            };
            if !st.vault()?.is_unlocked() {
                return Err(StoreError::Locked.into());
            }
            // Log in before recording anything: a wrong URL, CA or credential changes
            // nothing.
            let remote = Remote::new(spec.clone(), creds.duplicate()).map_err(remote_err)?;
            remote.cluster_id().map_err(remote_err)?;
            let identity = remote.check().map_err(remote_err)?;
            st.vault()?.add_remote(&spec, &creds)?;
            st.remotes.forget(&name);
            tracing::info!(remote = %name, url = %spec.url, %identity, "remote added");
            st.audit(
                Event::new(EventKind::Team)
                    .rule(format!("remote {name}"))
                    .detail(format!("remote added: {} as {identity}", spec.url)),
            );
            Response::Done
        }
        Request::RemoteList => Response::Remotes {
            remotes: remote_views(st, None, false)?,
        },
        Request::RemoteStatus { name } => Response::Remotes {
            remotes: remote_views(st, name.as_deref(), true)?,
        },
        Request::RemoteRemove { name } => {
            st.vault()?.remove_remote(&name)?;
            st.remotes.forget(&name);
            st.audit(
                Event::new(EventKind::Team)
                    .rule(format!("remote {name}"))
                    .detail("remote removed"),
            );
            Response::Done
        }
        Request::EnvCreateShared { name, remote } => {
            link_new(st, &name, &remote, true)?;
            Response::Done
        }
        Request::EnvLink { name, remote } => {
            link_new(st, &name, &remote, false)?;
            Response::Done
        }
        Request::EnvUnlink { name } => {
            st.vault()?.unlink_env(&name)?;
            st.audit(
                Event::new(EventKind::Team)
                    .env(name.clone())
                    .detail("unlinked: the cached values stay as a local environment"),
            );
            crate::agent::contents::refresh_env(st, &name);
            Response::Done
        }
        Request::Sync { env } => {
            let links: Vec<Link> = st
                .vault()?
                .links()?
                .into_iter()
                .filter(|l| env.as_ref().is_none_or(|e| *e == l.env))
                .collect();
            if let Some(e) = &env
                && links.is_empty()
            {
                st.vault()?.env_id(e)?;
                return Err(StoreError::Remote(format!(
                        "{e} is not a shared environment: link it with `openv env link {e} --remote NAME`"
                    ))
                    .into());
            }
            let mut results = Vec::new();
            for link in links {
                let remote = remote_for(st, &link.remote)?;
                // A person asked: try now even if the breaker is open.
                remote.breaker.reset();
                let result = sync::fetch(&remote, &link);
                let outcome = team_apply(st, &link, result)?;
                results.push((link.env, outcome));
            }
            Response::Synced { results }
        }
        _ => return Err(AgentError::internal()),
    })
}

fn remote_for(st: &mut State, name: &str) -> Result<Arc<Remote>, StoreError> {
    let vault = st.vault.as_ref().ok_or(StoreError::Locked)?;
    st.remotes.get(vault, name)
}

/// Creates (or links) a local environment for `name` on `remote`.
fn link_new(st: &mut State, name: &str, remote: &str, create: bool) -> Result<(), StoreError> {
    crate::names::check_env_name(name)?;
    if !st.vault()?.is_unlocked() {
        return Err(StoreError::Locked);
    }
    let spec = st.vault()?.remote_spec(remote)?;
    let client = remote_for(st, remote)?;
    let path = spec.path_of(name);
    let existed = st.vault()?.list_envs()?.iter().any(|e| e.name == name);
    if existed {
        return Err(StoreError::EnvironmentExists(name.to_owned()));
    }
    st.vault()?.create_env(name)?;
    let done = (|| {
        st.vault()?.link_env(name, remote, &path)?;
        if create {
            // Create-only (cas 0): an environment of that name on the server is not
            // overwritten.
            let meta = serde_json::json!({"v": 1, "declared": {}, "vars": {}});
            match client.write_path(
                &path,
                &crate::remote::kv::Patch {
                    values: Vec::new(),
                    meta,
                },
                Some(0),
            ) {
                Ok(_) => {}
                Err(crate::remote::RemoteError::CasMismatch { .. }) => {
                    return Err(StoreError::Remote(format!(
                        "{name} already exists on {remote} ({path}): link it with `openv env link {name} --remote {remote}`"
                    )));
                }
                Err(e) => return Err(remote_err(e)),
            }
        }
        let link = st
            .vault()?
            .link_of(name)?
            .ok_or_else(|| StoreError::NoEnvironment(name.to_owned()))?;
        match sync::fetch(&client, &link) {
            Err(crate::remote::RemoteError::NotFound { .. }) => Err(StoreError::Remote(format!(
                "no environment {name} on {remote} ({path}): create it with `openv env create {name} --remote {remote}`"
            ))),
            Err(e) => Err(remote_err(e)),
            Ok(r) => team_apply(st, &link, Ok(r)).map(|_| ()),
        }
    })();
    if let Err(e) = done {
        // Nothing stays behind from a failed create or link.
        let _ = st.vault()?.delete_env(name);
        return Err(e);
    }
    st.audit(
        Event::new(EventKind::Team)
            .env(name.to_owned())
            .detail(format!(
                "{} on remote {remote} at {path}",
                if create { "created" } else { "linked" }
            )),
    );
    Ok(())
}

/// Stores a fetch result, audits it, and refreshes the mounts.
pub fn team_apply(
    st: &mut State,
    link: &Link,
    result: sync::FetchResult,
) -> Result<Outcome, StoreError> {
    let policy = st.team_policy;
    let was_stale = sync::is_stale(link, &policy);
    let outcome = sync::apply(st.vault()?, link, result, &policy)?;
    let ev = Event::new(EventKind::Team).env(link.env.clone());
    let ev = match &outcome {
        Outcome::Fetched { version, variables } => {
            Some(ev.decision(Decision::Allowed).detail(format!(
                "fetched version {version} ({variables} values) from {}",
                link.server
            )))
        }
        Outcome::NamesOnly { version, names } => Some(ev.detail(format!(
            "names only: {names} names of version {version} (the token may not read values)"
        ))),
        Outcome::Purged { reason } => Some(
            ev.decision(Decision::Denied)
                .detail(format!("purged: {reason}")),
        ),
        // One record per change of state, not one per refresh tick.
        Outcome::Stale { error, refused } if !was_stale || *refused => Some(
            ev.decision(if *refused {
                Decision::Denied
            } else {
                Decision::Allowed
            })
            .detail(if *refused {
                format!("stale: reads refused ({error})")
            } else {
                format!("stale: serving cached values ({error})")
            }),
        ),
        Outcome::Stale { .. } => None,
    };
    if let Some(ev) = ev {
        st.audit(ev);
    }
    crate::agent::contents::refresh_env(st, &link.env);
    Ok(outcome)
}

/// Whether `env` is a shared environment (its writes go to the server).
pub fn is_shared(st: &mut State, env: &str) -> bool {
    st.vault()
        .and_then(|v| v.link_of(env))
        .is_ok_and(|l| l.is_some())
}

/// Writes a change of a shared environment to the server, then to the cache.
pub fn team_write(st: &mut State, env: &str, change: Change) -> Result<Vec<String>, StoreError> {
    let link = st
        .vault()?
        .link_of(env)?
        .ok_or_else(|| StoreError::NoEnvironment(env.to_owned()))?;
    let names: Vec<String> = match &change {
        Change::Set { vars, .. } => vars.iter().map(|(n, _)| n.clone()).collect(),
        Change::Declare(n) | Change::Remove(n) => n.clone(),
    };
    let result = (|| {
        let remote = remote_for(st, &link.remote)?;
        let policy = st.team_policy;
        sync::write(st.vault()?, &remote, &link, &change, &policy)
    })();
    let ev = Event::new(EventKind::Team)
        .env(env.to_owned())
        .names(names.clone());
    st.audit(match &result {
        Ok(_) => ev
            .decision(Decision::Allowed)
            .detail("written to the server"),
        Err(e) => ev
            .decision(Decision::Denied)
            .detail(format!("write failed: {e}")),
    });
    crate::agent::contents::refresh_env(st, env);
    result.map(|_| names)
}

fn remote_views(
    st: &mut State,
    only: Option<&str>,
    check: bool,
) -> Result<Vec<RemoteView>, StoreError> {
    let specs = st.vault()?.list_remotes()?;
    let links = st.vault()?.links()?;
    if let Some(n) = only
        && !specs.iter().any(|s| s.name == n)
    {
        st.vault()?.remote_spec(n)?;
    }
    let mut out = Vec::new();
    for spec in specs
        .into_iter()
        .filter(|s| only.is_none_or(|n| n == s.name))
    {
        let (login, live) = if check && st.vault()?.is_unlocked() {
            match remote_for(st, &spec.name) {
                Ok(r) => match r.check() {
                    Ok(id) => (Some(format!("ok ({id})")), Some(r)),
                    Err(e) => (Some(e.to_string()), Some(r)),
                },
                Err(e) => (Some(e.to_string()), None),
            }
        } else {
            (None, st.remotes.loaded(&spec.name))
        };
        out.push(RemoteView {
            environments: links
                .iter()
                .filter(|l| l.remote == spec.name)
                .cloned()
                .collect(),
            name: spec.name,
            url: spec.url,
            kv_mount: spec.kv_mount,
            prefix: spec.prefix,
            auth: spec.auth,
            principal: spec.principal,
            custom_ca: spec.ca_pem.is_some(),
            breaker: live.as_ref().map(|r| r.breaker_state().as_str().to_owned()),
            login,
            identity: live.as_ref().and_then(|r| r.identity()),
            token_ttl_secs: live.as_ref().and_then(|r| r.token_ttl()),
        });
    }
    Ok(out)
}

/// One line per shared environment that is stale or refused, for `openv status` and
/// the MCP health tool.
pub fn team_warnings(st: &mut State) -> Vec<String> {
    let policy = st.team_policy;
    let Ok(links) = st.vault().and_then(|v| v.links()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for l in links {
        if let Some(r) = &l.refuse {
            out.push(format!("{}: reads refused: {r}", l.env));
        } else if policy.stale == sync::Stale::Warn && sync::is_stale(&l, &policy) {
            let age = l
                .fetched
                .map(crate::store::rfc3339_seconds)
                .unwrap_or_else(|| "never".into());
            out.push(format!(
                "{}: stale: serving values fetched {age}{}",
                l.env,
                l.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(r) = st.remotes.loaded(&l.remote)
            && r.breaker_state() != crate::remote::breaker::BreakerState::Closed
        {
            out.push(format!(
                "remote {}: circuit {} after {} failures",
                l.remote,
                r.breaker_state().as_str(),
                r.breaker.failures()
            ));
        }
    }
    out.dedup();
    out
}

/// The links due for a refresh and their clients (needs the unlocked vault).
pub fn team_due(st: &mut State) -> Vec<(Link, Arc<Remote>)> {
    let Ok(v) = st.vault() else {
        return Vec::new();
    };
    if !v.is_unlocked() {
        return Vec::new();
    }
    let links = v.links().unwrap_or_default();
    links
        .into_iter()
        .filter_map(|l| {
            let r = remote_for(st, &l.remote).ok()?;
            Some((l, r))
        })
        .collect()
}
