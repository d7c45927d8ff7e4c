//! FIFO mode: a named pipe at the path, served to one identified reader at a time.
//!
//! The kernel does not say who opened a FIFO, so after the writer's open returns the reader
//! is found by scanning `/proc/*/fd` for the FIFO's inode ([`serve`]). Exactly one process
//! must hold it; otherwise nothing is written and every holder reads EOF. A same-user process
//! that opens the FIFO in the instant between the last check and the write can still race the
//! approved reader: FIFO mode is consent, not isolation.

mod fifo_file;
mod pipe;
mod serve;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use self::fifo_file::{Current, Event, Made, make_fifo};
use self::serve::Serving;
use crate::error::MountError;
use crate::placement::{self, Before};
use crate::request::OpenHandler;
use crate::{MountOptions, Shared};

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
        if matches!(
            before,
            Before::EmptyFile | Before::Placeholder | Before::EmptyPlaceholder
        ) {
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
