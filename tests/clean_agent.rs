//! Whoever starts the agent, it runs with its fixed environment: a caller's `LD_PRELOAD`
//! never stays in it, a caller's `PATH` never picks its programs (its pinentry above all).

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Openv, require};
use hostile::{as_user, environ, maps_with, marker_program, open_dir, preload_lib};

const SYSTEM_PATH: &str = openv::clean_env::SYSTEM_PATH;

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_clean(pid: i32, hook: &Path) {
    assert_eq!(
        maps_with(pid, hook),
        Vec::<String>::new(),
        "preload library mapped in the agent"
    );
    let env = environ(pid);
    assert!(!env.iter().any(|v| v.starts_with("LD_")), "{env:?}");
    assert!(env.contains(&format!("PATH={SYSTEM_PATH}")), "{env:?}");
}

/// As the non-root test user: `openv agent` (the on-demand start) and `openv agent
/// --foreground` (a direct start), both with a preload library and a fake pinentry first
/// on `PATH`.
#[test]
fn a_caller_with_ld_preload_and_a_crafted_path_starts_a_clean_agent() {
    if !require(
        hostile::can_switch_user(),
        "root and the openv-test user (scripts/test.sh creates it)",
    ) {
        return;
    }
    let dir = tempfile::Builder::new().prefix("ov").tempdir().unwrap();
    let base = open_dir(dir.path());
    let markers = open_dir(&base.join("m"));
    let preload_marker = markers.join("preload");
    let hook = preload_lib(&base, &preload_marker);
    let evil = base.join("evil");
    marker_program(&evil, "pinentry-curses", &markers.join("pinentry"));
    let path = format!("{}:/usr/bin:/bin", evil.display());

    for (i, direct) in [false, true].into_iter().enumerate() {
        let home = base.join(format!("h{i}"));
        let home_s = home.to_str().unwrap().to_owned();
        let vars = [
            ("LD_PRELOAD", hook.to_str().unwrap()),
            ("PATH", path.as_str()),
            ("OPENV_HOME", home_s.as_str()),
            ("OPENV_PROMPT", "none"),
        ];
        let clean = [("OPENV_HOME", home_s.as_str())];
        let _ = std::fs::remove_file(&preload_marker);
        let mut child = None;
        if direct {
            child = Some(
                as_user(Path::new(BIN), &vars)
                    .args(["agent", "--foreground"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        } else {
            let out = as_user(Path::new(BIN), &vars)
                .arg("agent")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if direct {
            // `status` would start an agent of its own before this one listens.
            wait("the agent's socket", || {
                home.join("run/agent.sock").exists()
            });
        }
        let mut pid = 0;
        wait("the agent's status", || {
            let out = as_user(Path::new(BIN), &clean)
                .args(["status", "--json"])
                .output()
                .unwrap();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                pid = v["pid"].as_i64().unwrap_or(0) as i32;
            }
            pid > 0
        });
        let ran_in = std::fs::read_to_string(&preload_marker).unwrap_or_default();
        assert!(
            !ran_in.is_empty(),
            "the preload library never ran: the test proves nothing"
        );
        if direct {
            // Loaded into this very pid before main, then gone after the re-execution.
            assert!(ran_in.lines().any(|l| l == pid.to_string()), "{ran_in}");
        }
        assert_clean(pid, &hook);
        let stop = as_user(Path::new(BIN), &clean)
            .args(["agent", "stop"])
            .output()
            .unwrap();
        assert!(
            stop.status.success(),
            "{}",
            String::from_utf8_lossy(&stop.stderr)
        );
        if let Some(mut c) = child {
            let _ = c.wait();
        }
    }
    assert!(
        !markers.join("pinentry").exists(),
        "the caller's pinentry ran"
    );
}

/// A tmux server of its own whose one pane runs `command`; killed on drop.
struct Pane(String);

impl Pane {
    fn start(command: &str) -> Pane {
        let p = Pane(format!("openv-clean-{}", std::process::id()));
        let ok = Command::new("tmux")
            .args([
                "-f",
                "/dev/null",
                "-L",
                &p.0,
                "new-session",
                "-d",
                "-s",
                "s",
            ])
            .args(["-x", "110", "-y", "34", command])
            .env_remove("TMUX")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux did not start");
        p
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.0])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "s"])
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// `openv agent restart` with a preload library and a fake `pinentry-curses` first on
/// `PATH`; a read of the mount then shows the system's pinentry on the user's terminal.
#[test]
fn a_restarted_agent_runs_the_system_pinentry_not_the_callers() {
    let tools = ["tmux", "pinentry-curses", "cc"]
        .iter()
        .all(|t| Path::new("/usr/bin").join(t).exists());
    if !require(tools, "tmux, pinentry-curses and cc")
        || !require(openv_mount::fuse_available(), "FUSE")
    {
        return;
    }
    let mut o = Openv::new();
    o.prompt = "auto";
    o.write_config("prompt_timeout = \"20s\"\n");
    let markers = o.dir.path().join("m");
    std::fs::create_dir(&markers).unwrap();
    let hook = preload_lib(o.dir.path(), &markers.join("preload"));
    let evil = o.dir.path().join("evil");
    let fake = markers.join("pinentry");
    marker_program(&evil, "pinentry-curses", &fake);
    let path = format!(
        "{}:{}",
        evil.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = o
        .cmd(&["agent", "restart"])
        .env("LD_PRELOAD", &hook)
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    let pid = o.agent_pid();
    assert_clean(pid, &hook);

    o.ok(&["env", "create", "shop"]);
    o.set("shop", "STRIPE_KEY", "sk_test_123");
    let dir = o.dir.path().join("shop");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&["mount", dir.to_str().unwrap(), "-e", "shop"]);
    // The user's terminal, where the agent will ask; the caller's PATH there too.
    let before = o.log().matches("op=\"status\"").count();
    let pane = Pane::start(&format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY PATH={path} OPENV_HOME={} OPENV_PROMPT=auto {BIN} status >/dev/null; exec sleep 100000",
        o.home.display()
    ));
    wait("the pane's openv status", || {
        o.log().matches("op=\"status\"").count() > before
    });
    let reader = Command::new("cat")
        .arg(".env")
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let s = pane.screen();
        // Nothing was proved on this terminal: the dialog asks for the passphrase.
        if s.contains("Allow once") || s.contains("Passphrase") {
            break;
        }
        assert!(
            Instant::now() < until,
            "no pinentry dialog:\n{s}\nagent log:\n{}",
            o.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The system's dialog is on screen; the reader need not wait for an answer.
    let mut reader = reader;
    let _ = reader.kill();
    let _ = reader.wait();
    assert!(!fake.exists(), "the caller's pinentry-curses ran");
    assert_eq!(o.agent_pid(), pid);
}
