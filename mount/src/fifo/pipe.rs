//! The FIFO's system calls: reopening the very inode we made, bounded writes, drain checks.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

/// Longest single sleep while waiting, so that a stop request is noticed quickly.
const SLICE: Duration = Duration::from_millis(10);

/// Tells whether anyone opened the FIFO since the last question, without a /proc scan.
/// inotify merges identical events, so it answers yes or no, never how many.
#[derive(Debug)]
pub(crate) struct OpenWatch(Inotify);

impl OpenWatch {
    /// Fails when inotify is unavailable (instance or watch limits reached): without it
    /// every open would look contended and be refused, so the FIFO could never serve.
    pub(crate) fn new(path: &Path) -> io::Result<OpenWatch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(path, AddWatchFlags::IN_OPEN)?;
        Ok(OpenWatch(inotify))
    }

    /// Forgets the opens so far, then waits up to `max` for one more and forgets it too:
    /// the reader whose open woke our writer reports its open from its own context, often a
    /// moment after our open returned. Taking it for a newcomer would cost a second scan.
    pub(crate) fn settle(&self, max: Duration) {
        self.opened_since();
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(max).unwrap_or(PollTimeout::ZERO);
        if matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            self.opened_since();
        }
    }

    /// Whether the FIFO was opened (by anyone, us included) since the last call.
    pub(crate) fn opened_since(&self) -> bool {
        let mut opened = false;
        loop {
            match self.0.read_events() {
                Ok(events) if !events.is_empty() => opened = true,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) | Ok(_) => return opened,
                Err(_) => return true,
            }
        }
    }
}

/// An `O_PATH` handle on the FIFO we created: every later open goes through it, so a FIFO
/// swapped for a regular file at the path can never receive the bytes.
pub(crate) fn anchor(path: &Path) -> io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

fn reopen(anchor: &OwnedFd, write: bool, nonblock: bool) -> io::Result<File> {
    let flags = if nonblock { nix::libc::O_NONBLOCK } else { 0 };
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(flags)
        .open(format!("/proc/self/fd/{}", anchor.as_raw_fd()))
}

/// Opens the write end; blocks until a reader opens the FIFO. The returned end is
/// non-blocking so that a reader that stops reading cannot hold us.
pub(crate) fn open_writer(anchor: &OwnedFd) -> io::Result<File> {
    let file = reopen(anchor, true, false)?;
    let flags = OFlag::from_bits_retain(fcntl(&file, FcntlArg::F_GETFL)?);
    fcntl(&file, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(file)
}

/// Opens and closes a write end, so that readers blocked in `open` wake up and read EOF.
pub(crate) fn release_waiting(anchor: &OwnedFd) {
    drop(reopen(anchor, true, true));
}

/// Like [`release_waiting`], writing `line` (no secret, shorter than `PIPE_BUF`) first.
pub(crate) fn tell_waiting(anchor: &OwnedFd, line: &str) {
    if let Ok(mut w) = reopen(anchor, true, true) {
        let _ = w.write(line.as_bytes());
    }
}

/// Whether any process still has the FIFO open for reading (the write end reports POLLERR
/// once none has).
pub(crate) fn has_readers(writer: &File) -> bool {
    let mut fds = [PollFd::new(writer.as_fd(), PollFlags::empty())];
    let err = matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLERR));
    !err
}

/// Makes the pipe buffer large enough for `len` bytes so the payload lands in one write:
/// concurrent readers then see all of it or none of it. Best effort.
pub(crate) fn grow(file: &File, len: usize) {
    if len > 65536 {
        let size = i32::try_from(len.next_power_of_two()).unwrap_or(i32::MAX);
        let _ = fcntl(file, FcntlArg::F_SETPIPE_SZ(size));
    }
}

/// Writes all of `bytes` before `deadline`. False when the reader went away or stalled.
pub(crate) fn write_all(
    file: &File,
    bytes: &[u8],
    deadline: Instant,
    stop: &AtomicBool,
) -> io::Result<bool> {
    let mut written = 0;
    while written < bytes.len() {
        match (&*file).write(&bytes[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait_writable(file, deadline, stop)? {
                    return Ok(false);
                }
            }
            // The reader closed (SIGPIPE is blocked on this thread).
            Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn wait_writable(file: &File, deadline: Instant, stop: &AtomicBool) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLOUT)];
        let timeout = PollTimeout::try_from(left.min(SLICE)).unwrap_or(PollTimeout::ZERO);
        match poll(&mut fds, timeout) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => {
                let revents = fds[0].revents().unwrap_or(PollFlags::empty());
                return Ok(!revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A non-blocking read end of our own. It lets us see what is still buffered (and read it
/// out) without being a writer, whose presence would let new readers join the stream; and
/// opening it wakes our own writer blocked in [`open_writer`] when stopping.
pub(crate) fn open_own_reader(anchor: &OwnedFd) -> io::Result<File> {
    reopen(anchor, false, true)
}

/// Waits until the pipe is empty. False when the reader left bytes behind: it went away
/// (`reading` turned false) or stalled past `deadline`.
pub(crate) fn wait_drained(
    watch: &File,
    reading: impl Fn() -> bool,
    deadline: Instant,
    stop: &AtomicBool,
) -> bool {
    let mut pause = Duration::from_micros(20);
    loop {
        match rustix::io::ioctl_fionread(watch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        if !reading() || Instant::now() >= deadline || stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(SLICE);
    }
}

/// Reads out and zeroizes whatever is left in the pipe.
pub(crate) fn purge(mut watch: &File) {
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    while matches!(watch.read(&mut buf), Ok(n) if n > 0) {}
}
