//! Tools the tests need from the machine: found on PATH, or required (a failure under
//! CI, a skip elsewhere).

use std::path::{Path, PathBuf};

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

/// [`require`] for programs on PATH, naming the missing ones.
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    require(missing.is_empty(), &missing.join(", "))
}

/// Where `cmd` is on PATH.
pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

/// `tests/js`, where scripts/test.sh installs the node packages.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// An MCP client CLI (`codex`, `claude`) that scripts/test.sh installs into tests/js.
pub fn client_bin(name: &str) -> Option<PathBuf> {
    let path = js_dir().join("node_modules/.bin").join(name);
    require(path.exists(), &format!("{name} (npm, tests/js)")).then_some(path)
}

/// Runs a client CLI with a throwaway home and no network chatter: (success, stdout,
/// stderr).
pub fn run_client(bin: &Path, home: &Path, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the client");
    super::run::outcome(out)
}
