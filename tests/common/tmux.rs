//! A tmux server of its own (one socket per pane) whose one pane runs a command: what a
//! person sees on a terminal, and the keys they press. Killed on drop.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached `width` x `height` pane running `command`.
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
        // Unique per pane, also when several tests share a process (`cargo test`).
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmux = Tmux {
            socket: format!("openv-test-{}-{n}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let status = tmux
            .command()
            .args(["new-session", "-d", "-s", "s", "-x", &w, "-y", &h, command])
            .status()
            .expect("start tmux");
        assert!(status.success(), "tmux did not start");
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-f", "/dev/null", "-L", &self.socket])
            .env_remove("TMUX");
        cmd
    }

    /// Runs a tmux command on this server; returns its stdout.
    pub fn out(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane's terminal.
    pub fn tty(&self) -> PathBuf {
        self.out(&["display", "-p", "-t", "s", "#{pane_tty}"])
            .trim()
            .into()
    }

    /// What the pane shows now, without trailing blanks.
    pub fn screen(&self) -> String {
        let screen = self.out(&["capture-pane", "-p", "-t", "s"]);
        let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
        lines.join("\n").trim_matches('\n').to_owned()
    }

    pub fn clear(&self) {
        self.out(&["send-keys", "-t", "s", "-R"]);
        self.out(&["clear-history", "-t", "s"]);
    }

    /// Waits (15 s at most) until the pane shows `needle`; returns the screen.
    #[track_caller]
    pub fn wait_for(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < until, "{needle:?} never shown:\n{screen}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// One key at a time: curses needs the gap to tell Escape from an arrow's sequence.
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.out(&["send-keys", "-t", "s", key]);
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.out(&["send-keys", "-t", "s", "-l", text]);
        thread::sleep(Duration::from_millis(250));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.out(&["kill-server"]);
    }
}
