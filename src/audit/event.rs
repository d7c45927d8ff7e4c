//! What one audit line says: the event (names and process facts) and the chain fields.
//!
//! NEVER A VALUE. Every field here is a name or a fact about a process, and each is a
//! plain `String` (or list of them) named for what it holds. There is deliberately no
//! free-form map, no `serde_json::Value` and no generic payload: a secret value has no
//! field to go into. `detail` is a short human explanation ("timed out after 60 s"),
//! written by openv itself, never text that came from a secret.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A read of a mounted `.env` was decided.
    Read,
    /// `openv run` asked for values to inject.
    Run,
    /// An MCP tool was called.
    McpCall,
    /// The user approved a prompt.
    Approve,
    /// The user denied a prompt (or it timed out).
    Deny,
    /// A policy rule or grant was added, changed or removed.
    RuleChange,
    Lock,
    Unlock,
    Mount,
    Unmount,
    /// The user was asked.
    Prompt,
    /// A prompt was refused because too many were asked for.
    RateLimited,
    /// A process was started by openv (for example by `openv run`).
    Launch,
    /// A proof of the human was checked (passphrase or key file); `decision` says if it held.
    Proof,
    /// A request that needs the human was refused for want of a proof.
    NeedsHuman,
    /// A shared environment was fetched, refreshed, written, purged, served stale, or a
    /// write met a conflict.
    Team,
    /// A seal of the chain: `tag` vouches for every line before it (see `seal.rs`).
    Seal,
}

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Denied,
}

/// One thing that happened. Names and process facts only: see the module comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// Environment name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Variable names concerned (never their values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Process id (thread-group id) of the process concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Executable path of that process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Parent chain, nearest first (`["bash", "codex"]` for `cat <- bash <- codex`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// Working directory of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The rule or grant that decided (its name or id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Correlation id of the request that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// MCP client name (from the MCP `initialize` request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Short explanation written by openv (never text derived from a value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// On a `seal` line only: hex HMAC (the vault's audit key) over this line's `seq`
    /// and `prev`. Not a value: a tag made by openv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            env: None,
            names: Vec::new(),
            pid: None,
            exe: None,
            chain: Vec::new(),
            cwd: None,
            decision: None,
            rule: None,
            cid: None,
            client: None,
            detail: None,
            tag: None,
        }
    }

    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }
    pub fn names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }
    pub fn pid(mut self, pid: i32) -> Self {
        self.pid = Some(pid);
        self
    }
    pub fn exe(mut self, exe: impl Into<String>) -> Self {
        self.exe = Some(exe.into());
        self
    }
    /// Parent chain, nearest parent first.
    pub fn chain<I, S>(mut self, chain: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.chain = chain.into_iter().map(Into::into).collect();
        self
    }
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
    pub fn decision(mut self, decision: Decision) -> Self {
        self.decision = Some(decision);
        self
    }
    pub fn rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }
    pub fn cid(mut self, cid: impl Into<String>) -> Self {
        self.cid = Some(cid.into());
        self
    }
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = Some(client.into());
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// One line of the log: the chain fields, then the event's fields (flattened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 1 for the first line ever written; +1 per line, across rotations.
    pub seq: u64,
    /// When the line was written, RFC 3339 UTC with microseconds in the file.
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// Hex SHA-256 of the previous line's bytes (newline included), or [`GENESIS`].
    ///
    /// [`GENESIS`]: super::chain::GENESIS
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}

/// RFC 3339 with microseconds in UTC. humantime panics on times before 1970 or after
/// 9999, so a broken clock is clamped instead of crashing the agent.
pub(crate) mod rfc3339 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    // 9999-12-31T23:59:59.999999Z: the last instant humantime can format.
    const MAX_SECS: u64 = 253_402_300_799;

    pub(crate) fn format(t: SystemTime) -> String {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let clamped = since.min(Duration::new(MAX_SECS, 999_999_000));
        humantime::format_rfc3339_micros(UNIX_EPOCH + clamped).to_string()
    }

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}
