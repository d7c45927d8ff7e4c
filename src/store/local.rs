//! Machine-local state kept in the embedded vault file: policy rules and the mounts the
//! agent owns. It stays local even when values move to a team backend.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::sqlite::SqliteVault;
use super::{StoreError, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// A persistent rule: `exe` (absolute, resolved) may or may not read `env`, optionally
/// only when its working directory is under `cwd`, optionally until `expires`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub env: String,
    pub effect: Effect,
    pub exe: String,
    pub cwd: Option<String>,
    /// Unix seconds; `None` = until removed.
    pub expires: Option<i64>,
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
    /// Adds a rule and returns its id. An identical rule is replaced (new expiry).
    pub fn add_rule(
        &mut self,
        env: &str,
        effect: Effect,
        exe: &str,
        cwd: Option<&str>,
        expires: Option<i64>,
    ) -> Result<i64, StoreError> {
        let id = self.env_id(env)?;
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "DELETE FROM rules WHERE env_id = ?1 AND effect = ?2 AND exe = ?3 AND cwd IS ?4",
            params![id, effect.as_str(), exe, cwd],
        )?;
        tx.execute(
            "INSERT INTO rules(env_id, effect, exe, cwd, expires, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, effect.as_str(), exe, cwd, expires, now()],
        )?;
        let rid = tx.last_insert_rowid();
        tx.commit()?;
        Ok(rid)
    }

    pub fn remove_rule(&mut self, id: i64) -> Result<Rule, StoreError> {
        let rule = self
            .list_rules()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(StoreError::NoRule(id))?;
        self.conn()
            .execute("DELETE FROM rules WHERE id = ?1", [id])?;
        Ok(rule)
    }

    /// Every rule, expired ones included (they are shown as such and never match).
    pub fn list_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT r.id, e.name, r.effect, r.exe, r.cwd, r.expires, r.created FROM rules r
             JOIN environments e ON e.id = r.env_id ORDER BY e.name, r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Rule {
                id: r.get(0)?,
                env: r.get(1)?,
                effect: if r.get::<_, String>(2)? == "deny" {
                    Effect::Deny
                } else {
                    Effect::Allow
                },
                exe: r.get(3)?,
                cwd: r.get(4)?,
                expires: r.get(5)?,
                created: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
