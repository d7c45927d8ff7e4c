//! Parent chains, with the ancestors themselves cached.
//!
//! Reading an ancestor costs a stat, an exe link and a cmdline (~20 µs); a chain of five
//! would dominate every open. Ancestors (shells, agents, editors) are long-lived, so each is
//! kept with an open handle on its `/proc/<pid>` directory. That handle fails once the
//! process is gone, so a reused pid can never match a cached entry; and the entry is reloaded
//! when its exe link changed (it exec'd). A cached parent that is still alive is still the
//! parent: a process is only reparented when its parent dies.
//!
//! Checking an entry is one `readlink` (~2.5 µs). A chain for a prompt checks every entry;
//! a chain for an audit record trusts an entry checked within [`RECHECK`], so a burst of
//! reads from one shell costs one check per ancestor per interval, not per read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use procfs::process::Process;

use super::cmdline::cmdline;

/// One process in a reader's parent chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    pub pid: i32,
    /// File name of `exe`, or `comm` when `exe` is unreadable.
    pub name: String,
    pub exe: Option<std::path::PathBuf>,
    pub cmdline: Vec<String>,
}

/// Parent chains deeper than this are cut: enough to show `cat <- bash <- codex <- ...`.
const MAX_PARENTS: usize = 16;
/// Each entry holds one file descriptor.
const CAPACITY: usize = 128;
/// How long a checked entry is trusted by a chain that allows it.
const RECHECK: Duration = Duration::from_secs(1);

/// How fresh the entries of a chain must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Every entry checked now (what a person is shown).
    Checked,
    /// Entries checked within [`RECHECK`] are trusted (a record of a read already answered).
    Recent,
}

/// Instants as nanoseconds since the first use, so an entry's last check fits an atomic.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_nanos() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

struct Cached {
    process: Process,
    ppid: i32,
    ancestor: Ancestor,
    checked: AtomicU64,
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
            exe,
            cmdline: cmdline(&process),
        };
        Some(Cached {
            process,
            ppid: stat.ppid,
            ancestor,
            checked: AtomicU64::new(now_nanos()),
        })
    }

    /// Same process, same program. One readlink: it fails once the process is gone.
    fn still_valid(&self) -> bool {
        let valid = match (&self.ancestor.exe, self.process.exe()) {
            (Some(was), Ok(is)) => *was == is,
            // Exe unreadable (another user's process): only check it is alive.
            (None, Err(_)) => self.process.open_relative("stat").is_ok(),
            _ => false,
        };
        if valid {
            self.checked.store(now_nanos(), Ordering::Relaxed);
        }
        valid
    }

    fn trusted(&self, freshness: Freshness) -> bool {
        let recent = || {
            let age = now_nanos().saturating_sub(self.checked.load(Ordering::Relaxed));
            Duration::from_nanos(age) <= RECHECK
        };
        (freshness == Freshness::Recent && recent()) || self.still_valid()
    }
}

static CACHE: LazyLock<Mutex<HashMap<i32, Arc<Cached>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Parent, grandparent, ... starting at `ppid`, up to pid 1 or MAX_PARENTS.
pub(super) fn chain(mut ppid: i32, freshness: Freshness) -> Vec<Ancestor> {
    let mut chain = Vec::new();
    while ppid > 0 && chain.len() < MAX_PARENTS {
        let Some(entry) = lookup(ppid, freshness) else {
            break;
        };
        chain.push(entry.ancestor.clone());
        ppid = entry.ppid;
    }
    chain
}

/// The cache lock is never held across /proc reads, so one slow process cannot stall
/// every other identification.
fn lookup(pid: i32, freshness: Freshness) -> Option<Arc<Cached>> {
    let cached = lock().get(&pid).cloned();
    if let Some(entry) = cached.filter(|c| c.trusted(freshness)) {
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
    let gone: Vec<(i32, Arc<Cached>)> = entries
        .into_iter()
        .filter(|(_, c)| !c.still_valid())
        .collect();
    let mut cache = lock();
    for (pid, entry) in gone {
        // Another thread may have put a fresh entry there meanwhile: keep that one.
        if cache.get(&pid).is_some_and(|c| Arc::ptr_eq(c, &entry)) {
            cache.remove(&pid);
        }
    }
    if cache.len() >= CAPACITY {
        cache.clear();
    }
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<i32, Arc<Cached>>> {
    CACHE.lock().unwrap_or_else(PoisonError::into_inner)
}
