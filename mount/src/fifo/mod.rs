//! FIFO mode: a named pipe at the path, served to one identified reader at a time.
//!
//! The kernel does not say who opened a FIFO, so after the writer's open returns the reader
//! is found by scanning `/proc/*/fd` for the FIFO's inode ([`serve`]). Exactly one process
//! must hold it; otherwise nothing is written and every holder reads EOF. A same-user process
//! that opens the FIFO in the instant between the last check and the write can still race the
//! approved reader: FIFO mode is consent, not isolation.

mod pipe;
mod serve;

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use nix::sys::stat::Mode;

use self::serve::Serving;
use crate::error::MountError;
use crate::placement::{self, Before};
use crate::process::InodeId;
use crate::request::{Decision, OpenHandler, Responder};
use crate::{MountOptions, Shared};

/// What the serving thread waits for while the owner decides.
enum Event {
    Answer { id: u64, decision: Decision },
    Stop,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Answer { id, decision } => write!(f, "Answer({id}, {decision:?})"),
            Event::Stop => f.write_str("Stop"),
        }
    }
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

/// A FIFO just made at the path, with what serving it needs.
struct Made {
    /// An `O_PATH` handle on the FIFO's inode: the server reopens exactly this inode.
    anchor: OwnedFd,
    inode: InodeId,
    opens: pipe::OpenWatch,
}

/// Makes the FIFO (mode exactly 0600) and takes hold of it. On failure, says whether a
/// FIFO of ours is at the path, for the caller to remove.
fn make_fifo(path: &Path) -> Result<Made, (bool, std::io::Error)> {
    nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| (false, e.into()))?;
    let ours = |e| (true, e);
    // mkfifo honours the umask; the mode must be exactly owner read/write.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(ours)?;
    let anchor = pipe::anchor(path).map_err(ours)?;
    let meta = rustix::fs::fstat(&anchor).map_err(|e| ours(e.into()))?;
    // The path could have been swapped between mkfifo and the open.
    if rustix::fs::FileType::from_raw_mode(meta.st_mode) != rustix::fs::FileType::Fifo {
        return Err(ours(std::io::Error::other(
            "the path changed while the FIFO was being made",
        )));
    }
    let opens = pipe::OpenWatch::new(path).map_err(ours)?;
    let inode = InodeId {
        dev: meta.st_dev,
        ino: meta.st_ino,
        name: path.file_name().unwrap_or_default().to_os_string(),
    };
    Ok(Made {
        anchor,
        inode,
        opens,
    })
}

/// The FIFO now at the path: replaced when a reader stalls (see `Serving::replace_fifo`).
#[derive(Debug)]
struct Current {
    inode: InodeId,
    anchor: Arc<OwnedFd>,
}

/// A FIFO being served by its own thread.
#[derive(Debug)]
pub(crate) struct FifoServer {
    path: PathBuf,
    before: Before,
    current: Arc<Mutex<Current>>,
    stop: Arc<AtomicBool>,
    events: mpsc::Sender<Event>,
    thread: Option<JoinHandle<()>>,
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
        if matches!(before, Before::EmptyFile | Before::Placeholder) {
            fs::remove_file(path).map_err(prepare)?;
        }
        let made = make_fifo(path).map_err(|(made, source)| {
            // Put the path back as it was: our FIFO goes, an empty file returns.
            placement::restore_after_fifo(path, before, |_| made);
            prepare(source)
        })?;
        let Made {
            anchor,
            inode,
            opens,
        } = made;
        let anchor = Arc::new(anchor);
        let current = Arc::new(Mutex::new(Current {
            inode: inode.clone(),
            anchor: Arc::clone(&anchor),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (events_tx, events_rx) = mpsc::channel();
        let serving = Serving {
            path: path.to_path_buf(),
            me: i32::try_from(std::process::id()).unwrap_or(0),
            inode: inode.clone(),
            anchor,
            current: Arc::clone(&current),
            stop: Arc::clone(&stop),
            events_tx: events_tx.clone(),
            events: events_rx,
            opens,
            handler,
            shared,
            request_timeout: opts.request_timeout,
            stall_timeout: opts.fifo_stall_timeout,
        };
        let mut server = FifoServer {
            path: path.to_path_buf(),
            before,
            current,
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
                server.stop(false);
                Err(MountError::Thread {
                    what: "FIFO",
                    source,
                })
            }
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the thread (waking its blocked open) and removes the FIFO; `keep` leaves
    /// the not-serving placeholder in its place, for a mount that will be restored.
    pub(crate) fn stop(mut self, keep: bool) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.events.send(Event::Stop);
        // Held until the thread is gone, so any open it still starts returns at once. The
        // thread replaces the FIFO only before it checks the stop flag, so this is the one
        // it may block on.
        let anchor = Arc::clone(&self.current().anchor);
        let waker = pipe::open_own_reader(&anchor);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Readers that arrived while the thread was busy are still blocked in open.
        let current = self.current();
        pipe::release_waiting(&current.anchor);
        drop(waker);
        let inode = &current.inode;
        placement::restore_after_fifo(&self.path, self.before, |m| {
            m.dev() == inode.dev && m.ino() == inode.ino
        });
        if keep {
            placement::leave_placeholder(&self.path);
        }
    }
}
