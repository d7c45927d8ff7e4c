//! An open waiting for its owner's answer, and the counters of answers given.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use procfs::process::Process;
use zeroize::Zeroizing;

use crate::process::{Reader, load_details, load_record_details};

/// The owner's answer to one open.
pub(crate) enum Decision {
    Serve(Zeroizing<Vec<u8>>),
    Deny,
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Serve(_) => f.write_str("Serve(<redacted>)"),
            Decision::Deny => f.write_str("Deny"),
        }
    }
}

/// Delivers a decision to the FUSE or FIFO side that is holding the reader.
pub(crate) trait Responder: Send {
    fn answer(self: Box<Self>, decision: Decision);
}

/// One open of the virtual file, waiting for the owner's decision.
///
/// Answer it with [`serve`](Self::serve) or [`deny`](Self::deny), from any thread and as late
/// as the mount's `request_timeout`. Dropping it unanswered denies the open.
pub struct OpenRequest {
    /// Who is opening.
    pub reader: Reader,
    /// The virtual file's path, as given to [`mount`](crate::mount).
    pub path: PathBuf,
    responder: Option<Box<dyn Responder>>,
    /// The reader's /proc handle while its details are still to load.
    pending_details: Option<Process>,
}

impl OpenRequest {
    pub(crate) fn new(reader: Reader, path: PathBuf, responder: Box<dyn Responder>) -> Self {
        OpenRequest {
            reader,
            path,
            responder: Some(responder),
            pending_details: None,
        }
    }

    /// A request whose reader's command line and parents are loaded on demand.
    pub(crate) fn with_lazy_details(mut self, process: Process) -> Self {
        self.pending_details = Some(process);
        self
    }

    /// Fills `reader.cmdline` and `reader.parents` if they are not yet loaded. A FUSE open
    /// arrives without them, so a read a rule or grant covers costs only the /proc reads its
    /// decision needs; call this before describing the reader to a person. Once the reader
    /// has exited its command line stays empty (a reused pid never lends its own).
    pub fn load_details(&mut self) {
        if let Some(process) = self.pending_details.take() {
            load_details(&mut self.reader, &process);
        }
    }

    /// Fills `reader.parents` if not yet loaded, trusting ancestors checked within the
    /// last second: enough to tell whether an AI agent started the reader, without the
    /// command line. [`load_details`](Self::load_details) later still checks each one.
    pub fn load_ancestry(&mut self) {
        if self.pending_details.is_some() {
            crate::process::load_ancestry(&mut self.reader);
        }
    }

    /// Lets this open read `bytes` (this open only: each open gets its own snapshot).
    /// Too late after `request_timeout`: the reader was already denied, and the bytes are
    /// zeroized.
    pub fn serve(mut self, bytes: Zeroizing<Vec<u8>>) {
        if let Some(r) = self.responder.take() {
            r.answer(Decision::Serve(bytes));
        }
    }

    /// [`serve`](Self::serve)s, then loads the reader's parent chain (and its command line
    /// when `with_cmdline`) and hands the reader back: for a record written after the
    /// answer, so the answer does not wait on /proc reads only the record needs. Ancestors
    /// checked within the last second are trusted here, unlike in
    /// [`load_details`](Self::load_details), which checks each one.
    pub fn serve_then_describe(
        mut self,
        bytes: Zeroizing<Vec<u8>>,
        with_cmdline: bool,
    ) -> (Reader, PathBuf) {
        if let Some(r) = self.responder.take() {
            r.answer(Decision::Serve(bytes));
        }
        if let Some(process) = self.pending_details.take() {
            load_record_details(&mut self.reader, &process, with_cmdline);
        }
        (
            std::mem::take(&mut self.reader),
            std::mem::take(&mut self.path),
        )
    }

    /// Refuses this open: `EACCES` for FUSE, an empty read (EOF) for a FIFO.
    pub fn deny(mut self) {
        if let Some(r) = self.responder.take() {
            r.answer(Decision::Deny);
        }
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        if let Some(r) = self.responder.take() {
            r.answer(Decision::Deny);
        }
    }
}

impl fmt::Debug for OpenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenRequest")
            .field("reader", &self.reader)
            .field("path", &self.path)
            .field("answered", &self.responder.is_none())
            .field("details_pending", &self.pending_details.is_some())
            .finish()
    }
}

/// Why an open was refused by the mount itself, before or without the owner's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// FIFO: more than one process holds it, and one stream cannot be split between them.
    SharedFifo,
    /// The reader could not be identified (it exited, or lives in another PID namespace).
    Unidentified,
    /// FIFO: the owner refused the reader (or did not answer in time).
    Denied,
    /// FIFO: the reader did not read and close within the stall timeout; the FIFO was
    /// replaced by a fresh one so that the next reader is served.
    Stalled,
    /// FIFO: the mount stopped while the reader waited.
    Unmounted,
}

impl RefusalReason {
    /// The one line a FIFO reader reads instead of the content. No `=` and no `:`, so that no
    /// loader takes it for an assignment (node's dotenv and godotenv read `KEY: value`);
    /// a `-` after the first words makes godotenv and direnv fail showing it, and the
    /// parentheses make bash's `source` fail with a syntax error that prints it.
    #[must_use]
    pub fn fifo_line(self) -> &'static str {
        match self {
            RefusalReason::SharedFifo => {
                "openv not served - another process holds this FIFO (one reader at a time, see openv status)\n"
            }
            RefusalReason::Unidentified => {
                "openv not served - openv could not tell which process is reading (see openv status)\n"
            }
            RefusalReason::Denied => {
                "openv not served - this reader was refused (see openv status)\n"
            }
            RefusalReason::Stalled => {
                "openv not served - the reader did not read in time (see openv status)\n"
            }
            RefusalReason::Unmounted => {
                "openv not served - the mount was stopped (run openv mount or openv up)\n"
            }
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::SharedFifo => "another process holds the FIFO",
            RefusalReason::Unidentified => "the reader could not be identified",
            RefusalReason::Denied => "denied",
            RefusalReason::Stalled => "the reader did not read within the stall timeout",
            RefusalReason::Unmounted => "the mount was stopped",
        }
    }
}

/// An open the mount refused on its own: the owner was never asked (or, for a stalled FIFO
/// reader, was asked and served but the reader never read). For the owner's records.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The virtual file's path, as given to [`mount`](crate::mount).
    pub path: PathBuf,
    pub reason: RefusalReason,
    /// The processes involved, as far as they are known.
    pub pids: Vec<i32>,
}

/// Receives every open of a mount.
///
/// Implemented for tokio's `UnboundedSender<OpenRequest>` (the usual choice: the owner
/// decides on its own task) and for closures. `on_open` runs on the mount's serving thread:
/// it must not block. It may answer at once (a cached grant) — that saves a thread hop per
/// open — or hand the request on and answer later. A request it drops is denied.
pub trait OpenHandler: Send + Sync + 'static {
    fn on_open(&self, request: OpenRequest);

    /// An open the mount refused without a request (see [`Refusal`]). Runs on the serving
    /// thread: must not block. Ignored unless implemented.
    fn on_refused(&self, refusal: Refusal) {
        let _ = refusal;
    }
}

impl OpenHandler for tokio::sync::mpsc::UnboundedSender<OpenRequest> {
    fn on_open(&self, request: OpenRequest) {
        // A closed channel hands the request back; dropping it denies.
        if let Err(closed) = self.send(request) {
            drop(closed.0);
        }
    }
}

impl<F: Fn(OpenRequest) + Send + Sync + 'static> OpenHandler for F {
    fn on_open(&self, request: OpenRequest) {
        self(request);
    }
}

/// How many opens a mount has served and denied since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Opens that received bytes.
    pub served: u64,
    /// Opens refused: denied by the owner, unanswered in time, or (FIFO) not attributable
    /// to exactly one process.
    pub denied: u64,
    /// FUSE only: requests a reader waits for that the filesystem answered (OPEN, GETATTR,
    /// READ, IOCTL, FLUSH, LOOKUP; not RELEASE, which `close` does not wait for): what a
    /// read costs in round trips.
    pub fuse_requests: u64,
    /// The last open the mount refused on its own or a FIFO reader was told it is not
    /// served, and why.
    pub last_refusal: Option<RefusalReason>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    served: AtomicU64,
    denied: AtomicU64,
    requests: AtomicU64,
    last_refusal: std::sync::Mutex<Option<RefusalReason>>,
}

impl Counters {
    pub(crate) fn served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, reason: RefusalReason) {
        *self
            .last_refusal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            served: self.served.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            fuse_requests: self.requests.load(Ordering::Relaxed),
            last_refusal: *self
                .last_refusal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }
}
