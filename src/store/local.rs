//! Machine-local state kept in the embedded vault file: the read allow-list and the
//! mounts the agent owns. It stays local even when values move to a team backend.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::sqlite::SqliteVault;
use super::{StoreError, now};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub env: String,
    pub exe: String,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountRecord {
    pub path: String,
    pub env: String,
    pub mode: String,
    pub size: u64,
}

impl SqliteVault {
    /// Adds an allow rule; adding one that exists is not an error.
    pub fn add_rule(&mut self, env: &str, exe: &str) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        self.conn().execute(
            "INSERT OR IGNORE INTO rules(env_id, exe, created) VALUES (?1, ?2, ?3)",
            params![id, exe, now()],
        )?;
        Ok(())
    }

    pub fn remove_rule(&mut self, id: i64) -> Result<(), StoreError> {
        if self
            .conn()
            .execute("DELETE FROM rules WHERE id = ?1", [id])?
            == 0
        {
            return Err(StoreError::NoRule(id));
        }
        Ok(())
    }

    pub fn list_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT r.id, e.name, r.exe, r.created FROM rules r
             JOIN environments e ON e.id = r.env_id ORDER BY e.name, r.exe",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Rule {
                id: r.get(0)?,
                env: r.get(1)?,
                exe: r.get(2)?,
                created: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// True when `exe` may read `env`.
    pub fn is_allowed(&self, env: &str, exe: &str) -> Result<bool, StoreError> {
        let found = self
            .conn()
            .query_row(
                "SELECT 1 FROM rules r JOIN environments e ON e.id = r.env_id
                 WHERE e.name = ?1 AND r.exe = ?2",
                params![env, exe],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }

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

    pub fn forget_mount(&mut self, path: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM mounts WHERE path = ?1", [path])?;
        Ok(())
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
