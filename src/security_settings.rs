//! Security settings: the keys of `config.toml` that decide who may read and for how
//! long. A process of the user can edit that file, so the file may only TIGHTEN the
//! built-in defaults; a widening value there is ignored (and reported). Only the human
//! widens, with a proof (`openv config set`), and then within hard caps. The human's
//! values are sealed in the vault (`sealed_state` key `settings`, `Purpose::Settings`).
//!
//! Narrower means: a shorter `idle_lock`, `prompt_timeout` or `exe_grant`; a lower
//! `prompt_rate_limit`; more `ai_agents` names (the built-in ones stay); a prompt scope
//! nearer to `once` (once < process < exe); a prompt mode nearer to `none`
//! (none < queue < pinentry < auto: fewer places a dialog can appear).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::approvals::PromptMode;
use crate::approvals::describe::DEFAULT_AI_AGENTS;
use crate::approvals::grants::Scope;
use crate::config::Config;
pub use crate::config::Source;

/// The `sealed_state` key of the human's settings.
pub const RECORD_KEY: &str = crate::store::mac_keys::SETTINGS_KEY;

/// The security settings, in the order `openv config list` shows them.
pub const KEYS: &[&str] = &[
    "idle_lock",
    "prompt_timeout",
    "exe_grant",
    "prompt_rate_limit",
    "prompt_scope",
    "prompt",
    "ai_agents",
];

const DAY: u64 = 24 * 3600;
/// Caps that hold even with a proof: a grant outliving a month, or a key held a week
/// without use, is more than anyone needs on a developer machine.
pub const IDLE_LOCK_CAP: Duration = Duration::from_secs(7 * DAY);
pub const EXE_GRANT_CAP: Duration = Duration::from_secs(30 * DAY);
pub const PROMPT_TIMEOUT_CAP: Duration = Duration::from_secs(600);
pub const RATE_LIMIT_CAP: usize = 120;

/// The human's values as sealed: key -> the value as given.
pub type HumanSettings = BTreeMap<String, String>;

fn scope_rank(s: Scope) -> u8 {
    match s {
        Scope::Once => 0,
        Scope::Process => 1,
        Scope::Exe => 2,
    }
}

/// The effective value of `key` in `cfg`, as text.
pub fn show(cfg: &Config, key: &str) -> String {
    let d = |d: Duration| humantime::format_duration(d).to_string();
    match key {
        "idle_lock" => d(cfg.idle_lock),
        "prompt_timeout" => d(cfg.prompt_timeout),
        "exe_grant" => d(cfg.exe_grant),
        "prompt_rate_limit" => cfg.prompt_rate_limit.to_string(),
        "prompt_scope" => cfg.prompt_scope.as_str().to_string(),
        "prompt" => cfg.prompt.as_str().to_string(),
        "ai_agents" => cfg.ai_agents.join(","),
        _ => String::new(),
    }
}

/// Resets every value of `cfg` (as read from the file) that is wider than the built-in
/// default, recording in `cfg.ignored` what was ignored and how the human sets it, and in
/// `cfg.sources` which keys the file set.
pub fn tighten_file(cfg: &mut Config) {
    let def = Config::default();
    let mut ignored = Vec::new();
    let mut note = |cfg: &Config, key: &str, why: &str| {
        ignored.push(format!(
            "config.toml: {key} = {} is {why} and was ignored (the file may only tighten security settings): the human sets it with `openv config set {key} VALUE`",
            show(cfg, key)
        ));
    };
    if cfg.idle_lock > def.idle_lock {
        note(cfg, "idle_lock", "longer than the built-in default");
        cfg.idle_lock = def.idle_lock;
    }
    if cfg.prompt_timeout > def.prompt_timeout {
        note(cfg, "prompt_timeout", "longer than the built-in default");
        cfg.prompt_timeout = def.prompt_timeout;
    }
    if cfg.exe_grant > def.exe_grant {
        note(cfg, "exe_grant", "longer than the built-in default");
        cfg.exe_grant = def.exe_grant;
    }
    if cfg.prompt_rate_limit > def.prompt_rate_limit {
        note(cfg, "prompt_rate_limit", "higher than the built-in default");
        cfg.prompt_rate_limit = def.prompt_rate_limit;
    }
    if scope_rank(cfg.prompt_scope) > scope_rank(def.prompt_scope) {
        note(cfg, "prompt_scope", "wider than the built-in default");
        cfg.prompt_scope = def.prompt_scope;
    }
    if cfg.prompt.rank() > def.prompt.rank() {
        note(cfg, "prompt", "wider than the built-in default");
        cfg.prompt = def.prompt;
    }
    let missing: Vec<&str> = DEFAULT_AI_AGENTS
        .iter()
        .copied()
        .filter(|n| !cfg.ai_agents.iter().any(|a| a == n))
        .collect();
    if !missing.is_empty() {
        ignored.push(format!(
            "config.toml: ai_agents leaves out built-in names ({}), which stay (a file cannot remove them): the human sets the list with `openv config set ai_agents NAME,NAME`",
            missing.join(", ")
        ));
        cfg.ai_agents
            .extend(missing.iter().map(|s| (*s).to_owned()));
    }
    for key in KEYS {
        if show(cfg, key) != show(&def, key) {
            cfg.sources.insert((*key).to_string(), Source::File);
        }
    }
    cfg.ignored.extend(ignored);
}

/// Sets `key` to `value` in `cfg` as the human's choice, within the caps. The error is
/// one line saying what is accepted.
pub fn set(cfg: &mut Config, key: &str, value: &str) -> Result<(), String> {
    let dur = |cap: Duration| -> Result<Duration, String> {
        let d = humantime::parse_duration(value)
            .map_err(|e| format!("{key} {value:?}: {e} (use e.g. \"8h\" or \"30s\")"))?;
        if d > cap || d.is_zero() {
            return Err(format!(
                "{key} {value:?}: give a time above zero and at most {} (a cap that holds even for you)",
                humantime::format_duration(cap)
            ));
        }
        Ok(d)
    };
    match key {
        "idle_lock" => cfg.idle_lock = dur(IDLE_LOCK_CAP)?,
        "prompt_timeout" => cfg.prompt_timeout = dur(PROMPT_TIMEOUT_CAP)?,
        "exe_grant" => cfg.exe_grant = dur(EXE_GRANT_CAP)?,
        "prompt_rate_limit" => {
            cfg.prompt_rate_limit = value
                .parse()
                .ok()
                .filter(|n| (1..=RATE_LIMIT_CAP).contains(n))
                .ok_or_else(|| {
                    format!("prompt_rate_limit {value:?}: give a number from 1 to {RATE_LIMIT_CAP}")
                })?;
        }
        "prompt_scope" => {
            cfg.prompt_scope = Scope::parse(value)
                .ok_or_else(|| format!("prompt_scope {value:?}: use once, process or exe"))?;
        }
        "prompt" => {
            cfg.prompt = PromptMode::parse(value)
                .ok_or_else(|| format!("prompt {value:?}: use auto, pinentry, queue or none"))?;
        }
        "ai_agents" => {
            cfg.ai_agents = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        _ => {
            return Err(format!(
                "{key:?} is not a security setting: use one of {}",
                KEYS.join(", ")
            ));
        }
    }
    cfg.sources.insert(key.to_string(), Source::Human);
    Ok(())
}

/// The human's values over `file` (the tightened file config). A value that no longer
/// passes (a cap lowered since) is left out and named.
pub fn effective(file: &Config, human: &HumanSettings) -> (Config, Vec<String>) {
    let mut cfg = file.clone();
    let mut problems = Vec::new();
    for (k, v) in human {
        if let Err(e) = set(&mut cfg, k, v) {
            problems.push(format!("sealed setting ignored: {e}"));
        }
    }
    (cfg, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_only_tightens_and_the_human_is_capped() {
        let mut c = Config {
            idle_lock: Duration::from_secs(3650 * DAY),
            exe_grant: Duration::from_secs(60),
            prompt_rate_limit: 100_000,
            ai_agents: vec!["mybot".into()],
            ..Config::default()
        };
        tighten_file(&mut c);
        assert_eq!(c.idle_lock, Config::default().idle_lock);
        assert_eq!(c.exe_grant, Duration::from_secs(60));
        assert_eq!(c.prompt_rate_limit, 20);
        assert!(c.ai_agents.iter().any(|a| a == "codex") && c.ai_agents[0] == "mybot");
        assert_eq!(c.ignored.len(), 3, "{:?}", c.ignored);
        assert!(
            c.ignored
                .iter()
                .any(|m| m.contains("openv config set idle_lock"))
        );
        assert_eq!(c.sources.get("exe_grant"), Some(&Source::File));

        assert!(set(&mut c, "exe_grant", "31d").is_err());
        assert!(set(&mut c, "idle_lock", "8d").is_err());
        set(&mut c, "exe_grant", "30d").expect("at the cap");
        assert_eq!(c.sources.get("exe_grant"), Some(&Source::Human));
        assert!(set(&mut c, "request_timeout", "1s").is_err());
    }
}
