//! No value ever leaves through `openv mcp`. A vault full of canary values, a plaintext
//! file of canaries to import, and canary values passed by the "model" itself; then
//! every tool with valid and invalid input plus a few hundred fuzzed calls, against the
//! real binary at trace level with JSON logs. No canary may appear in any response or
//! error, the server's stderr, the agent's log, or the audit log.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::jsonrpc::LineClient;
use common::{BIN, MCP_TOOLS as TOOLS, Openv};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// `openv mcp` at trace level with JSON logs to `stderr`, every line it writes kept.
fn server(o: &Openv, project: &Path, stderr: std::fs::File) -> LineClient {
    let mut cmd = Command::new(BIN);
    cmd.args(["mcp", "--rate-limit", "0"])
        .current_dir(project)
        .env("OPENV_HOME", &o.home)
        .env("OPENV_LOG", "trace")
        .env("OPENV_LOG_FORMAT", "json")
        .stderr(stderr);
    LineClient::spawn(&mut cmd).keep_transcript()
}

const KEYS: &[&str] = &[
    "environment",
    "name",
    "new_name",
    "names",
    "variables",
    "value",
    "generate",
    "length",
    "charset",
    "mountPath",
    "mode",
    "path",
    "replace_with_mount",
    "limit",
    "timeout_secs",
    "junk",
];

fn random_string(rng: &mut StdRng) -> String {
    const PICKS: &[&str] = &[
        "leak-a",
        "leak-b",
        "dev",
        "API_KEY",
        "VAR_0",
        "VAR_7",
        ".",
        "..",
        "/",
        "sub/.env",
        "fifo",
        "hex",
        "",
        "a b",
        "é",
        "x\ny",
        "../../etc",
        "\u{0}",
        "$(id)",
    ];
    if rng.gen_bool(0.6) {
        return PICKS[rng.gen_range(0..PICKS.len())].to_owned();
    }
    let len = rng.gen_range(0..40);
    (0..len)
        .map(|_| char::from_u32(rng.gen_range(0x20..0x7f)).unwrap_or('x'))
        .collect()
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.gen_bool(0.5)),
        2 => json!(rng.gen_range(-5i64..400)),
        3 | 4 => json!(random_string(rng)),
        5 => json!(rng.gen_range(0.0..1e9)),
        6 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut StdRng, depth: u32) -> Value {
    let mut m = serde_json::Map::new();
    for _ in 0..rng.gen_range(0..5) {
        let k = KEYS[rng.gen_range(0..KEYS.len())];
        m.insert(k.to_owned(), random_value(rng, depth));
    }
    Value::Object(m)
}

#[test]
fn no_value_leaks_through_any_tool_log_or_audit_record() {
    let o = Openv::new(); // OPENV_PROMPT=none: consent is refused without waiting
    let project = tempfile::Builder::new().prefix("proj").tempdir().unwrap();
    let mut canaries: Vec<String> = Vec::new();
    let mut rng = StdRng::seed_from_u64(0x0e57_1eaf);

    for env in ["leak-a", "leak-b"] {
        o.ok(&["env", "create", env]);
        for i in 0..12 {
            let c = format!("VAULTCANARY{:016x}", rng.r#gen::<u64>());
            // Values with shapes that tempt escaping bugs, each carrying the canary.
            let value = match i % 4 {
                0 => c.clone(),
                1 => format!("pre \"{c}\" post"),
                2 => format!("line1\n{c}\nline3"),
                _ => format!("{c}=#$`\\ x"),
            };
            o.set(env, &format!("VAR_{i}"), &value);
            canaries.push(c);
        }
    }
    let import_canary = format!("IMPORTCANARY{:016x}", rng.r#gen::<u64>());
    std::fs::write(
        project.path().join(".env.plain"),
        format!("IMPORTED=\"{import_canary}\"\n"),
    )
    .unwrap();
    let broken_canary = format!("BROKENCANARY{:016x}", rng.r#gen::<u64>());
    std::fs::write(
        project.path().join(".env.broken"),
        format!("OK=1\n{broken_canary} has no equals sign\n"),
    )
    .unwrap();
    let model_canary = format!("MODELCANARY{:016x}", rng.r#gen::<u64>());
    canaries.extend([import_canary, broken_canary, model_canary.clone()]);

    let stderr_path = o.dir.path().join("mcp-stderr.log");
    let mut s = server(
        &o,
        project.path(),
        std::fs::File::create(&stderr_path).unwrap(),
    );
    let init = s.initialize("leak-test");
    assert_eq!(init["result"]["serverInfo"]["name"], "openv");
    s.request("tools/list", json!({}));

    // Every tool, valid and invalid.
    let scripted = [
        ("list_environments", json!({})),
        ("list_variables", json!({"environment": "leak-a"})),
        ("list_variables", json!({"environment": "nope"})),
        ("create_environment", json!({"name": "leak-c"})),
        (
            "rename_environment",
            json!({"name": "leak-c", "new_name": "leak-d"}),
        ),
        (
            "append_variables",
            json!({"environment": "leak-d", "variables": [
            {"name": "FROM_MODEL", "value": model_canary},
            {"name": "GEN", "generate": {"length": 48}},
            {"name": "PLACE"}]}),
        ),
        // Overwrite refused, wrong types, value in the wrong place: errors never echo it.
        (
            "append_variables",
            json!({"environment": "leak-d", "variables": [{"name": "FROM_MODEL", "value": model_canary}]}),
        ),
        (
            "append_variables",
            json!({"environment": "leak-d", "variables": [{"name": "X", "value": [model_canary]}]}),
        ),
        (
            "append_variables",
            json!({"environment": "leak-d", "variables": [{"name": "X", "value": {"v": model_canary}}]}),
        ),
        (
            "append_variables",
            json!({"environment": "leak-a", "variables": [{"name": "VAR_0", "value": "x"}]}),
        ),
        (
            "append_variables",
            json!({"environment": "leak-a", "variables": [{"name": "BAD", "value": format!("a\u{0}b{model_canary}")}]}),
        ),
        (
            "append_variables",
            json!({"environment": "leak-a", "variables": [{"name": "BAD", "value": format!("{model_canary}\\")}]}),
        ),
        (
            "request_variable_values",
            json!({"environment": "leak-a", "names": ["VAR_1"]}),
        ),
        (
            "remove_variables",
            json!({"environment": "leak-a", "names": ["VAR_2"]}),
        ),
        ("delete_environment", json!({"name": "leak-b"})),
        (
            "create_local_env_file",
            json!({"environment": "leak-a", "mountPath": ".", "mode": "fifo"}),
        ),
        ("list_local_env_files", json!({})),
        ("list_environments", json!({})),
        ("remove_local_env_file", json!({"mountPath": "."})),
        (
            "import_env_file",
            json!({"environment": "leak-e", "path": ".env.plain"}),
        ),
        (
            "import_env_file",
            json!({"environment": "leak-e", "path": ".env.broken"}),
        ),
        (
            "check_environment",
            json!({"environment": "leak-a", "path": "."}),
        ),
        ("get_health_status", json!({})),
        ("get_metrics", json!({})),
        ("get_security_status", json!({})),
        ("get_audit_log", json!({"limit": 500})),
        ("get_audit_log", json!({"environment": "leak-a"})),
    ];
    for (tool, args) in scripted {
        let r = s.call(tool, args);
        assert!(r.get("result").is_some(), "{tool}: protocol error {r}");
    }
    assert_eq!(
        o.run(&["var", "list", "-e", "leak-a"]).status.code(),
        Some(0)
    );

    // Fuzzed calls: random tools (and a few unknown ones) with random arguments.
    for i in 0..300 {
        let tool = if i % 25 == 0 {
            "no_such_tool".to_owned()
        } else {
            TOOLS[rng.gen_range(0..TOOLS.len())].to_owned()
        };
        let args = random_object(&mut rng, 0);
        let r = s.call(&tool, args.clone());
        let result = &r["result"];
        assert!(result.is_object(), "{tool} {args}: {r}");
        if result["isError"] == true {
            let text = result["content"][0]["text"].as_str().unwrap();
            assert!(text.contains("correlation id"), "{tool} {args}: {text}");
        }
    }
    // Protocol junk does not kill the server.
    s.write_line("{not json");
    s.write_line(&json!({"jsonrpc": "2.0", "id": 99999, "method": "no/such/method"}).to_string());
    let last = s.request("tools/list", json!({}));
    assert_eq!(
        last["result"]["tools"].as_array().unwrap().len(),
        TOOLS.len()
    );

    let transcript = s.transcript.take().unwrap();
    let status = s.close();
    assert!(status.success(), "openv mcp exited with {status}");

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        stderr.lines().count() > 10,
        "trace logging produced too little: {stderr}"
    );
    for line in stderr.lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    let mut audit = String::new();
    for entry in std::fs::read_dir(o.home.join("audit")).unwrap() {
        audit.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(audit.contains("\"client\":\"leak-test\""));
    let agent_log = o.log();
    assert!(!agent_log.is_empty());
    for (what, text) in [
        ("responses", &transcript),
        ("mcp stderr", &stderr),
        ("agent log", &agent_log),
        ("audit log", &audit),
    ] {
        for c in &canaries {
            assert!(!text.contains(c.as_str()), "canary {c} found in the {what}");
        }
    }
    // The values really are there, so their absence above means something.
    let vault_has = o.run(&["var", "list", "-e", "leak-d"]);
    assert!(String::from_utf8_lossy(&vault_has.stdout).contains("FROM_MODEL"));
}
