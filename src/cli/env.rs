use clap::Subcommand;

use super::agent_client::client;
use super::{output, prompt};
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create an environment.
    Create {
        /// Name: 1-64 letters, digits, '.', '_' or '-'.
        name: String,
        /// Store it on this team remote (`openv remote add`) instead of only locally.
        #[arg(long)]
        remote: Option<String>,
    },
    /// Link an environment that exists on a team remote (someone else created it).
    Link {
        name: String,
        #[arg(long)]
        remote: String,
    },
    /// Stop syncing a shared environment; its values stay as a local environment.
    Unlink { name: String },
    /// List environments with their variable counts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rename an environment (values stay as they are).
    Rename { old: String, new: String },
    /// Delete an environment and all its variables.
    Rm {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub async fn run(home: &Home, cmd: EnvCommand) -> anyhow::Result<()> {
    let mut c = client(home);
    match cmd {
        EnvCommand::Create { name, remote: None } => {
            c.call(&Request::EnvCreate { name: name.clone() }).await?;
            println!("created environment {name}");
        }
        EnvCommand::Create {
            name,
            remote: Some(remote),
        } => {
            c.call(&Request::EnvCreateShared {
                name: name.clone(),
                remote: remote.clone(),
            })
            .await?;
            println!("created shared environment {name} on remote {remote}");
        }
        EnvCommand::Link { name, remote } => {
            c.call(&Request::EnvLink {
                name: name.clone(),
                remote: remote.clone(),
            })
            .await?;
            println!("linked environment {name} to remote {remote}");
        }
        EnvCommand::Unlink { name } => {
            c.call(&Request::EnvUnlink { name: name.clone() }).await?;
            println!("unlinked {name}: it is a local environment now, its values kept");
        }
        EnvCommand::List { json } => {
            let Response::Environments { environments } = c.call(&Request::EnvList).await? else {
                return Err(super::agent_client::unexpected());
            };
            if json {
                return output::json(&environments);
            }
            if environments.is_empty() {
                println!("no environments: create one with `openv env create NAME`");
                return Ok(());
            }
            let w = environments
                .iter()
                .map(|e| e.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!("{:w$}  {:>9}  {:>5}  UPDATED", "NAME", "VARIABLES", "SET");
            for e in environments {
                println!(
                    "{:w$}  {:>9}  {:>5}  {}",
                    e.name,
                    e.variables,
                    e.set,
                    output::time(e.updated)
                );
            }
        }
        EnvCommand::Rename { old, new } => {
            c.call(&Request::EnvRename {
                name: old.clone(),
                new_name: new.clone(),
            })
            .await?;
            println!("renamed environment {old} to {new}");
        }
        EnvCommand::Rm { name, yes } => {
            if !yes {
                if !prompt::stdin_is_tty() {
                    anyhow::bail!(
                        "refusing to delete environment {name} without confirmation: pass --yes"
                    );
                }
                if !prompt::confirm(&format!(
                    "Delete environment {name} and all its variables? This cannot be undone."
                ))? {
                    anyhow::bail!("not deleted");
                }
            }
            let Response::Deleted { variables } =
                c.call(&Request::EnvDelete { name: name.clone() }).await?
            else {
                return Err(super::agent_client::unexpected());
            };
            println!("deleted environment {name} and its {variables} variables");
        }
    }
    Ok(())
}
