//! Answers opens of the virtual files. Each open is decided on the blocking pool; one
//! that needs a person waits here, without holding the state lock, until the prompt or
//! the queue answers or the timeout denies it. Also repairs watched mount points.

use std::path::PathBuf;

use openv_mount::OpenRequest;
use tokio::sync::mpsc::UnboundedReceiver;

use super::mount_ops::Wait;
use super::prompts;
use super::server::Shared;
use crate::approvals::Verdict;
use crate::approvals::pending::Outcome;

pub async fn serve(mut requests: UnboundedReceiver<OpenRequest>, state: Shared) {
    while let Some(req) = requests.recv().await {
        let state = state.clone();
        tokio::spawn(async move { one(req, state).await });
    }
}

/// What the first look at an open found.
enum First {
    Begun(Option<(OpenRequest, Wait)>),
    /// The vault is locked and a passphrase prompt may unlock it first.
    Locked(OpenRequest, prompts::LockedPlan),
}

async fn one(mut req: OpenRequest, state: Shared) {
    let st = state.clone();
    let first = tokio::task::spawn_blocking(move || {
        // /proc reads for a prompt, before the state lock.
        req.load_details();
        let mut st = st.lock().unwrap_or_else(|p| p.into_inner());
        match prompts::locked_plan(&mut st) {
            prompts::LockedPlan::Proceed => First::Begun(st.begin_open(req)),
            plan => First::Locked(req, plan),
        }
    })
    .await;
    let begun = match first {
        Ok(First::Begun(b)) => b,
        Ok(First::Locked(req, plan)) => {
            prompts::unlock_for_read(&state, plan).await;
            let st = state.clone();
            tokio::task::spawn_blocking(move || {
                st.lock().unwrap_or_else(|p| p.into_inner()).begin_open(req)
            })
            .await
            .ok()
            .flatten()
        }
        // A panic dropped the request, which denies it.
        Err(_) => None,
    };
    let Some((req, wait)) = begun else {
        return;
    };
    let env = wait.env.clone();
    let verdict = wait_for_person(&state, wait).await;
    let _ = tokio::task::spawn_blocking(move || {
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finish_open(req, &env, verdict)
    })
    .await;
}

/// Shows the prompt if it is new, then waits for its answer, bounded by the timeout.
pub async fn wait_for_person(state: &Shared, wait: Wait) -> Verdict {
    if let Some(job) = wait.job {
        prompts::spawn(state.clone(), job);
    }
    match tokio::time::timeout(wait.timeout, wait.rx).await {
        Ok(Ok(Outcome::Allow { because, .. })) => Verdict::Allow { because },
        Ok(Ok(Outcome::Deny { reason })) => Verdict::Deny { reason },
        Ok(Err(_)) => Verdict::Deny {
            reason: "the request was dropped".into(),
        },
        Err(_) => {
            let st = state.clone();
            let id = wait.id;
            let _ = tokio::task::spawn_blocking(move || {
                st.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .expire_prompt(id)
            })
            .await;
            Verdict::Deny {
                reason: "nobody answered before the prompt timeout".into(),
            }
        }
    }
}

/// Forgets pending requests whose processes exited, and grants of exited processes.
pub async fn reap(state: Shared) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tick.tick().await;
        // Nothing waiting and no grants (the usual idle agent): no need for the pool.
        let idle = state
            .try_lock()
            .is_ok_and(|st| st.approvals.pending.is_empty() && st.approvals.grants.is_empty());
        if idle {
            continue;
        }
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            st.lock().unwrap_or_else(|p| p.into_inner()).reap_exited()
        })
        .await;
    }
}

pub async fn repair(mut changed: UnboundedReceiver<PathBuf>, state: Shared) {
    while let Some(path) = changed.recv().await {
        // Coalesce a burst of events (rm + mkfifo fire several) into one check.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut paths = vec![path];
        while let Ok(p) = changed.try_recv() {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            for p in paths {
                st.repair(&p);
            }
        })
        .await;
    }
}
