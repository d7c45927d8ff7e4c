//! Whether a process may read an environment: persistent rules, session grants, and
//! when neither decides, a person (pinentry dialog or the headless queue).
//!
//! `Approvals::check` is the one decision point for mount reads and `openv run`; the
//! agent's `reads::decide` is its only caller for reads. Decisions are spoken in the
//! vocabulary of [`verdict`].

pub mod builtin;
pub mod describe;
mod exehash;
pub mod grants;
pub mod pending;
pub mod policy;
pub mod verdict;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use openv_mount::Reader;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::store::rules::Rule;
use crate::store::sqlite::SqliteVault;
use grants::{Grants, Scope};
use pending::{Pending, PendingView};
pub use verdict::{Asked, Denial, DenyCause, PromptJob, Ruling, Verdict};

/// Who may be asked (`OPENV_PROMPT` or config `prompt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptMode {
    /// Desktop dialog, else terminal dialog, else the queue.
    Auto,
    /// pinentry only where one can be shown; the queue still answers.
    Pinentry,
    /// Only `openv pending` / `openv approve`.
    Queue,
    /// Nobody: what no rule or grant covers is denied at once.
    None,
}

impl PromptMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "pinentry" => Some(Self::Pinentry),
            "queue" => Some(Self::Queue),
            "none" => Some(Self::None),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Pinentry => "pinentry",
            Self::Queue => "queue",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: PromptMode,
    pub timeout: Duration,
    /// Scope of an approval given by a two-button dialog.
    pub scope: Scope,
    /// Lifetime of an exe grant when none is given.
    pub exe_ttl: Duration,
    pub ai_agents: Vec<String>,
    pub pinentry: Option<PathBuf>,
}

/// A client's terminal and display, from its greeting.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientContext {
    pub tty: Option<String>,
    pub display: Option<String>,
    pub wayland: Option<String>,
}

#[derive(Debug)]
pub struct Approvals {
    pub settings: Settings,
    pub grants: Grants,
    pub pending: Pending,
    /// A surface where a proof of the human was made during this unlock: click-only
    /// dialogs may appear there. Never set from a greeting alone.
    pub trusted: Option<ClientContext>,
    /// The most recent greeting's surface (checked against the peer): only dialogs that
    /// ask for the passphrase may appear there.
    pub candidate: ClientContext,
    rules: Option<Vec<Rule>>,
    pub rate_limited_until: Option<SystemTime>,
}

impl Approvals {
    pub fn new(settings: Settings, rate_limit: usize) -> Self {
        Self {
            settings,
            grants: Grants::default(),
            pending: Pending::new(rate_limit, Duration::from_secs(60)),
            trusted: None,
            candidate: ClientContext::default(),
            rules: None,
            rate_limited_until: None,
        }
    }

    /// Rules changed in the vault: reload on next use.
    pub fn rules_changed(&mut self) {
        self.rules = None;
    }

    fn rules(&mut self, vault: &SqliteVault) -> Result<&[Rule], StoreError> {
        if self.rules.is_none() {
            self.rules = Some(vault.load_policy()?.rules);
        }
        Ok(self.rules.as_deref().unwrap_or_default())
    }

    /// Rules and grants only: never asks anybody.
    pub fn covered(
        &mut self,
        vault: &SqliteVault,
        env: &str,
        reader: &Reader,
    ) -> Result<Option<Verdict>, StoreError> {
        let me = nix::unistd::geteuid().as_raw();
        if reader.uid != me {
            return Ok(Some(Verdict::deny(
                DenyCause::Policy,
                format!("reader runs as uid {}, not {me}", reader.uid),
            )));
        }
        let now = crate::store::now();
        if let Some(reason) = builtin::check(self.rules(vault)?, env, reader, now) {
            return Ok(Some(Verdict::deny(DenyCause::Policy, reason)));
        }
        if let Some(rule) = policy::evaluate(self.rules(vault)?, env, reader, now) {
            let what = format!("{} rule #{}", rule.effect.as_str(), rule.id);
            return Ok(Some(match rule.effect {
                crate::store::rules::Effect::Allow => Verdict::Allow { because: what },
                crate::store::rules::Effect::Deny => Verdict::deny(DenyCause::Policy, what),
            }));
        }
        Ok(self
            .grants
            .covering(env, reader)
            .map(|because| Verdict::Allow { because }))
    }

    /// The decision for one read: rules, grants, then a person (the question waits at
    /// most `timeout`).
    pub fn check(
        &mut self,
        vault: &SqliteVault,
        env: &str,
        reader: &Reader,
        timeout: Duration,
    ) -> Result<Ruling, StoreError> {
        if let Some(v) = self.covered(vault, env, reader)? {
            return Ok(Ruling::Decided(v));
        }
        if self.settings.mode == PromptMode::None {
            let exe = reader
                .exe
                .as_ref()
                .map_or_else(|| "?".to_owned(), |p| p.display().to_string());
            return Ok(Ruling::Decided(Verdict::deny(
                DenyCause::Policy,
                format!(
                    "no rule or grant covers {exe} and prompts are off (prompt = none): run `openv allow -e {env} --exe {exe}`"
                ),
            )));
        }
        let ai = describe::ai_agent(reader, &self.settings.ai_agents);
        let text = describe::prompt_text(env, reader, ai.as_deref());
        let tree = describe::session(reader.pid).unwrap_or(reader.pid);
        match self.pending.enqueue(env, reader, tree, ai, text.clone()) {
            Ok((rx, id, new)) => Ok(Ruling::Ask(Asked {
                env: env.to_owned(),
                id,
                rx,
                job: new.then(|| PromptJob {
                    id,
                    env: env.to_owned(),
                    text,
                }),
                timeout,
            })),
            Err(limited) => Ok(Ruling::Decided(self.rate_limited(limited.until))),
        }
    }

    /// The verdict for a prompt the rate limit refused; `openv status` shows until when.
    pub fn rate_limited(&mut self, until: SystemTime) -> Verdict {
        self.rate_limited_until = Some(until);
        Verdict::deny(
            DenyCause::RateLimited,
            format!(
                "prompt rate limit reached ({} prompts a minute): denied without asking",
                self.pending.limit
            ),
        )
    }

    /// Answers a pending request: grants per scope, then every coalesced open hears it.
    /// Returns the request (for the audit log) or `None` if it is gone.
    pub fn answer(
        &mut self,
        id: u64,
        allow: bool,
        scope: Scope,
        ttl: Option<Duration>,
        cwd: Option<PathBuf>,
        by: &str,
    ) -> Option<(pending::Item, Verdict)> {
        let item = self.pending.take(id)?;
        if allow && !matches!(item.kind, pending::ItemKind::Read) {
            // Actions carry no grant; value requests are answered by `openv var set`.
            let outcome = match &item.kind {
                pending::ItemKind::Values { .. } => Verdict::deny(
                    DenyCause::Person,
                    "a value request is answered with `openv var set`, not approve",
                ),
                _ => Verdict::Allow {
                    because: format!("approved by {by}"),
                },
            };
            return Some((item, outcome));
        }
        let outcome = if allow {
            self.grants.add(
                &item.env,
                &item.reader,
                scope,
                ttl.unwrap_or(self.settings.exe_ttl),
                cwd,
            );
            Verdict::Allow {
                because: format!("approved ({}) by {by}", scope.as_str()),
            }
        } else {
            Verdict::deny(DenyCause::Person, format!("denied by {by}"))
        };
        Some((item, outcome))
    }

    /// Locking ends every grant and every pending request.
    pub fn on_lock(&mut self) {
        self.grants.clear();
        self.trusted = None;
        for item in self.pending.take_all() {
            item.settle(&Verdict::deny(DenyCause::Person, "the vault was locked"));
        }
    }

    pub fn list_pending(&self) -> Vec<PendingView> {
        self.pending.list()
    }
}
