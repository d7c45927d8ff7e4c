//! FIFO mode read by real processes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Owner, Policy, assert_bash_reads_env_body, bash_source, cat, env_body, tempdir};
use openv_mount::{Mode, MountError, MountOptions, Placement, RefusalReason, mount};

/// What a refused FIFO reader reads instead of the content.
fn not_served(reason: RefusalReason) -> Vec<u8> {
    reason.fifo_line().as_bytes().to_vec()
}

fn fifo_opts() -> MountOptions {
    MountOptions {
        mode: Mode::Fifo,
        fifo_stall_timeout: Duration::from_millis(300),
        ..MountOptions::default()
    }
}

fn approve() -> Policy {
    Policy::ApproveExe(vec!["cat", "bash", "python"])
}

#[test]
fn approved_cat_reads_the_bytes_and_a_denied_reader_gets_eof_quickly() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"API_KEY=s3cr3t\n".to_vec();
    let (tx, owner) = Owner::start(Policy::ApproveExe(vec!["cat"]), &body);
    let m = mount(&path, fifo_opts(), tx).unwrap();
    assert_eq!(m.placement(), &Placement::Fifo);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    assert_eq!(cat(&path).stdout, body);

    // `head` is not approved. The fastest of three denials is timed: one run can be slowed
    // by a busy machine, not by the mount.
    let took = (0..3)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new("head").arg(&path).output().unwrap();
            assert_eq!(
                out.stdout,
                not_served(RefusalReason::Denied),
                "a denied reader reads only why"
            );
            start.elapsed()
        })
        .min()
        .unwrap();
    assert!(took < Duration::from_millis(100), "denial took {took:?}");

    let names = vec!["API_KEY".to_string()];
    // bash is not approved by this owner: sourcing sets nothing, and fails loudly.
    assert_eq!(bash_source(&dir, ".env", &names), "\n");
    let out = Command::new("bash")
        .args(["-c", ". ./.env"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("openv not served"));
    let stats = m.stats();
    assert_eq!((stats.served, stats.denied), (1, 5));
    assert_eq!(stats.last_refusal, Some(RefusalReason::Denied));
    let reader = &owner.readers()[0];
    assert_eq!(reader.pid, reader.tid);
    assert_eq!(
        reader.exe.as_deref(),
        Some(std::path::Path::new("/usr/bin/cat"))
    );
    drop(m);
    owner.join();
}

#[test]
fn bash_source_reads_every_variable() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = env_body(50, 0);
    let (tx, owner) = Owner::start(approve(), &body);
    let m = mount(&path, fifo_opts(), tx).unwrap();
    assert_bash_reads_env_body(&dir, 50);
    drop(m);
    owner.join();
}

#[test]
fn simultaneous_readers_never_get_a_partial_or_mixed_payload() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    // The payload lands in the pipe in one write, so a reader whose read buffer holds it all
    // gets all of it or none (cat reads 128 KiB at a time).
    for body in [env_body(50, 0), env_body(50, 100 * 1024)] {
        let (tx, owner) = Owner::start(approve(), &body);
        let m = mount(&path, fifo_opts(), tx).unwrap();
        let mut served = 0;
        // The second reader starts 0..10 ms after the first: from fully simultaneous (both
        // hold the FIFO: both refused) to one after the other (both may be served).
        for delay_ms in 0..10 {
            let spawn = || {
                Command::new("cat")
                    .arg(&path)
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            };
            let a = spawn();
            std::thread::sleep(Duration::from_millis(delay_ms));
            let b = spawn();
            for child in [a, b] {
                let out = child.wait_with_output().unwrap();
                let refused = [
                    Vec::new(),
                    not_served(RefusalReason::SharedFifo),
                    not_served(RefusalReason::Unidentified),
                ];
                assert!(
                    refused.contains(&out.stdout) || out.stdout == body,
                    "a reader got {} of {} bytes",
                    out.stdout.len(),
                    body.len()
                );
                served += usize::from(out.stdout == body);
            }
        }
        eprintln!(
            "{} of 20 simultaneous readers served ({} bytes)",
            served,
            body.len()
        );
        assert_eq!(m.stats().served as usize, served);
        drop(m);
        owner.join();
    }
}

#[test]
fn a_payload_larger_than_the_default_pipe_buffer_arrives_whole() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = env_body(50, 300 * 1024);
    let (tx, owner) = Owner::start(approve(), &body);
    let m = mount(&path, fifo_opts(), tx).unwrap();
    for _ in 0..3 {
        assert!(cat(&path).stdout == body);
    }
    assert_eq!(m.stats().served, 3);
    drop(m);
    owner.join();
}

#[test]
fn a_stalled_reader_is_dropped_and_the_next_one_is_served() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"STALL=1\n".to_vec();
    let (tx, owner) = Owner::start(approve(), &body);
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&refusals);
    let m = mount(&path, fifo_opts(), Recorder { tx, seen }).unwrap();
    // Opens the FIFO and never reads.
    let mut stalled = Command::new("python3")
        .args([
            "-c",
            "import sys, time; f = open(sys.argv[1], 'rb'); print('open', flush=True); time.sleep(60)",
        ])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(stalled.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "open\n");

    // Within the stall timeout, a reader shares the pipe with the staller: refused, and
    // told so, within the bound.
    let start = Instant::now();
    let out = cat(&path);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "the next reader waited {took:?}"
    );
    assert!(
        out.stdout.is_empty() || out.stdout == not_served(RefusalReason::SharedFifo),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Past it, the staller is left with a FIFO nobody else can open, and readers are
    // served again while it still holds that one.
    let deadline = Instant::now() + Duration::from_secs(10);
    let served = loop {
        let out = cat(&path);
        if out.stdout == body || Instant::now() > deadline {
            break out.stdout;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        served, body,
        "served while the staller still holds its FIFO"
    );
    assert!(
        stalled.try_wait().unwrap().is_none(),
        "the staller is still there"
    );
    assert!(
        refusals
            .lock()
            .unwrap()
            .iter()
            .any(
                |r: &(RefusalReason, Vec<i32>)| r.0 == RefusalReason::Stalled
                    && r.1.contains(&(stalled.id() as i32))
            ),
        "the owner heard of the stall: {:?}",
        refusals.lock().unwrap()
    );
    stalled.kill().unwrap();
    stalled.wait().unwrap();
    assert_eq!(cat(&path).stdout, body);
    drop(m);
    owner.join();
}

/// The refusals a mount reported: (reason, pids).
type Refusals = Arc<Mutex<Vec<(RefusalReason, Vec<i32>)>>>;

/// Forwards opens to a test owner and records the refusals the mount reports.
struct Recorder {
    tx: tokio::sync::mpsc::UnboundedSender<openv_mount::OpenRequest>,
    seen: Refusals,
}

impl openv_mount::OpenHandler for Recorder {
    fn on_open(&self, request: openv_mount::OpenRequest) {
        self.tx.on_open(request);
    }

    fn on_refused(&self, refusal: openv_mount::Refusal) {
        self.seen
            .lock()
            .unwrap()
            .push((refusal.reason, refusal.pids));
    }
}

#[test]
fn two_processes_holding_the_fifo_are_told_they_are_not_served() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"DUAL=1\n".to_vec();
    // The owner takes its time, as a person would: by then the reader has forked.
    let (tx, owner) = Owner::start(
        Policy::ApproveExeAfter(vec!["python"], Duration::from_millis(300)),
        &body,
    );
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&refusals);
    let m = mount(&path, fifo_opts(), Recorder { tx, seen }).unwrap();
    let script = r"
import os, sys
f = open(sys.argv[1], 'rb')
pid = os.fork()
data = f.read()
if pid:
    os.waitpid(pid, 0)
print(repr(data), flush=True)
";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    // One stream: one of the two reads the line, the other what is left (nothing).
    let mut got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    let line = String::from_utf8(not_served(RefusalReason::SharedFifo)).unwrap();
    // Python's repr: b'...\n'.
    let line = format!("b'{}\\n'", line.trim_end());
    assert_eq!(got, vec!["b''".to_owned(), line]);
    assert_eq!(m.stats().served, 0);
    assert_eq!(m.stats().denied, 1);
    assert_eq!(refusals.lock().unwrap()[0].0, RefusalReason::SharedFifo);
    drop(m);
    owner.join();
}

#[test]
fn a_reader_the_server_cannot_identify_gets_eof() {
    // The server runs as `nobody`: it cannot look into root's /proc/<pid>/fd, so a root
    // reader (root may open anyone's FIFO) is invisible to it.
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: this test must run there"
        );
        eprintln!("skipping: needs root to start a server as nobody");
        return;
    }
    let (_dir, dir) = tempdir();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join(".env");
    let server = Command::new(common::serve_example())
        .arg(&path)
        .arg("--fifo")
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = common::KillOnDrop(server);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready"), "{line}");
    let start = Instant::now();
    let out = cat(&path);
    // That server approves everyone: the line here means it failed closed, after the
    // ~200 ms it gives a reader's fd to show up.
    assert_eq!(out.stdout, not_served(RefusalReason::Unidentified));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn an_unanswered_open_reads_eof_after_the_timeout() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let (tx, owner) = Owner::start(Policy::Hold, b"X=1\n");
    let opts = MountOptions {
        request_timeout: Duration::from_millis(300),
        ..fifo_opts()
    };
    let m = mount(&path, opts, tx).unwrap();
    let start = Instant::now();
    let out = cat(&path);
    let took = start.elapsed();
    assert_eq!(out.stdout, not_served(RefusalReason::Denied));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(m.stats().denied, 1);
    drop(m);
    owner.join();
}

#[test]
fn unmount_removes_the_fifo_and_releases_a_waiting_reader() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let (tx, owner) = Owner::start(Policy::Hold, b"X=1\n");
    let m = mount(&path, fifo_opts(), tx).unwrap();
    let child = Command::new("cat")
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Let the request reach the owner, then stop while it is pending.
    let deadline = Instant::now() + Duration::from_secs(2);
    while owner.readers().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(owner.readers().len(), 1);
    let start = Instant::now();
    m.unmount().unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.stdout, not_served(RefusalReason::Unmounted));
    assert!(
        std::fs::symlink_metadata(&path).is_err(),
        "the FIFO is gone"
    );
    owner.join();

    // Over an empty file: the empty file comes back.
    std::fs::write(&path, b"").unwrap();
    let (tx, owner) = Owner::start(approve(), b"A=1\n");
    let m = mount(&path, fifo_opts(), tx).unwrap();
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    drop(m);
    owner.join();
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_file() && meta.len() == 0);
}

#[test]
fn a_file_with_content_is_refused() {
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    std::fs::write(&path, b"PLAIN=1\n").unwrap();
    let (tx, owner) = Owner::start(approve(), b"");
    let err = mount(&path, fifo_opts(), tx).unwrap_err();
    assert!(
        matches!(err, MountError::HasContent { len: 8, .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"PLAIN=1\n");
    owner.join();
}
