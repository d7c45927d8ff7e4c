//! Process facts from /proc: who a reader is ([`identify`]), its parent chain
//! ([`ancestors`]), and who holds a FIFO open ([`holders`]).

mod ancestors;
mod cmdline;
mod holders;

use std::path::PathBuf;

use procfs::process::Process;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

pub use self::ancestors::Ancestor;
use self::ancestors::Freshness;
use self::cmdline::cmdline;
pub(crate) use self::holders::{Holder, InodeId, holders, still_holds};
use crate::error::IdentifyError;

/// The process behind an open, as /proc describes it at the moment of the open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reader {
    /// Thread-group id: the process, not the thread that called `open`.
    pub pid: i32,
    /// The thread that called `open` (equal to `pid` when unknown, as in FIFO mode).
    pub tid: i32,
    /// Effective uid (for a FUSE open: the opener's fsuid, as the kernel reports it).
    pub uid: u32,
    /// `/proc/<pid>/exe`; `None` when unreadable (kernel threads, other users).
    pub exe: Option<PathBuf>,
    /// Command line; empty for zombies or when unreadable. A FUSE open leaves it empty
    /// until [`OpenRequest::load_details`](crate::OpenRequest::load_details).
    pub cmdline: Vec<String>,
    /// `/proc/<pid>/cwd`; `None` when unreadable.
    pub cwd: Option<PathBuf>,
    /// Start time in clock ticks since boot, from `/proc/<pid>/stat`: with `pid` it names
    /// the process uniquely, so a reused pid never inherits a grant.
    pub start_time: u64,
    /// The parent's pid (0 when there is none, as for pid 1).
    pub ppid: i32,
    /// Parent, grandparent, ... up to pid 1 (at most 16 entries). A FUSE open leaves it
    /// empty until [`OpenRequest::load_details`](crate::OpenRequest::load_details) or
    /// [`OpenRequest::load_ancestry`](crate::OpenRequest::load_ancestry).
    pub parents: Vec<Ancestor>,
    /// `NoNewPrivs: 1` in `/proc/<pid>/status`: set by a sandbox (Codex's Landlock and
    /// seccomp, `openv guard`), inherited by every child and never cleared.
    pub no_new_privs: bool,
}

/// Describes the process behind `pid`, which may also be a thread id: threads are mapped to
/// their thread group (Tgid in `/proc/<tid>/status`).
///
/// # Errors
/// [`IdentifyError`] when the process is gone or /proc cannot be read; treat it as a denial.
pub fn identify(pid: i32) -> Result<Reader, IdentifyError> {
    let (mut reader, process) = facts(pid, None)?;
    load_details(&mut reader, &process);
    Ok(reader)
}

/// The facts a decision needs (process, uid, exe, cwd, start time, parent pid), without
/// the command line and parent chain: those cost as much again and only a prompt or the
/// audit record needs them, so they are loaded later through the returned /proc handle
/// ([`load_details`]). With `uid` already known from the kernel (a FUSE request carries
/// it), `/proc/<tid>/status` is read only when `tid` does not lead its thread group.
pub(crate) fn facts(tid: i32, uid: Option<u32>) -> Result<(Reader, Process), IdentifyError> {
    let err = |e| IdentifyError::from_proc(tid, e);
    // /proc/<tid> opens for any thread id, and its stat says how many threads the process
    // has: a single-threaded process is its own thread group, the usual reader (cat, bash,
    // a dotenv loader starting up), and needs no further question.
    let mut process = Process::new(tid).map_err(err)?;
    let mut stat = process.stat().map_err(err)?;
    let (pid, uid) = match uid {
        Some(uid) if stat.num_threads == 1 || leads_thread_group(tid)? => (tid, uid),
        _ => {
            let status = process.status().map_err(err)?;
            if status.tgid != tid {
                process = Process::new(status.tgid).map_err(err)?;
                stat = process.stat().map_err(err)?;
            }
            (status.tgid, uid.unwrap_or(status.euid))
        }
    };
    let reader = Reader {
        pid,
        tid,
        uid,
        exe: process.exe().ok(),
        cmdline: Vec::new(),
        cwd: process.cwd().ok(),
        start_time: stat.starttime,
        ppid: stat.ppid,
        parents: Vec::new(),
        no_new_privs: no_new_privs_cached(pid, stat.starttime, &process),
    };
    Ok((reader, process))
}

/// [`no_new_privs`], remembered per process (pid and start time): a loop of reads from one
/// process reads `status` once. The flag is never cleared; a process that sets it on
/// itself after its first read of a mount keeps its first answer, which gains it nothing
/// (a sandbox's processes inherit the flag from the start, so their first answer is 1).
fn no_new_privs_cached(pid: i32, start_time: u64, process: &Process) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex, PoisonError};
    const CAPACITY: usize = 4096;
    static SEEN: LazyLock<Mutex<HashMap<(i32, u64), bool>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let key = (pid, start_time);
    if let Some(&v) = SEEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return v;
    }
    let v = no_new_privs(process);
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    if seen.len() >= CAPACITY {
        seen.clear();
    }
    seen.insert(key, v);
    v
}

/// Whether the process runs with `no_new_privs`. Read as raw bytes (one read of a small
/// file) rather than through procfs's full parse of `status`. Unreadable = not known to
/// be set.
fn no_new_privs(process: &Process) -> bool {
    read_no_new_privs(process).unwrap_or(false)
}

/// `Some(flag)` from the process's `status`, `None` when it cannot be read.
fn read_no_new_privs(process: &Process) -> Option<bool> {
    use std::io::Read;
    let mut f = process.open_relative("status").ok()?;
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while len < buf.len() {
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return None,
        }
    }
    let text = &buf[..len];
    const KEY: &[u8] = b"\nNoNewPrivs:\t";
    // A kernel without the line has no such flag to set.
    Some(
        text.windows(KEY.len())
            .position(|w| w == KEY)
            .is_some_and(|at| text.get(at + KEY.len()) == Some(&b'1')),
    )
}

/// `NoNewPrivs` of `pid` as `/proc/<pid>/status` says now (`None`: gone or unreadable). For
/// a socket peer; a reader's comes with its facts ([`Reader::no_new_privs`]).
pub fn no_new_privs_of(pid: i32) -> Option<bool> {
    read_no_new_privs(&Process::new(pid).ok()?)
}

/// Fills only the parent chain (ancestors checked within the last second are trusted):
/// what a decision about who started the reader needs, without the command line.
pub(crate) fn load_ancestry(reader: &mut Reader) {
    if reader.parents.is_empty() {
        reader.parents = ancestors::chain(reader.ppid, Freshness::Recent);
    }
}

/// Fills the command line and the parent chain, every ancestor checked now. `process` is
/// the handle [`facts`] opened: once that process is gone it reads nothing, so a reused pid
/// never lends its command line.
pub(crate) fn load_details(reader: &mut Reader, process: &Process) {
    reader.cmdline = cmdline(process);
    reader.parents = ancestors::chain(reader.ppid, Freshness::Checked);
}

/// For a record of a read already answered: the parent chain from recently checked
/// ancestors, and the command line only when asked (it names the script an interpreter
/// runs).
pub(crate) fn load_record_details(reader: &mut Reader, process: &Process, with_cmdline: bool) {
    if with_cmdline {
        reader.cmdline = cmdline(process);
    }
    // A covered open loaded the same chain for its decision (`load_ancestry`).
    if reader.parents.is_empty() {
        reader.parents = ancestors::chain(reader.ppid, Freshness::Recent);
    }
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
