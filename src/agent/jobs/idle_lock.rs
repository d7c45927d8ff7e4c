//! Wipes the key once nothing has used the vault for the configured idle time.

use std::sync::TryLockError;
use std::time::Duration;

use tracing::info;

use crate::agent::state::Shared;

pub async fn run(state: Shared, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        // Never wait for the lock on the runtime's thread: a busy state is not idle anyway.
        let locked = match state.try_lock() {
            Ok(mut st) => st.lock_if_idle(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().lock_if_idle(),
            Err(TryLockError::WouldBlock) => false,
        };
        if locked {
            info!(
                idle_secs = idle.as_secs(),
                "vault locked after idle timeout"
            );
        }
    }
}
