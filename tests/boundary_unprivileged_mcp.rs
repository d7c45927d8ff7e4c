//! Rows 5, 6 and 7 of the boundary issue as a non-root user (`openv-test`): the agent's MCP
//! session (the real `openv mcp`, raw JSON-RPC) tries to store values that become code in
//! the human's approved run, to replace a script with a mount, and to reach files outside
//! the project. Each is refused with what the human must do, files survive, nothing waits
//! for an answer, and the canary never reaches the attacker.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;
#[path = "common/test_user.rs"]
mod test_user;

use std::path::Path;
use std::time::{Duration, Instant};

use common::jsonrpc::LineClient;
use serde_json::{Value, json};
use test_user::{can_run, home_for_user, setup_script, sh, sh_prompt, text};

const CANARY: &str = "canary-91c0-mcp";

/// A vault whose agent queues decisions (`openv approve` / `openv deny`), with a project
/// at `$D/p` under git; the project's path.
fn world(dir: &Path, extra: &str) -> std::path::PathBuf {
    let out = sh_prompt(
        dir,
        "queue",
        &format!(
            "{}\nmkdir \"$D/p\"\ngit init -q \"$D/p\"\n{extra}",
            setup_script(CANARY)
        ),
    );
    assert!(out.status.success(), "{}", text(&out));
    dir.join("p")
}

/// A refused call: its kind and message (which must hold no canary).
#[track_caller]
fn refusal(r: &Value) -> (String, String) {
    assert_eq!(r["result"]["isError"], true, "should be refused: {r}");
    let msg = r["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!msg.contains(CANARY), "{msg}");
    let kind = r["result"]["structuredContent"]["error"]["kind"]
        .as_str()
        .unwrap()
        .to_owned();
    (kind, msg)
}

fn pending(dir: &Path) -> Value {
    let out = sh(dir, "openv pending --json");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The id of the first pending request, waited for (20 s at most).
fn wait_pending(dir: &Path) -> (u64, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(first) = pending(dir).as_array().and_then(|a| a.first().cloned()) {
            return (first["id"].as_u64().unwrap(), first);
        }
        assert!(Instant::now() < deadline, "no request became pending");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a tool call without waiting for its answer; its id.
fn start_call(m: &mut LineClient, tool: &str, args: Value) -> u64 {
    let id = m.send("tools/call", json!({"name": tool, "arguments": args}));
    m.flush();
    id
}

fn answer_of(m: &mut LineClient, id: u64) -> Value {
    loop {
        let msg = m.recv();
        if msg["id"] == id {
            return msg;
        }
    }
}

#[test]
fn row5_code_names_from_mcp_or_the_agents_shell_are_refused_and_never_run_in_the_humans_app() {
    if !can_run() {
        return;
    }
    let (_t, dir) = home_for_user();
    let d = dir.display();
    // The attacker's payloads: each writes the environment it runs in where it can read it.
    let project = world(
        &dir,
        r#"
cat > "$D/x.js" <<'JS'
require('fs').writeFileSync(process.env.HOME + '/stolen', JSON.stringify(process.env));
JS
printf '#!/bin/sh\nenv > "$HOME/stolen"\n' > "$D/bin-env"; chmod +x "$D/bin-env"
mkdir "$D/bin"; cp "$D/bin-env" "$D/bin/node"
printf 'console.log("APP-RAN " + (process.env.API_KEY ? "with-key" : "no-key"))\n' > "$D/p/app.js"
printf 'console.log("HUMAN-HOOK")\n' > "$D/p/hook.js"
"#,
    );
    let attempts = [
        ("NODE_OPTIONS", format!("--require {d}/x.js")),
        ("LD_PRELOAD", format!("{d}/hook.so")),
        ("BASH_ENV", format!("{d}/bin-env")),
        ("PYTHONSTARTUP", format!("{d}/x.py")),
        ("PATH", format!("{d}/bin:/usr/bin:/bin")),
    ];
    let mut m = test_user::mcp(&dir, &project);
    for (name, value) in &attempts {
        let r = m.call(
            "append_variables",
            json!({"environment": "dev", "variables": [
                {"name": "PUBLIC_URL", "value": "https://example.test"},
                {"name": name, "value": value}
            ]}),
        );
        let (kind, msg) = refusal(&r);
        assert_eq!(kind, "needs_human", "{name}: {msg}");
        assert!(
            msg.contains("only the human") && msg.contains("--keyfile"),
            "{name}: the refusal says how the human sets it: {msg}"
        );
    }
    let listed = m.call_ok("list_variables", json!({"environment": "dev"}));
    m.close();
    let names = listed.to_string();
    assert!(
        !names.contains("PUBLIC_URL") && !names.contains("NODE_OPTIONS"),
        "nothing of a refused batch was stored: {names}"
    );

    let out = sh(
        &dir,
        r#"
printf %s "--require $D/x.js" | "$D/codex" -c 'openv var set -e dev NODE_OPTIONS' 2>&1 && echo SET-SUCCEEDED
cd "$D/p"
echo '--- human'
openv policy allow -e dev --exe node --keyfile "$D/key" >/dev/null
openv run -e dev --keyfile "$D/key" -- node app.js 2>&1
test -e "$D/stolen" && echo STOLEN
echo '--- human sets it'
printf %s "--require $D/p/hook.js" | openv var set -e dev NODE_OPTIONS --keyfile "$D/key" 2>&1
openv run -e dev --keyfile "$D/key" -- node app.js 2>&1
echo '--- list'
openv var list -e dev | grep NODE_OPTIONS
"#,
    );
    let t = text(&out);
    assert!(!t.contains(CANARY), "{t}");
    assert!(!t.contains("SET-SUCCEEDED") && !t.contains("STOLEN"), "{t}");
    let (agent, rest) = t.split_once("--- human").unwrap();
    assert!(agent.contains("only the human"), "{t}");
    let (human, proven) = rest.split_once("--- human sets it").unwrap();
    assert!(
        human.contains("APP-RAN with-key") && !human.contains("HUMAN-HOOK"),
        "the human's app ran with its value and no planted hook: {t}"
    );
    assert!(
        proven.contains("HUMAN-HOOK") && proven.contains("APP-RAN with-key"),
        "a value the human set with a proof is used: {t}"
    );
    let listed = proven.split("--- list").nth(1).unwrap();
    assert!(listed.contains("human"), "its source is the human: {t}");
    assert!(!dir.join("stolen").exists());
}

#[test]
fn row6_replace_with_mount_on_a_script_is_refused_and_the_script_stays() {
    if !can_run() {
        return;
    }
    let (_t, dir) = home_for_user();
    let project = world(
        &dir,
        &format!("printf '#!/bin/sh\\nexport TOKEN={CANARY}\\n' > \"$D/p/settings.sh\""),
    );
    let script = std::fs::read_to_string(project.join("settings.sh")).unwrap();
    let mut m = test_user::mcp(&dir, &project);
    let r = m.call(
        "import_env_file",
        json!({"environment": "dev", "path": "settings.sh", "replace_with_mount": true}),
    );
    let (kind, msg) = refusal(&r);
    assert_eq!(kind, "invalid_input", "{msg}");
    assert!(
        msg.contains("not a .env file") && msg.contains("openv mount --import -e dev"),
        "{msg}"
    );
    let files = m.call_ok("list_local_env_files", json!({}));
    let transcript = m.transcript.clone().unwrap();
    m.close();
    assert!(!transcript.contains(CANARY), "{transcript}");
    assert_eq!(common::jsonrpc::answer(&files)["files"], json!([]));
    assert_eq!(
        std::fs::read_to_string(project.join("settings.sh")).unwrap(),
        script
    );
    assert!(!project.join(".gitignore").exists());
    assert_eq!(pending(&dir), json!([]));
}

#[test]
fn row7_files_outside_the_project_and_over_existing_ones_need_the_human() {
    if !can_run() {
        return;
    }
    let (_t, dir) = home_for_user();
    let project = world(
        &dir,
        &format!(
            r#"
printf "print('{CANARY}')\n" > "$D/p/main.py"
: > "$D/p/.env"
mkdir -m 700 "$D/.ssh"
printf %s {CANARY} > "$D/.ssh/id_ed25519"
printf 'KEY={CANARY}\n' > "$D/.ssh/.env"
"#
        ),
    );
    let d = dir.display().to_string();
    let main_py = std::fs::read_to_string(project.join("main.py")).unwrap();
    let mut m = test_user::mcp(&dir, &project);
    let mount = |p: &str| json!({"environment": "dev", "mountPath": p, "mode": "fifo"});
    let path = |p: &str| json!({"environment": "dev", "path": p});
    let cases = [
        ("create_local_env_file", mount("main.py"), "invalid_input"),
        (
            "create_local_env_file",
            mount(&format!("{d}/.ssh")),
            "outside_project",
        ),
        (
            "create_local_env_file",
            mount("/etc/.env"),
            "outside_project",
        ),
        ("create_local_env_file", mount("../h"), "outside_project"),
        (
            "import_env_file",
            path(&format!("{d}/.ssh/.env")),
            "outside_project",
        ),
        (
            "import_env_file",
            path(&format!("{d}/.ssh/id_ed25519")),
            "outside_project",
        ),
        ("import_env_file", path("/etc/passwd"), "outside_project"),
        ("import_env_file", path("main.py"), "invalid_input"),
        (
            "check_environment",
            path(&format!("{d}/.ssh")),
            "outside_project",
        ),
        ("check_environment", path("/etc"), "outside_project"),
    ];
    for (tool, args, want) in cases {
        let (kind, msg) = refusal(&m.call(tool, args.clone()));
        assert_eq!(kind, want, "{tool} {args}: {msg}");
        assert!(
            msg.contains("they run `openv")
                || msg.contains("the user starts openv mcp")
                || msg.contains("use a path in the project"),
            "{tool} {args}: names what the human runs: {msg}"
        );
    }

    // Mounting over the empty `.env` waits for the human: denied, the file stays.
    let id = start_call(&mut m, "create_local_env_file", mount("."));
    let (pid, item) = wait_pending(&dir);
    assert!(
        item["action"]
            .as_str()
            .unwrap()
            .contains("in place of the file there now"),
        "{item}"
    );
    assert!(sh(&dir, &format!("openv deny {pid}")).status.success());
    let (kind, msg) = refusal(&answer_of(&mut m, id));
    assert_eq!(kind, "denied", "{msg}");
    let meta = std::fs::symlink_metadata(project.join(".env")).unwrap();
    assert!(
        meta.is_file() && meta.len() == 0,
        "the empty file is untouched"
    );

    // Approved by the human: mounted, and the empty file is back after the unmount.
    let id = start_call(&mut m, "create_local_env_file", mount("."));
    let (pid, _) = wait_pending(&dir);
    let out = sh(&dir, &format!("openv approve {pid} --keyfile \"$D/key\""));
    assert!(out.status.success(), "{}", text(&out));
    let r = answer_of(&mut m, id);
    assert_eq!(r["result"]["isError"], false, "{r}");
    m.call_ok("remove_local_env_file", json!({"mountPath": "."}));
    let transcript = m.transcript.clone().unwrap();
    m.close();
    let meta = std::fs::symlink_metadata(project.join(".env")).unwrap();
    assert!(
        meta.is_file() && meta.len() == 0,
        "the user's empty file is back after the unmount"
    );
    assert!(!transcript.contains(CANARY), "{transcript}");

    // OPENV_HOME inside the project (a session started in the user's home) is refused too.
    let mut m = test_user::mcp(&dir, &dir);
    for (tool, args) in [
        ("create_local_env_file", mount("h")),
        ("import_env_file", path("h/.env")),
        ("check_environment", path("h/logs")),
    ] {
        let (kind, msg) = refusal(&m.call(tool, args.clone()));
        assert_eq!(kind, "outside_project", "{tool}: {msg}");
        assert!(msg.contains("inside openv's own directory"), "{msg}");
    }
    m.close();

    // Nothing changed: files, .gitignore, the queue.
    assert_eq!(
        std::fs::read_to_string(project.join("main.py")).unwrap(),
        main_py
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(".ssh/id_ed25519")).unwrap(),
        CANARY
    );
    assert!(!dir.join(".ssh/.gitignore").exists());
    let gitignore = std::fs::read_to_string(project.join(".gitignore")).unwrap_or_default();
    assert!(!gitignore.contains("main.py"), "{gitignore}");
    assert_eq!(pending(&dir), json!([]));
}
