//! Cached attributes: the kernel keeps the file's attributes for a long TTL (a read then costs
//! OPEN, READ, READ instead of one more GETATTR), so whenever what the next open serves
//! changes, the kernel must be told to forget them before that open is answered.
//!
//! The invalidation is written from a thread of its own, never from the session thread: a
//! notification sent from a request handler can wait behind a request that only the session
//! thread would answer.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{FileHandle, FopenFlags, INodeNo, Notifier, ReplyOpen};

use crate::Shared;

/// How long the kernel may keep the attributes: every change is invalidated explicitly.
pub(crate) const ATTR_TTL: Duration = Duration::from_secs(3600);

/// How long `set_content_info` waits for the kernel to drop its attributes.
const INVALIDATE_WAIT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Job {
    /// Drop the kernel's attributes, then acknowledge.
    Invalidate(SyncSender<()>),
    /// Drop the kernel's attributes, then answer this open (its snapshot is longer than the
    /// size the kernel may hold).
    Open(ReplyOpen, u64),
}

/// What the kernel may hold, and the thread that makes it forget.
#[derive(Debug)]
pub(crate) struct Attrs {
    ino: INodeNo,
    /// The smallest size reported to the kernel since its attributes were last dropped: an
    /// open served more bytes than this must drop them first, or a reader that reads
    /// exactly `st_size` bytes (bash's `source`) would miss the end.
    reported_min: Mutex<Option<u64>>,
    jobs: Mutex<Sender<Job>>,
    pending: Mutex<Option<Receiver<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Invalidate(_) => f.write_str("Invalidate"),
            Job::Open(_, fh) => write!(f, "Open({fh})"),
        }
    }
}

impl Attrs {
    pub(crate) fn new(ino: INodeNo) -> Attrs {
        let (tx, rx) = mpsc::channel();
        Attrs {
            ino,
            reported_min: Mutex::new(None),
            jobs: Mutex::new(tx),
            pending: Mutex::new(Some(rx)),
            thread: Mutex::new(None),
        }
    }

    /// Starts the invalidating thread once the session (and so its notifier) exists.
    pub(crate) fn start(self: &std::sync::Arc<Self>, notifier: Notifier) -> std::io::Result<()> {
        let Some(rx) = lock(&self.pending).take() else {
            return Ok(());
        };
        let me = std::sync::Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("openv-inval".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    me.invalidate(&notifier);
                    match job {
                        Job::Invalidate(ack) => {
                            let _ = ack.send(());
                        }
                        Job::Open(reply, fh) => {
                            reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
                        }
                    }
                }
            })?;
        *lock(&self.thread) = Some(thread);
        Ok(())
    }

    /// Records a size handed to the kernel in an attribute reply.
    pub(crate) fn reported(&self, size: u64) {
        let mut min = lock(&self.reported_min);
        *min = Some(min.map_or(size, |m| m.min(size)));
    }

    fn invalidate(&self, notifier: &Notifier) {
        // Under the lock, so that a size reported meanwhile is either before the drop (and
        // discarded by the kernel, which versions attribute replies) or recorded after it,
        // and an open checked meanwhile waits for the drop. Dropping attributes only never
        // waits on the session thread, so holding the lock over the write cannot deadlock.
        let mut min = lock(&self.reported_min);
        *min = None;
        // A negative offset drops the attributes only: with direct I/O there is no page
        // cache, and touching it could wait on a page a pending read holds.
        if let Err(e) = notifier.inval_inode(self.ino, -1, 0) {
            tracing::warn!(error = %e, "the kernel refused to drop the .env's cached attributes");
        }
    }

    /// Drops the kernel's attributes and waits (bounded) until it has: called by the owner
    /// after the content changed, never on the session thread.
    pub(crate) fn invalidate_now(&self) {
        let (ack, done) = mpsc::sync_channel(1);
        if lock(&self.jobs).send(Job::Invalidate(ack)).is_ok()
            && done.recv_timeout(INVALIDATE_WAIT).is_err()
        {
            tracing::warn!("the .env's cached attributes were not dropped in time");
        }
    }

    /// Answers an open served `len` bytes: at once when the kernel's size covers them,
    /// otherwise after the kernel dropped its attributes. Raises the size reported from now
    /// on to at least `len`, so that `st_size` stays an upper bound of what an open gets.
    pub(crate) fn answer_open(&self, reply: ReplyOpen, fh: u64, len: u64, shared: &Shared) {
        shared.raise_size(len);
        // Replied under the lock, so that no invalidation or smaller report slips between
        // the check and the reply.
        let min = lock(&self.reported_min);
        if min.is_none_or(|min| min >= len) {
            reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
            return;
        }
        drop(min);
        if let Err(mpsc::SendError(Job::Open(reply, fh))) =
            lock(&self.jobs).send(Job::Open(reply, fh))
        {
            // Stopped: answering is still better than leaving the reader hanging.
            reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
        }
    }

    /// Ends the thread once the session is gone.
    pub(crate) fn stop(&self) {
        // Replacing the sender closes the channel the thread waits on.
        *lock(&self.jobs) = mpsc::channel().0;
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}
