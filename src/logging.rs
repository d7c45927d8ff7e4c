//! tracing set-up: a file under OPENV_HOME for the agent, stderr otherwise.
//!
//! `OPENV_LOG_FORMAT=json` switches to JSON lines; `OPENV_LOG` takes an EnvFilter
//! directive (default `info` for the agent, `warn` for clients). Values never reach a
//! log: they travel only in `SecretValue`, whose Debug is redacted.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

pub(crate) fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("OPENV_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

pub(crate) fn json() -> bool {
    std::env::var("OPENV_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}

/// Logs to stderr (clients, `agent --foreground`, `openv mcp`).
pub fn to_stderr(default_level: &str) {
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter(default_level))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = if json() {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// Logs to an append-only file (mode 0600), for the background agent.
pub fn to_file(path: &Path) -> std::io::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false);
    let _ = if json() {
        b.json().try_init()
    } else {
        b.try_init()
    };
    Ok(())
}
