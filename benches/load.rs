//! Load held at once, for `docs/reliability.md` "Load": many concurrent readers of one
//! rule-covered FUSE mount (python3 processes, each `open().read()` in a loop), CLI clients
//! (`openv status` and `openv var list`, a process per command as a user runs them) and
//! `openv mcp` sessions (raw JSON-RPC `list_variables` calls on the real binary), for
//! `OPENV_LOAD_SECS` (default 15). Prints per kind the operations, errors (a read that
//! fails, or succeeds with other bytes than the mount's, counts), p50 and p99, and the
//! agent's RSS before, at its highest during, and after. Figures, not assertions.
//!
//! `OPENV_LOAD_READERS` (default 100), `OPENV_LOAD_CLI` (4), `OPENV_LOAD_MCP` (4) set how
//! many of each run at once.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::home::{Home, bin};
use common::jsonrpc::LineClient;
use common::stats::{ms, pct};
use serde_json::json;

/// `python3 - PATH SECS EXPECTED_FILE`: reads until SECS pass; prints one line per read,
/// `ok NS` or `err NS WHY`.
const PY_READER: &str = r#"
import sys, time
path, secs, want = sys.argv[1], float(sys.argv[2]), open(sys.argv[3], 'rb').read()
end = time.monotonic() + secs
out = []
while time.monotonic() < end:
    t = time.perf_counter_ns()
    try:
        with open(path, 'rb') as f:
            got = f.read()
        took = time.perf_counter_ns() - t
        out.append("ok %d" % took if got == want else "err %d %d-bytes" % (took, len(got)))
    except OSError as e:
        out.append("err %d %s" % (time.perf_counter_ns() - t, e.errno))
print("\n".join(out))
"#;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One kind of client: its clients, operation times and errors.
#[derive(Default)]
struct Kind {
    times: Vec<Duration>,
    errors: usize,
}

fn main() {
    if !openv_mount::fuse_available() {
        println!("| load | not measured: FUSE is not usable here | |");
        return;
    }
    let secs = knob("OPENV_LOAD_SECS", 15) as u64;
    let (readers, clis, mcps) = (
        knob("OPENV_LOAD_READERS", 100),
        knob("OPENV_LOAD_CLI", 4),
        knob("OPENV_LOAD_MCP", 4),
    );
    let h = Home::init();
    h.ok(&["env", "create", "app"]);
    let source = h.dir.path().join("app.env");
    let body: String = (0..50)
        .map(|i| format!("APP_SETTING_{i:02}=value-{i}-0123456789abcdef\n"))
        .collect();
    std::fs::write(&source, &body).expect("write");
    h.ok(&["import", "-e", "app", source.to_str().expect("utf8")]);
    let python = real_python().expect("python3 is needed for the readers");
    h.ok(&["policy", "allow", "-e", "app", "--exe", &python]);
    let project = h.dir.path().join("project");
    std::fs::create_dir(&project).expect("mkdir");
    let project_str = project.to_str().expect("utf8");
    h.ok(&["mount", project_str, "-e", "app", "--mode", "fuse"]);
    let target = project.join(".env");
    // What a python reader is served (its own dialect), to compare every read with.
    let want = h.dir.path().join("want.env");
    let got = Command::new(&python)
        .args([
            "-c",
            "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())",
        ])
        .arg(&target)
        .output()
        .expect("python3");
    assert!(
        got.status.success() && !got.stdout.is_empty(),
        "the first read failed"
    );
    std::fs::write(&want, &got.stdout).expect("write");

    let agent: i32 = String::from_utf8(h.ok(&["status", "--json"]))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["pid"].as_i64())
        .expect("agent pid") as i32;
    let rss_before = rss_kib(agent);

    let done = AtomicBool::new(false);
    let (reads, cli, mcp) = (
        Mutex::new(Kind::default()),
        Mutex::new(Kind::default()),
        Mutex::new(Kind::default()),
    );
    let mut rss_peak = rss_before;
    let started = Instant::now();
    std::thread::scope(|s| {
        let children: Vec<_> = (0..readers)
            .map(|_| {
                Command::new(&python)
                    .args(["-c", PY_READER])
                    .arg(&target)
                    .arg(secs.to_string())
                    .arg(&want)
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("python3 reader")
            })
            .collect();
        for c in 0..clis {
            let (h, cli, done) = (&h, &cli, &done);
            s.spawn(move || {
                let mut i = c;
                while !done.load(Ordering::SeqCst) {
                    let args: &[&str] = if i % 2 == 0 {
                        &["status"]
                    } else {
                        &["var", "list", "-e", "app"]
                    };
                    i += 1;
                    let t = Instant::now();
                    let ok = h
                        .cmd(args)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success());
                    record(cli, t.elapsed(), ok);
                }
            });
        }
        for _ in 0..mcps {
            let (home, mcp, done) = (&h.home, &mcp, &done);
            s.spawn(move || {
                let mut session = mcp_session(home);
                session.initialize("load");
                let args = json!({"environment": "app"});
                while !done.load(Ordering::SeqCst) {
                    let t = Instant::now();
                    let r = session.call("list_variables", args.clone());
                    record(mcp, t.elapsed(), r["result"]["isError"] == false);
                }
                session.close();
            });
        }
        while started.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_millis(500));
            rss_peak = rss_peak.max(rss_kib(agent));
        }
        done.store(true, Ordering::SeqCst);
        for c in children {
            let out = c.wait_with_output().expect("reader");
            let mut k = reads.lock().expect("lock");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let mut f = line.split(' ');
                let (what, ns) = (f.next(), f.next().and_then(|n| n.parse().ok()));
                k.times.push(Duration::from_nanos(ns.unwrap_or(0)));
                if what != Some("ok") {
                    k.errors += 1;
                }
            }
            if !out.status.success() {
                k.errors += 1;
            }
        }
    });
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = rss_kib(agent);
    h.ok(&["unmount", project_str]);
    h.ok(&["agent", "stop"]);

    println!(
        "{readers} readers, {clis} CLI clients, {mcps} MCP sessions at once for {:.1} s",
        took.as_secs_f64()
    );
    println!("| kind | at once | operations | errors | p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    row("FUSE read (python3 open().read())", readers, reads, took);
    row("CLI (status, var list: a process each)", clis, cli, took);
    row("MCP list_variables", mcps, mcp, took);
    println!(
        "agent RSS: {} MiB before, {} MiB at most during, {} MiB 2 s after",
        rss_before / 1024,
        rss_peak / 1024,
        rss_after / 1024
    );
}

fn record(kind: &Mutex<Kind>, took: Duration, ok: bool) {
    let mut k = kind.lock().expect("lock");
    k.times.push(took);
    if !ok {
        k.errors += 1;
    }
}

fn row(name: &str, at_once: usize, kind: Mutex<Kind>, took: Duration) {
    let mut k = kind.into_inner().expect("lock");
    k.times.sort();
    if k.times.is_empty() {
        println!("| {name} | {at_once} | 0 | {} | | |", k.errors);
        return;
    }
    println!(
        "| {name} | {at_once} | {} ({:.0}/s) | {} | {} | {} |",
        k.times.len(),
        k.times.len() as f64 / took.as_secs_f64(),
        k.errors,
        ms(pct(&k.times, 50)),
        ms(pct(&k.times, 99))
    );
}

fn mcp_session(home: &Path) -> LineClient {
    let mut cmd = Command::new(bin());
    cmd.args(["mcp", "--rate-limit", "0"])
        .env("OPENV_HOME", home)
        .env_remove("OPENV_LOG")
        .stderr(Stdio::null());
    LineClient::spawn(&mut cmd)
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn real_python() -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !path.is_empty()).then_some(path)
}
