//! FUSE mode: mount, serve on a session thread, unmount.

mod attrs;
mod connection;
mod fs;
mod pending;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};

use self::attrs::Attrs;
use self::fs::{EnvFs, Layout};
use self::pending::{Snapshots, Watchdog};
use crate::error::MountError;
use crate::placement::{self, Before};
use crate::request::OpenHandler;
use crate::stale::{FS_NAME, lazy_unmount};
use crate::{MountOptions, Placement, Shared};

/// How long unmount waits for the session thread before leaving it to finish on its own
/// (it does once the last reader of a lazily detached mount closes).
const JOIN_WAIT: Duration = Duration::from_secs(2);

/// Whether FUSE mounts can work here: /dev/fuse opens, and we are root or have fusermount.
#[must_use]
pub fn fuse_available() -> bool {
    unavailable_reason().is_none()
}

fn unavailable_reason() -> Option<String> {
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        return Some(format!("cannot open /dev/fuse: {e}"));
    }
    let root = nix::unistd::geteuid().is_root();
    if !root && !["fusermount3", "fusermount"].iter().any(|b| in_path(b)) {
        return Some("not root and no fusermount3 in PATH".into());
    }
    None
}

fn in_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(bin).is_file()))
}

/// A running FUSE mount.
#[derive(Debug)]
pub(crate) struct FuseMount {
    path: PathBuf,
    /// Where the filesystem is mounted: the path itself or the hidden directory.
    mount_point: PathBuf,
    before: Before,
    layout: Layout,
    unmounter: SessionUnmounter,
    session: Option<JoinHandle<std::io::Result<()>>>,
    watchdog: Arc<Watchdog>,
    attrs: Arc<Attrs>,
    /// The kernel's connection number (`/sys/fs/fuse/connections/N`), if found.
    connection: Option<u64>,
}

impl FuseMount {
    pub(crate) fn start(
        path: &Path,
        opts: &MountOptions,
        handler: Arc<dyn OpenHandler>,
        shared: Arc<Shared>,
    ) -> Result<FuseMount, MountError> {
        if let Some(reason) = unavailable_reason() {
            return Err(MountError::FuseUnavailable { reason });
        }
        let before = placement::inspect(path)?;
        let watchdog = Arc::new(
            Watchdog::start(opts.request_timeout, Arc::clone(&shared)).map_err(|source| {
                MountError::Thread {
                    what: "request timeout",
                    source,
                }
            })?,
        );
        let snapshots = Arc::new(Snapshots::default());
        // The file's inode number depends on where the mount lands: one Attrs per layout.
        let file_attrs = Arc::new(Attrs::new(fs::file_ino(&Layout::File)));
        let dir_attrs = Arc::new(Attrs::new(fs::file_ino(&Layout::Dir {
            name: Default::default(),
        })));
        let fs = |layout: Layout| EnvFs {
            attrs: Arc::clone(match layout {
                Layout::File => &file_attrs,
                Layout::Dir { .. } => &dir_attrs,
            }),
            layout,
            path: path.to_path_buf(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            shared: Arc::clone(&shared),
            snapshots: Arc::clone(&snapshots),
            watchdog: Arc::clone(&watchdog),
            handler: Arc::clone(&handler),
        };
        let mounted = mount_somewhere(path, opts, before, fs);
        let (session, mount_point, layout) = match mounted {
            Ok(m) => m,
            Err(e) => {
                watchdog.stop();
                return Err(e);
            }
        };
        let mut session = session;
        let unmounter = session.unmount_callable();
        let attrs = match layout {
            Layout::File => file_attrs,
            Layout::Dir { .. } => dir_attrs,
        };
        let started = attrs.start(session.notifier());
        let thread = started.and_then(|()| {
            std::thread::Builder::new()
                .name("openv-fuse".into())
                .spawn(move || session.run())
        });
        let connection = connection::of_mount_point(&mount_point);
        let mut mount = FuseMount {
            path: path.to_path_buf(),
            connection,
            mount_point,
            before,
            layout,
            unmounter,
            session: None,
            watchdog,
            attrs,
        };
        match thread {
            Ok(t) => {
                mount.session = Some(t);
                Ok(mount)
            }
            Err(source) => {
                let _ = mount.stop(false);
                Err(MountError::Thread {
                    what: "FUSE session",
                    source,
                })
            }
        }
    }

    pub(crate) fn placement(&self) -> Placement {
        match self.layout {
            Layout::File => Placement::OnFile,
            Layout::Dir { .. } => Placement::InHiddenDir(self.mount_point.clone()),
        }
    }

    /// The kernel's number for this mount's connection (its `/sys/fs/fuse/connections`
    /// directory).
    pub(crate) fn connection(&self) -> Option<u64> {
        self.connection
    }

    /// Whether the session thread has ended while the mount was not being stopped: the
    /// connection was aborted (or the filesystem unmounted from outside).
    pub(crate) fn session_ended(&self) -> bool {
        self.session.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// Makes the kernel forget the file's size and mtime: the next stat asks again.
    pub(crate) fn content_changed(&self) {
        self.attrs.invalidate_now();
    }

    /// Denies pending opens, unmounts (lazily if busy), puts the path back as it was, or
    /// (`keep`) leaves the not-serving placeholder for a mount that will be restored.
    pub(crate) fn stop(mut self, keep: bool) -> Result<(), MountError> {
        self.watchdog.stop();
        self.attrs.stop();
        let (result, detached) = match self.unmounter.unmount() {
            Ok(()) => (Ok(()), false),
            // Busy: a reader still holds the file. Detach now; the session thread serves
            // that reader's snapshot until it closes, then ends on its own.
            Err(_) => {
                let lazy = lazy_unmount(&self.mount_point).map_err(|source| MountError::Unmount {
                    path: self.mount_point.clone(),
                    source,
                });
                (lazy, true)
            }
        };
        if let Some(thread) = self.session.take().filter(|_| !detached) {
            let deadline = Instant::now() + JOIN_WAIT;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        match self.layout {
            // The placeholder is under the file mount, and in the hidden directory.
            _ if keep => {}
            Layout::File => placement::restore_after_file_mount(&self.path, self.before),
            Layout::Dir { .. } => placement::restore_after_dir_mount(&self.path, self.before),
        }
        result
    }
}

type Mounted = (Session<EnvFs>, PathBuf, Layout);

/// Mounts on the file itself, else on a hidden directory next to it.
fn mount_somewhere(
    path: &Path,
    opts: &MountOptions,
    before: Before,
    fs: impl Fn(Layout) -> EnvFs,
) -> Result<Mounted, MountError> {
    placement::ensure_placeholder(path, before)?;
    let on_file = if opts.allow_file_mount {
        match Session::new(fs(Layout::File), path, &config()) {
            Ok(session) => return Ok((session, path.to_path_buf(), Layout::File)),
            Err(e) => e.to_string(),
        }
    } else {
        "file mounts disabled by the options".to_string()
    };
    let on_dir = match mount_in_hidden_dir(path, &fs) {
        Ok(mounted) => return Ok(mounted),
        Err(e) => e.to_string(),
    };
    // Either attempt may have left something: the placeholder, or the hidden directory
    // and its symlink (with an empty file that was there removed).
    placement::restore_after_file_mount(path, before);
    placement::restore_after_dir_mount(path, before);
    Err(MountError::Mount {
        path: path.to_path_buf(),
        on_file: format!("on the file: {on_file}"),
        on_dir: format!("on a hidden directory: {on_dir}"),
    })
}

fn mount_in_hidden_dir(path: &Path, fs: &impl Fn(Layout) -> EnvFs) -> Result<Mounted, MountError> {
    let dir = placement::make_hidden_dir(path)?;
    let name = path.file_name().unwrap_or_default().to_os_string();
    let layout = Layout::Dir { name };
    let session = Session::new(fs(layout.clone()), &dir, &config()).map_err(|source| {
        MountError::Prepare {
            path: dir.clone(),
            source,
        }
    })?;
    placement::link_into_hidden_dir(path)?;
    Ok((session, dir, layout))
}

fn config() -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(FS_NAME.into()),
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoExec,
        MountOption::NoAtime,
    ];
    // Only the mounting user's processes reach the filesystem at all.
    config.acl = SessionACL::Owner;
    config
}
