//! The audit log is sealed with the vault key: a process of the same user that rewrites
//! the log (recomputing every hash), cuts it, or removes the vault's record of the last
//! seal is reported by `openv audit verify`, which names the first event it can no
//! longer vouch for.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::run::spawn_cat as cat;
use common::{Openv, require};
use openv::ipc::protocol::Request;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn log_path(o: &Openv) -> PathBuf {
    o.home.join("audit/audit.jsonl")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What a same-uid attacker does: keeps the lines `keep` likes, renumbers them and
/// recomputes every `prev`, so the unkeyed chain holds (lines before the first one
/// dropped stay byte for byte).
fn rewrite(path: &Path, keep: impl Fn(&Value) -> bool) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    let mut changed = false;
    for raw in text.lines() {
        let mut l: Value = serde_json::from_str(raw).unwrap();
        if !keep(&l) {
            changed = true;
            continue;
        }
        let line = if changed {
            l["seq"] = (out.lines().count() as u64 + 1).into();
            l["prev"] = prev.clone().into();
            format!("{l}\n")
        } else {
            format!("{raw}\n")
        };
        prev = hex::encode(Sha256::digest(line.as_bytes()));
        out.push_str(&line);
    }
    std::fs::write(path, out).unwrap();
}

fn seq(l: &Value) -> u64 {
    l["seq"].as_u64().unwrap()
}

/// A vault with a mount read three times by a rule, between two lock/unlock pairs (so
/// seals come before and after the reads).
fn with_reads() -> (Openv, PathBuf) {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "SECRET", "CANARY-seal-5c1d");
    let dir = o.dir.path().join("p");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&["mount", dir.to_str().unwrap(), "-e", "dev"]);
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "cat"]);
    o.ok(&["lock"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    for _ in 0..3 {
        assert!(cat(&dir).wait_with_output().unwrap().status.success());
    }
    o.ok(&["lock"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    (o, dir)
}

#[test]
fn a_sealed_log_verifies_and_a_rewrite_without_the_reads_is_named() {
    if !require(openv_mount::fuse_available(), "FUSE") {
        return;
    }
    let (o, _dir) = with_reads();
    let out = o.ok(&["audit", "verify"]);
    assert!(
        out.contains("audit log intact") && out.contains("0 event(s) after it not yet sealed"),
        "{out}"
    );
    let all = lines(&log_path(&o));
    let seals: Vec<&Value> = all.iter().filter(|l| l["kind"] == "seal").collect();
    assert!(seals.len() >= 3, "seals at unlock and lock: {all:?}");
    assert!(seals.iter().all(|s| s["tag"].as_str().unwrap().len() == 64));
    let first_read = all.iter().position(|l| l["kind"] == "read").unwrap();
    let sealed_before = all[..first_read]
        .iter()
        .rev()
        .find(|l| l["kind"] == "seal")
        .map(seq)
        .unwrap();

    rewrite(&log_path(&o), |l| l["kind"] != "read");
    // The unkeyed chain is fooled; the seals are not.
    assert!(
        o.ok(&["audit", "verify", "--offline"])
            .contains("hash chain intact")
    );
    let err = o.err(&["audit", "verify"]);
    assert!(err.contains("rewritten"), "{err}");
    assert!(
        err.contains(&format!(
            "first event it can no longer vouch for is seq {}",
            sealed_before + 1
        )),
        "{err}"
    );
}

#[test]
fn truncated_and_shortened_logs_are_reported() {
    if !require(openv_mount::fuse_available(), "FUSE") {
        return;
    }
    let (o, _dir) = with_reads();
    let path = log_path(&o);
    let text = std::fs::read_to_string(&path).unwrap();
    let all = lines(&path);
    let last_seal = all
        .iter()
        .rev()
        .find(|l| l["kind"] == "seal")
        .map(seq)
        .unwrap();

    // Shortened: every line from the last seal on cut at a line boundary.
    let keep = (last_seal - all.first().map(seq).unwrap()) as usize;
    let short: String = text.lines().take(keep).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, &short).unwrap();
    let err = o.err(&["audit", "verify"]);
    assert!(
        err.contains("shortened")
            && err.contains(&format!("ends at seq {}", last_seal - 1))
            && err.contains(&format!("last seal is seq {last_seal}")),
        "{err}"
    );

    // Truncated: cut in the middle of a line.
    std::fs::write(&path, &text.as_bytes()[..text.len() / 2]).unwrap();
    let err = o.err(&["audit", "verify"]);
    assert!(
        err.contains("NOT intact") && err.contains("cut short"),
        "{err}"
    );
}

#[test]
fn a_removed_or_forged_seal_record_is_reported() {
    if !require(openv_mount::fuse_available(), "FUSE") {
        return;
    }
    let (o, _dir) = with_reads();
    let vault = o.vault();
    let sql = |q: &str| {
        let c = rusqlite::Connection::open(&vault).unwrap();
        c.execute(q, []).unwrap();
    };
    sql(
        "UPDATE sealed_state SET value = replace(value, '\"seq\":', '\"seq\":1') WHERE key = 'audit_head'",
    );
    let err = o.err(&["audit", "verify"]);
    assert!(err.contains("does not verify"), "{err}");

    sql("DELETE FROM sealed_state WHERE key = 'audit_head'");
    let err = o.err(&["audit", "verify"]);
    assert!(err.contains("no record of the log's last seal"), "{err}");
    // The next seal does not launder it: the record stays missing, and status says so.
    o.ok(&["lock"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(
        o.err(&["audit", "verify"])
            .contains("no record of the log's last seal")
    );
    let st = o.status();
    assert!(
        st["audit_seal"].as_str().unwrap().contains("removed"),
        "{st}"
    );
}

#[test]
fn a_removed_rotated_file_is_reported() {
    let o = Openv::with_config("audit_max_bytes = 600\n");
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    for i in 0..8 {
        o.ok(&["env", "create", &format!("e{i}")]);
        o.ok(&["lock"]);
        o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    }
    assert!(o.ok(&["audit", "verify"]).contains("intact"));
    let first = o.home.join("audit/audit-000002.jsonl");
    assert!(first.exists(), "no rotation");
    std::fs::remove_file(first).unwrap();
    let err = o.err(&["audit", "verify"]);
    assert!(
        err.contains("removed") && err.contains("NOT intact"),
        "{err}"
    );
}

#[test]
fn events_while_locked_are_sealed_at_unlock_and_across_a_restart() {
    let o = Openv::new();
    o.ok(&["lock"]);
    let err = o.err(&["audit", "verify"]);
    assert!(
        err.contains("locked") && err.contains("openv unlock"),
        "{err}"
    );
    for i in 0..5 {
        o.call(&Request::McpAudit {
            tool: "list_environments".into(),
            env: None,
            names: vec![format!("N{i}")],
            client: Some("test".into()),
            allowed: true,
            detail: None,
        })
        .unwrap();
    }
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    let all = lines(&log_path(&o));
    let last = all.last().unwrap();
    assert_eq!(last["kind"], "seal", "{all:?}");
    let out = o.ok(&["audit", "verify"]);
    assert!(
        out.contains(&format!("sealed up to seq {}", seq(last)))
            && out.contains("0 event(s) after it not yet sealed"),
        "{out}"
    );

    // The agent seals at shutdown while unlocked; after a restart the log still verifies.
    o.call(&Request::McpAudit {
        tool: "list_variables".into(),
        env: None,
        names: vec![],
        client: None,
        allowed: true,
        detail: None,
    })
    .unwrap();
    o.ok(&["agent", "restart"]);
    let all = lines(&log_path(&o));
    let call = all
        .iter()
        .position(|l| l["rule"] == "list_variables")
        .unwrap();
    assert!(
        all[call..]
            .iter()
            .any(|l| l["kind"] == "seal" && l["detail"] == "lock"),
        "no seal at shutdown: {all:?}"
    );
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(o.ok(&["audit", "verify"]).contains("intact"));
}

#[test]
fn only_the_human_accepts_a_reported_log_which_is_set_aside_and_a_new_one_sealed() {
    let o = Openv::new();
    for i in 0..3 {
        o.ok(&["env", "create", &format!("e{i}")]);
        o.ok(&["lock"]);
        o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    }
    let err = o.err(&["audit", "accept"]);
    assert!(err.contains("nothing to accept"), "{err}");

    rewrite(&log_path(&o), |l| l["kind"] != "lock");
    let rewritten = std::fs::read_to_string(log_path(&o)).unwrap();
    // The next seal finds the vault's record gone from the log: status reports it.
    o.ok(&["lock"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(o.status()["audit_seal"].is_string(), "{}", o.status());
    let err = o.err(&["audit", "verify"]);
    assert!(err.contains("openv audit accept"), "{err}");

    // Without a proof (no key file, no terminal): refused, nothing moved.
    let out = std::process::Command::new("setsid")
        .args(["--wait", common::BIN, "audit", "accept"])
        .env("OPENV_HOME", &o.home)
        .env_remove("OPENV_KEYFILE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{e}");
    assert!(
        e.contains("only the human") && e.contains("audit accept"),
        "{e}"
    );
    assert!(o.err(&["audit", "verify"]).contains("NOT intact"));

    let out = o.ok(&["audit", "accept"]);
    assert!(
        out.contains("set-aside-") && out.contains("rewritten"),
        "{out}"
    );
    let aside: Vec<PathBuf> = std::fs::read_dir(o.home.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept = std::fs::read_to_string(aside[0].join("audit.jsonl")).unwrap();
    assert!(
        kept.starts_with(&rewritten),
        "the old log is kept untouched: {kept}"
    );
    let new = lines(&log_path(&o));
    assert_eq!(seq(&new[0]), 1);
    assert_eq!(new[0]["kind"], "approve", "{new:?}");
    assert!(
        new[0]["detail"].as_str().unwrap().contains("accepted"),
        "{new:?}"
    );
    assert!(o.ok(&["audit", "verify"]).contains("audit log intact"));
    assert!(o.status()["audit_seal"].is_null(), "{}", o.status());
    // It keeps verifying as the new log grows and across a restart.
    o.ok(&["env", "create", "later"]);
    o.ok(&["agent", "restart"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(o.ok(&["audit", "verify"]).contains("audit log intact"));
}
