//! Shared test harness: a throwaway OPENV_HOME and the real `openv` binary.
#![allow(dead_code, clippy::unwrap_used)]

pub mod bao;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The command may rightly exit before reading its input (bad arguments).
        match child.stdin.take().unwrap().write_all(stdin) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        child.wait_with_output().unwrap()
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

#[track_caller]
fn check_ok(args: &[&str], o: Output) -> String {
    assert!(
        o.status.success(),
        "openv {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[track_caller]
fn check_err(args: &[&str], o: Output) -> String {
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

/// Fails under CI, skips (returning false) elsewhere, when `what` is unavailable.
pub fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required in CI: run scripts/test.sh, which installs it");
    }
    eprintln!("skipping: {what} is not available here (scripts/test.sh installs it)");
    false
}

/// An MCP client CLI (`codex`, `claude`) that scripts/test.sh installs into tests/js.
pub fn client_bin(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/js/node_modules/.bin")
        .join(name);
    require(path.exists(), &format!("{name} (npm, tests/js)")).then_some(path)
}

/// Runs a client CLI with a throwaway home and no network chatter: (success, stdout,
/// stderr).
pub fn run_client(bin: &Path, home: &Path, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the client");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (10 s at most) until the agent of `home` has a pending request; returns the first
/// as `openv pending --json` shows it. Takes only the home, so a thread can call it.
pub fn wait_pending_at(home: &Path) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
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

/// Every tool `openv mcp` offers, in the order `tools/list` gives them.
pub const MCP_TOOLS: &[&str] = &[
    "list_environments",
    "create_environment",
    "rename_environment",
    "delete_environment",
    "list_variables",
    "append_variables",
    "request_variable_values",
    "remove_variables",
    "create_local_env_file",
    "list_local_env_files",
    "remove_local_env_file",
    "import_env_file",
    "check_environment",
    "get_health_status",
    "get_metrics",
    "get_security_status",
    "get_audit_log",
];
