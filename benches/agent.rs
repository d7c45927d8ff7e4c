//! End-to-end figures for the agent and CLI (issue targets in docs/performance.md):
//! `var list` of 10,000 names, `status` round trip, idle resident memory. The FUSE read
//! through the agent is `benches/fuse_read.rs`.
//! Run with `cargo bench --bench agent` (or scripts/bench.sh).

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::home::Home;
use common::stats::{median, p95};

fn time_cmd(h: &Home, args: &[&str], n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let out = h
                .cmd(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .output()
                .expect("run");
            let d = t.elapsed();
            assert!(out.status.success());
            d
        })
        .collect()
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes --bench; nothing to filter.
    let h = Home::init();

    // Idle memory of a fresh agent with a small vault.
    h.ok(&["env", "create", "small"]);
    h.ok(&["var", "add", "-e", "small", "A", "B", "C"]);
    std::thread::sleep(Duration::from_millis(500));
    let status: serde_json::Value =
        serde_json::from_slice(&h.ok(&["status", "--json"])).expect("json");
    let pid = status["pid"].as_u64().expect("pid") as u32;
    let idle_small = rss_kib(pid);

    let status_times = time_cmd(&h, &["status", "--json"], 300);

    // 10,000 variables with values, imported in one transaction.
    let file = h.home.join("big.env");
    {
        let mut f = std::fs::File::create(&file).expect("create");
        for i in 0..10_000 {
            writeln!(f, "VARIABLE_NUMBER_{i:05}=value-{i}-abcdefghijklmnop").expect("write");
        }
    }
    h.ok(&["import", "-e", "big", file.to_str().expect("utf8")]);
    std::fs::remove_file(&file).expect("rm");
    let list_times = time_cmd(&h, &["var", "list", "-e", "big"], 50);
    let list_json_times = time_cmd(&h, &["var", "list", "-e", "big", "--json"], 50);
    std::thread::sleep(Duration::from_millis(500));
    let idle_big = rss_kib(pid);

    println!("| measure | median | p95 | target |");
    println!("|---|---|---|---|");
    println!(
        "| `openv status --json` round trip (process start to exit) | {:.2} ms | {:.2} ms | < 3 ms median |",
        median(&status_times).as_secs_f64() * 1e3,
        p95(&status_times).as_secs_f64() * 1e3
    );
    println!(
        "| `openv var list` of 10,000 variables, end to end | {:.2} ms | {:.2} ms | < 20 ms |",
        median(&list_times).as_secs_f64() * 1e3,
        p95(&list_times).as_secs_f64() * 1e3
    );
    println!(
        "| `openv var list --json` of 10,000 variables | {:.2} ms | {:.2} ms | - |",
        median(&list_json_times).as_secs_f64() * 1e3,
        p95(&list_json_times).as_secs_f64() * 1e3
    );
    println!(
        "| agent idle resident memory (small vault) | {:.1} MB | - | < 15 MB |",
        idle_small as f64 / 1024.0
    );
    println!(
        "| agent idle resident memory (after serving 10,000 names) | {:.1} MB | - | - |",
        idle_big as f64 / 1024.0
    );
    human_tier();
}

/// A human-tier action with its proof, beside the same kind of action without one: a
/// passphrase vault, `openv allow --passphrase-file` (argon2id check + rule) against
/// `openv policy deny` (agent tier, no proof), and a key-file proof.
fn human_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Home {
        home: dir.path().join("h"),
        key: dir.path().join("key"),
        dir,
    };
    let pass = h.home.parent().expect("parent").join("pass");
    std::fs::write(&pass, "bench pass phrase\n").expect("pass");
    let mut init = h
        .cmd(&["init"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("init");
    init.stdin
        .take()
        .expect("stdin")
        .write_all(b"bench pass phrase\n")
        .expect("write");
    assert!(init.wait().expect("init").success());
    h.ok(&["env", "create", "dev"]);
    let p = pass.to_str().expect("utf8");
    let exe = "/usr/bin/true";
    let deny = time_cmd(&h, &["policy", "deny", "-e", "dev", "--exe", exe], 10);
    let allow = time_cmd(
        &h,
        &["allow", "-e", "dev", "--exe", exe, "--passphrase-file", p],
        10,
    );
    let k = Home::init();
    k.ok(&["env", "create", "dev"]);
    let key = k.key.to_str().expect("utf8");
    let allow_key = time_cmd(
        &k,
        &["allow", "-e", "dev", "--exe", exe, "--keyfile", key],
        30,
    );
    let row = |what: &str, v: Vec<Duration>, target: &str| {
        println!(
            "| {what} | {:.1} ms | {:.1} ms | {target} |",
            median(&v).as_secs_f64() * 1e3,
            p95(&v).as_secs_f64() * 1e3
        );
    };
    row(
        "`openv policy deny` (agent tier, no proof), baseline",
        deny,
        "-",
    );
    row(
        "`openv allow --passphrase-file` (human tier: argon2id proof + rule)",
        allow,
        "< 1.5 s",
    );
    row(
        "`openv allow --keyfile` (human tier: key-file proof + rule)",
        allow_key,
        "-",
    );
}
