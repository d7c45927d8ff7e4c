//! Writes the agent acknowledges survive a crash, or are refused.
//!
//! SQLite keeps its database, WAL and shared-memory files open. Removed or replaced under
//! it (`rm vault.db-wal`, a restored copy moved over `vault.db`), it goes on writing to
//! files that no longer have a name, every write "succeeds", and the next crash takes
//! them all. So:
//! * the identity (device, inode) of each file is recorded when the vault is opened, and
//!   every commit compares it with what the path names now: a mismatch turns the commit
//!   into a rollback and writes are refused from then on (commit hook);
//! * after every commit the WAL is checkpointed into the database file, and the identity
//!   is compared again: a commit is acknowledged only once it is in the file at the
//!   vault's path, so removing the WAL later loses nothing acknowledged (WAL hook).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

/// SQLite's code for "the file changed under the VFS", reserved for extensions: the WAL
/// hook returns it when a commit could not be confirmed in the file at the vault's path.
pub const UNCONFIRMED: i32 = rusqlite::ffi::SQLITE_IOERR_VNODE;

/// The vault's files, in the order SQLite opens them.
const SUFFIXES: [&str; 3] = ["", "-wal", "-shm"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

fn id_of(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// What changed under the open vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The database file itself was removed or replaced.
    Database { path: PathBuf, removed: bool },
    /// The WAL or shared-memory file was removed or replaced.
    Journal { path: PathBuf, removed: bool },
}

impl Damage {
    fn what(removed: bool) -> &'static str {
        if removed { "removed" } else { "replaced" }
    }

    /// One line for `openv status` and refused writes: what happened and what to do.
    pub fn message(&self, rescued: Option<&Path>) -> String {
        match self {
            Self::Journal { path, removed } => format!(
                "{} was {} while the agent ran: writes are refused so that none is lost (every acknowledged write is in the database file); run `openv agent restart` to accept writes again",
                path.display(),
                Self::what(*removed)
            ),
            Self::Database { path, removed } => format!(
                "{} was {} while the agent ran: writes are refused so that none is lost; {}run `openv agent restart` to use the file now at that path, or `openv restore FILE` to put back a backup",
                path.display(),
                Self::what(*removed),
                match rescued {
                    Some(r) => format!(
                        "the vault as the agent last saw it was saved to {}: ",
                        r.display()
                    ),
                    None => String::new(),
                }
            ),
        }
    }
}

/// The recorded identities and the first damage seen. Shared with SQLite's hooks.
#[derive(Debug)]
pub struct Guard {
    path: PathBuf,
    ids: [Option<FileId>; 3],
    damage: Option<Damage>,
}

pub type SharedGuard = Arc<Mutex<Guard>>;

impl Guard {
    /// Records the files as they are now: call right after SQLite opened them.
    pub fn new(path: &Path) -> Self {
        let mut g = Self {
            path: path.to_owned(),
            ids: [None; 3],
            damage: None,
        };
        g.record();
        g
    }

    fn file(&self, i: usize) -> PathBuf {
        PathBuf::from(format!("{}{}", self.path.display(), SUFFIXES[i]))
    }

    fn record(&mut self) {
        for i in 0..SUFFIXES.len() {
            self.ids[i] = id_of(&self.file(i));
        }
    }

    /// Compares the recorded files with the paths; the first difference is kept.
    pub fn check(&mut self) -> Result<(), Damage> {
        if let Some(d) = &self.damage {
            return Err(d.clone());
        }
        for i in 0..SUFFIXES.len() {
            let Some(want) = self.ids[i] else {
                // Not there when the vault was opened (a WAL appears with the first
                // read): it is recorded now.
                self.ids[i] = id_of(&self.file(i));
                continue;
            };
            let now = id_of(&self.file(i));
            if now != Some(want) {
                let path = self.file(i);
                let removed = now.is_none();
                let d = if i == 0 {
                    Damage::Database { path, removed }
                } else {
                    Damage::Journal { path, removed }
                };
                tracing::error!(file = %d.message(None), "vault file changed under the agent");
                self.damage = Some(d.clone());
                return Err(d);
            }
        }
        Ok(())
    }

    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }
}

fn lock(g: &SharedGuard) -> std::sync::MutexGuard<'_, Guard> {
    g.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs the hooks on `conn` and returns the guard they share.
pub fn install(conn: &mut Connection, path: &Path) -> Result<SharedGuard, rusqlite::Error> {
    // Make sure the WAL and shm exist before their identities are recorded.
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
    let guard: SharedGuard = Arc::new(Mutex::new(Guard::new(path)));
    let g = guard.clone();
    // true = roll back.
    conn.commit_hook(Some(move || lock(&g).check().is_err()))?;
    let g = guard.clone();
    conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, _pages| {
        // A reader elsewhere can hold frames back (done < log): they stay in the WAL,
        // synced, at its path; the check below is what decides.
        // A checkpoint that fails (a full disk) leaves the commit in the WAL, synced: it
        // is not a failed write.
        if let Err(e) = wal.checkpoint_v2(rusqlite::wal::CheckpointMode::PASSIVE) {
            tracing::warn!(error = %e, "checkpoint after a commit failed");
        }
        if lock(&g).check().is_err() {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(UNCONFIRMED),
                None,
            ));
        }
        Ok(())
    }))?;
    Ok(guard)
}

pub fn check(g: &SharedGuard) -> Result<(), Damage> {
    lock(g).check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_or_removed_file_is_named() {
        let t = tempfile::tempdir().expect("tempdir");
        let db = t.path().join("v.db");
        for s in SUFFIXES {
            std::fs::write(format!("{}{s}", db.display()), b"x").expect("write");
        }
        let mut g = Guard::new(&db);
        assert!(g.check().is_ok());
        std::fs::remove_file(t.path().join("v.db-wal")).expect("rm");
        let d = g.check().expect_err("removed");
        assert!(matches!(&d, Damage::Journal { removed: true, .. }));
        assert!(d.message(None).contains("v.db-wal was removed"));
        // The first damage stays, whatever the files do next.
        std::fs::write(t.path().join("v.db-wal"), b"y").expect("write");
        assert_eq!(g.check().expect_err("still"), d);

        let mut g = Guard::new(&db);
        std::fs::rename(t.path().join("v.db-shm"), &db).expect("replace");
        assert!(matches!(
            g.check().expect_err("replaced"),
            Damage::Database { removed: false, .. }
        ));
    }
}
