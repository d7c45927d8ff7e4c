//! FIFO mode: a named pipe at the path, served to one identified reader at a time.
//!
//! The kernel does not say who opened a FIFO, so after the writer's open returns the reader
//! is found by scanning `/proc/*/fd` for the FIFO's inode. Exactly one process must hold it;
//! otherwise nothing is written and every holder reads EOF. A same-user process that opens
//! the FIFO while a payload is being written can still race the approved reader: FIFO mode
//! is consent, not isolation.

mod pipe;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::stat::Mode;

use crate::error::MountError;
use crate::placement::{self, Before};
use crate::process::{Holder, InodeId, holders, identify, still_holds};
use crate::request::{Decision, OpenHandler, OpenRequest, Responder};
use crate::{MountOptions, Shared};

/// How long a reader's fd may take to show up in /proc after its open returned.
const IDENTIFY_WINDOW: Duration = Duration::from_millis(200);
/// An owner slower than this gets the holders counted again before the write.
const RECHECK_AFTER: Duration = Duration::from_millis(5);
/// Pause between rounds while only already-answered readers hold the FIFO.
const LINGER_PAUSE_MAX: Duration = Duration::from_millis(250);

enum Event {
    Answer { id: u64, decision: Decision },
    Stop,
}

/// The owner's side of a FIFO open.
struct FifoResponder {
    id: u64,
    events: mpsc::Sender<Event>,
}

impl Responder for FifoResponder {
    fn answer(self: Box<Self>, decision: Decision) {
        // A closed channel means the server stopped; the bytes drop here, zeroized.
        let _ = self.events.send(Event::Answer {
            id: self.id,
            decision,
        });
    }
}

/// A FIFO being served by its own thread.
#[derive(Debug)]
pub(crate) struct FifoServer {
    path: PathBuf,
    before: Before,
    inode: InodeId,
    anchor: Arc<OwnedFd>,
    stop: Arc<AtomicBool>,
    events: mpsc::Sender<Event>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Answer { id, decision } => write!(f, "Answer({id}, {decision:?})"),
            Event::Stop => f.write_str("Stop"),
        }
    }
}

impl FifoServer {
    pub(crate) fn start(
        path: &Path,
        opts: &MountOptions,
        handler: Arc<dyn OpenHandler>,
        shared: Arc<Shared>,
    ) -> Result<FifoServer, MountError> {
        let prepare = |source| MountError::Prepare {
            path: path.to_path_buf(),
            source,
        };
        let before = placement::inspect(path)?;
        if before == Before::EmptyFile {
            fs::remove_file(path).map_err(prepare)?;
        }
        nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| prepare(e.into()))?;
        // mkfifo honours the umask; the mode must be exactly owner read/write.
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(prepare)?;
        let anchor = Arc::new(pipe::anchor(path).map_err(prepare)?);
        let meta = fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&*anchor)
        ))
        .map_err(prepare)?;
        let inode = InodeId {
            dev: meta.dev(),
            ino: meta.ino(),
            name: path.file_name().unwrap_or_default().to_os_string(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (events_tx, events_rx) = mpsc::channel();
        let serving = Serving {
            path: path.to_path_buf(),
            inode: inode.clone(),
            anchor: Arc::clone(&anchor),
            stop: Arc::clone(&stop),
            events_tx: events_tx.clone(),
            events: events_rx,
            opens: pipe::OpenWatch::new(path),
            handler,
            shared,
            request_timeout: opts.request_timeout,
            stall_timeout: opts.fifo_stall_timeout,
        };
        let mut server = FifoServer {
            path: path.to_path_buf(),
            before,
            inode,
            anchor,
            stop,
            events: events_tx,
            thread: None,
        };
        match std::thread::Builder::new()
            .name("openv-fifo".into())
            .spawn(move || serving.run())
        {
            Ok(t) => {
                server.thread = Some(t);
                Ok(server)
            }
            Err(source) => {
                server.stop();
                Err(MountError::Thread {
                    what: "FIFO",
                    source,
                })
            }
        }
    }

    /// Stops the thread (waking its blocked open) and removes the FIFO.
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.events.send(Event::Stop);
        // Held until the thread is gone, so any open it still starts returns at once.
        let waker = pipe::open_own_reader(&self.anchor);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Readers that arrived while the thread was busy are still blocked in open.
        pipe::release_waiting(&self.anchor);
        drop(waker);
        let inode = &self.inode;
        placement::restore_after_fifo(&self.path, self.before, |m| {
            m.dev() == inode.dev && m.ino() == inode.ino
        });
    }
}

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
struct Serving {
    path: PathBuf,
    inode: InodeId,
    anchor: Arc<OwnedFd>,
    stop: Arc<AtomicBool>,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
    opens: pipe::OpenWatch,
    handler: Arc<dyn OpenHandler>,
    shared: Arc<Shared>,
    request_timeout: Duration,
    stall_timeout: Duration,
}

impl Serving {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn run(self) {
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
            self.opens.opened_since();
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
        let reader = match identify(pid) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "FIFO reader could not be identified");
                return self.refuse(writer, holders);
            }
        };
        let responder = FifoResponder {
            id,
            events: self.events_tx.clone(),
        };
        self.handler.on_open(OpenRequest::new(
            reader,
            self.path.clone(),
            Box::new(responder),
        ));
        let asked = Instant::now();
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
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let deadline = Instant::now() + IDENTIFY_WINDOW;
        let mut pause = Duration::from_micros(50);
        loop {
            let found = holders(&self.inode, me);
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
    fn wait_for(&self, id: u64) -> Option<zeroize::Zeroizing<Vec<u8>>> {
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
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let expected: BTreeSet<i32> = approved.iter().map(|h| h.pid).collect();
        let opened = self.opens.opened_since();
        let watch = pipe::open_own_reader(&self.anchor).ok();
        // That was our own open: forget it.
        self.opens.opened_since();
        // Whoever opened since the holders were counted would share the pipe. inotify says
        // whether anyone did. It does not see an fd handed on (fork, SCM_RIGHTS), which only
        // the approved reader can do: after a slow decision, count again anyway.
        let now = if opened || slow {
            self.count_until_quiet(me)
        } else {
            Some(expected.clone())
        };
        // A second name for the FIFO would hide its holders from the scan.
        let single_name = writer.metadata().is_ok_and(|m| m.nlink() == 1);
        let Some(watch) = watch.filter(|_| now.as_ref() == Some(&expected) && single_name) else {
            self.shared.counters.denied();
            return (None, Vec::new());
        };
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
            holders(&self.inode, me)
                .into_iter()
                .filter(|h| !approved.contains(h))
                .collect()
        } else {
            Vec::new()
        };
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
    fn count_until_quiet(&self, me: i32) -> Option<BTreeSet<i32>> {
        for _ in 0..4 {
            let pids = holders(&self.inode, me).iter().map(|h| h.pid).collect();
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
