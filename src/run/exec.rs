//! Building the child's command and replacing openv with it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use super::error::RunError;
use crate::secret::SecretValue;

/// What to start: the approved program with its arguments and environment.
#[derive(Debug)]
pub struct Launch<'a> {
    /// Canonical path: the file the agent approved.
    pub program: &'a Path,
    /// What the user typed, so multi-call programs (busybox) see their own name.
    pub argv0: &'a OsStr,
    pub args: &'a [OsString],
    /// Plain (non-secret) variables.
    pub plain: &'a BTreeMap<String, String>,
    pub secrets: &'a [(String, SecretValue)],
    pub cwd: Option<&'a Path>,
}

impl Launch<'_> {
    /// The command, inheriting openv's environment, stdin, stdout and stderr.
    pub fn command(&self) -> Command {
        let mut c = Command::new(self.program);
        c.arg0(self.argv0).args(self.args);
        c.envs(self.plain);
        // std copies the values into the child's envp; the copies die with this process
        // image on exec, or with the Command in the proxy.
        c.envs(self.secrets.iter().map(|(n, v)| (n, v.expose())));
        if let Some(d) = self.cwd {
            c.current_dir(d);
        }
        c
    }
}

/// Replaces this process with `cmd`: no openv process stays behind. Returns only on
/// failure.
pub fn exec(mut cmd: Command, program: &Path) -> RunError {
    let source = cmd.exec();
    RunError::Start {
        program: program.display().to_string(),
        source,
    }
}
