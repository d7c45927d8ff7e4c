//! `openv mcp-servers list|enable|disable|export`: the MCP server registry of the
//! current project.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;

use super::output;
use crate::paths::Home;
use crate::registry::export::{self, Client};
use crate::registry::{Registry, Source, switches};

#[derive(Debug, Subcommand)]
pub enum McpServersCommand {
    /// List the servers of this project and of OPENV_HOME/mcp-servers.toml, on or off.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn a server on in this project.
    Enable { name: String },
    /// Turn a server off in this project.
    Disable { name: String },
    /// Print an MCP client's configuration for the enabled servers (each runs
    /// `openv launch NAME`: no secret in it), or merge it into the client's file.
    Export {
        #[arg(long, value_enum)]
        client: Client,
        /// Merge into the client's file (kept entries, backup in FILE.bak): Codex
        /// .codex/config.toml, Kiro .kiro/settings/mcp.json, Claude Code .mcp.json,
        /// VS Code .vscode/mcp.json, in the project root.
        #[arg(long)]
        write: bool,
        /// Another file to merge into (e.g. ~/.codex/config.toml).
        #[arg(long, value_name = "FILE", requires = "write")]
        path: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    source: Source,
    enabled: bool,
    command: &'a str,
    args: &'a [String],
    /// Names only.
    env: Vec<&'a str>,
    /// Variable -> reference.
    secrets: Vec<(String, String)>,
}

/// The registry seen from the current directory (its project found upward).
pub(super) fn registry(home: &Home) -> anyhow::Result<Registry> {
    let cwd = std::env::current_dir().context("current directory")?;
    Ok(Registry::load(home, &cwd, false)?)
}

pub async fn run(home: &Home, cmd: McpServersCommand) -> anyhow::Result<()> {
    let reg = registry(home)?;
    match cmd {
        McpServersCommand::List { json } => list(&reg, json),
        McpServersCommand::Enable { name } => toggle(home, &reg, &name, true),
        McpServersCommand::Disable { name } => toggle(home, &reg, &name, false),
        McpServersCommand::Export {
            client,
            write,
            path,
        } => export_cmd(home, &reg, client, write, path),
    }
}

fn list(reg: &Registry, json: bool) -> anyhow::Result<()> {
    let rows: Vec<Row> = reg
        .servers
        .iter()
        .map(|s| Row {
            name: &s.name,
            source: s.source,
            enabled: s.enabled,
            command: &s.spec.command,
            args: &s.spec.args,
            env: s.spec.env.keys().map(String::as_str).collect(),
            secrets: s
                .spec
                .secrets
                .iter()
                .map(|(k, r)| (k.clone(), r.to_string()))
                .collect(),
        })
        .collect();
    if json {
        return output::json(&rows);
    }
    if rows.is_empty() {
        println!(
            "no MCP servers: add [mcp.servers.NAME] to openv.toml or to OPENV_HOME/mcp-servers.toml"
        );
        return Ok(());
    }
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:w$}  SOURCE   STATE  COMMAND  [SECRETS]", "NAME");
    for r in rows {
        let mut line = format!(
            "{:w$}  {:7}  {:5}  {}",
            r.name,
            r.source.as_str(),
            if r.enabled { "on" } else { "off" },
            r.command
        );
        if !r.secrets.is_empty() {
            let s: Vec<String> = r.secrets.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&format!("  {}", s.join(" ")));
        }
        println!("{line}");
    }
    Ok(())
}

fn toggle(home: &Home, reg: &Registry, name: &str, on: bool) -> anyhow::Result<()> {
    let s = reg.get(name)?;
    switches::set(home, &reg.root, &s.name, on)?;
    println!(
        "{} {} in {}",
        if on { "enabled" } else { "disabled" },
        s.name,
        reg.root.display()
    );
    Ok(())
}

fn export_cmd(
    home: &Home,
    reg: &Registry,
    client: Client,
    write: bool,
    path: Option<PathBuf>,
) -> anyhow::Result<()> {
    let openv = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the openv binary's path")?;
    // Pin the state directory only when it is not the default one.
    let pinned = std::env::var_os("OPENV_HOME")
        .filter(|h| !h.is_empty())
        .map(|_| home.root());
    let entries = export::entries(reg, &openv, pinned);
    if entries.is_empty() {
        eprintln!(
            "note: no MCP server is on in {}: see `openv mcp-servers list`",
            reg.root.display()
        );
    }
    if !write {
        let path = client.default_path(&reg.root);
        print!(
            "{}",
            export::merge(client, None, &entries, &reg.root, &path)?
        );
        return Ok(());
    }
    let path = match path {
        Some(p) => std::path::absolute(&p).with_context(|| format!("path {}", p.display()))?,
        None => client.default_path(&reg.root),
    };
    let w = export::write(client, &path, &entries, &reg.root)?;
    if !w.changed {
        println!("{} is up to date", w.path.display());
        return Ok(());
    }
    println!("wrote {} server(s) to {}", entries.len(), w.path.display());
    if let Some(b) = w.backup {
        println!("previous content kept in {}", b.display());
    }
    Ok(())
}
