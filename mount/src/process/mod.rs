//! Process facts from /proc: who a reader is ([`identify`]), its parent chain
//! ([`ancestors`]), and who holds a FIFO open ([`holders`]).

mod ancestors;
mod holders;

use std::io::Read;
use std::path::PathBuf;

use procfs::process::Process;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

pub(crate) use self::holders::{Holder, InodeId, holders, still_holds};
use crate::error::IdentifyError;

/// The process behind an open, as /proc describes it at the moment of the open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// Thread-group id: the process, not the thread that called `open`.
    pub pid: i32,
    /// The thread that called `open` (equal to `pid` when unknown, as in FIFO mode).
    pub tid: i32,
    /// Effective uid (for a FUSE open: the opener's fsuid, as the kernel reports it).
    pub uid: u32,
    /// `/proc/<pid>/exe`; `None` when unreadable (kernel threads, other users).
    pub exe: Option<PathBuf>,
    /// Command line; empty for zombies or when unreadable.
    pub cmdline: Vec<String>,
    /// `/proc/<pid>/cwd`; `None` when unreadable.
    pub cwd: Option<PathBuf>,
    /// Start time in clock ticks since boot, from `/proc/<pid>/stat`: with `pid` it names
    /// the process uniquely, so a reused pid never inherits a grant.
    pub start_time: u64,
    /// Parent, grandparent, ... up to pid 1 (at most 16 entries).
    pub parents: Vec<Ancestor>,
}

/// One process in a reader's parent chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    pub pid: i32,
    /// File name of `exe`, or `comm` when `exe` is unreadable.
    pub name: String,
    pub exe: Option<PathBuf>,
    pub cmdline: Vec<String>,
}

/// Describes the process behind `pid`, which may also be a thread id: threads are mapped to
/// their thread group (Tgid in `/proc/<tid>/status`).
///
/// # Errors
/// [`IdentifyError`] when the process is gone or /proc cannot be read; treat it as a denial.
pub fn identify(pid: i32) -> Result<Reader, IdentifyError> {
    identify_as(pid, None)
}

/// [`identify`], with the uid already known from the kernel (a FUSE request carries it),
/// which spares reading `/proc/<tid>/status` when `tid` leads its thread group.
pub(crate) fn identify_as(tid: i32, uid: Option<u32>) -> Result<Reader, IdentifyError> {
    let err = |e| IdentifyError::from_proc(tid, e);
    let (pid, uid) = match uid {
        Some(uid) if leads_thread_group(tid)? => (tid, uid),
        _ => {
            let status = Process::new(tid).and_then(|t| t.status()).map_err(err)?;
            (status.tgid, uid.unwrap_or(status.euid))
        }
    };
    let process = Process::new(pid).map_err(err)?;
    let stat = process.stat().map_err(err)?;
    Ok(Reader {
        pid,
        tid,
        uid,
        exe: process.exe().ok(),
        cmdline: cmdline(&process),
        cwd: process.cwd().ok(),
        start_time: stat.starttime,
        parents: ancestors::chain(stat.ppid),
    })
}

/// Whether `tid` is a thread-group leader, i.e. its own process. Only leaders have a pidfd,
/// and asking for one costs far less than reading `/proc/<tid>/status`.
fn leads_thread_group(tid: i32) -> Result<bool, IdentifyError> {
    let Some(id) = Pid::from_raw(tid) else {
        return Err(IdentifyError::Gone { pid: tid });
    };
    match pidfd_open(id, PidfdFlags::empty()) {
        Ok(_pidfd) => Ok(true),
        Err(Errno::SRCH) => Err(IdentifyError::Gone { pid: tid }),
        // EINVAL: a non-leader thread. Anything else (no pidfd support): ask /proc.
        Err(_) => Ok(false),
    }
}

/// procfs reads cmdline as UTF-8 and fails otherwise; fall back to a lossy read so a
/// process cannot blank its command line in the prompt with one invalid byte.
fn cmdline(process: &Process) -> Vec<String> {
    if let Ok(args) = process.cmdline() {
        return args;
    }
    let mut raw = Vec::new();
    let read = process
        .open_relative("cmdline")
        .is_ok_and(|mut f| f.read_to_end(&mut raw).is_ok());
    if !read {
        return Vec::new();
    }
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}
