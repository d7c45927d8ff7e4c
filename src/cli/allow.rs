use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{client, output};
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

/// Until prompts land, the mount serves only executables on this list.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(short, long = "env", env = "OPENV_ENV", required_unless_present_any = ["list", "remove"])]
    env: Option<String>,
    /// Executable allowed to read ENV: a path, or a command name looked up in PATH.
    /// Symlinks are resolved (python3 -> python3.11).
    #[arg(long, value_name = "PATH", required_unless_present_any = ["list", "remove"])]
    exe: Option<PathBuf>,
    /// List the rules.
    #[arg(long, conflicts_with_all = ["exe", "remove"])]
    list: bool,
    /// Remove the rule with this id (see --list).
    #[arg(long, value_name = "ID", conflicts_with = "exe")]
    remove: Option<i64>,
    /// With --list: print JSON.
    #[arg(long, requires = "list")]
    json: bool,
}

/// Resolves a command name through PATH, then symlinks, as the kernel reports
/// /proc/<pid>/exe.
fn resolve_exe(exe: &Path) -> anyhow::Result<PathBuf> {
    let found = if exe.components().count() == 1 && !exe.is_absolute() {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(exe))
            .find(|p| p.is_file())
            .with_context(|| format!("{} is not in PATH: give the full path", exe.display()))?
    } else {
        exe.to_owned()
    };
    found
        .canonicalize()
        .with_context(|| format!("executable {}", found.display()))
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let mut c = client(home).await?;
    if a.list {
        let Response::Rules { rules } = c.call(&Request::Rules).await? else {
            anyhow::bail!("unexpected answer from the agent: run `openv agent restart`");
        };
        if a.json {
            return output::json(&rules);
        }
        if rules.is_empty() {
            println!("no rules: add one with `openv allow -e ENV --exe PATH`");
        }
        for r in rules {
            println!(
                "{:>4}  {}  {}  (since {})",
                r.id,
                r.env,
                r.exe,
                output::time(r.created)
            );
        }
        return Ok(());
    }
    if let Some(id) = a.remove {
        c.call(&Request::RemoveRule { id }).await?;
        println!("removed rule {id}");
        return Ok(());
    }
    let (Some(env), Some(exe)) = (a.env, a.exe) else {
        anyhow::bail!("give -e ENV and --exe PATH");
    };
    let exe = resolve_exe(&exe)?;
    if std::fs::read(&exe).is_ok_and(|b| b.starts_with(b"#!")) {
        eprintln!(
            "note: {} is a script: the process that opens the file is its interpreter (see its #! line); allow that instead",
            exe.display()
        );
    }
    let exe = exe
        .to_str()
        .context("the executable's path is not UTF-8")?
        .to_owned();
    c.call(&Request::Allow {
        env: env.clone(),
        exe: exe.clone(),
    })
    .await?;
    println!("{exe} may now read {env}");
    Ok(())
}
