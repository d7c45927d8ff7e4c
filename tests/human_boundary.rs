//! Only the human can widen access. The attacker here is a process of the same user with
//! a shell and openv's docs: it runs every openv command and speaks the socket protocol,
//! but has neither the vault passphrase nor the key file. It tries the ways that worked on
//! the first release (approve its own read, add an allow rule, remove a deny rule, raw
//! frames, `--no-masking`, a greeting naming a file as its terminal) and the canary value
//! must never reach it; nothing may widen; each refusal says what the human must do.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{BIN, Openv, require};
use openv::ipc::client::{Client, ClientError};
use openv::ipc::protocol::{ErrorCode, Proof, Request, Response};
use openv::paths::Home;
use openv::secret::SecretValue;
use openv::store::rules::Effect;

const CANARY: &str = "canary-7d1e-human-boundary";

fn fuse_ok() -> bool {
    require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
}

/// A vault (prompts go to the queue) with `dev` holding the canary, mounted in `proj/`.
struct Scene {
    o: Openv,
    dir: PathBuf,
}

impl Scene {
    fn new() -> Self {
        Self::with_prompt("queue")
    }

    fn with_prompt(prompt: &'static str) -> Self {
        let o = Openv::with_prompt(prompt);
        o.ok(&["env", "create", "dev"]);
        o.set("dev", "API_KEY", CANARY);
        let dir = o.dir.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        Self { o, dir }
    }

    fn mount(&self) {
        self.o.ok(&[
            "mount",
            self.dir.to_str().unwrap(),
            "-e",
            "dev",
            "--mode",
            "fuse",
        ]);
    }

    /// An openv command as the attacker runs it: no key file, no passphrase, stdin closed,
    /// and in a session of its own (no controlling terminal to type a passphrase on).
    fn attacker(&self, args: &[&str]) -> Output {
        Command::new("setsid")
            .arg("--wait")
            .arg(BIN)
            .args(args)
            .env("OPENV_HOME", &self.o.home)
            .env_remove("OPENV_KEYFILE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// A reader of the mount, waiting for its answer.
    fn cat(&self) -> std::process::Child {
        Command::new("cat")
            .arg(self.dir.join(".env"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn rules(&self) -> serde_json::Value {
        serde_json::from_str(&self.o.ok(&["policy", "list", "--json"])).unwrap()
    }

    fn call(&self, reqs: Vec<Request>) -> Vec<Result<Response, ClientError>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut c = Client::connect(&Home::at(self.o.home.clone()))
                .await
                .unwrap();
            let mut out = Vec::new();
            for r in reqs {
                out.push(c.call(&r).await);
            }
            out
        })
    }
}

/// The attacker's command failed, said why and what the human must do, and leaked nothing.
fn refused(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "must be refused: {stdout} {stderr}");
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    assert!(
        stderr.contains("needs you, the human") || stderr.contains("only the human"),
        "the refusal says the human must do it: {stderr}"
    );
    stderr
}

fn needs_human(r: &Result<Response, ClientError>) -> bool {
    matches!(r, Err(e) if e.code() == Some(ErrorCode::NeedsHuman))
}

fn allow_rule(exe: &str) -> Request {
    Request::PolicyAdd {
        env: "dev".into(),
        effect: Effect::Allow,
        exe: exe.into(),
        cwd: None,
        for_secs: None,
        lift_builtin: false,
        agents: false,
    }
}

fn key_proof(o: &Openv) -> Proof {
    Proof::KeyFile {
        key_hex: SecretValue::new(hex::encode(std::fs::read(&o.keyfile).unwrap())),
    }
}

#[test]
fn the_agent_cannot_approve_its_own_read() {
    if !fuse_ok() {
        return;
    }
    let s = Scene::new();
    s.mount();
    let reader = s.cat();
    let id = s.o.wait_pending()["id"].to_string();
    let err = refused(&s.attacker(&["approve", &id, "--scope", "process"]));
    assert!(err.contains("--keyfile"), "{err}");
    // Denying only narrows: the attacker may.
    let deny = s.attacker(&["deny", &id]);
    assert!(
        deny.status.success(),
        "{}",
        String::from_utf8_lossy(&deny.stderr)
    );
    let got = reader.wait_with_output().unwrap();
    assert!(!got.status.success());
    assert!(!String::from_utf8_lossy(&got.stdout).contains(CANARY));
    let audit = s.o.ok(&["audit", "--json"]);
    assert!(
        audit.contains("needs_human"),
        "the refusal is audited: {audit}"
    );
    assert!(!audit.contains(CANARY) && !s.o.log().contains(CANARY));
}

#[test]
fn the_agent_cannot_add_an_allow_rule_or_remove_a_deny_rule() {
    let s = Scene::new();
    refused(&s.attacker(&["allow", "-e", "dev", "--exe", "/usr/bin/head"]));
    refused(&s.attacker(&["policy", "allow", "-e", "dev", "--exe", "/usr/bin/head"]));
    assert_eq!(s.rules(), serde_json::json!([]), "nothing widened");
    // A deny rule narrows: anyone may add it, only the human may take it away.
    let deny = s.attacker(&["policy", "deny", "-e", "dev", "--exe", "/usr/bin/head"]);
    assert!(
        deny.status.success(),
        "{}",
        String::from_utf8_lossy(&deny.stderr)
    );
    let id = s.rules()[0]["id"].to_string();
    refused(&s.attacker(&["policy", "rm", &id]));
    assert_eq!(
        s.rules().as_array().unwrap().len(),
        1,
        "the deny rule stays"
    );
    // The human, with the key file, may.
    s.o.ok(&["policy", "rm", &id]);
    assert_eq!(s.rules(), serde_json::json!([]));
}

#[test]
fn raw_frames_cannot_widen_and_a_proof_covers_one_request() {
    let s = Scene::new();
    let wrong_key = Proof::KeyFile {
        key_hex: SecretValue::new("00".repeat(32)),
    };
    let wrong_pass = Proof::Passphrase {
        passphrase: SecretValue::new("guess".into()),
    };
    let answers = s.call(vec![
        Request::Answer {
            id: 1,
            allow: true,
            scope: None,
            for_secs: None,
            cwd: None,
        },
        allow_rule("/usr/bin/printenv"),
        Request::Resolve {
            envs: vec!["dev".into()],
            only: None,
            command: vec!["/usr/bin/printenv".into()],
            unmasked: true,
        },
        Request::Prove {
            proof: wrong_key,
            keep: true,
        },
        allow_rule("/usr/bin/printenv"),
        Request::Prove {
            proof: wrong_pass,
            keep: false,
        },
        allow_rule("/usr/bin/printenv"),
    ]);
    for (i, a) in answers.iter().enumerate() {
        match i {
            3 | 5 => assert!(
                matches!(a, Err(e) if e.code() == Some(ErrorCode::WrongSecret)),
                "a wrong proof is refused: {a:?}"
            ),
            _ => assert!(needs_human(a), "request {i} needs the human: {a:?}"),
        }
        if let Err(e) = a {
            assert!(!e.to_string().contains(CANARY));
        }
    }
    assert_eq!(s.rules(), serde_json::json!([]), "nothing widened");
    // The real proof covers the next request only.
    let answers = s.call(vec![
        Request::Prove {
            proof: key_proof(&s.o),
            keep: false,
        },
        allow_rule("/usr/bin/head"),
        allow_rule("/usr/bin/tail"),
    ]);
    assert!(matches!(answers[0], Ok(Response::Done)), "{:?}", answers[0]);
    assert!(matches!(answers[1], Ok(Response::RuleAdded { .. })));
    assert!(
        needs_human(&answers[2]),
        "a proof is single-use: {:?}",
        answers[2]
    );
    assert_eq!(s.rules().as_array().unwrap().len(), 1);
}

#[test]
fn no_masking_needs_the_human() {
    let s = Scene::new();
    let printenv = "/usr/bin/printenv";
    s.o.ok(&["allow", "-e", "dev", "--exe", printenv]);
    let out = s.attacker(&[
        "run",
        "-e",
        "dev",
        "--no-masking",
        "--",
        printenv,
        "API_KEY",
    ]);
    refused(&out);
    // Masked, the attacker's captured output never shows the value.
    let out = s.attacker(&["run", "-e", "dev", "--", printenv, "API_KEY"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CANARY));
    // The human may unmask.
    let human = s.o.ok(&[
        "run",
        "-e",
        "dev",
        "--no-masking",
        "--",
        printenv,
        "API_KEY",
    ]);
    assert!(human.contains(CANARY));
}

#[test]
fn a_greeting_cannot_name_a_file_as_its_terminal() {
    if !fuse_ok() {
        return;
    }
    // An agent that would show a dialog (prompt = auto).
    let s = Scene::with_prompt("auto");
    // The first release wrote its dialog to this "terminal" and read the newline in it as
    // "Allow once".
    let fake_tty = s.o.dir.path().join("tty");
    std::fs::write(&fake_tty, "\n\n\n").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use interprocess::local_socket::tokio::Stream;
        use interprocess::local_socket::tokio::prelude::*;
        use interprocess::local_socket::{GenericFilePath, ToFsName};
        let name = s.o.socket().to_fs_name::<GenericFilePath>().unwrap();
        let stream = Stream::connect(name).await.unwrap();
        let mut ch = openv::ipc::transport::Channel::new(stream);
        let hello = Request::Hello {
            protocol: openv::ipc::protocol::PROTOCOL_VERSION,
            version: "0".into(),
            context: openv::approvals::ClientContext {
                tty: Some(fake_tty.display().to_string()),
                display: None,
                wayland: None,
            },
            mcp: false,
        };
        ch.send(&hello).await.unwrap();
        let _: Option<Response> = ch.recv().await.unwrap();
    });
    s.mount();
    let reader = s.cat();
    let id = s.o.wait_pending()["id"].to_string();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&fake_tty).unwrap(),
        "\n\n\n",
        "no dialog ran on the file"
    );
    s.o.ok(&["deny", &id]);
    let got = reader.wait_with_output().unwrap();
    assert!(!got.status.success());
    assert!(!String::from_utf8_lossy(&got.stdout).contains(CANARY));
}

#[test]
fn the_human_approves_with_the_key_file_or_the_passphrase() {
    if !fuse_ok() {
        return;
    }
    // Key file: `openv approve --keyfile`.
    let s = Scene::new();
    s.mount();
    let reader = s.cat();
    let id = s.o.wait_pending()["id"].to_string();
    let out = s.attacker(&[
        "approve",
        &id,
        "--scope",
        "once",
        "--keyfile",
        s.o.keyfile.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = reader.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&got.stdout).contains(CANARY));

    // Passphrase vault: `--passphrase-file` for scripts.
    let mut o = Openv::empty();
    o.prompt = "queue";
    o.ok_stdin(&["init"], b"correct horse battery\n");
    o.ok(&["env", "create", "dev"]);
    let pass = o.dir.path().join("pass");
    std::fs::write(&pass, "wrong\n").unwrap();
    let err = o.err(&[
        "allow",
        "-e",
        "dev",
        "--exe",
        "/usr/bin/head",
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    assert!(err.contains("wrong passphrase"), "{err}");
    std::fs::write(&pass, "correct horse battery\n").unwrap();
    o.ok(&[
        "allow",
        "-e",
        "dev",
        "--exe",
        "/usr/bin/head",
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    let rules: serde_json::Value =
        serde_json::from_str(&o.ok(&["policy", "list", "--json"])).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1);
}
