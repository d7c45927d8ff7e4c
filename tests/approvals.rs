//! Approvals through the headless queue, on a real FUSE mount: reads wait for a person,
//! scopes, lock, deny rules, coalescing and the prompt rate limit.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Openv, require};

struct Q {
    o: Openv,
    dir: PathBuf,
}

impl Q {
    fn new(config: &str) -> Self {
        let mut o = Openv::with_config(config);
        o.prompt = "queue";
        o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
        o.ok(&["env", "create", "dev"]);
        o.set("dev", "TOKEN", "tok-123");
        let dir = o.dir.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        o.ok(&[
            "mount",
            dir.to_str().unwrap(),
            "-e",
            "dev",
            "--mode",
            "fuse",
        ]);
        Self { o, dir }
    }

    /// `cat .env` in the background (its own session when `setsid`).
    fn cat(&self, setsid: bool) -> Child {
        let mut c = if setsid {
            let mut c = Command::new("setsid");
            c.args(["-w", "cat", ".env"]);
            c
        } else {
            let mut c = Command::new("cat");
            c.arg(".env");
            c
        };
        c.current_dir(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn pending(&self) -> Vec<serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_str(&self.o.ok(&["pending", "--json"])).unwrap();
        v.as_array().unwrap().clone()
    }

    /// Waits until exactly one request is pending; returns its id.
    fn wait_pending(&self) -> u64 {
        self.o.wait_pending()["id"].as_u64().unwrap()
    }
}

fn fuse() -> bool {
    require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
}

fn finished(c: Child) -> std::process::Output {
    c.wait_with_output().unwrap()
}

#[test]
fn a_read_waits_for_approve_and_gets_the_bytes() {
    if !fuse() {
        return;
    }
    let q = Q::new("");
    let mut reader = q.cat(false);
    let id = q.wait_pending();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        reader.try_wait().unwrap().is_none(),
        "the read blocks while pending"
    );
    let p = &q.pending()[0];
    assert_eq!(p["env"], "dev");
    assert!(p["exe"].as_str().unwrap().ends_with("/cat"));
    assert!(p["chain"][0].as_str().unwrap().starts_with("cat"), "{p}");
    q.o.ok(&["approve", &id.to_string(), "--scope", "once"]);
    let out = finished(reader);
    common::run::assert_success("cat", &out);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "TOKEN=tok-123\n");
    assert!(q.pending().is_empty());
    let err = q.o.err(&["approve", &id.to_string()]);
    assert!(err.contains("no pending request"), "{err}");
}

#[test]
fn deny_and_timeout_give_eacces() {
    if !fuse() {
        return;
    }
    let q = Q::new("prompt_timeout = \"1s\"\n");
    let reader = q.cat(false);
    let id = q.wait_pending();
    q.o.ok(&["deny", &id.to_string()]);
    let out = finished(reader);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));

    let t = Instant::now();
    let out = finished(q.cat(false));
    assert!(!out.status.success() && out.stdout.is_empty());
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(q.pending().is_empty(), "timed-out request is gone");
}

#[test]
fn a_request_whose_process_exits_disappears() {
    if !fuse() {
        return;
    }
    let q = Q::new("");
    let mut reader = q.cat(false);
    q.wait_pending();
    reader.kill().unwrap();
    reader.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !q.pending().is_empty() {
        assert!(
            Instant::now() < deadline,
            "pending request outlived its process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// python3 that opens .env twice, waiting for a line on stdin between the reads.
fn two_reads(q: &Q) -> Child {
    Command::new("python3")
        .args([
            "-c",
            "import sys\nprint(len(open('.env').read()), flush=True)\nsys.stdin.readline()\nprint(len(open('.env').read()), flush=True)",
        ])
        .current_dir(&q.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn process_grant_covers_that_process_only() {
    if !fuse() {
        return;
    }
    let q = Q::new("");
    let mut p = two_reads(&q);
    let id = q.wait_pending();
    q.o.ok(&["approve", &id.to_string(), "--scope", "process"]);
    use std::io::Write;
    p.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    let out = finished(p);
    assert!(
        out.status.success(),
        "second read needs no prompt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "14\n14\n");
    // A new process of the same program asks again.
    let reader = q.cat(false);
    let id = q.wait_pending();
    q.o.ok(&["deny", &id.to_string()]);
    assert!(!finished(reader).status.success());
}

#[test]
fn exe_grant_expires_and_lock_ends_grants() {
    if !fuse() {
        return;
    }
    let q = Q::new("");
    let reader = q.cat(false);
    let id = q.wait_pending();
    q.o.ok(&["approve", &id.to_string(), "--scope", "exe", "--for", "2s"]);
    assert!(finished(reader).status.success());
    // Another cat process: covered by the exe grant.
    assert!(finished(q.cat(false)).status.success());
    assert_eq!(q.o.status()["grants"], 1);
    std::thread::sleep(Duration::from_millis(2300));
    let reader = q.cat(false);
    let id = q.wait_pending();
    q.o.ok(&["approve", &id.to_string(), "--scope", "exe", "--for", "1h"]);
    assert!(finished(reader).status.success());
    assert!(finished(q.cat(false)).status.success());
    q.o.ok(&["lock"]);
    q.o.ok(&["unlock", "--keyfile", q.o.keyfile.to_str().unwrap()]);
    assert_eq!(q.o.status()["grants"], 0, "locking ended the grant");
    let reader = q.cat(false);
    let id = q.wait_pending();
    q.o.ok(&["deny", &id.to_string()]);
    assert!(!finished(reader).status.success());
}

#[test]
fn deny_rule_beats_allow_rule() {
    if !fuse() {
        return;
    }
    let q = Q::new("");
    q.o.ok(&["policy", "allow", "-e", "dev", "--exe", "cat"]);
    assert!(
        finished(q.cat(false)).status.success(),
        "allow rule: no prompt"
    );
    let out = q.o.ok(&["policy", "deny", "-e", "dev", "--exe", "cat"]);
    let deny_id: i64 = out
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .parse()
        .unwrap();
    let t = Instant::now();
    let out = finished(q.cat(false));
    assert!(!out.status.success() && t.elapsed() < Duration::from_secs(1));
    assert!(q.pending().is_empty(), "a deny rule asks nobody");
    let rules: serde_json::Value =
        serde_json::from_str(&q.o.ok(&["policy", "list", "--json"])).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 2);
    q.o.ok(&["policy", "rm", &deny_id.to_string()]);
    assert!(finished(q.cat(false)).status.success());
}

#[test]
fn a_hundred_opens_from_one_tree_make_one_prompt() {
    if !fuse() {
        return;
    }
    let q = Q::new("");
    let burst = Command::new("bash")
        .args([
            "-c",
            "for i in $(seq 1 100); do cat .env > out.$i 2>/dev/null & done; wait; cat out.* | wc -l",
        ])
        .current_dir(&q.dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let id = q.wait_pending();
    // Let every open arrive and join the one prompt.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = q.pending();
        assert_eq!(p.len(), 1, "one prompt for one process tree: {p:?}");
        if p[0]["waiting"].as_u64().unwrap() == 100 {
            break;
        }
        assert!(Instant::now() < deadline, "opens did not all arrive: {p:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    q.o.ok(&["approve", &id.to_string(), "--scope", "once"]);
    let out = finished(burst);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "100",
        "all 100 got the file"
    );
}

#[test]
fn prompts_beyond_the_rate_limit_are_denied_unasked() {
    if !fuse() {
        return;
    }
    let q = Q::new("prompt_rate_limit = 2\nprompt_timeout = \"5s\"\n");
    let a = q.cat(true);
    let b = q.cat(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while q.pending().len() < 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let c = finished(q.cat(true));
    assert!(
        !c.status.success() && t.elapsed() < Duration::from_secs(1),
        "third is refused at once"
    );
    let s = q.o.status();
    assert!(s["rate_limited_until"].is_string(), "{s}");
    for p in q.pending() {
        q.o.ok(&["deny", &p["id"].to_string()]);
    }
    finished(a);
    finished(b);
    let audit = q.o.ok(&["audit", "--json"]);
    assert!(
        audit.contains("\"kind\":\"rate_limited\"") && audit.contains("prompt rate limit"),
        "{audit}"
    );
}

#[test]
fn pending_watch_answers_from_a_terminal() {
    if !fuse() || !require(which("tmux"), "tmux") {
        return;
    }
    let q = Q::new("");
    // The watcher proves once (here with the key file) and reads answers from its own
    // terminal: a tmux pane, typed into with send-keys.
    let sock = q.o.dir.path().join("tmux.sock");
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .args(args)
            .output()
            .unwrap()
    };
    let cmd = format!(
        "env OPENV_HOME={} OPENV_KEYFILE={} {} pending --watch; sleep 30",
        q.o.home.display(),
        q.o.keyfile.display(),
        common::BIN
    );
    assert!(
        tmux(&["new-session", "-d", "-x", "200", "-y", "50", &cmd])
            .status
            .success()
    );
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait_for = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !screen().contains(text) {
            assert!(
                Instant::now() < deadline,
                "waiting for {text:?}: {}",
                screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("watching for requests");
    let reader = q.cat(false);
    q.wait_pending();
    wait_for("allow [o]nce");
    tmux(&["send-keys", "o", "Enter"]);
    let out = finished(reader);
    wait_for("approved");
    tmux(&["kill-server"]);
    assert!(out.status.success(), "approved from the watcher");
}

fn which(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
