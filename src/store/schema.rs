//! The vault's SQLite schema. `user_version` records which version a file has.

use rusqlite::Connection;

use super::StoreError;

/// 2: team environments (`remotes`, `remote_links`; see `store::team`).
pub const VERSION: i64 = 2;

const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE key_slots (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    params  TEXT NOT NULL,
    nonce   BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE environments (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE variables (
    env_id     TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    nonce      BLOB,
    ciphertext BLOB,
    source     TEXT,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (env_id, name)
) WITHOUT ROWID;
-- Persistent policy: which executables may (or may never) read an environment.
CREATE TABLE rules (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    env_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    effect  TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
    exe     TEXT NOT NULL,
    cwd     TEXT,
    expires INTEGER,
    created INTEGER NOT NULL
);
-- Mounts the agent owns, restored when it starts. `size` is the last rendered length,
-- so st_size is right even before the vault is unlocked.
CREATE TABLE mounts (
    path    TEXT PRIMARY KEY,
    env_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    mode    TEXT NOT NULL,
    size    INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
";

/// Durable writes: an acknowledged transaction survives a crash of the agent.
pub fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

pub fn create(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute_batch(V1)?;
    tx.execute_batch(super::team::SCHEMA_V2)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Brings an older vault up to `VERSION` in one transaction; a newer one is refused by
/// `check`.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v == 1 {
        let tx = conn.transaction()?;
        tx.execute_batch(super::team::SCHEMA_V2)?;
        tx.pragma_update(None, "user_version", VERSION)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn check(conn: &Connection) -> Result<(), StoreError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    match v {
        VERSION => Ok(()),
        0 => Err(StoreError::Corrupt(
            "the file is not an openv vault (no schema): move it away and run `openv init`".into(),
        )),
        v => Err(StoreError::Corrupt(format!(
            "vault schema version {v} is newer than this openv understands ({VERSION}): upgrade openv"
        ))),
    }
}
