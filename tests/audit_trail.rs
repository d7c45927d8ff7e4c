//! Every decision lands in the hash-chained audit log, with names and process facts and
//! never a value; `openv audit verify` finds an edited line.

#![allow(clippy::unwrap_used)]

mod common;

use common::run::spawn_cat as cat;
use common::{Openv, require};

const CANARY: &str = "CANARY-audit-77aa1e";

fn events(o: &Openv, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["audit", "--json", "--limit", "1000"];
    a.extend_from_slice(args);
    o.ok(&a)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn decisions_are_audited_and_tampering_is_found() {
    if !require(openv_mount::fuse_available(), "FUSE") {
        return;
    }
    let o = Openv::with_prompt("queue");
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "SECRET", CANARY);
    let dir = o.dir.path().join("p");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&["mount", dir.to_str().unwrap(), "-e", "dev"]);
    let wait_pending = || o.wait_pending()["id"].as_u64().unwrap();
    // Prompted then approved; prompted then denied.
    let r = cat(&dir);
    let id = wait_pending();
    o.ok(&["approve", &id.to_string(), "--scope", "once"]);
    assert!(r.wait_with_output().unwrap().status.success());
    let r = cat(&dir);
    let id = wait_pending();
    o.ok(&["deny", &id.to_string()]);
    assert!(!r.wait_with_output().unwrap().status.success());
    // Rule: allowed without a prompt; then removed.
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "cat"]);
    assert!(cat(&dir).wait_with_output().unwrap().status.success());
    o.ok(&["policy", "rm", "1"]);
    o.ok(&["lock"]);
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    o.ok(&["unmount", dir.to_str().unwrap()]);

    let all = events(&o, &[]);
    let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "mount",
        "prompt",
        "approve",
        "deny",
        "read",
        "rule_change",
        "lock",
        "unlock",
        "unmount",
    ] {
        assert!(kinds.contains(&k), "no {k} event in {kinds:?}");
    }
    let reads: Vec<&serde_json::Value> = all.iter().filter(|e| e["kind"] == "read").collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    let served = reads.iter().find(|e| e["decision"] == "allowed").unwrap();
    assert_eq!(served["env"], "dev");
    assert_eq!(served["names"][0], "SECRET");
    assert!(served["exe"].as_str().unwrap().ends_with("/cat"));
    assert!(served["chain"][0].as_str().unwrap().starts_with("cat"));
    // Rule-covered reads are answered before their details are read; the record still has
    // the whole chain: the reader, then the process that started it.
    for read in &reads {
        let chain = read["chain"].as_array().unwrap();
        assert!(chain.len() >= 2, "no parent in {read}");
    }
    assert!(served["pid"].is_i64());
    assert!(reads.iter().any(|e| {
        e["rule"]
            .as_str()
            .unwrap_or("")
            .starts_with("allow rule #1")
    }));
    let denied = events(&o, &["--decision", "denied"]);
    assert!(denied.iter().all(|e| e["decision"] == "denied") && !denied.is_empty());

    // Never a value, anywhere in the audit directory.
    for f in std::fs::read_dir(o.home.join("audit")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(CANARY), "value in the audit log");
    }

    assert!(o.ok(&["audit", "verify"]).contains("intact"));
    // Edit one line (flip a decision): verify names that line.
    let path = o.home.join("audit/audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let n = text
        .lines()
        .position(|l| l.contains("\"decision\":\"denied\""))
        .unwrap();
    let edited: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == n {
                l.replacen("\"denied\"", "\"allowed\"", 1)
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&path, edited).unwrap();
    let err = o.err(&["audit", "verify"]);
    assert!(
        err.contains(&format!("line {}", n + 1)) && err.contains("edited"),
        "{err}"
    );
}
