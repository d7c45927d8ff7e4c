//! `openv launch NAME`: start an MCP server from the registry with its secrets in its
//! environment. This is the command MCP clients run (see `openv mcp-servers export`).
//! It either starts the server with every secret or fails at once: never a partial
//! environment.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use anyhow::anyhow;

use super::agent_client::client;
use crate::ipc::client::{Client, ClientError};
use crate::ipc::protocol::{ErrorCode, Request, Response};
use crate::paths::Home;
use crate::project::servers::SecretRef;
use crate::registry::Registry;
use crate::run::{self, Launch};
use crate::secret::SecretValue;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server: a `[mcp.servers.NAME]` of openv.toml or OPENV_HOME/mcp-servers.toml.
    name: String,
    /// The project root (default: the project of the current directory). Exported
    /// client configurations pass it, so the server works whatever the client's cwd.
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
}

/// `openv://ENV/A, openv://ENV/B`.
fn refs(env: &str, vars: &[String]) -> String {
    vars.iter()
        .map(|v| {
            SecretRef {
                env: env.to_owned(),
                var: v.clone(),
            }
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks names only (no approval, works while locked): an unknown environment or an
/// unset variable fails before anybody is asked anything.
async fn check_declared(c: &mut Client, env: &str, vars: &[String]) -> anyhow::Result<()> {
    let variables = match c
        .call(&Request::VarList {
            env: env.to_owned(),
        })
        .await
    {
        Ok(Response::Variables { variables, .. }) => variables,
        Ok(_) => return Err(super::agent_client::unexpected()),
        Err(e) if e.code() == Some(ErrorCode::NotFound) => anyhow::bail!(
            "{}: no environment {env}: create it with `openv env create {env}` and set the variables",
            refs(env, vars)
        ),
        Err(e) => return Err(e.into()),
    };
    for v in vars {
        if !variables.iter().any(|x| x.name == *v && x.has_value) {
            anyhow::bail!(
                "{}: {v} is not set in {env}: run `openv var set -e {env} {v}`",
                refs(env, std::slice::from_ref(v))
            );
        }
    }
    Ok(())
}

/// The one-line reason a resolve failed, with the fix.
fn why(e: &ClientError, env: &str, program: &str) -> String {
    match e.code() {
        Some(ErrorCode::Locked) => {
            "the vault is locked: run `openv unlock` (or set up a key file)".into()
        }
        Some(ErrorCode::Denied) if !e.to_string().contains("openv allow") => format!(
            "{e}; to start it without a prompt: `openv policy allow -e {env} --exe {program}`"
        ),
        _ => e.to_string(),
    }
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let name = a.name.clone();
    launch(home, a)
        .await
        .map_err(|e| anyhow!("cannot launch MCP server {name}: {e:#}"))
}

async fn launch(home: &Home, a: Args) -> anyhow::Result<()> {
    let reg = match &a.project {
        Some(d) => Registry::load(home, d, true)?,
        None => super::mcp_servers::registry(home)?,
    };
    let server = reg.get(&a.name)?;
    if !server.enabled {
        anyhow::bail!(
            "it is off in {}: run `openv mcp-servers enable {}` there",
            reg.root.display(),
            server.name
        );
    }
    let spec = &server.spec;
    let program = run::program::resolve(
        OsStr::new(&spec.command),
        std::env::var_os("PATH").as_deref(),
        &spec.base,
    )?;
    let program_s = program.display().to_string();
    let mut command = vec![program_s.clone()];
    command.extend(spec.args.iter().cloned());

    let groups = spec.by_env();
    let secrets = if groups.is_empty() {
        Vec::new()
    } else {
        let mut c = client(home);
        let mut resolved: Vec<(SecretRef, SecretValue)> = Vec::new();
        for (env, vars) in &groups {
            check_declared(&mut c, env, vars).await?;
        }
        for (env, vars) in groups {
            let names = refs(&env, &vars);
            let values = run::resolve(&mut c, vec![env.clone()], Some(vars), command.clone())
                .await
                .map_err(|e| anyhow!("{names}: {}", why(&e, &env, &program_s)))?;
            for (var, value) in values {
                resolved.push((
                    SecretRef {
                        env: env.clone(),
                        var,
                    },
                    value,
                ));
            }
        }
        // Rename to the variables the server expects; one value may feed several.
        let mut out = Vec::with_capacity(spec.secrets.len());
        for (target, r) in &spec.secrets {
            let v = resolved
                .iter()
                .find(|(x, _)| x == r)
                .map(|(_, v)| v.duplicate())
                .ok_or_else(|| {
                    anyhow!("{r}: the agent did not return it: run `openv agent restart`")
                })?;
            out.push((target.clone(), v));
        }
        out
    };
    let args: Vec<OsString> = spec.args.iter().map(OsString::from).collect();
    let launch = Launch {
        program: &program,
        argv0: OsStr::new(&spec.command),
        args: &args,
        plain: &spec.env,
        secrets: &secrets,
        cwd: Some(&reg.root),
    };
    Err(run::exec::exec(launch.command(), &program).into())
}
