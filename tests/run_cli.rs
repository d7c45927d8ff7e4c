//! `openv run` end to end: values reach the child (checked by hash, never printed),
//! masking of captured output, exit codes, signals, stdin, approvals.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Openv;
use common::run::assert_success;
use sha2::{Digest, Sha256};

const TOKEN: &str = "tok-9f8e7d6c5b4a-canary";
const OTHER: &str = "other value with spaces";
const MASK: &str = "<concealed by openv>";

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A vault with `dev` (TOKEN, OTHER, SHORT) and `prod` (TOKEN), `sh` allowed on both.
fn setup() -> Openv {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.ok(&["env", "create", "prod"]);
    o.set("dev", "TOKEN", TOKEN);
    o.set("dev", "OTHER", OTHER);
    o.set("dev", "SHORT", "abc");
    o.set("prod", "TOKEN", "prod-token-value");
    for env in ["dev", "prod"] {
        o.ok(&["policy", "allow", "-e", env, "--exe", "sh"]);
    }
    o
}

fn run_sh(o: &Openv, extra: &[&str], script: &str) -> std::process::Output {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    o.run(&args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn values_arrive_in_the_child() {
    let o = setup();
    let out = run_sh(
        &o,
        &["-e", "dev"],
        r#"printf %s "$TOKEN" | sha256sum; printf %s "$OTHER" | sha256sum"#,
    );
    assert_success("openv run", &out);
    let s = text(&out.stdout);
    assert!(s.contains(&sha(TOKEN)) && s.contains(&sha(OTHER)), "{s}");
    // Several environments merge in order, later wins; --only narrows.
    let out = run_sh(
        &o,
        &["-e", "dev", "-e", "prod", "--only", "TOKEN"],
        r#"printf %s "$TOKEN" | sha256sum; echo "other=${OTHER:-unset}""#,
    );
    let s = text(&out.stdout);
    assert!(s.contains(&sha("prod-token-value")), "{s}");
    assert!(s.contains("other=unset"), "{s}");
}

#[test]
fn captured_output_is_masked_even_when_split_across_writes() {
    let o = setup();
    let (a, b) = TOKEN.split_at(7);
    let script = format!(
        "printf 'token=%s\\n' \"$TOKEN\"; printf 'split={a}'; sleep 0.2; printf '{b} end\\n'; echo \"err=$OTHER\" >&2; echo \"short=$SHORT\""
    );
    let out = run_sh(&o, &["-e", "dev"], &script);
    assert_success("openv run", &out);
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert!(!so.contains(TOKEN) && !so.contains(b), "{so}");
    assert!(so.contains(&format!("token={MASK}\n")), "{so}");
    assert!(so.contains(&format!("split={MASK} end\n")), "{so}");
    assert_eq!(se, format!("err={MASK}\n"));
    // Values under 4 bytes are not masked (documented).
    assert!(so.contains("short=abc"), "{so}");

    let out = run_sh(&o, &["-e", "dev", "--no-masking"], "echo \"token=$TOKEN\"");
    assert_eq!(text(&out.stdout), format!("token={TOKEN}\n"));
}

#[test]
fn with_nothing_to_mask_openv_execs_and_leaves_no_process() {
    let o = setup();
    let dir = o.dir.path().to_owned();
    let pidfile = dir.join("pid");
    let hashfile = dir.join("hash");
    let script = format!(
        "echo $$ > {}; printf %s \"$TOKEN\" | sha256sum > {}",
        pidfile.display(),
        hashfile.display()
    );
    // stdout /dev/null: nobody captures it, so no proxy.
    let child = o
        .cmd(&["run", "-e", "dev", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let openv_pid = child.id();
    let st = child.wait_with_output().unwrap();
    assert!(st.status.success());
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, openv_pid, "the command replaced openv (exec)");
    assert!(
        std::fs::read_to_string(&hashfile)
            .unwrap()
            .contains(&sha(TOKEN))
    );
    // --no-masking with a captured stdout: exec as well.
    let child = o
        .cmd(&[
            "run",
            "-e",
            "dev",
            "--no-masking",
            "--",
            "sh",
            "-c",
            "echo $$",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let openv_pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout).trim(), openv_pid.to_string());
}

#[test]
fn exit_codes_and_signals_pass_through() {
    let o = setup();
    let out = run_sh(&o, &["-e", "dev"], "exit 7");
    assert_eq!(out.status.code(), Some(7));
    let out = run_sh(&o, &["-e", "dev"], "kill -KILL $$");
    assert_eq!(out.status.code(), Some(137));
    let out = o
        .cmd(&["run", "-e", "dev", "--", "sh", "-c", "exit 5"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "exec mode");

    for (sig, code) in [
        (nix::sys::signal::Signal::SIGTERM, 43),
        (nix::sys::signal::Signal::SIGINT, 44),
    ] {
        let script = "trap 'echo got-term; exit 43' TERM; trap 'echo got-int; exit 44' INT; echo ready; while :; do sleep 0.05; done";
        let mut child = o
            .cmd(&["run", "-e", "dev", "--", "sh", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(code), "{sig:?}: {rest:?}");
        assert!(rest.iter().any(|l| l.starts_with("got-")), "{rest:?}");
    }
}

/// After the command exits, openv keeps copying the output a background process of it
/// still writes, until the pipes go quiet; a SIGTERM in that time ends openv at once with
/// the command's exit code.
#[test]
fn a_stop_request_ends_the_output_drain() {
    let o = setup();
    let script = "(while :; do echo tick; sleep 0.05; done) & echo started; exit 3";
    let mut child = o
        .cmd(&["run", "-e", "dev", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The background loop may print its first tick before "started".
    assert!(lines.by_ref().take(5).any(|l| l.unwrap() == "started"));
    std::thread::sleep(Duration::from_millis(300)); // the command has exited: draining
    assert!(
        child.try_wait().unwrap().is_none(),
        "still copying the ticks"
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let until = Instant::now() + Duration::from_secs(2);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < until,
            "openv ignored SIGTERM while draining"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(3));
    drop(lines); // the background loop dies of SIGPIPE
}

#[test]
fn stdin_passes_through() {
    let o = setup();
    let out = common::run::with_stdin(
        &mut o.cmd(&["run", "-e", "dev", "--", "sh", "-c", "sha256sum"]),
        b"input through openv",
    );
    assert!(text(&out.stdout).contains(&sha("input through openv")));
}

#[test]
fn a_denied_run_starts_nothing() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "TOKEN", TOKEN);
    let marker = o.dir.path().join("started");
    let t = Instant::now();
    let e = o.err(&[
        "run",
        "-e",
        "dev",
        "--",
        "sh",
        "-c",
        &format!("touch {}", marker.display()),
    ]);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(!marker.exists(), "the command must not run");
    assert!(e.contains("openv allow -e dev --exe"), "{e}");
    assert!(!e.contains(TOKEN));
    // A program that does not exist: 127 like a shell, one line.
    let out = o.run(&["run", "-e", "dev", "--", "no-such-program-xyz"]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        text(&out.stderr),
        "error: no-such-program-xyz: command not found in PATH\n"
    );
}

#[test]
fn a_run_approved_through_the_queue() {
    let o = Openv::with_prompt("queue");
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "TOKEN", TOKEN);
    let child = o
        .cmd(&[
            "run",
            "-e",
            "dev",
            "--",
            "sh",
            "-c",
            "printf %s \"$TOKEN\" | sha256sum",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let req = o.wait_pending();
    // The person sees the program to be run, as a child of openv.
    let shown = req.to_string();
    assert!(shown.contains("dash") || shown.contains("/sh"), "{shown}");
    o.ok(&["approve", &req["id"].to_string(), "--scope", "once"]);
    let out = child.wait_with_output().unwrap();
    assert_success("openv run", &out);
    assert!(text(&out.stdout).contains(&sha(TOKEN)));
}

#[test]
fn values_never_reach_argv_logs_or_the_audit_trail() {
    let o = setup();
    run_sh(&o, &["-e", "dev"], "true");
    let _ = run_sh(&o, &["-e", "nope"], "true");
    assert!(!o.log().contains(TOKEN));
    for f in std::fs::read_dir(o.home.join("audit")).unwrap() {
        let s = std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
        assert!(!s.contains(TOKEN) && !s.contains(OTHER));
    }
    // While the child runs, openv's own command line holds no value.
    let mut child = o
        .cmd(&["run", "-e", "dev", "--", "sh", "-c", "echo up; sleep 1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    assert!(!text(&cmdline).contains(TOKEN));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_missing_environment_says_how_to_give_one() {
    let o = setup();
    let out = o.run_in(o.dir.path(), &["run", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("-e ENV") && e.contains("OPENV_ENV") && e.contains("openv.toml"),
        "{e}"
    );
    // OPENV_ENV is the default when -e is absent.
    let out = o
        .cmd(&["run", "--", "sh", "-c", "printf %s \"$TOKEN\" | sha256sum"])
        .env("OPENV_ENV", "prod")
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains(&sha("prod-token-value")));
}
