//! The filesystem: one read-only file, every open asked of the owner.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, IoctlFlags,
    LockOwner, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyIoctl, ReplyOpen, Request,
};

use super::attrs::{ATTR_TTL, Attrs};
use super::pending::{PendingOpen, Slot, Snapshots, Watchdog, deny};
use crate::Shared;
use crate::process::facts;
use crate::request::{OpenHandler, OpenRequest, Refusal, RefusalReason};

/// Attributes and the entry are cached long; [`Attrs`] drops them whenever size or mtime change.
const TTL: Duration = ATTR_TTL;
const DIR_INO: INodeNo = INodeNo::ROOT;
const CHILD_INO: INodeNo = INodeNo(2);

/// What the mount's root is.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// The root inode is the file itself (mounted on the file path).
    File,
    /// The root is a directory holding the file under this name (hidden-directory fallback).
    Dir { name: OsString },
}

pub(crate) struct EnvFs {
    pub layout: Layout,
    /// The path readers open, reported in every request.
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub shared: Arc<Shared>,
    pub snapshots: Arc<Snapshots>,
    pub watchdog: Arc<Watchdog>,
    pub handler: Arc<dyn OpenHandler>,
    pub attrs: Arc<Attrs>,
}

/// The file's inode number in `layout`.
pub(crate) fn file_ino(layout: &Layout) -> INodeNo {
    match layout {
        Layout::File => INodeNo::ROOT,
        Layout::Dir { .. } => CHILD_INO,
    }
}

impl EnvFs {
    fn file_ino(&self) -> INodeNo {
        file_ino(&self.layout)
    }

    fn is_dir(&self, ino: INodeNo) -> bool {
        matches!(self.layout, Layout::Dir { .. }) && ino == DIR_INO
    }

    fn file_attr(&self, fh: Option<FileHandle>) -> FileAttr {
        let content = self.shared.content();
        // An open handle reports the length of its own snapshot, so `fstat` + read of exactly
        // st_size bytes (bash `source`) is right even if the content changed since.
        let size = fh
            .and_then(|fh| self.snapshots.len_of(fh.0))
            .unwrap_or(content.size);
        self.attrs.reported(size);
        attr(
            self.file_ino(),
            FileType::RegularFile,
            0o400,
            size,
            content.mtime,
            self,
        )
    }

    fn dir_attr(&self) -> FileAttr {
        attr(
            DIR_INO,
            FileType::Directory,
            0o500,
            0,
            self.shared.content().mtime,
            self,
        )
    }
}

fn attr(
    ino: INodeNo,
    kind: FileType,
    perm: u16,
    size: u64,
    mtime: SystemTime,
    fs: &EnvFs,
) -> FileAttr {
    FileAttr {
        ino,
        size,
        blocks: size.div_ceil(512),
        atime: mtime,
        mtime,
        ctime: mtime,
        crtime: mtime,
        kind,
        perm,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: fs.uid,
        gid: fs.gid,
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

impl Filesystem for EnvFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.shared.counters.request();
        match &self.layout {
            Layout::Dir { name: file } if parent == DIR_INO && name == file => {
                reply.entry(&TTL, &self.file_attr(None), Generation(0));
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        self.shared.counters.request();
        if ino == self.file_ino() {
            reply.attr(&TTL, &self.file_attr(fh));
        } else if self.is_dir(ino) {
            reply.attr(&TTL, &self.dir_attr());
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.shared.counters.request();
        if ino != self.file_ino() {
            reply.error(Errno::EISDIR);
            return;
        }
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & nix::libc::O_TRUNC != 0 {
            reply.error(Errno::EROFS);
            return;
        }
        // The kernel reports the calling thread; facts() maps it to its process.
        let tid = i32::try_from(req.pid()).unwrap_or(0);
        let (reader, process) = match facts(tid, Some(req.uid())) {
            Ok(found) => found,
            Err(e) => {
                tracing::info!(error = %e, "open from an unidentifiable process denied");
                self.shared.counters.denied();
                // Out of descriptors is not a denial: the reader sees "Too many open files".
                reply.error(match e {
                    crate::IdentifyError::NoFds { .. } => Errno::EMFILE,
                    _ => Errno::EACCES,
                });
                self.shared.counters.refused(RefusalReason::Unidentified);
                self.handler.on_refused(Refusal {
                    path: self.path.clone(),
                    reason: RefusalReason::Unidentified,
                    pids: vec![tid],
                });
                return;
            }
        };
        let slot = Slot::new(reply);
        let pending = PendingOpen {
            slot: Arc::clone(&slot),
            snapshots: Arc::clone(&self.snapshots),
            shared: Arc::clone(&self.shared),
            attrs: Arc::clone(&self.attrs),
        };
        let request = OpenRequest::new(reader, self.path.clone(), Box::new(pending))
            .with_lazy_details(process);
        // A covered read is answered right here; anything else is answered later, from the
        // owner's thread, while the session thread moves on.
        self.handler.on_open(request);
        // Only an open still waiting needs its clock: registering every open would wake
        // the watchdog thread (a context switch) per read.
        if !slot.is_answered() && !self.watchdog.watch(&slot) {
            // Unmounting.
            deny(&slot, &self.shared);
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.shared.counters.request();
        self.snapshots
            .with_range(fh.0, offset, size, |range| match range {
                Some(bytes) => reply.data(bytes),
                None => reply.error(Errno::EBADF),
            });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.shared.counters.request();
        // ENOSYS once makes the kernel stop sending a FLUSH on every close. Answered here
        // rather than by fuser's default, which logs a warning each time.
        reply.error(Errno::ENOSYS);
    }

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        self.shared.counters.request();
        // Python's open() asks whether the file is a terminal (TCGETS): a regular file
        // answers ENOTTY. The kernel sends this on every such open; it is no warning.
        reply.error(Errno::ENOTTY);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // Not counted: close() does not wait for RELEASE.
        self.snapshots.release(fh.0);
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if self.is_dir(ino) {
            reply.opened(FileHandle(0), FopenFlags::empty());
        } else {
            reply.error(Errno::ENOTDIR);
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Layout::Dir { name } = &self.layout else {
            reply.error(Errno::ENOTDIR);
            return;
        };
        if ino != DIR_INO {
            reply.error(Errno::ENOTDIR);
            return;
        }
        let entries = [
            (DIR_INO, FileType::Directory, OsStr::new(".")),
            (DIR_INO, FileType::Directory, OsStr::new("..")),
            (CHILD_INO, FileType::RegularFile, name.as_os_str()),
        ];
        for (next, (ino, kind, entry)) in entries
            .into_iter()
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        {
            if reply.add(ino, next as u64 + 1, kind, entry) {
                break;
            }
        }
        reply.ok();
    }
}
