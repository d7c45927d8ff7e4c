//! The agent's state and the handling of one request.
//!
//! Everything here runs with the state lock held, on the blocking pool, so a slow key
//! derivation never stalls the socket loop.

use std::path::Path;
use std::time::Instant;

use crate::approvals::{Approvals, Settings};
use crate::audit::{AuditLog, Event, EventKind};
use crate::config::Config;
use crate::ipc::protocol::{ErrorCode, Request, Response, StatusInfo, WireSecret};
use crate::mounts::Mounts;
use crate::mounts::watch::MountWatcher;
use crate::paths::Home;
use crate::secret::SecretValue;
use crate::store::keyslot::create_keyfile;
use crate::store::sqlite::SqliteVault;
use crate::store::{Backend, SlotSecret, StoreError, ValueSource};

#[derive(Debug)]
pub struct State {
    home: Home,
    config: Config,
    started: Instant,
    pub(super) vault: Option<SqliteVault>,
    /// Last request that used or changed the vault; the idle lock counts from here.
    last_used: Instant,
    pub(super) mounts: Mounts,
    pub(super) watcher: Option<MountWatcher>,
    pub approvals: Approvals,
    audit: Option<AuditLog>,
    /// Rendered environments served by mounts, kept only while unlocked and dropped
    /// (zeroized) on any change to that environment, so a hot read skips SQLite and the
    /// decryption of every value.
    pub(super) rendered: std::collections::HashMap<String, Rendered>,
    /// Set while a passphrase prompt triggered by a read is open: later readers wait on
    /// it instead of opening a second one.
    pub(super) unlocking: Option<tokio::sync::watch::Receiver<bool>>,
    /// Live clients of the team servers (`agent/team.rs`); dropped on lock.
    pub(super) remotes: crate::remote::Remotes,
    pub(super) team_policy: crate::remote::sync::Policy,
}

/// One environment's rendered .env and the names in it.
pub(super) struct Rendered {
    pub names: Vec<String>,
    pub bytes: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("names", &self.names)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

/// Why a request failed: a store error, or something about the request itself.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{1}")]
    Other(ErrorCode, String),
}

impl OpError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Store(e) => error_code(e),
            Self::Other(c, _) => *c,
        }
    }
}

fn wire_to_slot(s: WireSecret) -> SlotSecret {
    match s {
        WireSecret::Passphrase { passphrase } => SlotSecret::Passphrase(passphrase),
        WireSecret::Keyfile { path } => SlotSecret::Keyfile(path),
    }
}

pub fn error_code(e: &StoreError) -> ErrorCode {
    match e {
        StoreError::NoVault(_) => ErrorCode::NoVault,
        StoreError::VaultExists(_) => ErrorCode::VaultExists,
        StoreError::Locked => ErrorCode::Locked,
        StoreError::WrongSecret(_) | StoreError::BadKeyfile(_) => ErrorCode::WrongSecret,
        StoreError::NoEnvironment(_) | StoreError::NoVariable { .. } | StoreError::NoRule(_) => {
            ErrorCode::NotFound
        }
        StoreError::EnvironmentExists(_) => ErrorCode::Exists,
        StoreError::Name(_) | StoreError::Unrepresentable { .. } => ErrorCode::InvalidInput,
        StoreError::Tampered { .. } => ErrorCode::Tampered,
        StoreError::Remote(_) => ErrorCode::Remote,
        StoreError::Path(_) => ErrorCode::InvalidInput,
        StoreError::Db(_) | StoreError::Corrupt(_) | StoreError::Io { .. } => ErrorCode::Internal,
    }
}

impl State {
    pub fn new(home: Home, config: Config, mounts: Mounts, watcher: Option<MountWatcher>) -> Self {
        let approvals = Approvals::new(
            Settings {
                mode: config.prompt,
                timeout: config.prompt_timeout,
                scope: config.prompt_scope,
                exe_ttl: config.exe_grant,
                ai_agents: config.ai_agents.clone(),
                pinentry: config.pinentry.clone(),
            },
            config.prompt_rate_limit,
        );
        let audit = match AuditLog::open(&home.audit_dir(), config.audit_max_bytes) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "cannot open the audit log: decisions are logged to the agent log only");
                None
            }
        };
        Self {
            approvals,
            audit,
            rendered: std::collections::HashMap::new(),
            unlocking: None,
            remotes: crate::remote::Remotes::default(),
            team_policy: config.team,
            home,
            config,
            started: Instant::now(),
            vault: None,
            last_used: Instant::now(),
            mounts,
            watcher,
        }
    }

    /// Opens the vault lazily, so a fixed permission problem needs no restart.
    pub(super) fn vault(&mut self) -> Result<&mut SqliteVault, StoreError> {
        if self.vault.is_none() {
            self.vault = Some(SqliteVault::open(&self.home.vault())?);
        }
        self.vault.as_mut().ok_or(StoreError::Locked)
    }

    /// Locks if the vault has been idle for longer than the configured time.
    pub fn lock_if_idle(&mut self) -> bool {
        let idle = self.last_used.elapsed() >= self.config.idle_lock;
        if !(idle && self.vault.as_ref().is_some_and(SqliteVault::is_unlocked)) {
            return false;
        }
        self.lock();
        self.audit(Event::new(EventKind::Lock).detail("idle timeout"));
        true
    }

    /// Records a person's answer to a pending request.
    pub fn audit_answer(
        &mut self,
        item: &crate::approvals::pending::Item,
        outcome: &crate::approvals::pending::Outcome,
        via: &str,
    ) {
        use crate::approvals::pending::Outcome;
        use crate::audit::Decision;
        let r = &item.reader;
        let (kind, decision, rule) = match outcome {
            Outcome::Allow { because, .. } => {
                (EventKind::Approve, Decision::Allowed, because.clone())
            }
            Outcome::Deny { reason } => (EventKind::Deny, Decision::Denied, reason.clone()),
        };
        let mut ev = Event::new(kind)
            .env(item.env.clone())
            .pid(r.pid)
            .chain(crate::approvals::describe::chain(r))
            .decision(decision)
            .rule(rule)
            .detail(format!("request {} answered via {via}", item.id));
        if let Some(e) = &r.exe {
            ev = ev.exe(e.display().to_string());
        }
        self.audit(ev);
    }

    /// Appends to the audit log; a failure is reported in the agent log, never fatal.
    pub fn audit(&mut self, event: Event) {
        if let Some(Err(e)) = self.audit.as_mut().map(|a| a.append(event)) {
            tracing::error!(error = %e, "audit append failed");
        }
    }

    /// Pending requests and process grants of processes that exited go away.
    pub fn reap_exited(&mut self) {
        let alive = crate::approvals::describe::waiting_reader_alive;
        for item in self.approvals.pending.prune_exited(alive) {
            tracing::info!(id = item.id, env = %item.env, pid = item.reader.pid, "pending request dropped: its process exited or is being killed");
            item.settle(&crate::approvals::pending::Outcome::Deny {
                reason: "the process exited or was interrupted while waiting".into(),
            });
        }
        self.approvals.grants.prune_exited();
    }

    /// Wipes the key and ends every grant and pending request; the audit lines so far are
    /// forced to disk.
    pub fn lock(&mut self) {
        if let Some(v) = self.vault.as_mut() {
            v.lock();
        }
        self.approvals.on_lock();
        self.rendered.clear();
        self.remotes.clear();
        if let Some(Err(e)) = self.audit.as_mut().map(|a| a.sync()) {
            tracing::error!(error = %e, "audit sync failed");
        }
    }

    pub fn handle(&mut self, req: Request, cid: &str) -> Response {
        let touches_vault = !matches!(
            req,
            Request::Hello { .. }
                | Request::Status
                | Request::EnvList
                | Request::VarList { .. }
                | Request::Mounts
                | Request::PolicyList
                | Request::Pending
                | Request::RemoteList
        );
        if touches_vault {
            self.last_used = Instant::now();
        }
        match self.dispatch(req) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "request failed");
                Response::Error {
                    code: e.code(),
                    message: e.to_string(),
                    cid: cid.to_owned(),
                }
            }
        }
    }

    fn dispatch(&mut self, req: Request) -> Result<Response, OpError> {
        use crate::remote::sync::Change;
        Ok(match req {
            req @ (Request::RemoteAdd { .. }
            | Request::RemoteList
            | Request::RemoteStatus { .. }
            | Request::RemoteRemove { .. }
            | Request::EnvCreateShared { .. }
            | Request::EnvLink { .. }
            | Request::EnvUnlink { .. }
            | Request::Sync { .. }) => self.team_request(req)?,
            Request::Hello { .. } => Response::Done,
            Request::Status => Response::Status(self.status()),
            Request::Init {
                secret,
                create_keyfile: create,
            } => {
                self.init(wire_to_slot(secret), create)?;
                Response::Done
            }
            Request::Unlock { secret } => {
                let slot = wire_to_slot(secret);
                self.vault()?.unlock(&slot)?;
                tracing::info!("vault unlocked");
                self.audit(Event::new(EventKind::Unlock));
                self.refresh_all();
                Response::Done
            }
            Request::Lock => {
                self.lock();
                self.audit(Event::new(EventKind::Lock));
                tracing::info!("vault locked");
                Response::Done
            }
            Request::EnvList => Response::Environments {
                environments: self.vault()?.list_envs()?,
            },
            Request::EnvCreate { name } => {
                self.vault()?.create_env(&name)?;
                Response::Done
            }
            Request::EnvRename { name, new_name } => {
                self.vault()?.rename_env(&name, &new_name)?;
                self.mounts.rename_env(&name, &new_name);
                self.rendered.remove(&name);
                self.env_gone(&name);
                Response::Done
            }
            Request::EnvDelete { name } => {
                let variables = self.vault()?.delete_env(&name)?;
                self.rendered.remove(&name);
                self.env_gone(&name);
                // Its mounts go with it (their records were deleted by the cascade).
                for m in self.mounts.take_env(&name) {
                    let path = m.path().to_path_buf();
                    self.stop_mount(m, &path);
                }
                Response::Deleted { variables }
            }
            Request::VarList { env } => Response::Variables {
                variables: self.vault()?.list_vars(&env)?,
                environment: env,
            },
            // Shared environments: the change goes to the server first (agent/team.rs).
            Request::VarDeclare { env, names } if self.is_shared(&env) => Response::Names {
                names: self.team_write(&env, Change::Declare(names))?,
            },
            Request::VarSet { env, name, value } if self.is_shared(&env) => {
                let vars = vec![(name, value)];
                let source = ValueSource::User;
                self.team_write(&env, Change::Set { vars, source })?;
                Response::Done
            }
            Request::VarRemove { env, names } if self.is_shared(&env) => Response::Names {
                names: self.team_write(&env, Change::Remove(names))?,
            },
            Request::VarSetMany { env, vars, source } if self.is_shared(&env) => Response::Names {
                names: self.team_write(&env, Change::Set { vars, source })?,
            },
            Request::VarDeclare { env, names } => Response::Names {
                names: self.vault()?.declare_vars(&env, &names)?,
            },
            Request::VarSet { env, name, value } => {
                self.vault()?
                    .set_vars(&env, &[(name, value)], ValueSource::User)?;
                self.refresh_env(&env);
                Response::Done
            }
            Request::VarRemove { env, names } => {
                self.vault()?.remove_vars(&env, &names)?;
                self.refresh_env(&env);
                Response::Names { names }
            }
            Request::Import { env, path } => Response::Names {
                names: self.import(&env, &path)?,
            },
            Request::Mount {
                path,
                env,
                mode,
                import,
            } => self.mount(path, env, &mode, import)?,
            Request::Unmount { path } => self.unmount(&path)?,
            Request::Mounts => Response::Mounts {
                mounts: self.mounts.list(),
            },
            Request::PolicyAdd {
                env,
                effect,
                exe,
                cwd,
                for_secs,
            } => {
                let expires = for_secs.map(|s| crate::store::now() + s as i64);
                let id = self
                    .vault()?
                    .add_rule(&env, effect, &exe, cwd.as_deref(), expires)?;
                self.approvals.rules_changed();
                tracing::info!(%env, %exe, effect = effect.as_str(), id, "rule added");
                self.audit(
                    Event::new(EventKind::RuleChange)
                        .env(env)
                        .exe(exe)
                        .rule(format!("{} rule #{id}", effect.as_str()))
                        .detail("added"),
                );
                Response::RuleAdded { id }
            }
            Request::PolicyList => Response::Rules {
                rules: self.vault()?.list_rules()?,
            },
            Request::PolicyRemove { id } => {
                let r = self.vault()?.remove_rule(id)?;
                self.approvals.rules_changed();
                self.audit(
                    Event::new(EventKind::RuleChange)
                        .env(r.env)
                        .exe(r.exe)
                        .rule(format!("{} rule #{id}", r.effect.as_str()))
                        .detail("removed"),
                );
                Response::Done
            }
            Request::VarSetMany { env, vars, source } => {
                self.vault()?.set_vars(&env, &vars, source)?;
                self.refresh_env(&env);
                Response::Names {
                    names: vars.into_iter().map(|(n, _)| n).collect(),
                }
            }
            Request::VarGenerate {
                env,
                names,
                length,
                charset,
            } => {
                if !(8..=256).contains(&length) {
                    return Err(OpError::Other(
                        ErrorCode::InvalidInput,
                        format!("length {length} is out of range: use 8 to 256"),
                    ));
                }
                let vars: Vec<(String, crate::secret::SecretValue)> = names
                    .iter()
                    .map(|n| (n.clone(), crate::secret::generate(length as usize, charset)))
                    .collect();
                if self.is_shared(&env) {
                    let source = ValueSource::Generated;
                    self.team_write(&env, Change::Set { vars, source })?;
                    return Ok(Response::Names { names });
                }
                self.vault()?
                    .set_vars(&env, &vars, ValueSource::Generated)?;
                self.refresh_env(&env);
                Response::Names { names }
            }
            Request::McpAudit {
                tool,
                env,
                names,
                client,
                allowed,
                detail,
            } => {
                use crate::audit::Decision;
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
                self.audit(ev);
                Response::Done
            }
            Request::AskValues { .. } | Request::Confirm { .. } | Request::Resolve { .. } => {
                // The server routes these to `consent`, which may wait for a person.
                return Err(OpError::Other(
                    ErrorCode::Internal,
                    "internal error: request routed to the wrong handler".into(),
                ));
            }
            Request::Pending => Response::Pending {
                requests: self.approvals.list_pending(),
            },
            Request::Answer {
                id,
                allow,
                scope,
                for_secs,
                cwd,
            } => {
                let scope = scope.unwrap_or(self.approvals.settings.scope);
                let ttl = for_secs.map(std::time::Duration::from_secs);
                match self.approvals.answer(
                    id,
                    allow,
                    scope,
                    ttl,
                    cwd.map(Into::into),
                    "openv approve/deny",
                ) {
                    Some((item, outcome)) => {
                        self.audit_answer(&item, &outcome, "queue");
                        item.settle(&outcome);
                        Response::Done
                    }
                    None => {
                        return Err(OpError::Other(
                            ErrorCode::NotFound,
                            format!(
                                "no pending request {id}: it was answered, timed out or its process exited; see `openv pending`"
                            ),
                        ));
                    }
                }
            }
            Request::Verify => {
                let v = self.vault()?;
                let envs = v.list_envs()?;
                let mut values = 0;
                for e in &envs {
                    values += v.read_values(&e.name)?.len() as u64;
                }
                Response::Verified {
                    environments: envs.len() as u64,
                    values,
                }
            }
        })
    }

    fn status(&mut self) -> StatusInfo {
        let vault_path = self.home.vault();
        let vault_exists = vault_path.exists();
        let (locked, (environments, variables)) = match self.vault() {
            Ok(v) => (!v.is_unlocked(), v.counts().unwrap_or((0, 0))),
            Err(_) => (true, (0, 0)),
        };
        StatusInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: crate::ipc::protocol::PROTOCOL_VERSION,
            uptime_secs: self.started.elapsed().as_secs(),
            vault: vault_path.display().to_string(),
            vault_exists,
            locked,
            environments,
            variables,
            idle_lock_secs: self.config.idle_lock.as_secs(),
            socket: self.home.socket().display().to_string(),
            log_file: self.home.log_file().display().to_string(),
            prompt: self.approvals.settings.mode.as_str().into(),
            pending: self.approvals.pending.len() as u64,
            grants: self.approvals.grants.len() as u64,
            rate_limited_until: self
                .approvals
                .rate_limited_until
                .filter(|t| *t > std::time::SystemTime::now())
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            mounts: self.mounts.len() as u64,
            team_warnings: self.team_warnings(),
        }
    }

    fn init(&mut self, secret: SlotSecret, create: bool) -> Result<(), StoreError> {
        let path = self.home.vault();
        if path.exists() {
            return Err(StoreError::VaultExists(path.display().to_string()));
        }
        let made_keyfile = match (&secret, create) {
            (SlotSecret::Keyfile(kf), true) if !kf.exists() => {
                create_keyfile(kf)?;
                Some(kf.clone())
            }
            _ => None,
        };
        match SqliteVault::create(&path, &secret) {
            Ok(v) => {
                self.vault = Some(v);
                tracing::info!(vault = %path.display(), "vault created");
                Ok(())
            }
            Err(e) => {
                if let Some(kf) = made_keyfile {
                    let _ = std::fs::remove_file(kf);
                }
                Err(e)
            }
        }
    }

    /// Reads a .env file inside the agent; returns the names stored.
    pub(super) fn import(&mut self, env: &str, path: &Path) -> Result<Vec<String>, StoreError> {
        let vars = read_env_file(path)?;
        crate::names::check_env_name(env)?;
        let v = self.vault()?;
        if !v.is_unlocked() {
            return Err(StoreError::Locked);
        }
        let exists = v.list_envs()?.iter().any(|e| e.name == env);
        if !exists {
            v.create_env(env)?;
        }
        let result = v.set_vars(env, &vars, ValueSource::Import);
        if result.is_err() && !exists {
            // Creating the environment was part of this import: undo it.
            let _ = v.delete_env(env);
        }
        result?;
        // Mounts of the environment serve the new values from the next open.
        self.refresh_env(env);
        Ok(vars.into_iter().map(|(n, _)| n).collect())
    }

    /// Rules and grants name environments: once a name is gone (deleted, or renamed), what
    /// was allowed under it must not carry over to a new environment of that name. The
    /// rules' cache is reloaded (the vault moved or dropped them) and the grants end.
    fn env_gone(&mut self, name: &str) {
        self.approvals.rules_changed();
        self.approvals.grants.forget_env(name);
    }
}

/// Parses a .env with dotenvy. Parse errors name the line number, never its text (the
/// text holds the value).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, SecretValue)>, StoreError> {
    let io_err = |source| StoreError::Io {
        what: path.display().to_string(),
        source,
    };
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(io_err)?);
    let mut out: Vec<(String, SecretValue)> = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((name, value)) => {
                let value = SecretValue::new(value);
                // A later line wins, as in every dotenv reader.
                if let Some(slot) = out.iter_mut().find(|(n, _)| *n == name) {
                    slot.1 = value;
                } else {
                    out.push((name, value));
                }
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                let line = zeroize::Zeroizing::new(line);
                let at = text
                    .lines()
                    .position(|l| l == line.as_str())
                    .map(|n| format!("line {}", n + 1))
                    .unwrap_or_else(|| "a multi-line value".into());
                return Err(io_err(std::io::Error::other(format!(
                    "cannot parse {at}: fix it and import again"
                ))));
            }
            Err(_) => return Err(io_err(std::io::Error::other("not a readable .env file"))),
        }
    }
    Ok(out)
}
