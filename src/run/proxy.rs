//! The masking proxy: runs the command as a child whose captured stdout/stderr pass
//! through the masker, forwards signals to it, and returns its exit code.

use std::io::{IsTerminal, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use zeroize::Zeroizing;

use super::error::RunError;
use super::mask::{Patterns, StreamMasker};

/// Which of openv's output streams are masked (the others are inherited as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    pub stdout: bool,
    pub stderr: bool,
}

/// After the command exits, output of processes it left behind is waited for until
/// the pipes have been quiet this long.
const DRAIN_QUIET: Duration = Duration::from_millis(500);

const FORWARDED: [(SignalKind, Signal); 6] = [
    (SignalKind::interrupt(), Signal::SIGINT),
    (SignalKind::terminate(), Signal::SIGTERM),
    (SignalKind::hangup(), Signal::SIGHUP),
    (SignalKind::quit(), Signal::SIGQUIT),
    (SignalKind::user_defined1(), Signal::SIGUSR1),
    (SignalKind::user_defined2(), Signal::SIGUSR2),
];

/// The exit code a shell would report: the code, or 128+N for a signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Are we in the foreground of the terminal on stdin? Then the terminal already sends
/// Ctrl-C / Ctrl-\ to the child (same process group): forwarding would deliver twice.
fn terminal_foreground() -> bool {
    let stdin = std::io::stdin();
    stdin.is_terminal() && nix::unistd::tcgetpgrp(&stdin).is_ok_and(|g| g == nix::unistd::getpgrp())
}

/// Runs `cmd` with the masked streams piped through `patterns`; returns its exit code.
pub async fn run(
    mut cmd: Command,
    patterns: Arc<Patterns>,
    streams: Streams,
) -> Result<i32, RunError> {
    // Handlers first: a signal between spawn and registration would otherwise kill
    // openv and leave the child without its output reader.
    let (sig_tx, mut sig_rx) = tokio::sync::mpsc::unbounded_channel();
    // Our handlers replace the default action: once the command has exited, a request to
    // stop must still end openv (it may be draining a background process's output).
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::unbounded_channel();
    let fg = terminal_foreground();
    for (kind, sig) in FORWARDED {
        let mut s = signal(kind).map_err(RunError::Signals)?;
        let (tx, stop) = (sig_tx.clone(), stop_tx.clone());
        let skip = fg && matches!(sig, Signal::SIGINT | Signal::SIGQUIT);
        let stops = matches!(sig, Signal::SIGINT | Signal::SIGTERM | Signal::SIGHUP);
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if stops {
                    let _ = stop.send(());
                }
                if !skip && tx.send(sig).is_err() {
                    break;
                }
            }
        });
    }
    drop(stop_tx);
    if streams.stdout {
        cmd.stdout(Stdio::piped());
    }
    if streams.stderr {
        cmd.stderr(Stdio::piped());
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .map_err(|source| RunError::Start { program, source })?;
    drop(cmd);
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));

    let activity = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut pumps = 0;
    if let Some(out) = child.stdout.take() {
        pumps += 1;
        spawn_pump(out, std::io::stdout(), &patterns, &activity, &done_tx);
    }
    if let Some(err) = child.stderr.take() {
        pumps += 1;
        spawn_pump(err, std::io::stderr(), &patterns, &activity, &done_tx);
    }
    drop(done_tx);

    // Wait for the exit without reaping it, so that the pid cannot be reused by another
    // process while signals are still being forwarded to it.
    let (exit_tx, mut exit_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        while let Err(nix::errno::Errno::EINTR) =
            waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
        {}
        let _ = exit_tx.send(());
    });
    loop {
        tokio::select! {
            _ = &mut exit_rx => break,
            Some(sig) = sig_rx.recv() => {
                let _ = kill(pid, sig);
            }
        }
    }
    let status = child.wait().map_err(RunError::Wait)?;
    // Only stop requests from now on: earlier ones were forwarded to the command.
    while stop_rx.try_recv().is_ok() {}
    drain(&mut done_rx, pumps, &activity, &mut stop_rx).await;
    Ok(exit_code(status))
}

fn spawn_pump<R, W>(
    from: R,
    to: W,
    patterns: &Arc<Patterns>,
    activity: &Arc<AtomicU64>,
    done: &tokio::sync::mpsc::UnboundedSender<()>,
) where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let m = StreamMasker::new(patterns.clone());
    let (activity, done) = (activity.clone(), done.clone());
    std::thread::spawn(move || {
        pump(from, to, m, &activity);
        let _ = done.send(());
    });
}

/// Copies one stream, masked. A failed write (our reader went away) closes the pipe,
/// so the child sees EPIPE as it would without openv in between.
fn pump(mut from: impl Read, mut to: impl Write, mut m: StreamMasker, activity: &AtomicU64) {
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        activity.fetch_add(n as u64, Ordering::Relaxed);
        out.clear();
        m.push(&buf[..n], &mut out);
        if to.write_all(&out).and_then(|()| to.flush()).is_err() {
            return;
        }
    }
    out.clear();
    m.finish(&mut out);
    let _ = to.write_all(&out).and_then(|()| to.flush());
}

/// Waits for the pumps to reach end of file, giving up once the pipes have been quiet
/// for `DRAIN_QUIET` (a background process of the command may hold them forever), or when
/// openv is asked to stop.
async fn drain(
    done: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
    pumps: usize,
    activity: &AtomicU64,
    stop: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let mut finished = 0;
    let mut seen = activity.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while finished < pumps {
        tokio::select! {
            pumped = done.recv() => match pumped {
                Some(()) => finished += 1,
                None => break,
            },
            Some(()) = stop.recv() => break,
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                let now = activity.load(Ordering::Relaxed);
                if now != seen {
                    seen = now;
                    quiet_since = Instant::now();
                } else if quiet_since.elapsed() >= DRAIN_QUIET {
                    break;
                }
            }
        }
    }
}
