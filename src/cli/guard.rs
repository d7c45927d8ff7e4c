//! `openv guard [--profile FILE|strict] [--project DIR] [--allow-weaker] -- CMD ARGS...`

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::Context;

use crate::guard::{self, GuardError, Inputs, Plan, Profile, abi};
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;
use crate::run::ProgramError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// More restrictions: a TOML file (forbid, read_only, caches) or `strict`. A profile
    /// that loosens (readable, writable) needs your proof: see docs/guard.md.
    #[arg(long, value_name = "FILE|strict")]
    profile: Option<String>,
    /// The proof a loosening profile needs (the key or passphrase file is also forbidden
    /// inside).
    #[command(flatten)]
    proof: super::human::ProofArgs,
    /// The project directory the command may write (default: the current directory).
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Start even when the kernel lacks some protections (they are listed on stderr).
    #[arg(long)]
    allow_weaker: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let (cmd, args) = a
        .command
        .split_first()
        .context("no command given: openv guard -- CMD ARGS...")?;
    let program = match crate::run::program::find(cmd) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(match e {
                ProgramError::NotFound(_) => 127,
                _ => 126,
            });
        }
    };
    let user_home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or(GuardError::NoHome)?;
    let project = match a.project {
        Some(p) => p,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let project = project
        .canonicalize()
        .map_err(|source| GuardError::Project {
            path: project.display().to_string(),
            source,
        })?;
    let profile = match &a.profile {
        Some(spec) => Profile::load(spec, &user_home, &project)?,
        None => Profile::none(),
    };
    // Files that prove the human: never readable inside, whether or not a proof is asked.
    let keyfiles: Vec<PathBuf> = a
        .proof
        .keyfile
        .iter()
        .chain(&a.proof.passphrase_file)
        .cloned()
        .collect();
    let mut protected = keyfiles.clone();
    protected.push(home.root().to_path_buf());
    profile.check_protected(&protected)?;
    let loosens = profile.loosens(&user_home);
    if !loosens.is_empty() {
        prove_loosening(home, &loosens, &a.proof).await?;
        if !profile.loosened_unchanged() {
            return Err(GuardError::Loosen {
                what: loosens.join("; "),
                why: "a loosened path changed (a symlink appeared) after it was shown".into(),
            }
            .into());
        }
    }
    let level = abi::probe();
    let missing = abi::missing(level);
    if !missing.is_empty() {
        let err = GuardError::Weaker {
            abi: level,
            missing: missing.join("; "),
        };
        if !a.allow_weaker {
            return Err(err.into());
        }
        eprintln!(
            "warning: --allow-weaker: this kernel's Landlock (ABI {level}) lacks: {}",
            missing.join("; ")
        );
    }
    let path_var = std::env::var_os("PATH");
    let plan = Plan::new(&Inputs {
        openv_home: home.root(),
        keyfiles,
        home: &user_home,
        project: &project,
        path_var: path_var.as_deref(),
        profile: &profile,
        temp_dirs: guard::TEMP_DIRS,
    });
    guard::restrict::enforce(&plan, level)?;
    let mut c = std::process::Command::new(&program);
    c.arg0(cmd).args(args);
    // exec: the command's exit code and signals are this process's own.
    let e = c.exec();
    Err(crate::run::RunError::Start {
        program: program.display().to_string(),
        source: e,
    }
    .into())
}

/// A loosening profile is a file the agent may have written: it takes effect only with
/// the human's proof, after the terminal showed what it opens. The agent records it in
/// the audit log; from inside a guard it is refused like any human-tier request.
async fn prove_loosening(
    home: &Home,
    loosens: &[String],
    proof: &super::human::ProofArgs,
) -> anyhow::Result<()> {
    let what = loosens.join("; ");
    eprintln!("openv guard: this profile loosens the defaults: {what}");
    let req = Request::GuardLoosen {
        loosens: loosens.to_vec(),
    };
    match super::human::call(&mut super::agent_client::client(home), &req, proof).await {
        Ok(Response::Done) => Ok(()),
        Ok(_) => Err(super::agent_client::unexpected()),
        Err(e) => Err(GuardError::Loosen {
            what,
            why: format!("{e:#}"),
        }
        .into()),
    }
}
