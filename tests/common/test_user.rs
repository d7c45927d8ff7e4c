//! The boundary tests' world as a non-root user: a private directory the test user owns
//! (its HOME, with OPENV_HOME at `h` and a shell named like an AI agent at `codex`), shell
//! scripts and `openv mcp` sessions run there as that user. Needs `hostile` at the crate
//! root (`#[path = "common/hostile.rs"] mod hostile;`), and is included the same way.
#![allow(dead_code, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::BIN;
use crate::common::jsonrpc::LineClient;
use crate::hostile;

/// Whether the tests can run as the test user: a failure under CI when not.
pub fn can_run() -> bool {
    crate::common::require(
        hostile::can_switch_user(),
        "root and the openv-test user (scripts/test.sh makes it)",
    )
}

/// The test user's directory; dropping it stops the agent started there, then removes it.
pub struct UserHome {
    dir: PathBuf,
    _t: tempfile::TempDir,
}

impl Drop for UserHome {
    fn drop(&mut self) {
        let _ = sh(&self.dir, "openv agent stop");
    }
}

/// A directory the test user owns, with a copy of a shell named like an AI agent.
pub fn home_for_user() -> (UserHome, PathBuf) {
    let t = tempfile::Builder::new().prefix("ovu").tempdir().unwrap();
    let user = nix::unistd::User::from_name(hostile::TEST_USER)
        .unwrap()
        .unwrap();
    std::fs::copy("/bin/sh", t.path().join("codex")).unwrap();
    for p in [t.path().to_path_buf(), t.path().join("codex")] {
        nix::unistd::chown(&p, Some(user.uid), Some(user.gid)).unwrap();
    }
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = t.path().to_path_buf();
    (
        UserHome {
            dir: dir.clone(),
            _t: t,
        },
        dir,
    )
}

/// The environment every process of the test user gets in `dir`; `prompt` is the
/// agent's `OPENV_PROMPT`.
fn user_vars(dir: &Path, prompt: &str) -> Vec<(String, String)> {
    let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
    vec![
        ("HOME".into(), dir.display().to_string()),
        ("D".into(), dir.display().to_string()),
        ("OPENV_HOME".into(), format!("{}/h", dir.display())),
        ("OPENV_PROMPT".into(), prompt.into()),
        (
            "PATH".into(),
            format!("{bin_dir}:/usr/local/bin:/usr/bin:/bin"),
        ),
    ]
}

fn user_command(dir: &Path, prompt: &str, program: &Path) -> Command {
    let vars = user_vars(dir, prompt);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (&**k, &**v)).collect();
    hostile::as_user(program, &refs)
}

/// `script` run by `sh` as the test user, with `openv` on PATH and `D` = its directory;
/// an agent it starts never prompts.
pub fn sh(dir: &Path, script: &str) -> Output {
    sh_prompt(dir, "none", script)
}

/// [`sh`] with the agent's prompt mode `prompt` (`queue`: decisions wait for
/// `openv approve` / `openv deny`).
pub fn sh_prompt(dir: &Path, prompt: &str, script: &str) -> Output {
    let mut c = user_command(dir, prompt, Path::new("/bin/sh"));
    c.args(["-c", script]);
    c.output().unwrap()
}

/// `openv mcp` as the test user, started in `project` (its project root), spoken to with
/// raw JSON-RPC lines (the Python SDK is not installed for that user).
pub fn mcp(dir: &Path, project: &Path) -> LineClient {
    let mut c = user_command(dir, "queue", Path::new(BIN));
    c.arg("mcp").current_dir(project);
    let mut client = LineClient::spawn(&mut c).keep_transcript();
    client.initialize("unprivileged-agent");
    client
}

/// A vault (key file `$D/key`) with environment `dev` holding `API_KEY` = `canary`, set
/// from the CLI.
pub fn setup_script(canary: &str) -> String {
    format!(
        r#"
set -e
openv init --keyfile "$D/key" >/dev/null
openv env create dev >/dev/null
printf %s {canary} | openv var set -e dev API_KEY
"#
    )
}

/// stdout and stderr of `o`, together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
