//! Watched mount directories: a FIFO that was removed or replaced is recreated, and a
//! changed openv.toml or package.json refreshes what its mounts know of the project.

use std::path::{Path, PathBuf};

use openv_mount::Mode;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::warn;

use crate::agent::state::{Shared, State, with_state};
use crate::mount_table::prepare::{self, Existing};

pub async fn run(mut changed: UnboundedReceiver<PathBuf>, state: Shared) {
    while let Some(path) = changed.recv().await {
        // Coalesce a burst of events (rm + mkfifo fire several) into one check.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut paths = vec![path];
        while let Ok(p) = changed.try_recv() {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        let _ = with_state(&state, move |st| {
            for p in paths {
                st.mounts.project_file_changed(&p);
                repair(st, &p);
            }
        })
        .await;
    }
}

/// A watched path changed: recreate a FIFO that was removed or replaced.
pub fn repair(st: &mut State, path: &Path) {
    let Some(env) = st.mounts.env_of(path).map(str::to_owned) else {
        return;
    };
    let is_fifo_mount = st.mounts.mode_of(path) == Some(Mode::Fifo);
    if !is_fifo_mount || prepare::inspect(path) == Existing::Fifo {
        return;
    }
    warn!(path = %path.display(), "the FIFO was removed or replaced: recreating it");
    if let Some(old) = st.mounts.take(path) {
        drop(old);
    }
    match prepare::inspect(path) {
        Existing::Missing => match st.mounts.start(path, &env, Mode::Fifo) {
            Ok(_) => crate::agent::contents::refresh_path(st, path, &env),
            Err(e) => st.mounts.mark_broken(path, &env, "fifo", e.to_string()),
        },
        _ => st.mounts.mark_broken(
            path,
            &env,
            "fifo",
            "something else now occupies the path: run `openv unmount` and mount again".into(),
        ),
    }
}
