//! `config.toml` under OPENV_HOME. Every key is optional.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::approvals::PromptMode;
use crate::approvals::describe::DEFAULT_AI_AGENTS;
use crate::approvals::grants::Scope;

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The vault key is wiped after this long without a request.
    pub idle_lock: Duration,
    /// auto, pinentry, queue or none (`OPENV_PROMPT` overrides).
    pub prompt: PromptMode,
    /// No answer within this time = deny.
    pub prompt_timeout: Duration,
    /// Scope of "Allow" in a dialog: once, process or exe.
    pub prompt_scope: Scope,
    /// Lifetime of an exe grant when none is given.
    pub exe_grant: Duration,
    /// New prompts allowed per minute; beyond it requests are denied unasked.
    pub prompt_rate_limit: usize,
    /// Ancestors with these names mark a reader as started by an AI agent.
    pub ai_agents: Vec<String>,
    /// A specific pinentry program instead of the search.
    pub pinentry: Option<PathBuf>,
    /// Audit files are rotated beyond this size.
    pub audit_max_bytes: u64,
    /// An automatic copy of the vault is taken when the newest is older than this.
    pub backup_every: Duration,
    /// Automatic copies kept under OPENV_HOME/backups.
    pub backup_keep: usize,
    /// Connections the agent serves at once (at most half its descriptor limit).
    pub max_connections: usize,
    /// Connections one process may hold open at once.
    pub max_connections_per_process: usize,
    /// How long a client waits to connect to the agent.
    pub connect_timeout: Duration,
    /// How long a client waits for an answer (a request that may wait for a person gets
    /// `prompt_timeout` plus this).
    pub request_timeout: Duration,
    /// `[team]`: the cache of shared environments (ttl, refresh, stale, max_stale).
    pub team: crate::remote::sync::Policy,
    /// Security settings the file tried to widen: what was ignored and how the human
    /// sets it (filled by `security_settings::tighten_file`, which the agent runs).
    pub ignored: Vec<String>,
    /// Where each security setting that is not the default came from.
    pub sources: std::collections::BTreeMap<String, Source>,
}

/// Where an effective security setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Human,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::File => "config.toml",
            Self::Human => "set by you",
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            idle_lock: Duration::from_secs(8 * 3600),
            prompt: PromptMode::Auto,
            prompt_timeout: Duration::from_secs(60),
            prompt_scope: Scope::Process,
            exe_grant: Duration::from_secs(3600),
            prompt_rate_limit: 20,
            ai_agents: DEFAULT_AI_AGENTS.iter().map(|s| (*s).to_owned()).collect(),
            pinentry: None,
            audit_max_bytes: 8 * 1024 * 1024,
            backup_every: Duration::from_secs(24 * 3600),
            backup_keep: 7,
            max_connections: 512,
            max_connections_per_process: 64,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            team: crate::remote::sync::Policy::default(),
            ignored: Vec::new(),
            sources: std::collections::BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    idle_lock: Option<String>,
    prompt: Option<String>,
    prompt_timeout: Option<String>,
    prompt_scope: Option<String>,
    exe_grant: Option<String>,
    prompt_rate_limit: Option<usize>,
    ai_agents: Option<Vec<String>>,
    pinentry: Option<PathBuf>,
    audit_max_bytes: Option<u64>,
    backup_every: Option<String>,
    backup_keep: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_process: Option<usize>,
    connect_timeout: Option<String>,
    request_timeout: Option<String>,
    team: Option<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    ttl: Option<String>,
    refresh: Option<String>,
    stale: Option<String>,
    max_stale: Option<String>,
}

fn duration(key: &str, s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{key} = {s:?}: {e} (use e.g. \"8h\" or \"30s\")"))
}

impl Config {
    /// The file, then `OPENV_PROMPT` over its `prompt`. Like the file, the variable is
    /// set by whoever starts the agent, so it may only narrow: a mode wider than the
    /// file's is ignored and reported (the human's sealed `prompt` still wins over both).
    pub fn load_with_env(path: &Path) -> Result<Self, ConfigError> {
        let mut cfg = Self::load(path)?;
        if let Ok(p) = std::env::var("OPENV_PROMPT") {
            let mode = PromptMode::parse(&p).ok_or_else(|| ConfigError::Parse {
                path: "OPENV_PROMPT".into(),
                message: format!("{p:?}: use auto, pinentry, queue or none"),
            })?;
            if mode.rank() <= cfg.prompt.rank() {
                cfg.prompt = mode;
            } else {
                cfg.ignored.push(format!(
                    "OPENV_PROMPT={p} is wider than prompt = {:?} in config.toml and was ignored (the environment may only narrow it): the human sets it with `openv config set prompt {p}`",
                    cfg.prompt.as_str()
                ));
            }
        }
        Ok(cfg)
    }

    /// A missing file means defaults; a bad one is an error naming the line and key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let mut cfg = Self::default();
        if let Some(s) = raw.idle_lock {
            cfg.idle_lock = duration("idle_lock", &s)?;
        }
        if let Some(s) = raw.prompt {
            cfg.prompt = PromptMode::parse(&s)
                .ok_or_else(|| format!("prompt = {s:?}: use auto, pinentry, queue or none"))?;
        }
        if let Some(s) = raw.prompt_timeout {
            cfg.prompt_timeout = duration("prompt_timeout", &s)?;
        }
        if let Some(s) = raw.prompt_scope {
            cfg.prompt_scope = Scope::parse(&s)
                .ok_or_else(|| format!("prompt_scope = {s:?}: use once, process or exe"))?;
        }
        if let Some(s) = raw.exe_grant {
            cfg.exe_grant = duration("exe_grant", &s)?;
        }
        if let Some(n) = raw.prompt_rate_limit {
            cfg.prompt_rate_limit = n;
        }
        if let Some(a) = raw.ai_agents {
            cfg.ai_agents = a;
        }
        if let Some(p) = raw
            .pinentry
            .as_deref()
            .filter(|p| p.components().count() > 1)
        {
            // A path the user can replace would see every passphrase: refuse it here,
            // where the user is told, not only when the first prompt fails.
            crate::prompt::system_program::trusted(p).map_err(|e| format!("pinentry = {e}"))?;
        }
        cfg.pinentry = raw.pinentry.or(cfg.pinentry);
        if let Some(n) = raw.audit_max_bytes {
            cfg.audit_max_bytes = n;
        }
        if let Some(s) = raw.backup_every {
            cfg.backup_every = duration("backup_every", &s)?;
        }
        if let Some(n) = raw.backup_keep {
            cfg.backup_keep = n.max(1);
        }
        if let Some(n) = raw.max_connections {
            cfg.max_connections = n.max(4);
        }
        if let Some(n) = raw.max_connections_per_process {
            cfg.max_connections_per_process = n.max(2);
        }
        if let Some(s) = raw.connect_timeout {
            cfg.connect_timeout = duration("connect_timeout", &s)?;
        }
        if let Some(s) = raw.request_timeout {
            cfg.request_timeout = duration("request_timeout", &s)?;
        }
        if let Some(t) = raw.team {
            let p = &mut cfg.team;
            if let Some(s) = t.ttl {
                p.ttl = duration("team.ttl", &s)?;
            }
            if let Some(s) = t.refresh {
                p.refresh = duration("team.refresh", &s)?;
            }
            if let Some(s) = t.max_stale {
                p.max_stale = duration("team.max_stale", &s)?;
            }
            if let Some(s) = t.stale {
                p.stale = crate::remote::sync::Stale::parse(&s)
                    .ok_or_else(|| format!("team.stale = {s:?}: use warn, serve or fail"))?;
            }
        }
        Ok(cfg)
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parse() {
        assert_eq!(
            Config::parse("").expect("empty").idle_lock.as_secs(),
            8 * 3600
        );
        assert_eq!(
            Config::parse("idle_lock = \"2s\"").expect("2s").idle_lock,
            Duration::from_secs(2)
        );
        let e = Config::parse("idle_lock = \"soon\"").expect_err("bad duration");
        assert!(e.contains("idle_lock"), "{e}");
        let e = Config::parse("\nidle_lok = \"1h\"").expect_err("unknown key");
        assert!(e.contains("idle_lok") && e.contains("line 2"), "{e}");
        let t = Config::parse("[team]\nrefresh = \"2s\"\nstale = \"fail\"")
            .expect("team")
            .team;
        assert_eq!(t.refresh, Duration::from_secs(2));
        assert_eq!(t.stale, crate::remote::sync::Stale::Fail);
        let e = Config::parse("[team]\nstale = \"maybe\"").expect_err("bad stale");
        assert!(e.contains("warn, serve or fail"), "{e}");
    }
}
