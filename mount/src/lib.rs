//! Serves one virtual file (FUSE, or a FIFO where FUSE is unusable) and asks its owner about
//! every open. See README.md for the picture; the security decision stays with the owner.
//!
//! An open travels: kernel -> `fuse/` or `fifo/` -> [`identify`] (who is reading) ->
//! [`OpenRequest`] to the owner's [`OpenHandler`] -> `serve` / `deny` -> back to the reader.

mod error;
mod fifo;
mod fuse;
mod placement;
mod process;
mod request;
mod stale;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

pub use crate::error::{IdentifyError, MountError};
pub use crate::fuse::fuse_available;
pub use crate::placement::{NOT_SERVING, NOT_SERVING_KEPT, clear_placeholder, is_placeholder};
pub use crate::process::{Ancestor, Reader, identify, no_new_privs_of};
pub use crate::request::{OpenHandler, OpenRequest, Refusal, RefusalReason, Stats};
pub use crate::stale::clean_stale;

/// How the virtual file is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A FUSE filesystem whose root is the file itself: a regular file to every tool.
    Fuse,
    /// A named pipe: works without /dev/fuse, one reader at a time, consent not isolation.
    Fifo,
}

impl Mode {
    /// FUSE when [`fuse_available`], else FIFO.
    #[must_use]
    pub fn best_available() -> Mode {
        if fuse_available() {
            Mode::Fuse
        } else {
            Mode::Fifo
        }
    }
}

/// Where the virtual file ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// FUSE mounted directly on the file path.
    OnFile,
    /// FUSE mounted on this hidden directory next to the path; the path is a symlink into it.
    InHiddenDir(PathBuf),
    /// A FIFO at the path.
    Fifo,
}

/// Settings of one mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub mode: Mode,
    /// An open still unanswered after this is denied.
    pub request_timeout: Duration,
    /// FIFO only: how long one reader may take to read its payload and close the FIFO
    /// before it is cut off so that the next reader can be served.
    pub fifo_stall_timeout: Duration,
    /// FUSE only: try mounting on the file itself first. When false (or when that fails),
    /// mount on a hidden directory next to the path and make the path a symlink into it.
    pub allow_file_mount: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            mode: Mode::Fuse,
            request_timeout: Duration::from_secs(60),
            fifo_stall_timeout: Duration::from_secs(2),
            allow_file_mount: true,
        }
    }
}

/// Size and modification time of what the next open will be served.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContentInfo {
    pub size: u64,
    pub mtime: SystemTime,
}

/// State shared by the handle and the serving side.
#[derive(Debug)]
pub(crate) struct Shared {
    pub counters: request::Counters,
    content: Mutex<ContentInfo>,
}

impl Shared {
    pub(crate) fn content(&self) -> ContentInfo {
        *self.content.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An open is being served `len` bytes: `st_size` must cover them from now on.
    pub(crate) fn raise_size(&self, len: u64) {
        let mut content = self.content.lock().unwrap_or_else(PoisonError::into_inner);
        content.size = content.size.max(len);
    }
}

/// A live mount. Dropping it unmounts (or removes the FIFO), like [`Mount::unmount`] but
/// ignoring errors.
#[derive(Debug)]
pub struct Mount {
    path: PathBuf,
    mode: Mode,
    placement: Placement,
    shared: Arc<Shared>,
    backend: Option<Backend>,
}

#[derive(Debug)]
enum Backend {
    Fuse(fuse::FuseMount),
    Fifo(fifo::FifoServer),
}

/// Serves the virtual file at `path` and hands every open to `handler`.
///
/// The path must be missing, an empty regular file, or a FIFO: a file with content is
/// refused ([`MountError::HasContent`]) so that the caller can import it first. Each
/// [`OpenRequest`] must be answered within `opts.request_timeout`. The handler is usually a
/// tokio `UnboundedSender<OpenRequest>`; once its receiver is gone, every open is denied.
///
/// # Errors
/// [`MountError`] says what is in the way and what to do.
pub fn mount(
    path: &Path,
    opts: MountOptions,
    handler: impl OpenHandler,
) -> Result<Mount, MountError> {
    let handler: Arc<dyn OpenHandler> = Arc::new(handler);
    let path = std::path::absolute(path).map_err(|source| MountError::Prepare {
        path: path.to_path_buf(),
        source,
    })?;
    let shared = Arc::new(Shared {
        counters: request::Counters::default(),
        content: Mutex::new(ContentInfo {
            size: 0,
            mtime: SystemTime::now(),
        }),
    });
    let (backend, placement) = match opts.mode {
        Mode::Fuse => {
            let m = fuse::FuseMount::start(&path, &opts, handler, Arc::clone(&shared))?;
            let placement = m.placement();
            (Backend::Fuse(m), placement)
        }
        Mode::Fifo => {
            let s = fifo::FifoServer::start(&path, &opts, handler, Arc::clone(&shared))?;
            (Backend::Fifo(s), Placement::Fifo)
        }
    };
    Ok(Mount {
        path,
        mode: opts.mode,
        placement,
        shared,
        backend: Some(backend),
    })
}

impl Mount {
    /// Tells the mount what the next open will be served: `size` is reported as `st_size`
    /// (bash's `source` reads exactly that many bytes) and `mtime` as the modification time.
    /// Call it whenever the content changes, and only then, so file watchers do not loop.
    ///
    /// FUSE: the kernel caches the attributes, so this also makes it forget them, and
    /// returns once it has (or after a short bound). Never call it from
    /// [`OpenHandler::on_open`]. An open served more bytes than `size` raises the reported
    /// size to cover them, so `st_size` stays an upper bound of what an open is served.
    pub fn set_content_info(&self, size: u64, mtime: SystemTime) {
        *self
            .shared
            .content
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = ContentInfo { size, mtime };
        if let Some(Backend::Fuse(m)) = &self.backend {
            m.content_changed();
        }
    }

    /// The virtual file's absolute path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Where the file ended up (on the file, in a hidden directory, or a FIFO).
    #[must_use]
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// FUSE: the kernel's number for the mount's connection, the directory
    /// `/sys/fs/fuse/connections/N` where its waiting requests are counted and where it
    /// can be aborted. `None` for a FIFO.
    #[must_use]
    pub fn fuse_connection(&self) -> Option<u64> {
        match &self.backend {
            Some(Backend::Fuse(m)) => m.connection(),
            _ => None,
        }
    }

    /// FUSE: whether the session ended by itself (its connection was aborted, or the file
    /// was unmounted from outside): the mount serves nothing and must be started again.
    #[must_use]
    pub fn session_ended(&self) -> bool {
        matches!(&self.backend, Some(Backend::Fuse(m)) if m.session_ended())
    }

    /// Opens served and denied so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Stops serving: pending opens are denied, the FUSE mount is unmounted (lazily if a
    /// reader still holds the file) or the FIFO removed, and the path is left as it was found.
    ///
    /// # Errors
    /// [`MountError::Unmount`] if even a lazy unmount failed.
    pub fn unmount(mut self) -> Result<(), MountError> {
        self.stop(false)
    }

    /// Stops serving for now, as [`Mount::unmount`] does, but leaves the path holding the
    /// [`NOT_SERVING`] placeholder: for a mount its owner will restore (an agent that is
    /// stopping or restarting), so a reader in between reads why, not an empty file.
    ///
    /// # Errors
    /// [`MountError::Unmount`] if even a lazy unmount failed.
    pub fn suspend(mut self) -> Result<(), MountError> {
        self.stop(true)
    }

    fn stop(&mut self, keep: bool) -> Result<(), MountError> {
        match self.backend.take() {
            Some(Backend::Fuse(m)) => m.stop(keep),
            Some(Backend::Fifo(s)) => {
                s.stop(keep);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Err(e) = self.stop(false) {
            tracing::warn!(path = %self.path.display(), error = %e, "unmount on drop failed");
        }
    }
}
