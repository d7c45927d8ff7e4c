//! Shared test helpers: an owner thread that decides by executable name, and process helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use openv_mount::{OpenRequest, Reader};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use zeroize::Zeroizing;

/// FUSE tests skip when FUSE is unusable, but fail under CI, where it must work.
pub fn fuse_or_skip() -> bool {
    if openv_mount::fuse_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "FUSE is not usable on this CI machine: install fuse3 and provide /dev/fuse"
    );
    eprintln!("skipping: FUSE is not usable here");
    false
}

/// What the owner does with an open.
#[derive(Clone)]
pub enum Policy {
    /// Serve readers whose executable's file name starts with one of these; deny others.
    ApproveExe(Vec<&'static str>),
    /// Like `ApproveExe`, after thinking for this long (a user reading a prompt).
    ApproveExeAfter(Vec<&'static str>, std::time::Duration),
    /// Never answer (keep the request alive so that only the timeout decides).
    Hold,
}

/// A thread-based owner: records every reader and answers per its policy.
pub struct Owner {
    pub seen: Arc<Mutex<Vec<Reader>>>,
    pub content: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Owner {
    pub fn start(policy: Policy, content: &[u8]) -> (UnboundedSender<OpenRequest>, Owner) {
        let (tx, mut rx) = unbounded_channel::<OpenRequest>();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let content = Arc::new(Mutex::new(content.to_vec()));
        let (seen2, content2) = (Arc::clone(&seen), Arc::clone(&content));
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Some(mut request) = rx.blocking_recv() {
                request.load_details();
                seen2.lock().unwrap().push(request.reader.clone());
                match &policy {
                    Policy::Hold => held.push(request),
                    Policy::ApproveExe(names) | Policy::ApproveExeAfter(names, _) => {
                        if let Policy::ApproveExeAfter(_, delay) = &policy {
                            std::thread::sleep(*delay);
                        }
                        if approved(&request.reader, names) {
                            let bytes = content2.lock().unwrap().clone();
                            request.serve(Zeroizing::new(bytes));
                        } else {
                            request.deny();
                        }
                    }
                }
            }
        });
        (
            tx,
            Owner {
                seen,
                content,
                thread: Some(thread),
            },
        )
    }

    pub fn set_content(&self, bytes: &[u8]) {
        *self.content.lock().unwrap() = bytes.to_vec();
    }

    pub fn readers(&self) -> Vec<Reader> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits for the owner thread; it ends once the mount (the only sender) is gone.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn approved(reader: &Reader, names: &[&str]) -> bool {
    let name = reader
        .exe
        .as_deref()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    names.iter().any(|n| name.starts_with(n))
}

pub fn cat(path: &Path) -> Output {
    Command::new("cat").arg(path).output().unwrap()
}

/// A .env body with `n` variables, padded so that the file reaches at least `min_len` bytes.
pub fn env_body(n: usize, min_len: usize) -> Vec<u8> {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!("VAR_{i}=value-{i}-{}\n", "x".repeat(i % 7)));
    }
    let mut pad = 0;
    while body.len() < min_len {
        body.push_str(&format!("PAD_{pad}={}\n", "p".repeat(100)));
        pad += 1;
    }
    body.into_bytes()
}

/// Sources `file` in bash with `set -a` and prints the named variables, one per line.
pub fn bash_source(dir: &Path, file: &str, names: &[String]) -> String {
    let echo: Vec<String> = names.iter().map(|n| format!("echo \"${n}\"")).collect();
    let script = format!("set -a; . ./{file}; {}", echo.join("; "));
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Sources `dir/.env`, served with [`env_body`]`(n, _)`, in bash and checks that every
/// variable holds its value.
#[track_caller]
pub fn assert_bash_reads_env_body(dir: &Path, n: usize) {
    let names: Vec<String> = (0..n).map(|i| format!("VAR_{i}")).collect();
    let got = bash_source(dir, ".env", &names);
    let want: Vec<String> = (0..n)
        .map(|i| format!("value-{i}-{}", "x".repeat(i % 7)))
        .collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
}

/// Whether `path` appears as a mount point in /proc/self/mountinfo.
pub fn is_mount_point(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let wanted = path.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(wanted.as_str()))
}

/// A temporary directory with a canonical path (mountinfo lists canonical paths).
pub fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    (dir, path)
}

/// A child process killed (SIGKILL) when dropped, so a failing test leaves no server behind.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// Starts the example server on `path` with `args`; returns once it printed `ready ...`,
    /// with that line.
    pub fn serve(path: &Path, args: &[&str]) -> (KillOnDrop, String) {
        use std::io::BufRead;
        let mut child = Command::new(serve_example())
            .arg(path)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let guard = KillOnDrop(child);
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "the server said {line:?}");
        (guard, line)
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example binary `serve`, built by `cargo test` next to the test binaries.
pub fn serve_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let serve = dir.join("examples").join("serve");
    assert!(
        serve.exists(),
        "{} is missing: run `cargo test -p openv-mount` (which builds examples) or `cargo build -p openv-mount --example serve` first",
        serve.display()
    );
    serve
}
