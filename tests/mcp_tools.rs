//! `openv mcp` in process: an rmcp client and the server over `tokio::io::duplex`,
//! against a real agent. Every tool, its happy path and its error paths; consent through
//! the real queue answered with the real CLI (`openv approve` / `openv deny` /
//! `openv var set`).
#![allow(clippy::unwrap_used)]

mod common;

use common::mcp::{self, CLIENT_NAME, Mcp, names};
use openv::names::{ENV_NAME_PATTERN, VAR_NAME_PATTERN};
use serde_json::{Value, json};

fn var<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed in {list}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn initialize_and_tools_list_describe_every_tool() {
    let m = Mcp::start("none").await;
    let info = m.client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "openv");
    let instructions = info.instructions.clone().unwrap();
    assert!(instructions.contains("request_variable_values"));
    assert!(
        instructions.contains("never ask the user to paste a secret")
            || instructions.contains("NEVER ask the user to paste a secret")
    );
    assert!(instructions.contains("create_local_env_file"));

    let tools = m.client.list_all_tools().await.unwrap();
    let listed: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(listed, common::MCP_TOOLS);
    for t in &tools {
        let a = t.annotations.as_ref().unwrap();
        let ro = a.read_only_hint.unwrap();
        assert_eq!(a.open_world_hint, Some(false), "{}", t.name);
        assert!(a.destructive_hint.is_some() && a.idempotent_hint.is_some());
        let read_only = t.name.starts_with("list_")
            || t.name.starts_with("get_")
            || t.name == "check_environment";
        assert_eq!(ro, read_only, "{}", t.name);
        let destructive = matches!(
            t.name.as_ref(),
            "delete_environment" | "remove_variables" | "import_env_file"
        );
        assert_eq!(a.destructive_hint, Some(destructive), "{}", t.name);
        let schema = Value::Object((*t.input_schema).clone());
        assert_eq!(schema["type"], "object", "{}", t.name);
        assert_eq!(schema["additionalProperties"], false, "{}", t.name);
        assert!(schema.get("title").is_none(), "{}", t.name);
        let s = schema.to_string();
        let props = schema["properties"].as_object().unwrap();
        if props.contains_key("environment") || t.name.ends_with("_environment") {
            assert!(s.contains(ENV_NAME_PATTERN), "{}: {s}", t.name);
        }
        if props.contains_key("names") || props.contains_key("variables") {
            assert!(s.contains(VAR_NAME_PATTERN), "{}: {s}", t.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn environments_create_list_rename_and_their_errors() {
    let m = Mcp::start("none").await;
    assert_eq!(
        m.ok("create_environment", json!({"name": "app-dev"})).await,
        json!({"created": "app-dev"})
    );
    let list = m.ok("list_environments", json!({})).await;
    let envs = list["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0]["name"], "app-dev");
    assert_eq!(envs[0]["variables"], 0);
    assert_eq!(envs[0]["mounts"], json!([]));

    let (kind, msg) = m
        .err("create_environment", json!({"name": "app-dev"}))
        .await;
    assert_eq!(kind, "exists", "{msg}");
    let (kind, msg) = m
        .err("create_environment", json!({"name": "bad name"}))
        .await;
    assert_eq!(kind, "invalid_input");
    assert!(msg.contains(ENV_NAME_PATTERN), "{msg}");
    m.err_kind("create_environment", json!({}), "invalid_input")
        .await;
    let (kind, msg) = m
        .err("create_environment", json!({"name": "x", "extra": 1}))
        .await;
    assert_eq!(kind, "invalid_input");
    assert!(msg.contains("unknown field `extra`"), "{msg}");

    m.ok(
        "rename_environment",
        json!({"name": "app-dev", "new_name": "app-stage"}),
    )
    .await;
    let (kind, msg) = m
        .err(
            "rename_environment",
            json!({"name": "app-dev", "new_name": "x"}),
        )
        .await;
    assert_eq!(kind, "not_found", "{msg}");
    m.err_kind(
        "rename_environment",
        json!({"name": "app-stage", "new_name": "../x"}),
        "invalid_input",
    )
    .await;
    let list = m.ok("list_environments", json!({})).await;
    assert_eq!(list["environments"][0]["name"], "app-stage");
    // The CLI sees the same.
    assert!(m.cli(&["env", "list"]).await.contains("app-stage"));
}

#[tokio::test(flavor = "multi_thread")]
async fn append_variables_placeholders_generated_and_agent_values() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    let r = m
        .ok(
            "append_variables",
            json!({"environment": "dev", "variables": [
                {"name": "DATABASE_URL"},
                {"name": "SESSION_SECRET", "generate": {"length": 64, "charset": "hex"}},
                {"name": "SIGNING_KEY", "generate": {}},
                {"name": "PUBLIC_URL", "value": "https://example.test"}
            ]}),
        )
        .await;
    assert_eq!(names(&r["declared"]), ["DATABASE_URL"]);
    assert_eq!(names(&r["generated"]), ["SESSION_SECRET", "SIGNING_KEY"]);
    assert_eq!(names(&r["stored"]), ["PUBLIC_URL"]);
    assert!(!r.to_string().contains("example.test"), "value echoed: {r}");

    let list = m.ok("list_variables", json!({"environment": "dev"})).await;
    assert_eq!(var(&list, "DATABASE_URL")["has_value"], false);
    assert_eq!(var(&list, "SESSION_SECRET")["source"], "generated");
    assert_eq!(var(&list, "SIGNING_KEY")["has_value"], true);
    assert_eq!(var(&list, "PUBLIC_URL")["source"], "agent");
    assert!(!list.to_string().contains("example.test"));

    // A value is never overwritten from MCP, and nothing in the batch is applied.
    let (kind, msg) = m
        .err(
            "append_variables",
            json!({"environment": "dev", "variables": [
                {"name": "NEW_ONE"}, {"name": "PUBLIC_URL", "value": "other"}
            ]}),
        )
        .await;
    assert_eq!(kind, "exists", "{msg}");
    assert!(
        msg.contains("PUBLIC_URL") && msg.contains("Nothing was changed"),
        "{msg}"
    );
    // A placeholder can be filled, and re-declaring a name is harmless.
    let r = m
        .ok(
            "append_variables",
            json!({"environment": "dev", "variables": [
                {"name": "DATABASE_URL", "generate": {"length": 16}}, {"name": "SIGNING_KEY"}
            ]}),
        )
        .await;
    assert_eq!(names(&r["already_declared"]), ["SIGNING_KEY"]);
    let list = m.ok("list_variables", json!({"environment": "dev"})).await;
    assert_eq!(list["variables"].as_array().unwrap().len(), 4, "{list}");
    assert_eq!(var(&list, "DATABASE_URL")["has_value"], true);

    // Argument errors: all or nothing, clear messages.
    for (args, needle) in [
        (
            json!({"environment": "dev", "variables": [{"name": "OK_1"}, {"name": "1BAD"}]}),
            "invalid variable name",
        ),
        (
            json!({"environment": "dev", "variables": [{"name": "A", "value": "x", "generate": {}}]}),
            "not both",
        ),
        (
            json!({"environment": "dev", "variables": [{"name": "A", "generate": {"length": 4}}]}),
            "8 to 256",
        ),
        (
            json!({"environment": "dev", "variables": [{"name": "A", "generate": {"charset": "emoji"}}]}),
            "unknown variant",
        ),
        (
            json!({"environment": "dev", "variables": [{"name": "A"}, {"name": "A"}]}),
            "listed twice",
        ),
        (
            json!({"environment": "dev", "variables": []}),
            "no variable names",
        ),
        (
            json!({"environment": "dev", "variables": [{"name": "A", "value": 42}]}),
            "must be a string",
        ),
        (
            json!({"environment": "dev", "variables": [{"name": "A", "value": "x".repeat(70_000)}]}),
            "64 KiB",
        ),
    ] {
        let (kind, msg) = m.err("append_variables", args).await;
        assert_eq!(kind, "invalid_input", "{msg}");
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    let list = m.ok("list_variables", json!({"environment": "dev"})).await;
    assert_eq!(
        list["variables"].as_array().unwrap().len(),
        4,
        "nothing half-applied: {list}"
    );

    m.err_kind(
        "append_variables",
        json!({"environment": "nope", "variables": [{"name": "A"}]}),
        "not_found",
    )
    .await;
    m.err_kind(
        "list_variables",
        json!({"environment": "nope"}),
        "not_found",
    )
    .await;
    m.err_kind(
        "list_variables",
        json!({"environment": "a/b"}),
        "invalid_input",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_vault_lists_and_declares_but_refuses_values_and_consent() {
    let m = Mcp::start("queue").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok(
        "append_variables",
        json!({"environment": "dev", "variables": [{"name": "A", "value": "1"}]}),
    )
    .await;
    m.cli(&["lock"]).await;

    m.ok("list_environments", json!({})).await;
    assert_eq!(
        var(
            &m.ok("list_variables", json!({"environment": "dev"})).await,
            "A"
        )["has_value"],
        true
    );
    m.ok(
        "append_variables",
        json!({"environment": "dev", "variables": [{"name": "PLACEHOLDER"}]}),
    )
    .await;
    m.ok("create_environment", json!({"name": "other"})).await;
    m.ok("list_local_env_files", json!({})).await;
    let sec = m.ok("get_security_status", json!({})).await;
    assert_eq!(sec["vault"]["locked"], true);

    let dotenv = m.project.path().join(".env");
    std::fs::write(&dotenv, "X=1\n").unwrap();
    for (tool, args) in [
        (
            "append_variables",
            json!({"environment": "dev", "variables": [{"name": "B", "value": "2"}]}),
        ),
        (
            "append_variables",
            json!({"environment": "dev", "variables": [{"name": "C", "generate": {}}]}),
        ),
        (
            "request_variable_values",
            json!({"environment": "dev", "names": ["PLACEHOLDER"]}),
        ),
        (
            "remove_variables",
            json!({"environment": "dev", "names": ["A"]}),
        ),
        ("delete_environment", json!({"name": "dev"})),
        (
            "import_env_file",
            json!({"environment": "dev", "path": "."}),
        ),
    ] {
        let (kind, msg) = m.err(tool, args).await;
        assert_eq!(kind, "locked", "{tool}: {msg}");
        assert!(
            msg.contains("vault locked: run `openv unlock`"),
            "{tool}: {msg}"
        );
    }
    // Nobody was asked while locked.
    assert_eq!(m.cli(&["pending", "--json"]).await.trim(), "[]");
    let health = m.ok("get_health_status", json!({})).await;
    let unlocked = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "vault_unlocked")
        .unwrap();
    assert_eq!(unlocked["ok"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_environment_waits_for_the_user_denied_then_approved() {
    let m = Mcp::start("queue").await;
    m.ok("create_environment", json!({"name": "doomed"})).await;
    m.ok(
        "append_variables",
        json!({"environment": "doomed", "variables": [{"name": "A"}, {"name": "B"}]}),
    )
    .await;
    m.err_kind(
        "delete_environment",
        json!({"name": "missing"}),
        "not_found",
    )
    .await;
    assert_eq!(
        m.cli(&["pending", "--json"]).await.trim(),
        "[]",
        "unknown env asks nobody"
    );

    let peer = m.peer();
    let call = tokio::spawn(async move {
        mcp::call(&peer, "delete_environment", json!({"name": "doomed"})).await
    });
    let (id, item) = m.pending().await;
    assert_eq!(item["kind"], "action");
    let action = item["action"].as_str().unwrap();
    assert!(
        action.contains("delete environment \"doomed\" and its 2 variables"),
        "{item}"
    );
    assert!(
        item["text"].as_str().unwrap().contains(CLIENT_NAME),
        "{item}"
    );
    m.cli(&["deny", &id.to_string()]).await;
    let (kind, msg) = mcp::err(call.await.unwrap());
    assert_eq!(kind, "denied", "{msg}");
    assert!(
        m.cli(&["env", "list"]).await.contains("doomed"),
        "nothing deleted"
    );

    let peer = m.peer();
    let call = tokio::spawn(async move {
        mcp::call(&peer, "delete_environment", json!({"name": "doomed"})).await
    });
    let (id, _) = m.pending().await;
    m.cli(&["approve", &id.to_string()]).await;
    let r = mcp::ok(call.await.unwrap());
    assert_eq!(r, json!({"deleted": "doomed", "variables": 2}));
    assert!(!m.cli(&["env", "list"]).await.contains("doomed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_variables_waits_for_the_user_denied_then_approved() {
    let m = Mcp::start("queue").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok("append_variables", json!({"environment": "dev", "variables": [{"name": "KEEP"}, {"name": "GO_1"}, {"name": "GO_2"}]})).await;
    let (kind, msg) = m
        .err(
            "remove_variables",
            json!({"environment": "dev", "names": ["GO_1", "NOPE"]}),
        )
        .await;
    assert_eq!(kind, "not_found");
    assert!(
        msg.contains("NOPE") && msg.contains("nothing was removed"),
        "{msg}"
    );
    m.err_kind(
        "remove_variables",
        json!({"environment": "dev", "names": []}),
        "invalid_input",
    )
    .await;

    let peer = m.peer();
    let call = tokio::spawn(async move {
        mcp::call(
            &peer,
            "remove_variables",
            json!({"environment": "dev", "names": ["GO_1", "GO_2"]}),
        )
        .await
    });
    let (id, item) = m.pending().await;
    assert!(
        item["action"]
            .as_str()
            .unwrap()
            .contains("remove variables GO_1, GO_2 from environment \"dev\""),
        "{item}"
    );
    m.cli(&["deny", &id.to_string()]).await;
    assert_eq!(mcp::err(call.await.unwrap()).0, "denied");
    assert_eq!(
        m.ok("list_variables", json!({"environment": "dev"})).await["variables"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let peer = m.peer();
    let call = tokio::spawn(async move {
        mcp::call(
            &peer,
            "remove_variables",
            json!({"environment": "dev", "names": ["GO_1", "GO_2"]}),
        )
        .await
    });
    let (id, _) = m.pending().await;
    m.cli(&["approve", &id.to_string()]).await;
    let r = mcp::ok(call.await.unwrap());
    assert_eq!(names(&r["removed"]), ["GO_1", "GO_2"]);
    let list = m.ok("list_variables", json!({"environment": "dev"})).await;
    assert_eq!(list["variables"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_variable_values_is_answered_by_openv_var_set() {
    let m = Mcp::start("queue").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok(
        "append_variables",
        json!({"environment": "dev", "variables": [{"name": "API_KEY"}, {"name": "DB_PASS"}]}),
    )
    .await;

    let peer = m.peer();
    let call = tokio::spawn(async move {
        mcp::call(
            &peer,
            "request_variable_values",
            json!({"environment": "dev", "names": ["API_KEY", "DB_PASS"], "timeout_secs": 60}),
        )
        .await
    });
    let (_, item) = m.pending().await;
    assert_eq!(item["kind"], "values");
    assert_eq!(names(&item["names"]), ["API_KEY", "DB_PASS"]);
    m.cli_stdin(
        &["var", "set", "-e", "dev", "API_KEY"],
        "typed-by-the-user-1",
    )
    .await;
    m.cli_stdin(
        &["var", "set", "-e", "dev", "DB_PASS"],
        "typed-by-the-user-2",
    )
    .await;
    let r = mcp::ok(call.await.unwrap());
    assert_eq!(names(&r["set"]), ["API_KEY", "DB_PASS"]);
    assert_eq!(r["not_set"], json!([]));
    assert!(!r.to_string().contains("typed-by-the-user"));
    let list = m.ok("list_variables", json!({"environment": "dev"})).await;
    assert_eq!(var(&list, "API_KEY")["source"], "cli");

    // Declined: the user denies the request.
    let peer = m.peer();
    let call = tokio::spawn(async move {
        mcp::call(
            &peer,
            "request_variable_values",
            json!({"environment": "dev", "names": ["OTHER"]}),
        )
        .await
    });
    let (id, _) = m.pending().await;
    m.cli(&["deny", &id.to_string()]).await;
    let (kind, msg) = mcp::err(call.await.unwrap());
    assert_eq!(kind, "denied", "{msg}");

    // Timed out: answered with what is (not) set.
    let r = m
        .ok(
            "request_variable_values",
            json!({"environment": "dev", "names": ["LATER"], "timeout_secs": 5}),
        )
        .await;
    assert_eq!(names(&r["not_set"]), ["LATER"]);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("openv var set -e dev NAME")
    );

    for args in [
        json!({"environment": "dev", "names": ["bad-name"]}),
        json!({"environment": "dev", "names": ["A"], "timeout_secs": 1}),
        json!({"environment": "dev"}),
    ] {
        assert_eq!(
            m.err("request_variable_values", args).await.0,
            "invalid_input"
        );
    }
    assert_eq!(
        m.err(
            "request_variable_values",
            json!({"environment": "nope", "names": ["A"]})
        )
        .await
        .0,
        "not_found"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn local_env_files_are_created_listed_and_removed() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok(
        "append_variables",
        json!({"environment": "dev", "variables": [{"name": "A", "value": "1"}]}),
    )
    .await;
    let dir = m.project.path().canonicalize().unwrap();

    // FIFO mode works everywhere; FUSE is covered by the mount tests.
    let r = m
        .ok(
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": ".", "mode": "fifo"}),
        )
        .await;
    let path = dir.join(".env").display().to_string();
    assert_eq!(r["path"], path.as_str());
    assert_eq!(r["mode"], "fifo");
    let files = m.ok("list_local_env_files", json!({})).await;
    assert_eq!(files["files"][0]["path"], path.as_str());
    assert_eq!(files["files"][0]["environment"], "dev");
    let envs = m.ok("list_environments", json!({})).await;
    assert_eq!(envs["environments"][0]["mounts"][0]["path"], path.as_str());
    let (kind, msg) = m
        .err(
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": "."}),
        )
        .await;
    assert_eq!(kind, "mount", "{msg}");
    // A second file by its path, relative to the project.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let r = m
        .ok(
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": "sub/.env.app", "mode": "fifo"}),
        )
        .await;
    assert_eq!(
        r["path"],
        dir.join("sub/.env.app").display().to_string().as_str()
    );

    let r = m
        .ok("remove_local_env_file", json!({"mountPath": "."}))
        .await;
    assert_eq!(r["removed"], path.as_str());
    m.ok(
        "remove_local_env_file",
        json!({"mountPath": dir.join("sub/.env.app").display().to_string()}),
    )
    .await;
    assert_eq!(
        m.ok("list_local_env_files", json!({})).await["files"],
        json!([])
    );

    for (tool, args, want) in [
        (
            "create_local_env_file",
            json!({"environment": "nope", "mountPath": ".", "mode": "fifo"}),
            "not_found",
        ),
        (
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": "missing/dir/.env"}),
            "invalid_input",
        ),
        (
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": ".", "mode": "tmpfs"}),
            "invalid_input",
        ),
        (
            "create_local_env_file",
            json!({"environment": "dev"}),
            "invalid_input",
        ),
        ("remove_local_env_file", json!({"mountPath": "."}), "mount"),
        (
            "remove_local_env_file",
            json!({"mountPath": ""}),
            "invalid_input",
        ),
    ] {
        let (kind, msg) = m.err(tool, args).await;
        assert!(
            kind == want || (want == "mount" && kind == "not_found"),
            "{tool}: {kind} {msg}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn import_env_file_returns_names_only_and_replacing_asks_the_user() {
    let m = Mcp::start("none").await;
    let dir = m.project.path();
    std::fs::write(
        dir.join(".env.plain"),
        "IMPORTED_A=import-canary-a\nIMPORTED_B=\"import canary b\"\n",
    )
    .unwrap();
    let r = m
        .ok(
            "import_env_file",
            json!({"environment": "imported", "path": ".env.plain"}),
        )
        .await;
    assert_eq!(names(&r["imported"]), ["IMPORTED_A", "IMPORTED_B"]);
    assert!(!r.to_string().contains("import-canary"), "{r}");
    assert!(r["note"].as_str().unwrap().contains("plaintext"));
    assert!(
        dir.join(".env.plain").exists(),
        "left in place without replace_with_mount"
    );
    let list = m
        .ok("list_variables", json!({"environment": "imported"}))
        .await;
    assert_eq!(var(&list, "IMPORTED_A")["source"], "import");

    // A parse error names the line, never its text.
    std::fs::write(
        dir.join(".env.broken"),
        "OK=1\nthis line holds import-canary-c and no equals\n",
    )
    .unwrap();
    let (_, msg) = m
        .err(
            "import_env_file",
            json!({"environment": "imported", "path": ".env.broken"}),
        )
        .await;
    assert!(
        msg.contains("line 2") && !msg.contains("import-canary"),
        "{msg}"
    );
    m.err_kind(
        "import_env_file",
        json!({"environment": "imported", "path": ".env.missing"}),
        "invalid_input",
    )
    .await;
    m.err_kind(
        "import_env_file",
        json!({"environment": "bad env", "path": ".env.plain"}),
        "invalid_input",
    )
    .await;

    // replace_with_mount asks the user first (tests/mcp_confine.rs answers it); with
    // nobody to ask it is refused and the file stays.
    std::fs::write(dir.join(".env"), "REPLACED=replace-canary\n").unwrap();
    m.err_kind(
        "import_env_file",
        json!({"environment": "replaced", "path": ".", "replace_with_mount": true}),
        "denied",
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).unwrap(),
        "REPLACED=replace-canary\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_environment_finds_missing_unset_and_unused_names() {
    let m = Mcp::start("none").await;
    let dir = m.project.path();
    std::fs::write(
        dir.join(".env.example"),
        "DATABASE_URL=postgres://example\nAPI_KEY=\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    environment:\n      - REDIS_URL=redis://cache\n      SENTRY_DSN: ${SENTRY_DSN}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/app.js"), "const k = process.env.API_KEY;\nconst p = process.env.PORT_NUMBER;\nif (process.env.NODE_ENV) {}\n").unwrap();
    std::fs::write(
        dir.join("src/main.py"),
        "import os\nx = os.environ[\"PY_SETTING\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("node_modules/dep")).unwrap();
    std::fs::write(
        dir.join("node_modules/dep/index.js"),
        "process.env.FROM_A_DEPENDENCY",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "NOT_READ=secret\n").unwrap();

    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok("append_variables", json!({"environment": "dev", "variables": [
        {"name": "DATABASE_URL", "value": "x"}, {"name": "API_KEY"}, {"name": "LEFTOVER", "value": "y"}
    ]})).await;
    let r = m
        .ok(
            "check_environment",
            json!({"environment": "dev", "path": "."}),
        )
        .await;
    assert_eq!(
        names(&r["missing"]),
        ["PORT_NUMBER", "PY_SETTING", "REDIS_URL", "SENTRY_DSN"],
        "{r}"
    );
    assert_eq!(r["missing_where"]["PORT_NUMBER"], json!(["src/app.js:2"]));
    assert_eq!(names(&r["unset"]), ["API_KEY"]);
    assert_eq!(names(&r["unused"]), ["LEFTOVER"]);
    assert_eq!(names(&r["ambient_not_counted"]), ["NODE_ENV"]);
    assert!(!r.to_string().contains("NOT_READ") && !r.to_string().contains("FROM_A_DEPENDENCY"));

    m.err_kind(
        "check_environment",
        json!({"environment": "dev", "path": "no/such/dir"}),
        "invalid_input",
    )
    .await;
    m.err_kind(
        "check_environment",
        json!({"environment": "nope", "path": "."}),
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_environment_names_the_readers_that_cannot_read_a_value() {
    const CANARY: &str = "CANARY-77ad01-VALUE";
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok(
        "append_variables",
        json!({"environment": "dev", "variables": [
            {"name": "PLAIN", "value": format!("{CANARY} plain")},
            {"name": "MULTI", "value": format!("{CANARY}\\n$HOME\nsecond line")},
            {"name": "WITH_CR", "value": format!("{CANARY}\rx")},
        ]}),
    )
    .await;
    let r = m
        .ok(
            "check_environment",
            json!({"environment": "dev", "path": "."}),
        )
        .await;
    assert_eq!(r["readers_checked"], true, "{r}");
    let unreadable = r["unreadable_by"].as_object().unwrap();
    assert_eq!(
        unreadable.keys().collect::<Vec<_>>(),
        ["MULTI", "WITH_CR"],
        "{r}"
    );
    assert!(
        names(&r["unreadable_by"]["MULTI"]).contains(&"direnv".to_owned()),
        "{r}"
    );
    assert!(
        names(&r["unreadable_by"]["WITH_CR"]).contains(&"node".to_owned()),
        "{r}"
    );
    assert!(!r.to_string().contains(CANARY), "value in the answer: {r}");

    // Locked: the answer says it could not check rather than that all is readable.
    m.cli(&["lock"]).await;
    let r = m
        .ok(
            "check_environment",
            json!({"environment": "dev", "path": "."}),
        )
        .await;
    assert_eq!(r["readers_checked"], false, "{r}");
    assert_eq!(r["unreadable_by"], json!({}), "{r}");
    let audit = m.audit_file();
    assert!(!serde_json::to_string(&audit).unwrap().contains(CANARY));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_security_and_audit_log() {
    let m = Mcp::start("queue").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.ok("append_variables", json!({"environment": "dev", "variables": [{"name": "AUDITED_NAME", "value": "audit-canary"}]})).await;
    m.err("list_variables", json!({"environment": "nope"}))
        .await;

    let h = m.ok("get_health_status", json!({})).await;
    assert_eq!(h["healthy"], true, "{h}");
    let checks: Vec<&str> = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "agent",
            "vault_present",
            "vault_unlocked",
            "audit_log",
            "fuse"
        ]
    );
    assert!(
        h["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ms"].as_f64().is_some())
    );

    let metrics = m.ok("get_metrics", json!({})).await;
    assert_eq!(metrics["client"], CLIENT_NAME);
    assert_eq!(metrics["tools"]["list_variables"]["errors"], 1);
    assert_eq!(metrics["tools"]["append_variables"]["calls"], 1);
    assert!(
        metrics["tools"]["append_variables"]["p99_ms"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let s = m.ok("get_security_status", json!({})).await;
    assert_eq!(s["vault"]["locked"], false);
    assert_eq!(s["vault"]["file"]["mode"], "0600");
    assert_eq!(s["vault"]["file"]["private"], true);
    assert_eq!(s["prompter"], "queue");
    assert_eq!(s["pending_requests"], json!([]));

    let log = m
        .ok("get_audit_log", json!({"environment": "dev", "limit": 10}))
        .await;
    let entries = log["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["kind"] == "mcp_call"
            && e["rule"] == "append_variables"
            && e["names"] == json!(["AUDITED_NAME"])
            && e["client"] == CLIENT_NAME),
        "{log}"
    );
    assert!(!log.to_string().contains("audit-canary"));
    assert_eq!(
        m.err("get_audit_log", json!({"limit": 0})).await.0,
        "invalid_input"
    );
    assert_eq!(
        m.err("get_metrics", json!({"x": 1})).await.0,
        "invalid_input"
    );

    // Every call so far is in the audit log, failures as denied with their correlation id.
    let audit = m.audit_mcp().await;
    let failed = audit
        .iter()
        .find(|r| r["rule"] == "list_variables" && r["decision"] == "denied")
        .unwrap();
    assert!(
        failed["detail"].as_str().unwrap().contains("cid "),
        "{failed}"
    );
    assert_eq!(failed["env"], "nope");
    let tools: Vec<&str> = audit.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    for t in [
        "create_environment",
        "append_variables",
        "list_variables",
        "get_health_status",
        "get_metrics",
        "get_security_status",
        "get_audit_log",
    ] {
        assert!(tools.contains(&t), "{t} not audited: {tools:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tools_and_malformed_arguments_are_tool_errors() {
    let m = Mcp::start("none").await;
    let (kind, msg) = m.err("read_secret_values", json!({})).await;
    assert_eq!(kind, "invalid_input");
    assert!(msg.contains("no tool named"), "{msg}");
    for args in [
        json!({"environment": 5}),
        json!({"environment": null}),
        json!({"environment": ["a"]}),
        json!({"environment": "x", "y": 1}),
    ] {
        assert_eq!(m.err("list_variables", args).await.0, "invalid_input");
    }
    let metrics = m.ok("get_metrics", json!({})).await;
    assert_eq!(metrics["tools"]["unknown_tool"]["errors"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_refuses_with_a_retry_time() {
    let m = Mcp::start_with("none", 5).await;
    for _ in 0..5 {
        m.ok("list_environments", json!({})).await;
    }
    let r = m.call("list_environments", json!({})).await;
    let retry = r.structured_content.as_ref().unwrap()["error"]["retry_after_secs"]
        .as_u64()
        .unwrap();
    let (kind, msg) = mcp::err(r);
    assert_eq!(kind, "rate_limited");
    assert!(
        msg.contains("more than 5 calls in a minute") && msg.contains(CLIENT_NAME),
        "{msg}"
    );
    assert!((1..=12).contains(&retry), "{retry}");
    // A run of refusals is audited once.
    m.err("list_environments", json!({})).await;
    // (get_audit_log would be refused too: read the file once the record is in.)
    let refused = || {
        m.audit_file()
            .into_iter()
            .filter(|r| r["decision"] == "denied")
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while refused() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(refused(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_survives_an_agent_restart() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    m.cli(&["agent", "restart"]).await;
    // The kept connection is dead: a request that could not be written is sent again on
    // a new one, even one that is not safe to repeat (the vault is locked now).
    m.ok("create_environment", json!({"name": "after-restart"}))
        .await;
    m.cli(&["agent", "restart"]).await;
    let list = m.ok("list_environments", json!({})).await;
    let names: Vec<&str> = list["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["after-restart", "dev"]);
    m.ok("list_variables", json!({"environment": "dev"})).await;
    // No audit record was lost across the restarts.
    let audited: Vec<String> = m
        .audit_mcp()
        .await
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect();
    for tool in ["create_environment", "list_environments", "list_variables"] {
        assert!(audited.iter().any(|t| t == tool), "{tool}: {audited:?}");
    }
    assert_eq!(
        audited
            .iter()
            .filter(|t| *t == "create_environment")
            .count(),
        2,
        "{audited:?}"
    );
}
