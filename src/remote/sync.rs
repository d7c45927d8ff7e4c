//! Fetching a shared environment into the sealed cache, deciding what may be served
//! when the server cannot be reached, and writing changes with check-and-set.
//!
//! A fetch is split in two so the agent can run the network part without its state
//! lock: `fetch` (network only) and `apply` (vault only).

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::change::Change;
use super::client::{Fetched, Remote};
use super::error::RemoteError;
use super::kv::Patch;
use super::mapping::EnvData;
use crate::secret::SecretValue;
use crate::store::sqlite::SqliteVault;
use crate::store::team::{CacheKey, Link};
use crate::store::{StoreError, now};

/// What to do with cached values when the server cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stale {
    /// Serve, and warn in `openv status`, the MCP health tool and the audit log.
    Warn,
    /// Serve without a warning.
    Serve,
    /// Refuse reads until the server answers again.
    Fail,
}

impl Stale {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "warn" => Self::Warn,
            "serve" => Self::Serve,
            "fail" => Self::Fail,
            _ => return None,
        })
    }
}

/// The `[team]` settings of config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A cache younger than this is fresh.
    pub ttl: Duration,
    /// The background refresh runs this often.
    pub refresh: Duration,
    pub stale: Stale,
    /// Beyond this age reads fail, whatever `stale` says.
    pub max_stale: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(4 * 3600),
            refresh: Duration::from_secs(15 * 60),
            stale: Stale::Warn,
            max_stale: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What a refresh did, for the audit log and `openv sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Fetched {
        version: u64,
        variables: u64,
    },
    NamesOnly {
        version: u64,
        names: u64,
    },
    Purged {
        reason: String,
    },
    /// The server could not be reached; `refused`: reads now fail.
    Stale {
        error: String,
        refused: bool,
    },
}

/// The network half of a refresh.
pub type FetchResult = Result<(CacheKey, Fetched), RemoteError>;

pub fn fetch(remote: &Remote, link: &Link) -> FetchResult {
    let cluster_id = remote.cluster_id()?;
    let fetched = remote.fetch_path(&link.path)?;
    let identity = remote.identity().unwrap_or_default();
    Ok((
        CacheKey {
            cluster_id,
            identity,
        },
        fetched,
    ))
}

/// The vault half of a refresh: store what came, or decide what a failure means.
pub fn apply(
    vault: &mut SqliteVault,
    link: &Link,
    result: FetchResult,
    policy: &Policy,
) -> Result<Outcome, StoreError> {
    let env = &link.env;
    match result {
        Ok((key, Fetched::Full(secret))) => {
            let until = now() + policy.max_stale.as_secs() as i64;
            // A write acknowledged while this fetch was in flight is newer: keep it.
            if secret.version >= link.version || link.refuse.is_some() {
                vault.cache_store(env, &key, secret.version, &secret.data, until)?;
            }
            Ok(Outcome::Fetched {
                version: secret.version,
                variables: secret.data.values.len() as u64,
            })
        }
        Ok((key, Fetched::NamesOnly { version, names })) => {
            vault.cache_names_only(env, &key, version, &names)?;
            Ok(Outcome::NamesOnly {
                version,
                names: names.len() as u64,
            })
        }
        Err(e) if e.is_revocation() => {
            let reason = format!(
                "{e}: the cached values were purged; once access is restored run `openv sync {env}`"
            );
            vault.cache_purge(env, &reason)?;
            Ok(Outcome::Purged { reason })
        }
        Err(e) => {
            let error = e.to_string();
            let refuse = if link.fetched.is_none() {
                Some(format!(
                    "never fetched from {} ({error}): run `openv sync {env}` once it is reachable",
                    link.server
                ))
            } else if policy.stale == Stale::Fail {
                Some(format!(
                    "the server is unreachable and stale = \"fail\" ({error}): reads resume when it answers (`openv sync {env}`)"
                ))
            } else {
                None
            };
            vault.cache_failed(env, &error, refuse.as_deref())?;
            Ok(Outcome::Stale {
                error,
                refused: refuse.is_some(),
            })
        }
    }
}

/// Both halves at once, for a caller that holds the vault (`openv sync`, link).
pub fn refresh(
    vault: &mut SqliteVault,
    remote: &Remote,
    link: &Link,
    policy: &Policy,
) -> Result<Outcome, StoreError> {
    let result = fetch(remote, link);
    apply(vault, link, result, policy)
}

/// Whether a linked environment is being served from a cache that is not fresh: the
/// last refresh failed, or it is older than the ttl.
pub fn is_stale(link: &Link, policy: &Policy) -> bool {
    if link.names_only || link.refuse.is_some() {
        return false;
    }
    let old = link
        .fetched
        .is_none_or(|f| now() - f > policy.ttl.as_secs() as i64);
    old || link.error.is_some()
}

/// How many times a write re-reads and retries after losing a check-and-set race.
const CAS_ATTEMPTS: usize = 8;

/// Pauses before re-reading when a read after a lost check-and-set race came from a
/// node behind the one that refused it (OpenBao standbys serve reads from their copy).
const STALE_READ_PAUSES: [Duration; 4] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
];

/// Writes `change` to the server with check-and-set on the cached version, then updates
/// the cache. On a lost race the latest version is read: if any name this change touches
/// changed there, the write stops with a message naming it; otherwise the change is
/// re-applied on top and retried. Unreachable: fails at once, nothing changes.
pub fn write(
    vault: &mut SqliteVault,
    remote: &Remote,
    link: &Link,
    change: &Change,
    policy: &Policy,
) -> Result<Vec<String>, StoreError> {
    let env = &link.env;
    let fail = |e: RemoteError| {
        StoreError::Remote(format!(
            "cannot change {env} on {}: {e}; nothing was changed",
            link.server
        ))
    };
    // The base is what this machine last saw; a damaged or missing cache is re-read.
    let (mut base, mut version) = match (link.fetched, vault.cache_load(env)) {
        (Some(_), Ok(data)) if link.refuse.is_none() => (data, link.version),
        (_, Err(StoreError::Locked)) => return Err(StoreError::Locked),
        _ => {
            let (data, v) = fetch_latest(vault, remote, link, policy).map_err(fail)?;
            (data, v)
        }
    };
    let touched: Vec<&str> = change.names();
    for _ in 0..CAS_ATTEMPTS {
        let (next, meta_patch) = change.apply(&base).map_err(|e| match e {
            StoreError::NoVariable { name, .. } => StoreError::NoVariable {
                env: env.clone(),
                name,
            },
            e => e,
        })?;
        let result = if version == 0 {
            // No secret yet (or deleted): create it whole, only if still absent.
            let values: Vec<(&str, Option<&SecretValue>)> = next
                .values
                .iter()
                .map(|(n, v)| (n.as_str(), Some(v)))
                .collect();
            let meta = serde_json::to_value(&next.meta).unwrap_or_default();
            remote.write_path(&link.path, &Patch { values, meta }, Some(0))
        } else {
            let values: Vec<(&str, Option<&SecretValue>)> = touched
                .iter()
                .filter(|n| !matches!(change, Change::Declare(_)) || next.value(n).is_some())
                .filter(|_| !matches!(change, Change::Declare(_)))
                .map(|n| (*n, next.value(n)))
                .collect();
            remote.patch_path(
                &link.path,
                &Patch {
                    values,
                    meta: meta_patch,
                },
                version,
            )
        };
        match result {
            Ok(v) => {
                vault.cache_written(env, v, &next)?;
                return Ok(touched.iter().map(|s| (*s).to_owned()).collect());
            }
            Err(RemoteError::CasMismatch { .. }) => {
                // The server holds a version past `version`; a node that answers with
                // one at or before it is a standby that has not caught up: ask again.
                // (0: the secret's metadata was deleted meanwhile; created anew below.)
                let behind = |v: u64| v != 0 && v <= version;
                let mut fetched = fetch_latest(vault, remote, link, policy).map_err(fail)?;
                for pause in STALE_READ_PAUSES {
                    if !behind(fetched.1) {
                        break;
                    }
                    std::thread::sleep(pause);
                    fetched = fetch_latest(vault, remote, link, policy).map_err(fail)?;
                }
                let (latest, v) = fetched;
                if behind(v) {
                    return Err(StoreError::Remote(format!(
                        "cannot change {env} on {}: the server refused version {version} as outdated but every answer since was at most that version (a standby that is not catching up?); nothing was written: try again, or run `openv sync {env}`",
                        link.server
                    )));
                }
                // A write retried after its answer was lost (a node failed over mid-call)
                // finds itself already there: that is success, not a conflict.
                if change.is_in(&latest) {
                    tracing::info!(%env, version = v, "the change is already on the server");
                    return Ok(touched.iter().map(|s| (*s).to_owned()).collect());
                }
                if let Some(name) = touched.iter().find(|n| changed(&base, &latest, n)) {
                    return Err(StoreError::Remote(format!(
                        "{name} in {env} was changed on the server by someone else since this machine last synced (now version {v}): nothing was written; the cache now holds their value: check it (`openv var list -e {env}`) and set {name} again"
                    )));
                }
                tracing::info!(%env, version = v, "check-and-set conflict on other keys: re-applying");
                base = latest;
                version = v;
            }
            Err(e) => return Err(fail(e)),
        }
    }
    Err(StoreError::Remote(format!(
        "cannot change {env}: the server's copy kept changing ({CAS_ATTEMPTS} check-and-set conflicts in a row); nothing was written: try again"
    )))
}

/// Reads the latest version into the cache and returns it.
fn fetch_latest(
    vault: &mut SqliteVault,
    remote: &Remote,
    link: &Link,
    policy: &Policy,
) -> Result<(EnvData, u64), RemoteError> {
    match fetch(remote, link) {
        Ok((key, Fetched::Full(secret))) => {
            let until = now() + policy.max_stale.as_secs() as i64;
            // A lagging standby's older copy never replaces a newer cache. A cache
            // write failure here is not the server's: report it plainly.
            let cached = vault
                .link_of(&link.env)
                .ok()
                .flatten()
                .map_or(0, |l| l.version);
            if secret.version >= cached {
                vault
                    .cache_store(&link.env, &key, secret.version, &secret.data, until)
                    .map_err(|e| RemoteError::Config(e.to_string()))?;
            }
            Ok((secret.data, secret.version))
        }
        Ok((_, Fetched::NamesOnly { .. })) => Err(RemoteError::Denied {
            url: link.server.clone(),
            what: format!(
                "the values of {} (this token may list names only)",
                link.path
            ),
            status: 403,
        }),
        // A secret that does not exist yet is version 0: the write creates it.
        Err(RemoteError::NotFound { .. }) => Ok((EnvData::default(), 0)),
        Err(e) => Err(e),
    }
}

/// Whether `name` differs between two versions (value or presence).
fn changed(base: &EnvData, latest: &EnvData, name: &str) -> bool {
    match (base.value(name), latest.value(name)) {
        (None, None) => {
            base.meta.declared.contains_key(name) != latest.meta.declared.contains_key(name)
        }
        (Some(a), Some(b)) => a.expose() != b.expose(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ValueSource;

    fn data(pairs: &[(&str, &str)]) -> EnvData {
        EnvData {
            values: pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), SecretValue::new((*v).to_owned())))
                .collect(),
            ..EnvData::default()
        }
    }

    #[test]
    fn a_set_patches_only_its_names_and_clears_a_declaration() {
        let mut base = data(&[("A", "1"), ("B", "2")]);
        base.meta.declared.insert("C".into(), 1);
        let ch = Change::Set {
            vars: vec![("C".into(), SecretValue::new("3".into()))],
            source: ValueSource::User,
        };
        let (next, patch) = ch.apply(&base).expect("apply");
        assert_eq!(next.names(), ["A", "B", "C"]);
        assert!(next.meta.declared.is_empty());
        assert!(patch["declared"]["C"].is_null());
        assert!(patch["vars"]["C"]["updated"].is_number());
        assert!(patch["vars"].get("A").is_none(), "untouched names stay out");
    }

    #[test]
    fn conflicts_are_per_name() {
        let base = data(&[("A", "1"), ("B", "2")]);
        let latest = data(&[("A", "1"), ("B", "9")]);
        assert!(!changed(&base, &latest, "A"));
        assert!(changed(&base, &latest, "B"));
        assert!(changed(&base, &data(&[]), "A"));
    }

    #[test]
    fn a_change_already_on_the_server_is_recognised() {
        let set = |v: &str| Change::Set {
            vars: vec![("A".into(), SecretValue::new(v.into()))],
            source: ValueSource::User,
        };
        let latest = data(&[("A", "1")]);
        assert!(set("1").is_in(&latest));
        assert!(!set("2").is_in(&latest));
        assert!(Change::Declare(vec!["A".into()]).is_in(&latest));
        assert!(!Change::Remove(vec!["A".into()]).is_in(&latest));
        assert!(Change::Remove(vec!["B".into()]).is_in(&latest));
    }

    #[test]
    fn removing_an_unknown_name_is_an_error() {
        let e = Change::Remove(vec!["NOPE".into()])
            .apply(&data(&[]))
            .expect_err("unknown");
        assert!(e.to_string().contains("NOPE"));
    }
}
