//! The vault's health, as `openv status` and `openv verify` report it and as a refused
//! write explains it, and the automatic copies.

use crate::agent::state::State;
use crate::store::{StoreError, backup};

/// `Err` when the vault's files changed under the agent or fail the quick check; a
/// missing vault is not damage.
pub fn vault_health(st: &mut State) -> Result<(), StoreError> {
    let rescue = st.home.backups();
    st.vault()?.health(&rescue)
}

/// What `openv status` shows as damage: the message with its remedy, if any.
pub fn damage(st: &mut State) -> Option<String> {
    match vault_health(st) {
        Ok(()) | Err(StoreError::NoVault(_)) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// Takes an automatic copy when the newest is older than `backup_every`.
pub fn backup_if_due(st: &mut State) {
    if st.home.vault().exists() && backup::due(&st.home.backups(), st.config.backup_every) {
        auto_backup(st, "scheduled");
    }
}

/// An automatic copy named for `why`; never fails the caller (a failure is logged).
pub fn auto_backup(st: &mut State, why: &str) {
    let (dir, keep) = (st.home.backups(), st.config.backup_keep);
    match st
        .vault()
        .and_then(|v| backup::rotate(v.conn(), &dir, why, keep))
    {
        Ok(p) => tracing::info!(to = %p.display(), why, "automatic vault backup"),
        Err(e) => tracing::warn!(error = %e, why, "automatic vault backup failed"),
    }
}
