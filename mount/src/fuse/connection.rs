//! The kernel's number for a FUSE connection: its directory under
//! `/sys/fs/fuse/connections`, where its waiting requests are counted and where it can be
//! aborted. It is the minor number of the mounted filesystem's (anonymous) device, read
//! from the mount table so that finding it never sends a request to the mount.

use std::path::Path;

use crate::stale::{FS_NAME, mounts_at};

/// The connection of the openv FUSE mount on top at `mount_point`, if there is one.
pub(crate) fn of_mount_point(mount_point: &Path) -> Option<u64> {
    let top = mounts_at(mount_point).pop()?;
    if top.mount_source.as_deref() != Some(FS_NAME) || !top.fs_type.starts_with("fuse") {
        return None;
    }
    minor(&top.majmin)
}

/// `0:52` -> 52. FUSE devices are anonymous (major 0), so the minor is the whole number.
fn minor(majmin: &str) -> Option<u64> {
    let (major, minor) = majmin.split_once(':')?;
    (major == "0").then(|| minor.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::minor;

    #[test]
    fn the_minor_of_an_anonymous_device_is_the_connection() {
        assert_eq!(minor("0:52"), Some(52));
        assert_eq!(minor("8:1"), None);
        assert_eq!(minor("junk"), None);
    }
}
