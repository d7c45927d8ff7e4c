//! Whether a process may read an environment: persistent rules, session grants, and
//! when neither decides, a person (pinentry dialog or the headless queue).
//!
//! `Approvals::check` is the one decision point for mount reads and `openv run`; the
//! agent's `reads::decide` is its only caller for reads. Decisions are spoken in the
//! vocabulary of [`verdict`].

pub mod agent_started;
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
use crate::store::policy_seal::{AgentPolicy, Policy};
use crate::store::sqlite::SqliteVault;
use agent_started::{Mark, McpClients};
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
    /// How many places a dialog can appear: a mode of lower rank is narrower
    /// (none < queue < pinentry < auto).
    pub fn rank(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Queue => 1,
            Self::Pinentry => 2,
            Self::Auto => 3,
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
    /// The policy as last loaded and checked against its seal.
    policy: Option<Policy>,
    /// What a load of the policy found wrong, not yet written to the audit log.
    pub policy_alerts: Vec<String>,
    /// Clients of `openv mcp` sessions: what they start is agent-started.
    pub mcp_clients: McpClients,
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
            policy: None,
            policy_alerts: Vec::new(),
            mcp_clients: McpClients::default(),
            rate_limited_until: None,
        }
    }

    /// Rules or agent policies changed in the vault (or it was unlocked): reload and
    /// check against the seal on next use. Tags are checked only then, never per read.
    pub fn rules_changed(&mut self) {
        self.policy = None;
    }

    /// The policy, loaded and checked once per change. A load that finds the policy
    /// broken queues its findings for the audit log.
    pub fn policy(&mut self, vault: &SqliteVault) -> Result<&Policy, StoreError> {
        if self.policy.is_none() {
            let p = vault.load_policy()?;
            if let Some(summary) = p.summary() {
                tracing::warn!("{summary}");
                self.policy_alerts.push(summary);
            }
            self.policy = Some(p);
        }
        Ok(self.policy.get_or_insert_with(Policy::default))
    }

    /// The AI agent's mark on `reader` (its parent chain must be loaded).
    pub fn agent_mark(&self, reader: &Reader) -> Option<Mark> {
        agent_started::mark(reader, &self.settings.ai_agents, &self.mcp_clients)
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
        let agent = self.agent_mark(reader);
        let policy = self.policy(vault)?;
        if let Some(reason) = builtin::check(&policy.rules, env, reader, now) {
            return Ok(Some(Verdict::deny(DenyCause::Policy, reason)));
        }
        if let Some(m) = &agent
            && policy.agent_policy(env) == AgentPolicy::Deny
        {
            return Ok(Some(Verdict::deny(
                DenyCause::Policy,
                agent_denied(env, m, policy.agents_denied),
            )));
        }
        if let Some(rule) = policy::evaluate(&policy.rules, env, reader, now, agent.is_some()) {
            let what = format!("{} rule #{}", rule.effect.as_str(), rule.id);
            return Ok(Some(match rule.effect {
                crate::store::rules::Effect::Allow => Verdict::Allow { because: what },
                crate::store::rules::Effect::Deny => Verdict::deny(DenyCause::Policy, what),
            }));
        }
        Ok(self
            .grants
            .covering(env, reader, agent.is_some())
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
            let why = match self.agent_mark(reader) {
                Some(m) => format!(
                    "{exe} was started by an AI agent ({}), no rule for agent-started readers covers it and prompts are off (prompt = none): a rule for it needs `openv allow -e {env} --exe {exe} --agents`",
                    m.describe()
                ),
                None => format!(
                    "no rule or grant covers {exe} and prompts are off (prompt = none): run `openv allow -e {env} --exe {exe}`"
                ),
            };
            return Ok(Ruling::Decided(Verdict::deny(DenyCause::Policy, why)));
        }
        let mark = self.agent_mark(reader).map(|m| (m.label(), m.describe()));
        let text = describe::prompt_text(
            env,
            reader,
            mark.as_ref().map(|(l, w)| (l.as_str(), w.as_str())),
        );
        let ai = mark.map(|(label, _)| label);
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
        // A reader an AI agent started gets at most a grant for itself: an exe grant
        // would cover the agent's next process of the same program.
        let scope = if item.ai.is_some() && scope == Scope::Exe {
            Scope::Process
        } else {
            scope
        };
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
        self.policy = None;
        self.trusted = None;
        for item in self.pending.take_all() {
            item.settle(&Verdict::deny(DenyCause::Person, "the vault was locked"));
        }
    }

    /// Pending alerts of a broken policy, for the audit log.
    pub fn take_policy_alerts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.policy_alerts)
    }

    pub fn list_pending(&self) -> Vec<PendingView> {
        self.pending.list()
    }
}

/// Why an agent-started reader is refused at once, and what can be done.
fn agent_denied(env: &str, mark: &Mark, fail_closed: bool) -> String {
    if fail_closed {
        return format!(
            "{}: readers an AI agent started are refused in every environment until the human runs `openv policy confirm` (the policy seal does not verify)",
            mark.describe()
        );
    }
    format!(
        "{}: environment {env} refuses readers an AI agent started (agent policy deny); run the program yourself, outside the agent",
        mark.describe()
    )
}
