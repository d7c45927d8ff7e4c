//! `openv remote add | list | status | rm`: team servers holding shared environments.
//! Credentials are read by the agent (token and secret-id files) or typed at a hidden
//! prompt (userpass), and stored sealed in the vault: never in a config file.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::agent_client::client;
use super::{output, prompt};
use crate::ipc::protocol::{Request, Response, WireAuth};
use crate::paths::Home;
use crate::remote::registry::RemoteView;

#[derive(Debug, Subcommand)]
// Parsed once per command: the size of `Add` does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RemoteCommand {
    /// Add a team server (OpenBao or Vault): checks the login before recording anything.
    Add(AddArgs),
    /// List remotes and the environments linked to them.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Log in now and show each linked environment's cache (version, age, warnings).
    Status {
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a remote (its environments must be unlinked first).
    Rm { name: String },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("auth").required(true).args(["token_file", "approle", "userpass"])))]
pub struct AddArgs {
    /// A name for the remote, used by `openv env create --remote NAME`.
    pub name: String,
    /// Adding a remote widens access (its values reach this machine): prove it is you.
    #[command(flatten)]
    pub proof: super::human::ProofArgs,
    /// The server's address, e.g. https://bao.example:8200. For a cluster, each node's
    /// address (`--url A --url B`, or `--url A,B`): a node that fails is skipped.
    #[arg(long, required = true, value_delimiter = ',', value_name = "URL")]
    pub url: Vec<String>,
    /// The KV v2 secrets engine's mount.
    #[arg(long, default_value = "secret")]
    pub kv_mount: String,
    /// Where environments live below the mount: `<mount>/data/<prefix>/<env>`.
    #[arg(long, default_value = "openv")]
    pub prefix: String,
    /// A file holding a token (read by the agent; the file can be removed afterwards).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Log in with AppRole: this role id and the secret id in --secret-id-file.
    #[arg(long, value_name = "ROLE_ID", requires = "secret_id_file")]
    pub approle: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub secret_id_file: Option<PathBuf>,
    /// Log in with userpass as this user (the password is asked at a hidden prompt, or
    /// read from one line of stdin, or from --password-file).
    #[arg(long, value_name = "USER")]
    pub userpass: Option<String>,
    /// For --userpass in scripts: a file holding the password (it can be removed
    /// afterwards: the password is stored sealed in the vault).
    #[arg(long, value_name = "FILE", requires = "userpass")]
    pub password_file: Option<PathBuf>,
    /// The CA certificate (PEM) that signs the server's certificate.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

/// A userpass password from a file: one line, without its newline; never echoed.
fn password_file(path: &std::path::Path) -> anyhow::Result<crate::secret::SecretValue> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?,
    );
    let pass = text.strip_suffix('\n').unwrap_or(&text);
    let pass = pass.strip_suffix('\r').unwrap_or(pass);
    if pass.is_empty() {
        anyhow::bail!(
            "the password file {} is empty: write the password into it",
            path.display()
        );
    }
    Ok(crate::secret::SecretValue::new(pass.to_owned()))
}

fn absolute(p: PathBuf) -> anyhow::Result<PathBuf> {
    std::path::absolute(&p).with_context(|| format!("cannot resolve {}", p.display()))
}

pub async fn run(home: &Home, cmd: RemoteCommand) -> anyhow::Result<()> {
    let mut c = client(home);
    match cmd {
        RemoteCommand::Add(a) => {
            let auth = if let Some(f) = a.token_file {
                WireAuth::TokenFile { path: absolute(f)? }
            } else if let (Some(role_id), Some(f)) = (a.approle, a.secret_id_file) {
                WireAuth::AppRole {
                    role_id,
                    secret_id_file: absolute(f)?,
                }
            } else if let Some(user) = a.userpass {
                let password = match &a.password_file {
                    Some(f) => password_file(f)?,
                    None => prompt::passphrase(&format!("Password for {user}: "), false)?,
                };
                WireAuth::Userpass { user, password }
            } else {
                anyhow::bail!(
                    "give one of --token-file, --approle with --secret-id-file, or --userpass"
                );
            };
            let ca_pem = match a.ca_cert {
                Some(p) => Some(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read the CA file {}", p.display()))?,
                ),
                None => None,
            };
            let url = a.url.join(",");
            let req = Request::RemoteAdd {
                name: a.name.clone(),
                url: url.clone(),
                kv_mount: a.kv_mount,
                prefix: a.prefix,
                auth,
                ca_pem,
            };
            super::human::call(&mut c, &req, &a.proof).await?;
            println!("added remote {} ({url}): logged in", a.name);
        }
        RemoteCommand::List { json } => {
            let Response::Remotes { remotes } = c.call(&Request::RemoteList).await? else {
                return Err(super::agent_client::unexpected());
            };
            if json {
                return output::json(&remotes);
            }
            if remotes.is_empty() {
                println!(
                    "no remotes: add one with `openv remote add NAME --url URL --token-file F`"
                );
            }
            for r in remotes {
                print_remote(&r, false);
            }
        }
        RemoteCommand::Status { name, json } => {
            let Response::Remotes { remotes } = c.call(&Request::RemoteStatus { name }).await?
            else {
                return Err(super::agent_client::unexpected());
            };
            if json {
                return output::json(&remotes);
            }
            for r in remotes {
                print_remote(&r, true);
            }
        }
        RemoteCommand::Rm { name } => {
            c.call(&Request::RemoteRemove { name: name.clone() })
                .await?;
            println!("removed remote {name}");
        }
    }
    Ok(())
}

fn print_remote(r: &RemoteView, detail: bool) {
    let who = r
        .principal
        .as_deref()
        .map(|p| format!(" as {p}"))
        .unwrap_or_default();
    println!(
        "{}  {}  {}/{}  {}{who}{}",
        r.name,
        r.url,
        r.kv_mount,
        r.prefix,
        r.auth,
        if r.custom_ca { "  custom CA" } else { "" }
    );
    if detail {
        if let Some(l) = &r.login {
            println!("  login:   {l}");
        }
        if let Some(b) = &r.breaker {
            println!("  circuit: {b}");
        }
        if let Some(t) = r.token_ttl_secs {
            println!("  token:   expires in {t} s");
        }
    }
    for l in &r.environments {
        let fetched = l
            .fetched
            .map(output::time)
            .unwrap_or_else(|| "never".into());
        let state = match (&l.refuse, &l.error) {
            (Some(why), _) => format!("refused: {why}"),
            (None, Some(e)) => format!("stale: {e}"),
            (None, None) => "ok".into(),
        };
        println!(
            "  {}  {}  version {}  fetched {fetched}  {state}",
            l.env, l.path, l.version
        );
    }
}
