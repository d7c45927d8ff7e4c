//! A FUSE reader of a stopped agent (SIGSTOP, a debugger) gets an error within the
//! documented bound instead of waiting with no end, and is served again after SIGCONT
//! without any command. The watchdog that does it holds nothing of the agent's and ends
//! with it.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Openv, pid_alive, require};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The agent's `request_timeout` in this test: the watchdog acts after it.
const TIMEOUT: Duration = Duration::from_secs(2);
/// What the documented bound adds to it: the watchdog looks every 250 ms.
const MARGIN: Duration = Duration::from_millis(1500);

fn project() -> (Openv, PathBuf) {
    let o = Openv::new();
    o.write_config("request_timeout = \"2s\"\n");
    o.ok(&["agent", "restart"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "GREETING", "hello world");
    o.ok(&["allow", "-e", "dev", "--exe", "cat"]);
    let dir = o.dir.path().join("proj");
    std::fs::create_dir(&dir).unwrap();
    let d = dir.to_str().unwrap();
    o.ok(&["mount", d, "-e", "dev", "--mode", "fuse"]);
    (o, dir)
}

/// `cat` with a deadline far beyond the bound, so a wait shows as a failed assertion.
fn cat(path: &Path) -> Output {
    Command::new("timeout")
        .args(["30", "cat"])
        .arg(path)
        .output()
        .unwrap()
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn fd_targets(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| std::fs::read_link(e.unwrap().path()).unwrap())
        .map(|t| t.display().to_string())
        .collect()
}

fn watchdog_of(agent: i32) -> i32 {
    let found = children(agent).into_iter().find(|c| {
        std::fs::read(format!("/proc/{c}/cmdline"))
            .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains("watchdog"))
    });
    found.unwrap_or_else(|| panic!("the agent {agent} has no watchdog child"))
}

#[test]
fn a_reader_of_a_stopped_agent_fails_within_the_bound_and_is_served_after_sigcont() {
    if !require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)") {
        return;
    }
    let (o, dir) = project();
    let env = dir.join(".env");
    let pid = o.agent_pid();
    assert!(String::from_utf8_lossy(&cat(&env).stdout).contains("GREETING='hello world'"));
    let status = o.ok(&["status"]);
    assert!(!status.contains("warning"), "{status}");

    // The watchdog holds none of the agent's sockets and no FUSE device.
    let watchdog = watchdog_of(pid);
    let (ours, its) = (fd_targets(pid), fd_targets(watchdog));
    let shared: Vec<_> = its
        .iter()
        .filter(|t| t.contains("fuse") || (t.starts_with("socket:") && ours.contains(t)))
        .collect();
    assert!(shared.is_empty(), "the watchdog holds {shared:?}");
    assert!(ours.iter().any(|t| t == "/dev/fuse"), "{ours:?}");

    // However the test ends, the agent is not left stopped (it could not be stopped
    // cleanly, and its mount would stay).
    struct Continue(i32);
    impl Drop for Continue {
        fn drop(&mut self) {
            let _ = kill(Pid::from_raw(self.0), Signal::SIGCONT);
        }
    }
    let _continue = Continue(pid);
    kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    let t = Instant::now();
    let first = cat(&env);
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&first.stderr);
    eprintln!(
        "stopped agent: cat failed after {:.2} s: {}",
        took.as_secs_f64(),
        err.trim()
    );
    assert!(
        !first.status.success(),
        "a stopped agent's reader succeeded"
    );
    assert!(took < TIMEOUT + MARGIN, "{took:?}; the log:\n{}", o.log());
    assert!(first.stdout.is_empty());
    assert!(err.contains("Software caused connection abort"), "{err}");
    // Readers after it fail at once while the agent is still stopped.
    let t = Instant::now();
    let second = cat(&env);
    assert!(!second.status.success() && second.stdout.is_empty());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    kill(Pid::from_raw(pid), Signal::SIGCONT).unwrap();
    let t = Instant::now();
    let (mut failed, mut empty) = (0, 0);
    loop {
        let read = cat(&env);
        let text = String::from_utf8_lossy(&read.stdout);
        if read.status.success() && text.contains("GREETING='hello world'") {
            break;
        }
        if read.status.success() && text.trim().is_empty() {
            empty += 1;
        }
        failed += 1;
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "not served 5 s after SIGCONT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "after SIGCONT: served again in {:.2} s ({failed} reads failed before, {empty} empty)",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(empty, 0, "an empty read succeeded");
    assert_eq!(o.agent_pid(), pid, "the agent was replaced");
    let log = o.log();
    assert!(log.contains("has been stopped for"), "{log}");
    assert!(log.contains("mounted again"), "{log}");

    // The watchdog ends with the agent.
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let t = Instant::now();
    while pid_alive(watchdog) {
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "the watchdog outlived the agent"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A new agent cleans the dead mount and restores it; dropping `o` stops it.
    o.ok(&["status"]);
}
