//! The serving loop: wait for a reader, find who it is, ask, write or refuse, repeat.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use zeroize::Zeroizing;

use super::fifo_file::{Current, Event, FifoResponder, make_fifo};
use super::pipe;
use crate::Shared;
use crate::process::{Holder, InodeId, facts, holders, still_holds};
use crate::request::{Decision, OpenHandler, OpenRequest, Refusal, RefusalReason};

/// How long a reader's fd may take to show up in /proc after its open returned.
const IDENTIFY_WINDOW: Duration = Duration::from_millis(200);
/// How long to wait for the woken reader's own open event before the first scan.
const SETTLE: Duration = Duration::from_micros(500);
/// An owner slower than this gets the holders counted again before the write.
const RECHECK_AFTER: Duration = Duration::from_millis(5);
/// Pause between rounds while only already-answered readers hold the FIFO.
const LINGER_PAUSE_MAX: Duration = Duration::from_millis(250);

fn back_off(pause: &mut Duration) {
    std::thread::sleep(*pause);
    *pause = (*pause * 2).min(LINGER_PAUSE_MAX);
}

/// Who holds the FIFO once our writer's open returned.
enum Found {
    /// Someone not answered yet (listed with every other holder).
    New(Vec<Holder>),
    /// Only readers answered in earlier rounds, which have not closed yet.
    Answered(Vec<Holder>),
    /// No reader any more: the one that woke us already left.
    Nobody,
    /// A reader is there but does not show up in /proc.
    Hidden,
}

/// Everything the serving thread owns.
pub(super) struct Serving {
    pub path: PathBuf,
    /// Our own pid: our fds on the FIFO are not readers.
    pub me: i32,
    pub inode: InodeId,
    pub anchor: Arc<OwnedFd>,
    /// The FIFO at the path, as the server sees it (for stop): updated with ours.
    pub current: Arc<Mutex<Current>>,
    pub stop: Arc<AtomicBool>,
    pub events_tx: mpsc::Sender<Event>,
    pub events: mpsc::Receiver<Event>,
    pub opens: pipe::OpenWatch,
    pub handler: Arc<dyn OpenHandler>,
    pub shared: Arc<Shared>,
    pub request_timeout: Duration,
    pub stall_timeout: Duration,
}

impl Serving {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(super) fn run(mut self) {
        // A reader that closes early must give us EPIPE, not kill the process.
        let _ = pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&SigSet::from(Signal::SIGPIPE)),
            None,
        );
        let mut answered: Vec<Holder> = Vec::new();
        let mut pause = Duration::from_millis(1);
        let mut next_id = 0;
        let mut told_hidden = false;
        while !self.stopping() {
            let writer = match pipe::open_writer(&self.anchor) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot open the FIFO");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            if self.stopping() {
                break;
            }
            // Every open from here on shows up in `opens`; see deliver().
            self.opens.settle(SETTLE);
            let found = self.find_holders(&writer, &answered);
            if !matches!(found, Found::Hidden) {
                told_hidden = false;
            }
            answered = match found {
                Found::New(holders) => {
                    pause = Duration::from_millis(1);
                    next_id += 1;
                    let still = self.answer(writer, holders, next_id);
                    self.drop_stalled(still)
                }
                Found::Nobody => Vec::new(),
                // Readers answered earlier have not closed yet: nothing new to answer, and
                // anyone new would share the stream with them. Their hold makes our next
                // open return at once: slow down until they go.
                Found::Answered(holders) => {
                    drop(writer);
                    back_off(&mut pause);
                    holders
                }
                // Someone we cannot see (another PID namespace?) holds it: fail closed.
                // It is told why once: while it holds the FIFO, each round finds it again,
                // and a second line would land in the same read.
                Found::Hidden => {
                    let tell = !told_hidden;
                    told_hidden = true;
                    let holders =
                        self.refuse_as(writer, Vec::new(), RefusalReason::Unidentified, tell);
                    back_off(&mut pause);
                    holders
                }
            };
        }
    }

    /// `still` hold the FIFO past the stall timeout (answer() and refuse() return only once
    /// the holders closed or that deadline passed): readers that opened and never read, or
    /// never closed. Puts a fresh FIFO at the path so the next reader is served; they keep
    /// the old one, which nobody else can open any more. Returns who still holds ours.
    fn drop_stalled(&mut self, still: Vec<Holder>) -> Vec<Holder> {
        if still.is_empty() || self.stopping() {
            return still;
        }
        let mut pids: Vec<i32> = still.iter().map(|h| h.pid).collect();
        pids.dedup();
        match self.replace_fifo() {
            Ok(()) => {
                tracing::info!(path = %self.path.display(), ?pids, "a FIFO reader stalled; the FIFO was replaced");
                self.refused(RefusalReason::Stalled, pids);
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot replace the FIFO a stalled reader holds");
                still
            }
        }
    }

    /// Makes a new FIFO next to the path and renames it over the path, if the path is still
    /// our FIFO.
    fn replace_fifo(&mut self) -> std::io::Result<()> {
        let meta = std::fs::symlink_metadata(&self.path)?;
        if meta.dev() != self.inode.dev || meta.ino() != self.inode.ino {
            return Err(std::io::Error::other("the path is no longer our FIFO"));
        }
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self
            .path
            .with_file_name(format!(".{name}.openv-{}", std::process::id()));
        let made = make_fifo(&tmp).map_err(|(ours, e)| {
            if ours {
                let _ = std::fs::remove_file(&tmp);
            }
            e
        })?;
        if let Err(e) = std::fs::rename(&tmp, &self.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        // Whoever opened the old FIFO meanwhile shares it with the staller and waits in
        // open for a writer that will never come: tell them why and let them go. Twice, for
        // an open that looked the path up just before the rename.
        for round in 0..2 {
            if round > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            pipe::tell_waiting(&self.anchor, RefusalReason::SharedFifo.fifo_line());
        }
        // inotify watches the inode, so the watch made on the temporary name still holds.
        self.inode = InodeId {
            name: self.inode.name.clone(),
            ..made.inode
        };
        self.anchor = Arc::new(made.anchor);
        self.opens = made.opens;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Current {
            inode: self.inode.clone(),
            anchor: Arc::clone(&self.anchor),
        };
        Ok(())
    }

    /// Tells the owner about a refusal it did not decide.
    fn refused(&self, reason: RefusalReason, pids: Vec<i32>) {
        self.shared.counters.refused(reason);
        self.handler.on_refused(Refusal {
            path: self.path.clone(),
            reason,
            pids,
        });
    }

    /// Asks the owner about the one process holding the FIFO and serves or refuses it.
    /// Returns the holders still holding the FIFO at the end, so that the next round does not
    /// take them for new opens.
    fn answer(&self, writer: File, holders: Vec<Holder>, id: u64) -> Vec<Holder> {
        let pids: BTreeSet<i32> = holders.iter().map(|h| h.pid).collect();
        let [pid] = pids.into_iter().collect::<Vec<_>>()[..] else {
            // Several processes would share one stream.
            return self.refuse(writer, holders, RefusalReason::SharedFifo);
        };
        // Command line and parents are loaded by the owner when it needs them, as for FUSE.
        let (reader, process) = match facts(pid, None) {
            Ok(found) => found,
            Err(e) => {
                tracing::info!(error = %e, "FIFO reader could not be identified");
                return self.refuse(writer, holders, RefusalReason::Unidentified);
            }
        };
        let responder = FifoResponder {
            id,
            events: self.events_tx.clone(),
        };
        let asked = Instant::now();
        self.handler.on_open(
            OpenRequest::new(reader, self.path.clone(), Box::new(responder))
                .with_lazy_details(process),
        );
        let Some(bytes) = self.wait_for(id) else {
            let reason = if self.stopping() {
                RefusalReason::Unmounted
            } else {
                RefusalReason::Denied
            };
            return self.refuse(writer, holders, reason);
        };
        let slow = asked.elapsed() > RECHECK_AFTER;
        // One deadline for reading and closing: a stalled reader delays the next by at most
        // the stall timeout.
        let deadline = Instant::now() + self.stall_timeout;
        let (watch, joined) = self.deliver(writer, &bytes, &holders, slow, deadline);
        let mut still = self.wait_released(holders, deadline);
        drop(watch);
        still.extend(joined);
        still
    }

    /// Writes the one line that says why instead of the content (a pipe cannot return an
    /// error), closes, and waits for the holders to close in turn, so that our next open
    /// does not hand them a second, blocking read.
    fn refuse(&self, writer: File, holders: Vec<Holder>, reason: RefusalReason) -> Vec<Holder> {
        self.refuse_as(writer, holders, reason, true)
    }

    /// [`refuse`](Self::refuse), writing the line only when `tell`.
    fn refuse_as(
        &self,
        writer: File,
        holders: Vec<Holder>,
        reason: RefusalReason,
        tell: bool,
    ) -> Vec<Holder> {
        // Counted before the close: a reader that sees EOF sees updated stats.
        self.shared.counters.denied();
        // Shorter than PIPE_BUF, so written whole or not at all; it carries no secret, so
        // it does not matter which holder reads it.
        if tell {
            let _ = (&writer).write(reason.fifo_line().as_bytes());
        }
        drop(writer);
        self.shared.counters.refused(reason);
        // The owner decided a denial (or the stop) itself; the rest it hears about here.
        if tell && !matches!(reason, RefusalReason::Denied | RefusalReason::Unmounted) {
            let mut pids: Vec<i32> = holders.iter().map(|h| h.pid).collect();
            pids.dedup();
            self.refused(reason, pids);
        }
        self.wait_released(holders, Instant::now() + self.stall_timeout)
    }

    /// Scans /proc for the FIFO's holders. A reader's fd can take a moment to appear after
    /// its open returned, so an empty scan is retried for up to IDENTIFY_WINDOW.
    fn find_holders(&self, writer: &File, answered: &[Holder]) -> Found {
        let deadline = Instant::now() + IDENTIFY_WINDOW;
        let mut pause = Duration::from_micros(50);
        loop {
            let found = holders(&self.inode, self.me);
            if found.iter().any(|h| !answered.contains(h)) {
                return Found::New(found);
            }
            if !found.is_empty() {
                return Found::Answered(found);
            }
            if !pipe::has_readers(writer) || self.stopping() {
                return Found::Nobody;
            }
            if Instant::now() >= deadline {
                return Found::Hidden;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// The owner's decision for request `id`; `None` for a denial, a timeout or a stop.
    fn wait_for(&self, id: u64) -> Option<Zeroizing<Vec<u8>>> {
        let deadline = Instant::now() + self.request_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Answer { id: got, decision }) if got == id => {
                    return match decision {
                        Decision::Serve(bytes) => Some(bytes),
                        Decision::Deny => None,
                    };
                }
                // A late answer to an earlier request: its bytes drop here, zeroized.
                Ok(Event::Answer { .. }) => {}
                Ok(Event::Stop)
                | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return None;
                }
            }
        }
    }

    /// Writes the payload for the one approved process, or nothing if anyone else appeared.
    ///
    /// The writer closes as soon as the payload is in the pipe: from then on a newcomer's
    /// open blocks (no writer) instead of joining the stream, while the approved reader
    /// drains what is buffered. Our own read end keeps watching the pipe; whatever a stalled
    /// reader leaves by `deadline` is read out, so no later reader of the same pipe gets it.
    ///
    /// Returns that read end, to be closed once the reader is gone, and the processes found
    /// to have joined the stream anyway, which the next round must not take for new readers.
    fn deliver(
        &self,
        writer: File,
        bytes: &[u8],
        approved: &[Holder],
        slow: bool,
        deadline: Instant,
    ) -> (Option<File>, Vec<Holder>) {
        let expected: BTreeSet<i32> = approved.iter().map(|h| h.pid).collect();
        // Whoever opened since the holders were counted would share the pipe. inotify says
        // whether anyone did. It does not see an fd handed on (fork, SCM_RIGHTS), which only
        // the approved reader can do: after a slow decision, count again anyway.
        let opened = self.opens.opened_since();
        let now = if opened || slow {
            self.count_until_quiet()
        } else {
            Some(expected.clone())
        };
        // A second name for the FIFO would hide its holders from the scan.
        let single_name = writer.metadata().is_ok_and(|m| m.nlink() == 1);
        if now.as_ref() != Some(&expected) || !single_name {
            self.shared.counters.denied();
            let _ = (&writer).write(RefusalReason::SharedFifo.fifo_line().as_bytes());
            self.refused(RefusalReason::SharedFifo, expected.into_iter().collect());
            return (None, Vec::new());
        }
        // In one write if the pipe can hold it all: readers then get all of it or none.
        pipe::grow(&writer, bytes.len());
        let written = pipe::write_all(&writer, bytes, deadline, &self.stop).unwrap_or(false);
        if written {
            self.shared.counters.served();
        } else {
            self.shared.counters.denied();
        }
        drop(writer);
        // Someone who opened between the last count and the close shares the stream: take
        // back what is left of the payload.
        let joined: Vec<Holder> = if self.opens.opened_since() {
            holders(&self.inode, self.me)
                .into_iter()
                .filter(|h| !approved.contains(h))
                .collect()
        } else {
            Vec::new()
        };
        // Our own read end, opened only now so that its open is not taken for someone else's.
        let Ok(watch) = pipe::open_own_reader(&self.anchor) else {
            return (None, joined);
        };
        self.opens.opened_since();
        let reading = || approved.iter().any(|h| still_holds(h, &self.inode));
        if !joined.is_empty() {
            tracing::warn!(path = %self.path.display(), "another process joined the FIFO stream; payload withdrawn");
            pipe::purge(&watch);
        } else if !pipe::wait_drained(&watch, reading, deadline, &self.stop) {
            pipe::purge(&watch);
        }
        (Some(watch), joined)
    }

    /// Counts the holders until a count completes with no open meanwhile (a process that
    /// opened during the scan may have been missed). `None` if the FIFO keeps being opened.
    fn count_until_quiet(&self) -> Option<BTreeSet<i32>> {
        for _ in 0..4 {
            let pids = holders(&self.inode, self.me)
                .iter()
                .map(|h| h.pid)
                .collect();
            if !self.opens.opened_since() {
                return Some(pids);
            }
        }
        None
    }

    /// Waits (bounded) until the answered readers close the FIFO; returns those that did not.
    fn wait_released(&self, mut holders: Vec<Holder>, deadline: Instant) -> Vec<Holder> {
        let mut pause = Duration::from_micros(20);
        loop {
            holders.retain(|h| still_holds(h, &self.inode));
            if holders.is_empty() || Instant::now() >= deadline || self.stopping() {
                return holders;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}
