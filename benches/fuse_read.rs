//! A rule-covered read of a 50-variable .env served by the agent over FUSE (identify,
//! check, choose the dialect, cached rendering, serve, audit), against the same bytes in a
//! plain file. The project has an openv.toml naming the mount (as `openv up` projects do),
//! so a per-open read of it would show here. Two readers, each a separate single-threaded
//! process: this binary again with `--read-loop` (`std::fs::read`, as `cat` or a dotenv
//! loader would), and python3 (`open(p, 'rb').read()`, in the python-dotenv dialect).
//! Each row also gives the FUSE requests per read, counted by the mount (`openv mounts
//! --json`, `requests` over `served`). Prints the CPUs it may run on: scripts/bench.sh
//! runs it on both vCPUs, then on one core (`taskset -c 0`). Target: median < 50 µs.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::home::Home;
use common::stats::{pct, us};

const READS: usize = 5000;
const PYTHON_READS: usize = 2000;

/// `python3 - PATH N`: N timed reads after N/10 warm-up ones, one time in ns per line.
const PY_LOOP: &str = r#"
import sys, time
path, n = sys.argv[1], int(sys.argv[2])
size = len(open(path, 'rb').read())
out = []
for i in range(n + n // 10):
    t = time.perf_counter_ns()
    with open(path, 'rb') as f:
        got = len(f.read())
    took = time.perf_counter_ns() - t
    assert got == size, "short read"
    if i >= n // 10:
        out.append(str(took))
print("\n".join(out))
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--read-loop") {
        read_loop(&args[at + 1..]);
        return;
    }
    if !openv_mount::fuse_available() {
        println!("| FUSE read through the agent | not measured: FUSE is not usable here | |");
        return;
    }
    let h = Home::init();
    let dir = &h.dir;
    h.ok(&["env", "create", "app"]);
    let source = dir.path().join("app.env");
    let body: String = (0..50)
        .map(|i| format!("APP_SETTING_{i:02}=value-{i}-0123456789abcdef\n"))
        .collect();
    std::fs::write(&source, &body).expect("write");
    h.ok(&["import", "-e", "app", source.to_str().expect("utf8")]);
    std::fs::remove_file(&source).expect("rm");
    let me = std::env::current_exe().expect("exe");
    h.ok(&[
        "policy",
        "allow",
        "-e",
        "app",
        "--exe",
        me.to_str().expect("utf8"),
    ]);
    let python = real_python();
    if let Some(py) = &python {
        h.ok(&["policy", "allow", "-e", "app", "--exe", py]);
    }
    let project = dir.path().join("project");
    std::fs::create_dir(&project).expect("mkdir");
    std::fs::write(
        project.join("openv.toml"),
        "env = \"app\"\n\n[[mount]]\npath = \".env\"\nmode = \"fuse\"\n",
    )
    .expect("write openv.toml");
    let project_str = project.to_str().expect("utf8");
    h.ok(&["mount", project_str, "-e", "app", "--mode", "fuse"]);

    let target = project.join(".env");
    let served = std::fs::read(&target).expect("read the mount");
    let plain = dir.path().join("plain.env");
    std::fs::write(&plain, &served).expect("write");
    let before = counts(&h);
    let fuse = reader_process(&target, served.len());
    let raw_requests = per_read(before, counts(&h));
    let file = reader_process(&plain, served.len());
    let py = python.as_ref().map(|py| {
        let before = counts(&h);
        let fuse = python_process(py, &target);
        let requests = per_read(before, counts(&h));
        let bytes = Command::new(py)
            .args([
                "-c",
                "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())",
            ])
            .arg(&target)
            .output()
            .expect("python3")
            .stdout;
        let plain = dir.path().join("plain-python.env");
        std::fs::write(&plain, &bytes).expect("write");
        (fuse, python_process(py, &plain), requests, bytes.len())
    });
    h.ok(&["unmount", project_str]);
    h.ok(&["agent", "stop"]);

    println!("CPUs: {}", cpus_allowed());
    row("std::fs::read", served.len(), fuse, file, raw_requests);
    match py {
        Some((fuse, file, requests, len)) => {
            row("python3 open().read()", len, fuse, file, requests);
        }
        None => {
            println!("| python3 open().read() through the agent | not measured: no python3 | |")
        }
    }
}

fn row(reader: &str, bytes: usize, fuse: [Duration; 3], file: [Duration; 3], requests: f64) {
    println!(
        "| rule-covered FUSE read through the agent, {reader} ({bytes} bytes), p10 / median / p90 | {:.1} / {:.1} / {:.1} µs | {:.1}x a plain file ({:.1} µs) | {requests:.2} FUSE requests per read |",
        us(fuse[0]),
        us(fuse[1]),
        us(fuse[2]),
        fuse[1].as_secs_f64() / file[1].as_secs_f64(),
        us(file[1])
    );
}

/// The mount's (served, requests) from `openv mounts --json`.
fn counts(h: &Home) -> (u64, u64) {
    let list: serde_json::Value =
        serde_json::from_slice(&h.ok(&["mounts", "--json"])).expect("mounts JSON");
    let m = &list[0];
    let n = |k: &str| m[k].as_u64().expect("a count");
    (n("served"), n("requests"))
}

/// FUSE requests per served read between two `counts`: each `openv mounts` call costs
/// none (the agent reads its own statistics).
fn per_read(before: (u64, u64), after: (u64, u64)) -> f64 {
    let reads = after.0.saturating_sub(before.0).max(1);
    after.1.saturating_sub(before.1) as f64 / reads as f64
}

/// The interpreter python3 runs (the file a rule names), if there is one.
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

/// PYTHON_READS `open(path, 'rb').read()` in one python3 process; 10th, 50th, 90th
/// percentiles.
fn python_process(python: &str, path: &Path) -> [Duration; 3] {
    let out = Command::new(python)
        .args(["-c", PY_LOOP])
        .arg(path)
        .arg(PYTHON_READS.to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3 reader: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    percentiles(&out.stdout)
}

fn percentiles(stdout: &[u8]) -> [Duration; 3] {
    let mut times: Vec<Duration> = String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| Duration::from_nanos(l.parse().expect("nanoseconds")))
        .collect();
    times.sort();
    [pct(&times, 10), pct(&times, 50), pct(&times, 90)]
}

/// Reads `path` READS times in a separate process; 10th, 50th and 90th percentiles.
fn reader_process(path: &Path, expected: usize) -> [Duration; 3] {
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
    percentiles(&out.stdout)
}

/// `--read-loop PATH N EXPECTED`: N timed `std::fs::read`s (open, fstat, read, read to end
/// of file, close) after N/10 warm-up reads, one time in nanoseconds per line.
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

fn cpus_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map_or_else(|| "?".to_owned(), |c| c.trim().to_owned())
}
