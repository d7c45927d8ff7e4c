//! The agent's loop over opens the fast path could not answer. Each open is decided on
//! the blocking pool; one that needs a person waits without holding the state lock, until
//! the prompt or the queue answers or the timeout denies it.

use openv_mount::OpenRequest;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{decide, unlock, wait};
use crate::agent::state::{Shared, lock, with_state};

pub async fn serve(mut requests: UnboundedReceiver<OpenRequest>, state: Shared) {
    while let Some(req) = requests.recv().await {
        let state = state.clone();
        tokio::spawn(async move { one(req, state).await });
    }
}

async fn one(mut req: OpenRequest, state: Shared) {
    let st = state.clone();
    let first = tokio::task::spawn_blocking(move || {
        // /proc reads for a prompt, before the state lock.
        req.load_details();
        let mut st = lock(&st);
        match unlock::plan(&mut st) {
            unlock::Plan::Proceed => Ok(decide::begin(&mut st, req)),
            // Unlock first (without the state lock), then begin.
            plan => Err(Box::new((req, plan))),
        }
    })
    .await;
    let begun = match first {
        Ok(Ok(begun)) => begun,
        Ok(Err(locked)) => {
            let (req, plan) = *locked;
            unlock::for_read(&state, plan).await;
            with_state(&state, move |st| decide::begin(st, req))
                .await
                .ok()
                .flatten()
        }
        // A panic dropped the request, which denies it.
        Err(_) => None,
    };
    let Some((req, asked)) = begun else {
        return;
    };
    let env = asked.env.clone();
    let verdict = wait::for_person(&state, asked).await;
    let _ = with_state(&state, move |st| decide::finish(st, req, &env, verdict)).await;
}
