//! What the store answers with: environments and variables (names and metadata only)
//! and who supplied a value.

use serde::{Deserialize, Serialize};

/// Who supplied a value, as the agent saw it (never as a client claims it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    /// The human, with a proof or through the hidden-input dialog. Sealed: a value is
    /// stored under this source only with its own associated data (`crypto::value_aad`),
    /// so editing the column to `human` makes the value fail to open.
    Human,
    /// The CLI, without a proof, from a process no AI agent started.
    Cli,
    /// Stored before sources were told apart (the CLI's label then).
    User,
    Import,
    /// Through MCP, or from a process an AI agent started.
    Agent,
    Generated,
}

impl ValueSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Cli => "cli",
            Self::User => "user",
            Self::Import => "import",
            Self::Agent => "agent",
            Self::Generated => "generated",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "human" => Self::Human,
            "cli" => Self::Cli,
            "user" => Self::User,
            "import" => Self::Import,
            "agent" => Self::Agent,
            "generated" => Self::Generated,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvInfo {
    pub name: String,
    pub variables: u64,
    pub set: u64,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VarInfo {
    pub name: String,
    pub has_value: bool,
    /// Unix seconds of the last change.
    pub updated: i64,
    pub source: Option<ValueSource>,
    /// Dialects (`render::Dialect::as_str`) that cannot read the value exactly; filled
    /// by the agent while unlocked, empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable_by: Vec<String>,
}
