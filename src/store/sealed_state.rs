//! `sealed_state`: small records of trust state (the policy seal, human-set settings, the
//! audit chain's head), each kept with an HMAC under its purpose's key.
//!
//! A same-uid process can delete or rewrite a row, but cannot make a tag that verifies:
//! a record reads back as [`Record::Valid`], [`Record::Forged`] or [`Record::Missing`],
//! and each caller decides what missing and forged mean for it (failing closed).

use rusqlite::{Connection, OptionalExtension, params};

use super::error::StoreError;
use super::mac_keys::{MacKey, Purpose};
use super::sqlite::SqliteVault;
use super::time::now;

/// What a record read back as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Valid(String),
    /// Present, but its tag does not verify (edited, copied from another key, made by
    /// hand).
    Forged,
    Missing,
}

fn parts<'a>(key: &'a str, value: &'a str) -> [&'a [u8]; 2] {
    [key.as_bytes(), value.as_bytes()]
}

impl SqliteVault {
    /// The key of `purpose` for this vault; needs the vault unlocked.
    pub fn mac_key(&self, purpose: Purpose) -> Result<MacKey, StoreError> {
        Ok(MacKey::derive(
            self.sealing_key()?,
            self.vault_id(),
            purpose,
        ))
    }

    /// Reads record `key`, checked with the key of `purpose`.
    pub fn sealed_get(&self, purpose: Purpose, key: &str) -> Result<Record, StoreError> {
        let mac = self.mac_key(purpose)?;
        let row: Option<(String, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT value, mac FROM sealed_state WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            None => Record::Missing,
            Some((value, tag)) if mac.verify(&parts(key, &value), &tag) => Record::Valid(value),
            Some(_) => Record::Forged,
        })
    }

    /// Writes record `key` with a fresh tag.
    pub fn sealed_put(&self, purpose: Purpose, key: &str, value: &str) -> Result<(), StoreError> {
        put_with(self.conn(), &self.mac_key(purpose)?, key, value)
    }
}

/// Writes record `key` tagged with `mac`, on `conn` (which may be a transaction).
pub(crate) fn put_with(
    conn: &Connection,
    mac: &MacKey,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    let tag = mac.tag(&parts(key, value));
    conn.execute(
        "INSERT INTO sealed_state(key, value, mac, updated) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, mac = excluded.mac, updated = excluded.updated",
        params![key, value, tag.as_slice(), now()],
    )?;
    Ok(())
}
