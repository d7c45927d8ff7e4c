//! The agent's table of live mounts: one `openv_mount::Mount` per path, all handing
//! their opens to one handler (the agent's `reads::fast_path`), with what each mount's
//! project says about rendering (`hints`), kept fresh by watching the mounts'
//! directories (`watch`). The table knows nothing of how an open is decided.

pub mod hints;
pub mod prepare;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use openv_mount::{Mode, Mount, MountError, MountOptions, OpenHandler, OpenRequest, Placement};
use serde::{Deserialize, Serialize};

/// How long a reader may wait for a decision before it is denied.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Active {
    env: String,
    mount: Mount,
    hints: hints::ProjectHints,
}

/// One row of `openv mounts`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountInfo {
    pub path: String,
    pub env: String,
    pub mode: String,
    /// `serving`, or why the mount is not being served.
    pub state: String,
    pub served: u64,
    pub denied: u64,
    /// Kernel requests the mount answered (FUSE; RELEASE not counted; 0 for a FIFO):
    /// with `served`, the round trips a read costs.
    #[serde(default)]
    pub requests: u64,
    /// Why the last open the mount refused by itself (or a FIFO reader told it is not
    /// served) was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refused: Option<String>,
}

pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Fuse => "fuse",
        Mode::Fifo => "fifo",
    }
}

pub fn parse_mode(s: &str) -> Option<Mode> {
    match s {
        "fuse" => Some(Mode::Fuse),
        "fifo" => Some(Mode::Fifo),
        "auto" => Some(Mode::best_available()),
        _ => None,
    }
}

pub struct Mounts {
    active: BTreeMap<PathBuf, Active>,
    /// Recorded mounts that could not be restored, with the reason.
    broken: BTreeMap<PathBuf, (String, String, String)>,
    requests: Arc<dyn OpenHandler>,
    /// Watches the mounts' directories: a FIFO removed, a project file changed.
    watcher: Option<watch::MountWatcher>,
    /// Told our FUSE connections on every change, so it can end their readers' waits
    /// while the agent is stopped.
    watchdog: Option<crate::agent::watchdog::Watchdog>,
}

impl std::fmt::Debug for Mounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounts")
            .field("active", &self.active)
            .field("broken", &self.broken)
            .field("watcher", &self.watcher)
            .finish_non_exhaustive()
    }
}

impl Mounts {
    pub fn new(requests: Arc<dyn OpenHandler>, watcher: Option<watch::MountWatcher>) -> Self {
        Self {
            active: BTreeMap::new(),
            broken: BTreeMap::new(),
            requests,
            watcher,
            watchdog: None,
        }
    }

    /// From now on the watchdog is told our FUSE connections whenever they change.
    pub fn set_watchdog(&mut self, watchdog: crate::agent::watchdog::Watchdog) {
        self.watchdog = Some(watchdog);
        self.tell_watchdog();
    }

    fn tell_watchdog(&mut self) {
        let conns = self.fuse_connections();
        if let Some(w) = self.watchdog.as_mut() {
            w.tell(conns);
        }
    }

    pub fn env_of(&self, path: &Path) -> Option<&str> {
        self.active.get(path).map(|a| a.env.as_str())
    }

    pub fn mode_of(&self, path: &Path) -> Option<Mode> {
        self.active.get(path).map(|a| a.mount.mode())
    }

    /// Live and broken mounts, as `list` shows them.
    pub fn len(&self) -> usize {
        self.active.len() + self.broken.len()
    }

    pub fn start(&mut self, path: &Path, env: &str, mode: Mode) -> Result<Placement, MountError> {
        let opts = MountOptions {
            mode,
            request_timeout: REQUEST_TIMEOUT,
            ..MountOptions::default()
        };
        let handler = self.requests.clone();
        let mount = openv_mount::mount(path, opts, move |req: OpenRequest| handler.on_open(req))?;
        let placement = mount.placement().clone();
        self.broken.remove(path);
        let watched = self.watcher.as_mut().is_some_and(|w| w.watch(path));
        self.active.insert(
            path.to_owned(),
            Active {
                env: env.to_owned(),
                mount,
                hints: hints::ProjectHints::resolve(path, watched),
            },
        );
        self.tell_watchdog();
        Ok(placement)
    }

    /// What the project of the mount at `path` says about rendering, to choose an
    /// open's dialect without reading a file.
    pub fn hints_of(&mut self, path: &Path) -> Option<&mut hints::ProjectHints> {
        self.active.get_mut(path).map(|a| &mut a.hints)
    }

    /// The watcher saw `changed`: if it is a project file (`hints::FILES`), the mounts in
    /// its directory read it again.
    pub fn project_file_changed(&mut self, changed: &Path) {
        let Some(name) = changed.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        if !hints::FILES.contains(&name) {
            return;
        }
        for (p, a) in &mut self.active {
            if p.parent() == changed.parent() {
                a.hints.changed(name);
            }
        }
    }

    pub fn mark_broken(&mut self, path: &Path, env: &str, mode: &str, why: String) {
        self.broken
            .insert(path.to_owned(), (env.to_owned(), mode.to_owned(), why));
    }

    /// Removes a mount from the table; the caller drops (unmounts) it outside any lock.
    pub fn take(&mut self, path: &Path) -> Option<Mount> {
        self.broken.remove(path);
        let taken = self.active.remove(path).map(|a| a.mount);
        self.tell_watchdog();
        taken
    }

    pub fn take_env(&mut self, env: &str) -> Vec<Mount> {
        let paths: Vec<PathBuf> = self
            .active
            .iter()
            .filter(|(_, a)| a.env == env)
            .map(|(p, _)| p.clone())
            .collect();
        self.broken.retain(|_, (e, _, _)| e != env);
        paths.iter().filter_map(|p| self.take(p)).collect()
    }

    pub fn take_all(&mut self) -> Vec<Mount> {
        let taken = std::mem::take(&mut self.active)
            .into_values()
            .map(|a| a.mount)
            .collect();
        self.tell_watchdog();
        taken
    }

    pub fn rename_env(&mut self, old: &str, new: &str) {
        for a in self.active.values_mut().filter(|a| a.env == old) {
            a.env = new.to_owned();
        }
        for b in self.broken.values_mut().filter(|b| b.0 == old) {
            b.0 = new.to_owned();
        }
    }

    /// Paths of the live mounts of `env`.
    pub fn paths_of(&self, env: &str) -> Vec<PathBuf> {
        self.active
            .iter()
            .filter(|(_, a)| a.env == env)
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub fn envs(&self) -> Vec<String> {
        let mut v: Vec<String> = self.active.values().map(|a| a.env.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Tells the mount at `path` what the next open will serve.
    pub fn set_content(&self, path: &Path, size: u64, updated_secs: i64) {
        if let Some(a) = self.active.get(path) {
            let mtime = UNIX_EPOCH + Duration::from_secs(updated_secs.max(0) as u64);
            a.mount.set_content_info(size, mtime.min(SystemTime::now()));
        }
    }

    /// The kernel's connection numbers of the live FUSE mounts.
    pub fn fuse_connections(&self) -> Vec<u64> {
        self.active
            .values()
            .filter_map(|a| a.mount.fuse_connection())
            .collect()
    }

    /// Paths of FUSE mounts whose session ended by itself (an aborted connection).
    pub fn ended_sessions(&self) -> Vec<PathBuf> {
        self.active
            .iter()
            .filter(|(_, a)| a.mount.session_ended())
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub fn list(&self) -> Vec<MountInfo> {
        let mut out: Vec<MountInfo> = self
            .active
            .iter()
            .map(|(p, a)| {
                let stats = a.mount.stats();
                MountInfo {
                    path: p.display().to_string(),
                    env: a.env.clone(),
                    mode: mode_name(a.mount.mode()).into(),
                    state: match a.mount.placement() {
                        Placement::InHiddenDir(d) => format!("serving (via {})", d.display()),
                        _ => "serving".into(),
                    },
                    served: stats.served,
                    denied: stats.denied,
                    requests: stats.fuse_requests,
                    last_refused: stats.last_refusal.map(|r| r.as_str().to_owned()),
                }
            })
            .collect();
        out.extend(self.broken.iter().map(|(p, (env, mode, why))| MountInfo {
            path: p.display().to_string(),
            env: env.clone(),
            mode: mode.clone(),
            state: format!("not serving: {why}"),
            served: 0,
            denied: 0,
            requests: 0,
            last_refused: None,
        }));
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}
