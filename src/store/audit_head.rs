//! The vault's record of the audit log's last seal (`sealed_state` key `audit_head`,
//! under the audit key), the mark that a vault was upgraded from before sealing, and the
//! sealed records a new vault starts with.

use rusqlite::params;

use super::error::StoreError;
use super::mac_keys::{Purpose, SETTINGS_KEY};
use super::sealed_state::Record;
use super::sealed_state::put_with;
use super::sqlite::SqliteVault;
use crate::audit::VaultHead;
use crate::audit::seal::{HEAD_KEY, SealPoint};

use super::schema::AUDIT_UPGRADE_MARK as UPGRADE_MARK;

impl SqliteVault {
    /// The last seal as the vault recorded it; needs the vault unlocked.
    pub fn audit_head(&self) -> Result<VaultHead, StoreError> {
        Ok(match self.sealed_get(Purpose::Audit, HEAD_KEY)? {
            Record::Missing => VaultHead::Missing,
            Record::Forged => VaultHead::Forged,
            Record::Valid(v) => {
                SealPoint::from_json(&v).map_or(VaultHead::Forged, VaultHead::Sealed)
            }
        })
    }

    pub fn put_audit_head(&self, point: &SealPoint) -> Result<(), StoreError> {
        self.sealed_put(Purpose::Audit, HEAD_KEY, &point.to_json())
    }

    /// Whether this vault was upgraded from before sealing and has not been sealed yet;
    /// the mark is removed by [`Self::put_first_audit_head`].
    pub fn audit_never_sealed(&self) -> Result<bool, StoreError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM meta WHERE key = ?1",
            params![UPGRADE_MARK],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// The first record of an upgraded vault, and the end of its upgrade mark, in one
    /// transaction.
    pub fn put_first_audit_head(&mut self, point: &SealPoint) -> Result<(), StoreError> {
        let mac = self.mac_key(Purpose::Audit)?;
        let tx = self.conn_mut().transaction()?;
        put_with(&tx, &mac, HEAD_KEY, &point.to_json())?;
        tx.execute("DELETE FROM meta WHERE key = ?1", params![UPGRADE_MARK])?;
        tx.commit()?;
        Ok(())
    }

    /// The records a new vault starts with, in one transaction, so a removed record is
    /// always noticed: the audit head at seq 0 and an empty settings record.
    pub(crate) fn seal_new_records(&mut self) -> Result<(), StoreError> {
        let audit = self.mac_key(Purpose::Audit)?;
        let settings = self.mac_key(Purpose::Settings)?;
        let tx = self.conn_mut().transaction()?;
        put_with(&tx, &audit, HEAD_KEY, &SealPoint::genesis().to_json())?;
        put_with(&tx, &settings, SETTINGS_KEY, "{}")?;
        tx.commit()?;
        Ok(())
    }
}
