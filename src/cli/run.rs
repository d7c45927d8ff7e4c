//! `openv run [-e ENV]... [--only NAME,...] [--no-masking] -- CMD ARGS...`

use std::collections::BTreeMap;
use std::ffi::OsString;

use anyhow::Context;

use super::agent_client::client;
use crate::names::check_var_name;
use crate::paths::Home;
use crate::run::{self, Launch, ProgramError, RunError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment to read; repeat to merge several in order (later wins). Default:
    /// $OPENV_ENV, then `env` in openv.toml.
    #[arg(short, long = "env", value_name = "ENV")]
    env: Vec<String>,
    /// Only these variables (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    only: Vec<String>,
    /// Do not mask values in captured output; the command is exec'd directly.
    #[arg(long)]
    no_masking: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Shells use these for "not found" and "not executable".
fn program_exit(e: &ProgramError) -> i32 {
    match e {
        ProgramError::NotFound(_) => 127,
        _ => 126,
    }
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let envs = if a.env.is_empty() {
        vec![crate::project::env_or_default(
            std::env::var("OPENV_ENV").ok(),
        )?]
    } else {
        a.env
    };
    for n in &a.only {
        check_var_name(n)?;
    }
    let (cmd, args) = a
        .command
        .split_first()
        .context("no command given: openv run -e ENV -- CMD ARGS...")?;
    let program = match run::program::find(cmd) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(program_exit(&e));
        }
    };
    let mut command = vec![program.display().to_string()];
    command.extend(args.iter().map(|s| s.to_string_lossy().into_owned()));
    let only = (!a.only.is_empty()).then_some(a.only);
    let vars = {
        let mut c = client(home);
        run::resolve(&mut c, envs, only, command).await?
        // The connection is closed here, before the command starts.
    };
    let plain = BTreeMap::new();
    let launch = Launch {
        program: &program,
        argv0: cmd,
        args,
        plain: &plain,
        secrets: &vars,
        cwd: None,
    };
    let code = match run::start(&launch, !a.no_masking).await {
        Ok(code) => code,
        Err(RunError::Start { program, source }) => {
            eprintln!("error: cannot start {program}: {source}");
            126
        }
        Err(e) => return Err(e.into()),
    };
    drop(vars);
    std::process::exit(code);
}
