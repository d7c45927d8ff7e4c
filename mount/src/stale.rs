//! Dead mounts left by a killed owner, and lazy unmounting.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::mount::{MntFlags, umount2};

use crate::error::MountError;
use crate::placement;

/// The FSName every openv mount carries; only mounts with it are cleaned.
pub(crate) const FS_NAME: &str = "openv";

/// Removes a dead openv FUSE mount ("Transport endpoint is not connected") at `path`, or at
/// its hidden directory, with a lazy unmount, and the symlink of a dead hidden-directory
/// mount. A live mount is left alone. Returns whether anything was cleaned.
///
/// # Errors
/// [`MountError::ForeignMount`] when the dead mount is not openv's, [`MountError::Unmount`]
/// when the lazy unmount fails.
pub fn clean_stale(path: &Path) -> Result<bool, MountError> {
    let path = std::path::absolute(path).map_err(|source| MountError::Prepare {
        path: path.to_path_buf(),
        source,
    })?;
    let mut cleaned = false;
    let hidden = placement::hidden_dir(&path);
    for target in [&path, &hidden] {
        // Mounts can be stacked (a mount on top of a dead one): peel them all.
        for _ in 0..8 {
            if !placement::is_dead(target) {
                break;
            }
            check_ours(target)?;
            lazy_unmount(target).map_err(|source| MountError::Unmount {
                path: target.clone(),
                source,
            })?;
            cleaned = true;
        }
    }
    let dangling_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
        && fs::read_link(&path).is_ok_and(|t| t == placement::link_target(&path))
        && !is_mounted(&hidden);
    if dangling_link {
        // What is left is the placeholder, at the path itself.
        let _ = fs::remove_file(&path);
        placement::remove_hidden_dir(&path);
        placement::leave_placeholder(&path);
        cleaned = true;
    }
    Ok(cleaned)
}

/// Mount points are listed canonically; a dead mount point itself cannot be canonicalized.
fn canonical(path: &Path) -> PathBuf {
    match (path.parent().map(fs::canonicalize), path.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

pub(crate) fn mounts_at(path: &Path) -> Vec<procfs::process::MountInfo> {
    let point = canonical(path);
    procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .map(|infos| {
            infos
                .into_iter()
                .filter(|m| m.mount_point == point)
                .collect()
        })
        .unwrap_or_default()
}

fn is_mounted(path: &Path) -> bool {
    !mounts_at(path).is_empty()
}

fn check_ours(path: &Path) -> Result<(), MountError> {
    match mounts_at(path).last() {
        Some(m) if m.mount_source.as_deref() != Some(FS_NAME) => Err(MountError::ForeignMount {
            path: path.to_path_buf(),
            fs_type: m.fs_type.clone(),
        }),
        _ => Ok(()),
    }
}

/// Detaches the mount now and lets the kernel finish once the last reader closes. Root can
/// do it directly; other users go through the setuid `fusermount3 -uz`.
pub(crate) fn lazy_unmount(path: &Path) -> io::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => fusermount_lazy(path),
        Err(e) => Err(e.into()),
    }
}

fn fusermount_lazy(path: &Path) -> io::Result<()> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "neither fusermount3 nor fusermount found",
    );
    for bin in ["fusermount3", "fusermount"] {
        match Command::new(bin)
            .args(["-u", "-z", "-q", "--"])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
        {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                last = io::Error::other(format!(
                    "{bin} -uz failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}
