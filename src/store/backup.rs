//! Copies of the vault: `openv backup FILE`, the rotating automatic ones under
//! OPENV_HOME/backups, and the file a restore puts in place.
//!
//! A copy is the vault file itself, made with SQLite's online backup API (consistent
//! while the agent runs): values stay sealed under the vault key, so a copy opens only
//! with the vault's key slots, as they were when it was made.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;

use super::{StoreError, now};

/// Prefix of the automatic copies; `openv backup FILE` names its own.
const AUTO: &str = "vault-";

fn io(what: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        what: what.display().to_string(),
        source,
    }
}

/// Writes a consistent copy of `from` to `to` (0600; a missing parent is made 0700).
/// The copy is complete or absent: it is written beside `to` and renamed into place.
pub fn copy_to(from: &Connection, to: &Path) -> Result<(), StoreError> {
    let dir = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let tmp = dir.join(format!(
        ".{}.{:08x}.tmp",
        to.file_name()
            .map_or("vault".into(), |n| n.to_string_lossy()),
        rand::random::<u32>()
    ));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let made = (|| {
        let mut out = Connection::open(&tmp)?;
        {
            let b = rusqlite::backup::Backup::new(from, &mut out)?;
            b.run_to_completion(256, Duration::ZERO, None)?;
        }
        // One self-contained file: no WAL beside the copy.
        out.pragma_update(None, "journal_mode", "DELETE")?;
        drop(out);
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        fs::rename(&tmp, to).map_err(io(to))?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok::<_, StoreError>(())
    })();
    if made.is_err() {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{suffix}", tmp.display()));
        }
    }
    made
}

/// The automatic copies in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(AUTO) && n.ends_with(".db")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Whether the newest automatic copy is older than `every` (or there is none).
pub fn due(dir: &Path, every: Duration) -> bool {
    let newest = list(dir)
        .last()
        .and_then(|p| fs::metadata(p).ok()?.modified().ok());
    newest.is_none_or(|t| t.elapsed().is_ok_and(|age| age >= every))
}

/// Takes an automatic copy named for `why` (daily, before-restore, ...) and keeps the
/// newest `keep`. Returns where it went.
pub fn rotate(
    from: &Connection,
    dir: &Path,
    why: &str,
    keep: usize,
) -> Result<PathBuf, StoreError> {
    crate::paths::ensure_private_dir(dir)?;
    let to = dir.join(format!("{AUTO}{}-{why}.db", now()));
    copy_to(from, &to)?;
    let all = list(dir);
    let extra = all.len().saturating_sub(keep.max(1));
    for old in &all[..extra] {
        if let Err(e) = fs::remove_file(old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot remove an old backup");
        }
    }
    // A copy made by an older release may be wider: the directory is ours alone.
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_rotate_and_are_private() {
        let t = tempfile::tempdir().expect("tempdir");
        let db = Connection::open(t.path().join("src.db")).expect("open");
        db.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE x(a); INSERT INTO x VALUES (7);")
            .expect("fill");
        let dir = t.path().join("backups");
        assert!(due(&dir, Duration::from_secs(3600)));
        let mut made = Vec::new();
        for i in 0..4 {
            made.push(rotate(&db, &dir, &format!("t{i}"), 2).expect("rotate"));
        }
        assert_eq!(list(&dir), made[2..]);
        assert!(!due(&dir, Duration::from_secs(3600)));
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&made[3]), 0o600);
        let copy = Connection::open(&made[3]).expect("copy");
        let a: i64 = copy
            .query_row("SELECT a FROM x", [], |r| r.get(0))
            .expect("row");
        assert_eq!(a, 7);
    }
}
