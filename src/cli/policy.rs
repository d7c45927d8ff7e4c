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
    /// Remove a rule by id (see `openv policy list`). Removing a deny rule needs you:
    /// it asks for the vault passphrase.
    Rm {
        id: i64,
        #[command(flatten)]
        proof: super::human::ProofArgs,
    },
    /// Accept the rules as they are now, after `openv status` said the policy does not
    /// verify (rows changed outside openv). Needs you: it asks for the vault passphrase.
    /// Deny rules deleted outside openv are put back.
    Confirm {
        #[command(flatten)]
        proof: super::human::ProofArgs,
    },
    /// What readers an AI agent started get in an environment: `ask` (a prompt that says
    /// so; an approval covers that process only) or `deny` (refused at once, for
    /// production environments). Going back to `ask` needs you.
    Agents {
        /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
        #[arg(short, long = "env", env = "OPENV_ENV")]
        env: Option<String>,
        #[arg(value_parser = ["ask", "deny"])]
        policy: String,
        #[command(flatten)]
        proof: super::human::ProofArgs,
    },
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
    /// Allow an executable that a built-in rule denies in every environment (git: it
    /// would copy the plaintext into the repository).
    #[arg(long)]
    pub lift_builtin: bool,
    /// The rule also covers readers an AI agent started (without it, the agent's own
    /// `node` is never covered by a rule made for yours).
    #[arg(long)]
    pub agents: bool,
    /// An allow rule widens access: prove it is you (asked when needed).
    #[command(flatten)]
    pub proof: super::human::ProofArgs,
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
    let exe = super::shims::rule_exe(&a.exe, resolve_exe(&a.exe)?, a.cwd.as_deref())?;
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
    let req = Request::PolicyAdd {
        env: env.clone(),
        effect,
        exe: exe_s.clone(),
        cwd: cwd.clone(),
        for_secs: a.for_.map(|d| d.as_secs().max(1)),
        lift_builtin: a.lift_builtin,
        agents: a.agents,
    };
    let Response::RuleAdded { id } = super::human::call(&mut client(home), &req, &a.proof).await?
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
    if a.agents {
        what.push_str(", also when an AI agent started it");
    }
    println!("{what}");
    Ok(())
}

pub async fn run(home: &Home, cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Allow(a) => add(home, Effect::Allow, a).await,
        PolicyCommand::Deny(a) => add(home, Effect::Deny, a).await,
        PolicyCommand::List { json } => {
            let Response::Rules {
                rules,
                problem,
                agents_denied,
            } = client(home).call(&Request::PolicyList).await?
            else {
                return Err(super::agent_client::unexpected());
            };
            // The finding goes to stderr: `--json` stays the list of rules.
            if let Some(p) = &problem {
                eprintln!("warning: {p}");
            }
            if json {
                return output::json(&rules);
            }
            if !agents_denied.is_empty() {
                println!(
                    "readers an AI agent started are refused in: {}",
                    agents_denied.join(", ")
                );
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
                if r.agents {
                    line.push_str("  (also agent-started)");
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
        PolicyCommand::Rm { id, proof } => {
            super::human::call(&mut client(home), &Request::PolicyRemove { id }, &proof).await?;
            println!("removed rule {id}");
            Ok(())
        }
        PolicyCommand::Confirm { proof } => {
            let Response::PolicyConfirmed { found } =
                super::human::call(&mut client(home), &Request::PolicyConfirm, &proof).await?
            else {
                return Err(super::agent_client::unexpected());
            };
            if found.is_empty() {
                println!("the policy verified already; it is sealed again as it is");
            } else {
                println!("confirmed the rules as they are now; what had been found:");
                for f in found {
                    println!("  {f}");
                }
            }
            Ok(())
        }
        PolicyCommand::Agents { env, policy, proof } => {
            let env = crate::project::env_or_default(env)?;
            let policy = crate::store::policy_seal::AgentPolicy::parse(&policy)
                .context("the policy is ask or deny")?;
            let req = Request::PolicyAgents {
                env: env.clone(),
                policy,
            };
            super::human::call(&mut client(home), &req, &proof).await?;
            match policy {
                crate::store::policy_seal::AgentPolicy::Deny => {
                    println!("{env}: readers an AI agent started are refused at once")
                }
                crate::store::policy_seal::AgentPolicy::Ask => println!(
                    "{env}: readers an AI agent started are asked about (an approval covers that process only)"
                ),
            }
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
