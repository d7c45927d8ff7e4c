//! FUSE sessions that ended while the agent runs: the watchdog aborted their connections
//! while the agent was stopped, or someone unmounted the file. Each is mounted again, so
//! readers are served without any command.

use std::path::PathBuf;
use std::time::Duration;

use openv_mount::Mode;
use tracing::{info, warn};

use crate::agent::state::{Shared, State, with_state};

const TICK: Duration = Duration::from_millis(250);

pub async fn run(state: Shared) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A look under try_lock: the usual tick finds nothing to do and takes no thread.
        let Ok(ended) = state.try_lock().map(|st| st.mounts.ended_sessions()) else {
            continue;
        };
        if !ended.is_empty() {
            let _ = with_state(&state, move |st| remount(st, &ended)).await;
        }
    }
}

/// Mounts again each path whose session ended, as a restore at start does.
fn remount(st: &mut State, paths: &[PathBuf]) {
    for path in paths {
        let Some(env) = st.mounts.env_of(path).map(str::to_owned) else {
            continue;
        };
        if let Some(old) = st.mounts.take(path) {
            // Ended: no open is pending on it, and a reader still holding the file gets
            // a lazy unmount.
            let _ = old.suspend();
        }
        let _ = openv_mount::clean_stale(path);
        match st.mounts.start(path, &env, Mode::Fuse) {
            Ok(_) => {
                crate::agent::contents::refresh_path(st, path, &env);
                info!(path = %path.display(), env = %env, "FUSE session had ended: mounted again");
            }
            Err(e) => {
                warn!(path = %path.display(), error = %e, "FUSE session had ended: cannot mount again");
                st.mounts.mark_broken(path, &env, "fuse", e.to_string());
            }
        }
    }
}
