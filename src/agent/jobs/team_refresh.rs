//! Refreshes the shared environments in the background (see docs/team.md).

use crate::agent::requests::team;
use crate::agent::state::Shared;
use crate::remote::sync;

/// Refreshes every shared environment every `refresh`: the fetches run on the blocking
/// pool without the state lock, the results are applied under it.
pub async fn run(state: Shared, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every.max(std::time::Duration::from_millis(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let due = team::team_due(&mut crate::agent::state::lock(&st));
            for (link, remote) in due {
                let result = sync::fetch(&remote, &link);
                let mut guard = crate::agent::state::lock(&st);
                // The link may have changed (unlinked, synced) while fetching.
                let current = guard
                    .vault()
                    .ok()
                    .and_then(|v| v.link_of(&link.env).ok().flatten());
                let Some(current) = current.filter(|c| c.remote == link.remote && c.path == link.path)
                else {
                    continue;
                };
                if let Err(e) = team::team_apply(&mut guard, &current, result) {
                    tracing::warn!(env = %link.env, error = %e, "refresh of a shared environment failed");
                }
            }
        })
        .await;
    }
}
