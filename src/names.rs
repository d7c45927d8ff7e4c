//! Validation of environment names, variable names and value sizes.
//!
//! The same rules serve the CLI, the agent and the MCP server, so a name that one
//! accepts is accepted everywhere.

use thiserror::Error;

/// Largest value accepted, in bytes.
pub const MAX_VALUE_LEN: usize = 64 * 1024;

pub const ENV_NAME_PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";
pub const VAR_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error(
        "invalid environment name {0:?}: use 1-64 letters, digits, '.', '_' or '-' (pattern {ENV_NAME_PATTERN})"
    )]
    Environment(String),
    #[error(
        "invalid variable name {0:?}: start with a letter or '_', then up to 127 letters, digits or '_' (pattern {VAR_NAME_PATTERN})"
    )]
    Variable(String),
    #[error("value of {name} is {len} bytes: the limit is {MAX_VALUE_LEN} bytes (64 KiB)")]
    ValueTooLong { name: String, len: usize },
}

pub fn check_env_name(name: &str) -> Result<(), NameError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(NameError::Environment(shorten(name)))
    }
}

/// A shell identifier: `[A-Za-z_][A-Za-z0-9_]*`, the names every .env reader accepts.
pub fn is_shell_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `.env`, or `.env.` followed by something (`.env.local`, `.env.production`): the files
/// a mount may replace by importing them, and the MCP file tools may name.
pub fn is_env_name(name: &str) -> bool {
    name == ".env"
        || name
            .strip_prefix(".env.")
            .is_some_and(|rest| !rest.is_empty())
}

pub fn check_var_name(name: &str) -> Result<(), NameError> {
    if name.len() <= 128 && is_shell_identifier(name) {
        Ok(())
    } else {
        Err(NameError::Variable(shorten(name)))
    }
}

pub fn check_value_len(name: &str, len: usize) -> Result<(), NameError> {
    if len > MAX_VALUE_LEN {
        return Err(NameError::ValueTooLong {
            name: name.to_owned(),
            len,
        });
    }
    Ok(())
}

/// Names are not secret, but an error should not echo a megabyte of input back.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(77).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for ok in ["a", "myapp-dev", "x.y_z-1", &"a".repeat(64)] {
            assert!(check_env_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", &"a".repeat(65), "a\n"] {
            assert!(check_env_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn var_names() {
        for ok in [
            "A",
            "_",
            "_A1",
            "DATABASE_URL",
            &format!("A{}", "b".repeat(127)),
        ] {
            assert!(check_var_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1A",
            "A-B",
            "A.B",
            "A B",
            &format!("A{}", "b".repeat(128)),
        ] {
            assert!(check_var_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn value_len() {
        assert!(check_value_len("A", MAX_VALUE_LEN).is_ok());
        assert!(check_value_len("A", MAX_VALUE_LEN + 1).is_err());
    }
}
