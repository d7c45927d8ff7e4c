//! Waiting for a person's answer to a pending request, bounded by its timeout.

use crate::agent::state::{Shared, with_state};
use crate::approvals::{Asked, DenyCause, Verdict};

/// Shows the prompt if it is new, then waits for its answer; nobody answering in time
/// is a denial.
pub async fn for_person(state: &Shared, asked: Asked) -> Verdict {
    if let Some(job) = asked.job {
        crate::agent::dialogs::spawn(state.clone(), job);
    }
    match tokio::time::timeout(asked.timeout, asked.rx).await {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(_)) => Verdict::deny(DenyCause::Person, "the request was dropped"),
        Err(_) => {
            let id = asked.id;
            let timed_out = || {
                Verdict::deny(
                    DenyCause::Person,
                    "nobody answered before the prompt timeout",
                )
            };
            let _ = with_state(state, move |st| {
                if let Some(item) = st.approvals.pending.take(id) {
                    item.settle(&timed_out());
                }
            })
            .await;
            timed_out()
        }
    }
}
