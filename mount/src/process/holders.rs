//! Who holds an inode open: the FIFO's readers, found by scanning `/proc/*/fd`.
//!
//! This is the FIFO hot path and costs one pass over every process, so it talks to /proc
//! with raw `openat`/`getdents`/`readlinkat` (one call per fd) rather than through procfs's
//! `FDInfo`, which spends four calls per fd. procfs still reads the facts of the holders.

use std::ffi::{CStr, OsString};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use procfs::process::Process;
use rustix::fs::{AtFlags, CWD, Mode, OFlags, RawDir, openat, readlinkat, statat};

/// One open file descriptor of some process on a given inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Holder {
    pub pid: i32,
    pub start_time: u64,
    pub fd: i32,
}

/// The inode a FIFO reader must hold: its (dev, ino) and the file name its fd links show.
#[derive(Debug, Clone)]
pub(crate) struct InodeId {
    pub dev: u64,
    pub ino: u64,
    pub name: OsString,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// Every fd of every process but `skip_pid` (ourselves) open for reading on `inode`.
///
/// The link text is compared first so that only candidate fds are stat()ed: a stat of an
/// unrelated fd could hang on a dead network or FUSE filesystem. Write-only and `O_PATH` fds
/// cannot take bytes out: they are not holders. Processes we may not inspect are skipped.
pub(crate) fn holders(inode: &InodeId, skip_pid: i32) -> Vec<Holder> {
    let mut found = Vec::new();
    let Ok(proc_dir) = openat(CWD, "/proc", DIR_FLAGS, Mode::empty()) else {
        return found;
    };
    let mut pids = Vec::new();
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut entries = RawDir::new(&proc_dir, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        if let Some(pid) = parse_id(entry.file_name().to_bytes()) {
            pids.push(pid);
        }
    }
    pids.retain(|p| *p != skip_pid);
    let us = Us {
        pid: skip_pid,
        exe: std::env::current_exe().ok(),
    };
    // Processes are independent: scan them on every core (the scan is the FIFO's cost).
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = pids.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let scans: Vec<_> = pids
            .chunks(chunk)
            .map(|part| s.spawn(|| scan(&proc_dir, part, inode, &us)))
            .collect();
        for scan in scans {
            // Never drop a holder: a failed part of the scan fails like the whole would.
            found.extend(scan.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
    });
    found
}

/// This process, whose forks hold copies of our fds until they exec.
struct Us {
    pid: i32,
    exe: Option<std::path::PathBuf>,
}

/// The holders among `pids`.
fn scan(proc_dir: &OwnedFd, pids: &[i32], inode: &InodeId, us: &Us) -> Vec<Holder> {
    let mut found = Vec::new();
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut link = Vec::with_capacity(256);
    for &pid in pids {
        let Ok(fd_dir) = openat(proc_dir, format!("{pid}/fd"), DIR_FLAGS, Mode::empty()) else {
            continue;
        };
        let mut fds = RawDir::new(&fd_dir, &mut buf);
        while let Some(Ok(entry)) = fds.next() {
            let name = entry.file_name();
            let Some(fd) = parse_id(name.to_bytes()) else {
                continue;
            };
            link = match readlinkat(&fd_dir, name, std::mem::take(&mut link)) {
                Ok(target) => target.into_bytes(),
                Err(_) => continue,
            };
            let file_name = link.rsplit(|b| *b == b'/').next().unwrap_or_default();
            if file_name != inode.name.as_bytes() {
                continue;
            }
            // Our fork is ruled out first, then the fd checked: a fork that exec'd in between
            // has dropped its close-on-exec copies. A process we cannot stat still counts.
            let process = Process::new(pid).ok();
            let stat = process.as_ref().and_then(|p| p.stat().ok());
            let our_fork = stat.as_ref().is_some_and(|s| s.ppid == us.pid)
                && process
                    .as_ref()
                    .and_then(|p| p.exe().ok())
                    .is_some_and(|exe| us.exe.as_ref() == Some(&exe));
            if !our_fork && is_reader_on(&fd_dir, name, inode) {
                found.push(Holder {
                    pid,
                    start_time: stat.map_or(0, |s| s.starttime),
                    fd,
                });
            }
        }
    }
    found
}

fn parse_id(name: &[u8]) -> Option<i32> {
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// The fd link's own mode shows how the file was opened; following it gives the inode.
fn is_reader_on(fd_dir: &OwnedFd, name: &CStr, inode: &InodeId) -> bool {
    let readable =
        statat(fd_dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|link| link.st_mode & 0o400 != 0);
    readable
        && statat(fd_dir, name, AtFlags::empty())
            .is_ok_and(|target| target.st_dev == inode.dev && target.st_ino == inode.ino)
}

/// Whether `holder` still has that fd open on `inode`.
pub(crate) fn still_holds(holder: &Holder, inode: &InodeId) -> bool {
    let path = format!("/proc/{}/fd/{}", holder.pid, holder.fd);
    statat(CWD, path, AtFlags::empty())
        .is_ok_and(|target| target.st_dev == inode.dev && target.st_ino == inode.ino)
}
