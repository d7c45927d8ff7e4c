//! `openv sync [ENV]`: refresh shared environments from their server now.

use super::agent_client::client;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;
use crate::remote::sync::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One shared environment (default: all of them).
    pub env: Option<String>,
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let Response::Synced { results } = client(home).call(&Request::Sync { env: a.env }).await?
    else {
        return Err(super::agent_client::unexpected());
    };
    if results.is_empty() {
        println!("no shared environments: create one with `openv env create NAME --remote REMOTE`");
    }
    let mut failed = Vec::new();
    for (env, outcome) in results {
        match outcome {
            Outcome::Fetched { version, variables } => {
                println!("{env}: version {version}, {variables} values")
            }
            Outcome::NamesOnly { version, names } => {
                println!("{env}: version {version}, {names} names (this token may not read values)")
            }
            Outcome::Purged { reason } => {
                println!("{env}: purged: {reason}");
                failed.push(env);
            }
            Outcome::Stale { error, refused } => {
                println!(
                    "{env}: {}: {error}",
                    if refused {
                        "refused"
                    } else {
                        "stale, cached values served"
                    }
                );
                failed.push(env);
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("could not refresh {}", failed.join(", "));
    }
    Ok(())
}
