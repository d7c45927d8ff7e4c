//! Takes the scheduled copies of the vault: checks hourly (or at `every`, if shorter).

use std::time::Duration;

use crate::agent::state::{Shared, with_state};

pub async fn run(state: Shared, every: Duration) {
    let tick = every.clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        let _ = with_state(&state, crate::agent::health::backup_if_due).await;
    }
}
