//! Real FUSE mounts read by real processes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{
    Owner, Policy, assert_bash_reads_env_body, bash_source, cat, env_body, fuse_or_skip,
    is_mount_point, tempdir,
};
use openv_mount::{Mode, MountError, MountOptions, Placement, clean_stale, mount};

fn fuse_opts() -> MountOptions {
    MountOptions {
        mode: Mode::Fuse,
        ..MountOptions::default()
    }
}

fn approve_cat_bash() -> Policy {
    Policy::ApproveExe(vec!["cat", "bash", "python"])
}

#[test]
fn approved_cat_reads_exact_bytes_and_denied_cat_is_refused_quickly() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"API_KEY=s3cr3t\nQUOTED=\"a b # c\"\n".to_vec();
    let (tx, owner) = Owner::start(Policy::ApproveExe(vec!["cat"]), &body);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    assert_eq!(m.placement(), &Placement::OnFile);
    assert!(is_mount_point(&path));

    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.is_file(), "tools must see a regular file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o400);
    assert_eq!(meta.uid(), nix::unistd::getuid().as_raw());

    let out = cat(&path);
    assert!(out.status.success());
    assert_eq!(out.stdout, body);

    // `head` is not approved: the open itself fails, fast. The fastest of three denials is
    // timed: one run can be slowed by a busy machine, not by the mount.
    let took = (0..3)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new("head").arg(&path).output().unwrap();
            let took = start.elapsed();
            assert!(!out.status.success());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("Permission denied"), "stderr: {stderr}");
            took
        })
        .min()
        .unwrap();
    assert!(took < Duration::from_millis(100), "denial took {took:?}");

    assert_eq!(m.stats().served, 1);
    assert_eq!(m.stats().denied, 3);
    let readers = owner.readers();
    assert_eq!(
        readers[0].exe.as_deref(),
        Some(std::path::Path::new("/usr/bin/cat"))
    );
    assert_eq!(readers[0].parents[0].pid, std::process::id() as i32);
    m.unmount().unwrap();
    owner.join();
}

#[test]
fn bash_source_reads_every_variable() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = env_body(50, 0);
    let (tx, owner) = Owner::start(approve_cat_bash(), &body);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    assert_bash_reads_env_body(&dir, 50);
    drop(m);
    owner.join();
}

#[test]
fn concurrent_readers_get_identical_complete_content() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = env_body(50, 200 * 1024);
    assert!(body.len() > 128 * 1024);
    let (tx, owner) = Owner::start(approve_cat_bash(), &body);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    let children: Vec<_> = (0..32)
        .map(|_| {
            Command::new("cat")
                .arg(&path)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(
            out.stdout == body,
            "a reader got {} bytes",
            out.stdout.len()
        );
    }
    assert_eq!(m.stats().served, 32);
    drop(m);
    owner.join();
}

#[test]
fn content_change_serves_new_bytes_and_moves_mtime_only_then() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let old = b"A=1\n".to_vec();
    let (tx, owner) = Owner::start(approve_cat_bash(), &old);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    m.set_content_info(old.len() as u64, t0);

    let before = std::fs::metadata(&path).unwrap();
    assert_eq!(before.len(), old.len() as u64);
    assert_eq!(cat(&path).stdout, old);
    let after_read = std::fs::metadata(&path).unwrap();
    assert_eq!(
        after_read.modified().unwrap(),
        t0,
        "reading must not move mtime"
    );

    let new = b"A=2\nB=three\n".to_vec();
    owner.set_content(&new);
    let t1 = t0 + Duration::from_secs(60);
    m.set_content_info(new.len() as u64, t1);
    let changed = std::fs::metadata(&path).unwrap();
    assert_eq!(changed.len(), new.len() as u64);
    assert_eq!(changed.modified().unwrap(), t1);
    assert_eq!(cat(&path).stdout, new);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), t1);
    drop(m);
    owner.join();
}

#[test]
fn a_thread_read_is_attributed_to_its_process() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"T=1\n".to_vec();
    let (tx, owner) = Owner::start(approve_cat_bash(), &body);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    let script = r"
import os, sys, threading
res = {}
def read():
    res['tid'] = threading.get_native_id()
    with open(sys.argv[1], 'rb') as f:
        res['n'] = len(f.read())
t = threading.Thread(target=read)
t.start(); t.join()
print(os.getpid(), res['tid'], res['n'])
";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let nums: Vec<i64> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (pid, tid, n) = (nums[0] as i32, nums[1] as i32, nums[2]);
    assert_ne!(pid, tid, "the read must come from a non-main thread");
    assert_eq!(n, body.len() as i64);
    let reader = owner.readers().pop().unwrap();
    assert_eq!(reader.pid, pid, "pid must be the thread-group id");
    assert_eq!(reader.tid, tid);
    drop(m);
    owner.join();
}

#[test]
fn writes_are_refused_read_only() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let (tx, owner) = Owner::start(approve_cat_bash(), b"");
    let m = mount(&path, fuse_opts(), tx).unwrap();
    let err = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EROFS));
    assert!(
        std::fs::remove_file(&path).is_err(),
        "a mount point cannot be removed"
    );
    drop(m);
    owner.join();
}

#[test]
fn an_unanswered_open_is_denied_after_the_timeout() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let (tx, owner) = Owner::start(Policy::Hold, b"X=1\n");
    let opts = MountOptions {
        request_timeout: Duration::from_millis(300),
        ..fuse_opts()
    };
    let m = mount(&path, opts, tx).unwrap();
    let start = Instant::now();
    let out = cat(&path);
    let took = start.elapsed();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(m.stats().denied, 1);
    drop(m);
    owner.join();
}

#[test]
fn unmount_leaves_no_mount_and_restores_the_path() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    // Missing before: nothing after.
    let missing = dir.join(".env");
    let (tx, owner) = Owner::start(approve_cat_bash(), b"A=1\n");
    let m = mount(&missing, fuse_opts(), tx).unwrap();
    assert!(is_mount_point(&missing));
    m.unmount().unwrap();
    owner.join();
    assert!(!is_mount_point(&missing));
    assert!(!missing.exists());

    // An empty file before: the same empty file after (dropping unmounts too).
    let empty = dir.join(".env.local");
    std::fs::write(&empty, b"").unwrap();
    let (tx, owner) = Owner::start(approve_cat_bash(), b"A=1\n");
    let m = mount(&empty, fuse_opts(), tx).unwrap();
    assert!(is_mount_point(&empty));
    drop(m);
    owner.join();
    assert!(!is_mount_point(&empty));
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
}

#[test]
fn unmount_while_a_reader_holds_the_file_detaches_lazily() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"HELD=1\n".to_vec();
    let (tx, owner) = Owner::start(approve_cat_bash(), &body);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    // A reader (bash) that holds the file open across the unmount.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg("exec 3<\"$0\"; echo open; read -r _; cat <&3")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "open\n");
    let start = Instant::now();
    m.unmount().unwrap();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(!is_mount_point(&path));
    drop(child.stdin.take());
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, body, "the open handle keeps its snapshot");
    child.wait().unwrap();
    owner.join();
}

#[test]
fn hidden_directory_fallback_serves_through_a_symlink() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"VIA=dir\n".to_vec();
    let (tx, owner) = Owner::start(approve_cat_bash(), &body);
    let opts = MountOptions {
        allow_file_mount: false,
        ..fuse_opts()
    };
    let m = mount(&path, opts, tx).unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    let hidden = dir.join(".openv-mnt-.env");
    assert_eq!(m.placement(), &Placement::InHiddenDir(hidden.clone()));
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(is_mount_point(&hidden));
    assert_eq!(cat(&path).stdout, body);
    let names = vec!["VIA".to_string()];
    assert_eq!(bash_source(&dir, ".env", &names), "dir\n");
    m.unmount().unwrap();
    owner.join();
    assert!(!is_mount_point(&hidden));
    assert!(!hidden.exists());
    assert!(std::fs::symlink_metadata(&path).is_err());
}

#[test]
fn a_file_with_content_is_refused() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    std::fs::write(&path, b"PLAIN=text\n").unwrap();
    let (tx, owner) = Owner::start(approve_cat_bash(), b"");
    let err = mount(&path, fuse_opts(), tx).unwrap_err();
    assert!(
        matches!(err, MountError::HasContent { len: 11, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("import"));
    assert_eq!(std::fs::read(&path).unwrap(), b"PLAIN=text\n");
    owner.join();
}

#[test]
fn a_killed_owner_leaves_a_stale_mount_that_clean_stale_removes() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let (server, _) = common::KillOnDrop::serve(&path, &[]);
    assert_eq!(cat(&path).stdout, b"OPENV_EXAMPLE=served\n");
    assert!(!clean_stale(&path).unwrap(), "a live mount is left alone");

    drop(server); // SIGKILL
    // (A plain stat may still be answered from the attribute cache; an open may not.)
    let err = std::fs::File::open(&path).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::ENOTCONN));
    assert!(matches!(
        mount(&path, fuse_opts(), Owner::start(Policy::Hold, b"").0),
        Err(MountError::StaleMount { .. })
    ));

    assert!(clean_stale(&path).unwrap());
    assert!(!is_mount_point(&path));
    assert!(!clean_stale(&path).unwrap(), "nothing left to clean");

    let body = b"AGAIN=1\n".to_vec();
    let (tx, owner) = Owner::start(approve_cat_bash(), &body);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    assert_eq!(cat(&path).stdout, body);
    drop(m);
    owner.join();
}

#[test]
fn a_handler_may_answer_inline_and_a_dropped_request_is_denied() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = b"INLINE=1\n".to_vec();
    let served = body.clone();
    // (the reader as the open delivered it, the reader described after the answer)
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_by_handler = Arc::clone(&seen);
    // Serves cat on the spot; drops everything else (which denies it).
    let m = mount(
        &path,
        fuse_opts(),
        move |request: openv_mount::OpenRequest| {
            if request.reader.exe.as_deref() == Some(std::path::Path::new("/usr/bin/cat")) {
                let delivered = request.reader.clone();
                let (described, _) =
                    request.serve_then_describe(zeroize::Zeroizing::new(served.clone()), true);
                seen_by_handler.lock().unwrap().push((delivered, described));
            }
        },
    )
    .unwrap();
    assert_eq!(cat(&path).stdout, body);
    let out = Command::new("head").arg(&path).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert_eq!((m.stats().served, m.stats().denied), (1, 1));

    // A FUSE open carries what a decision needs; the command line and the parent chain
    // are loaded only when asked for, here after the answer.
    let me = std::process::id() as i32;
    let seen = seen.lock().unwrap();
    let (delivered, described) = &seen[0];
    assert_eq!(delivered.ppid, me);
    assert!(delivered.start_time > 0 && delivered.cwd.is_some());
    assert!(delivered.cmdline.is_empty() && delivered.parents.is_empty());
    assert_eq!(described.pid, delivered.pid);
    assert_eq!(described.cmdline[0], "cat");
    assert_eq!(described.parents[0].pid, me);
}

#[test]
fn every_open_is_denied_once_the_owner_is_gone() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    drop(rx);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    let out = cat(&path);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert_eq!(m.stats().denied, 1);
}

#[test]
fn a_killed_owner_of_a_hidden_directory_mount_is_cleaned_too() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let hidden = dir.join(".openv-mnt-.env");
    let (server, ready) = common::KillOnDrop::serve(&path, &["--in-dir"]);
    assert!(ready.contains("InHiddenDir"), "{ready}");
    assert_eq!(cat(&path).stdout, b"OPENV_EXAMPLE=served\n");

    drop(server); // SIGKILL
    assert!(is_mount_point(&hidden));
    assert!(clean_stale(&path).unwrap());
    assert!(!is_mount_point(&hidden));
    assert!(!hidden.exists());
    // The dangling symlink is gone; the path says the file is not being served.
    assert!(openv_mount::is_placeholder(&path));

    let (tx, owner) = Owner::start(approve_cat_bash(), b"B=2\n");
    let m = mount(&path, fuse_opts(), tx).unwrap();
    assert_eq!(m.placement(), &Placement::OnFile);
    assert_eq!(cat(&path).stdout, b"B=2\n");
    drop(m);
    owner.join();
    assert!(!path.exists(), "an unmount takes the placeholder too");
}

/// Python reports `st_size` and the bytes of one `open().read()`: the two must agree.
fn python_size_and_len(path: &std::path::Path) -> (u64, usize) {
    let out = Command::new("python3")
        .arg("-c")
        .arg("import os,sys\nwith open(sys.argv[1],'rb') as f:\n print(os.fstat(f.fileno()).st_size, len(f.read()))")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap() as usize)
}

#[test]
fn a_content_change_is_seen_by_the_next_open_with_its_size() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let old = env_body(3, 0);
    let (tx, owner) = Owner::start(approve_cat_bash(), &old);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    m.set_content_info(old.len() as u64, SystemTime::now());
    // Read once, so that the kernel holds the old size in its cache.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), old.len() as u64);
    assert_eq!(python_size_and_len(&path), (old.len() as u64, old.len()));

    let names: Vec<String> = (0..40).map(|i| format!("VAR_{i}")).collect();
    for round in 0..3 {
        let new = env_body(40, 1000 * (round + 1));
        owner.set_content(&new);
        m.set_content_info(new.len() as u64, SystemTime::now());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), new.len() as u64);
        assert_eq!(python_size_and_len(&path), (new.len() as u64, new.len()));
        // bash reads exactly st_size bytes: a stale size would cut the file short.
        let got = bash_source(&dir, ".env", &names);
        assert_eq!(got.lines().count(), 40);
        assert_eq!(got.lines().last().unwrap(), "value-39-xxxx");
    }

    // The owner serves more than it announced (it changed and has not said so yet): the
    // open still reports a size that covers every byte.
    let bigger = env_body(40, 9000);
    owner.set_content(&bigger);
    let (size, len) = python_size_and_len(&path);
    assert_eq!(len, bigger.len());
    assert!(size >= len as u64, "st_size {size} < {len} bytes served");
    assert_eq!(bash_source(&dir, ".env", &names).lines().count(), 40);
    drop(m);
    owner.join();
}

#[test]
fn readers_during_content_changes_each_get_one_complete_version() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let versions: Vec<Vec<u8>> = (0..4).map(|v| env_body(20 + v * 10, v * 3000)).collect();
    let (tx, owner) = Owner::start(approve_cat_bash(), &versions[0]);
    let m = mount(&path, fuse_opts(), tx).unwrap();
    m.set_content_info(versions[0].len() as u64, SystemTime::now());
    for round in 0..8 {
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new("cat")
                    .arg(&path)
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let next = &versions[(round + 1) % versions.len()];
        owner.set_content(next);
        m.set_content_info(next.len() as u64, SystemTime::now());
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            assert!(
                versions.contains(&out.stdout),
                "a reader got {} bytes, not one whole version",
                out.stdout.len()
            );
        }
    }
    drop(m);
    owner.join();
}

#[test]
fn a_read_costs_three_requests_and_a_python_read_four() {
    if !fuse_or_skip() {
        return;
    }
    let (_dir, dir) = tempdir();
    let path = dir.join(".env");
    let body = env_body(50, 0);
    let served = body.clone();
    // Serves everyone (this test process too), inline.
    let m = mount(&path, fuse_opts(), move |r: openv_mount::OpenRequest| {
        r.serve(zeroize::Zeroizing::new(served.clone()));
    })
    .unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    // The first read fills the kernel's attribute cache.
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let before = m.stats().fuse_requests;
    for _ in 0..10 {
        assert_eq!(std::fs::read(&path).unwrap(), body);
    }
    // With attributes cached: no GETATTR (TTL 0 made it four).
    let raw = (m.stats().fuse_requests - before) as f64 / 10.0;
    assert!(raw <= 3.0, "{raw} requests per read(): OPEN, READ, READ");
    let before = m.stats().fuse_requests;
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sys\nfor _ in range(10):\n with open(sys.argv[1]) as f: f.read()")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let python = (m.stats().fuse_requests - before) as f64 / 10.0;
    // The tty check's IOCTL stays (the kernel forwards it every time); six with TTL 0.
    assert!(
        python <= 4.0,
        "{python} requests per Python read: OPEN, IOCTL, READ, READ"
    );
    drop(m);
}
