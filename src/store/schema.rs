//! The vault's SQLite schema. `user_version` records which version a file has.

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;

/// 2: team environments (`remotes`, `remote_links`; see `store::team`).
/// 3: sealed trust state (`sealed_state`; rules carry a tag and may cover agent-started
/// readers).
pub const VERSION: i64 = 3;

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

/// Team environments (`store::remotes`, `store::team`).
const V2: &str = "
CREATE TABLE remotes (
    name      TEXT PRIMARY KEY,
    url       TEXT NOT NULL,
    kv_mount  TEXT NOT NULL,
    prefix    TEXT NOT NULL,
    auth      TEXT NOT NULL,
    principal TEXT,
    ca_pem    TEXT,
    nonce     BLOB NOT NULL,
    sealed    BLOB NOT NULL,
    created   INTEGER NOT NULL
);
-- One row per shared environment: where it lives and what the cache holds.
CREATE TABLE remote_links (
    env_id      TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
    remote      TEXT NOT NULL REFERENCES remotes(name),
    server      TEXT NOT NULL,
    path        TEXT NOT NULL,
    cluster_id  TEXT NOT NULL DEFAULT '',
    identity    TEXT NOT NULL DEFAULT '',
    version     INTEGER NOT NULL DEFAULT 0,
    fetched     INTEGER,
    checked     INTEGER,
    names_only  INTEGER NOT NULL DEFAULT 0,
    -- Set when reads must be refused (purged, names only, stale = fail, too old).
    refuse      TEXT,
    -- The last failure, for status; never a value.
    error       TEXT,
    -- Reads fail after this time (fetched + max_stale).
    serve_until INTEGER
);
";

/// `meta` key the migration to schema 3 sets: this vault has never been sealed, so its
/// first audit seal may create the record instead of reporting it missing
/// (`store::audit_head`).
pub(crate) const AUDIT_UPGRADE_MARK: &str = "audit_unsealed_upgrade";

/// Sealed trust state (`store::sealed_state`, `store::mac_keys`).
const V3: &str = "
-- Records of trust state, each with an HMAC under a key derived from the vault key.
CREATE TABLE sealed_state (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    mac     BLOB NOT NULL,
    updated INTEGER NOT NULL
);
-- 1: the rule also covers readers an AI agent started (`openv allow --agents`).
ALTER TABLE rules ADD COLUMN agents INTEGER NOT NULL DEFAULT 0;
-- The rule's tag (store::rules); NULL in a vault made before version 3.
ALTER TABLE rules ADD COLUMN mac BLOB;
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
    tx.execute_batch(V2)?;
    tx.execute_batch(V3)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Brings an older vault up to `VERSION` in one transaction, after a copy of it as it
/// was into `backups` (the rotation of `store::backup`); a newer one is refused by
/// `check`.
pub fn migrate(conn: &mut Connection, backups: &Path) -> Result<(), StoreError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if (1..VERSION).contains(&v) {
        super::backup::rotate(conn, backups, &format!("before-schema-{VERSION}"), 7)?;
        let tx = conn.transaction()?;
        if v < 2 {
            tx.execute_batch(V2)?;
        }
        tx.execute_batch(V3)?;
        // Sealing starts with this version: the first seal may create the audit record.
        tx.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, '1')",
            [AUDIT_UPGRADE_MARK],
        )?;
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
