use std::io::Write;

use clap::Subcommand;

use super::agent_client::client;
use super::{output, prompt};
use crate::ipc::protocol::{Request, Response};
use crate::names::{check_value_len, check_var_name};
use crate::paths::Home;

#[derive(Debug, Subcommand)]
pub enum VarCommand {
    /// Declare variable names without values (placeholders).
    Add {
        /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
        #[arg(short, long = "env", env = "OPENV_ENV")]
        env: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Set a value, read from stdin (one trailing newline dropped) or a hidden
    /// prompt on a terminal. Never from the command line.
    Set {
        /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
        #[arg(short, long = "env", env = "OPENV_ENV")]
        env: Option<String>,
        name: String,
        /// A name that changes what code runs (PATH, LD_*, NODE_OPTIONS, ...) needs you,
        /// the human: the proof is asked for then.
        #[command(flatten)]
        proof: super::human::ProofArgs,
    },
    /// List names, whether each has a value, and the last change. Never values.
    List {
        /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
        #[arg(short, long = "env", env = "OPENV_ENV")]
        env: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove variables (all or nothing).
    Rm {
        /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
        #[arg(short, long = "env", env = "OPENV_ENV")]
        env: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub async fn run(home: &Home, cmd: VarCommand) -> anyhow::Result<()> {
    match cmd {
        VarCommand::Add { env, names } => {
            let env = crate::project::env_or_default(env)?;
            let Response::Names { names: added } = client(home)
                .call(&Request::VarDeclare {
                    env: env.clone(),
                    names: names.clone(),
                })
                .await?
            else {
                return Err(super::agent_client::unexpected());
            };
            let existing = names.len() - added.len();
            println!(
                "declared {} new variable(s) in {env}{}",
                added.len(),
                if existing > 0 {
                    format!(" ({existing} already there)")
                } else {
                    String::new()
                }
            );
        }
        VarCommand::Set { env, name, proof } => {
            let env = crate::project::env_or_default(env)?;
            // Check what can be checked before asking for a secret.
            check_var_name(&name)?;
            let value = prompt::value(&name)?;
            check_value_len(&name, value.len())?;
            let warning = crate::render::report::warning(&name, value.expose());
            let req = Request::VarSet {
                env: env.clone(),
                name: name.clone(),
                value,
            };
            super::human::call(&mut client(home), &req, &proof).await?;
            println!("set {name} in {env}");
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
        }
        VarCommand::List { env, json } => {
            let env = crate::project::env_or_default(env)?;
            let Response::Variables { variables, .. } = client(home)
                .call(&Request::VarList { env: env.clone() })
                .await?
            else {
                return Err(super::agent_client::unexpected());
            };
            if json {
                return output::json(&variables);
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if variables.is_empty() {
                writeln!(
                    out,
                    "no variables in {env}: declare some with `openv var add -e {env} NAME`"
                )?;
                return Ok(());
            }
            let w = variables
                .iter()
                .map(|v| v.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            writeln!(
                out,
                "{:w$}  VALUE  SOURCE     CHANGED              UNREADABLE BY",
                "NAME"
            )?;
            // Rows changed together share a timestamp: format each distinct one once.
            let mut last: Option<(i64, String)> = None;
            for v in &variables {
                if last.as_ref().is_none_or(|(t, _)| *t != v.updated) {
                    last = Some((v.updated, output::time(v.updated)));
                }
                let changed = last.as_ref().map_or("", |(_, s)| s.as_str());
                writeln!(
                    out,
                    "{:w$}  {:5}  {:9}  {changed:19}  {}",
                    v.name,
                    if v.has_value { "set" } else { "unset" },
                    v.source.map_or("-", |s| s.as_str()),
                    if v.unreadable_by.is_empty() {
                        "-".to_owned()
                    } else {
                        v.unreadable_by.join(",")
                    },
                )?;
            }
            out.flush()?;
        }
        VarCommand::Rm { env, names } => {
            let env = crate::project::env_or_default(env)?;
            client(home)
                .call(&Request::VarRemove {
                    env: env.clone(),
                    names: names.clone(),
                })
                .await?;
            println!("removed {} from {env}", names.join(", "));
        }
    }
    Ok(())
}
