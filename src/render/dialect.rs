//! The families of `.env` readers, by how they parse the file.

use super::forms::{Form, Rules};
use super::{common, js, native, python, shell};

/// A family of `.env` readers that parse the file the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// Readers openv does not recognise: the form dotenvy, python-dotenv, node's dotenv
    /// and POSIX shells all read back.
    Common,
    PythonDotenv,
    Node,
    DotenvExpand,
    Bun,
    Deno,
    Dotenvx,
    RubyDotenv,
    Phpdotenv,
    Direnv,
    Posix,
    Compose,
    Godotenv,
    Dotenvy,
}

impl Dialect {
    pub const ALL: [Dialect; 14] = [
        Self::Common,
        Self::PythonDotenv,
        Self::Node,
        Self::DotenvExpand,
        Self::Bun,
        Self::Deno,
        Self::Dotenvx,
        Self::RubyDotenv,
        Self::Phpdotenv,
        Self::Direnv,
        Self::Posix,
        Self::Compose,
        Self::Godotenv,
        Self::Dotenvy,
    ];

    /// The name used in `render = "..."`, the audit log and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Common => "common",
            Self::PythonDotenv => "python-dotenv",
            Self::Node => "node",
            Self::DotenvExpand => "dotenv-expand",
            Self::Bun => "bun",
            Self::Deno => "deno",
            Self::Dotenvx => "dotenvx",
            Self::RubyDotenv => "ruby-dotenv",
            Self::Phpdotenv => "phpdotenv",
            Self::Direnv => "direnv",
            Self::Posix => "posix",
            Self::Compose => "docker-compose",
            Self::Godotenv => "godotenv",
            Self::Dotenvy => "dotenvy",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// Every accepted name, for a message that says what to write.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// The readers this dialect is for, as people know them.
    pub fn readers(self) -> &'static str {
        match self {
            Self::Common => "readers openv does not recognise",
            Self::PythonDotenv => "python-dotenv and pydantic-settings",
            Self::Node => "node's dotenv, node --env-file and process.loadEnvFile",
            Self::DotenvExpand => "Vite, Next.js and dotenv-expand",
            Self::Bun => "bun",
            Self::Deno => "deno",
            Self::Dotenvx => "dotenvx",
            Self::RubyDotenv => "Ruby dotenv",
            Self::Phpdotenv => "phpdotenv",
            Self::Direnv => "direnv",
            Self::Posix => "POSIX shells (sh, bash, dash, zsh)",
            Self::Compose => "docker-compose",
            Self::Godotenv => "godotenv",
            Self::Dotenvy => "dotenvy and uv",
        }
    }

    pub(super) fn rules(self) -> &'static Rules {
        match self {
            Self::Common => &common::RULES,
            // docker-compose 1.29 reads env files with python-dotenv.
            Self::PythonDotenv | Self::Compose => &python::RULES,
            Self::Node => &js::NODE,
            Self::DotenvExpand => &js::EXPAND,
            Self::Bun => &js::BUN,
            Self::Deno => &js::DENO,
            Self::Dotenvx => &js::DOTENVX,
            Self::RubyDotenv => &native::RUBY,
            Self::Phpdotenv => &native::PHP,
            Self::Direnv => &native::DIRENV,
            Self::Posix => &shell::RULES,
            Self::Godotenv => &native::GODOTENV,
            Self::Dotenvy => &native::DOTENVY,
        }
    }

    /// How this dialect writes `value`, or why it cannot.
    pub(super) fn form(self, value: &str) -> Result<Form, &'static str> {
        if value.contains('\0') {
            return Err("contains a NUL character, which no process environment can hold");
        }
        (self.rules().form)(value)
    }

    pub fn can_hold(self, value: &str) -> bool {
        self.form(value).is_ok()
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
