//! `openv mcp` driven by MCP clients nobody here wrote: the official Python SDK
//! (tests/mcp/client.py: initialize, tools/list, every tool) and the MCP Inspector CLI
//! (tools/list with its schema portability check, and a tool call); and the set-up
//! snippets of docs/mcp.md read by the real Codex and Claude Code CLIs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, Openv, require};
use serde_json::Value;

fn python_has_mcp() -> bool {
    Command::new("python3")
        .args(["-c", "import mcp.client.stdio"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn inspector() -> PathBuf {
    common::tools::js_dir().join("node_modules/.bin/mcp-inspector")
}

#[test]
fn python_sdk_drives_every_tool_over_stdio() {
    if !require(python_has_mcp(), "the MCP Python SDK (pip install mcp)") {
        return;
    }
    let o = Openv::new(); // OPENV_PROMPT=none: consent tools are refused at once
    let project = tempfile::Builder::new().prefix("proj").tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(BIN)
        .arg(project.path())
        .env("OPENV_HOME", &o.home)
        .env(
            "OPENV_TEST_TOOLS",
            serde_json::to_string(common::MCP_TOOLS).unwrap(),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["tools"], common::MCP_TOOLS.len());
    assert_eq!(seen["delete_environment"], "error:denied");
    assert_eq!(seen["append_variables"], "ok");
    // The calls were audited with the client's name from `initialize`.
    let audit = std::fs::read_to_string(o.home.join("audit/audit.jsonl")).unwrap();
    assert!(audit.contains("\"client\":\"python-sdk-client\""));
}

/// The Python SDK as a client that sends MCP roots, the server started in `/`: the root
/// is the project; rows 6 and 7 of issue 11 are refused through the real binary.
#[test]
fn python_sdk_roots_confine_the_tools_to_the_project() {
    if !require(python_has_mcp(), "the MCP Python SDK (pip install mcp)") {
        return;
    }
    const CANARY: &str = "py-confine-canary";
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let project = tempfile::Builder::new().prefix("proj").tempdir().unwrap();
    let script = format!("export TOKEN={CANARY}\n");
    std::fs::write(project.path().join("settings.sh"), &script).unwrap();
    std::fs::write(project.path().join("main.py"), "print(1)\n").unwrap();
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/confine.py"))
        .arg(BIN)
        .arg(project.path())
        .env("OPENV_HOME", &o.home)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains(CANARY), "{stdout}");
    let read = |n: &str| std::fs::read_to_string(project.path().join(n)).unwrap();
    assert_eq!(read("settings.sh"), script);
    assert_eq!(read("main.py"), "print(1)\n");
    assert!(!project.path().join(".env").exists());
}

fn run_inspector(o: &Openv, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(inspector())
        .arg("--cli")
        .arg(BIN)
        .arg("mcp")
        .arg("-e")
        .arg(format!("OPENV_HOME={}", o.home.display()))
        .args(extra)
        .output()
        .unwrap();
    common::run::outcome(out)
}

#[test]
fn inspector_cli_lists_the_tools_and_finds_no_schema_problem() {
    if !require(
        inspector().exists(),
        "the MCP Inspector in tests/js (npm install in tests/js)",
    ) {
        return;
    }
    let o = Openv::new();
    let (ok, stdout, stderr) = run_inspector(&o, &["--method", "tools/list", "--strict"]);
    assert!(ok, "inspector failed: {stderr}");
    // --strict reports schema portability problems on stderr (and fails on errors).
    assert!(!stderr.contains("Warning: tool"), "{stderr}");
    let list: Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, common::MCP_TOOLS, "the inspector lists every tool");

    let (ok, stdout, stderr) = run_inspector(
        &o,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "create_environment",
            "--tool-arg",
            "name=from-inspector",
        ],
    );
    assert!(ok, "inspector call failed: {stdout} {stderr}");
    assert!(stdout.contains("from-inspector"), "{stdout}");
    assert!(o.ok(&["env", "list"]).contains("from-inspector"));
}

/// The first fenced block of `lang` after `heading` in docs/mcp.md.
fn doc_snippet(heading: &str, lang: &str) -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mcp.md")).unwrap();
    let section = &doc[doc.find(heading).unwrap()..];
    let fence = format!("```{lang}\n");
    let body = &section[section.find(&fence).unwrap() + fence.len()..];
    body[..body.find("```").unwrap()].to_owned()
}

/// The set-up snippets in docs/mcp.md, read by the real Codex and Claude Code CLIs: each
/// client sees the `openv` server with `openv mcp` as its command, and `claude mcp add`
/// writes what the docs show.
#[test]
fn the_documented_client_snippets_are_what_codex_and_claude_code_read() {
    use common::{client_bin, run_client};
    let (Some(codex), Some(claude)) = (client_bin("codex"), client_bin("claude")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let project = dir.path().join("project");
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    std::fs::create_dir_all(&project).unwrap();

    let toml = doc_snippet("### Codex", "toml");
    std::fs::write(home.join(".codex/config.toml"), &toml).unwrap();
    let (ok, out, err) = run_client(&codex, &home, &project, &["mcp", "get", "openv", "--json"]);
    assert!(ok, "codex rejected the docs snippet:\n{toml}\n{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["transport"]["type"], "stdio", "{got}");
    assert_eq!(got["transport"]["command"], "openv", "{got}");
    assert_eq!(
        got["transport"]["args"],
        serde_json::json!(["mcp"]),
        "{got}"
    );
    assert_eq!(got["tool_timeout_sec"].as_f64(), Some(300.0), "{got}");

    let json = doc_snippet("### Claude Code", "json");
    std::fs::write(project.join(".mcp.json"), &json).unwrap();
    let (ok, out, err) = run_client(&claude, &home, &project, &["mcp", "get", "openv"]);
    assert!(ok, "claude rejected the docs snippet:\n{json}\n{out}{err}");
    for line in ["Type: stdio", "Command: openv", "Args: mcp"] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }

    // `claude mcp add --scope project` writes the documented file (Claude adds an empty
    // `env`).
    std::fs::remove_file(project.join(".mcp.json")).unwrap();
    let add = [
        "mcp", "add", "--scope", "project", "openv", "--", "openv", "mcp",
    ];
    let (ok, out, err) = run_client(&claude, &home, &project, &add);
    assert!(ok, "claude mcp add: {out}{err}");
    let mut written: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".mcp.json")).unwrap()).unwrap();
    let server = written["mcpServers"]["openv"].as_object_mut().unwrap();
    if server.get("env") == Some(&serde_json::json!({})) {
        server.remove("env");
    }
    let documented: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(written, documented);
}
