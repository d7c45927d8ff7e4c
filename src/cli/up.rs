//! `openv up` / `openv down`: create or remove every `[[mount]]` of openv.toml.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::agent_client::client;
use crate::ipc::protocol::{ErrorCode, Request, Response};
use crate::paths::Home;
use crate::project::{MountSpec, Project};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where a plaintext file is in the way, move its variables into the environment
    /// first, then remove it (as `openv mount --import`).
    #[arg(long)]
    import: bool,
}

/// The absolute path the agent knows the mount by: canonical directory + file name.
fn target(m: &MountSpec, p: &Project) -> anyhow::Result<PathBuf> {
    let dir = m.path.parent().unwrap_or(Path::new("/"));
    let name = m.path.file_name().with_context(|| {
        format!(
            "{}, line {}: path {:?} names no file",
            p.file.display(),
            m.line,
            m.written
        )
    })?;
    let dir = dir.canonicalize().with_context(|| {
        format!(
            "{}, line {}: directory {} does not exist: create it first",
            p.file.display(),
            m.line,
            dir.display()
        )
    })?;
    Ok(dir.join(name))
}

fn summary(failed: usize, total: usize) -> anyhow::Result<()> {
    if failed > 0 {
        anyhow::bail!("{failed} of {total} mount(s) failed: see the messages above");
    }
    Ok(())
}

pub async fn up(home: &Home, a: UpArgs) -> anyhow::Result<()> {
    let p = Project::require()?;
    if p.mounts.is_empty() {
        println!("no [[mount]] in {}: nothing to do", p.file.display());
        return Ok(());
    }
    let mut c = client(home);
    let Response::Mounts { mounts } = c.call(&Request::Mounts).await? else {
        return Err(super::agent_client::unexpected());
    };
    let mut failed = 0;
    for m in &p.mounts {
        let res: anyhow::Result<()> = async {
            let Some(env) = m.env.clone().or_else(|| p.env.clone()) else {
                anyhow::bail!(
                    "{}, line {}: no environment for {}: add env = \"NAME\" to this [[mount]] or at the top of the file",
                    p.file.display(),
                    m.line,
                    m.written
                );
            };
            let path = target(m, &p)?;
            let shown = path.display().to_string();
            if let Some(x) = mounts.iter().find(|x| x.path == shown) {
                if x.env == env {
                    println!("{env} is already mounted at {shown}");
                    return Ok(());
                }
                anyhow::bail!(
                    "{shown} serves {} already: run `openv down` (or `openv unmount {shown}`) first",
                    x.env
                );
            }
            super::mount::mount_and_report(&mut c, path, &env, m.mode.clone(), a.import).await
        }
        .await;
        if let Err(e) = res {
            eprintln!("error: {}: {e:#}", m.written);
            failed += 1;
        }
    }
    summary(failed, p.mounts.len())
}

pub async fn down(home: &Home) -> anyhow::Result<()> {
    let p = Project::require()?;
    if p.mounts.is_empty() {
        println!("no [[mount]] in {}: nothing to do", p.file.display());
        return Ok(());
    }
    let mut c = client(home);
    let mut failed = 0;
    for m in &p.mounts {
        let path = match target(m, &p) {
            Ok(p) => p,
            // No directory: nothing can be mounted there.
            Err(_) => {
                println!("not mounted: {}", m.path.display());
                continue;
            }
        };
        match c.call(&Request::Unmount { path: path.clone() }).await {
            Ok(_) => println!("unmounted {}", path.display()),
            Err(e) if e.code() == Some(ErrorCode::NotFound) => {
                println!("not mounted: {}", path.display());
            }
            Err(e) => {
                eprintln!("error: {}: {e}", m.written);
                failed += 1;
            }
        }
    }
    summary(failed, p.mounts.len())
}
