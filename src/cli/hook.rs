//! `openv hook check-env [DIR]`: a pre-tool hook for AI agents (Claude Code, Codex).
//! Exit 0 when DIR/.env is absent or an openv mount; exit 2 (the code those agents read
//! as "block, and show stderr to the model") when it is a plaintext file, printing the
//! command that moves it into openv.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::agent_client::client;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, clap::Subcommand)]
pub enum HookCommand {
    /// Fail (exit 2) when DIR/.env is a plaintext file rather than an openv mount.
    CheckEnv {
        /// Project directory (default: the current directory).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

pub async fn run(home: &Home, c: HookCommand) -> anyhow::Result<()> {
    match c {
        HookCommand::CheckEnv { dir } => check_env(home, &dir).await,
    }
}

/// An environment name to suggest, from the directory's name.
fn suggest_env(dir: &Path) -> String {
    let base: String = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("myapp")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let base = base.trim_matches('-');
    if base.is_empty() || base.starts_with('.') {
        "myapp-dev".into()
    } else {
        format!("{base}-dev")
    }
}

fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

async fn check_env(home: &Home, dir: &Path) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("directory {}", dir.display()))?;
    let file = dir.join(".env");
    // Cheap path first: no .env, nothing to ask the agent (hooks run on every tool use).
    if std::fs::symlink_metadata(&file).is_err() {
        return Ok(());
    }
    let Response::Mounts { mounts } = client(home).call(&Request::Mounts).await? else {
        return Err(super::agent_client::unexpected());
    };
    let is_mount = |p: &Path| mounts.iter().any(|m| Path::new(&m.path) == p);
    // A fallback placement may make .env a symlink to the mounted file.
    let target = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
    if is_mount(&file) || is_mount(&target) {
        return Ok(());
    }
    eprintln!(
        "openv: {} is a plaintext .env file, readable by any tool. Move it into openv and serve it as a virtual file:\n  openv mount --import -e {} {}\n(any environment name will do; the values go into the vault and the plaintext file is removed)",
        file.display(),
        suggest_env(&dir),
        shell_quote(&dir)
    );
    std::process::exit(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_names_are_valid() {
        for (dir, want) in [
            ("/home/a/my app", "my-app-dev"),
            ("/srv/api.v2", "api.v2-dev"),
            ("/", "myapp-dev"),
        ] {
            let got = suggest_env(Path::new(dir));
            assert_eq!(got, want);
            assert!(crate::names::check_env_name(&got).is_ok());
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(Path::new("/a/b")), "/a/b");
        assert_eq!(shell_quote(Path::new("/a b/c'd")), r"'/a b/c'\''d'");
    }
}
