//! The vault's health, its copies and putting one back: what `openv status` and
//! `openv verify` report about the file, `openv backup`, `openv restore`, and the
//! scheduled automatic copies.

use std::path::Path;
use std::time::Duration;

use super::state::{OpError, State};
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response};
use crate::store::sqlite::SqliteVault;
use crate::store::{Backend, SlotSecret, StoreError, backup};

impl State {
    /// `Err` when the vault's files changed under the agent or fail the quick check; a
    /// missing vault is not damage.
    pub(super) fn vault_health(&mut self) -> Result<(), StoreError> {
        let rescue = self.home.backups();
        self.vault()?.health(&rescue)
    }

    /// What `openv status` shows as damage: the message with its remedy, if any.
    pub(super) fn damage(&mut self) -> Option<String> {
        match self.vault_health() {
            Ok(()) | Err(StoreError::NoVault(_)) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// `openv backup FILE`: a consistent copy, sealed as the vault is.
    pub(super) fn backup(&mut self, to: &Path) -> Result<Response, OpError> {
        if !to.is_absolute() {
            return Err(OpError::Other(
                ErrorCode::InvalidInput,
                format!("{} is relative: give an absolute path", to.display()),
            ));
        }
        if to.exists() {
            return Err(OpError::Other(
                ErrorCode::Exists,
                format!(
                    "{} exists: choose a new file name (a backup never overwrites)",
                    to.display()
                ),
            ));
        }
        self.vault_health()?;
        self.vault()?.backup_to(to)?;
        tracing::info!(to = %to.display(), "vault backed up");
        Ok(Response::Done)
    }

    /// Takes an automatic copy when the newest is older than `backup_every`. Never fails
    /// the caller: a copy that cannot be made is logged.
    pub fn backup_if_due(&mut self) {
        let dir = self.home.backups();
        if !self.home.vault().exists() || !backup::due(&dir, self.config.backup_every) {
            return;
        }
        self.auto_backup("scheduled");
    }

    fn auto_backup(&mut self, why: &str) {
        let dir = self.home.backups();
        let keep = self.config.backup_keep;
        let made = self
            .vault()
            .and_then(|v| backup::rotate(v.conn(), &dir, why, keep));
        match made {
            Ok(p) => tracing::info!(to = %p.display(), why, "automatic vault backup"),
            Err(e) => tracing::warn!(error = %e, why, "automatic vault backup failed"),
        }
    }

    /// `openv restore FILE`. HUMAN TIER: it replaces every value and rule, so it needs
    /// what unlock needs (the vault passphrase or key file), checked against the
    /// copy's own key slots; issue 10's proof of the human replaces this check.
    /// The current vault is copied first (`before-restore`), and the copy is refused
    /// unless it is an intact openv vault that this secret opens.
    pub(super) fn restore(
        &mut self,
        from: &Path,
        secret: &SlotSecret,
    ) -> Result<Response, OpError> {
        let mut copy = SqliteVault::inspect(from)?;
        copy.unlock(secret)?;
        let vault = self.home.vault();
        if vault.exists() && self.vault().is_ok() {
            self.auto_backup("before-restore");
        }
        let staged = vault.with_file_name(".vault.db.restoring");
        let _ = std::fs::remove_file(&staged);
        copy.backup_to(&staged)?;
        drop(copy);
        // Closing the connection checkpoints and removes its WAL; what is left of a
        // replaced file's journal must not be read with the restored one.
        self.lock();
        self.vault = None;
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
        self.vault()?.unlock(secret)?;
        // Rules and grants of the old file must not carry over.
        self.approvals.rules_changed();
        self.approvals.on_lock();
        self.refresh_all();
        tracing::warn!(from = %from.display(), "vault restored");
        self.audit(Event::new(EventKind::Unlock).detail("vault restored from a backup"));
        Ok(Response::Done)
    }
}

/// Takes the scheduled copies: checks hourly (or at `every`, if shorter).
pub async fn scheduled_backups(state: super::server::Shared, every: Duration) {
    let tick = every.clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .backup_if_due();
        })
        .await;
    }
}
