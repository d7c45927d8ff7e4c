//! Starting, finding and stopping the background agent.
//!
//! One agent per OPENV_HOME: it holds an exclusive flock on `run/agent.pid` for its
//! whole life, so liveness is the lock, never a stale pid. The CLI starts the agent by
//! spawning `openv agent --foreground --daemon`, which detaches (setsid) and writes one
//! line on stdout once its socket listens: `ready` or `error: ...`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncBufReadExt;

use crate::ipc::client::ClientError;
use crate::paths::Home;

/// Held by the running agent; dropping it releases the lock.
#[derive(Debug)]
pub struct PidLock {
    _lock: Flock<File>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("an openv agent is already running for {home} (pid {pid})")]
    AlreadyRunning { home: String, pid: i32 },
    #[error("cannot use pid file {path}: {source}")]
    PidFile {
        path: String,
        source: std::io::Error,
    },
}

fn open_pid_file(home: &Home) -> Result<File, DaemonError> {
    let path = home.pid_file();
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|source| DaemonError::PidFile {
            path: path.display().to_string(),
            source,
        })
}

fn read_pid(f: &mut File) -> Option<i32> {
    let mut s = String::new();
    f.rewind().ok()?;
    f.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// Takes the agent lock and records our pid.
pub fn acquire(home: &Home) -> Result<PidLock, DaemonError> {
    let file = open_pid_file(home)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut lock) => {
            let path = home.pid_file().display().to_string();
            let write = (|| {
                lock.set_len(0)?;
                lock.rewind()?;
                writeln!(lock, "{}", std::process::id())?;
                lock.sync_all()
            })();
            write.map_err(|source| DaemonError::PidFile { path, source })?;
            Ok(PidLock { _lock: lock })
        }
        Err((mut file, _)) => Err(DaemonError::AlreadyRunning {
            home: home.root().display().to_string(),
            pid: read_pid(&mut file).unwrap_or(0),
        }),
    }
}

/// The pid of the running agent, if one holds the lock.
pub fn running_pid(home: &Home) -> Option<i32> {
    if !home.pid_file().exists() {
        return None;
    }
    let file = open_pid_file(home).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_free) => None,
        Err((mut file, _)) => read_pid(&mut file),
    }
}

/// Spawns the agent in the background and waits for its ready line.
pub async fn spawn_background(home: &Home) -> Result<(), ClientError> {
    let exe = std::env::current_exe().map_err(|e| ClientError::Start(e.to_string()))?;
    let mut child = tokio::process::Command::new(exe)
        .args(["agent", "--foreground", "--daemon"])
        .env_clear()
        .envs(crate::clean_env::fixed(home.root()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| ClientError::Start(e.to_string()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ClientError::Start("no pipe to the agent".into()))?;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    let read = tokio::time::timeout(Duration::from_secs(15), reader.read_line(&mut line)).await;
    match read {
        Err(_) => Err(ClientError::Start(format!(
            "the agent did not report ready within 15 s: see {}",
            home.log_file().display()
        ))),
        Ok(Err(e)) => Err(ClientError::Start(e.to_string())),
        Ok(Ok(_)) => {
            let line = line.trim();
            if line == "ready" || line.starts_with("error: an openv agent is already running") {
                Ok(())
            } else if let Some(msg) = line.strip_prefix("error: ") {
                Err(ClientError::Start(msg.to_owned()))
            } else {
                Err(ClientError::Start(format!(
                    "the agent exited before it was ready: see {}",
                    home.log_file().display()
                )))
            }
        }
    }
}

/// In the spawned agent: report on the pipe, then point stdout at /dev/null so the
/// closed pipe can never fail a later write.
pub fn report_ready(result: Result<(), String>) {
    let mut out = std::io::stdout().lock();
    let _ = match result {
        Ok(()) => writeln!(out, "ready"),
        Err(e) => writeln!(out, "error: {e}"),
    };
    let _ = out.flush();
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

/// Detaches from the terminal's session so Ctrl-C in the shell does not stop it.
pub fn detach() {
    let _ = nix::unistd::setsid();
}

/// Sends SIGTERM to the running agent and waits until it is gone.
/// Returns the pid that was stopped, or `None` if none was running.
pub fn stop(home: &Home, wait: Duration) -> Result<Option<i32>, String> {
    let Some(pid) = running_pid(home) else {
        return Ok(None);
    };
    kill(Pid::from_raw(pid), Signal::SIGTERM)
        .map_err(|e| format!("cannot signal the agent (pid {pid}): {e}"))?;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if running_pid(home).is_none() && !alive(pid) {
            return Ok(Some(pid));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!(
        "the agent (pid {pid}) did not stop within {} s: run `kill {pid}`",
        wait.as_secs()
    ))
}

/// True while `pid` exists and is not a zombie waiting to be reaped.
fn alive(pid: i32) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.state != 'Z')
}
