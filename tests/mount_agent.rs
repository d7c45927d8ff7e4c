//! The virtual .env through the agent: real FUSE mounts and FIFOs, real readers
//! (cat, bash, python-dotenv, node dotenv, dotenvy), restore after kill -9.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::readers::{self, Outcome, Vars};
use common::run::assert_success;
use common::tools::which;
use common::{Openv, require};

const SECRET: &str = "s3cr3t value with spaces";

fn fuse_ok() -> bool {
    require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
}

struct Project {
    o: Openv,
    dir: PathBuf,
}

impl Project {
    /// A vault with environment `dev` holding a few tricky values, and a project dir.
    fn new() -> Self {
        let o = Openv::new();
        o.ok(&["env", "create", "dev"]);
        o.set("dev", "GREETING", "hello world");
        o.set("dev", "API_KEY", SECRET);
        o.set("dev", "QUOTE", "it's fine?");
        o.set("dev", "MULTI", "line one\nline two");
        let dir = o.dir.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        Self { o, dir }
    }

    fn env_file(&self) -> PathBuf {
        self.dir.join(".env")
    }

    fn allow(&self, exe: &str) {
        self.o.ok(&["allow", "-e", "dev", "--exe", exe]);
    }

    fn mount(&self, mode: &str) -> String {
        self.o.ok(&[
            "mount",
            self.dir.to_str().unwrap(),
            "-e",
            "dev",
            "--mode",
            mode,
        ])
    }

    fn sh(&self, script: &str) -> std::process::Output {
        Command::new("bash")
            .args(["-c", script])
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }
}

fn expected() -> Vec<(&'static str, &'static str)> {
    vec![
        ("API_KEY", SECRET),
        ("GREETING", "hello world"),
        ("MULTI", "line one\nline two"),
        ("QUOTE", "it's fine?"),
    ]
}

/// `kill -9` of the agent, waited for (5 s at most).
fn kill_9_agent(o: &Openv) {
    let pid = o.agent_pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::pid_alive(pid) {
        assert!(Instant::now() < deadline, "the agent outlived kill -9");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path.to_str().unwrap()))
}

#[test]
fn fuse_serves_every_real_reader_exactly() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    for exe in ["cat", "bash"] {
        p.allow(exe);
    }
    let out = p.mount("fuse");
    assert!(out.contains("(fuse)"), "{out}");
    let meta = std::fs::metadata(p.env_file()).unwrap();
    assert!(meta.is_file(), "a regular file to every tool");

    // cat: the exact rendered bytes (the common dialect).
    let cat = p.sh("cat .env");
    assert_success("cat", &cat);
    // Each open is rendered in its reader's dialect: st_size covers the longest.
    assert!(
        meta.len() >= cat.stdout.len() as u64,
        "st_size is at least what an open serves"
    );
    let parsed: Vec<(String, String)> = dotenvy::from_read_iter(&cat.stdout[..])
        .map(Result::unwrap)
        .collect();
    let want: Vec<(String, String)> = expected()
        .into_iter()
        .map(|(a, b)| (a.into(), b.into()))
        .collect();
    assert_eq!(parsed, want);

    // bash `set -a; . ./.env` reads st_size bytes.
    let bash = readers::bash(&p.env_file()).vars("bash").unwrap();
    assert_read("bash", &bash);

    // python-dotenv: refused until its real interpreter is allowed.
    match readers::python(&p.env_file()) {
        Outcome::Missing(why) => {
            require(false, &format!("python-dotenv ({why})"));
        }
        Outcome::Read(_) => panic!("python3 was not allowed yet"),
        Outcome::Broke(_) => {
            p.allow(readers::real_python().to_str().unwrap());
            if let Some(got) = readers::python(&p.env_file()).vars("python-dotenv") {
                assert_read("python-dotenv", &got);
            }
        }
    }

    // node dotenv.
    if let Some(node) = which("node") {
        p.allow(std::fs::canonicalize(node).unwrap().to_str().unwrap());
    }
    if let Some(got) = readers::node(&p.env_file()).vars("node dotenv") {
        assert_read("node dotenv", &got);
    }

    // dotenvy, in this very process.
    p.allow(std::env::current_exe().unwrap().to_str().unwrap());
    let got = readers::dotenvy(&p.env_file()).vars("dotenvy").unwrap();
    assert_eq!(got, want.into_iter().collect::<Vars>());
}

/// `reader` read every expected variable exactly.
#[track_caller]
fn assert_read(reader: &str, got: &Vars) {
    for (k, val) in expected() {
        assert_eq!(got.get(k).map(String::as_str), Some(val), "{reader} {k}");
    }
}

#[test]
fn fuse_denies_unapproved_and_locked_reads_quickly() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.mount("fuse");
    let t = Instant::now();
    let out = p.sh("cat .env");
    let took = t.elapsed();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert!(out.stdout.is_empty());
    assert!(took < Duration::from_millis(100), "denied in {took:?}");
    // The reader hears the denial first; its audit record follows.
    let deadline = Instant::now() + Duration::from_secs(5);
    let audit = loop {
        let audit = p.o.ok(&["audit", "--json", "--decision", "denied"]);
        if audit.contains("openv allow -e dev --exe") || Instant::now() > deadline {
            break audit;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(audit.contains("openv allow -e dev --exe"), "{audit}");
    assert!(!audit.contains(SECRET) && !p.o.log().contains(SECRET));

    p.allow("cat");
    assert!(p.sh("cat .env").status.success());
    p.o.ok(&["lock"]);
    let t = Instant::now();
    let out = p.sh("cat .env");
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "locked read ends within a second"
    );
    let m: serde_json::Value = serde_json::from_str(&p.o.ok(&["mounts", "--json"])).unwrap();
    assert_eq!(m[0]["served"], 1);
    assert_eq!(m[0]["denied"], 2);
}

#[test]
fn changes_reach_the_next_open_and_mtime_moves_only_then() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.allow("cat");
    p.mount("fuse");
    let m1 = std::fs::metadata(p.env_file()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let again = std::fs::metadata(p.env_file()).unwrap();
    assert_eq!(
        m1.modified().unwrap(),
        again.modified().unwrap(),
        "no change, same mtime"
    );
    p.o.set("dev", "ADDED", "new-value");
    let m2 = std::fs::metadata(p.env_file()).unwrap();
    assert!(m2.modified().unwrap() > m1.modified().unwrap());
    let out = p.sh("cat .env");
    assert!(
        m2.len() >= out.stdout.len() as u64,
        "st_size covers what cat got"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ADDED=new-value"));
}

#[test]
fn plaintext_env_is_imported_only_when_asked_and_git_is_respected() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.allow("cat");
    std::fs::write(p.env_file(), format!("FROM_FILE='{SECRET}'\n")).unwrap();
    let err = p.o.err(&["mount", p.dir.to_str().unwrap(), "-e", "dev"]);
    assert!(err.contains("--import") && !err.contains(SECRET), "{err}");
    assert!(p.env_file().is_file() && !mounted(&p.env_file()));

    // A tracked .env is refused with the command that fixes it.
    assert!(
        p.sh("git init -q . && git add .env && git -c user.email=a@b -c user.name=t commit -qm x")
            .status
            .success()
    );
    let err =
        p.o.err(&["mount", p.dir.to_str().unwrap(), "-e", "dev", "--import"]);
    assert!(
        err.contains("git -C") && err.contains("rm --cached .env"),
        "{err}"
    );
    assert!(p.sh("git rm -q --cached .env").status.success());

    let out =
        p.o.run(&["mount", p.dir.to_str().unwrap(), "-e", "dev", "--import"]);
    assert_success("openv mount", &out);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("FROM_FILE") && !all.contains(SECRET), "{all}");
    assert!(all.contains(".gitignore"), "{all}");
    assert!(
        std::fs::read_to_string(p.dir.join(".gitignore"))
            .unwrap()
            .contains(".env")
    );
    assert!(mounted(&p.env_file()));
    let cat = p.sh("cat .env");
    assert!(String::from_utf8_lossy(&cat.stdout).contains(&format!("FROM_FILE='{SECRET}'")));
}

#[test]
fn restart_after_kill_9_restores_mounts_and_unmount_leaves_nothing() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.allow("cat");
    p.mount("fuse");
    kill_9_agent(&p.o);
    // A dead FUSE server: reads fail instead of hanging.
    assert!(!p.sh("timeout 5 cat .env").status.success());
    // Any command starts the agent, which cleans the stale mount and restores it.
    p.o.ok(&["unlock", "--keyfile", p.o.keyfile.to_str().unwrap()]);
    let cat = p.sh("timeout 5 cat .env");
    assert_success("cat", &cat);
    assert!(String::from_utf8_lossy(&cat.stdout).contains("GREETING='hello world'"));

    // Agent stop unmounts; the next start restores; unmount removes for good.
    p.o.ok(&["agent", "stop"]);
    assert!(!mounted(&p.env_file()));
    p.o.ok(&["unlock", "--keyfile", p.o.keyfile.to_str().unwrap()]);
    assert!(mounted(&p.env_file()));
    p.o.ok(&["unmount", p.dir.to_str().unwrap()]);
    assert!(!mounted(&p.env_file()));
    assert!(!p.env_file().exists(), "nothing left behind");
    assert!(p.o.ok(&["mounts"]).contains("no mounts"));
}

#[test]
fn concurrent_readers_get_complete_identical_content_over_128k() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    for i in 0..40 {
        p.o.set("dev", &format!("BIG_{i:02}"), &"x".repeat(4000));
    }
    p.allow("cat");
    p.mount("fuse");
    let size = std::fs::metadata(p.env_file()).unwrap().len();
    assert!(size > 128 * 1024, "{size}");
    let children: Vec<_> = (0..32)
        .map(|_| {
            Command::new("cat")
                .arg(p.env_file())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Vec<u8>> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().stdout)
        .collect();
    for o in &outs {
        // st_size covers the longest dialect's rendering; cat gets the common one.
        assert!(o.len() as u64 <= size);
        assert_eq!(o, &outs[0]);
    }
}

/// `render = "..."` is read when the mount starts and again when openv.toml changes, not
/// per open: a change reaches the next opens of the live mount, a broken or unreadable
/// file leaves the last good setting in force, and removing the file removes it.
#[test]
fn render_in_openv_toml_reaches_a_live_mount_without_a_read_per_open() {
    use openv::render::{Dialect, render_for};
    use openv::secret::SecretValue;

    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.o.set("dev", "DOLLAR", "$HOME and $PATH");
    p.allow("cat");
    let toml = p.dir.join("openv.toml");
    let project = |render: &str| {
        std::fs::write(
            &toml,
            format!("[[mount]]\npath = \".env\"\nenv = \"dev\"\nrender = \"{render}\"\n"),
        )
        .unwrap();
    };
    let mut vars: Vec<(&str, SecretValue)> = expected()
        .into_iter()
        .chain([("DOLLAR", "$HOME and $PATH")])
        .map(|(n, v)| (n, SecretValue::new(v.to_owned())))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(b.0));
    let form = |d: Dialect| {
        render_for(d, vars.iter().map(|(n, v)| (*n, v)))
            .unwrap()
            .to_vec()
    };
    let (posix, expand, common) = (
        form(Dialect::Posix),
        form(Dialect::DotenvExpand),
        form(Dialect::Common),
    );
    assert!(
        posix != expand && expand != common && posix != common,
        "the dialects differ here"
    );
    let cat = || p.sh("cat .env").stdout;
    let wait_for = |want: &[u8], what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while cat() != want {
            assert!(Instant::now() < deadline, "the mount never served {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    project("posix");
    p.mount("fuse");
    assert_eq!(cat(), posix, "render = posix at mount");
    project("dotenv-expand");
    wait_for(&expand, "render = dotenv-expand after the change");

    // Broken, then unreadable: opens keep the setting read last (and as root, which can
    // read a mode-000 file, the unchanged content keeps it too).
    std::fs::write(&toml, "[[mount").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        assert_eq!(cat(), expand, "a broken openv.toml is not read per open");
    }
    project("dotenv-expand");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&toml, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        cat(),
        expand,
        "an unreadable openv.toml leaves the last setting"
    );
    std::fs::set_permissions(&toml, std::fs::Permissions::from_mode(0o644)).unwrap();

    std::fs::remove_file(&toml).unwrap();
    wait_for(&common, "the reader's own dialect once openv.toml is gone");
    assert!(
        p.o.log().contains("read the mount's render setting"),
        "{}",
        p.o.log()
    );
}

#[test]
fn a_python_thread_is_attributed_to_its_process() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    let py = readers::real_python();
    p.allow(py.to_str().unwrap());
    p.mount("fuse");
    let out = Command::new(&py)
        .args([
            "-c",
            "import os,threading\nr=[]\nt=threading.Thread(target=lambda: r.append(open('.env').read()))\nt.start(); t.join()\nprint(os.getpid(), len(r[0]))",
        ])
        .current_dir(&p.dir)
        .output()
        .unwrap();
    assert_success("python3", &out);
    let text = String::from_utf8(out.stdout).unwrap();
    let pid = text.split_whitespace().next().unwrap();
    let audit = p.o.ok(&["audit", "--json"]);
    assert!(
        audit.contains(&format!("\"pid\":{pid},")),
        "served to the process, not the thread: {audit}"
    );
}

#[test]
fn fifo_mode_serves_allowed_readers_and_is_recreated_when_removed() {
    let p = Project::new();
    p.allow("cat");
    let out = p.mount("fifo");
    assert!(out.contains("(fifo)"), "{out}");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(p.env_file())
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let cat = p.sh("timeout 5 cat .env");
    assert!(cat.status.success());
    assert!(String::from_utf8_lossy(&cat.stdout).contains(&format!("API_KEY='{SECRET}'")));
    // head is not allowed: it reads only the line that says so, no value.
    let t = Instant::now();
    let head = p.sh("timeout 5 head -c 1000 .env");
    assert_eq!(
        head.stdout,
        openv_mount::RefusalReason::Denied.fifo_line().as_bytes()
    );
    assert!(t.elapsed() < Duration::from_secs(1));

    std::fs::remove_file(p.env_file()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let is_fifo = std::fs::symlink_metadata(p.env_file())
            .map(|m| m.file_type().is_fifo())
            .unwrap_or(false);
        if is_fifo {
            break;
        }
        assert!(Instant::now() < deadline, "the FIFO was not recreated");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(p.sh("timeout 5 cat .env").stdout.len() > 10);
    p.o.ok(&["unmount", p.dir.to_str().unwrap()]);
    assert!(!p.env_file().exists(), "no FIFO left behind");
}

/// The agent keys mounts by the real directory whichever client asks: a path through a
/// symlink and `..` is the same mount as the canonical one, and a relative path or a
/// missing directory is refused with a line that says what to give instead.
#[test]
fn the_agent_keys_mounts_by_real_path_and_refuses_relative_ones() {
    use openv::ipc::protocol::{Request, Response};

    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    let link = p.o.dir.path().join("link");
    std::os::unix::fs::symlink(&p.dir, &link).unwrap();
    let call = |req: Request| p.o.call(&req);
    let mount = |path: PathBuf| Request::Mount {
        path,
        env: "dev".into(),
        mode: "fuse".into(),
        import: false,
    };
    p.o.ok(&["status"]); // starts the agent

    let roundabout = link.join("..").join("link").join(".env");
    assert!(matches!(
        call(mount(roundabout)),
        Ok(Response::Mounted { .. })
    ));
    let real = p.dir.canonicalize().unwrap().join(".env");
    let listed = p.o.ok(&["mounts", "--json"]);
    assert!(listed.contains(real.to_str().unwrap()), "{listed}");
    assert!(mounted(&p.env_file()));

    for (path, says) in [
        (PathBuf::from("proj/.env"), "give an absolute path"),
        (p.dir.join("missing").join(".env"), "does not exist"),
    ] {
        let err = call(mount(path)).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }

    // Unmounting through the symlink finds the same mount.
    let unmounted = call(Request::Unmount {
        path: link.join(".env"),
    });
    assert!(unmounted.is_ok(), "{unmounted:?}");
    assert!(!mounted(&p.env_file()));
    assert!(p.o.ok(&["mounts", "--json"]).trim().starts_with("[]"));
}

/// What was allowed under an environment's name ends with that environment: a new
/// environment of the same name starts with no rule and no grant.
#[test]
fn a_recreated_environment_inherits_no_rule() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.allow("cat");
    p.mount("fuse");
    assert!(p.sh("cat .env").status.success(), "the rule is in use");
    p.o.ok(&["env", "rm", "dev", "--yes"]);
    assert!(!mounted(&p.env_file()), "its mount went with it");
    p.o.ok(&["env", "create", "dev"]);
    p.o.set("dev", "API_KEY", SECRET);
    p.mount("fuse");
    let out = p.sh("cat .env");
    assert!(!out.status.success(), "served under a deleted rule");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
}

/// `openv mount --import` into an environment that is already mounted elsewhere: the
/// other mount serves the imported variables from its next open, with a matching size.
#[test]
fn an_import_by_mount_reaches_the_other_mounts() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    p.allow("cat");
    p.mount("fuse");
    assert!(!p.sh("cat .env").stdout.is_empty());
    let other = p.o.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join(".env"), "IMPORTED_LATER=yes\n").unwrap();
    p.o.ok(&[
        "mount",
        other.to_str().unwrap(),
        "-e",
        "dev",
        "--mode",
        "fuse",
        "--import",
    ]);
    let out = p.sh("cat .env");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("IMPORTED_LATER=yes"), "{text}");
    let size = std::fs::metadata(p.env_file()).unwrap().len();
    assert!(
        size >= out.stdout.len() as u64,
        "st_size covers what cat got"
    );
}

#[test]
fn editor_copies_are_git_ignored_and_git_is_denied_until_the_builtin_rule_is_lifted() {
    if !fuse_ok() {
        return;
    }
    let p = Project::new();
    assert!(p.sh("git init -q .").status.success());
    p.mount("fuse");
    let ignore = std::fs::read_to_string(p.dir.join(".gitignore")).unwrap();
    for pattern in [".env", ".env.sw?", ".env.*.swp", ".env~", ".#.env"] {
        assert!(
            ignore.lines().any(|l| l == pattern),
            "{pattern} in {ignore}"
        );
    }
    let status = p.sh("touch .env.swp .env.swo .env~ .#.env && git status --porcelain");
    let listed = String::from_utf8_lossy(&status.stdout);
    assert!(!listed.contains(".env"), "{listed}");

    // git is refused with no rule at all, and an allow rule for it needs the lift.
    let out = p.sh("git hash-object .env");
    assert!(!out.status.success());
    let err = p.o.err(&["allow", "-e", "dev", "--exe", "git"]);
    assert!(
        err.contains("built-in") && err.contains("--lift-builtin"),
        "{err}"
    );
    assert!(!p.sh("git hash-object .env").status.success());
    p.o.ok(&["allow", "-e", "dev", "--exe", "git", "--lift-builtin"]);
    let out = p.sh("git hash-object .env");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn import_takes_only_a_dotenv_file_so_no_script_is_removed() {
    // An AI agent's shell asking the socket to "import" a script would have it shredded.
    let p = Project::new();
    let script = p.dir.join("settings.sh");
    let body = format!("export API_KEY='{SECRET}'\n");
    std::fs::write(&script, &body).unwrap();
    let err = p.o.err(&[
        "mount",
        p.dir.to_str().unwrap(),
        "-e",
        "dev",
        "--file",
        "settings.sh",
        "--import",
    ]);
    assert!(
        err.contains(".env or .env.NAME") && err.contains("openv import"),
        "{err}"
    );
    assert!(!err.contains(SECRET));
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        body,
        "file intact"
    );
}

/// Row 7 of the boundary issue, across agents: the user's empty `.env` under a mount comes
/// back, empty, on the unmount even when the agent that mounted it was restarted (both
/// modes) or killed (FUSE: the placeholder under the mount says an empty file was there;
/// a FIFO left by a killed agent holds no such record, docs/reliability.md).
#[test]
fn an_empty_file_under_a_mount_returns_after_a_restart_and_a_kill() {
    let modes: &[&str] = if openv_mount::fuse_available() {
        &["fuse", "fifo"]
    } else {
        require(false, "FUSE (/dev/fuse and fuse3)");
        &["fifo"]
    };
    for mode in modes {
        let p = Project::new();
        std::fs::write(p.env_file(), "").unwrap();
        p.mount(mode);
        p.o.ok(&["agent", "restart"]);
        let held = std::fs::read_to_string(p.env_file()).unwrap_or_default();
        p.o.ok(&["unlock", "--keyfile", p.o.keyfile.to_str().unwrap()]);
        if *mode == "fuse" {
            kill_9_agent(&p.o);
            p.o.ok(&["unlock", "--keyfile", p.o.keyfile.to_str().unwrap()]);
        }
        p.o.ok(&["unmount", p.dir.to_str().unwrap()]);
        let meta = std::fs::symlink_metadata(p.env_file())
            .unwrap_or_else(|e| panic!("{mode}: the empty file is gone ({e}); held {held:?}"));
        assert!(
            meta.is_file() && meta.len() == 0,
            "{mode}: {meta:?}, held {held:?}"
        );
    }
}

/// An unmount never truncates through a symlink that replaced the mount point: the
/// user's empty `.env` is put back only where the path is still ours.
#[test]
fn an_unmount_does_not_empty_a_file_a_symlink_now_points_to() {
    let p = Project::new();
    std::fs::write(p.env_file(), "").unwrap();
    p.mount("fifo");
    let victim = p.o.dir.path().join("bashrc");
    std::fs::write(&victim, "# theirs\n").unwrap();
    std::fs::remove_file(p.env_file()).unwrap();
    std::os::unix::fs::symlink(&victim, p.env_file()).unwrap();
    p.o.ok(&["unmount", p.dir.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "# theirs\n");
    assert!(
        std::fs::symlink_metadata(p.env_file())
            .unwrap()
            .file_type()
            .is_symlink(),
        "what is there now is left alone"
    );
}
