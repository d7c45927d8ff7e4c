use std::path::PathBuf;

use anyhow::Context;

use super::agent_client::client;
use super::prompt;
use crate::ipc::protocol::{Request, WireSecret};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Protect the vault with a key file instead of a passphrase (created, 32 random
    /// bytes, mode 0600, if it does not exist). For headless machines.
    #[arg(long, value_name = "PATH")]
    keyfile: Option<PathBuf>,
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let (secret, create, what) = match a.keyfile {
        Some(p) => {
            let p = std::path::absolute(&p)
                .with_context(|| format!("key file path {}", p.display()))?;
            let create = !p.exists();
            let what = if create {
                format!(
                    "created key file {} (it unlocks the vault: keep it safe)",
                    p.display()
                )
            } else {
                format!("using key file {}", p.display())
            };
            (WireSecret::Keyfile { path: p }, create, what)
        }
        None => (
            WireSecret::Passphrase {
                passphrase: prompt::passphrase("New vault passphrase: ", true)?,
            },
            false,
            "protected by your passphrase".to_owned(),
        ),
    };
    let mut c = client(home);
    c.call(&Request::Init {
        secret,
        create_keyfile: create,
    })
    .await?;
    println!(
        "vault created at {}; {what}; it is unlocked",
        home.vault().display()
    );
    Ok(())
}
