//! The agent's pid lock: one agent per OPENV_HOME. The running agent holds an exclusive
//! flock on `run/agent.pid` for its whole life, so liveness is the lock, never a stale pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::paths::Home;

/// Held by the running agent; dropping it releases the lock.
#[derive(Debug)]
pub struct PidLock {
    _lock: Flock<File>,
}

#[derive(Debug, thiserror::Error)]
pub enum PidLockError {
    #[error("an openv agent is already running for {home} (pid {pid})")]
    AlreadyRunning { home: String, pid: i32 },
    #[error("cannot use pid file {path}: {source}")]
    PidFile {
        path: String,
        source: std::io::Error,
    },
}

fn open_pid_file(home: &Home) -> Result<File, PidLockError> {
    let path = home.pid_file();
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|source| PidLockError::PidFile {
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
pub fn acquire(home: &Home) -> Result<PidLock, PidLockError> {
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
            write.map_err(|source| PidLockError::PidFile { path, source })?;
            Ok(PidLock { _lock: lock })
        }
        Err((mut file, _)) => Err(PidLockError::AlreadyRunning {
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
