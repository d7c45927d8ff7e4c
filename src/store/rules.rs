//! Policy rules, kept in the embedded vault file. Machine-local: they stay here even
//! when values move to a team backend.
//!
//! Every row carries a tag under the policy key (`mac_keys::Purpose::Policy`) and the set
//! as a whole is sealed in `sealed_state` (`policy_seal`): an edited, inserted, deleted
//! or moved row is noticed when the rules are loaded. The table is written only through
//! these functions, which keep both in step.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::mac_keys::MacKey;
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

    fn parse(s: &str) -> Self {
        // Anything but "allow" narrows: a row edited to nonsense never widens.
        if s == "allow" {
            Self::Allow
        } else {
            Self::Deny
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
    /// The rule also covers readers an AI agent started (`--agents`); without it, an
    /// agent-started reader is never covered by this rule.
    #[serde(default)]
    pub agents: bool,
}

/// A row as stored: the rule, the id of its environment and its tag.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub rule: Rule,
    pub env_id: String,
    pub tag: Option<Vec<u8>>,
}

fn opt_str(v: Option<&str>) -> String {
    v.map_or_else(|| "-".to_owned(), |s| format!("+{s}"))
}

/// The parts a rule's tag covers: everything that decides what it matches, and the id of
/// its environment (not the name: a rename keeps the rule, a row moved to another
/// environment fails).
pub(crate) fn tag_parts(rule: &Rule, env_id: &str) -> Vec<Vec<u8>> {
    vec![
        b"rule".to_vec(),
        rule.id.to_string().into_bytes(),
        env_id.as_bytes().to_vec(),
        rule.effect.as_str().as_bytes().to_vec(),
        rule.exe.as_bytes().to_vec(),
        opt_str(rule.cwd.as_deref()).into_bytes(),
        opt_str(rule.expires.map(|t| t.to_string()).as_deref()).into_bytes(),
        rule.created.to_string().into_bytes(),
        [u8::from(rule.agents)].to_vec(),
    ]
}

pub(crate) fn tag_of(key: &MacKey, rule: &Rule, env_id: &str) -> [u8; 32] {
    let parts = tag_parts(rule, env_id);
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    key.tag(&refs)
}

pub(crate) fn verifies(key: &MacKey, row: &Row) -> bool {
    let parts = tag_parts(&row.rule, &row.env_id);
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    row.tag.as_deref().is_some_and(|t| key.verify(&refs, t))
}

/// What a new rule says.
#[derive(Debug, Clone)]
pub struct NewRule<'a> {
    pub env: &'a str,
    pub effect: Effect,
    pub exe: &'a str,
    pub cwd: Option<&'a str>,
    pub expires: Option<i64>,
    pub agents: bool,
}

/// Inserts a rule with its tag (the caller holds the transaction and reseals the set).
pub(crate) fn insert(
    conn: &Connection,
    key: &MacKey,
    env_id: &str,
    rule: &Rule,
) -> Result<(), StoreError> {
    let tag = tag_of(key, rule, env_id);
    conn.execute(
        "INSERT INTO rules(id, env_id, effect, exe, cwd, expires, created, agents, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            rule.id,
            env_id,
            rule.effect.as_str(),
            rule.exe,
            rule.cwd,
            rule.expires,
            rule.created,
            rule.agents,
            tag.as_slice()
        ],
    )?;
    Ok(())
}

pub(crate) fn rows(conn: &Connection) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, e.name, r.effect, r.exe, r.cwd, r.expires, r.created, r.agents, r.env_id, r.mac
         FROM rules r JOIN environments e ON e.id = r.env_id ORDER BY e.name, r.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Row {
            rule: Rule {
                id: r.get(0)?,
                env: r.get(1)?,
                effect: Effect::parse(&r.get::<_, String>(2)?),
                exe: r.get(3)?,
                cwd: r.get(4)?,
                expires: r.get(5)?,
                created: r.get(6)?,
                agents: r.get::<_, i64>(7)? != 0,
            },
            env_id: r.get(8)?,
            tag: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl SqliteVault {
    /// Adds a rule and returns its id. An identical rule is replaced (new expiry). Needs
    /// the vault unlocked: the rule is tagged and the set resealed.
    pub fn add_rule(&mut self, new: &NewRule<'_>) -> Result<i64, StoreError> {
        let env_id = self.env_id(new.env)?;
        self.change_policy(|conn, key| {
            conn.execute(
                "DELETE FROM rules WHERE env_id = ?1 AND effect = ?2 AND exe = ?3 AND cwd IS ?4 AND agents = ?5",
                params![env_id, new.effect.as_str(), new.exe, new.cwd, new.agents],
            )?;
            let id: i64 = conn.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM sqlite_sequence WHERE name = 'rules'",
                [],
                |r| r.get(0),
            )?;
            // Never below a row already there (a hand-inserted id above the sequence).
            let above: i64 =
                conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM rules", [], |r| r.get(0))?;
            let rule = Rule {
                id: id.max(above),
                env: new.env.to_owned(),
                effect: new.effect,
                exe: new.exe.to_owned(),
                cwd: new.cwd.map(str::to_owned),
                expires: new.expires,
                created: now(),
                agents: new.agents,
            };
            insert(conn, key, &env_id, &rule)?;
            Ok(rule.id)
        })
    }

    pub fn remove_rule(&mut self, id: i64) -> Result<Rule, StoreError> {
        let rule = self
            .list_rules()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(StoreError::NoRule(id))?;
        self.change_policy(|conn, _| {
            conn.execute("DELETE FROM rules WHERE id = ?1", [id])?;
            Ok(())
        })?;
        Ok(rule)
    }

    /// Every rule in the table, expired ones included (they are shown as such and never
    /// match). What the approvals may use is [`SqliteVault::load_policy`]'s answer.
    pub fn list_rules(&self) -> Result<Vec<Rule>, StoreError> {
        Ok(rows(self.conn())?.into_iter().map(|r| r.rule).collect())
    }
}
