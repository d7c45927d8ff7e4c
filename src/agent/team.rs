//! Shared environments in the agent: the remote requests, writes routed to the server,
//! and the background refresh. The network part of a refresh runs without the state
//! lock; writes hold it (they are rare and bounded by the client's timeouts).

use std::sync::Arc;

use super::server::Shared;
use super::state::{OpError, State};
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Request, Response, WireAuth};
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

impl State {
    /// The team requests; `None` for any other request.
    pub(super) fn team_request(&mut self, req: Request) -> Result<Response, OpError> {
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
                if !self.vault()?.is_unlocked() {
                    return Err(StoreError::Locked.into());
                }
                // Log in before recording anything: a wrong URL, CA or credential changes
                // nothing.
                let remote = Remote::new(spec.clone(), creds.duplicate()).map_err(remote_err)?;
                remote.cluster_id().map_err(remote_err)?;
                let identity = remote.check().map_err(remote_err)?;
                self.vault()?.add_remote(&spec, &creds)?;
                self.remotes.forget(&name);
                tracing::info!(remote = %name, url = %spec.url, %identity, "remote added");
                self.audit(
                    Event::new(EventKind::Team)
                        .rule(format!("remote {name}"))
                        .detail(format!("remote added: {} as {identity}", spec.url)),
                );
                Response::Done
            }
            Request::RemoteList => Response::Remotes {
                remotes: self.remote_views(None, false)?,
            },
            Request::RemoteStatus { name } => Response::Remotes {
                remotes: self.remote_views(name.as_deref(), true)?,
            },
            Request::RemoteRemove { name } => {
                self.vault()?.remove_remote(&name)?;
                self.remotes.forget(&name);
                self.audit(
                    Event::new(EventKind::Team)
                        .rule(format!("remote {name}"))
                        .detail("remote removed"),
                );
                Response::Done
            }
            Request::EnvCreateShared { name, remote } => {
                self.link_new(&name, &remote, true)?;
                Response::Done
            }
            Request::EnvLink { name, remote } => {
                self.link_new(&name, &remote, false)?;
                Response::Done
            }
            Request::EnvUnlink { name } => {
                self.vault()?.unlink_env(&name)?;
                self.audit(
                    Event::new(EventKind::Team)
                        .env(name.clone())
                        .detail("unlinked: the cached values stay as a local environment"),
                );
                self.refresh_env(&name);
                Response::Done
            }
            Request::Sync { env } => {
                let links: Vec<Link> = self
                    .vault()?
                    .links()?
                    .into_iter()
                    .filter(|l| env.as_ref().is_none_or(|e| *e == l.env))
                    .collect();
                if let Some(e) = &env
                    && links.is_empty()
                {
                    self.vault()?.env_id(e)?;
                    return Err(StoreError::Remote(format!(
                        "{e} is not a shared environment: link it with `openv env link {e} --remote NAME`"
                    ))
                    .into());
                }
                let mut results = Vec::new();
                for link in links {
                    let remote = self.remote_for(&link.remote)?;
                    // A person asked: try now even if the breaker is open.
                    remote.breaker.reset();
                    let result = sync::fetch(&remote, &link);
                    let outcome = self.team_apply(&link, result)?;
                    results.push((link.env, outcome));
                }
                Response::Synced { results }
            }
            _ => {
                return Err(OpError::Other(
                    ErrorCode::Internal,
                    "internal error: request routed to the wrong handler".into(),
                ));
            }
        })
    }

    fn remote_for(&mut self, name: &str) -> Result<Arc<Remote>, StoreError> {
        let vault = self.vault.as_ref().ok_or(StoreError::Locked)?;
        self.remotes.get(vault, name)
    }

    /// Creates (or links) a local environment for `name` on `remote`.
    fn link_new(&mut self, name: &str, remote: &str, create: bool) -> Result<(), StoreError> {
        crate::names::check_env_name(name)?;
        if !self.vault()?.is_unlocked() {
            return Err(StoreError::Locked);
        }
        let spec = self.vault()?.remote_spec(remote)?;
        let client = self.remote_for(remote)?;
        let path = spec.path_of(name);
        let existed = self.vault()?.list_envs()?.iter().any(|e| e.name == name);
        if existed {
            return Err(StoreError::EnvironmentExists(name.to_owned()));
        }
        self.vault()?.create_env(name)?;
        let done = (|| {
            self.vault()?.link_env(name, remote, &path)?;
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
            let link = self
                .vault()?
                .link_of(name)?
                .ok_or_else(|| StoreError::NoEnvironment(name.to_owned()))?;
            match sync::fetch(&client, &link) {
                Err(crate::remote::RemoteError::NotFound { .. }) => {
                    Err(StoreError::Remote(format!(
                        "no environment {name} on {remote} ({path}): create it with `openv env create {name} --remote {remote}`"
                    )))
                }
                Err(e) => Err(remote_err(e)),
                Ok(r) => self.team_apply(&link, Ok(r)).map(|_| ()),
            }
        })();
        if let Err(e) = done {
            // Nothing stays behind from a failed create or link.
            let _ = self.vault()?.delete_env(name);
            return Err(e);
        }
        self.audit(
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
    pub(super) fn team_apply(
        &mut self,
        link: &Link,
        result: sync::FetchResult,
    ) -> Result<Outcome, StoreError> {
        let policy = self.team_policy;
        let was_stale = sync::is_stale(link, &policy);
        let outcome = sync::apply(self.vault()?, link, result, &policy)?;
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
            self.audit(ev);
        }
        self.refresh_env(&link.env);
        Ok(outcome)
    }

    /// Whether `env` is a shared environment (its writes go to the server).
    pub(super) fn is_shared(&mut self, env: &str) -> bool {
        self.vault()
            .and_then(|v| v.link_of(env))
            .is_ok_and(|l| l.is_some())
    }

    /// Writes a change of a shared environment to the server, then to the cache.
    pub(super) fn team_write(
        &mut self,
        env: &str,
        change: Change,
    ) -> Result<Vec<String>, StoreError> {
        let link = self
            .vault()?
            .link_of(env)?
            .ok_or_else(|| StoreError::NoEnvironment(env.to_owned()))?;
        let names: Vec<String> = match &change {
            Change::Set { vars, .. } => vars.iter().map(|(n, _)| n.clone()).collect(),
            Change::Declare(n) | Change::Remove(n) => n.clone(),
        };
        let result = (|| {
            let remote = self.remote_for(&link.remote)?;
            let policy = self.team_policy;
            sync::write(self.vault()?, &remote, &link, &change, &policy)
        })();
        let ev = Event::new(EventKind::Team)
            .env(env.to_owned())
            .names(names.clone());
        self.audit(match &result {
            Ok(_) => ev
                .decision(Decision::Allowed)
                .detail("written to the server"),
            Err(e) => ev
                .decision(Decision::Denied)
                .detail(format!("write failed: {e}")),
        });
        self.refresh_env(env);
        result.map(|_| names)
    }

    fn remote_views(
        &mut self,
        only: Option<&str>,
        check: bool,
    ) -> Result<Vec<RemoteView>, StoreError> {
        let specs = self.vault()?.list_remotes()?;
        let links = self.vault()?.links()?;
        if let Some(n) = only
            && !specs.iter().any(|s| s.name == n)
        {
            self.vault()?.remote_spec(n)?;
        }
        let mut out = Vec::new();
        for spec in specs
            .into_iter()
            .filter(|s| only.is_none_or(|n| n == s.name))
        {
            let (login, live) = if check && self.vault()?.is_unlocked() {
                match self.remote_for(&spec.name) {
                    Ok(r) => match r.check() {
                        Ok(id) => (Some(format!("ok ({id})")), Some(r)),
                        Err(e) => (Some(e.to_string()), Some(r)),
                    },
                    Err(e) => (Some(e.to_string()), None),
                }
            } else {
                (None, self.remotes.loaded(&spec.name))
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
    pub(super) fn team_warnings(&mut self) -> Vec<String> {
        let policy = self.team_policy;
        let Ok(links) = self.vault().and_then(|v| v.links()) else {
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
            if let Some(r) = self.remotes.loaded(&l.remote)
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
    fn team_due(&mut self) -> Vec<(Link, Arc<Remote>)> {
        let Ok(v) = self.vault() else {
            return Vec::new();
        };
        if !v.is_unlocked() {
            return Vec::new();
        }
        let links = v.links().unwrap_or_default();
        links
            .into_iter()
            .filter_map(|l| {
                let r = self.remote_for(&l.remote).ok()?;
                Some((l, r))
            })
            .collect()
    }
}

/// Refreshes every shared environment every `refresh`: the fetches run on the blocking
/// pool without the state lock, the results are applied under it.
pub async fn refresh_loop(state: Shared, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every.max(std::time::Duration::from_millis(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let due = st.lock().unwrap_or_else(|p| p.into_inner()).team_due();
            for (link, remote) in due {
                let result = sync::fetch(&remote, &link);
                let mut guard = st.lock().unwrap_or_else(|p| p.into_inner());
                // The link may have changed (unlinked, synced) while fetching.
                let current = guard
                    .vault()
                    .ok()
                    .and_then(|v| v.link_of(&link.env).ok().flatten());
                let Some(current) = current.filter(|c| c.remote == link.remote && c.path == link.path)
                else {
                    continue;
                };
                if let Err(e) = guard.team_apply(&current, result) {
                    tracing::warn!(env = %link.env, error = %e, "refresh of a shared environment failed");
                }
            }
        })
        .await;
    }
}
