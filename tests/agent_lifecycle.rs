//! The agent starts on demand, refuses a second instance, restarts and stops cleanly.

mod common;

use std::time::Duration;

use common::{Openv, pid_alive};

#[test]
fn starts_on_demand_and_reports_status() {
    let o = Openv::empty();
    let s = o.status();
    let pid = s["pid"].as_i64().unwrap() as i32;
    assert!(pid_alive(pid));
    assert_eq!(s["vault_exists"], false);
    assert!(o.socket().exists());
    let err = o.err(&["env", "list"]);
    assert!(err.contains("run `openv init`"), "{err}");
}

#[test]
fn second_agent_is_refused_cleanly() {
    let o = Openv::new();
    let pid = o.agent_pid();
    let err = o.err(&["agent", "--foreground"]);
    assert!(
        err.contains("already running") && err.contains(&pid.to_string()),
        "{err}"
    );
    assert!(o.ok(&["agent"]).contains("already running"));
    assert_eq!(o.agent_pid(), pid, "the running agent is untouched");
}

#[test]
fn concurrent_clients_share_one_agent() {
    let o = Openv::empty();
    let children: Vec<_> = (0..6)
        .map(|_| {
            o.cmd(&["status", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<i64> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = common::run::assert_success("openv status", &out);
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            v["pid"].as_i64().unwrap()
        })
        .collect();
    assert!(pids.windows(2).all(|w| w[0] == w[1]), "{pids:?}");
}

#[test]
fn restart_and_stop_leave_nothing_behind() {
    let o = Openv::new();
    let first = o.agent_pid();
    assert!(o.ok(&["agent", "restart"]).contains("restarted"));
    let second = o.agent_pid();
    assert_ne!(first, second);
    assert!(!pid_alive(first));
    // A restart locks the vault: the key lived only in the old process.
    assert_eq!(o.status()["locked"], true);
    assert!(o.ok(&["agent", "stop"]).contains(&second.to_string()));
    assert!(!pid_alive(second));
    assert!(!o.socket().exists(), "socket removed on stop");
    assert!(o.ok(&["agent", "stop"]).contains("no openv agent"));
}

#[test]
fn foreground_agent_logs_to_stderr_and_stops_on_sigterm() {
    let o = Openv::empty();
    let child = o
        .cmd(&["agent", "--foreground"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !o.socket().exists() {
        assert!(std::time::Instant::now() < deadline, "agent did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(o.agent_pid(), child.id() as i32);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("openv agent listening") && log.contains("stopped"),
        "{log}"
    );
    assert!(!o.socket().exists());
}

#[test]
fn agent_is_not_dumpable() {
    let o = Openv::new();
    let pid = o.agent_pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    // PR_SET_DUMPABLE 0 makes /proc/<pid>/ files root-owned.
    let meta = std::fs::metadata(format!("/proc/{pid}/mem")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), 0, "{status}");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(core.split_whitespace().nth(4) == Some("0"), "{core}");
}

#[test]
fn idle_timeout_locks_the_vault() {
    let o = Openv::with_config("idle_lock = \"1s\"\n");
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert_eq!(o.status()["locked"], false);
    std::thread::sleep(Duration::from_millis(2500));
    let s = o.status();
    assert_eq!(s["locked"], true, "{s}");
    assert!(o.log().contains("idle timeout"));
}

#[test]
fn bad_config_is_reported_with_its_key() {
    let o = Openv::with_config("idle_lock = \"forever\"\n");
    let err = o.err(&["status"]);
    assert!(
        err.contains("idle_lock") && err.contains("config.toml"),
        "{err}"
    );
}
