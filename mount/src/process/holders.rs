//! Who holds an inode open: the FIFO's readers, found by scanning `/proc/*/fd`.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;

use procfs::process::{FDPermissions, FDTarget};

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

impl InodeId {
    fn matches(&self, pid: i32, fd: i32) -> bool {
        std::fs::metadata(format!("/proc/{pid}/fd/{fd}"))
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino)
    }
}

/// Every fd of every process (but `skip_pid`) open for reading on `inode`. The link text is
/// compared first so that only candidate fds are stat()ed: a stat of an unrelated fd could
/// hang on a dead network or FUSE filesystem. Write-only and `O_PATH` fds cannot take bytes
/// out, and a child we fork holds copies of ours for a moment: they are not holders.
pub(crate) fn holders(inode: &InodeId, skip_pid: i32) -> Vec<Holder> {
    let mut found = Vec::new();
    let Ok(all) = procfs::process::all_processes() else {
        return found;
    };
    for process in all.flatten() {
        if process.pid == skip_pid {
            continue;
        }
        let Ok(fds) = process.fd() else { continue };
        let mut start_time = None;
        for info in fds.flatten() {
            let FDTarget::Path(target) = &info.target else {
                continue;
            };
            if target.file_name() != Some(OsStr::new(&inode.name))
                || !info.mode().contains(FDPermissions::READ)
                || !inode.matches(process.pid, info.fd)
            {
                continue;
            }
            let start_time =
                *start_time.get_or_insert_with(|| process.stat().map_or(0, |s| s.starttime));
            found.push(Holder {
                pid: process.pid,
                start_time,
                fd: info.fd,
            });
        }
    }
    found
}

/// Whether `holder` still has that fd open on `inode`.
pub(crate) fn still_holds(holder: &Holder, inode: &InodeId) -> bool {
    inode.matches(holder.pid, holder.fd)
}
