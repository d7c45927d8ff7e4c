//! A rule-covered read of a 50-variable .env served by the agent over FUSE (identify,
//! check, cached rendering, serve, audit), against the same bytes in a plain file. The
//! reader is a separate single-threaded process (this binary again, with `--read-loop`),
//! as `cat` or a dotenv loader would be. Prints the CPUs it may run on: scripts/bench.sh
//! runs it on both vCPUs, then on one core (`taskset -c 0`). Target: median < 50 µs.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::home::Home;
use common::stats::{pct, us};

const READS: usize = 5000;

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
    let project = dir.path().join("project");
    std::fs::create_dir(&project).expect("mkdir");
    let project_str = project.to_str().expect("utf8");
    h.ok(&["mount", project_str, "-e", "app", "--mode", "fuse"]);

    let target = project.join(".env");
    let served = std::fs::read(&target).expect("read the mount");
    let plain = dir.path().join("plain.env");
    std::fs::write(&plain, &served).expect("write");
    let fuse = reader_process(&target, served.len());
    let file = reader_process(&plain, served.len());
    h.ok(&["unmount", project_str]);
    h.ok(&["agent", "stop"]);

    println!("CPUs: {}", cpus_allowed());
    println!(
        "| rule-covered FUSE read through the agent ({} bytes), p10 / median / p90 | {:.1} / {:.1} / {:.1} µs | {:.0}x a plain file ({:.1} µs) |",
        served.len(),
        us(fuse[0]),
        us(fuse[1]),
        us(fuse[2]),
        fuse[1].as_secs_f64() / file[1].as_secs_f64(),
        us(file[1])
    );
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
    let mut times: Vec<Duration> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Duration::from_nanos(l.parse().expect("nanoseconds")))
        .collect();
    times.sort();
    [pct(&times, 10), pct(&times, 50), pct(&times, 90)]
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
