//! `openv backup FILE` and `openv restore FILE`.

use std::path::Path;

use crate::agent::error::AgentError;
use crate::agent::health;
use crate::agent::state::State;
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response, WireSecret};
use crate::store::sqlite::SqliteVault;
use crate::store::{Backend, StoreError};

/// A consistent copy of the vault at the new file `to`, sealed as the vault is.
pub fn backup(st: &mut State, to: &Path) -> Result<Response, AgentError> {
    if !to.is_absolute() {
        return Err(AgentError::invalid(format!(
            "{} is relative: give an absolute path",
            to.display()
        )));
    }
    if to.exists() {
        return Err(AgentError::new(
            ErrorCode::Exists,
            format!(
                "{} exists: choose a new file name (a backup never overwrites)",
                to.display()
            ),
        ));
    }
    health::vault_health(st)?;
    st.vault()?.backup_to(to)?;
    tracing::info!(to = %to.display(), "vault backed up");
    Ok(Response::Done)
}

/// Replaces the vault with the copy at `from`, which `secret` must open (its own key
/// slots). The current vault is copied first (`before-restore`); the copy is refused
/// unless it is an intact openv vault. Human tier (see the router).
pub fn restore(
    st: &mut State,
    from: &Path,
    secret: WireSecret,
    proven: bool,
) -> Result<Response, AgentError> {
    let intact = st.home.vault().exists()
        && st.vault().is_ok_and(|v| v.slot_kinds().is_ok())
        && health::damage(st).is_none();
    if intact && !proven {
        return Err(AgentError::needs_human("restoring the vault from a copy"));
    }
    let secret = super::vault::slot_secret(secret);
    let mut copy = SqliteVault::inspect(from)?;
    copy.unlock(&secret)?;
    let vault = st.home.vault();
    if vault.exists() && st.vault().is_ok() {
        health::auto_backup(st, "before-restore");
    }
    let staged = vault.with_file_name(".vault.db.restoring");
    let _ = std::fs::remove_file(&staged);
    copy.backup_to(&staged)?;
    drop(copy);
    // Closing the connection checkpoints and removes its WAL; what is left of a replaced
    // file's journal must not be read with the restored one.
    st.lock_vault();
    st.vault = None;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", vault.display()));
    }
    std::fs::rename(&staged, &vault).map_err(|source| StoreError::Io {
        what: vault.display().to_string(),
        source,
    })?;
    if let Some(dir) = vault.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    st.vault()?.unlock(&secret)?;
    // Rules and grants of the old file must not carry over.
    st.approvals.rules_changed();
    st.approvals.on_lock();
    crate::agent::contents::refresh_all(st);
    tracing::warn!(from = %from.display(), "vault restored");
    st.audit(Event::new(EventKind::Unlock).detail("vault restored from a backup"));
    Ok(Response::Done)
}
