use std::path::PathBuf;

use anyhow::Context;

use super::agent_client::client;
use super::output;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment to import into, created if missing (default: $OPENV_ENV, then `env`
    /// in openv.toml).
    #[arg(short, long = "env", env = "OPENV_ENV")]
    env: Option<String>,
    /// The .env file to read. It is left in place: delete it once imported.
    file: PathBuf,
    /// Print the imported names as JSON.
    #[arg(long)]
    json: bool,
    /// A file with a name that changes what code runs (PATH, LD_*, NODE_OPTIONS, ...)
    /// needs you, the human: the proof is asked for then.
    #[command(flatten)]
    proof: super::human::ProofArgs,
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let env = crate::project::env_or_default(a.env)?;
    let path =
        std::path::absolute(&a.file).with_context(|| format!("path {}", a.file.display()))?;
    let req = Request::Import {
        env: env.clone(),
        path: path.clone(),
    };
    let Response::Imported { names, warnings } =
        super::human::call(&mut client(home), &req, &a.proof).await?
    else {
        return Err(super::agent_client::unexpected());
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        return output::json(&names);
    }
    println!("imported {} variable(s) into {}:", names.len(), env);
    for n in &names {
        println!("  {n}");
    }
    eprintln!(
        "the plaintext file {} is still there: delete it once you no longer need it",
        path.display()
    );
    Ok(())
}
