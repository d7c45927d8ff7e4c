//! What sits at the mount path before and after serving: checks it, makes room, puts it back.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
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
    /// Our not-serving placeholder, left by a mount that was not stopped for good (an
    /// agent that crashed, was stopped, or a machine that rebooted).
    Placeholder,
    /// The same over the user's empty file ([`NOT_SERVING_KEPT`]): the file returns, empty,
    /// when the mount is stopped for good, even by an agent started after the one that
    /// mounted it.
    EmptyPlaceholder,
}

/// What a mount point holds while openv is not serving it (before the agent starts,
/// after a crash or a reboot, during a restart): one line that every .env reader takes
/// as a comment, so nothing is set, and that tells whoever looks why.
pub const NOT_SERVING: &str = "# openv: not serving; run openv up\n";

/// [`NOT_SERVING`] where the user had an empty file: the text is the only record that
/// outlives the agent, so it says so (and readers still take it as a comment).
pub const NOT_SERVING_KEPT: &str =
    "# openv: not serving; run openv up (an empty file was here and returns on unmount)\n";

/// Which placeholder `path` holds, if it is a regular file holding exactly one of them.
fn placeholder_kind(path: &Path) -> Option<Before> {
    let meta = fs::symlink_metadata(path).ok()?;
    let len = meta.len();
    if !meta.is_file() || (len != NOT_SERVING.len() as u64 && len != NOT_SERVING_KEPT.len() as u64)
    {
        return None;
    }
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .ok()?;
    match text.as_str() {
        NOT_SERVING => Some(Before::Placeholder),
        NOT_SERVING_KEPT => Some(Before::EmptyPlaceholder),
        _ => None,
    }
}

/// Whether `path` is a regular file holding exactly [`NOT_SERVING`] or
/// [`NOT_SERVING_KEPT`].
#[must_use]
pub fn is_placeholder(path: &Path) -> bool {
    placeholder_kind(path).is_some()
}

/// For a mount that is not served any more: removes our placeholder, or empties it where
/// the user's empty file was. Anything else at `path` is left alone.
pub fn clear_placeholder(path: &Path) {
    match placeholder_kind(path) {
        Some(Before::EmptyPlaceholder) => put_back_empty(path),
        Some(_) => {
            let _ = fs::remove_file(path);
        }
        None => {}
    }
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
    if is_mount_point(path, &meta) && is_dead(path) {
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
        if let Some(before) = placeholder_kind(path) {
            return Ok(before);
        }
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

/// Puts the 0600 not-serving placeholder at `path` (FUSE mounts on top of it, so it is
/// what readers see whenever the mount is gone). `before` says what may be replaced:
/// nothing, an empty file, or a placeholder (kept as it is). The file is written beside
/// the path and renamed into place, so no reader ever sees it empty.
pub(crate) fn ensure_placeholder(path: &Path, before: Before) -> Result<(), MountError> {
    let text = match before {
        Before::Placeholder | Before::EmptyPlaceholder => return Ok(()),
        Before::EmptyFile => NOT_SERVING_KEPT,
        Before::Missing => NOT_SERVING,
    };
    let mut name = OsString::from(".openv-placeholder-");
    name.push(path.file_name().unwrap_or_default());
    let staged = path.with_file_name(name);
    let _ = fs::remove_file(&staged);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&staged, path));
    if written.is_err() {
        let _ = fs::remove_file(&staged);
    }
    written.map_err(prepare_err(path))
}

/// Leaves the placeholder where a FIFO was (or makes sure it is there): what a stopped
/// agent's mount point shows until it serves again.
pub(crate) fn leave_placeholder(path: &Path) {
    let before = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_fifo() => {
            let _ = fs::remove_file(path);
            Before::Missing
        }
        Ok(m) if m.is_file() && m.len() == 0 => Before::EmptyFile,
        Ok(_) => return,
        Err(_) => Before::Missing,
    };
    if let Err(e) = ensure_placeholder(path, before) {
        tracing::warn!(path = %path.display(), error = %e, "cannot leave the not-serving placeholder");
    }
}

/// An empty file again, as the user had it: only where nothing is, or where our
/// placeholder (or an empty file) still is. Never by opening what is at the path, which
/// could be a symlink a process put there meanwhile (truncating `~/.bashrc` through it):
/// a new empty file is made beside it and renamed into place, and rename replaces a
/// symlink itself, never its target.
fn put_back_empty(path: &Path) {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Ok(m) if m.is_file() && (m.len() == 0 || is_placeholder(path)) => {}
        Ok(_) | Err(_) => {
            tracing::warn!(path = %path.display(), "not putting the empty file back: something else is there now");
            return;
        }
    }
    let mut name = OsString::from(".openv-empty-");
    name.push(path.file_name().unwrap_or_default());
    let staged = path.with_file_name(name);
    let _ = fs::remove_file(&staged);
    let made = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|_| fs::rename(&staged, path));
    if let Err(e) = made {
        let _ = fs::remove_file(&staged);
        tracing::warn!(path = %path.display(), error = %e, "cannot put the empty file back");
    }
}

/// Ours to remove: an empty file or the placeholder.
fn ours(path: &Path, m: &fs::Metadata) -> bool {
    m.file_type().is_file() && (m.len() == 0 || is_placeholder(path))
}

/// Creates the hidden directory (0700) for a directory mount.
/// The placeholder inside it is what the symlink shows while the mount is gone.
pub(crate) fn make_hidden_dir(path: &Path) -> Result<PathBuf, MountError> {
    let dir = hidden_dir(path);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(prepare_err(&dir)(e)),
    }
    let inner = dir.join(path.file_name().unwrap_or_default());
    let before = if is_placeholder(&inner) {
        Before::Placeholder
    } else {
        let _ = fs::remove_file(&inner);
        Before::Missing
    };
    ensure_placeholder(&inner, before)?;
    Ok(dir)
}

/// Removes the hidden directory and the placeholder in it.
pub(crate) fn remove_hidden_dir(path: &Path) {
    let dir = hidden_dir(path);
    let inner = dir.join(path.file_name().unwrap_or_default());
    remove_if(&inner, |m| ours(&inner, m));
    // Fails harmlessly while a lazily detached mount still covers it; clean_stale retries.
    let _ = fs::remove_dir(dir);
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
    match before {
        Before::Missing | Before::Placeholder => remove_if(path, |m| ours(path, m)),
        Before::EmptyFile | Before::EmptyPlaceholder => {
            if is_placeholder(path) {
                put_back_empty(path);
            }
        }
    }
}

/// Undoes a hidden-directory mount: symlink and directory go, an empty file returns if one
/// was there.
pub(crate) fn restore_after_dir_mount(path: &Path, before: Before) {
    remove_if(path, |m| m.file_type().is_symlink());
    remove_hidden_dir(path);
    if matches!(before, Before::EmptyFile | Before::EmptyPlaceholder) {
        put_back_empty(path);
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
    if matches!(before, Before::EmptyFile | Before::EmptyPlaceholder) {
        put_back_empty(path);
    }
}

/// Whether the mount at `path` is dead: its owner is gone and every access fails with
/// "Transport endpoint is not connected". The attributes of a live mount are cached for a
/// long time, and the kernel answers a plain `stat` from that cache even once the owner is
/// dead: force a GETATTR to reach the filesystem.
pub(crate) fn is_dead(path: &Path) -> bool {
    use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
    let flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::STATX_FORCE_SYNC;
    matches!(statx(CWD, path, flags, StatxFlags::BASIC_STATS), Err(e) if e == rustix::io::Errno::NOTCONN)
}
