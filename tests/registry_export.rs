//! `openv mcp-servers`: the registry (project file + user-wide file), per-project
//! enable/disable, and export for each client: read by the real Codex and Claude Code CLIs,
//! and by a TOML or JSON parser for Kiro and VS Code, which have no CLI to ask.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Openv, client_bin, require, run_client};

const CANARY: &str = "ghp-canary-value-5a4b3c2d1e";

/// Project servers `gh` and `db`, user-wide server `notes` (off until enabled).
fn setup() -> (Openv, PathBuf) {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "GITHUB_TOKEN", CANARY);
    let root = o.dir.path().join("proj");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(
        root.join("openv.toml"),
        r#"env = "dev"

[mcp.servers.gh]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]
secrets = { GITHUB_PERSONAL_ACCESS_TOKEN = "openv://dev/GITHUB_TOKEN" }

[mcp.servers.db]
command = "db-mcp"
env = { LOG_LEVEL = "info" }
"#,
    )
    .unwrap();
    std::fs::write(
        o.home.join("mcp-servers.toml"),
        "[mcp.servers.notes]\ncommand = \"notes-mcp\"\n",
    )
    .unwrap();
    (o, root.canonicalize().unwrap())
}

fn bin() -> String {
    Path::new(common::BIN)
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// (name, command, args) of every server in a parsed client document.
fn servers(doc: &serde_json::Value, key: &str) -> Vec<(String, String, Vec<String>)> {
    let mut v: Vec<_> = doc[key]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, s)| {
            let args = s["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (k.clone(), s["command"].as_str().unwrap().to_owned(), args)
        })
        .collect();
    v.sort();
    v
}

fn python_parses(module: &str, text: &str) -> bool {
    let code = match module {
        "tomllib" => "import sys, tomllib; tomllib.loads(sys.stdin.read())",
        _ => "import sys, json; json.loads(sys.stdin.read())",
    };
    let mut c = Command::new("python3")
        .args(["-c", code])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    c.wait().unwrap().success()
}

#[test]
fn list_enable_disable_per_project() {
    let (o, root) = setup();
    let list = o.ok_in(&root, &["mcp-servers", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let states: Vec<(String, String, bool)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().into(),
                s["source"].as_str().unwrap().into(),
                s["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("db".into(), "project".into(), true),
            ("gh".into(), "project".into(), true),
            ("notes".into(), "user".into(), false)
        ]
    );
    assert!(!list.contains(CANARY));
    o.ok_in(&root, &["mcp-servers", "disable", "db"]);
    o.ok_in(&root, &["mcp-servers", "enable", "notes"]);
    let table = o.ok_in(&root, &["mcp-servers", "list"]);
    assert!(table.contains("openv://dev/GITHUB_TOKEN"), "{table}");
    let line = |n: &str| table.lines().find(|l| l.starts_with(n)).unwrap().to_owned();
    assert!(line("db ").contains(" off "), "{table}");
    assert!(line("notes").contains(" on "), "{table}");
    // The state lives under OPENV_HOME, not in the repository.
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        1,
        "only openv.toml in the project"
    );
    // Another project is not affected.
    let other = o.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&o.ok_in(&other, &["mcp-servers", "list", "--json"])).unwrap();
    assert_eq!(v[0]["name"], "notes");
    assert_eq!(v[0]["enabled"], false);
    let e = String::from_utf8(o.run_in(&root, &["mcp-servers", "enable", "nope"]).stderr).unwrap();
    assert!(
        e.contains("no MCP server named nope: known: db, gh, notes"),
        "{e}"
    );
}

#[test]
fn export_for_each_client_parses_and_holds_no_value() {
    let (o, root) = setup();
    o.ok_in(&root, &["mcp-servers", "disable", "db"]);
    o.ok_in(&root, &["mcp-servers", "enable", "notes"]);
    let py = require(
        Command::new("python3").arg("--version").output().is_ok(),
        "python3",
    );
    let root_s = root.display().to_string();
    let want = |n: &str| {
        (
            n.to_owned(),
            bin(),
            vec![
                "launch".into(),
                "--project".into(),
                root_s.clone(),
                n.to_owned(),
            ],
        )
    };
    for client in ["codex", "kiro", "claude", "vscode"] {
        let text = o.ok_in(&root, &["mcp-servers", "export", "--client", client]);
        assert!(
            !text.contains(CANARY) && !text.contains("GITHUB_TOKEN"),
            "{text}"
        );
        let (doc, key): (serde_json::Value, &str) = if client == "codex" {
            let t: toml::Table = toml::from_str(&text).unwrap();
            if py {
                assert!(python_parses("tomllib", &text), "{text}");
            }
            (serde_json::to_value(t).unwrap(), "mcp_servers")
        } else {
            if py {
                assert!(python_parses("json", &text), "{text}");
            }
            let key = if client == "vscode" {
                "servers"
            } else {
                "mcpServers"
            };
            (serde_json::from_str(&text).unwrap(), key)
        };
        assert_eq!(
            servers(&doc, key),
            vec![want("gh"), want("notes")],
            "{client}"
        );
        // A non-default OPENV_HOME is pinned, since clients pass few variables on.
        assert_eq!(
            doc[key]["gh"]["env"]["OPENV_HOME"].as_str().unwrap(),
            o.home.display().to_string()
        );
        match client {
            "vscode" | "claude" => assert_eq!(doc[key]["gh"]["type"], "stdio"),
            "kiro" => assert_eq!(doc[key]["gh"]["disabled"], false),
            _ => {}
        }
    }
}

#[test]
fn write_merges_into_the_clients_file_with_a_backup() {
    let (o, root) = setup();
    let mcp = root.join(".mcp.json");
    let before = r#"{"mcpServers": {"mine": {"command": "my-server", "args": []}}}"#;
    std::fs::write(&mcp, before).unwrap();
    let s = o.ok_in(
        &root,
        &["mcp-servers", "export", "--client", "claude", "--write"],
    );
    assert!(s.contains("wrote 2 server(s)"), "{s}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mcp).unwrap()).unwrap();
    let names: Vec<&String> = v["mcpServers"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["db", "gh", "mine"]);
    assert_eq!(
        std::fs::read_to_string(root.join(".mcp.json.bak")).unwrap(),
        before
    );
    // Turning a server off and writing again removes its entry, keeps the user's.
    o.ok_in(&root, &["mcp-servers", "disable", "db"]);
    o.ok_in(
        &root,
        &["mcp-servers", "export", "--client", "claude", "--write"],
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mcp).unwrap()).unwrap();
    let names: Vec<&String> = v["mcpServers"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["gh", "mine"]);
    let s = o.ok_in(
        &root,
        &["mcp-servers", "export", "--client", "claude", "--write"],
    );
    assert!(s.contains("up to date"), "{s}");

    // Codex: comments and other settings survive; a file elsewhere with --path.
    let codex = o.dir.path().join("codex-home/config.toml");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    std::fs::write(&codex, "# my settings\nmodel = \"o3\"\n").unwrap();
    o.ok_in(
        &root,
        &[
            "mcp-servers",
            "export",
            "--client",
            "codex",
            "--write",
            "--path",
            codex.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&codex).unwrap();
    assert!(
        text.starts_with("# my settings\nmodel = \"o3\"\n"),
        "{text}"
    );
    let t: toml::Table = toml::from_str(&text).unwrap();
    assert!(
        t["mcp_servers"]["gh"]["command"]
            .as_str()
            .unwrap()
            .ends_with("openv")
    );
    for client in ["kiro", "vscode", "codex"] {
        o.ok_in(
            &root,
            &["mcp-servers", "export", "--client", client, "--write"],
        );
    }
    for f in [
        ".kiro/settings/mcp.json",
        ".vscode/mcp.json",
        ".codex/config.toml",
    ] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        assert!(
            text.contains("launch") && !text.contains(CANARY),
            "{f}: {text}"
        );
    }
    // A file that is not plain JSON is left alone.
    std::fs::write(root.join(".vscode/mcp.json"), "{ // comment\n}").unwrap();
    let r = o.run_in(
        &root,
        &["mcp-servers", "export", "--client", "vscode", "--write"],
    );
    assert!(!r.status.success());
    assert_eq!(
        std::fs::read_to_string(root.join(".vscode/mcp.json")).unwrap(),
        "{ // comment\n}"
    );
}

/// The clients' own parsers: the real Codex CLI and the real Claude Code CLI read what
/// `--write` put in their configuration and report the server as openv launches it. Both
/// accept unknown keys silently (Claude even exits 0 after skipping a bad entry), so what
/// they report is compared, not only their exit codes.
#[test]
fn codex_and_claude_code_read_the_exported_configuration() {
    let (Some(codex), Some(claude)) = (client_bin("codex"), client_bin("claude")) else {
        return;
    };
    let (o, root) = setup();
    let home = o.dir.path().join("client-home");
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    let launch = ["launch", "--project", root.to_str().unwrap(), "gh"];

    let config = home.join(".codex/config.toml");
    let args = ["mcp-servers", "export", "--client", "codex", "--write"];
    o.ok_in(
        &root,
        &[&args[..], &["--path", config.to_str().unwrap()]].concat(),
    );
    let (ok, out, err) = run_client(&codex, &home, &root, &["mcp", "get", "gh", "--json"]);
    assert!(ok, "codex: {err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let transport = &got["transport"];
    assert_eq!(transport["type"], "stdio", "{got}");
    assert_eq!(transport["command"], bin(), "{got}");
    assert_eq!(transport["args"], serde_json::json!(launch), "{got}");
    assert_eq!(
        transport["env"]["OPENV_HOME"],
        o.home.display().to_string(),
        "{got}"
    );

    o.ok_in(
        &root,
        &["mcp-servers", "export", "--client", "claude", "--write"],
    );
    let (ok, out, err) = run_client(&claude, &home, &root, &["mcp", "get", "gh"]);
    assert!(ok, "claude: {out}{err}");
    for line in [
        "Type: stdio".to_owned(),
        format!("Command: {}", bin()),
        format!("Args: {}", launch.join(" ")),
        format!("OPENV_HOME={}", o.home.display()),
    ] {
        assert!(out.contains(&line), "{line:?} not in:\n{out}");
    }
    for text in [&out, &err] {
        assert!(!text.contains(CANARY), "{text}");
    }
}
