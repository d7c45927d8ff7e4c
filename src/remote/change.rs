//! A change to a shared environment (set, declare, remove): what it makes of the
//! contents, the KV v2 merge patch that makes it, and whether it is already there.

use super::mapping::{EnvData, VarMeta};
use crate::secret::SecretValue;
use crate::store::{StoreError, ValueSource, now};

/// A change to a shared environment.
#[derive(Debug)]
pub enum Change {
    Set {
        vars: Vec<(String, SecretValue)>,
        source: ValueSource,
    },
    Declare(Vec<String>),
    Remove(Vec<String>),
}

impl Change {
    pub(super) fn names(&self) -> Vec<&str> {
        match self {
            Self::Set { vars, .. } => vars.iter().map(|(n, _)| n.as_str()).collect(),
            Self::Declare(n) | Self::Remove(n) => n.iter().map(String::as_str).collect(),
        }
    }

    /// Whether `data` already holds exactly what this change makes of its names.
    pub(super) fn is_in(&self, data: &EnvData) -> bool {
        match self {
            Self::Set { vars, .. } => vars
                .iter()
                .all(|(n, v)| data.value(n).is_some_and(|d| d.expose() == v.expose())),
            Self::Declare(names) => names
                .iter()
                .all(|n| data.value(n).is_some() || data.meta.declared.contains_key(n)),
            Self::Remove(names) => names
                .iter()
                .all(|n| data.value(n).is_none() && !data.meta.declared.contains_key(n)),
        }
    }

    /// The contents after this change, and the merge patch that makes it.
    pub(super) fn apply(&self, base: &EnvData) -> Result<(EnvData, serde_json::Value), StoreError> {
        let t = now();
        let mut next = EnvData {
            values: base
                .values
                .iter()
                .map(|(n, v)| (n.clone(), v.duplicate()))
                .collect(),
            meta: base.meta.clone(),
            skipped: Vec::new(),
        };
        next.meta.v = 1;
        let mut declared = serde_json::Map::new();
        let mut vars = serde_json::Map::new();
        match self {
            Self::Set { vars: set, source } => {
                for (name, value) in set {
                    next.values.retain(|(n, _)| n != name);
                    next.values.push((name.clone(), value.duplicate()));
                    next.meta.declared.remove(name);
                    let m = VarMeta {
                        updated: t,
                        source: Some(*source),
                    };
                    vars.insert(name.clone(), serde_json::to_value(&m).unwrap_or_default());
                    next.meta.vars.insert(name.clone(), m);
                    declared.insert(name.clone(), serde_json::Value::Null);
                }
            }
            Self::Declare(names) => {
                for name in names {
                    if base.value(name).is_none() && !base.meta.declared.contains_key(name) {
                        next.meta.declared.insert(name.clone(), t);
                        declared.insert(name.clone(), t.into());
                    }
                }
            }
            Self::Remove(names) => {
                for name in names {
                    let known = base.value(name).is_some() || base.meta.declared.contains_key(name);
                    if !known {
                        return Err(StoreError::NoVariable {
                            env: String::new(),
                            name: name.clone(),
                        });
                    }
                    next.values.retain(|(n, _)| n != name);
                    next.meta.declared.remove(name);
                    next.meta.vars.remove(name);
                    vars.insert(name.clone(), serde_json::Value::Null);
                    declared.insert(name.clone(), serde_json::Value::Null);
                }
            }
        }
        next.values.sort_by(|a, b| a.0.cmp(&b.0));
        let patch = serde_json::json!({"v": 1, "declared": declared, "vars": vars});
        Ok((next, patch))
    }
}
