//! A throwaway OPENV_HOME and the real `openv` binary; its agent starts on first use.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use openv::ipc::client::{Client, ClientError};
use openv::ipc::protocol::{Request, Response};
use openv::paths::Home;

use super::run;

pub const BIN: &str = env!("CARGO_BIN_EXE_openv");

pub struct Openv {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub keyfile: PathBuf,
    /// `OPENV_PROMPT` for the agent this home starts: `none` unless a test asks.
    pub prompt: &'static str,
}

impl Openv {
    /// A fresh home with no vault and no agent.
    pub fn empty() -> Self {
        let dir = tempfile::Builder::new().prefix("ov").tempdir().unwrap();
        let home = dir.path().join("h");
        let keyfile = dir.path().join("key");
        Self {
            dir,
            home,
            keyfile,
            prompt: "none",
        }
    }

    /// A fresh home (private, as openv requires) with `text` as its config.toml; no
    /// vault, no agent.
    pub fn with_config(text: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let o = Self::empty();
        std::fs::create_dir_all(&o.home).unwrap();
        std::fs::set_permissions(&o.home, std::fs::Permissions::from_mode(0o700)).unwrap();
        o.write_config(text);
        o
    }

    /// A vault whose agent asks through `prompt` (auto, pinentry, queue, none).
    pub fn with_prompt(prompt: &'static str) -> Self {
        let mut o = Self::empty();
        o.prompt = prompt;
        o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
        o
    }

    /// A home with a vault protected by a key file, unlocked, agent running.
    pub fn new() -> Self {
        let o = Self::empty();
        o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
        o
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("OPENV_HOME", &self.home)
            .env_remove("OPENV_KEYFILE")
            .env_remove("OPENV_ENV")
            .env_remove("OPENV_LOG_FORMAT")
            .env("OPENV_PROMPT", self.prompt)
            .stdin(Stdio::null());
        // The test is the human: its key file proves it for commands that widen access.
        if self.keyfile.exists() {
            c.env("OPENV_KEYFILE", &self.keyfile);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run::with_stdin(&mut self.cmd(args), stdin)
    }

    /// Runs in `dir` (a project: openv.toml is found from there).
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.cmd(args).current_dir(dir).output().unwrap()
    }

    /// [`run_in`](Self::run_in) and asserts success; returns stdout.
    #[track_caller]
    pub fn ok_in(&self, dir: &Path, args: &[&str]) -> String {
        check_ok(args, self.run_in(dir, args))
    }

    /// Runs and asserts success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        check_ok(args, self.run(args))
    }

    #[track_caller]
    pub fn ok_stdin(&self, args: &[&str], stdin: &[u8]) -> String {
        check_ok(args, self.run_stdin(args, stdin))
    }

    /// Runs and asserts failure; returns stderr.
    #[track_caller]
    pub fn err(&self, args: &[&str]) -> String {
        check_err(args, self.run(args))
    }

    #[track_caller]
    pub fn err_stdin(&self, args: &[&str], stdin: &[u8]) -> String {
        check_err(args, self.run_stdin(args, stdin))
    }

    pub fn set(&self, env: &str, name: &str, value: &str) {
        self.ok_stdin(&["var", "set", "-e", env, name], value.as_bytes());
    }

    /// Sends one request to this home's agent over its socket (a runtime of its own), as
    /// any client could; the agent must be running.
    pub fn call(&self, req: &Request) -> Result<Response, ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // The test binary is not openv: name the genuine agent's binary, so that a
            // request carrying a secret is sent to it.
            let mut c = Client::connect(&Home::at(self.home.clone()))
                .await?
                .with_agent_binary(BIN);
            c.call(req).await
        })
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    pub fn agent_pid(&self) -> i32 {
        self.status()["pid"].as_i64().unwrap() as i32
    }

    pub fn vault(&self) -> PathBuf {
        self.home.join("vault.db")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("logs/agent.log")).unwrap_or_default()
    }

    pub fn socket(&self) -> PathBuf {
        self.home.join("run/agent.sock")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.home.join("config.toml"), text).unwrap();
    }
}

impl Drop for Openv {
    fn drop(&mut self) {
        let _ = self.cmd(&["agent", "stop"]).output();
    }
}

/// Asserts that `openv ARGS` succeeded; returns its stdout.
#[track_caller]
pub fn check_ok(args: &[&str], o: Output) -> String {
    run::assert_success(&format!("openv {args:?}"), &o)
}

/// Asserts that `openv ARGS` failed with a one-line `error: ...`; returns its stderr.
#[track_caller]
pub fn check_err(args: &[&str], o: Output) -> String {
    assert!(
        !o.status.success(),
        "openv {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let e = String::from_utf8(o.stderr).unwrap();
    assert!(e.starts_with("error: "), "error format: {e}");
    assert_eq!(
        e.trim_end().lines().count(),
        1,
        "one-line error expected: {e}"
    );
    e
}

pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Waits (20 s at most) until the agent of `home` has a pending request; returns the first
/// as `openv pending --json` shows it. Takes only the home, so a thread can call it.
pub fn wait_pending_at(home: &Path) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = Command::new(BIN)
            .args(["pending", "--json"])
            .env("OPENV_HOME", home)
            .env_remove("OPENV_KEYFILE")
            .stdin(Stdio::null())
            .output()
            .expect("run openv pending");
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pending JSON");
        if let Some(first) = list.as_array().and_then(|a| a.first()) {
            return first.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no request became pending"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Openv {
    /// [`wait_pending_at`] this home.
    pub fn wait_pending(&self) -> serde_json::Value {
        wait_pending_at(&self.home)
    }
}
