//! Watches the directories that hold mounts, so a FIFO that is deleted or replaced is
//! noticed and recreated instead of silently no longer being served, and a change to the
//! project's openv.toml or package.json reaches the mounts' `hints`.

use std::path::{Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug)]
pub struct MountWatcher {
    watcher: RecommendedWatcher,
    watched: Vec<PathBuf>,
}

impl MountWatcher {
    /// Paths that changed are sent on `changed`.
    pub fn new(changed: UnboundedSender<PathBuf>) -> notify::Result<Self> {
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                for p in ev.paths {
                    let _ = changed.send(p);
                }
            }
        })?;
        Ok(Self {
            watcher,
            watched: Vec::new(),
        })
    }

    /// Watches the directory of `mount_path` (once per directory); whether it is watched.
    pub fn watch(&mut self, mount_path: &Path) -> bool {
        let Some(dir) = mount_path.parent() else {
            return false;
        };
        if self.watched.iter().any(|d| d == dir) {
            return true;
        }
        match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.push(dir.to_owned());
                true
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch mount directory");
                false
            }
        }
    }
}
