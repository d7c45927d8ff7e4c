//! What sits at the mount path before and after serving: checks it, makes room, puts it back.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::MountError;

/// What was at the path, so that unmounting can leave it as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Before {
    /// Nothing (or a leftover FIFO / stale symlink of ours, which are not worth restoring).
    Missing,
    /// An empty regular file.
    EmptyFile,
}

/// The hidden directory used when the file itself cannot take a mount: `.openv-mnt-<name>`.
pub(crate) fn hidden_dir(path: &Path) -> PathBuf {
    let mut name = OsString::from(".openv-mnt-");
    name.push(path.file_name().unwrap_or_default());
    path.with_file_name(name)
}

/// The symlink text that points the path into its hidden directory.
pub(crate) fn link_target(path: &Path) -> PathBuf {
    let dir = hidden_dir(path);
    PathBuf::from(dir.file_name().unwrap_or_default()).join(path.file_name().unwrap_or_default())
}

fn prepare_err(path: &Path) -> impl FnOnce(io::Error) -> MountError + '_ {
    move |source| MountError::Prepare {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks the path and clears leftovers (a FIFO, our own stale symlink). Refuses content.
pub(crate) fn inspect(path: &Path) -> Result<Before, MountError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Before::Missing),
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTCONN) => {
            return Err(MountError::StaleMount {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(prepare_err(path)(e)),
    };
    let kind = meta.file_type();
    // A dead mount's cached attributes still answer the stat above.
    if is_mount_point(path, &meta) && crate::stale::is_dead(path) {
        return Err(MountError::StaleMount {
            path: path.to_path_buf(),
        });
    }
    if is_mount_point(path, &meta) {
        return Err(MountError::AlreadyMounted {
            path: path.to_path_buf(),
        });
    }
    if kind.is_file() {
        if meta.len() > 0 {
            return Err(MountError::HasContent {
                path: path.to_path_buf(),
                len: meta.len(),
            });
        }
        return Ok(Before::EmptyFile);
    }
    let ours = kind.is_fifo()
        || (kind.is_symlink() && fs::read_link(path).is_ok_and(|t| t == link_target(path)));
    if ours {
        fs::remove_file(path).map_err(prepare_err(path))?;
        return Ok(Before::Missing);
    }
    Err(MountError::NotAFile {
        path: path.to_path_buf(),
    })
}

/// A mount point lives on another device than its directory.
fn is_mount_point(path: &Path, meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    path.parent()
        .and_then(|dir| fs::metadata(dir).ok())
        .is_some_and(|dir| dir.dev() != meta.dev())
}

/// Makes sure an empty 0600 regular file is at `path` (FUSE mounts on top of it).
pub(crate) fn ensure_placeholder(path: &Path, before: Before) -> Result<(), MountError> {
    if before == Before::EmptyFile {
        return Ok(());
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(prepare_err(path))
}

/// Creates the hidden directory (0700) for a directory mount.
pub(crate) fn make_hidden_dir(path: &Path) -> Result<PathBuf, MountError> {
    let dir = hidden_dir(path);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(dir),
        Err(e) => Err(prepare_err(&dir)(e)),
    }
}

/// Replaces the placeholder at `path` with a relative symlink into the hidden directory.
pub(crate) fn link_into_hidden_dir(path: &Path) -> Result<(), MountError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(prepare_err(path)(e)),
    }
    std::os::unix::fs::symlink(link_target(path), path).map_err(prepare_err(path))
}

/// Undoes [`ensure_placeholder`] after a file mount: removes the placeholder we created.
pub(crate) fn restore_after_file_mount(path: &Path, before: Before) {
    if before == Before::Missing {
        remove_if(path, |m| m.file_type().is_file() && m.len() == 0);
    }
}

/// Undoes a hidden-directory mount: symlink and directory go, an empty file returns if one
/// was there.
pub(crate) fn restore_after_dir_mount(path: &Path, before: Before) {
    remove_if(path, |m| m.file_type().is_symlink());
    // Fails harmlessly while a lazily detached mount still covers it; clean_stale retries.
    let _ = fs::remove_dir(hidden_dir(path));
    if before == Before::EmptyFile {
        let _ = ensure_placeholder(path, Before::Missing);
    }
}

fn remove_if(path: &Path, pred: impl Fn(&fs::Metadata) -> bool) {
    if fs::symlink_metadata(path).is_ok_and(|m| pred(&m))
        && let Err(e) = fs::remove_file(path)
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove");
    }
}

/// Undoes the FIFO: removes it if it is still ours, and restores an empty file if one was there.
pub(crate) fn restore_after_fifo(
    path: &Path,
    before: Before,
    is_ours: impl Fn(&fs::Metadata) -> bool,
) {
    remove_if(path, |m| m.file_type().is_fifo() && is_ours(m));
    if before == Before::EmptyFile {
        let _ = ensure_placeholder(path, Before::Missing);
    }
}
