//! Answers opens of the virtual files, each on the blocking pool so that one slow
//! decision never holds up another reader, and repairs watched mount points.

use std::path::PathBuf;

use openv_mount::OpenRequest;
use tokio::sync::mpsc::UnboundedReceiver;

use super::server::Shared;

pub async fn serve(mut requests: UnboundedReceiver<OpenRequest>, state: Shared) {
    while let Some(req) = requests.recv().await {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .answer_open(req);
        });
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
