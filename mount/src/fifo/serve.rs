//! The serving loop: wait for a reader, find who it is, ask, write or refuse, repeat.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use zeroize::Zeroizing;

use super::{Event, FifoResponder, pipe};
use crate::Shared;
use crate::process::{Holder, InodeId, facts, holders, still_holds};
use crate::request::{Decision, OpenHandler, OpenRequest};

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

    pub(super) fn run(self) {
        // A reader that closes early must give us EPIPE, not kill the process.
        let _ = pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&SigSet::from(Signal::SIGPIPE)),
            None,
        );
        let mut answered: Vec<Holder> = Vec::new();
        let mut pause = Duration::from_millis(1);
        let mut next_id = 0;
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
            answered = match self.find_holders(&writer, &answered) {
                Found::New(holders) => {
                    pause = Duration::from_millis(1);
                    next_id += 1;
                    self.answer(writer, holders, next_id)
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
                Found::Hidden => {
                    let holders = self.refuse(writer, Vec::new());
                    back_off(&mut pause);
                    holders
                }
            };
        }
    }

    /// Asks the owner about the one process holding the FIFO and serves or refuses it.
    /// Returns the holders still holding the FIFO at the end, so that the next round does not
    /// take them for new opens.
    fn answer(&self, writer: File, holders: Vec<Holder>, id: u64) -> Vec<Holder> {
        let pids: BTreeSet<i32> = holders.iter().map(|h| h.pid).collect();
        let [pid] = pids.into_iter().collect::<Vec<_>>()[..] else {
            // Several processes would share one stream.
            return self.refuse(writer, holders);
        };
        // Command line and parents are loaded by the owner when it needs them, as for FUSE.
        let (reader, process) = match facts(pid, None) {
            Ok(found) => found,
            Err(e) => {
                tracing::info!(error = %e, "FIFO reader could not be identified");
                return self.refuse(writer, holders);
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
            return self.refuse(writer, holders);
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

    /// Closes without writing (the holders read EOF) and waits for them to close in turn, so
    /// that our next open does not hand them a second, blocking read.
    fn refuse(&self, writer: File, holders: Vec<Holder>) -> Vec<Holder> {
        // Counted before the close: a reader that sees EOF sees updated stats.
        self.shared.counters.denied();
        drop(writer);
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
