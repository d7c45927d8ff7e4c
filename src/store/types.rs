//! What the store answers with: environments and variables (names and metadata only)
//! and who supplied a value.

use serde::{Deserialize, Serialize};

/// Who supplied a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    User,
    Import,
    Agent,
    Generated,
}

impl ValueSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Import => "import",
            Self::Agent => "agent",
            Self::Generated => "generated",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
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
}
