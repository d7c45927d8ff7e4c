//! Security settings: config.toml may only tighten the built-in defaults; the human
//! widens with a proof (`openv config set`, sealed in the vault, within caps); a sealed
//! record edited with sqlite is not used and is reported.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output, Stdio};

use common::{BIN, Openv};

/// Row 2 of issue 11: what an agent that edits config.toml writes.
const WIDENING: &str =
    "ai_agents = []\nexe_grant = \"3650d\"\nidle_lock = \"3650d\"\nprompt_rate_limit = 100000\n";

/// `openv ARGS` as a process of the user without the key file or a terminal.
fn unproven(o: &Openv, args: &[&str]) -> Output {
    Command::new("setsid")
        .arg("--wait")
        .arg(BIN)
        .args(args)
        .env("OPENV_HOME", &o.home)
        .env_remove("OPENV_KEYFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn setting(o: &Openv, key: &str) -> String {
    o.ok(&["config", "get", key])
}

fn warnings(o: &Openv) -> Vec<String> {
    o.status()["settings_warnings"]
        .as_array()
        .map(|a| a.iter().map(|w| w.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn widening_values_in_the_file_are_ignored_and_reported() {
    let o = Openv::with_config(WIDENING);
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    let w = warnings(&o);
    for key in ["exe_grant", "idle_lock", "prompt_rate_limit"] {
        assert!(
            w.iter()
                .any(|m| m.contains(key) && m.contains(&format!("openv config set {key}"))),
            "{key} not reported: {w:?}"
        );
        assert!(
            setting(&o, key).contains("(default)"),
            "{}",
            setting(&o, key)
        );
    }
    assert!(
        w.iter()
            .any(|m| m.contains("ai_agents") && m.contains("codex")),
        "{w:?}"
    );
    assert!(setting(&o, "ai_agents").contains("codex"));
    assert_eq!(o.status()["idle_lock_secs"], 8 * 3600);
    assert!(
        o.log().contains("idle_lock"),
        "agent log names the ignored key"
    );
    // Tightening is taken as written.
    o.write_config("exe_grant = \"10m\"\nai_agents = [\"mybot\"]\n");
    o.ok(&["agent", "restart"]);
    assert!(
        setting(&o, "exe_grant").contains("10m")
            && setting(&o, "exe_grant").contains("config.toml")
    );
    let agents = setting(&o, "ai_agents");
    assert!(
        agents.contains("mybot") && agents.contains("codex"),
        "{agents}"
    );
}

#[test]
fn only_the_human_widens_a_setting_and_a_forged_record_is_not_used() {
    let o = Openv::with_config(WIDENING);
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);

    // Without a proof: refused, naming what the human must do; nothing changes.
    let out = unproven(&o, &["config", "set", "exe_grant", "2d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("security setting") && (err.contains("passphrase") || err.contains("key")),
        "{err}"
    );
    assert!(setting(&o, "exe_grant").contains("(default)"));

    // Above the cap: refused even with the proof.
    let err = o.err(&["config", "set", "exe_grant", "60d"]);
    assert!(err.contains("at most 30days"), "{err}");

    // With the key file (the test is the human): sealed and in force.
    o.ok(&["config", "set", "exe_grant", "2d"]);
    o.ok(&["config", "set", "idle_lock", "3d"]);
    assert!(
        setting(&o, "exe_grant").contains("2days")
            && setting(&o, "exe_grant").contains("set by you")
    );
    assert_eq!(o.status()["idle_lock_secs"], 3 * 24 * 3600);
    // Still in force after a restart and unlock.
    o.ok(&["agent", "restart"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(setting(&o, "exe_grant").contains("set by you"));

    // The record edited with sqlite: ignored (defaults + the file's tightening), reported.
    let c = rusqlite::Connection::open(o.vault()).unwrap();
    c.execute(
        "UPDATE sealed_state SET value = replace(value, '2d', '30d') WHERE key = 'settings'",
        [],
    )
    .unwrap();
    o.ok(&["agent", "restart"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(
        setting(&o, "exe_grant").contains("(default)"),
        "{}",
        setting(&o, "exe_grant")
    );
    assert_eq!(o.status()["idle_lock_secs"], 8 * 3600);
    let w = warnings(&o);
    assert!(w.iter().any(|m| m.contains("does not verify")), "{w:?}");

    // Removed: also reported.
    c.execute("DELETE FROM sealed_state WHERE key = 'settings'", [])
        .unwrap();
    o.ok(&["lock"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    let w = warnings(&o);
    assert!(w.iter().any(|m| m.contains("removed")), "{w:?}");
}

#[test]
fn openv_prompt_only_narrows_and_the_humans_sealed_prompt_wins() {
    let mut o = Openv::with_config("prompt = \"queue\"\n");
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert_eq!(o.status()["prompt"], "none", "narrower: taken");

    // Wider than the file: ignored and reported.
    o.prompt = "auto";
    o.ok(&["agent", "restart"]);
    assert_eq!(o.status()["prompt"], "queue");
    assert!(
        warnings(&o)
            .iter()
            .any(|w| w.contains("OPENV_PROMPT=auto") && w.contains("openv config set prompt")),
        "{:?}",
        warnings(&o)
    );

    // The human's sealed choice holds over the variable.
    o.prompt = "none";
    o.ok(&["agent", "restart"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    o.ok(&["config", "set", "prompt", "pinentry"]);
    o.prompt = "auto";
    o.ok(&["agent", "restart"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert_eq!(o.status()["prompt"], "pinentry", "{}", o.status());
}
