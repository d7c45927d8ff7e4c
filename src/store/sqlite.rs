//! The embedded vault: one SQLite file, values sealed under the vault key.
//!
//! One job, in one file on purpose: creating, opening and unlocking the vault and the
//! `Backend` calls over its single connection (each call one transaction). Rules and
//! mount records, which share the file, live in `rules.rs` and `mount_records.rs`.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rand::rngs::OsRng;
use rusqlite::{Connection, OptionalExtension, params};

use super::backend::Backend;
use super::crypto::{Sealed, VaultKey, value_aad};
use super::durability::{self, Damage, SharedGuard};
use super::error::StoreError;
use super::keyslot::{KeySlot, SlotKind, SlotParams, SlotSecret};
use super::schema;
use super::time::now;
use super::types::{EnvInfo, ValueSource, VarInfo};
use crate::names::{check_env_name, check_value_len, check_var_name};
use crate::paths::check_private;
use crate::render;
use crate::secret::SecretValue;

pub struct SqliteVault {
    path: PathBuf,
    conn: Connection,
    vault_id: String,
    key: Option<VaultKey>,
    /// Watches the files under `conn` (see `durability`).
    guard: SharedGuard,
    /// Where the last view of a replaced database was saved, once it was.
    rescued: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteVault")
            .field("path", &self.path)
            .field("unlocked", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl SqliteVault {
    /// Creates a new vault file (0600) with one key slot; the result is unlocked.
    pub fn create(path: &Path, secret: &SlotSecret) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::VaultExists(path.display().to_string()));
        }
        let key = VaultKey::generate();
        let vault_id = random_id();
        // Build the slot first: a bad key file must leave no half-made vault behind.
        let slot = KeySlot::create(&vault_id, secret, &key)?;
        // Create the file ourselves so it is 0600 from the first byte; SQLite gives its
        // WAL and shm files the same mode.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| StoreError::Io {
                what: format!("vault {}", path.display()),
                source: e,
            })?;
        let made = (|| {
            let mut conn = Connection::open(path)?;
            schema::configure(&conn)?;
            let guard = durability::install(&mut conn, path)?;
            schema::create(&mut conn)?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('vault_id', ?1), ('created', ?2)",
                params![vault_id, now().to_string()],
            )?;
            insert_slot(&tx, &slot)?;
            tx.commit()?;
            Ok::<_, StoreError>((conn, guard))
        })();
        match made {
            Ok((conn, guard)) => {
                let mut v = Self {
                    path: path.to_owned(),
                    conn,
                    vault_id,
                    key: Some(key),
                    guard,
                    rescued: None,
                };
                v.seal_new_policy()?;
                v.seal_new_records()?;
                Ok(v)
            }
            Err(e) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Err(e)
            }
        }
    }

    /// Opens an existing vault, locked. Refuses a file others can read.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::NoVault(path.display().to_string()));
        }
        check_private(path, "vault", "600")?;
        let mut conn = Connection::open(path)?;
        schema::configure(&conn)?;
        // The automatic copies live beside the vault (OPENV_HOME/backups).
        let backups = path.parent().unwrap_or(Path::new(".")).join("backups");
        schema::migrate(&mut conn, &backups)?;
        schema::check(&conn)?;
        let guard = durability::install(&mut conn, path)?;
        let vault_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("no vault id: {}", super::REMEDY)))?;
        Ok(Self {
            path: path.to_owned(),
            conn,
            vault_id,
            key: None,
            guard,
            rescued: None,
        })
    }

    /// Opens a file read-only to look at it (a backup before a restore): no hooks, no
    /// journal changes, nothing written.
    pub fn inspect(path: &Path) -> Result<Self, StoreError> {
        use rusqlite::OpenFlags;
        let not_vault = |why: String| {
            StoreError::Corrupt(format!(
                "{} is not an openv vault ({why}): nothing was changed",
                path.display()
            ))
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_vault(e.to_string()))?;
        schema::check(&conn).map_err(|e| not_vault(e.to_string()))?;
        quick_check(&conn).map_err(|e| not_vault(e.to_string()))?;
        let vault_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| not_vault(e.to_string()))?
            .ok_or_else(|| not_vault("no vault id".into()))?;
        Ok(Self {
            path: path.to_owned(),
            guard: std::sync::Arc::new(std::sync::Mutex::new(durability::Guard::new(path))),
            conn,
            vault_id,
            key: None,
            rescued: None,
        })
    }

    /// Whether the vault can be trusted: its files are the ones opened, and SQLite's
    /// quick check passes. A replaced database's last view is first saved under
    /// `rescue_dir`, so nothing the agent acknowledged is gone with it.
    pub fn health(&mut self, rescue_dir: &Path) -> Result<(), StoreError> {
        if let Err(d) = durability::check(&self.guard) {
            if matches!(d, Damage::Database { .. }) && self.rescued.is_none() {
                let to = rescue_dir.join(format!("vault-rescued-{}.db", now()));
                match super::backup::copy_to(&self.conn, &to) {
                    Ok(()) => self.rescued = Some(to),
                    Err(e) => tracing::error!(error = %e, "cannot save the replaced vault"),
                }
            }
            return Err(StoreError::Damaged(d.message(self.rescued.as_deref())));
        }
        quick_check(&self.conn)
    }

    /// A consistent copy of the vault at `to` (sealed as the vault is).
    pub fn backup_to(&self, to: &Path) -> Result<(), StoreError> {
        super::backup::copy_to(&self.conn, to)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn key(&self) -> Result<&VaultKey, StoreError> {
        self.key.as_ref().ok_or(StoreError::Locked)
    }

    pub(crate) fn sealing_key(&self) -> Result<&VaultKey, StoreError> {
        self.key()
    }

    pub(crate) fn vault_id(&self) -> &str {
        &self.vault_id
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn env_id(&self, env: &str) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT id FROM environments WHERE name = ?1", [env], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NoEnvironment(env.to_owned()))
    }

    fn slots(&self) -> Result<Vec<KeySlot>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, params, nonce, wrapped FROM key_slots ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, params, nonce, wrapped) = row?;
            let kind = match kind.as_str() {
                "passphrase" => SlotKind::Passphrase,
                "keyfile" => SlotKind::Keyfile,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "unknown key slot kind {other}"
                    )));
                }
            };
            let params: SlotParams = serde_json::from_str(&params)
                .map_err(|e| StoreError::Corrupt(format!("key slot parameters: {e}")))?;
            out.push(KeySlot {
                kind,
                params,
                wrapped: Sealed {
                    nonce,
                    ciphertext: wrapped,
                },
            });
        }
        Ok(out)
    }

    /// Kinds of the key slots, for status and error messages.
    /// Checks a secret against the key slots without changing anything: a proof of the
    /// human (the passphrase or the key file), locked or unlocked.
    pub fn prove(&self, secret: &SlotSecret) -> Result<(), StoreError> {
        self.open_slot(secret).map(drop)
    }

    /// The vault key, from the first slot of the secret's kind that it opens.
    fn open_slot(&self, secret: &SlotSecret) -> Result<VaultKey, StoreError> {
        let want = secret.kind();
        let slots = self.slots()?;
        let mut tried = false;
        for slot in slots.iter().filter(|s| s.kind == want) {
            tried = true;
            if let Some(key) = slot.unwrap_key(&self.vault_id, secret)? {
                return Ok(key);
            }
        }
        Err(match (want, tried) {
            (SlotKind::Passphrase, true) => {
                StoreError::WrongSecret("wrong passphrase: the vault stays locked; try again")
            }
            (SlotKind::Keyfile, true) => StoreError::WrongSecret(
                "this key file does not unlock this vault: check the path given to --keyfile or OPENV_KEYFILE",
            ),
            (SlotKind::Passphrase, false) => StoreError::WrongSecret(
                "this vault has no passphrase slot: unlock with `openv unlock --keyfile PATH`",
            ),
            (SlotKind::Keyfile, false) => StoreError::WrongSecret(
                "this vault has no key file slot: unlock with `openv unlock` and its passphrase",
            ),
        })
    }

    pub fn slot_kinds(&self) -> Result<Vec<SlotKind>, StoreError> {
        Ok(self.slots()?.into_iter().map(|s| s.kind).collect())
    }
}

/// SQLite's `quick_check`: "ok", or what is wrong and the way back.
fn quick_check(conn: &Connection) -> Result<(), StoreError> {
    let first: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    if first == "ok" {
        return Ok(());
    }
    Err(StoreError::Corrupt(format!(
        "the integrity check failed ({first}): {}",
        super::REMEDY
    )))
}

fn insert_slot(tx: &rusqlite::Transaction<'_>, slot: &KeySlot) -> Result<(), StoreError> {
    let params_json = serde_json::to_string(&slot.params)
        .map_err(|e| StoreError::Corrupt(format!("key slot parameters: {e}")))?;
    tx.execute(
        "INSERT INTO key_slots(kind, params, nonce, wrapped, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            slot.kind.as_str(),
            params_json,
            slot.wrapped.nonce,
            slot.wrapped.ciphertext,
            now()
        ],
    )?;
    Ok(())
}

/// Validates a batch before anything is written, so a bad entry changes nothing.
fn check_batch(vars: &[(String, SecretValue)]) -> Result<(), StoreError> {
    for (name, value) in vars {
        check_var_name(name)?;
        check_value_len(name, value.len())?;
        render::check_storable(value.expose()).map_err(|reason| StoreError::Unrepresentable {
            name: name.clone(),
            reason,
        })?;
    }
    Ok(())
}

impl Backend for SqliteVault {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn is_unlocked(&self) -> bool {
        self.key.is_some()
    }

    fn unlock(&mut self, secret: &SlotSecret) -> Result<(), StoreError> {
        // A damaged file is found now, not at the first read of a mount.
        quick_check(&self.conn)?;
        self.key = Some(self.open_slot(secret)?);
        Ok(())
    }

    fn lock(&mut self) {
        // VaultKey zeroizes on drop.
        self.key = None;
    }

    fn list_envs(&self) -> Result<Vec<EnvInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.name, e.created, e.updated, COUNT(v.name), COUNT(v.ciphertext)
             FROM environments e LEFT JOIN variables v ON v.env_id = e.id
             GROUP BY e.id ORDER BY e.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(EnvInfo {
                name: r.get(0)?,
                created: r.get(1)?,
                updated: r.get(2)?,
                variables: r.get::<_, i64>(3)? as u64,
                set: r.get::<_, i64>(4)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn create_env(&mut self, name: &str) -> Result<(), StoreError> {
        check_env_name(name)?;
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM environments WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::EnvironmentExists(name.to_owned()));
        }
        let t = now();
        tx.execute(
            "INSERT INTO environments(id, name, created, updated) VALUES (?1, ?2, ?3, ?3)",
            params![random_id(), name, t],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn rename_env(&mut self, old: &str, new: &str) -> Result<(), StoreError> {
        check_env_name(new)?;
        let id = self.env_id(old)?;
        let tx = self.conn.transaction()?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM environments WHERE name = ?1)",
            [new],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::EnvironmentExists(new.to_owned()));
        }
        // The ciphertexts are bound to the environment id, not its name: no re-sealing.
        tx.execute(
            "UPDATE environments SET name = ?1, updated = ?2 WHERE id = ?3",
            params![new, now(), id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn delete_env(&mut self, name: &str) -> Result<u64, StoreError> {
        let id = self.env_id(name)?;
        let delete = |tx: &Connection| -> Result<u64, StoreError> {
            let n = tx.execute("DELETE FROM variables WHERE env_id = ?1", [&id])?;
            tx.execute("DELETE FROM environments WHERE id = ?1", [&id])?;
            Ok(n as u64)
        };
        let has_rules: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM rules WHERE env_id = ?1)",
            [&id],
            |r| r.get(0),
        )?;
        if has_rules {
            // Its rules go with it (cascade): the policy seal is rewritten in step.
            return self.change_policy(|tx, _| delete(tx));
        }
        let tx = self.conn.transaction()?;
        let n = delete(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    fn list_vars(&self, env: &str) -> Result<Vec<VarInfo>, StoreError> {
        let id = self.env_id(env)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, ciphertext IS NOT NULL, updated, source FROM variables
             WHERE env_id = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([&id], |r| {
            Ok(VarInfo {
                name: r.get(0)?,
                has_value: r.get(1)?,
                updated: r.get(2)?,
                source: r
                    .get::<_, Option<String>>(3)?
                    .and_then(|s| ValueSource::parse(&s)),
                unreadable_by: Vec::new(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn declare_vars(&mut self, env: &str, names: &[String]) -> Result<Vec<String>, StoreError> {
        for n in names {
            check_var_name(n)?;
        }
        let id = self.env_id(env)?;
        super::shared_gate::refuse_if_linked(&self.conn, &id, env)?;
        let t = now();
        let tx = self.conn.transaction()?;
        let mut added = Vec::new();
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO variables(env_id, name, updated) VALUES (?1, ?2, ?3)",
            )?;
            for n in names {
                if ins.execute(params![id, n, t])? == 1 {
                    added.push(n.clone());
                }
            }
        }
        if !added.is_empty() {
            tx.execute(
                "UPDATE environments SET updated = ?1 WHERE id = ?2",
                params![t, id],
            )?;
        }
        tx.commit()?;
        Ok(added)
    }

    fn set_vars(
        &mut self,
        env: &str,
        vars: &[(String, SecretValue)],
        source: ValueSource,
    ) -> Result<(), StoreError> {
        check_batch(vars)?;
        let id = self.env_id(env)?;
        super::shared_gate::refuse_if_linked(&self.conn, &id, env)?;
        let key = self.key()?;
        let sealed: Vec<(&str, Sealed)> = vars
            .iter()
            .map(|(n, v)| {
                let aad = value_aad(&self.vault_id, &id, n, source == ValueSource::Human);
                (n.as_str(), key.seal(&aad, v.expose().as_bytes()))
            })
            .collect();
        let t = now();
        let tx = self.conn.transaction()?;
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO variables(env_id, name, nonce, ciphertext, source, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(env_id, name) DO UPDATE SET nonce = excluded.nonce,
                   ciphertext = excluded.ciphertext, source = excluded.source,
                   updated = excluded.updated",
            )?;
            for (n, s) in &sealed {
                up.execute(params![id, n, s.nonce, s.ciphertext, source.as_str(), t])?;
            }
        }
        tx.execute(
            "UPDATE environments SET updated = ?1 WHERE id = ?2",
            params![t, id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn remove_vars(&mut self, env: &str, names: &[String]) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        super::shared_gate::refuse_if_linked(&self.conn, &id, env)?;
        let tx = self.conn.transaction()?;
        {
            let mut del =
                tx.prepare_cached("DELETE FROM variables WHERE env_id = ?1 AND name = ?2")?;
            for n in names {
                if del.execute(params![id, n])? == 0 {
                    // Dropping the transaction rolls back the names already removed.
                    return Err(StoreError::NoVariable {
                        env: env.to_owned(),
                        name: n.clone(),
                    });
                }
            }
        }
        tx.execute(
            "UPDATE environments SET updated = ?1 WHERE id = ?2",
            params![now(), id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn read_values(&self, env: &str) -> Result<Vec<(String, SecretValue)>, StoreError> {
        let id = self.env_id(env)?;
        // A shared environment's cache may be refused (purged, stale = fail, too old).
        super::shared_gate::read_gate(&self.conn, &id, env)?;
        self.read_values_unchecked(env)
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        let e: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM environments", [], |r| r.get(0))?;
        let v: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM variables", [], |r| r.get(0))?;
        Ok((e as u64, v as u64))
    }
}

impl SqliteVault {
    /// Every set value of `env`, without the shared-environment gate.
    pub(crate) fn read_values_unchecked(
        &self,
        env: &str,
    ) -> Result<Vec<(String, SecretValue)>, StoreError> {
        let id = self.env_id(env)?;
        let key = self.key()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, nonce, ciphertext, source = 'human' FROM variables
             WHERE env_id = ?1 AND ciphertext IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([&id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<bool>>(3)?.unwrap_or(false),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, nonce, ciphertext, human) = row?;
            let aad = value_aad(&self.vault_id, &id, &name, human);
            let plain = key
                .open(&aad, &Sealed { nonce, ciphertext })
                .ok_or_else(|| StoreError::Tampered {
                    env: env.to_owned(),
                    name: name.clone(),
                })?;
            // Checked in place: a failed `String::from_utf8` would drop its copy unzeroed.
            let text = std::str::from_utf8(&plain)
                .map(str::to_owned)
                .map_err(|_| StoreError::Tampered {
                    env: env.to_owned(),
                    name: name.clone(),
                })?;
            out.push((name, SecretValue::new(text)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keyslot::create_keyfile;

    fn vault() -> (tempfile::TempDir, SqliteVault, PathBuf) {
        let t = tempfile::tempdir().expect("tempdir");
        let kf = t.path().join("key");
        create_keyfile(&kf).expect("keyfile");
        let v = SqliteVault::create(&t.path().join("v.db"), &SlotSecret::Keyfile(kf.clone()))
            .expect("create");
        (t, v, kf)
    }

    fn val(s: &str) -> SecretValue {
        SecretValue::new(s.into())
    }

    #[test]
    fn set_read_list_and_lock() {
        let (_t, mut v, kf) = vault();
        v.create_env("dev").expect("env");
        v.declare_vars("dev", &["B".into()]).expect("declare");
        v.set_vars("dev", &[("A".into(), val("one"))], ValueSource::User)
            .expect("set");
        let names: Vec<_> = v
            .list_vars("dev")
            .expect("list")
            .into_iter()
            .map(|i| (i.name, i.has_value))
            .collect();
        assert_eq!(names, [("A".into(), true), ("B".into(), false)]);
        let vals = v.read_values("dev").expect("read");
        assert_eq!(vals.len(), 1);
        assert_eq!(vals[0].1.expose(), "one");
        v.lock();
        assert!(matches!(v.read_values("dev"), Err(StoreError::Locked)));
        assert_eq!(v.list_vars("dev").expect("names while locked").len(), 2);
        v.unlock(&SlotSecret::Keyfile(kf)).expect("unlock");
        assert_eq!(v.read_values("dev").expect("read").len(), 1);
    }

    #[test]
    fn bad_batch_changes_nothing() {
        let (_t, mut v, _) = vault();
        v.create_env("dev").expect("env");
        let err = v
            .set_vars(
                "dev",
                &[("OK".into(), val("1")), ("1BAD".into(), val("2"))],
                ValueSource::User,
            )
            .expect_err("bad name");
        assert!(err.to_string().contains("1BAD"));
        assert!(v.list_vars("dev").expect("list").is_empty());
        let err = v
            .remove_vars("dev", &["NOPE".into()])
            .expect_err("unknown name");
        assert!(err.to_string().contains("NOPE"));
    }

    #[test]
    fn swapped_rows_are_tampering() {
        let (_t, mut v, _) = vault();
        v.create_env("dev").expect("env");
        v.set_vars(
            "dev",
            &[("A".into(), val("alpha")), ("B".into(), val("beta"))],
            ValueSource::User,
        )
        .expect("set");
        v.conn
            .execute_batch(
                "UPDATE variables SET ciphertext = (SELECT ciphertext FROM variables WHERE name='B'),
                 nonce = (SELECT nonce FROM variables WHERE name='B') WHERE name='A'",
            )
            .expect("swap");
        let err = v.read_values("dev").expect_err("tampered").to_string();
        assert!(
            err.contains("vault tampered") && err.contains(" A "),
            "{err}"
        );
    }

    #[test]
    fn rename_keeps_values_readable() {
        let (_t, mut v, _) = vault();
        v.create_env("dev").expect("env");
        v.set_vars("dev", &[("A".into(), val("x"))], ValueSource::User)
            .expect("set");
        v.rename_env("dev", "prod").expect("rename");
        assert_eq!(v.read_values("prod").expect("read")[0].1.expose(), "x");
        assert!(matches!(
            v.read_values("dev"),
            Err(StoreError::NoEnvironment(_))
        ));
        assert_eq!(v.delete_env("prod").expect("delete"), 1);
        assert_eq!(v.counts().expect("counts"), (0, 0));
    }
}
