//! What clients may cost the agent: oversized and unfinished frames, connection floods,
//! and an agent out of file descriptors. Raw socket clients, the real agent.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::faults::rss_kib;
use common::{Openv, require};

/// One length-delimited frame.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

const HELLO: &[u8] = br#"{"hello":{"protocol":2,"version":"test"}}"#;

/// Reads one frame's body (5 s at most); `None` on EOF or an error.
fn read_frame(s: &mut UnixStream) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

/// Connected and greeted.
fn greeted(socket: &Path) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(&frame(HELLO)).unwrap();
    let hello = read_frame(&mut s).unwrap();
    assert!(hello.contains("\"hello\""), "{hello}");
    s
}

#[test]
fn oversized_and_unfinished_frames_keep_the_agent_within_its_bound() {
    let o = Openv::new();
    let pid = o.agent_pid();
    let before = rss_kib(pid);
    // A request of a small kind announcing 30 MiB is refused from its first bytes.
    let mut big = Vec::new();
    for _ in 0..20 {
        let mut s = greeted(&o.socket());
        let mut head = (30u32 << 20).to_be_bytes().to_vec();
        head.extend_from_slice(br#"{"var_list":{"env":"dev"}}"#);
        head.extend_from_slice(&[b' '; 64]);
        s.write_all(&head).unwrap();
        let answer = read_frame(&mut s).unwrap_or_default();
        assert!(
            answer.contains(
                "a var_list request of 31457280 bytes is over its limit of 1048576 bytes"
            ),
            "{answer}"
        );
        big.push(s);
    }
    // Unfinished value batches: 1 MiB of 4 MiB sent on each of 40 connections. The
    // shared budget (64 MiB) holds some; the rest are refused at once.
    let mut held = Vec::new();
    let mut refused = 0;
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..40 {
        let mut s = greeted(&o.socket());
        let mut head = (4u32 << 20).to_be_bytes().to_vec();
        head.extend_from_slice(br#"{"var_set_many":{"env":"dev","vars":[["A",""#);
        head.extend_from_slice(&chunk);
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        if s.write_all(&head).is_err() {
            refused += 1;
            continue;
        }
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut probe = [0u8; 4];
        match s.read(&mut probe) {
            Ok(n) if n > 0 => refused += 1,
            _ => held.push(s),
        }
    }
    // The agent still answers, and stays within its bound.
    o.ok(&["status"]);
    let during = rss_kib(pid);
    eprintln!(
        "frames: rss {} MiB before, {} MiB with {} unfinished 4 MiB frames held ({} refused) and 20 oversized refused",
        before / 1024,
        during / 1024,
        held.len(),
        refused
    );
    assert!(refused > 0, "the budget refused nothing");
    assert!(during < before + 160 * 1024, "{before} KiB -> {during} KiB");
    drop(held);
    drop(big);
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "AFTER", "ok");
}

#[test]
fn connections_are_capped_per_process_and_in_total_with_a_clear_error() {
    let o = Openv::empty();
    std::fs::create_dir_all(&o.home).unwrap();
    std::fs::set_permissions(&o.home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    o.write_config("max_connections = 20\nmax_connections_per_process = 12\n");
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    let mut mine: Vec<UnixStream> = (0..12).map(|_| greeted(&o.socket())).collect();
    let mut s = UnixStream::connect(o.socket()).unwrap();
    s.write_all(&frame(HELLO)).unwrap();
    let answer = read_frame(&mut s).unwrap_or_default();
    assert!(
        answer.contains(&format!(
            "process {} has 12 connections open to the openv agent, the limit for one process",
            std::process::id()
        )),
        "{answer}"
    );
    // Another process fills the rest; then a command gets the total's message.
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket,struct,sys,time\nh=b'{\"hello\":{\"protocol\":2,\"version\":\"t\"}}'\nss=[]\nfor _ in range(8):\n s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);s.sendall(struct.pack('>I',len(h))+h);s.recv(4096);ss.append(s)\nprint('ready',flush=True)\ntime.sleep(60)",
            o.socket().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 6];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    let err = o.err(&["status"]);
    assert_eq!(
        err.trim_end(),
        "error: the openv agent has 20 connections open, its limit: close idle clients (`openv mcp` sessions, scripts) and try again"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    mine.truncate(2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !o.run(&["status"]).status.success() {
        assert!(Instant::now() < deadline, "the agent did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_agent_out_of_descriptors_says_so_and_recovers() {
    if !common::require(
        nix::unistd::geteuid().is_root(),
        "root (to read the agent's /proc)",
    ) {
        return;
    }
    let o = Openv::new();
    o.write_config("request_timeout = \"2s\"\n");
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "GREETING", "hi");
    let pid = o.agent_pid();
    let fuse = openv_mount::fuse_available();
    let dir = o.dir.path().join("proj");
    std::fs::create_dir(&dir).unwrap();
    if require(fuse, "FUSE (/dev/fuse and fuse3)") {
        o.ok(&["allow", "-e", "dev", "--exe", "cat"]);
        o.ok(&[
            "mount",
            dir.to_str().unwrap(),
            "-e",
            "dev",
            "--mode",
            "fuse",
        ]);
    }
    // Leave the agent a handful of descriptors, then take them with idle connections.
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let limit = open + 6;
    let set = |n: usize| {
        let ok = Command::new("prlimit")
            .arg(format!("--pid={pid}"))
            // The soft limit only: raising a hard limit back needs CAP_SYS_RESOURCE.
            .arg(format!("--nofile={n}:"))
            .status()
            .unwrap();
        assert!(ok.success());
    };
    set(limit);
    let mut idle = Vec::new();
    for _ in 0..40 {
        match UnixStream::connect(o.socket()) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let err = o.err(&["status"]);
    eprintln!(
        "out of descriptors: `openv status` failed after {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        err.contains(&format!(
            "the openv agent (pid {pid}) did not answer in 2 s; it is out of file descriptors"
        )),
        "{err}"
    );
    if fuse {
        let cat = Command::new("timeout")
            .arg("5")
            .arg("cat")
            .arg(dir.join(".env"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&cat.stderr);
        assert!(!cat.status.success() && cat.stdout.is_empty());
        assert!(stderr.contains("Too many open files"), "{stderr}");
    }
    set(4096);
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !o.run(&["status"]).status.success() {
        assert!(Instant::now() < deadline, "the agent did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
    if fuse {
        let cat = Command::new("cat").arg(dir.join(".env")).output().unwrap();
        assert!(String::from_utf8_lossy(&cat.stdout).contains("GREETING=hi"));
    }
    let log = o.log();
    // Logged when failing starts and when it ends, not for every failed accept.
    let episodes = log.matches("accepting connections fails").count();
    assert!((1..=3).contains(&episodes), "{episodes}: {log}");
    assert!(log.matches("accepting connections again").count() >= 1);
}
