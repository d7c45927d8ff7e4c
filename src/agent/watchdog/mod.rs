//! The agent's watchdog: a small process of its own (`process`), because a stopped agent
//! stops every thread it has. The agent starts it, tells it which FUSE connections are
//! its own (lines on its stdin), and its exit closes that pipe, which ends the watchdog.

pub mod fusectl;
mod process;

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

pub use process::run;

/// The running watchdog and the last connection set it was told.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
    stdin: ChildStdin,
    told: Vec<u64>,
}

impl Watchdog {
    /// Starts `openv agent watchdog` as our child. It aborts our stopped FUSE connections
    /// once we have been stopped for `after`; `log` is where its one line goes (stderr if
    /// `None`). Every descriptor of ours is close-on-exec, so it holds none of them.
    pub fn spawn(after: Duration, log: Option<std::fs::File>) -> std::io::Result<Self> {
        let exe = std::env::current_exe()?;
        let stderr = log.map_or_else(Stdio::inherit, Stdio::from);
        let mut child = Command::new(exe)
            .args(["agent", "watchdog", "--pid"])
            .arg(std::process::id().to_string())
            .arg("--after-ms")
            .arg(after.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no pipe to the watchdog"))?;
        Ok(Self {
            child,
            stdin,
            told: Vec::new(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tells the watchdog our FUSE connections, when they changed.
    pub fn tell(&mut self, mut conns: Vec<u64>) {
        conns.sort_unstable();
        if conns == self.told {
            return;
        }
        let line: Vec<String> = conns.iter().map(u64::to_string).collect();
        match writeln!(self.stdin, "{}", line.join(" ")) {
            Ok(()) => self.told = conns,
            Err(e) => {
                tracing::warn!(error = %e, "the watchdog is gone: a reader of a stopped agent will wait")
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Its stdin closes with us; reap it so no zombie is left while we finish.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
