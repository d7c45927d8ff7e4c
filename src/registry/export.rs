//! MCP client configuration for the enabled servers, each as `openv launch NAME`: the
//! client's file names a command, never a secret.
//!
//! Formats (checked against each client's documentation):
//! - Codex: TOML, `[mcp_servers.NAME] command, args, env` in `~/.codex/config.toml` or,
//!   for a trusted project, `.codex/config.toml`.
//! - Kiro: `.kiro/settings/mcp.json`, `{"mcpServers": {NAME: {command, args, env, disabled}}}`.
//! - Claude Code: `.mcp.json`, `{"mcpServers": {NAME: {type: "stdio", command, args, env}}}`.
//! - VS Code: `.vscode/mcp.json`, `{"servers": {NAME: {type: "stdio", command, args, env}}}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use thiserror::Error;

use super::Registry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    Codex,
    Kiro,
    Claude,
    Vscode,
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("cannot merge into {path}: {message}")]
    Merge { path: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Client {
    /// The client's project-level configuration file.
    pub fn default_path(self, root: &Path) -> PathBuf {
        match self {
            Self::Codex => root.join(".codex/config.toml"),
            Self::Kiro => root.join(".kiro/settings/mcp.json"),
            Self::Claude => root.join(".mcp.json"),
            Self::Vscode => root.join(".vscode/mcp.json"),
        }
    }

    /// The JSON object that holds the servers.
    fn json_key(self) -> &'static str {
        match self {
            Self::Vscode => "servers",
            _ => "mcpServers",
        }
    }
}

/// One client entry: how to start `openv launch` for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    /// Only non-secret state location (OPENV_HOME) when it is not the default.
    pub env: BTreeMap<String, String>,
}

/// The entries for the enabled servers of `reg`. `openv` is the absolute path of the
/// binary; `home` the OPENV_HOME to pin, if one is set (clients such as Codex pass only
/// a few variables to servers).
pub fn entries(reg: &Registry, openv: &Path, home: Option<&Path>) -> Vec<Entry> {
    let root = reg.root.display().to_string();
    reg.enabled()
        .map(|s| Entry {
            name: s.name.clone(),
            command: openv.display().to_string(),
            args: vec![
                "launch".into(),
                "--project".into(),
                root.clone(),
                s.name.clone(),
            ],
            env: home
                .map(|h| BTreeMap::from([("OPENV_HOME".to_owned(), h.display().to_string())]))
                .unwrap_or_default(),
        })
        .collect()
}

/// Was this entry written by `openv mcp-servers export` for the project at `root`?
/// Such entries are replaced or, when their server is off now, removed on `--write`.
fn ours(args: &[String], root: &str) -> bool {
    args.first().map(String::as_str) == Some("launch")
        && args.windows(2).any(|w| w[0] == "--project" && w[1] == root)
}

/// The client's configuration: `existing` (the file's current text) with the entries
/// merged in. Entries of other tools and other projects are kept.
pub fn merge(
    client: Client,
    existing: Option<&str>,
    entries: &[Entry],
    root: &Path,
    path: &Path,
) -> Result<String, ExportError> {
    let root = root.display().to_string();
    let err = |message: String| ExportError::Merge {
        path: path.display().to_string(),
        message,
    };
    match client {
        Client::Codex => merge_toml(existing.unwrap_or(""), entries, &root).map_err(err),
        _ => merge_json(client, existing.unwrap_or(""), entries, &root).map_err(err),
    }
}

fn merge_json(
    client: Client,
    existing: &str,
    entries: &[Entry],
    root: &str,
) -> Result<String, String> {
    let mut doc: Value = if existing.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(existing).map_err(|e| {
            format!(
                "it is not plain JSON ({e}; comments are not supported): fix it or move it away"
            )
        })?
    };
    let Some(obj) = doc.as_object_mut() else {
        return Err("its top level is not a JSON object: fix it or move it away".into());
    };
    let key = client.json_key();
    let servers = obj.entry(key).or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        return Err(format!(
            "\"{key}\" is not an object: fix it or move it away"
        ));
    };
    servers.retain(|_, v| {
        let args: Vec<String> = v["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        !ours(&args, root)
    });
    for e in entries {
        let mut v = json!({ "command": e.command, "args": e.args });
        if !e.env.is_empty() {
            v["env"] = json!(e.env);
        }
        match client {
            Client::Claude | Client::Vscode => v["type"] = json!("stdio"),
            Client::Kiro => v["disabled"] = json!(false),
            Client::Codex => {}
        }
        servers.insert(e.name.clone(), v);
    }
    let mut out =
        serde_json::to_string_pretty(&doc).map_err(|e| format!("cannot render JSON: {e}"))?;
    out.push('\n');
    Ok(out)
}

fn merge_toml(existing: &str, entries: &[Entry], root: &str) -> Result<String, String> {
    use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, value};
    let mut doc: DocumentMut = existing.parse().map_err(|e: toml_edit::TomlError| {
        format!(
            "it is not valid TOML ({}): fix it or move it away",
            e.message()
        )
    })?;
    if !doc.contains_key("mcp_servers") {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert("mcp_servers", Item::Table(t));
    }
    let Some(servers) = doc["mcp_servers"].as_table_mut() else {
        return Err("mcp_servers is not a table: fix it or move it away".into());
    };
    let stale: Vec<String> = servers
        .iter()
        .filter(|(_, item)| {
            let args: Vec<String> = item
                .get("args")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            ours(&args, root)
        })
        .map(|(k, _)| k.to_owned())
        .collect();
    for k in stale {
        servers.remove(&k);
    }
    for e in entries {
        let mut t = Table::new();
        t.insert("command", value(e.command.as_str()));
        t.insert("args", value(e.args.iter().collect::<Array>()));
        if !e.env.is_empty() {
            let env: InlineTable = e
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), toml_edit::Value::from(v.as_str())))
                .collect();
            t.insert("env", value(env));
        }
        servers.insert(&e.name, Item::Table(t));
    }
    Ok(doc.to_string())
}

/// What `write` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// The previous content, when there was one and it changed.
    pub backup: Option<PathBuf>,
    pub changed: bool,
}

/// Merges the entries into the client's file at `path`, keeping what is there and a
/// copy of the old content in `PATH.bak`.
pub fn write(
    client: Client,
    path: &Path,
    entries: &[Entry],
    root: &Path,
) -> Result<Written, ExportError> {
    let werr = |p: &Path, source: std::io::Error| ExportError::Write {
        path: p.display().to_string(),
        source,
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(werr(path, e)),
    };
    let merged = merge(client, existing.as_deref(), entries, root, path)?;
    if existing.as_deref() == Some(merged.as_str()) {
        return Ok(Written {
            path: path.to_owned(),
            backup: None,
            changed: false,
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    }
    let mut name = path.file_name().unwrap_or_default().to_owned();
    let backup = if existing.is_some() {
        let mut b = name.clone();
        b.push(".bak");
        let b = path.with_file_name(b);
        std::fs::copy(path, &b).map_err(|e| werr(&b, e))?;
        Some(b)
    } else {
        None
    };
    name.push(".openv-tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, merged.as_bytes()).map_err(|e| werr(&tmp, e))?;
    if let Ok(m) = std::fs::metadata(path) {
        // Keep the mode the user gave the file.
        std::fs::set_permissions(&tmp, m.permissions()).map_err(|e| werr(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| werr(path, e))?;
    Ok(Written {
        path: path.to_owned(),
        backup,
        changed: true,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            name: name.into(),
            command: "/usr/bin/openv".into(),
            args: vec![
                "launch".into(),
                "--project".into(),
                "/p".into(),
                name.into(),
            ],
            env: BTreeMap::new(),
        }
    }

    #[test]
    fn json_merge_keeps_others_and_drops_stale() {
        let existing = r#"{"mcpServers": {
            "other": {"command": "x"},
            "old": {"command": "/usr/bin/openv", "args": ["launch", "--project", "/p", "old"]},
            "elsewhere": {"command": "/usr/bin/openv", "args": ["launch", "--project", "/q", "e"]}
        }, "keep": 1}"#;
        let out = merge(
            Client::Claude,
            Some(existing),
            &[entry("gh")],
            Path::new("/p"),
            Path::new(".mcp.json"),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        let s = v["mcpServers"].as_object().unwrap();
        let keys: Vec<&str> = s.keys().map(String::as_str).collect();
        assert_eq!(keys, ["elsewhere", "gh", "other"]);
        assert_eq!(v["keep"], 1);
        assert_eq!(s["gh"]["type"], "stdio");
    }

    #[test]
    fn codex_merge_keeps_comments() {
        let existing = "# mine\nmodel = \"o3\"\n\n[mcp_servers.other]\ncommand = \"x\"\n";
        let out = merge(
            Client::Codex,
            Some(existing),
            &[entry("gh")],
            Path::new("/p"),
            Path::new("config.toml"),
        )
        .unwrap();
        assert!(out.starts_with("# mine\nmodel = \"o3\""), "{out}");
        let v: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(v["mcp_servers"]["gh"]["args"][3].as_str(), Some("gh"));
        assert_eq!(v["mcp_servers"]["other"]["command"].as_str(), Some("x"));
    }

    #[test]
    fn broken_files_are_not_overwritten() {
        let e = merge(
            Client::Vscode,
            Some("{ // comment\n}"),
            &[entry("gh")],
            Path::new("/p"),
            Path::new(".vscode/mcp.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not plain JSON"), "{e}");
    }
}
