use std::path::PathBuf;

use anyhow::Context;

use super::agent_client::client;
use super::prompt;
use crate::ipc::protocol::{Request, WireSecret};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct UnlockArgs {
    /// Unlock with this key file instead of the passphrase.
    #[arg(long, value_name = "PATH", env = "OPENV_KEYFILE")]
    keyfile: Option<PathBuf>,
}

pub async fn unlock(home: &Home, a: UnlockArgs) -> anyhow::Result<()> {
    let secret = match a.keyfile {
        Some(p) => WireSecret::Keyfile {
            path: std::path::absolute(&p)
                .with_context(|| format!("key file path {}", p.display()))?,
        },
        None => WireSecret::Passphrase {
            passphrase: prompt::passphrase("Vault passphrase: ", false)?,
        },
    };
    client(home).call(&Request::Unlock { secret }).await?;
    println!("vault unlocked");
    Ok(())
}

pub async fn lock(home: &Home) -> anyhow::Result<()> {
    client(home).call(&Request::Lock).await?;
    println!("vault locked");
    Ok(())
}
