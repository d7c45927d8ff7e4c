//! What `openv status` and `openv config list` are answered with.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusInfo {
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    pub uptime_secs: u64,
    pub vault: String,
    pub vault_exists: bool,
    pub locked: bool,
    pub environments: u64,
    pub variables: u64,
    pub idle_lock_secs: u64,
    pub socket: String,
    pub log_file: String,
    pub prompt: String,
    pub pending: u64,
    pub grants: u64,
    /// Set while prompts are being refused because of the rate limit.
    pub rate_limited_until: Option<String>,
    pub mounts: u64,
    /// The latest reads refused because the reader's dialect cannot hold a value
    /// (names the variable, dialect and reader; never a value), newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_reads: Vec<String>,
    /// The vault's files changed under the agent or fail the integrity check: what
    /// happened and what to do. Writes are refused while it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
    /// Shared environments served from a cache that is not fresh, or refused.
    #[serde(default)]
    pub team_warnings: Vec<String>,
    /// Values left out of `openv run` and mounts: a name that can change what code runs
    /// whose value the human did not set (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// A seal of the audit log found the vault's record of the last seal missing, forged
    /// or no longer in the log: what was found and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_seal: Option<String>,
    /// Security settings not used: widening values in config.toml (which key, and how
    /// the human sets it), a sealed settings record that does not verify or was removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings_warnings: Vec<String>,
    /// The policy failed its check against the seal: what was found and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Why a reader of a FUSE mount would wait while the agent is stopped (no watchdog),
    /// and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_warning: Option<String>,
}

/// One security setting in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingInfo {
    pub key: String,
    pub value: String,
    /// `default`, `config.toml` or `set by you`.
    pub source: String,
}
