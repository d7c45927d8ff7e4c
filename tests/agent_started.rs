//! Rules and grants made for the human's programs never cover a reader an AI agent
//! started (row 4 of the boundary issue: `allow cat` is the human's, the agent's own `cat`
//! gets nothing). The marks: an ancestor named like an AI agent (`codex`), an ancestor
//! that is the client of an `openv mcp` session, `NoNewPrivs` (an agent's sandbox; it
//! survives a double fork and `setsid`). A rule covers them only with `--agents`; an
//! environment's agent policy `deny` refuses them at once; `openv run` from an agent's
//! shell follows the same policy. The human's own `cat` with the same rule is served.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::tools::require_tools;
use common::{BIN, Openv, require};

const CANARY: &str = "canary-91c4-agent-started";

fn fuse_ok() -> bool {
    require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
}

struct Scene {
    o: Openv,
    dir: PathBuf,
    /// A shell installed under an AI agent's name: what it starts has `codex` among its
    /// ancestors.
    codex: PathBuf,
}

impl Scene {
    fn new(prompt: &'static str) -> Self {
        let o = Openv::with_prompt(prompt);
        o.ok(&["env", "create", "dev"]);
        o.set("dev", "API_KEY", CANARY);
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
        let bin = o.dir.path().join("agent-bin");
        std::fs::create_dir(&bin).unwrap();
        let codex = bin.join("codex");
        std::fs::copy("/bin/sh", &codex).unwrap();
        // The human's rule for their own cat.
        o.ok(&["policy", "allow", "-e", "dev", "--exe", "cat"]);
        Self { o, dir, codex }
    }

    fn env_file(&self) -> PathBuf {
        self.dir.join(".env")
    }

    /// The human's own reader.
    fn human_cat(&self) -> Output {
        Command::new("cat")
            .arg(self.env_file())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// A reader started from the agent's shell.
    fn codex(&self, script: &str) -> Command {
        let mut c = Command::new(&self.codex);
        c.args(["-c", script])
            .current_dir(&self.dir)
            .env("OPENV_HOME", &self.o.home)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    Path::new(BIN).parent().unwrap().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env_remove("OPENV_KEYFILE")
            .stdin(Stdio::null());
        c
    }

    fn codex_cat(&self) -> Output {
        self.codex("cat .env").output().unwrap()
    }
}

fn served(out: &Output) -> bool {
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(CANARY)
}

fn refused(out: &Output) {
    assert!(!out.status.success(), "must be refused");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CANARY));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(CANARY));
}

fn last_denial(o: &Openv) -> String {
    let out = o.ok(&["audit", "--json", "--limit", "20", "--decision", "denied"]);
    out.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn the_humans_rule_does_not_cover_the_agents_reader_whichever_mark_it_has() {
    if !fuse_ok() || !require_tools(&["setpriv", "setsid"]) {
        return;
    }
    let s = Scene::new("none");
    assert!(
        served(&s.human_cat()),
        "the human's cat is served by their rule"
    );

    // A `codex` ancestor.
    refused(&s.codex_cat());
    let why = last_denial(&s.o);
    assert!(why.contains("codex"), "{why}");

    // Row 4 as it was found: the human allowed node for their app; the agent's shell runs
    // node with a script that prints what it read.
    if require_tools(&["node"]) {
        s.o.ok(&["policy", "allow", "-e", "dev", "--exe", "node"]);
        let js = "process.stdout.write(require('fs').readFileSync('.env', 'utf8'))";
        let human = Command::new("node")
            .args(["-e", js])
            .current_dir(&s.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(served(&human), "the human's node is served");
        refused(&s.codex(&format!("node -e \"{js}\"")).output().unwrap());
    }

    // NoNewPrivs, set as Codex's sandbox sets it, through a double fork and setsid: the
    // ancestry is gone, the mark is not.
    let out_file = s.o.dir.path().join("nnp.out");
    let rc_file = s.o.dir.path().join("nnp.rc");
    let script = format!(
        "cat {} > {} 2>&1; echo $? > {}",
        s.env_file().display(),
        out_file.display(),
        rc_file.display()
    );
    let st = Command::new("setpriv")
        .args(["--no-new-privs", "setsid", "-f", "sh", "-c", &script])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rc_file.exists() || std::fs::read_to_string(&rc_file).unwrap().trim().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the detached reader never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(std::fs::read_to_string(&rc_file).unwrap().trim(), "0");
    assert!(!std::fs::read_to_string(&out_file).unwrap().contains(CANARY));
    assert!(last_denial(&s.o).contains("NoNewPrivs"));

    // The human's cat is still served: nothing of this widened or narrowed it.
    assert!(served(&s.human_cat()));

    // A rule that says so covers the agent's readers too (human tier).
    s.o.ok(&["policy", "allow", "-e", "dev", "--exe", "cat", "--agents"]);
    assert!(served(&s.codex_cat()));
}

#[test]
fn an_mcp_clients_children_are_agent_started() {
    if !fuse_ok() || !require_tools(&["python3"]) {
        return;
    }
    let s = Scene::new("none");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/reader_child.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(BIN)
        .arg(&s.dir)
        .arg(s.env_file())
        .env("OPENV_HOME", &s.o.home)
        .env_remove("OPENV_KEYFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["tool_ok"], true, "{v}");
    assert_ne!(
        v["cat_rc"], 0,
        "the MCP client's own cat must be refused: {v}"
    );
    assert!(!stdout.contains(CANARY));
    let why = last_denial(&s.o);
    assert!(why.contains("openv mcp session"), "{why}");
    assert!(served(&s.human_cat()), "the human's cat is still served");
}

#[test]
fn agent_policy_deny_refuses_at_once_and_only_the_human_goes_back_to_ask() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new("queue");
    // Narrowing is the agent's to do.
    let out = s.codex("openv policy agents -e dev deny").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Instant::now();
    refused(&s.codex_cat());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "deny is at once, not a prompt"
    );
    let pending = s.o.ok(&["pending", "--json"]);
    assert_eq!(pending.trim(), "[]", "nobody was asked: {pending}");
    assert!(last_denial(&s.o).contains("agent policy deny"));
    assert!(served(&s.human_cat()));
    // `openv run` from the agent's shell follows the same policy.
    s.o.ok(&["policy", "allow", "-e", "dev", "--exe", "printenv"]);
    let human = s.o.ok(&[
        "run",
        "-e",
        "dev",
        "--no-masking",
        "--",
        "printenv",
        "API_KEY",
    ]);
    assert!(human.contains(CANARY), "the human's run gets the value");
    let out = s
        .codex("openv run -e dev -- printenv API_KEY")
        .output()
        .unwrap();
    refused(&out);
    // Widening back to ask needs the human.
    let out = Command::new("setsid")
        .arg("--wait")
        .arg(&s.codex)
        .args(["-c", &format!("{BIN} policy agents -e dev ask")])
        .env("OPENV_HOME", &s.o.home)
        .env_remove("OPENV_KEYFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("needs you, the human") || err.contains("only the human"),
        "{err}"
    );
    s.o.ok(&["policy", "agents", "-e", "dev", "ask"]);
}

#[test]
fn the_prompt_says_the_agent_started_the_reader_and_its_approval_covers_that_process_only() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new("queue");
    let reader = s
        .codex("cat .env")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let p = s.o.wait_pending();
    assert_eq!(p["ai_agent"], "codex", "{p}");
    let text = p["text"].as_str().unwrap();
    assert!(text.contains("started by an AI agent"), "{text}");
    assert!(text.contains("could see what this process reads"), "{text}");
    // The human approves for the executable: it is narrowed to this process.
    s.o.ok(&["approve", &p["id"].to_string(), "--scope", "exe"]);
    let out = reader.wait_with_output().unwrap();
    assert!(served(&out));
    // The agent's next cat is a new process: not covered, asked about again.
    let again = s
        .codex("cat .env")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let p2 = s.o.wait_pending();
    assert_ne!(p2["id"], p["id"]);
    s.o.ok(&["deny", &p2["id"].to_string()]);
    refused(&again.wait_with_output().unwrap());
    assert!(served(&s.human_cat()));
}
