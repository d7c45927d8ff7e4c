//! Policy rules, kept in the embedded vault file. Machine-local: they stay here even
//! when values move to a team backend.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::sqlite::SqliteVault;
use super::time::now;

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
}
