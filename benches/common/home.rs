//! A throwaway OPENV_HOME with a key-file vault for the benches, and the real `openv`
//! binary; the agent is stopped on drop.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_openv");

pub struct Home {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub key: PathBuf,
}

impl Home {
    /// A vault protected by a key file, unlocked, its agent running (prompts off).
    pub fn init() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ovb")
            .tempdir()
            .expect("tempdir");
        let h = Home {
            home: dir.path().join("h"),
            key: dir.path().join("key"),
            dir,
        };
        h.ok(&["init", "--keyfile", h.key.to_str().expect("utf8")]);
        h
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("OPENV_HOME", &self.home)
            .env("OPENV_PROMPT", "none")
            .env_remove("OPENV_ENV")
            .env_remove("OPENV_KEYFILE");
        // The bench is the human: its key file proves it for commands that widen access.
        if self.key.exists() {
            c.env("OPENV_KEYFILE", &self.key);
        }
        c
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self
            .cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("run openv");
        check(args, out)
    }

    /// [`ok`](Self::ok) with `stdin` as the command's input.
    pub fn ok_stdin(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run openv");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin);
        }
        check(args, child.wait_with_output().expect("wait"))
    }
}

fn check(args: &[&str], out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "openv {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.cmd(&["agent", "stop"]).output();
    }
}
