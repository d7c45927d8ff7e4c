//! Forgets pending requests whose processes exited, and grants of exited processes.

use std::time::Duration;

use crate::agent::state::{Shared, State, with_state};
use crate::approvals::{DenyCause, Verdict, describe};

pub async fn run(state: Shared) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        // Nothing waiting and no grants (the usual idle agent): no need for the pool.
        let idle = state
            .try_lock()
            .is_ok_and(|st| st.approvals.pending.is_empty() && st.approvals.grants.is_empty());
        if idle {
            continue;
        }
        let _ = with_state(&state, reap_exited).await;
    }
}

pub fn reap_exited(st: &mut State) {
    for item in st
        .approvals
        .pending
        .prune_exited(describe::waiting_reader_alive)
    {
        tracing::info!(id = item.id, env = %item.env, pid = item.reader.pid, "pending request dropped: its process exited or is being killed");
        item.settle(&Verdict::deny(
            DenyCause::Person,
            "the process exited or was interrupted while waiting",
        ));
    }
    st.approvals.grants.prune_exited();
}
