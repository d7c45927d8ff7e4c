//! The per-user agent: the only process that holds decrypted values.
//!
//! Read top-down: [`run`] wires the parts; `server` accepts connections and hands each
//! request to `router`, which maps it to a handler in `requests/` (one file per subject);
//! `reads/` is the path of one read of a mount, start to end; `contents` is what the
//! mounts serve; `jobs/` are the background loops; `state` is the data they share.

mod contents;
pub mod daemon;
mod dialogs;
mod error;
mod guarded;
mod hardening;
mod health;
mod jobs;
mod peer_check;
pub mod pidlock;
mod provenance;
mod reads;
mod requests;
mod restore;
pub mod router;
pub mod server;
pub mod state;
mod surfaces;
pub mod unit;
pub mod watchdog;
mod withheld;

use std::sync::{Arc, Mutex};

use anyhow::Context;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;

use crate::config::Config;
use crate::paths::Home;
use state::State;

/// How the agent was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// `openv agent --foreground`: logs to stderr, stays attached.
    Foreground,
    /// Spawned by a client: detach, log to a file, report readiness on stdout.
    Daemon,
}

/// Runs the agent until SIGTERM/SIGINT. Returns once the socket is removed.
pub async fn run(home: Home, launch: Launch) -> anyhow::Result<()> {
    hardening::harden();
    if launch == Launch::Daemon {
        daemon::detach();
    }
    let started = start(&home, launch);
    let (listener, lock, config) = match started {
        Ok(v) => {
            if launch == Launch::Daemon {
                daemon::report_ready(Ok(()));
            }
            v
        }
        Err(e) => {
            if launch == Launch::Daemon {
                daemon::report_ready(Err(format!("{e:#}")));
            }
            return Err(e);
        }
    };
    info!(pid = std::process::id(), socket = %home.socket().display(), "openv agent listening");

    let (open_tx, open_rx) = tokio::sync::mpsc::unbounded_channel();
    let (changed_tx, changed_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = match crate::mount_table::watch::MountWatcher::new(changed_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch mount points; removed FIFOs will not be recreated");
            None
        }
    };
    let fast_path = reads::fast_path::FastPath::new(open_tx);
    let mounts = crate::mount_table::Mounts::new(Arc::new(fast_path.clone()), watcher);
    let state = Arc::new(Mutex::new(State::new(home.clone(), config.clone(), mounts)));
    fast_path.attach(&state);
    start_watchdog(&home, launch, &config, &state);
    state::with_state(&state, restore::restore_mounts)
        .await
        .context("restoring mounts")?;
    let reads = tokio::spawn(reads::serve::serve(open_rx, state.clone()));
    let repairs = tokio::spawn(jobs::repair::run(changed_rx, state.clone()));
    let reaper = tokio::spawn(jobs::reaper::run(state.clone()));
    let idle = tokio::spawn(jobs::idle_lock::run(state.clone(), config.idle_lock));
    let backups = tokio::spawn(jobs::backups::run(state.clone(), config.backup_every));
    let team = tokio::spawn(jobs::team_refresh::run(state.clone(), config.team.refresh));
    let sessions = tokio::spawn(jobs::fuse_sessions::run(state.clone()));
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
    };
    server::serve(listener, state.clone(), shutdown).await;
    idle.abort();
    sessions.abort();
    backups.abort();
    team.abort();
    repairs.abort();
    reaper.abort();
    let mounts = {
        let mut st = state::lock(&state);
        st.lock_vault();
        st.mounts.take_all()
    };
    // Unmount outside the lock: a pending open may be waiting for it. The mounts stay
    // recorded and come back at the next start; until then each path says so.
    tokio::task::spawn_blocking(move || {
        for m in mounts {
            let path = m.path().to_owned();
            if let Err(e) = m.suspend() {
                tracing::warn!(path = %path.display(), error = %e, "unmount failed");
            }
        }
    })
    .await
    .ok();
    reads.abort();
    let _ = std::fs::remove_file(home.socket());
    drop(lock);
    info!("openv agent stopped");
    Ok(())
}

/// Starts the watchdog that ends the waits of FUSE readers while we are stopped, after
/// `request_timeout` (a client's deadline too). Without it `openv status` says why.
fn start_watchdog(home: &Home, launch: Launch, config: &Config, state: &state::Shared) {
    let started = watchdog::fusectl::ensure().and_then(|()| {
        let log = match launch {
            Launch::Foreground => None,
            Launch::Daemon => std::fs::OpenOptions::new()
                .append(true)
                .open(home.log_file())
                .ok(),
        };
        watchdog::Watchdog::spawn(config.request_timeout, log)
            .map_err(|e| format!("cannot start the watchdog ({e}): a reader of a stopped agent waits until it continues"))
    });
    match started {
        Ok(w) => {
            info!(pid = w.pid(), "watchdog started");
            state::lock(state).mounts.set_watchdog(w);
        }
        Err(why) => {
            tracing::warn!("{why}");
            state::lock(state).mount_warning = Some(why);
        }
    }
}

fn start(
    home: &Home,
    launch: Launch,
) -> anyhow::Result<(
    interprocess::local_socket::tokio::Listener,
    pidlock::PidLock,
    Config,
)> {
    home.prepare()?;
    match launch {
        Launch::Foreground => crate::logging::to_stderr("info"),
        Launch::Daemon => crate::logging::to_file(&home.log_file())
            .with_context(|| format!("cannot open log file {}", home.log_file().display()))?,
    }
    let mut config = Config::load_with_env(&home.config())?;
    // Widening security settings in the file are not used (only the human widens).
    crate::security_settings::tighten_file(&mut config);
    let lock = pidlock::acquire(home)?;
    // We hold the lock, so a socket file left behind is stale: replace it.
    let _ = std::fs::remove_file(home.socket());
    let name = home
        .socket()
        .to_fs_name::<GenericFilePath>()
        .context("socket name")?;
    let listener = ListenerOptions::new()
        .name(name)
        .create_tokio()
        .with_context(|| format!("cannot listen on {}", home.socket().display()))?;
    Ok((listener, lock, config))
}
