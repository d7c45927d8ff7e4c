//! Rules and agent policies are sealed with a key derived from the vault key. The attacker
//! here edits `vault.db` with SQLite directly (same uid, no key), then restarts the agent,
//! as row 1 of the boundary issue did: an inserted, edited, deleted or moved rule, a
//! removed seal. Each is detected, reported by `openv status` with what to do, recorded in
//! the audit log, and none is honoured: allow rules stop counting, deny rules stay. Only a
//! proof of the human (`openv policy confirm`) ends that state.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{BIN, Openv, require};

const CANARY: &str = "canary-5b3f-sealed-policy";

fn fuse_ok() -> bool {
    require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
}

/// `dev` (holding the canary) and `prod`, `dev` mounted in `proj/`; prompts off, so what
/// no rule covers is denied at once.
struct Scene {
    o: Openv,
    dir: PathBuf,
}

impl Scene {
    fn new() -> Self {
        let o = Openv::new();
        o.ok(&["env", "create", "dev"]);
        o.ok(&["env", "create", "prod"]);
        o.set("dev", "API_KEY", CANARY);
        o.set("prod", "API_KEY", CANARY);
        let dir = o.dir.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        o.ok(&[
            "mount",
            dir.to_str().unwrap(),
            "-e",
            "dev",
            "--mode",
            "fuse",
        ]);
        Self { o, dir }
    }

    fn cat(&self) -> Output {
        Command::new("cat")
            .arg(self.dir.join(".env"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn served(&self) -> bool {
        let out = self.cat();
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(CANARY)
    }

    /// What an attacker with the file but not the key does: plain SQL on `vault.db`.
    fn sql(&self, statement: &str) {
        let db = rusqlite::Connection::open(self.o.vault()).unwrap();
        db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        db.execute_batch(statement).unwrap();
    }

    /// The attacker restarts the agent; the human unlocks it again.
    fn restart(&self) {
        self.o.ok(&["agent", "restart"]);
        self.o
            .ok(&["unlock", "--keyfile", self.o.keyfile.to_str().unwrap()]);
    }

    fn status_problem(&self) -> String {
        let out = self.o.run(&["status"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "status must fail on a broken policy: {text}"
        );
        assert!(text.contains("policy does not verify"), "{text}");
        assert!(text.contains("openv policy confirm"), "{text}");
        assert!(!text.contains(CANARY));
        text
    }

    fn cat_exe(&self) -> String {
        std::fs::canonicalize(which("cat"))
            .unwrap()
            .display()
            .to_string()
    }

    fn rule_ids(&self) -> Vec<i64> {
        let v: serde_json::Value =
            serde_json::from_str(&self.o.ok(&["policy", "list", "--json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }
}

fn which(name: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn audit_mentions(o: &Openv, text: &str) -> bool {
    let out = o.ok(&["audit", "--json", "--limit", "200"]);
    out.lines()
        .any(|l| l.contains("rule_change") && l.contains(text))
}

#[test]
fn a_rule_inserted_with_sqlite_is_not_used_and_is_reported() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new();
    assert!(
        !s.served(),
        "no rule yet: prompts are off, the read is denied"
    );
    let exe = s.cat_exe();
    s.sql(&format!(
        "INSERT INTO rules(env_id, effect, exe, cwd, expires, created)
         SELECT id, 'allow', '{exe}', NULL, NULL, 0 FROM environments WHERE name = 'dev';"
    ));
    s.restart();
    assert!(!s.served(), "an inserted allow rule must not be honoured");
    let text = s.status_problem();
    assert!(text.contains("edited or added outside openv"), "{text}");
    assert!(audit_mentions(&s.o, "policy does not verify"));
    // Even a correct-looking tag copied from another row does not verify for this one.
    s.o.ok(&["policy", "deny", "-e", "prod", "--exe", "/usr/bin/true"]);
    s.sql("UPDATE rules SET mac = (SELECT mac FROM rules WHERE effect = 'deny') WHERE effect = 'allow';");
    s.restart();
    assert!(!s.served());
    s.status_problem();
}

#[test]
fn a_deleted_deny_rule_is_kept_and_the_allow_rules_stop_counting() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new();
    let exe = s.cat_exe();
    s.o.ok(&["policy", "allow", "-e", "dev", "--exe", &exe]);
    assert!(s.served(), "the human's allow rule covers cat");
    s.o.ok(&["policy", "deny", "-e", "dev", "--exe", &exe]);
    assert!(!s.served(), "deny wins");
    s.sql("DELETE FROM rules WHERE effect = 'deny';");
    s.restart();
    assert!(!s.served(), "the deleted deny rule is kept from the seal");
    let text = s.status_problem();
    assert!(text.contains("deleted outside openv"), "{text}");
    // The attacker cannot end it: confirming needs the human.
    let out = Command::new("setsid")
        .arg("--wait")
        .arg(BIN)
        .args(["policy", "confirm"])
        .env("OPENV_HOME", &s.o.home)
        .env_remove("OPENV_KEYFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("needs you, the human") || err.contains("only the human"),
        "{err}"
    );
    s.status_problem();
    // The human confirms: the deny rule comes back, and the allow rule counts again.
    let said = s.o.ok(&["policy", "confirm"]);
    assert!(said.contains("deleted outside openv"), "{said}");
    assert_eq!(s.rule_ids().len(), 2, "the deny rule was put back");
    assert!(s.o.run(&["status"]).status.success());
    assert!(!s.served(), "deny still wins after the confirmation");
}

#[test]
fn an_edited_or_moved_rule_and_a_removed_seal_are_each_detected() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new();
    let exe = s.cat_exe();
    // A rule the human made for prod, moved to dev by changing its env_id.
    s.o.ok(&["policy", "allow", "-e", "prod", "--exe", &exe]);
    assert!(!s.served());
    s.sql(
        "UPDATE rules SET env_id = (SELECT id FROM environments WHERE name = 'dev') WHERE effect = 'allow';",
    );
    s.restart();
    assert!(
        !s.served(),
        "a rule moved to another environment is not honoured"
    );
    s.status_problem();
    s.o.ok(&["policy", "confirm"]);
    let out = s.cat();
    assert!(
        out.status.success(),
        "the human accepted the move: {} / {}",
        String::from_utf8_lossy(&out.stderr),
        s.o.log()
    );

    // An edited deny rule (its program changed so it no longer matches).
    s.o.ok(&["policy", "deny", "-e", "dev", "--exe", &exe]);
    assert!(!s.served());
    s.sql("UPDATE rules SET exe = '/nonexistent' WHERE effect = 'deny';");
    s.restart();
    assert!(
        !s.served(),
        "the sealed form of the deny rule still applies"
    );
    let text = s.status_problem();
    assert!(text.contains("was edited or added outside openv"), "{text}");
    s.o.ok(&["policy", "confirm"]);

    // The seal removed: nothing to check against, so allow rules stop counting.
    s.o.ok(&[
        "policy",
        "rm",
        &s.rule_ids().iter().max().unwrap().to_string(),
    ]);
    assert!(s.served());
    s.sql("DELETE FROM sealed_state WHERE key = 'policy';");
    s.restart();
    assert!(!s.served(), "a removed seal fails closed");
    let text = s.status_problem();
    assert!(text.contains("not sealed"), "{text}");
    // Nor can the seal be edited, even by a byte that changes no meaning.
    s.o.ok(&["policy", "confirm"]);
    assert!(s.served());
    s.sql("UPDATE sealed_state SET value = value || ' ' WHERE key = 'policy';");
    s.restart();
    assert!(!s.served(), "an edited seal fails closed");
    let text = s.status_problem();
    assert!(text.contains("changed outside openv"), "{text}");
}

#[test]
fn rules_made_through_openv_keep_the_seal_valid_across_restarts_and_renames() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new();
    let exe = s.cat_exe();
    s.o.ok(&["policy", "allow", "-e", "dev", "--exe", &exe]);
    s.o.ok(&["policy", "deny", "-e", "prod", "--exe", "/usr/bin/true"]);
    s.o.ok(&["env", "rename", "prod", "production"]);
    s.o.ok(&["env", "rm", "production", "--yes"]);
    s.restart();
    assert!(
        s.o.run(&["status"]).status.success(),
        "{}",
        s.o.ok(&["status"])
    );
    assert!(s.served());
}
