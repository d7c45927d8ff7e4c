//! Errors. Every message says what happened and what to do next.

use std::io;
use std::path::PathBuf;

/// Why a mount could not be set up, torn down or cleaned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// A regular file with content sits where the virtual file should go.
    #[error(
        "{path} already holds {len} bytes; import it into openv (or move it away) before mounting over it"
    )]
    HasContent { path: PathBuf, len: u64 },

    /// Something other than a regular file or FIFO sits at the path.
    #[error("{path} exists and is not a regular file or a FIFO; move it away and mount again")]
    NotAFile { path: PathBuf },

    /// A FUSE mount whose server died is in the way.
    #[error(
        "{path} is a dead FUSE mount (\"Transport endpoint is not connected\"); call clean_stale (or run `fusermount3 -uz {path}`) and mount again"
    )]
    StaleMount { path: PathBuf },

    /// Something is already mounted at the path.
    #[error("{path} is already a mount point (another openv agent may serve it); unmount it first")]
    AlreadyMounted { path: PathBuf },

    /// The path or its directory could not be prepared.
    #[error("cannot prepare {path}: {source}; check that its directory exists and is writable")]
    Prepare {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// FUSE cannot be used on this machine.
    #[error(
        "FUSE is not usable here ({reason}); install fuse3 and make /dev/fuse accessible, or mount in FIFO mode"
    )]
    FuseUnavailable { reason: String },

    /// The kernel or fusermount refused the mount.
    #[error(
        "mounting FUSE at {path} failed ({on_file}); {on_dir}; mount in FIFO mode if FUSE cannot work here"
    )]
    Mount {
        path: PathBuf,
        on_file: String,
        on_dir: String,
    },

    /// Unmounting failed even lazily.
    #[error("unmounting {path} failed: {source}; run `fusermount3 -uz {path}` by hand")]
    Unmount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A dead mount at the path does not belong to openv, so it is left alone.
    #[error(
        "{path} is a dead mount of another filesystem ({fs_type}), not openv's; unmount it yourself"
    )]
    ForeignMount { path: PathBuf, fs_type: String },

    /// The serving thread could not be started.
    #[error("cannot start the {what} thread: {source}; the system may be out of threads")]
    Thread {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Why a process could not be identified. The caller must treat this as a denial.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifyError {
    /// The process is gone, or is not visible from this PID namespace.
    #[error("process {pid} is not visible in /proc (it exited, or lives in another PID namespace)")]
    Gone { pid: i32 },

    /// /proc answered with an error.
    #[error("cannot read /proc/{pid}: {message}; is /proc mounted and readable?")]
    Proc { pid: i32, message: String },

    /// The owner is out of file descriptors: it cannot even look at the reader.
    #[error("cannot read /proc/{pid}: this process is out of file descriptors")]
    NoFds { pid: i32 },
}

impl IdentifyError {
    pub(crate) fn from_proc(pid: i32, err: procfs::ProcError) -> Self {
        match err {
            procfs::ProcError::NotFound(_) => IdentifyError::Gone { pid },
            procfs::ProcError::Io(e, _)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EMFILE | nix::libc::ENFILE)
                ) =>
            {
                IdentifyError::NoFds { pid }
            }
            other => IdentifyError::Proc {
                pid,
                message: other.to_string(),
            },
        }
    }
}
