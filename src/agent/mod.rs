//! The per-user agent: the only process that holds decrypted values.

mod consent;
pub mod daemon;
mod hardening;
mod mount_ops;
mod prompts;
mod reads;
pub mod server;
pub mod state;
mod team;

use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    let watcher = match crate::mounts::watch::MountWatcher::new(changed_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch mount points; removed FIFOs will not be recreated");
            None
        }
    };
    let sink = crate::mounts::sink::OpenSink::new(open_tx);
    let mounts = crate::mounts::Mounts::new(sink.clone());
    let state = Arc::new(Mutex::new(State::new(
        home.clone(),
        config.clone(),
        mounts,
        watcher,
    )));
    sink.attach(&state);
    {
        let st = state.clone();
        tokio::task::spawn_blocking(move || {
            st.lock()
                .unwrap_or_else(|p| p.into_inner())
                .restore_mounts()
        })
        .await
        .context("restoring mounts")?;
    }
    let reads = tokio::spawn(reads::serve(open_rx, state.clone()));
    let repairs = tokio::spawn(reads::repair(changed_rx, state.clone()));
    let reaper = tokio::spawn(reads::reap(state.clone()));
    let idle = tokio::spawn(idle_lock(state.clone(), config.idle_lock));
    let team = tokio::spawn(team::refresh_loop(state.clone(), config.team.refresh));
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
    team.abort();
    repairs.abort();
    reaper.abort();
    let mounts = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.lock();
        st.mounts.take_all()
    };
    // Unmount outside the lock: a pending open may be waiting for it.
    tokio::task::spawn_blocking(move || {
        for m in mounts {
            let path = m.path().to_owned();
            drop(m);
            mount_ops::remove_placeholder(&path);
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

fn start(
    home: &Home,
    launch: Launch,
) -> anyhow::Result<(
    interprocess::local_socket::tokio::Listener,
    daemon::PidLock,
    Config,
)> {
    home.prepare()?;
    match launch {
        Launch::Foreground => crate::logging::to_stderr("info"),
        Launch::Daemon => crate::logging::to_file(&home.log_file())
            .with_context(|| format!("cannot open log file {}", home.log_file().display()))?,
    }
    let config = Config::load_with_env(&home.config())?;
    let lock = daemon::acquire(home)?;
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

/// Wipes the key once nothing has used the vault for `idle`.
async fn idle_lock(state: server::Shared, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        // Never wait for the lock on the runtime's thread: a busy state is not idle anyway.
        let locked = match state.try_lock() {
            Ok(mut st) => st.lock_if_idle(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().lock_if_idle(),
            Err(std::sync::TryLockError::WouldBlock) => false,
        };
        if locked {
            info!(
                idle_secs = idle.as_secs(),
                "vault locked after idle timeout"
            );
        }
    }
}
