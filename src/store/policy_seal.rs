//! The seal over the whole policy: every rule (as it was when openv last wrote it) and
//! each environment's agent policy, kept as one `sealed_state` record under the policy key.
//!
//! Loading compares the table with the seal. Anything that does not match (a row edited,
//! inserted, deleted or moved to another environment, the seal removed or forged) fails
//! closed: no allow rule is used, every deny rule is (those of the table and those of the
//! seal), and agent-started readers are denied where the seal cannot say otherwise. The
//! human ends that state with a proof (`openv policy confirm`). A change made through
//! openv while the policy does not verify leaves the seal as it is, so it cannot launder
//! what was found.

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::mac_keys::{MacKey, Purpose};
use super::rules::{self, Effect, Row, Rule};
use super::sealed_state::Record;
use super::sqlite::SqliteVault;

/// The `sealed_state` key of the policy seal.
const KEY: &str = "policy";

/// Whether readers an AI agent started may be asked about (`ask`) or are refused at once
/// (`deny`) in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentPolicy {
    #[default]
    Ask,
    Deny,
}

impl AgentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ask" => Some(Self::Ask),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct SealedRule {
    env_id: String,
    rule: Rule,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Seal {
    rules: Vec<SealedRule>,
    /// Environment id -> policy; absent = `ask`.
    agents: BTreeMap<String, AgentPolicy>,
}

/// What loading the policy found, and what the approvals may use.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The rules to evaluate: all of them when the policy verifies; otherwise only deny
    /// rules.
    pub rules: Vec<Rule>,
    /// Environment name -> agent policy (absent = `ask`, unless `agents_denied`).
    pub agents: HashMap<String, AgentPolicy>,
    /// The seal is missing or forged: agent-started readers are denied everywhere.
    pub agents_denied: bool,
    /// What does not verify, one line each; empty when the policy is intact.
    pub problems: Vec<String>,
    /// Allow rules present in the table and not used.
    pub ignored: Vec<i64>,
}

impl Policy {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn agent_policy(&self, env: &str) -> AgentPolicy {
        if self.agents_denied {
            return AgentPolicy::Deny;
        }
        self.agents.get(env).copied().unwrap_or_default()
    }

    /// One line for `openv status`: what was found and what to do.
    pub fn summary(&self) -> Option<String> {
        (!self.intact()).then(|| {
            format!(
                "policy does not verify: {}; allow rules are not used ({} ignored) and deny rules are kept; if you made these changes, run `openv policy confirm` (needs you), else restore the vault from a backup",
                self.problems.join("; "),
                self.ignored.len()
            )
        })
    }
}

fn describe(r: &Rule) -> String {
    format!(
        "{} rule #{} ({} for {})",
        r.effect.as_str(),
        r.id,
        r.exe,
        r.env
    )
}

fn read_seal(v: &SqliteVault) -> Result<Result<Seal, String>, StoreError> {
    Ok(match v.sealed_get(Purpose::Policy, KEY)? {
        Record::Valid(json) => {
            serde_json::from_str(&json).map_err(|_| "the policy seal cannot be read".to_owned())
        }
        Record::Forged => Err("the policy seal was changed outside openv".to_owned()),
        Record::Missing => Err(
            "the policy is not sealed (a vault from before sealing, or the seal was removed)"
                .to_owned(),
        ),
    })
}

fn check(key: &MacKey, rows: &[Row], seal: &Result<Seal, String>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = seal {
        problems.push(e.clone());
    }
    for row in rows {
        if !rules::verifies(key, row) {
            problems.push(format!(
                "{} was edited or added outside openv",
                describe(&row.rule)
            ));
        }
    }
    if let Ok(seal) = seal {
        let sealed: HashMap<i64, &SealedRule> = seal.rules.iter().map(|s| (s.rule.id, s)).collect();
        for row in rows {
            match sealed.get(&row.rule.id) {
                None if rules::verifies(key, row) => problems.push(format!(
                    "{} is not in the sealed set (put back from elsewhere)",
                    describe(&row.rule)
                )),
                // A row with a valid tag that differs from the seal: an older row put back.
                Some(s)
                    if (s.env_id != row.env_id || s.rule != unnamed(&row.rule))
                        && rules::verifies(key, row) =>
                {
                    problems.push(format!(
                        "{} differs from its sealed form",
                        describe(&row.rule)
                    ));
                }
                _ => {}
            }
        }
        let present: std::collections::HashSet<i64> = rows.iter().map(|r| r.rule.id).collect();
        for s in &seal.rules {
            if !present.contains(&s.rule.id) {
                problems.push(format!("{} was deleted outside openv", describe(&s.rule)));
            }
        }
    }
    problems
}

/// A rule as the seal keeps it: without its environment's name, which a rename changes.
fn unnamed(r: &Rule) -> Rule {
    Rule {
        env: String::new(),
        ..r.clone()
    }
}

fn env_names(conn: &Connection) -> Result<HashMap<String, String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, name FROM environments")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl SqliteVault {
    /// The policy the approvals may use, checked against its seal. Needs the vault
    /// unlocked.
    pub fn load_policy(&self) -> Result<Policy, StoreError> {
        let key = self.mac_key(Purpose::Policy)?;
        let rows = rules::rows(self.conn())?;
        let seal = read_seal(self)?;
        let problems = check(&key, &rows, &seal);
        let names = env_names(self.conn())?;
        let agents = match &seal {
            Ok(s) => s
                .agents
                .iter()
                .filter_map(|(id, p)| Some((names.get(id)?.clone(), *p)))
                .collect(),
            Err(_) => HashMap::new(),
        };
        if problems.is_empty() {
            return Ok(Policy {
                rules: rows.into_iter().map(|r| r.rule).collect(),
                agents,
                ..Policy::default()
            });
        }
        // Fail closed: every deny rule anyone can show, no allow rule.
        let mut kept: Vec<Rule> = rows
            .iter()
            .filter(|r| r.rule.effect == Effect::Deny)
            .map(|r| r.rule.clone())
            .collect();
        if let Ok(s) = &seal {
            for sr in s.rules.iter().filter(|sr| sr.rule.effect == Effect::Deny) {
                let mut r = sr.rule.clone();
                if let Some(name) = names.get(&sr.env_id) {
                    r.env.clone_from(name);
                }
                if !kept.contains(&r) {
                    kept.push(r);
                }
            }
        }
        let ignored = rows
            .iter()
            .filter(|r| r.rule.effect == Effect::Allow)
            .map(|r| r.rule.id)
            .collect();
        Ok(Policy {
            rules: kept,
            agents_denied: seal.is_err(),
            agents,
            problems,
            ignored,
        })
    }

    /// Runs a change of the rules table in one transaction and reseals the set, but only
    /// if the policy verified before the change (otherwise the seal is left as it is).
    pub(crate) fn change_policy<T>(
        &mut self,
        f: impl FnOnce(&Connection, &MacKey) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = self.mac_key(Purpose::Policy)?;
        let before = self.load_policy()?;
        let seal = read_seal(self)?.unwrap_or_default();
        let tx = self.conn_mut().unchecked_transaction()?;
        let out = f(&tx, &key)?;
        if before.intact() {
            write_seal(&tx, &key, &rules::rows(&tx)?, seal.agents)?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Seals the policy of a new vault: no rules, every environment `ask`.
    pub(crate) fn seal_new_policy(&self) -> Result<(), StoreError> {
        let key = self.mac_key(Purpose::Policy)?;
        write_seal(self.conn(), &key, &[], BTreeMap::new())
    }

    /// Sets an environment's agent policy. Refused while the policy does not verify.
    pub fn set_agent_policy(&mut self, env: &str, policy: AgentPolicy) -> Result<(), StoreError> {
        let env_id = self.env_id(env)?;
        let before = self.load_policy()?;
        if let Some(why) = before.summary() {
            return Err(StoreError::PolicyBroken(why));
        }
        let mut seal = read_seal(self)?.unwrap_or_default();
        match policy {
            AgentPolicy::Ask => seal.agents.remove(&env_id),
            AgentPolicy::Deny => seal.agents.insert(env_id, policy),
        };
        let key = self.mac_key(Purpose::Policy)?;
        write_seal(self.conn(), &key, &rules::rows(self.conn())?, seal.agents)
    }

    /// The human accepts the rules table as it is now (`openv policy confirm`): deny rules
    /// deleted outside openv are put back from the seal, every row is tagged again, and the
    /// set resealed. Agent policies come from a valid seal, else every environment is
    /// `deny` (the tightest; the human loosens it with `openv policy agents`). Returns what
    /// was found before.
    pub fn confirm_policy(&mut self) -> Result<Vec<String>, StoreError> {
        let key = self.mac_key(Purpose::Policy)?;
        let before = self.load_policy()?;
        let seal = read_seal(self)?;
        let tx = self.conn_mut().unchecked_transaction()?;
        let rows = rules::rows(&tx)?;
        let present: std::collections::HashSet<i64> = rows.iter().map(|r| r.rule.id).collect();
        let envs = env_names(&tx)?;
        let agents = match &seal {
            Ok(s) => {
                for sr in &s.rules {
                    if sr.rule.effect == Effect::Deny
                        && !present.contains(&sr.rule.id)
                        && envs.contains_key(&sr.env_id)
                    {
                        rules::insert(&tx, &key, &sr.env_id, &sr.rule)?;
                    }
                }
                s.agents.clone()
            }
            Err(_) => envs
                .keys()
                .map(|id| (id.clone(), AgentPolicy::Deny))
                .collect(),
        };
        for row in rules::rows(&tx)? {
            let tag = rules::tag_of(&key, &row.rule, &row.env_id);
            tx.execute(
                "UPDATE rules SET mac = ?1 WHERE id = ?2",
                rusqlite::params![tag.as_slice(), row.rule.id],
            )?;
        }
        write_seal(&tx, &key, &rules::rows(&tx)?, agents)?;
        tx.commit()?;
        Ok(before.problems)
    }
}

fn write_seal(
    conn: &Connection,
    key: &MacKey,
    rows: &[Row],
    agents: BTreeMap<String, AgentPolicy>,
) -> Result<(), StoreError> {
    let envs = env_names(conn)?;
    let seal = Seal {
        rules: rows
            .iter()
            .map(|r| SealedRule {
                env_id: r.env_id.clone(),
                rule: unnamed(&r.rule),
            })
            .collect(),
        // An environment deleted since is dropped with its rules.
        agents: agents
            .into_iter()
            .filter(|(id, _)| envs.contains_key(id))
            .collect(),
    };
    let json = serde_json::to_string(&seal).map_err(|e| StoreError::Db(e.to_string()))?;
    super::sealed_state::put_with(conn, key, KEY, &json)
}
