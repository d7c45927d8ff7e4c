//! Values that can't become code: a value for `NODE_OPTIONS`, `LD_PRELOAD`, `PATH`, ...
//! comes only from the human with a proof, whoever asks and however (CLI, import, raw
//! socket frames, MCP); the source a value is stored under is the agent's finding and is
//! sealed with the value, so editing `vault.db` cannot relabel it.

#![allow(clippy::unwrap_used)]

mod common;

use common::Openv;
use common::mcp::Mcp;
use common::run::with_stdin;
use openv::ipc::client::ClientError;
use openv::ipc::protocol::{ErrorCode, Request};
use openv::secret::SecretValue;
use openv::store::ValueSource;
use serde_json::{Value, json};

const CANARY: &str = "--require /tmp/openv-canary-4417.js";

/// `openv ARGS` with `stdin` and no proof of the human (what an AI agent's shell has).
fn as_agent(o: &Openv, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut cmd = o.cmd(args);
    cmd.env_remove("OPENV_KEYFILE");
    with_stdin(&mut cmd, stdin)
}

fn sources(o: &Openv, env: &str) -> Vec<(String, String)> {
    let list: Value = serde_json::from_str(&o.ok(&["var", "list", "-e", env, "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_cli_without_a_proof_cannot_set_a_code_name_and_the_refusal_says_what_to_do() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    for name in [
        "NODE_OPTIONS",
        "LD_PRELOAD",
        "BASH_ENV",
        "PYTHONSTARTUP",
        "PATH",
    ] {
        let out = as_agent(&o, &["var", "set", "-e", "dev", name], CANARY.as_bytes());
        assert!(!out.status.success(), "{name} was set without a proof");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("changes what code runs") && err.contains("only the human"),
            "{name}: {err}"
        );
        assert!(!err.contains(CANARY));
    }
    assert!(sources(&o, "dev").is_empty(), "nothing was stored");

    // An import holding one is refused whole: nothing of it is stored.
    let file = o.dir.path().join("agent.env");
    std::fs::write(&file, format!("OK_NAME=1\nNODE_OPTIONS='{CANARY}'\n")).unwrap();
    let out = as_agent(&o, &["import", "-e", "dev", file.to_str().unwrap()], b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NODE_OPTIONS"), "{err}");
    assert!(sources(&o, "dev").is_empty(), "nothing half-imported");

    // An ordinary name is the CLI's, not the human's.
    let out = as_agent(&o, &["var", "set", "-e", "dev", "PLAIN"], b"x");
    assert!(out.status.success());
    assert_eq!(sources(&o, "dev"), [("PLAIN".into(), "cli".into())]);

    let audit = o.ok(&["audit", "--json"]);
    assert!(audit.contains("needs_human"), "{audit}");
    assert!(!audit.contains(CANARY));
    assert!(!o.log().contains(CANARY));
}

#[test]
fn raw_frames_cannot_set_a_code_name_or_claim_to_be_the_human() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let value = || SecretValue::new(CANARY.to_owned());
    for req in [
        Request::VarSet {
            env: "dev".into(),
            name: "NODE_OPTIONS".into(),
            value: value(),
        },
        Request::VarSetMany {
            env: "dev".into(),
            vars: vec![("LD_PRELOAD".into(), value())],
            source: ValueSource::Human,
        },
        Request::VarGenerate {
            env: "dev".into(),
            names: vec!["GIT_SSH_COMMAND".into()],
            length: 16,
            charset: openv::secret::Charset::Alphanumeric,
        },
    ] {
        match o.call(&req) {
            Err(ClientError::Agent { code, message, .. }) => {
                assert_eq!(code, ErrorCode::NeedsHuman, "{message}");
            }
            other => panic!("not refused: {other:?}"),
        }
    }
    // Claiming to be the human on an ordinary name gets the agent's finding instead.
    o.call(&Request::VarSetMany {
        env: "dev".into(),
        vars: vec![("PLAIN".into(), value())],
        source: ValueSource::Human,
    })
    .unwrap();
    assert_eq!(sources(&o, "dev"), [("PLAIN".into(), "cli".into())]);
}

#[test]
fn the_human_sets_one_with_a_proof_and_openv_run_uses_it() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    // The test is the human: `cmd` carries the key file, so the CLI proves when asked.
    o.set("dev", "NODE_OPTIONS", "--max-old-space-size=64");
    o.set("dev", "PLAIN", "x");
    let listed = sources(&o, "dev");
    assert!(
        listed.contains(&("NODE_OPTIONS".into(), "human".into())),
        "{listed:?}"
    );
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "sh"]);
    let out = o.run(&[
        "run",
        "-e",
        "dev",
        "--",
        "sh",
        "-c",
        r#"test "$NODE_OPTIONS" = "--max-old-space-size=64""#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(o.status().get("withheld").is_none(), "nothing held back");
}

#[test]
fn a_relabelled_source_in_the_vault_file_is_not_honoured() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    // An agent stores an ordinary value, then marks it as the human's in vault.db.
    let out = as_agent(
        &o,
        &["var", "set", "-e", "dev", "APP_SETTING"],
        CANARY.as_bytes(),
    );
    assert!(out.status.success());
    o.ok(&["agent", "stop"]);
    let db = rusqlite::Connection::open(o.vault()).unwrap();
    let n = db
        .execute(
            "UPDATE variables SET source = 'human' WHERE name = 'APP_SETTING'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    o.ok(&["unlock"]);
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "env"]);
    let out = o.run(&["run", "-e", "dev", "--", "env"]);
    assert!(!out.status.success(), "a relabelled value was served");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tampered"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CANARY));
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_cannot_set_a_code_name_and_says_who_can() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    let (kind, msg) = m
        .err(
            "append_variables",
            json!({"environment": "dev", "variables": [
                {"name": "PUBLIC_URL", "value": "https://example.test"},
                {"name": "NODE_OPTIONS", "value": CANARY}
            ]}),
        )
        .await;
    assert_eq!(kind, "needs_human", "{msg}");
    assert!(msg.contains("only the human"), "{msg}");
    assert!(!msg.contains(CANARY));
    let list = m.ok("list_variables", json!({"environment": "dev"})).await;
    assert!(
        list["variables"].as_array().unwrap().is_empty(),
        "nothing of the batch was stored: {list}"
    );
}
