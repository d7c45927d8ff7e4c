//! The agent's own prompts, end to end: an unapproved read of a real FUSE mount makes the
//! agent open pinentry-curses on the terminal where the user last ran openv (a tmux pane
//! here); the test reads what the user saw and answers with keys.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Openv, require};

/// A tmux server of its own whose one pane runs `command`; killed on drop.
struct Pane {
    socket: String,
}

impl Pane {
    fn start(command: &str) -> Pane {
        // Unique per test, also when several tests share a process (`cargo test`).
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = Pane {
            socket: format!("openv-agent-prompt-{}-{n}", std::process::id()),
        };
        let ok = Command::new("tmux")
            .args([
                "-f",
                "/dev/null",
                "-L",
                &p.socket,
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
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.tmux(&["capture-pane", "-p", "-t", "s"]);
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < until, "{needle:?} never shown:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "s", k]);
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn cat(dir: &PathBuf) -> Child {
    Command::new("cat")
        .arg(".env")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn tools() -> bool {
    let found = ["tmux", "pinentry-curses"].iter().all(|t| {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .any(|d| d.join(t).is_file())
    });
    require(found, "tmux and pinentry-curses") && require(openv_mount::fuse_available(), "FUSE")
}

/// A vault (passphrase "pass phrase") with a mounted environment, and a tmux pane where
/// the user has just run `openv unlock` and typed the passphrase: a proof made on that
/// terminal, so the agent's click-only dialogs may appear there.
fn setup() -> (Openv, PathBuf, Pane) {
    let (o, dir, pane) = untrusted_setup("unlock");
    // The CLI's own hidden prompt, on the pane's terminal.
    pane.wait_for("passphrase");
    pane.tmux(&["send-keys", "-t", "s", "-l", "pass phrase"]);
    pane.keys(&["Enter"]);
    pane.wait_for("vault unlocked");
    (o, dir, pane)
}

/// The same, where the pane ran `openv CMD` (nothing proved there unless CMD asks).
fn untrusted_setup(command: &str) -> (Openv, PathBuf, Pane) {
    let mut o = Openv::empty();
    o.prompt = "auto";
    o.ok_stdin(&["init"], b"pass phrase\n");
    o.ok(&["env", "create", "shop"]);
    o.set("shop", "STRIPE_KEY", "sk_test_123");
    let dir = o.dir.path().join("shop");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&["mount", dir.to_str().unwrap(), "-e", "shop"]);
    let cmd = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY OPENV_HOME={} {} {command}; exec sleep 100000",
        o.home.display(),
        common::BIN
    );
    let pane = Pane::start(&cmd);
    let deadline = Instant::now() + Duration::from_secs(10);
    // `unlock` asks for the passphrase before it connects: the caller waits for that.
    while command != "unlock" && o.log().matches(&format!("op=\"{command}\"")).count() < 1 {
        assert!(
            Instant::now() < deadline,
            "the pane never ran openv {command}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (o, dir, pane)
}

#[test]
fn a_read_of_a_locked_vault_asks_for_the_passphrase_first() {
    if !tools() {
        return;
    }
    let (o, dir, pane) = setup();
    o.ok(&["lock"]);
    let reader = cat(&dir);
    let screen = pane.wait_for("Passphrase");
    assert!(screen.contains("vault is locked"), "{screen}");
    pane.tmux(&["send-keys", "-t", "s", "-l", "pass phrase"]);
    pane.keys(&["Enter"]);
    // Unlocked; now the read itself is asked about.
    pane.wait_for("Allow once");
    pane.keys(&["Enter"]);
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(o.status()["locked"], false);
}

#[test]
fn the_agent_asks_on_the_users_terminal_and_the_answer_decides() {
    if !tools() {
        return;
    }
    let (o, dir, pane) = setup();

    // Allow once (Enter on the focused first button).
    let reader = cat(&dir);
    let screen = pane.wait_for("<Deny>"); // the buttons are drawn last
    assert!(screen.contains("read environment \"shop\""), "{screen}");
    assert!(screen.contains("/usr/bin/cat"), "{screen}");
    assert!(
        screen.contains("Parents: cat <- "),
        "the parent chain is shown:\n{screen}"
    );
    assert!(
        screen.contains("Allow for this process") && screen.contains("Deny"),
        "{screen}"
    );
    pane.keys(&["Enter"]);
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "STRIPE_KEY=sk_test_123\n"
    );

    // Deny (move right twice).
    std::thread::sleep(Duration::from_millis(500));
    let reader = cat(&dir);
    pane.wait_for("Allow once");
    pane.keys(&["Right", "Right", "Enter"]);
    let out = reader.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));

    let audit = o.ok(&["audit", "--json"]);
    assert!(audit.contains("answered via pinentry"), "{audit}");
    assert!(!audit.contains("sk_test_123"));
}

#[test]
fn a_terminal_nobody_proved_gets_a_passphrase_dialog_not_buttons() {
    if !tools() {
        return;
    }
    // The pane only greeted the agent (`openv status`): its terminal is a candidate, and
    // a same-user process could be typing into it.
    let (o, dir, pane) = untrusted_setup("status");
    let reader = cat(&dir);
    let screen = pane.wait_for("Passphrase");
    assert!(
        !screen.contains("Allow once"),
        "no click-only buttons:\n{screen}"
    );
    // What an agent driving the pane can type: no passphrase.
    pane.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    let pending: serde_json::Value = serde_json::from_str(&o.ok(&["pending", "--json"])).unwrap();
    assert_eq!(
        pending.as_array().unwrap().len(),
        1,
        "still waiting for the human"
    );
    // The passphrase, typed there, approves this read once.
    let screen = pane.wait_for("Passphrase");
    assert!(
        screen.contains("read environment") || screen.contains("shop"),
        "{screen}"
    );
    pane.tmux(&["send-keys", "-t", "s", "-l", "pass phrase"]);
    pane.keys(&["Enter"]);
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
