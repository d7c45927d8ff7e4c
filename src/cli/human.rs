//! The proof of the human for a command that widens access (approve, allow, removing a
//! deny rule, `run --no-masking`): the vault passphrase typed at a hidden prompt on the
//! controlling terminal (never stdin, never argv), a passphrase file for scripts, or the
//! vault's key file, whose bytes are sent (the agent could read a path itself).

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::ipc::client::{Client, ClientError};
use crate::ipc::protocol::{ErrorCode, Proof, Request, Response};
use crate::secret::SecretValue;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProofArgs {
    /// Prove it is you with the vault's key file (whoever can read it owns the vault).
    #[arg(long = "keyfile", value_name = "PATH", env = "OPENV_KEYFILE")]
    pub keyfile: Option<PathBuf>,
    /// Read the vault passphrase from this file (scripts and tests); without it the
    /// passphrase is asked at a hidden prompt on your terminal.
    #[arg(long, value_name = "FILE", conflicts_with = "keyfile")]
    pub passphrase_file: Option<PathBuf>,
}

impl ProofArgs {
    /// For commands without proof options of their own: `OPENV_KEYFILE`, else the
    /// hidden prompt.
    pub fn from_env() -> Self {
        Self {
            keyfile: std::env::var_os("OPENV_KEYFILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            passphrase_file: None,
        }
    }

    pub fn proof(&self) -> anyhow::Result<Proof> {
        if let Some(path) = &self.keyfile {
            let bytes = crate::store::keyslot::read_keyfile(path)?;
            return Ok(Proof::KeyFile {
                key_hex: SecretValue::new(hex::encode(&bytes[..])),
            });
        }
        if let Some(path) = &self.passphrase_file {
            let text =
                zeroize::Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the passphrase file {}", path.display())
                })?);
            let pass = text.strip_suffix('\n').unwrap_or(&text);
            if pass.is_empty() {
                bail!("the passphrase file {} is empty", path.display());
            }
            return Ok(Proof::Passphrase {
                passphrase: SecretValue::new(pass.to_owned()),
            });
        }
        // rpassword prompts on and reads from /dev/tty: the controlling terminal.
        let typed = rpassword::prompt_password("Vault passphrase (this widens access): ")
            .map_err(|_| {
                anyhow::anyhow!(
                    "this widens access and needs you, the human: run it in your own terminal to type the vault passphrase, or give --keyfile PATH"
                )
            })?;
        let pass = SecretValue::new(typed);
        if pass.is_empty() {
            bail!("empty passphrase: nothing was changed");
        }
        Ok(Proof::Passphrase { passphrase: pass })
    }
}

/// Sends `req`; when the agent answers that it needs the human, makes the proof and sends
/// it, bound to this request, then the request again.
pub async fn call(
    client: &mut Client,
    req: &Request,
    proof: &ProofArgs,
) -> anyhow::Result<Response> {
    match client.call(req).await {
        Err(ClientError::Agent {
            code: ErrorCode::NeedsHuman,
            message,
            ..
        }) => {
            // No proof to give (no terminal, no key file): the agent's line says what
            // needs the human and how.
            let given = proof.keyfile.is_some() || proof.passphrase_file.is_some();
            let proof = proof.proof().map_err(|e| {
                if given {
                    e
                } else {
                    anyhow::anyhow!("{message}")
                }
            })?;
            client.call(&Request::Prove { proof, keep: false }).await?;
            Ok(client.call(req).await?)
        }
        other => Ok(other?),
    }
}

/// Proves to the agent on this connection: for the next request, or with `keep` for as
/// long as the connection lives.
pub async fn prove(client: &mut Client, proof: &ProofArgs, keep: bool) -> anyhow::Result<()> {
    let proof = proof.proof()?;
    client.call(&Request::Prove { proof, keep }).await?;
    Ok(())
}
