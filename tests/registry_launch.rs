//! `openv launch NAME`: an MCP server started with its secrets (checked by hash), the
//! way an MCP client starts it from the exported configuration; and the fast, complete
//! failures when a secret cannot be resolved.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Openv, require};
use sha2::{Digest, Sha256};

const TOKEN: &str = "api-token-canary-0c1d2e3f";
const PROD_DB: &str = "postgres://prod:pw@db/app";

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A minimal MCP server over stdio (JSON-RPC lines, python stdlib only): its one tool
/// answers the hash of API_TOKEN, never the value.
const MCP_SERVER: &str = r#"#!/usr/bin/env python3
import hashlib, json, os, sys
for line in sys.stdin:
    msg = json.loads(line)
    method = msg.get("method")
    if method == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "demo", "version": "1"}}
    elif method == "tools/call":
        h = hashlib.sha256(os.environ.get("API_TOKEN", "").encode()).hexdigest()
        result = {"content": [{"type": "text", "text": h}]}
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"#;

/// Writes the hashes of its variables to $OUT, then exits.
const HASH_SERVER: &str = "#!/bin/sh\n{ printf %s \"$API_TOKEN\" | sha256sum; printf %s \"$DATABASE_URL\" | sha256sum; printf %s \"$SAME_TOKEN\" | sha256sum; echo \"level=$LOG_LEVEL\"; pwd; } > \"$OUT\"\n";

fn script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct P {
    o: Openv,
    root: PathBuf,
    out: PathBuf,
}

fn setup() -> P {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.ok(&["env", "create", "prod"]);
    o.set("dev", "TOKEN", TOKEN);
    o.set("prod", "DATABASE_URL", PROD_DB);
    let root = o.dir.path().join("proj");
    std::fs::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    script(&root.join("mcp_server.py"), MCP_SERVER);
    script(&root.join("hash_server.sh"), HASH_SERVER);
    let out = o.dir.path().join("out");
    std::fs::write(
        root.join("openv.toml"),
        format!(
            r#"env = "dev"

[mcp.servers.demo]
command = "./mcp_server.py"
secrets = {{ API_TOKEN = "openv://dev/TOKEN" }}

[mcp.servers.hashes]
command = "./hash_server.sh"
env = {{ LOG_LEVEL = "debug", OUT = "{}" }}
secrets = {{ API_TOKEN = "openv://dev/TOKEN", SAME_TOKEN = "openv://dev/TOKEN", DATABASE_URL = "openv://prod/DATABASE_URL" }}

[mcp.servers.missing]
command = "./hash_server.sh"
env = {{ OUT = "{}" }}
secrets = {{ API_TOKEN = "openv://dev/TOKEN", GONE = "openv://dev/NOT_SET" }}

[mcp.servers.noenv]
command = "./hash_server.sh"
env = {{ OUT = "{}" }}
secrets = {{ X = "openv://staging/TOKEN" }}
"#,
            out.display(),
            out.display(),
            out.display()
        ),
    )
    .unwrap();
    P { o, root, out }
}

fn allow(p: &P, env: &str, exe: &str) {
    p.o.ok(&[
        "policy",
        "allow",
        "-e",
        env,
        "--exe",
        p.root.join(exe).to_str().unwrap(),
    ]);
}

#[test]
fn launch_gives_the_server_its_secrets_renamed_from_several_environments() {
    let p = setup();
    allow(&p, "dev", "hash_server.sh");
    allow(&p, "prod", "hash_server.sh");
    // From a subdirectory: the project is found upward; the server runs in its root.
    let sub = p.root.join("src");
    std::fs::create_dir(&sub).unwrap();
    p.o.ok_in(&sub, &["launch", "hashes"]);
    let got = std::fs::read_to_string(&p.out).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert!(lines[0].starts_with(&sha(TOKEN)), "{got}");
    assert!(lines[1].starts_with(&sha(PROD_DB)), "{got}");
    assert!(lines[2].starts_with(&sha(TOKEN)), "{got}");
    assert_eq!(lines[3], "level=debug");
    assert_eq!(lines[4], p.root.display().to_string());
}

#[test]
fn an_mcp_client_starts_the_exported_command_and_the_server_has_its_secret() {
    let p = setup();
    if !require(
        Command::new("python3").arg("--version").output().is_ok(),
        "python3",
    ) {
        return;
    }
    let exported =
        p.o.ok_in(&p.root, &["mcp-servers", "export", "--client", "claude"]);
    assert!(!exported.contains(TOKEN));
    let v: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let entry = &v["mcpServers"]["demo"];
    // The interpreter is what the kernel runs, but the approved program is the script
    // openv launches: a rule on its path covers every session start.
    allow(&p, "dev", "mcp_server.py");
    let args: Vec<&str> = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mut c = Command::new(entry["command"].as_str().unwrap());
    c.args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", std::env::var_os("HOME").unwrap())
        .env("OPENV_HOME", entry["env"]["OPENV_HOME"].as_str().unwrap())
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let t = Instant::now();
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"test","version":"0"}}}}}}"#).unwrap();
    let init: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "demo");
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"token_hash","arguments":{{}}}}}}"#).unwrap();
    let call: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(call["result"]["content"][0]["text"], sha(TOKEN));
    assert!(t.elapsed() < Duration::from_secs(10));
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[track_caller]
fn fails_fast(p: &P, name: &str, wants: &[&str]) {
    let _ = std::fs::remove_file(&p.out);
    let t = Instant::now();
    let e =
        p.o.err(&["launch", "--project", p.root.to_str().unwrap(), name]);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "{name}: took {took:?}");
    assert!(
        e.starts_with(&format!("error: cannot launch MCP server {name}: ")),
        "{e}"
    );
    for w in wants {
        assert!(e.contains(w), "{name}: wanted {w:?} in {e}");
    }
    assert!(!e.contains(TOKEN));
    assert!(!p.out.exists(), "{name}: the server must not start");
}

#[test]
fn unresolvable_secrets_fail_fast_with_name_reference_and_fix() {
    let p = setup();
    fails_fast(
        &p,
        "missing",
        &["openv://dev/NOT_SET", "openv var set -e dev NOT_SET"],
    );
    fails_fast(
        &p,
        "noenv",
        &["openv://staging/TOKEN", "openv env create staging"],
    );
    // No rule, prompts off: denied at once, with the rule that fixes it.
    fails_fast(
        &p,
        "hashes",
        &[
            "openv://dev/TOKEN",
            "openv allow -e dev --exe",
            "hash_server.sh",
        ],
    );
    allow(&p, "dev", "hash_server.sh");
    allow(&p, "prod", "hash_server.sh");
    p.o.ok(&["lock"]);
    fails_fast(
        &p,
        "hashes",
        &["openv://dev/TOKEN", "locked", "openv unlock"],
    );
    p.o.ok(&["unlock", "--keyfile", p.o.keyfile.to_str().unwrap()]);
    // Disabled in this project: not started either.
    p.o.ok_in(&p.root, &["mcp-servers", "disable", "hashes"]);
    fails_fast(&p, "hashes", &["openv mcp-servers enable hashes"]);
    fails_fast(&p, "nope", &["no MCP server named nope"]);
}
