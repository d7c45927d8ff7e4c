//! The agent's state: the vault, the mount table, approvals, the audit log and the
//! renderings the mounts serve. Plain data with a few helpers; the work on it lives in
//! `requests/` (one file per subject), `reads/` (the path of one read) and `jobs/`.
//!
//! The state sits behind one mutex ([`Shared`]). It is only ever taken on the blocking
//! pool ([`with_state`]) or with `try_lock` on a thread that must not wait, so a slow key
//! derivation never stalls the socket loop or a mount's serving thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::approvals::{Approvals, Settings};
use crate::audit::{AuditLog, Event, EventKind, VaultHead};
use crate::config::Config;
use crate::mount_table::Mounts;
use crate::paths::Home;
use crate::store::sqlite::SqliteVault;
use crate::store::{Backend, StoreError};

use super::error::AgentError;

/// The agent's state as every task holds it.
pub type Shared = Arc<Mutex<State>>;

/// Takes the state lock. A panic while it was held leaves the data as it was (every
/// change is one step), so a poisoned lock is used as it is.
pub fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with the state lock held, on the blocking pool.
pub async fn with_state<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&mut State) -> T + Send + 'static,
) -> Result<T, AgentError> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&st)))
        .await
        .map_err(|_| AgentError::internal())
}

#[derive(Debug)]
pub struct State {
    pub(crate) home: Home,
    pub(crate) config: Config,
    /// `config.toml` as read, widening values already ignored: what the human's sealed
    /// settings are applied over (`apply_settings`).
    pub(crate) file_config: Config,
    /// The sealed settings record did not verify, was removed, or holds a value no longer
    /// accepted: what was found, for `openv status`.
    pub(crate) settings_problem: Option<String>,
    pub(crate) started: Instant,
    pub(crate) vault: Option<SqliteVault>,
    /// Last request that used or changed the vault; the idle lock counts from here.
    last_used: Instant,
    pub(crate) mounts: Mounts,
    pub(crate) approvals: Approvals,
    pub(crate) audit: Option<AuditLog>,
    /// Set when a seal found the vault's record of the last seal missing, forged, or no
    /// longer in the log: the record is then left as it is (so the evidence stays) and
    /// `openv status` says so.
    pub(crate) audit_seal_problem: Option<String>,
    /// Rendered environments served by mounts, kept only while unlocked and dropped
    /// (zeroized) on any change to that environment, so a hot read skips SQLite and the
    /// decryption of every value.
    pub(crate) rendered: HashMap<String, Rendered>,
    /// Per environment, the dialects that cannot read each value (names only), for
    /// `var list` and `openv check`; dropped with `rendered`.
    pub(crate) unreadable: HashMap<String, HashMap<String, Vec<String>>>,
    /// The latest reads refused for their dialect, for `openv status`.
    pub(crate) refused_reads: std::collections::VecDeque<String>,
    /// Set while a passphrase prompt triggered by a read is open: later readers wait on
    /// it instead of opening a second one.
    pub(crate) unlocking: Option<tokio::sync::watch::Receiver<bool>>,
    /// Live clients of the team servers (`requests/team.rs`); dropped on lock.
    pub(crate) remotes: crate::remote::Remotes,
    pub(crate) team_policy: crate::remote::sync::Policy,
    /// Why a reader of this agent's FUSE mounts would wait while it is stopped (no
    /// watchdog), for `openv status`.
    pub(crate) mount_warning: Option<String>,
}

/// One environment's values and its renderings per reader dialect.
pub(crate) type Rendered = crate::render::cache::Renderings;

impl State {
    pub fn new(home: Home, config: Config, mounts: Mounts) -> Self {
        for ignored in &config.ignored {
            tracing::warn!("{ignored}");
        }
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
            audit_seal_problem: None,
            rendered: HashMap::new(),
            unreadable: HashMap::new(),
            refused_reads: std::collections::VecDeque::new(),
            unlocking: None,
            remotes: crate::remote::Remotes::default(),
            team_policy: config.team,
            mount_warning: None,
            home,
            file_config: config.clone(),
            settings_problem: None,
            config,
            started: Instant::now(),
            vault: None,
            last_used: Instant::now(),
            mounts,
        }
    }

    /// Opens the vault lazily, so a fixed permission problem needs no restart.
    pub(crate) fn vault(&mut self) -> Result<&mut SqliteVault, StoreError> {
        if self.vault.is_none() {
            self.vault = Some(SqliteVault::open(&self.home.vault())?);
        }
        self.vault.as_mut().ok_or(StoreError::Locked)
    }

    /// The vault when it is open and unlocked, without opening it.
    pub(crate) fn unlocked_vault(&self) -> Option<&SqliteVault> {
        self.vault.as_ref().filter(|v| v.is_unlocked())
    }

    /// The vault, which must be unlocked (keys of sealed state come from its key).
    pub(crate) fn unlocked_vault_mut(&mut self) -> Result<&mut SqliteVault, StoreError> {
        self.vault
            .as_mut()
            .filter(|v| v.is_unlocked())
            .ok_or(StoreError::Locked)
    }

    /// A request used the vault: the idle lock starts counting again.
    pub(crate) fn touch(&mut self) {
        self.last_used = Instant::now();
    }

    /// Locks if the vault has been idle for longer than the configured time; otherwise
    /// seals the audit log when a seal is due by time (this runs on the idle job's tick).
    pub fn lock_if_idle(&mut self) -> bool {
        let idle = self.last_used.elapsed() >= self.config.idle_lock;
        if !(idle && self.unlocked_vault().is_some()) {
            if self.audit.as_ref().is_some_and(AuditLog::seal_due) {
                self.seal_audit("interval");
            }
            return false;
        }
        self.audit(Event::new(EventKind::Lock).detail("idle timeout"));
        self.lock_vault();
        true
    }

    /// Wipes the key and ends every grant and pending request; the audit log is sealed
    /// first (while the key is there) and forced to disk.
    pub fn lock_vault(&mut self) {
        if self.audit.as_ref().is_some_and(AuditLog::has_unsealed) {
            self.seal_audit("lock");
        }
        if let Some(v) = self.vault.as_mut() {
            v.lock();
        }
        self.approvals.on_lock();
        self.rendered.clear();
        self.unreadable.clear();
        self.remotes.clear();
        if let Some(Err(e)) = self.audit.as_mut().map(|a| a.sync()) {
            tracing::error!(error = %e, "audit sync failed");
        }
    }

    /// A read the mount refused by itself (see `FastPath::on_refused`).
    pub fn audit_refusal(&mut self, r: &openv_mount::Refusal) {
        tracing::info!(path = %r.path.display(), pids = ?r.pids, reason = r.reason.as_str(), "read refused by the mount");
        let mut ev = Event::new(EventKind::Read)
            .decision(crate::audit::Decision::Denied)
            .rule(r.reason.as_str())
            .detail(r.path.display().to_string());
        if let Some(env) = self.mounts.env_of(&r.path) {
            ev = ev.env(env);
        }
        if let Some(pid) = r.pids.first() {
            ev = ev.pid(*pid);
        }
        self.audit(ev);
    }

    /// Appends to the audit log; a failure is reported in the agent log, never fatal.
    /// An unlock seals at once (covering what was written while locked); otherwise a seal
    /// follows every `SEAL_EVERY_EVENTS` events or `SEAL_EVERY`.
    pub fn audit(&mut self, event: Event) {
        // A broken policy found while deciding is recorded before what it affected.
        for alert in self.approvals.take_policy_alerts() {
            let found = Event::new(EventKind::RuleChange)
                .decision(crate::audit::Decision::Denied)
                .detail(alert);
            if let Some(Err(e)) = self.audit.as_mut().map(|a| a.append(found)) {
                tracing::error!(error = %e, "audit append failed");
            }
        }
        let unlock = event.kind == EventKind::Unlock;
        let Some(log) = self.audit.as_mut() else {
            return;
        };
        if let Err(e) = log.append(event) {
            tracing::error!(error = %e, "audit append failed");
            return;
        }
        if unlock || log.seal_due() {
            self.seal_audit(if unlock { "unlock" } else { "interval" });
        }
        if unlock {
            // Every unlock (a request, a read's prompt, the start) passes here.
            self.apply_settings();
        }
    }

    /// Makes the effective settings the human's sealed values over the (tightened) file;
    /// a record that does not verify or was removed is not used, and is reported.
    pub(crate) fn apply_settings(&mut self) {
        use crate::security_settings::{HumanSettings, RECORD_KEY, effective};
        use crate::store::mac_keys::Purpose;
        use crate::store::sealed_state::Record;
        let Some(v) = self.unlocked_vault() else {
            return;
        };
        let fix = "the built-in defaults and the tightening values of config.toml apply; the human sets values again with `openv config set KEY VALUE`";
        let (human, problem) = match v.sealed_get(Purpose::Settings, RECORD_KEY) {
            Ok(Record::Valid(json)) => match serde_json::from_str::<HumanSettings>(&json) {
                Ok(h) => (h, None),
                Err(_) => (
                    HumanSettings::new(),
                    Some(format!("the sealed settings record cannot be read: {fix}")),
                ),
            },
            Ok(Record::Forged) => (
                HumanSettings::new(),
                Some(format!(
                    "the settings record in the vault does not verify (edited or forged), so it is ignored: {fix}"
                )),
            ),
            Ok(Record::Missing) => (
                HumanSettings::new(),
                Some(format!(
                    "the settings record was removed from the vault (or the vault predates sealed settings): {fix}"
                )),
            ),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the sealed settings");
                return;
            }
        };
        let (cfg, mut problems) = effective(&self.file_config, &human);
        problems.extend(problem);
        for p in &problems {
            tracing::warn!("{p}");
        }
        self.settings_problem = (!problems.is_empty()).then(|| problems.join("; "));
        self.set_config(cfg);
    }

    /// Puts `cfg` in force: the idle lock, and the approvals' prompt settings.
    pub(crate) fn set_config(&mut self, cfg: Config) {
        let s = &mut self.approvals.settings;
        s.mode = cfg.prompt;
        s.timeout = cfg.prompt_timeout;
        s.scope = cfg.prompt_scope;
        s.exe_ttl = cfg.exe_grant;
        s.ai_agents = cfg.ai_agents.clone();
        self.approvals.pending.limit = cfg.prompt_rate_limit;
        self.config = cfg;
    }

    /// Appends a seal line and moves the vault's record of the last seal to it, when the
    /// vault is unlocked. The record moves only if what it named is still in the log: a
    /// record missing, forged, or naming a seal the log lost is left for `openv audit
    /// verify` to report.
    pub(crate) fn seal_audit(&mut self, why: &str) {
        let (Some(vault), Some(log)) = (
            self.vault.as_mut().filter(|v| v.is_unlocked()),
            self.audit.as_mut(),
        ) else {
            return;
        };
        let sealed = (|| -> Result<Option<String>, String> {
            let mac = vault
                .mac_key(crate::store::mac_keys::Purpose::Audit)
                .map_err(|e| e.to_string())?;
            let recorded = vault.audit_head().map_err(|e| e.to_string())?;
            let point = log.seal(&mac, why).map_err(|e| e.to_string())?;
            let problem = match recorded {
                VaultHead::Sealed(p) => match crate::audit::seal::holds(log.dir(), &p) {
                    Ok(true) => None,
                    Ok(false) => Some(format!(
                        "the audit log no longer holds the last seal the vault recorded (seq {}): it was shortened or rewritten",
                        p.seq
                    )),
                    Err(e) => return Err(e.to_string()),
                },
                VaultHead::Missing if vault.audit_never_sealed().map_err(|e| e.to_string())? => {
                    vault.put_first_audit_head(&point).map_err(|e| e.to_string())?;
                    tracing::info!("first seal of the audit log of a vault made before sealing");
                    return Ok(None);
                }
                VaultHead::Missing => Some(
                    "the vault's record of the audit log's last seal was removed".to_string(),
                ),
                VaultHead::Forged => Some(
                    "the vault's record of the audit log's last seal does not verify (edited or forged)"
                        .to_string(),
                ),
            };
            if problem.is_none() {
                vault.put_audit_head(&point).map_err(|e| e.to_string())?;
            }
            Ok(problem)
        })();
        match sealed {
            Ok(None) => {}
            Ok(Some(problem)) => {
                if self.audit_seal_problem.is_none() {
                    tracing::error!(problem = %problem, "audit seal: run `openv audit verify`");
                }
                self.audit_seal_problem = Some(format!("{problem}: run `openv audit verify`"));
            }
            Err(e) => tracing::error!(error = %e, "audit seal failed"),
        }
    }
}
