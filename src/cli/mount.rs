use std::path::{Path, PathBuf};

use anyhow::Context;

use super::agent_client::client;
use super::output;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// Project directory (default: the current directory).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
    #[arg(short, long = "env", env = "OPENV_ENV")]
    env: Option<String>,
    /// fuse: a real file (default where /dev/fuse works); fifo: a named pipe, one reader
    /// at a time; auto: fuse, else fifo.
    #[arg(long, default_value = "auto", value_parser = ["auto", "fuse", "fifo"])]
    mode: String,
    /// File name inside DIR.
    #[arg(long, default_value = ".env", value_name = "NAME")]
    file: String,
    /// If a plaintext file is there, move its variables into ENV first, then remove it.
    #[arg(long)]
    import: bool,
}

#[derive(Debug, clap::Args)]
pub struct UnmountArgs {
    /// Project directory or the mounted file itself (default: the current directory).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// File name inside DIR.
    #[arg(long, default_value = ".env", value_name = "NAME")]
    file: String,
}

#[derive(Debug, clap::Args)]
pub struct MountsArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn target(dir: &Path, file: &str) -> anyhow::Result<PathBuf> {
    if file.is_empty() || file.contains('/') || file == "." || file == ".." {
        anyhow::bail!("--file takes a file name, not a path: got {file:?}");
    }
    let dir = std::path::absolute(dir).with_context(|| format!("path {}", dir.display()))?;
    // `openv unmount path/.env` names the file directly.
    if !dir.is_dir() {
        return Ok(dir);
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("directory {}", dir.display()))?;
    Ok(dir.join(file))
}

pub async fn mount(home: &Home, a: MountArgs) -> anyhow::Result<()> {
    if !a.dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory: give the project directory",
            a.dir.display()
        );
    }
    let env = crate::project::env_or_default(a.env)?;
    let path = target(&a.dir, &a.file)?;
    let mut c = client(home);
    mount_and_report(&mut c, path, &env, a.mode, a.import).await
}

/// Asks the agent to mount `env` at `path` and prints what happened (imported names,
/// the mount, notes). Shared by `openv mount` and `openv up`.
pub(crate) async fn mount_and_report(
    c: &mut crate::ipc::client::Client,
    path: std::path::PathBuf,
    env: &str,
    mode: String,
    import: bool,
) -> anyhow::Result<()> {
    let Response::Mounted {
        path,
        mode,
        notes,
        imported,
    } = super::human::call(
        c,
        &Request::Mount {
            path,
            env: env.to_owned(),
            mode,
            import,
        },
        // `--import` of a file with a name that changes what code runs needs the human:
        // the passphrase is asked at the hidden prompt, or OPENV_KEYFILE proves.
        &super::human::ProofArgs::from_env(),
    )
    .await?
    else {
        return Err(super::agent_client::unexpected());
    };
    for n in &imported {
        println!("imported {n}");
    }
    println!("mounted {env} at {path} ({mode})");
    for n in notes {
        eprintln!("note: {n}");
    }
    Ok(())
}

pub async fn unmount(home: &Home, a: UnmountArgs) -> anyhow::Result<()> {
    let path = target(&a.dir, &a.file)?;
    client(home)
        .call(&Request::Unmount { path: path.clone() })
        .await?;
    println!("unmounted {}", path.display());
    Ok(())
}

pub async fn list(home: &Home, a: MountsArgs) -> anyhow::Result<()> {
    let Response::Mounts { mounts } = client(home).call(&Request::Mounts).await? else {
        return Err(super::agent_client::unexpected());
    };
    if a.json {
        return output::json(&mounts);
    }
    if mounts.is_empty() {
        println!("no mounts: create one with `openv mount -e ENV`");
        return Ok(());
    }
    let w = mounts
        .iter()
        .map(|m| m.path.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let e = mounts.iter().map(|m| m.env.len()).max().unwrap_or(3).max(3);
    println!("{:w$}  {:e$}  MODE  SERVED  DENIED  STATE", "PATH", "ENV");
    for m in mounts {
        let last = m
            .last_refused
            .map(|r| format!(" (last refused: {r})"))
            .unwrap_or_default();
        println!(
            "{:w$}  {:e$}  {:4}  {:>6}  {:>6}  {}{last}",
            m.path, m.env, m.mode, m.served, m.denied, m.state
        );
    }
    Ok(())
}
