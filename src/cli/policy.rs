use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use super::agent_client::client;
use super::output;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;
use crate::store::rules::Effect;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Let an executable read an environment without asking.
    Allow(RuleArgs),
    /// Never let an executable read an environment (deny rules win over allow rules).
    Deny(RuleArgs),
    /// List rules.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a rule by id (see `openv policy list`).
    Rm { id: i64 },
}

#[derive(Debug, clap::Args)]
pub struct RuleArgs {
    /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
    #[arg(short, long = "env", env = "OPENV_ENV")]
    pub env: Option<String>,
    /// The executable: a path, or a command name looked up in PATH. Symlinks are
    /// resolved (python3 -> python3.11), as the kernel reports it.
    #[arg(long, value_name = "PATH")]
    pub exe: PathBuf,
    /// Only when the process runs in this directory or below.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Only for this long (e.g. 8h, 30m); default: until removed.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub for_: Option<Duration>,
}

/// The executable the kernel will report: looked up in PATH, symlinks resolved.
fn resolve_exe(exe: &Path) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("current directory")?;
    let path = std::env::var_os("PATH");
    Ok(crate::run::program::resolve(
        exe.as_os_str(),
        path.as_deref(),
        &cwd,
    )?)
}

pub async fn add(home: &Home, effect: Effect, a: RuleArgs) -> anyhow::Result<()> {
    let env = crate::project::env_or_default(a.env)?;
    let exe = resolve_exe(&a.exe)?;
    if is_script(&exe) {
        eprintln!(
            "note: {} is a script: a mounted .env sees its interpreter (see its #! line) as the reader, so allow that for reads; `openv run` and `openv launch` approve the script itself",
            exe.display()
        );
    }
    let exe_s = exe
        .to_str()
        .context("the executable's path is not UTF-8")?
        .to_owned();
    let cwd = a.cwd.as_deref().map(canonical_dir).transpose()?;
    let Response::RuleAdded { id } = client(home)
        .call(&Request::PolicyAdd {
            env: env.clone(),
            effect,
            exe: exe_s.clone(),
            cwd: cwd.clone(),
            for_secs: a.for_.map(|d| d.as_secs().max(1)),
        })
        .await?
    else {
        return Err(super::agent_client::unexpected());
    };
    let verb = match effect {
        Effect::Allow => "may now read",
        Effect::Deny => "may never read",
    };
    let mut what = format!("rule {id}: {exe_s} {verb} {env}");
    if let Some(c) = cwd {
        what.push_str(&format!(" (in {c})"));
    }
    if let Some(d) = a.for_ {
        what.push_str(&format!(" for {}", humantime::format_duration(d)));
    }
    println!("{what}");
    Ok(())
}

pub async fn run(home: &Home, cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Allow(a) => add(home, Effect::Allow, a).await,
        PolicyCommand::Deny(a) => add(home, Effect::Deny, a).await,
        PolicyCommand::List { json } => {
            let Response::Rules { rules } = client(home).call(&Request::PolicyList).await? else {
                return Err(super::agent_client::unexpected());
            };
            if json {
                return output::json(&rules);
            }
            if rules.is_empty() {
                println!("no rules: add one with `openv policy allow -e ENV --exe PATH`");
                return Ok(());
            }
            let now = crate::store::now();
            println!("  ID  EFFECT  ENV  EXE  [CWD]  [EXPIRES]");
            for r in rules {
                let mut line =
                    format!("{:>4}  {:6}  {}  {}", r.id, r.effect.as_str(), r.env, r.exe);
                if let Some(c) = r.cwd {
                    line.push_str(&format!("  in {c}"));
                }
                match r.expires {
                    Some(t) if t <= now => line.push_str("  (expired)"),
                    Some(t) => line.push_str(&format!("  until {}", output::time(t))),
                    None => {}
                }
                println!("{line}");
            }
            Ok(())
        }
        PolicyCommand::Rm { id } => {
            client(home).call(&Request::PolicyRemove { id }).await?;
            println!("removed rule {id}");
            Ok(())
        }
    }
}

/// Whether the file starts with `#!` (two bytes read, not the whole program).
fn is_script(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut magic).is_ok()) && &magic == b"#!"
}

/// A `--cwd` directory as the agent matches it: canonical, and UTF-8.
pub(super) fn canonical_dir(d: &std::path::Path) -> anyhow::Result<String> {
    Ok(d.canonicalize()
        .with_context(|| format!("directory {}", d.display()))?
        .to_str()
        .context("the directory's path is not UTF-8")?
        .to_owned())
}
