//! The agent's own prompts, end to end: an unapproved read of a real FUSE mount makes the
//! agent open pinentry-curses on the terminal where the user last ran openv (a tmux pane
//! here); the test reads what the user saw and answers with keys.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::run::{assert_success, spawn_cat as cat};
use common::tmux::Tmux;
use common::{Openv, require};

fn tools() -> bool {
    common::tools::require_tools(&["tmux", "pinentry-curses"])
        && require(openv_mount::fuse_available(), "FUSE")
}

/// A vault (passphrase "pass phrase") with a mounted environment, and a tmux pane where
/// the user has just run `openv unlock` and typed the passphrase: a proof made on that
/// terminal, so the agent's click-only dialogs may appear there.
fn setup() -> (Openv, PathBuf, Tmux) {
    let (o, dir, pane) = untrusted_setup("unlock");
    // The CLI's own hidden prompt, on the pane's terminal.
    pane.wait_for("passphrase");
    pane.type_text("pass phrase");
    pane.keys(&["Enter"]);
    pane.wait_for("vault unlocked");
    (o, dir, pane)
}

/// A passphrase vault ("pass phrase") whose agent asks through `prompt`, with `shop`
/// (STRIPE_KEY) mounted.
fn mounted(prompt: &'static str) -> (Openv, PathBuf) {
    let mut o = Openv::empty();
    o.prompt = prompt;
    o.ok_stdin(&["init"], b"pass phrase\n");
    o.ok(&["env", "create", "shop"]);
    o.set("shop", "STRIPE_KEY", "sk_test_123");
    let dir = o.dir.path().join("shop");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&["mount", dir.to_str().unwrap(), "-e", "shop"]);
    (o, dir)
}

/// The same, where the pane ran `openv CMD` (nothing proved there unless CMD asks).
fn untrusted_setup(command: &str) -> (Openv, PathBuf, Tmux) {
    let (o, dir) = mounted("auto");
    let cmd = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY OPENV_HOME={} {} {command}; exec sleep 100000",
        o.home.display(),
        common::BIN
    );
    let pane = Tmux::start(110, 34, &cmd);
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
    pane.type_text("pass phrase");
    pane.keys(&["Enter"]);
    // Unlocked; now the read itself is asked about.
    pane.wait_for("Allow once");
    pane.keys(&["Enter"]);
    let out = reader.wait_with_output().unwrap();
    assert_success("cat", &out);
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
    assert_success("cat", &out);
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
    pane.type_text("pass phrase");
    pane.keys(&["Enter"]);
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn approve_takes_the_passphrase_typed_at_its_hidden_prompt() {
    if !tools() {
        return;
    }
    // No dialog: the request waits in `openv pending`.
    let (o, dir) = mounted("queue");
    let reader = cat(&dir);
    let id = o.wait_pending()["id"].as_u64().unwrap();

    // The human runs `openv approve ID` in their own terminal; a wrong passphrase first.
    let cmd = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY -u OPENV_KEYFILE OPENV_HOME={} {} approve {id}; \
         env -u DISPLAY -u WAYLAND_DISPLAY -u OPENV_KEYFILE OPENV_HOME={} {} approve {id}; \
         exec sleep 100000",
        o.home.display(),
        common::BIN,
        o.home.display(),
        common::BIN
    );
    let pane = Tmux::start(110, 34, &cmd);
    pane.wait_for("Vault passphrase (this widens access)");
    pane.type_text("not the passphrase");
    pane.keys(&["Enter"]);
    // The first approve is refused; the second asks again.
    let prompt = "Vault passphrase (this widens access)";
    let deadline = Instant::now() + Duration::from_secs(15);
    let screen = loop {
        let screen = pane.screen();
        if screen.matches(prompt).count() == 2 {
            break screen;
        }
        assert!(Instant::now() < deadline, "asked once only:\n{screen}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!screen.contains("not the passphrase"), "hidden:\n{screen}");
    assert!(!screen.contains("approved request"), "{screen}");
    assert!(
        screen.contains("wrong passphrase: nothing was changed"),
        "the refusal says what happened:\n{screen}"
    );
    assert_eq!(o.wait_pending()["id"].as_u64(), Some(id), "still pending");

    pane.type_text("pass phrase");
    pane.keys(&["Enter"]);
    let screen = pane.wait_for(&format!("approved request {id}"));
    assert!(!screen.contains("pass phrase"), "hidden:\n{screen}");
    let out = reader.wait_with_output().unwrap();
    assert_success("cat", &out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "STRIPE_KEY=sk_test_123\n"
    );
}
