//! Helpers for the fault tests: kill or stop the agent, read an environment's values
//! back, watch the agent's memory.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Openv, pid_alive};

/// Sends `sig` to the agent of `o` (from its pid file: it may not answer); returns its pid.
pub fn signal(o: &Openv, sig: Signal) -> i32 {
    let pid = recorded_pid(o);
    kill(Pid::from_raw(pid), sig).unwrap();
    pid
}

/// Waits (10 s at most) until `pid` is gone.
pub fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "pid {pid} still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// kill -9 of the agent, waited for.
pub fn kill9(o: &Openv) {
    let pid = signal(o, Signal::SIGKILL);
    wait_gone(pid);
}

/// The pid recorded in the agent's pid file (no request sent: it may be stopped).
pub fn recorded_pid(o: &Openv) -> i32 {
    std::fs::read_to_string(o.home.join("run/agent.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Resident memory of `pid` in KiB.
pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Every value of `env`, sorted by name, as `openv run` hands them to an allowed `sh`
/// (written to a file: captured output would be masked).
pub fn values(o: &Openv, env: &str) -> Vec<(String, String)> {
    o.ok(&["policy", "allow", "-e", env, "--exe", "sh"]);
    let names: serde_json::Value =
        serde_json::from_str(&o.ok(&["var", "list", "-e", env, "--json"])).unwrap();
    let names: Vec<String> = names
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["has_value"] == true)
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    let out = o.dir.path().join(format!("values-{env}"));
    o.ok(&[
        "run",
        "-e",
        env,
        "--",
        "sh",
        "-c",
        "env -0 > \"$1\"",
        "sh",
        out.to_str().unwrap(),
    ]);
    let raw = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut got: Vec<(String, String)> = raw
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8(kv.to_vec()).ok()?;
            let (k, v) = kv.split_once('=')?;
            names
                .contains(&k.to_owned())
                .then(|| (k.to_owned(), v.to_owned()))
        })
        .collect();
    got.sort();
    got
}
