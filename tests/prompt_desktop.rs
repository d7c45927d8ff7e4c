//! The agent's read prompts on a desktop: pinentry-gtk-2 under Xvfb, answered with keys
//! through XTEST the way a person (or an agent with its own X server) presses them.
//!
//! A display where the human proved (an unlock typed by a client on it) gets Allow / Deny
//! buttons, and a click there allows. A display nobody proved on (an AI agent's own Xvfb,
//! named in its `openv status` greeting) gets only a dialog that asks for the vault
//! passphrase: the keys an agent can press there approve nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::run::{assert_success, spawn_cat as cat, with_stdin};
use common::xvfb::{Xvfb, poll};
use common::{Openv, require};

const CANARY: &str = "sk_live_desktop_canary_5521";

fn tools() -> bool {
    common::tools::require_tools(&["Xvfb", "xdotool", "import", "pinentry-gtk-2"])
        && require(openv_mount::fuse_available(), "FUSE")
}

/// A passphrase vault ("pass phrase") whose agent may show dialogs, with `shop` mounted.
/// Nothing was proved on any display yet.
fn setup() -> (Openv, PathBuf) {
    let mut o = Openv::empty();
    o.prompt = "auto";
    ok(&o, None, &["init"], b"pass phrase\n");
    o.ok(&["env", "create", "shop"]);
    o.set("shop", "STRIPE_KEY", CANARY);
    let dir = o.dir.path().join("shop");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&["mount", dir.to_str().unwrap(), "-e", "shop"]);
    (o, dir)
}

/// `openv ARGS` with `stdin`, seen by the agent as a client on `display` (or on none).
fn ok(o: &Openv, display: Option<&str>, args: &[&str], stdin: &[u8]) -> String {
    let mut cmd = o.cmd(args);
    cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    if let Some(d) = display {
        cmd.env("DISPLAY", d);
    }
    assert_success(&format!("openv {args:?}"), &with_stdin(&mut cmd, stdin))
}

/// The title of the visible pinentry window ("" if none).
fn window_title(x: &Xvfb) -> String {
    let out = Command::new("xdotool")
        .args([
            "search",
            "--onlyvisible",
            "--class",
            "pinentry",
            "getwindowname",
        ])
        .env("DISPLAY", &x.display)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits for a pinentry window on `x`; returns its title.
fn wait_title(x: &Xvfb, what: &str) -> String {
    let mut title = String::new();
    let shown = poll(Duration::from_secs(20), || {
        title = window_title(x);
        !title.is_empty()
    });
    assert!(shown, "no dialog on {what}");
    title
}

fn pending(o: &Openv) -> usize {
    let list: serde_json::Value = serde_json::from_str(&o.ok(&["pending", "--json"])).unwrap();
    list.as_array().unwrap().len()
}

#[test]
fn a_click_on_a_desktop_where_the_human_proved_allows_the_read() {
    if !tools() {
        return;
    }
    let (o, dir) = setup();
    let x = Xvfb::start();
    // The human unlocks from a terminal on this desktop: a proof made there.
    o.ok(&["lock"]);
    ok(&o, Some(&x.display), &["unlock"], b"pass phrase\n");

    let reader = cat(&dir);
    let title = wait_title(&x, "the trusted desktop");
    x.wait_window();
    x.screenshot("desktop-trusted-read.png");
    // A confirmation dialog (the pinentry crate sends it no SETTITLE), not the
    // passphrase dialog a desktop nobody proved on gets.
    assert!(
        !title.contains("approve a request"),
        "a read prompt with buttons: {title}"
    );
    // Deny (focused) -> Allow for this process -> Allow once.
    x.key(&["Tab", "Tab", "Return"]);
    let out = reader.wait_with_output().unwrap();
    assert_success("cat", &out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("STRIPE_KEY={CANARY}\n")
    );
    let audit = o.ok(&["audit", "--json"]);
    assert!(audit.contains("answered via pinentry"), "{audit}");
    assert!(!audit.contains(CANARY));
}

#[test]
fn keys_pressed_on_a_desktop_nobody_proved_on_approve_nothing() {
    if !tools() {
        return;
    }
    let (o, dir) = setup();
    // The agent's own X server, named in its greeting (row 5 of the attack table).
    let x = Xvfb::start();
    ok(&o, Some(&x.display), &["status"], b"");

    let mut reader = cat(&dir);
    let title = wait_title(&x, "the candidate desktop");
    let first = x.wait_window();
    x.screenshot("desktop-untrusted-passphrase.png");
    assert!(
        title.contains("approve a request on \"shop\""),
        "a passphrase dialog, not buttons: {title}"
    );
    assert!(!title.contains("read environment"), "{title}");

    // What an agent at that display can press: the buttons' accelerators, Return on an
    // empty field, a guess. None of it is the passphrase.
    x.key(&["alt+a"]);
    x.key(&["Return"]);
    let next = x.wait_window_after(&first);
    x.run("xdotool", &["type", "--delay", "30", "guess"]);
    x.key(&["Return"]);
    x.wait_window_after(&next);
    assert_eq!(pending(&o), 1, "the read still waits for the human");
    assert!(
        reader.try_wait().unwrap().is_none(),
        "the reader is still waiting"
    );
    let audit = o.ok(&["audit", "--json"]);
    assert!(
        audit.contains("\"proof\"") && audit.contains("passphrase dialog"),
        "each wrong answer is audited as a failed proof: {audit}"
    );

    // The human, typing the passphrase into that same dialog, approves this read once.
    x.run("xdotool", &["type", "--delay", "30", "pass phrase"]);
    x.key(&["Return"]);
    let out = reader.wait_with_output().unwrap();
    assert_success("cat", &out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("STRIPE_KEY={CANARY}\n")
    );
    assert!(!o.ok(&["audit", "--json"]).contains(CANARY));
    assert!(!o.log().contains(CANARY));
}
