//! MCP tools stay in the project (issue 11, rows 6 and 7): paths outside the project, in
//! OPENV_HOME or through a symlink that leaves it are refused; mounts and imports take
//! `.env` names only; mounting over a file that is there, and replacing a plaintext file,
//! wait for the user (`openv approve`). Each refusal says what the user can run, changes
//! nothing (files, `.gitignore`, the vault, the queue) and never shows a canary.
#![allow(clippy::unwrap_used)]
// MCP roots are deprecated by SEP-2577 in the spec's next revision; clients send them today.
#![allow(deprecated)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::mcp::{self, CLIENT_NAME, Mcp, names};
use rmcp::model::{
    ClientCapabilities, ClientConfig, ErrorData, Implementation, ListRootsResult, Root,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

const CANARY: &str = "confine-canary-5f3a";

fn git_init(dir: &Path) {
    let ok = Command::new("git")
        .args(["init", "-q"])
        .arg(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git init");
}

/// Asserts the refusal: its kind, that it names what the user must run, no canary.
#[track_caller]
fn refused(kind: &str, msg: &str, want_kind: &str, human: &str) {
    assert_eq!(kind, want_kind, "{msg}");
    assert!(msg.contains(human), "should say `{human}`: {msg}");
    assert!(!msg.contains(CANARY), "{msg}");
}

async fn nothing_pending(m: &Mcp) {
    assert_eq!(m.cli(&["pending", "--json"]).await.trim(), "[]");
}

#[tokio::test(flavor = "multi_thread")]
async fn row6_replace_with_mount_on_a_script_is_refused_and_the_file_stays() {
    let m = Mcp::start("queue").await;
    let dir = m.project.path();
    git_init(dir);
    let script = format!("#!/bin/sh\nexport TOKEN={CANARY}\n");
    std::fs::write(dir.join("settings.sh"), &script).unwrap();
    let (kind, msg) = m
        .err(
            "import_env_file",
            json!({"environment": "dev", "path": "settings.sh", "replace_with_mount": true}),
        )
        .await;
    refused(&kind, &msg, "invalid_input", "openv mount --import -e dev");
    assert!(msg.contains("not a .env file"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(dir.join("settings.sh")).unwrap(),
        script
    );
    assert!(!dir.join(".gitignore").exists());
    nothing_pending(&m).await;
    assert_eq!(
        m.ok("list_environments", json!({})).await["environments"],
        json!([])
    );
    assert_eq!(
        m.ok("list_local_env_files", json!({})).await["files"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_with_mount_waits_for_the_user_denied_then_approved() {
    let m = Mcp::start("queue").await;
    let dir = m.project.path();
    let plain = format!("REPLACED={CANARY}\n");
    std::fs::write(dir.join(".env"), &plain).unwrap();
    let args = json!({"environment": "replaced", "path": ".", "replace_with_mount": true});

    let peer = m.peer();
    let a = args.clone();
    let call = tokio::spawn(async move { mcp::call(&peer, "import_env_file", a).await });
    let (id, item) = m.pending().await;
    assert_eq!(item["kind"], "action");
    let action = item["action"].as_str().unwrap();
    assert!(
        action.contains("delete that plaintext file") && action.contains(".env"),
        "{item}"
    );
    assert!(item["text"].as_str().unwrap().contains(CLIENT_NAME));
    m.cli(&["deny", &id.to_string()]).await;
    let (kind, msg) = mcp::err(call.await.unwrap());
    assert_eq!(kind, "denied", "{msg}");
    assert_eq!(std::fs::read_to_string(dir.join(".env")).unwrap(), plain);
    assert_eq!(
        m.ok("list_environments", json!({})).await["environments"],
        json!([]),
        "nothing imported"
    );

    let peer = m.peer();
    let call = tokio::spawn(async move { mcp::call(&peer, "import_env_file", args).await });
    let (id, _) = m.pending().await;
    m.cli(&["approve", &id.to_string()]).await;
    let r = mcp::ok(call.await.unwrap());
    assert_eq!(names(&r["imported"]), ["REPLACED"]);
    assert!(!r.to_string().contains(CANARY), "{r}");
    let files = m.ok("list_local_env_files", json!({})).await;
    assert_eq!(files["files"][0]["environment"], "replaced");
    m.ok("remove_local_env_file", json!({"mountPath": "."}))
        .await;
    // The plaintext is in the vault now, not back on disk.
    let left = std::fs::read_to_string(dir.join(".env")).unwrap_or_default();
    assert!(!left.contains(CANARY), "{left}");
}

#[tokio::test(flavor = "multi_thread")]
async fn row7_mounting_over_an_empty_file_waits_for_the_user_and_the_file_survives() {
    let m = Mcp::start("queue").await;
    let dir = m.project.path();
    m.ok("create_environment", json!({"name": "dev"})).await;
    std::fs::write(dir.join(".env"), "").unwrap();
    let args = json!({"environment": "dev", "mountPath": ".", "mode": "fifo"});

    let peer = m.peer();
    let a = args.clone();
    let call = tokio::spawn(async move { mcp::call(&peer, "create_local_env_file", a).await });
    let (id, item) = m.pending().await;
    assert!(
        item["action"]
            .as_str()
            .unwrap()
            .contains("in place of the file there now"),
        "{item}"
    );
    m.cli(&["deny", &id.to_string()]).await;
    let (kind, msg) = mcp::err(call.await.unwrap());
    assert_eq!(kind, "denied", "{msg}");
    let meta = std::fs::symlink_metadata(dir.join(".env")).unwrap();
    assert!(
        meta.is_file() && meta.len() == 0,
        "the empty file is untouched"
    );
    assert_eq!(
        m.ok("list_local_env_files", json!({})).await["files"],
        json!([])
    );

    let peer = m.peer();
    let call = tokio::spawn(async move { mcp::call(&peer, "create_local_env_file", args).await });
    let (id, _) = m.pending().await;
    m.cli(&["approve", &id.to_string()]).await;
    let r = mcp::ok(call.await.unwrap());
    assert_eq!(r["mode"], "fifo");
    m.ok("remove_local_env_file", json!({"mountPath": "."}))
        .await;
    let meta = std::fs::symlink_metadata(dir.join(".env")).unwrap();
    assert!(
        meta.is_file() && meta.len() == 0,
        "the user's empty file is back after the unmount"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn row7_project_files_and_paths_outside_the_project_are_refused() {
    let m = Mcp::start("queue").await;
    let dir = m.project.path();
    git_init(dir);
    m.ok("create_environment", json!({"name": "dev"})).await;
    let main_py = format!("print('{CANARY}')\n");
    std::fs::write(dir.join("main.py"), &main_py).unwrap();
    // A home-like directory outside the project, with a key in `.ssh`.
    let outside = tempfile::Builder::new().prefix("home").tempdir().unwrap();
    let ssh = outside.path().join(".ssh");
    std::fs::create_dir(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), CANARY).unwrap();
    std::fs::write(ssh.join(".env"), format!("KEY={CANARY}\n")).unwrap();
    // Symlinks inside the project that lead out of it.
    std::os::unix::fs::symlink(ssh.join(".env"), dir.join(".env.shared")).unwrap();
    std::os::unix::fs::symlink(ssh.join("new"), dir.join(".env.dangling")).unwrap();
    std::os::unix::fs::symlink(&ssh, dir.join("keys")).unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
    let ssh_env = ssh.join(".env").display().to_string();
    let ssh_key = ssh.join("id_ed25519").display().to_string();
    let ssh_dir = ssh.display().to_string();

    let mount = |p: &str| json!({"environment": "dev", "mountPath": p, "mode": "fifo"});
    let import = |p: &str| json!({"environment": "dev", "path": p});
    let check = |p: &str| json!({"environment": "dev", "path": p});
    let how_mount = "they run `openv mount -e dev";
    let how_import = "they run `openv import -e dev";
    let how_check = "the user starts openv mcp in it";
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "create_local_env_file",
            mount("main.py"),
            "invalid_input",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount("settings.sh"),
            "invalid_input",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount(".envrc"),
            "invalid_input",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount(&ssh_dir),
            "outside_project",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount("/etc/.env"),
            "outside_project",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount("../.env"),
            "outside_project",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount(".env.shared"),
            "outside_project",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount(".env.dangling"),
            "outside_project",
            how_mount,
        ),
        (
            "create_local_env_file",
            mount("keys"),
            "outside_project",
            how_mount,
        ),
        (
            "import_env_file",
            import("main.py"),
            "invalid_input",
            how_import,
        ),
        (
            "import_env_file",
            import(&ssh_env),
            "outside_project",
            how_import,
        ),
        (
            "import_env_file",
            import(&ssh_key),
            "outside_project",
            how_import,
        ),
        (
            "import_env_file",
            import("/etc/passwd"),
            "outside_project",
            how_import,
        ),
        (
            "import_env_file",
            import(".env.shared"),
            "outside_project",
            how_import,
        ),
        (
            "import_env_file",
            import("keys/.env"),
            "outside_project",
            how_import,
        ),
        (
            "check_environment",
            check(&ssh_dir),
            "outside_project",
            how_check,
        ),
        (
            "check_environment",
            check("/etc"),
            "outside_project",
            how_check,
        ),
        (
            "check_environment",
            check("etc"),
            "outside_project",
            how_check,
        ),
        (
            "check_environment",
            check("keys"),
            "outside_project",
            how_check,
        ),
        (
            "check_environment",
            check(".."),
            "outside_project",
            how_check,
        ),
        (
            "remove_local_env_file",
            json!({"mountPath": "/etc"}),
            "outside_project",
            "they run `openv unmount",
        ),
    ];
    for (tool, args, kind, human) in cases {
        let (got, msg) = m.err(tool, args.clone()).await;
        assert_eq!(got, kind, "{tool} {args}: {msg}");
        refused(&got, &msg, kind, human);
    }
    let (_, msg) = m.err("check_environment", check("etc")).await;
    assert!(msg.contains("resolves to /etc"), "{msg}");
    let (_, msg) = m.err("import_env_file", import("keys/.env")).await;
    assert!(
        msg.contains(&format!(
            "/keys/.env (it resolves to {}",
            ssh.canonicalize().unwrap().join(".env").display()
        )),
        "{msg}"
    );
    let (_, msg) = m.err("import_env_file", import(".env.shared")).await;
    assert!(msg.contains("symlink that leaves the project"), "{msg}");

    // Nothing changed: files, .gitignore, the vault, the queue, the mounts.
    assert_eq!(
        std::fs::read_to_string(dir.join("main.py")).unwrap(),
        main_py
    );
    assert_eq!(
        std::fs::read_to_string(ssh.join("id_ed25519")).unwrap(),
        CANARY
    );
    assert_eq!(
        std::fs::read_to_string(ssh.join(".env")).unwrap(),
        format!("KEY={CANARY}\n")
    );
    assert!(!ssh.join("new").exists());
    assert!(!dir.join(".gitignore").exists(), ".gitignore untouched");
    nothing_pending(&m).await;
    assert_eq!(
        m.ok("list_variables", json!({"environment": "dev"})).await["variables"],
        json!([])
    );
    assert_eq!(
        m.ok("list_local_env_files", json!({})).await["files"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn row7_openv_home_is_refused_even_inside_the_project() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    // A session whose project holds OPENV_HOME (the throwaway home's parent).
    let client = mcp::connect(&m.o, m.o.dir.path(), 0).await;
    let peer = client.peer().clone();
    let home = m.o.home.canonicalize().unwrap();
    for (tool, args) in [
        (
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": "h", "mode": "fifo"}),
        ),
        (
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": home.join(".env.local").display().to_string()}),
        ),
        (
            "import_env_file",
            json!({"environment": "dev", "path": "h/.env"}),
        ),
        (
            "check_environment",
            json!({"environment": "dev", "path": "h/logs"}),
        ),
    ] {
        let (kind, msg) = mcp::err(mcp::call(&peer, tool, args).await);
        assert_eq!(kind, "outside_project", "{tool}: {msg}");
        assert!(msg.contains("inside openv's own directory"), "{msg}");
        assert!(msg.contains("use a path in the project"), "{msg}");
    }
    let entries: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !entries.iter().any(|e| e.starts_with(".env")),
        "{entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn env_files_in_the_project_still_work() {
    let m = Mcp::start("none").await;
    let dir = m.project.path();
    let real = dir.canonicalize().unwrap();
    git_init(dir);
    m.ok("create_environment", json!({"name": "dev"})).await;
    for (mount_path, file) in [(".", ".env"), (".env.local", ".env.local")] {
        let r = m
            .ok(
                "create_local_env_file",
                json!({"environment": "dev", "mountPath": mount_path, "mode": "fifo"}),
            )
            .await;
        assert_eq!(r["path"], real.join(file).display().to_string().as_str());
    }
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == ".env") && ignore.lines().any(|l| l == ".env.local"),
        "{ignore}"
    );
    m.ok("remove_local_env_file", json!({"mountPath": "."}))
        .await;
    m.ok("remove_local_env_file", json!({"mountPath": ".env.local"}))
        .await;
    assert!(!dir.join(".env").exists() && !dir.join(".env.local").exists());

    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/.env.production"), format!("P={CANARY}\n")).unwrap();
    let r = m
        .ok(
            "import_env_file",
            json!({"environment": "prod", "path": "sub/.env.production"}),
        )
        .await;
    assert_eq!(names(&r["imported"]), ["P"]);
    // A symlink that stays in the project is followed.
    std::os::unix::fs::symlink("sub", dir.join("app")).unwrap();
    let r = m
        .ok(
            "check_environment",
            json!({"environment": "dev", "path": "app"}),
        )
        .await;
    assert_eq!(r["path"], real.join("sub").display().to_string().as_str());
    let r = m
        .ok("check_environment", json!({"environment": "dev"}))
        .await;
    assert_eq!(r["path"], real.display().to_string().as_str());
}

/// A client that offers the given roots (as Claude Code and VS Code do), or, with
/// `None`, does not offer roots at all.
#[derive(Clone)]
struct WithRoots(Option<Arc<Mutex<Vec<String>>>>);

impl ClientHandler for WithRoots {
    fn get_info(&self) -> ClientConfig {
        let caps = match self.0 {
            Some(_) => ClientCapabilities::builder().enable_roots().build(),
            None => ClientCapabilities::default(),
        };
        ClientConfig::new(caps, Implementation::new(CLIENT_NAME, "1.0"))
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(ListRootsResult::new(
            self.0
                .iter()
                .flat_map(|r| r.lock().unwrap().clone())
                .map(Root::new)
                .collect(),
        ))
    }
}

async fn session_in(
    m: &Mcp,
    cwd: &Path,
    roots: Option<Vec<String>>,
) -> RunningService<RoleClient, WithRoots> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = openv::mcp::OpenvMcp::new(
        openv::paths::Home::at(m.o.home.clone()),
        openv::mcp::Options::new(cwd.to_path_buf()),
    );
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    WithRoots(roots.map(|r| Arc::new(Mutex::new(r))))
        .serve(client_io)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clients_roots_are_the_project_when_openv_mcp_runs_in_no_project() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    let real = m.project.path().canonicalize().unwrap();
    let uri = format!("file://{}", real.display());

    // Started in `/` (as desktop clients do) by a client that sends its roots.
    let s = session_in(&m, Path::new("/"), Some(vec![uri])).await;
    let peer = s.peer().clone();
    let r = mcp::ok(
        mcp::call(
            &peer,
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": ".", "mode": "fifo"}),
        )
        .await,
    );
    assert_eq!(r["path"], real.join(".env").display().to_string().as_str());
    mcp::ok(mcp::call(&peer, "remove_local_env_file", json!({"mountPath": "."})).await);
    let r = mcp::ok(mcp::call(&peer, "check_environment", json!({"environment": "dev"})).await);
    assert_eq!(r["path"], real.display().to_string().as_str());
    let (kind, msg) = mcp::err(
        mcp::call(
            &peer,
            "check_environment",
            json!({"environment": "dev", "path": "/etc"}),
        )
        .await,
    );
    assert_eq!(kind, "outside_project", "{msg}");
    assert!(msg.contains(&real.display().to_string()), "{msg}");

    // Started in `/` by a client without roots: no project, every path refused.
    let s = session_in(&m, Path::new("/"), None).await;
    let (kind, msg) = mcp::err(
        mcp::call(
            &s.peer().clone(),
            "create_local_env_file",
            json!({"environment": "dev", "mountPath": real.display().to_string()}),
        )
        .await,
    );
    assert_eq!(kind, "outside_project", "{msg}");
    assert!(msg.contains("no project directory"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn roots_the_client_changes_are_asked_for_again() {
    let m = Mcp::start("none").await;
    m.ok("create_environment", json!({"name": "dev"})).await;
    let first = m.project.path().canonicalize().unwrap();
    let second_dir = tempfile::Builder::new().prefix("proj").tempdir().unwrap();
    let second = second_dir.path().canonicalize().unwrap();
    let uri = |p: &Path| format!("file://{}", p.display());

    let s = session_in(&m, Path::new("/"), Some(vec![uri(&first)])).await;
    let peer = s.peer().clone();
    let check = |p: &Path| json!({"environment": "dev", "path": p.display().to_string()});
    mcp::ok(mcp::call(&peer, "check_environment", check(&first)).await);
    let (kind, _) = mcp::err(mcp::call(&peer, "check_environment", check(&second)).await);
    assert_eq!(kind, "outside_project");

    // The client now works in the second project only.
    *s.service().0.as_ref().unwrap().lock().unwrap() = vec![uri(&second)];
    peer.notify_roots_list_changed().await.unwrap();
    // The notification and the next call may be handled in either order: retry a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = mcp::call(&peer, "check_environment", check(&second)).await;
        if r.is_error == Some(false) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new roots never used: {}",
            mcp::text(&r)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (kind, _) = mcp::err(mcp::call(&peer, "check_environment", check(&first)).await);
    assert_eq!(
        kind, "outside_project",
        "the old root is no longer the project"
    );
}
