//! Process facts from /proc.
#![allow(clippy::unwrap_used)]

use std::sync::mpsc;

use openv_mount::{IdentifyError, identify};

#[test]
fn identifies_this_process() {
    let me = identify(std::process::id() as i32).unwrap();
    assert_eq!(me.pid, std::process::id() as i32);
    assert_eq!(me.tid, me.pid);
    assert_eq!(me.uid, nix::unistd::geteuid().as_raw());
    assert_eq!(me.exe, Some(std::env::current_exe().unwrap()));
    assert_eq!(me.cwd, Some(std::env::current_dir().unwrap()));
    assert_eq!(
        me.cmdline.first().map(String::as_str),
        std::env::args().next().as_deref()
    );
    let stat = procfs::process::Process::myself().unwrap().stat().unwrap();
    assert_eq!(me.start_time, stat.starttime);
    assert!(me.start_time > 0);

    let parent = &me.parents[0];
    assert_eq!(parent.pid, nix::unistd::getppid().as_raw());
    assert!(!parent.name.is_empty());
    assert!(me.parents.len() <= 16);
    // The chain climbs to init unless it was cut at 16.
    if me.parents.len() < 16 {
        assert_eq!(me.parents.last().unwrap().pid, 1);
    }
}

#[test]
fn a_thread_id_maps_to_its_process() {
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        done_rx.recv().unwrap();
    });
    let tid = rx.recv().unwrap();
    let reader = identify(tid).unwrap();
    assert_ne!(tid, std::process::id() as i32);
    assert_eq!(reader.pid, std::process::id() as i32);
    assert_eq!(reader.tid, tid);
    done_tx.send(()).unwrap();
    thread.join().unwrap();
}

#[test]
fn a_missing_or_foreign_pid_is_an_error() {
    assert!(matches!(identify(0), Err(IdentifyError::Gone { pid: 0 })));
    let missing = identify(i32::MAX).unwrap_err();
    assert!(matches!(missing, IdentifyError::Gone { .. }), "{missing}");
    assert!(missing.to_string().contains("not visible"));
}
