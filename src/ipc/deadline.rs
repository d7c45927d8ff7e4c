//! How long a client waits for the agent, and the one line it prints when that passes.
//!
//! Every request has a connect and a response deadline (`connect_timeout`,
//! `request_timeout` in config.toml); one that may wait for a person gets the prompt
//! timeout on top. A missed deadline is explained from /proc: a stopped agent, one out of
//! file descriptors, one that is gone, or one that is busy.

use std::time::Duration;

use super::protocol::Request;
use crate::config::Config;
use crate::paths::Home;

/// Added to a prompt's own timeout: the agent answers "denied" at the timeout, and that
/// answer must be able to arrive.
const PROMPT_MARGIN: Duration = Duration::from_secs(10);

/// Unlocking derives a key (argon2id, about a second; several on a loaded machine).
const KEY_DERIVATION: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub connect: Duration,
    pub response: Duration,
    pub prompt: Duration,
}

impl Deadlines {
    /// From config.toml; a file the agent would refuse falls back to the defaults (the
    /// agent reports the error itself).
    pub fn load(home: &Home) -> Self {
        let c = Config::load(&home.config()).unwrap_or_default();
        Self {
            connect: c.connect_timeout,
            response: c.request_timeout,
            prompt: c.prompt_timeout,
        }
    }

    /// How long the answer to `req` may take.
    pub fn response_for(&self, req: &Request) -> Duration {
        match req {
            Request::Resolve { .. } | Request::Confirm { .. } => self.prompt + PROMPT_MARGIN,
            Request::AskValues { timeout_secs, .. } => {
                timeout_secs
                    .map(Duration::from_secs)
                    .unwrap_or(self.prompt)
                    .max(self.prompt)
                    + PROMPT_MARGIN
            }
            // A mount or an import may hold a FUSE setup or a big file; an unlock or an
            // init derives a key; a restore copies the vault.
            Request::Init { .. }
            | Request::Unlock { .. }
            | Request::Restore { .. }
            | Request::Backup { .. }
            | Request::Mount { .. }
            | Request::Import { .. }
            | Request::Verify => self.response.max(KEY_DERIVATION),
            _ => self.response,
        }
    }
}

/// For a request that changes something: how to tell whether it was applied when the
/// agent went away before answering. `None` for read-only requests.
pub fn how_to_check(req: &Request) -> Option<&'static str> {
    Some(match req {
        Request::VarDeclare { .. }
        | Request::VarSet { .. }
        | Request::VarSetMany { .. }
        | Request::VarRemove { .. }
        | Request::VarGenerate { .. }
        | Request::AskValues { .. }
        | Request::Import { .. } => "`openv var list -e ENV`",
        Request::EnvCreate { .. } | Request::EnvRename { .. } | Request::EnvDelete { .. } => {
            "`openv env list`"
        }
        Request::PolicyAdd { .. } | Request::PolicyRemove { .. } | Request::Answer { .. } => {
            "`openv policy list` and `openv pending`"
        }
        Request::Mount { .. } | Request::Unmount { .. } => "`openv mounts`",
        Request::Init { .. } | Request::Restore { .. } => "`openv status` and `openv verify`",
        _ => return None,
    })
}

/// Why the agent `pid` has not answered within `waited`, and what to do: one line.
pub fn explain(home: &Home, pid: Option<u32>, waited: Duration) -> String {
    let secs = waited.as_secs_f64();
    let waited = if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    };
    let Some(pid) = pid.or_else(|| pid_from_file(home)) else {
        return format!(
            "the openv agent did not answer in {waited} and no agent pid is recorded in {}: run `openv agent restart`",
            home.pid_file().display()
        );
    };
    let head = format!("the openv agent (pid {pid}) did not answer in {waited}");
    match proc_state(pid) {
        None => format!(
            "{head}; it is no longer running: run the command again (it starts a new agent)"
        ),
        Some(s @ ('T' | 't')) => format!(
            "{head}; it is stopped (state {s}): run `kill -CONT {pid}` or `openv agent restart`"
        ),
        Some('Z') => format!("{head}; it has exited (state Z): run `openv agent restart`"),
        Some(s) => match fds(pid) {
            Some((open, limit)) if open + 8 >= limit => format!(
                "{head}; it is out of file descriptors ({open} of {limit} open, state {s}): close idle connections to it or run `openv agent restart`"
            ),
            _ => format!(
                "{head}; it is running but busy (state {s}): see {} and run `openv agent restart` if it stays so",
                home.log_file().display()
            ),
        },
    }
}

fn pid_from_file(home: &Home) -> Option<u32> {
    std::fs::read_to_string(home.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The state letter of /proc/PID/stat (after the command name, which may hold spaces).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// (open descriptors, soft limit), when /proc lets us see them.
fn fds(pid: u32) -> Option<(u64, u64)> {
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((open, soft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_busy_and_a_missing_one_is_gone() {
        let home = Home::at(std::env::temp_dir().join("openv-deadline-test"));
        let me = std::process::id();
        let line = explain(&home, Some(me), Duration::from_secs(5));
        assert!(
            line.starts_with(&format!(
                "the openv agent (pid {me}) did not answer in 5 s; it is running but busy"
            )),
            "{line}"
        );
        // Beyond pid_max: no such process.
        let line = explain(&home, Some(u32::MAX - 1), Duration::from_millis(1500));
        assert!(line.contains("in 1.5 s; it is no longer running"), "{line}");
    }
}
