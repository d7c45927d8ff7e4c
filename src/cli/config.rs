//! `openv config`: the security settings in force and where each came from; the human
//! sets one with a proof (sealed in the vault, applied at once and at every unlock).

use clap::Subcommand;

use super::agent_client::client;
use super::human::ProofArgs;
use crate::ipc::protocol::{Request, Response, SettingInfo};
use crate::paths::Home;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a security setting (idle_lock, prompt_timeout, exe_grant, prompt_rate_limit,
    /// prompt_scope, prompt, ai_agents). Needs you: it asks for the vault passphrase.
    /// Caps: idle_lock 7d, exe_grant 30d, prompt_timeout 10m, prompt_rate_limit 120.
    Set {
        key: String,
        value: String,
        #[command(flatten)]
        proof: ProofArgs,
    },
    /// One setting in force and where it came from.
    Get { key: String },
    /// Every security setting in force and where each came from.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print(settings: &[SettingInfo]) {
    for s in settings {
        println!("{:<18} {:<24} ({})", s.key, s.value, s.source);
    }
}

pub async fn run(home: &Home, cmd: ConfigCommand) -> anyhow::Result<()> {
    let listed = |r: Response| match r {
        Response::Settings { settings } => Ok(settings),
        _ => Err(super::agent_client::unexpected()),
    };
    match cmd {
        ConfigCommand::Set { key, value, proof } => {
            let req = Request::ConfigSet {
                key: key.clone(),
                value,
            };
            let settings = listed(super::human::call(&mut client(home), &req, &proof).await?)?;
            print(
                &settings
                    .into_iter()
                    .filter(|s| s.key == key)
                    .collect::<Vec<_>>(),
            );
            Ok(())
        }
        ConfigCommand::Get { key } => {
            let settings = listed(client(home).call(&Request::ConfigList).await?)?;
            let Some(s) = settings.iter().find(|s| s.key == key) else {
                let keys: Vec<&str> = settings.iter().map(|s| s.key.as_str()).collect();
                anyhow::bail!(
                    "{key:?} is not a security setting: use one of {}",
                    keys.join(", ")
                );
            };
            print(std::slice::from_ref(s));
            Ok(())
        }
        ConfigCommand::List { json } => {
            let settings = listed(client(home).call(&Request::ConfigList).await?)?;
            if json {
                return super::output::json(&settings);
            }
            print(&settings);
            Ok(())
        }
    }
}
