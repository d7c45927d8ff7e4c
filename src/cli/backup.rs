//! `openv backup FILE` and `openv restore FILE`.

use std::path::PathBuf;

use anyhow::Context;

use super::agent_client::client;
use super::prompt;
use crate::ipc::protocol::{Request, WireSecret};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The new file to write (it must not exist). It is the vault file itself, values
    /// sealed: it opens only with this vault's passphrase or key file.
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A copy made by `openv backup` or found in OPENV_HOME/backups.
    file: PathBuf,
    /// The key file that opens the copy, instead of its passphrase.
    #[arg(long, value_name = "PATH", env = "OPENV_KEYFILE")]
    keyfile: Option<PathBuf>,
}

fn absolute(p: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("path {}", p.display()))
}

pub async fn backup(home: &Home, a: BackupArgs) -> anyhow::Result<()> {
    let path = absolute(&a.file)?;
    client(home)
        .call(&Request::Backup { path: path.clone() })
        .await?;
    println!(
        "vault copied to {} (it opens only with this vault's passphrase or key file)",
        path.display()
    );
    Ok(())
}

pub async fn restore(home: &Home, a: RestoreArgs) -> anyhow::Result<()> {
    let path = absolute(&a.file)?;
    // Restoring replaces every value and rule: the human proves it with the current
    // vault's key file (the same one, for a copy of this vault) or its passphrase.
    let proof = super::human::ProofArgs {
        keyfile: a.keyfile.clone(),
        passphrase_file: None,
    };
    let secret = match a.keyfile {
        Some(p) => WireSecret::Keyfile {
            path: absolute(&p)?,
        },
        None => WireSecret::Passphrase {
            passphrase: prompt::passphrase("Passphrase of the copy: ", false)?,
        },
    };
    let req = Request::Restore {
        path: path.clone(),
        secret,
    };
    super::human::call(&mut client(home), &req, &proof).await?;
    println!(
        "vault restored from {}: it is unlocked; the previous vault was copied to {} first",
        path.display(),
        home.backups().display()
    );
    Ok(())
}
