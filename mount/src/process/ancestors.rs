//! Parent chains, with the ancestors themselves cached.
//!
//! Reading an ancestor costs a stat, an exe link and a cmdline (~20 µs); a chain of five
//! would dominate every open. Ancestors (shells, agents, editors) are long-lived, so each is
//! kept with an open handle on its `/proc/<pid>` directory. That handle fails once the
//! process is gone, so a reused pid can never match a cached entry; and the entry is reloaded
//! when its exe link changed (it exec'd). A cached parent that is still alive is still the
//! parent: a process is only reparented when its parent dies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use procfs::process::Process;

use super::{Ancestor, cmdline};

/// Parent chains deeper than this are cut: enough to show `cat <- bash <- codex <- ...`.
const MAX_PARENTS: usize = 16;
/// Each entry holds one file descriptor.
const CAPACITY: usize = 128;

struct Cached {
    process: Process,
    exe: Option<PathBuf>,
    ppid: i32,
    ancestor: Ancestor,
}

impl Cached {
    fn load(pid: i32) -> Option<Cached> {
        let process = Process::new(pid).ok()?;
        let stat = process.stat().ok()?;
        let exe = process.exe().ok();
        let name = exe
            .as_deref()
            .and_then(|e| e.file_name())
            .map_or_else(|| stat.comm.clone(), |n| n.to_string_lossy().into_owned());
        let ancestor = Ancestor {
            pid,
            name,
            exe: exe.clone(),
            cmdline: cmdline(&process),
        };
        Some(Cached {
            process,
            exe,
            ppid: stat.ppid,
            ancestor,
        })
    }

    /// Same process, same program. One readlink: it fails once the process is gone.
    fn still_valid(&self) -> bool {
        match (&self.exe, self.process.exe()) {
            (Some(was), Ok(is)) => *was == is,
            // Exe unreadable (another user's process): only check it is alive.
            (None, Err(_)) => self.process.open_relative("stat").is_ok(),
            _ => false,
        }
    }
}

static CACHE: LazyLock<Mutex<HashMap<i32, Arc<Cached>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Parent, grandparent, ... starting at `ppid`, up to pid 1 or MAX_PARENTS.
pub(super) fn chain(mut ppid: i32) -> Vec<Ancestor> {
    let mut chain = Vec::new();
    while ppid > 0 && chain.len() < MAX_PARENTS {
        let Some(entry) = lookup(ppid) else { break };
        chain.push(entry.ancestor.clone());
        ppid = entry.ppid;
    }
    chain
}

/// The cache lock is never held across /proc reads, so one slow process cannot stall
/// every other identification.
fn lookup(pid: i32) -> Option<Arc<Cached>> {
    let cached = lock().get(&pid).cloned();
    if let Some(entry) = cached.filter(|c| c.still_valid()) {
        return Some(entry);
    }
    let fresh = Arc::new(Cached::load(pid)?);
    if lock().len() >= CAPACITY {
        sweep();
    }
    lock().insert(pid, Arc::clone(&fresh));
    Some(fresh)
}

/// Drops entries whose process is gone (checked outside the lock); clears all if that is
/// not enough.
fn sweep() {
    let entries: Vec<(i32, Arc<Cached>)> =
        lock().iter().map(|(p, c)| (*p, Arc::clone(c))).collect();
    let gone: Vec<i32> = entries
        .iter()
        .filter(|(_, c)| !c.still_valid())
        .map(|(p, _)| *p)
        .collect();
    let mut cache = lock();
    for pid in gone {
        cache.remove(&pid);
    }
    if cache.len() >= CAPACITY {
        cache.clear();
    }
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<i32, Arc<Cached>>> {
    CACHE.lock().unwrap_or_else(PoisonError::into_inner)
}
