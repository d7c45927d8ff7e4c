//! The watchdog process (`openv agent watchdog`, started by the agent): while the agent is
//! stopped (SIGSTOP, a debugger), its FUSE threads are stopped too and readers of its
//! mounts would wait with no end. After `after` of the agent in state T, the watchdog
//! aborts each of its FUSE connections that has a request waiting, so the readers fail at
//! once with ENOTCONN; after SIGCONT the agent sees those sessions ended and mounts again
//! (`jobs::fuse_sessions`).
//!
//! It holds nothing of the agent's: no socket, no vault, no value. It learns the agent's
//! connection numbers as lines on stdin and exits when stdin closes or the agent is gone.

use std::io::BufRead;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::fusectl;

/// How often the agent's state is looked at.
const TICK: Duration = Duration::from_millis(250);

/// Runs until the agent (`pid`, our parent) exits.
pub fn run(pid: i32, after: Duration) -> anyhow::Result<()> {
    let conns: Arc<Mutex<Vec<u64>>> = Arc::default();
    let feed = Arc::clone(&conns);
    std::thread::Builder::new()
        .name("connections".into())
        .spawn(move || read_connections(&feed))?;
    let mut stopped_since: Option<Instant> = None;
    let mut aborted = false;
    loop {
        std::thread::sleep(TICK);
        if nix::unistd::getppid().as_raw() != pid {
            return Ok(());
        }
        let Some(state) = agent_state(pid) else {
            return Ok(());
        };
        if !matches!(state, 'T' | 't') {
            stopped_since = None;
            aborted = false;
            continue;
        }
        let since = *stopped_since.get_or_insert_with(Instant::now);
        if aborted || since.elapsed() < after {
            continue;
        }
        let list = conns.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let waiting: Vec<u64> = list
            .into_iter()
            .filter(|c| fusectl::waiting(*c) > 0)
            .collect();
        if waiting.is_empty() {
            continue;
        }
        for c in &waiting {
            if let Err(e) = fusectl::abort(*c) {
                tracing::warn!(connection = c, error = %e, "cannot abort a FUSE connection");
            }
        }
        aborted = true;
        tracing::warn!(
            agent = pid,
            connections = ?waiting,
            "the openv agent has been stopped for {} s with readers waiting: their reads fail \
             now (Transport endpoint is not connected); after `kill -CONT {pid}` it mounts again",
            since.elapsed().as_secs()
        );
    }
}

/// Each line is the agent's whole set of FUSE connections, space-separated. The agent
/// closing stdin (it exited) ends the watchdog.
fn read_connections(conns: &Mutex<Vec<u64>>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let set = line
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        *conns.lock().unwrap_or_else(PoisonError::into_inner) = set;
    }
    std::process::exit(0);
}

fn agent_state(pid: i32) -> Option<char> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.state)
}
