//! The records of the mounts the agent owns (restored after a restart), kept in the
//! embedded vault file. Machine-local, like the rules.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::sqlite::SqliteVault;
use super::time::now;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountRecord {
    pub path: String,
    pub env: String,
    pub mode: String,
    pub size: u64,
}

impl SqliteVault {
    pub fn record_mount(&mut self, path: &str, env: &str, mode: &str) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        self.conn().execute(
            "INSERT INTO mounts(path, env_id, mode, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(path) DO UPDATE SET env_id = excluded.env_id, mode = excluded.mode",
            params![path, id, mode, now()],
        )?;
        Ok(())
    }

    pub fn set_mount_size(&mut self, path: &str, size: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE mounts SET size = ?1 WHERE path = ?2",
            params![size as i64, path],
        )?;
        Ok(())
    }

    /// Removes the record; false when there was none.
    pub fn forget_mount(&mut self, path: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM mounts WHERE path = ?1", [path])?
            > 0)
    }

    pub fn list_mounts(&self) -> Result<Vec<MountRecord>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT m.path, e.name, m.mode, m.size FROM mounts m
             JOIN environments e ON e.id = m.env_id ORDER BY m.path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(MountRecord {
                path: r.get(0)?,
                env: r.get(1)?,
                mode: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The environment's last change (unix seconds), used as the file's mtime.
    pub fn env_updated(&self, env: &str) -> Result<i64, StoreError> {
        self.conn()
            .query_row(
                "SELECT updated FROM environments WHERE name = ?1",
                [env],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NoEnvironment(env.to_owned()))
    }
}
