//! One MCP server entry, `[mcp.servers.NAME]`, as written in openv.toml or in the
//! user-wide `mcp-servers.toml`: a command, its arguments, plain environment values and
//! secrets given as references `openv://ENV/VAR` (never values).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::error::ProjectError;

pub const REFERENCE_PREFIX: &str = "openv://";

/// `openv://ENV/VAR`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    pub env: String,
    pub var: String,
}

impl SecretRef {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a reference: write openv://ENV/VAR");
        let rest = s.strip_prefix(REFERENCE_PREFIX).ok_or_else(bad)?;
        let (env, var) = rest.split_once('/').ok_or_else(bad)?;
        crate::names::check_env_name(env).map_err(|e| e.to_string())?;
        crate::names::check_var_name(var).map_err(|e| e.to_string())?;
        Ok(Self {
            env: env.to_owned(),
            var: var.to_owned(),
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REFERENCE_PREFIX}{}/{}", self.env, self.var)
    }
}

/// A validated server entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub command: String,
    pub args: Vec<String>,
    /// Plain (non-secret) variables.
    pub env: BTreeMap<String, String>,
    /// Target variable name -> reference, in name order.
    pub secrets: Vec<(String, SecretRef)>,
    /// The directory of the file that defines it: a relative `command` with a `/` is
    /// relative to it.
    pub base: PathBuf,
}

impl ServerSpec {
    /// The references grouped by environment, in first-use order: one resolve each.
    pub fn by_env(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (_, r) in &self.secrets {
            let i = match groups.iter().position(|(e, _)| *e == r.env) {
                Some(i) => i,
                None => {
                    groups.push((r.env.clone(), Vec::new()));
                    groups.len() - 1
                }
            };
            if !groups[i].1.contains(&r.var) {
                groups[i].1.push(r.var.clone());
            }
        }
        groups
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMcp {
    #[serde(default)]
    pub servers: BTreeMap<Spanned<String>, RawServer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    command: Spanned<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    secrets: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Server names end up as keys in every client's configuration: keep them plain.
pub fn check_server_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "server name {name:?}: use 1-64 letters, digits, '_' or '-'"
        ))
    }
}

/// Validates the `[mcp.servers]` of one file; errors name the file, line and key.
pub(crate) fn validate(
    raw: RawMcp,
    file: &Path,
    text: &str,
) -> Result<Vec<(String, ServerSpec)>, ProjectError> {
    let at = |span: std::ops::Range<usize>, msg: String| ProjectError::at(file, text, span, msg);
    let base = file.parent().unwrap_or(Path::new("/")).to_owned();
    let mut out = Vec::new();
    for (name, s) in raw.servers {
        check_server_name(name.get_ref()).map_err(|m| at(name.span(), m))?;
        if s.command.get_ref().trim().is_empty() {
            return Err(at(s.command.span(), "command is empty".into()));
        }
        let mut env = BTreeMap::new();
        for (k, v) in s.env {
            crate::names::check_var_name(k.get_ref()).map_err(|e| at(k.span(), e.to_string()))?;
            env.insert(k.into_inner(), v);
        }
        let mut secrets = Vec::new();
        for (k, v) in s.secrets {
            crate::names::check_var_name(k.get_ref()).map_err(|e| at(k.span(), e.to_string()))?;
            if env.contains_key(k.get_ref()) {
                return Err(at(
                    k.span(),
                    format!("{} is both in env and in secrets: keep one", k.get_ref()),
                ));
            }
            let r = SecretRef::parse(v.get_ref()).map_err(|m| at(v.span(), m))?;
            secrets.push((k.into_inner(), r));
        }
        out.push((
            name.into_inner(),
            ServerSpec {
                command: s.command.into_inner(),
                args: s.args,
                env,
                secrets,
                base: base.clone(),
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = SecretRef::parse("openv://dev/GITHUB_TOKEN").expect("parse");
        assert_eq!((r.env.as_str(), r.var.as_str()), ("dev", "GITHUB_TOKEN"));
        assert_eq!(r.to_string(), "openv://dev/GITHUB_TOKEN");
        for bad in [
            "dev/X",
            "openv://dev",
            "openv://d e/X",
            "openv://dev/1X",
            "op://a/b",
        ] {
            assert!(SecretRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_by_environment() {
        let r = |e: &str, v: &str| SecretRef {
            env: e.into(),
            var: v.into(),
        };
        let s = ServerSpec {
            command: "x".into(),
            args: vec![],
            env: BTreeMap::new(),
            secrets: vec![
                ("A".into(), r("dev", "T")),
                ("B".into(), r("prod", "U")),
                ("C".into(), r("dev", "T")),
                ("D".into(), r("dev", "V")),
            ],
            base: PathBuf::from("/"),
        };
        assert_eq!(
            s.by_env(),
            vec![
                ("dev".to_owned(), vec!["T".to_owned(), "V".to_owned()]),
                ("prod".to_owned(), vec!["U".to_owned()])
            ]
        );
    }

    #[test]
    fn server_names() {
        assert!(check_server_name("github-2_x").is_ok());
        assert!(check_server_name("a.b").is_err());
        assert!(check_server_name("").is_err());
    }
}
