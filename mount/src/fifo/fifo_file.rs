//! What the FIFO server and its serving thread share: the FIFO file itself (made at the
//! path, held by an `O_PATH` handle), the owner's answers, and which FIFO is current.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use nix::sys::stat::Mode;

use super::pipe;
use crate::process::InodeId;
use crate::request::{Decision, Responder};

/// What the serving thread waits for while the owner decides.
pub(super) enum Event {
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
pub(super) struct FifoResponder {
    pub(super) id: u64,
    pub(super) events: mpsc::Sender<Event>,
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
pub(super) struct Made {
    /// An `O_PATH` handle on the FIFO's inode: the server reopens exactly this inode.
    pub(super) anchor: OwnedFd,
    pub(super) inode: InodeId,
    pub(super) opens: pipe::OpenWatch,
}

/// Makes the FIFO (mode exactly 0600) and takes hold of it. On failure, says whether a
/// FIFO of ours is at the path, for the caller to remove.
pub(super) fn make_fifo(path: &Path) -> Result<Made, (bool, std::io::Error)> {
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
pub(super) struct Current {
    pub(super) inode: InodeId,
    pub(super) anchor: Arc<OwnedFd>,
}
