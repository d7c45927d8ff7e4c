//! `openv guard -- CMD` with real Landlock: from inside the guard, every path to a value
//! or to the human's trust fails and the canary never shows; the human outside is served
//! as before; a sample project still builds and tests inside.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::tools::require_tools;
use common::{BIN, Openv, require};
use hostile::{TEST_USER, as_user, can_switch_user};

const CANARY: &str = "canary-5e1d-guard";
const SSH_CANARY: &str = "canary-ssh-77ab";

/// A vault with `dev` (API_KEY = the canary), a user home with start-up files, a key in
/// `~/.ssh`, and a project.
struct Scene {
    o: Openv,
    home: PathBuf,
    proj: PathBuf,
}

impl Scene {
    fn new() -> Self {
        let o = Openv::new();
        o.ok(&["env", "create", "dev"]);
        o.set("dev", "API_KEY", CANARY);
        let home = o.dir.path().join("home");
        for d in [".ssh", ".local/bin", ".cache"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(home.join(".bashrc"), "# the human's\n").unwrap();
        std::fs::write(home.join(".ssh/id_ed25519"), SSH_CANARY).unwrap();
        let proj = o.dir.path().join("proj");
        // The guard splits /tmp (OPENV_HOME is under it), so the tools' temp files go here.
        std::fs::create_dir_all(proj.join("tmp")).unwrap();
        Self { o, home, proj }
    }

    /// `openv guard -- bash -c script` as the agent would start it: the human's
    /// environment, the key file named by OPENV_KEYFILE (so the guard forbids it too).
    fn guard(&self, extra: &[&str], script: &str) -> Command {
        let mut args = vec!["guard"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "bash", "-c", script]);
        let mut c = self.o.cmd(&args);
        c.current_dir(&self.proj)
            .env("HOME", &self.home)
            .env("TMPDIR", self.proj.join("tmp"))
            .env("PATH", path_with_openv());
        c
    }

    fn guard_out(&self, script: &str) -> Output {
        self.guard(&[], script).output().unwrap()
    }
}

fn path_with_openv() -> String {
    format!(
        "{}:{}",
        Path::new(BIN).parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn no_canary(out: &Output) {
    for s in [text(&out.stdout), text(&out.stderr)] {
        assert!(!s.contains(CANARY), "the canary leaked: {s}");
        assert!(!s.contains(SSH_CANARY), "the ssh key leaked: {s}");
    }
}

/// Each line of the script's report: `ok NAME` or `failed NAME`.
fn attempt(name: &str, cmd: &str) -> String {
    format!("if {cmd}; then echo \"ok {name}\"; else echo \"failed {name}\"; fi\n")
}

fn process_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(") ").unwrap().1;
    after.chars().next().unwrap()
}

fn wait_for(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn inside_the_guard_every_path_to_a_value_or_the_humans_trust_fails() {
    if !require_tools(&["bash", "python3", "sleep", "setpriv"]) {
        return;
    }
    let s = Scene::new();
    let o = &s.o;
    // The human's own `openv run`, outside the guard: its child holds the value.
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "sleep"]);
    let mut human = o
        .cmd(&["run", "-e", "dev", "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = human.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hostile::environ(child)
        .iter()
        .any(|kv| kv.starts_with("API_KEY="))
    {
        assert!(Instant::now() < deadline, "openv run never started sleep");
        std::thread::sleep(Duration::from_millis(20));
    }
    let agent = o.agent_pid();
    // A copy of the key file the agent got hold of: even a real proof does not count.
    let stolen_key = s.proj.join("stolen.key");
    std::fs::copy(&o.keyfile, &stolen_key).unwrap();

    let vault = o.vault();
    let sqlite = format!(
        "python3 -c \"import sqlite3; c = sqlite3.connect('file:{}?mode=ro', uri=True); print(c.execute('select * from sqlite_master').fetchall())\"",
        vault.display()
    );
    let mut script = String::new();
    for (name, cmd) in [
        ("read-vault", format!("cat {} >/dev/null", vault.display())),
        ("sqlite-vault", sqlite),
        ("read-keyfile", format!("cat {}", o.keyfile.display())),
        ("read-ssh", "cat ~/.ssh/id_ed25519".to_owned()),
        ("list-openv-home", format!("ls {}", o.home.display())),
        (
            "write-bashrc",
            "echo 'alias openv=evil' >> ~/.bashrc".to_owned(),
        ),
        (
            "plant-openv",
            "printf '#!/bin/sh\\n' > ~/.local/bin/openv".to_owned(),
        ),
        ("stop-agent", format!("kill -STOP {agent}")),
        ("signal-run-child", format!("kill -0 {child}")),
        // Root's CAP_SYS_PTRACE would pass Landlock's check: the guard drops it.
        ("environ", format!("cat /proc/{child}/environ")),
        ("mem", format!("head -c 16 /proc/{child}/mem >/dev/null")),
        // No capability is held, none can come back through an exec.
        (
            "capabilities",
            "grep -E '^Cap(Prm|Eff|Bnd|Amb):' /proc/self/status | grep -v '0000000000000000$'"
                .to_owned(),
        ),
        // Without a key file the client goes straight to the agent, which refuses the tier.
        ("approve", "env -u OPENV_KEYFILE openv approve 1".to_owned()),
        (
            "allow",
            "env -u OPENV_KEYFILE openv allow -e dev --exe cat".to_owned(),
        ),
        (
            "allow-with-proof",
            format!(
                "OPENV_KEYFILE={} openv allow -e dev --exe cat",
                stolen_key.display()
            ),
        ),
    ] {
        script.push_str(&attempt(name, &cmd));
    }
    // What the agent should be able to do: the agent tier, names only.
    script.push_str(&attempt("var-list", "openv var list -e dev"));
    // A value of the agent's own: the client vouches for the agent without its lock.
    script.push_str(&attempt(
        "var-set",
        "printf agent-value | openv var set -e dev FROM_GUARD",
    ));
    script.push_str(&attempt("write-project", "echo hi > notes.txt"));
    script.push_str(&attempt("read-cache", "touch ~/.cache/tool-cache"));

    let out = s.guard_out(&script);
    no_canary(&out);
    let report = text(&out.stdout);
    let stderr = text(&out.stderr);
    for name in [
        "read-vault",
        "sqlite-vault",
        "read-keyfile",
        "read-ssh",
        "list-openv-home",
        "write-bashrc",
        "plant-openv",
        "stop-agent",
        "signal-run-child",
        "environ",
        "mem",
        "capabilities",
        "approve",
        "allow",
        "allow-with-proof",
    ] {
        assert!(
            report.contains(&format!("failed {name}\n")),
            "{name} must fail inside the guard:\n{report}\n{stderr}"
        );
    }
    for name in ["var-list", "var-set", "write-project", "read-cache"] {
        assert!(
            report.contains(&format!("ok {name}\n")),
            "{name} must work inside the guard:\n{report}\n{stderr}"
        );
    }
    assert!(report.contains("API_KEY"), "names are listed: {report}");
    let listed = o.ok(&["var", "list", "-e", "dev"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with("FROM_GUARD"))
        .unwrap();
    assert!(row.contains("agent"), "recorded as the agent's: {listed}");
    // The human tier is refused for being inside the guard, with what to do: approve,
    // allow, and allow with the stolen key file (its proof reaches the agent, which
    // refuses it; the client's check of the agent holds without the agent's lock).
    assert_eq!(
        stderr.matches("comes from inside `openv guard`").count(),
        3,
        "{stderr}"
    );
    assert!(stderr.contains("ask the human"), "{stderr}");
    // A real proof from a NoNewPrivs peer (what every guarded process is): the client
    // reads the key file and sends the proof, the agent still refuses.
    let out = Command::new("setpriv")
        .args(["--no-new-privs", BIN, "allow", "-e", "dev", "--exe", "cat"])
        .env("OPENV_HOME", &o.home)
        .env("OPENV_KEYFILE", &o.keyfile)
        .env("OPENV_PROMPT", "none")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("comes from inside `openv guard`"),
        "{}",
        text(&out.stderr)
    );

    // Nothing changed outside.
    assert_eq!(
        std::fs::read_to_string(s.home.join(".bashrc")).unwrap(),
        "# the human's\n"
    );
    assert!(!s.home.join(".local/bin/openv").exists());
    assert_ne!(process_state(agent), 'T', "the agent was stopped");
    assert!(o.ok(&["policy", "list"]).contains("sleep"));
    assert!(
        !o.ok(&["policy", "list"]).contains("cat"),
        "no rule was added"
    );
    // The human, outside, still proves with the same key file.
    o.ok(&["allow", "-e", "dev", "--exe", "cat"]);
    human.kill().unwrap();
    let _ = human.wait();
}

#[test]
fn a_double_forked_setsid_reader_in_the_guard_is_agent_started_and_the_humans_is_served() {
    if !require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
        || !require_tools(&["bash", "setsid", "cat"])
    {
        return;
    }
    let s = Scene::new();
    let o = &s.o;
    let mnt = s.proj.join("app");
    std::fs::create_dir(&mnt).unwrap();
    o.ok(&[
        "mount",
        mnt.to_str().unwrap(),
        "-e",
        "dev",
        "--mode",
        "fuse",
    ]);
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "cat"]);
    let env_file = mnt.join(".env");

    let human = Command::new("cat").arg(&env_file).output().unwrap();
    assert!(
        human.status.success() && text(&human.stdout).contains(CANARY),
        "the human's cat is served by their rule: {}",
        text(&human.stderr)
    );

    let (out_file, rc_file) = (s.proj.join("reader.out"), s.proj.join("reader.rc"));
    let script = format!(
        "setsid -f bash -c '( cat {} > {} 2>&1; echo $? > {} ) &'",
        env_file.display(),
        out_file.display(),
        rc_file.display()
    );
    let out = s.guard_out(&script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rc = wait_for(&rc_file);
    assert_ne!(rc.trim(), "0", "the guarded reader must be refused");
    let read = std::fs::read_to_string(&out_file).unwrap();
    assert!(!read.contains(CANARY), "{read}");
    let denied = o.ok(&["audit", "--json", "--limit", "20", "--decision", "denied"]);
    assert!(
        denied.contains("NoNewPrivs") || denied.contains("sandbox"),
        "{denied}"
    );
    o.ok(&["unmount", mnt.to_str().unwrap()]);
}

#[test]
fn a_sample_project_works_inside_the_guard() {
    if !require_tools(&["bash", "git", "python3", "node", "npm", "cargo"]) {
        return;
    }
    let s = Scene::new();
    std::fs::write(
        s.proj.join("test_app.py"),
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(1 + 1, 2)\n",
    )
    .unwrap();
    std::fs::write(
        s.proj.join("app.js"),
        "console.log('node says ' + (6 * 7));\n",
    )
    .unwrap();
    std::fs::create_dir_all(s.proj.join("tiny/src")).unwrap();
    std::fs::write(
        s.proj.join("tiny/Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        s.proj.join("tiny/src/main.rs"),
        "fn main() { println!(\"tiny built\"); }\n",
    )
    .unwrap();
    let script = "set -e
git init -q .
git -c user.name=t -c user.email=t@example.com add test_app.py app.js
git -c user.name=t -c user.email=t@example.com commit -qm first
git log --oneline | grep -q first
python3 -m unittest -q test_app 2>&1
node app.js
npm --version >/dev/null
cargo --version >/dev/null
cd tiny && cargo run --offline -q
echo all-done";
    let mut c = s.guard(&[], script);
    // The human's toolchains, read-only inside: their PATH directories stay unwritable.
    for (k, v) in [
        ("CARGO_HOME", "/root/.cargo"),
        ("RUSTUP_HOME", "/root/.rustup"),
    ] {
        if Path::new(v).exists() {
            c.env(k, v);
        }
    }
    let out = c.output().unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all-done"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("node says 42"), "{stdout}");
    assert!(stdout.contains("tiny built"), "{stdout}");
}

#[test]
fn exit_codes_pass_through_and_bad_input_starts_nothing() {
    let s = Scene::new();
    let out = s.guard_out("exit 7");
    assert_eq!(out.status.code(), Some(7));

    let marker = s.proj.join("started");
    let touch = |extra: &[&str]| {
        let mut args = vec!["guard"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "touch", marker.to_str().unwrap()]);
        let out =
            s.o.cmd(&args)
                .current_dir(&s.proj)
                .env("HOME", &s.home)
                .output()
                .unwrap();
        assert!(!out.status.success());
        assert!(!marker.exists(), "nothing may start");
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    };
    let bad = s.proj.join("bad.toml");
    std::fs::write(&bad, "allow = [\"~/.ssh\"]\n").unwrap();
    let err = touch(&["--profile", bad.to_str().unwrap()]);
    assert!(err.contains("unknown field `allow`"), "{err}");
    std::fs::write(&bad, "forbid = [\"~/does-not-exist\"]\n").unwrap();
    let err = touch(&["--profile", bad.to_str().unwrap()]);
    assert!(err.contains("~/does-not-exist does not exist"), "{err}");

    let out =
        s.o.cmd(&["guard", "--", "no-such-agent-xyz"])
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("no-such-agent-xyz: command not found"));
}

#[test]
fn a_profile_forbids_more_and_strict_drops_the_caches() {
    let s = Scene::new();
    std::fs::create_dir(s.proj.join("private")).unwrap();
    std::fs::write(s.proj.join("private/notes"), CANARY).unwrap();
    std::fs::create_dir_all(s.proj.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(s.proj.join("src")).unwrap();
    let profile = s.proj.join("tight.toml");
    std::fs::write(
        &profile,
        "forbid = [\"private\"]\nread_only = [\".git/hooks\"]\n",
    )
    .unwrap();
    let script = format!(
        "{}{}{}",
        attempt("read-private", "cat private/notes"),
        attempt("write-hook", "echo evil > .git/hooks/pre-commit"),
        // The project is split down to those paths: its other directories stay writable.
        attempt("write-project", "echo ok > src/fine.txt"),
    );
    let out = s
        .guard(&["--profile", profile.to_str().unwrap()], &script)
        .output()
        .unwrap();
    no_canary(&out);
    let report = text(&out.stdout);
    assert!(report.contains("failed read-private\n"), "{report}");
    assert!(report.contains("failed write-hook\n"), "{report}");
    assert!(report.contains("ok write-project\n"), "{report}");

    // strict: shell history (and ~/.config, ~/.local/share) unreadable too.
    std::fs::write(s.home.join(".bash_history"), SSH_CANARY).unwrap();
    let history = attempt("read-history", "cat ~/.bash_history");
    let out = s
        .guard(&["--profile", "strict"], &history)
        .output()
        .unwrap();
    no_canary(&out);
    assert!(
        text(&out.stdout).contains("failed read-history\n"),
        "{}",
        text(&out.stdout)
    );
    let out = s.guard(&[], &history).output().unwrap();
    assert!(
        text(&out.stdout).contains("ok read-history\n"),
        "without a profile"
    );
}

/// Landlock binds an unprivileged user as well: as `openv-test`, its own files (no DAC
/// in the way) and its own processes outside the guard are out of reach.
#[test]
fn as_a_non_root_user_the_guard_denies_its_own_files_and_processes() {
    if !require(can_switch_user(), "root and the openv-test user") {
        return;
    }
    let base = tempfile::Builder::new()
        .prefix("ovg")
        .tempdir_in("/var/tmp")
        .unwrap();
    let home = base.path().join("home");
    for d in [".ssh", "proj", "ovhome"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    std::fs::write(home.join(".ssh/id_ed25519"), SSH_CANARY).unwrap();
    std::fs::write(home.join(".bashrc"), "# theirs\n").unwrap();
    let chown = Command::new("chown")
        .args(["-R", TEST_USER, base.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The user's own process outside the guard, holding a value in its environment.
    let mut outside = as_user(Path::new("/bin/sleep"), &[("API_KEY", CANARY)]);
    let mut outside = outside
        .arg("30")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // runuser, env, then sleep: wait for the exec.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sleeper = loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "sleep" && text(&env).contains(CANARY)).then_some(pid)
        });
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < deadline, "the user's sleep never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let script = format!(
        "{}{}{}{}{}{}",
        attempt("read-ssh", "cat ~/.ssh/id_ed25519"),
        attempt("write-bashrc", "echo x >> ~/.bashrc"),
        attempt("environ", &format!("cat /proc/{sleeper}/environ")),
        attempt("signal", &format!("kill -0 {sleeper}")),
        attempt("mem", &format!("head -c 16 /proc/{sleeper}/mem >/dev/null")),
        attempt("write-project", "echo ok > ~/proj/f"),
    );
    let h = home.to_str().unwrap();
    let mut c = as_user(
        Path::new(BIN),
        &[
            ("HOME", h),
            ("OPENV_HOME", &format!("{h}/ovhome")),
            ("PATH", "/usr/bin:/bin"),
        ],
    );
    let out = c
        .args([
            "guard",
            "--project",
            &format!("{h}/proj"),
            "--",
            "bash",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    no_canary(&out);
    let report = text(&out.stdout);
    for name in ["read-ssh", "write-bashrc", "environ", "signal", "mem"] {
        assert!(
            report.contains(&format!("failed {name}\n")),
            "{name}:\n{report}\n{}",
            text(&out.stderr)
        );
    }
    assert!(
        report.contains("ok write-project\n"),
        "{report}\n{}",
        text(&out.stderr)
    );
    let _ = outside.kill();
    let _ = outside.wait();
    let _ = Command::new("kill").arg(sleeper.to_string()).status();
}

/// `openv mcp` started by the guarded agent works as before: names, never values.
#[test]
fn openv_mcp_works_inside_the_guard() {
    let s = Scene::new();
    let input = concat!(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_environments","arguments":{}}}"#,
        "\n",
    );
    let mut c = s.o.cmd(&["guard", "--", BIN, "mcp"]);
    c.current_dir(&s.proj)
        .env("HOME", &s.home)
        .env("TMPDIR", s.proj.join("tmp"));
    let out = common::run::with_stdin(&mut c, input.as_bytes());
    no_canary(&out);
    let stdout = text(&out.stdout);
    let reply = stdout
        .lines()
        .find(|l| l.contains(r#""id":2"#))
        .unwrap_or_else(|| {
            panic!(
                "no answer to the tool call: {stdout}\n{}",
                text(&out.stderr)
            )
        });
    assert!(reply.contains("dev"), "{reply}");
    assert!(!reply.contains(r#""isError":true"#), "{reply}");
}

/// Inside the guard the client vouches for the agent without its lock, which Landlock
/// hides, but only while the lock's mode says it is readable: a process outside that
/// makes it unreadable (to let a listener of its own pass) keeps the full check.
#[test]
fn inside_the_guard_an_unreadable_agent_lock_keeps_the_check_of_the_agent() {
    let s = Scene::new();
    let pid_file = s.o.home.join("run/agent.pid");
    let mode = std::fs::metadata(&pid_file).unwrap().permissions();
    std::fs::set_permissions(&pid_file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = s.guard_out("printf agent-value | openv var set -e dev BEHIND_CHMOD");
    std::fs::set_permissions(&pid_file, mode).unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not hold the agent's lock"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !s.o.ok(&["var", "list", "-e", "dev"])
            .contains("BEHIND_CHMOD")
    );
    // With the mode back, the same request goes through.
    let out = s.guard_out("printf agent-value | openv var set -e dev BEHIND_CHMOD");
    assert!(out.status.success(), "{}", text(&out.stderr));
}
