//! Agent requests that may wait for a person, driven over the real socket: `Resolve`
//! (values for `openv run`), `Confirm` (an agent's destructive action), `AskValues`.

#![allow(clippy::unwrap_used)]

mod common;

use common::Openv;
use openv::ipc::protocol::{Charset, ErrorCode, Request, Response};
use openv::store::ValueSource;

fn call(o: &Openv, req: Request) -> Result<Response, openv::ipc::client::ClientError> {
    o.call(&req)
}

/// Answers the first pending request with `openv approve`/`deny` once it appears.
fn answer_when_pending(
    o: &Openv,
    verb: &'static str,
) -> std::thread::JoinHandle<serde_json::Value> {
    let home = o.home.clone();
    std::thread::spawn(move || {
        let first = common::wait_pending_at(&home);
        let st = std::process::Command::new(common::BIN)
            .args([verb, &first["id"].to_string()])
            .env("OPENV_HOME", &home)
            // The test is the human: its key file is the proof an approval needs.
            .env("OPENV_KEYFILE", home.parent().unwrap().join("key"))
            .status()
            .unwrap();
        assert!(st.success());
        first
    })
}

fn setup(prompt: &'static str) -> Openv {
    let o = Openv::with_prompt(prompt);
    o.ok(&["env", "create", "dev"]);
    o.ok(&["env", "create", "override"]);
    o.set("dev", "A", "from-dev");
    o.set("dev", "B", "only-dev");
    o.set("override", "A", "from-override");
    o
}

/// `Resolve` is answered only to genuine `openv run` (tests/genuine_peer.rs shows other
/// askers refused), so these go through the real binary.
#[test]
fn resolve_needs_approval_and_merges_later_wins() {
    let o = setup("none");
    let check = o.dir.path().join("check-merge");
    std::fs::write(
        &check,
        "#!/bin/sh\n[ \"$A\" = from-override ] && [ \"$B\" = only-dev ]\n",
    )
    .unwrap();
    std::fs::set_permissions(&check, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let exe = check.to_str().unwrap();
    let run = ["run", "-e", "dev", "-e", "override", "--", exe];
    let e = o.err(&run);
    assert!(
        e.contains(&format!("openv allow -e dev --exe {exe}")),
        "{e}"
    );
    o.ok(&["policy", "allow", "-e", "dev", "--exe", exe]);
    o.ok(&["policy", "allow", "-e", "override", "--exe", exe]);
    o.ok(&run);
    let e = o.err(&["run", "-e", "dev", "--only", "A,MISSING", "--", exe]);
    assert!(e.contains("MISSING"), "{e}");
    let runs = o.ok(&["audit", "--json"]);
    assert!(runs.contains("\"kind\":\"run\"") && !runs.contains("from-dev"));
    o.ok(&["lock"]);
    let e = o.err(&run);
    assert!(e.contains("vault locked"), "{e}");
}

#[test]
fn resolve_through_the_queue_shows_the_command_as_a_child_of_openv() {
    let o = setup("queue");
    let answer = answer_when_pending(&o, "approve");
    let out = o
        .cmd(&[
            "run",
            "-e",
            "dev",
            "--only",
            "B",
            "--",
            "/usr/bin/true",
            "--flag",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = answer.join().unwrap();
    assert_eq!(shown["exe"], "/usr/bin/true");
    assert_eq!(shown["chain"][0], "true");
    assert_eq!(shown["chain"][1], "openv");
}

#[test]
fn confirm_waits_for_the_person() {
    let o = setup("queue");
    let confirm = || {
        call(
            &o,
            Request::Confirm {
                action: "delete environment dev".into(),
                env: Some("dev".into()),
                client: Some("test-client".into()),
            },
        )
    };
    let answer = answer_when_pending(&o, "approve");
    assert!(matches!(confirm().unwrap(), Response::Done));
    let shown = answer.join().unwrap();
    assert_eq!(shown["kind"], "action");
    assert_eq!(shown["action"], "delete environment dev");
    assert!(
        shown["text"]
            .as_str()
            .unwrap()
            .contains("test-client asks to: delete environment dev")
    );
    assert_eq!(o.status()["grants"], 0, "an approved action grants nothing");

    let answer = answer_when_pending(&o, "deny");
    let err = confirm().unwrap_err();
    answer.join().unwrap();
    assert_eq!(err.code(), Some(ErrorCode::Denied), "{err}");

    let none = setup("none");
    let err = call(
        &none,
        Request::Confirm {
            action: "x".into(),
            env: None,
            client: None,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("prompts are off"), "{err}");
}

#[test]
fn ask_values_returns_names_once_the_person_sets_them() {
    let o = setup("queue");
    let home = o.home.clone();
    let setter = std::thread::spawn(move || {
        let p = common::wait_pending_at(&home);
        assert_eq!(p["kind"], "values");
        assert_eq!(p["names"][0], "NEW_KEY");
        for name in ["NEW_KEY", "OTHER"] {
            let mut c = std::process::Command::new(common::BIN)
                .args(["var", "set", "-e", "dev", name])
                .env("OPENV_HOME", &home)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"typed-by-human")
                .unwrap();
            assert!(c.wait().unwrap().success());
        }
    });
    let r = call(
        &o,
        Request::AskValues {
            env: "dev".into(),
            names: vec!["NEW_KEY".into(), "OTHER".into()],
            timeout_secs: Some(20),
        },
    )
    .unwrap();
    setter.join().unwrap();
    let Response::Names { mut names } = r else {
        panic!()
    };
    names.sort();
    assert_eq!(names, ["NEW_KEY", "OTHER"]);
    assert!(o.ok(&["pending"]).contains("no pending requests"));

    let answer = answer_when_pending(&o, "deny");
    let err = call(
        &o,
        Request::AskValues {
            env: "dev".into(),
            names: vec!["NEVER".into()],
            timeout_secs: Some(20),
        },
    )
    .unwrap_err();
    answer.join().unwrap();
    assert_eq!(err.code(), Some(ErrorCode::Denied), "{err}");
}

#[test]
fn generated_and_agent_supplied_values_are_flagged() {
    let o = setup("none");
    let r = call(
        &o,
        Request::VarGenerate {
            env: "dev".into(),
            names: vec!["SESSION_SECRET".into()],
            length: 48,
            charset: Charset::Hex,
        },
    )
    .unwrap();
    assert!(matches!(r, Response::Names { .. }));
    call(
        &o,
        Request::VarSetMany {
            env: "dev".into(),
            vars: vec![(
                "PORT".into(),
                openv::secret::SecretValue::new("8080".into()),
            )],
            source: ValueSource::Agent,
        },
    )
    .unwrap();
    let list: serde_json::Value =
        serde_json::from_str(&o.ok(&["var", "list", "-e", "dev", "--json"])).unwrap();
    let src = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == n)
            .unwrap()["source"]
            .clone()
    };
    assert_eq!(src("SESSION_SECRET"), "generated");
    assert_eq!(src("PORT"), "agent");
    let check = o.dir.path().join("check-generated");
    std::fs::write(
        &check,
        "#!/bin/sh\ncase \"$SESSION_SECRET\" in *[!0-9a-f]*) exit 1 ;; esac\n[ ${#SESSION_SECRET} -eq 48 ]\n",
    )
    .unwrap();
    std::fs::set_permissions(&check, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let exe = check.to_str().unwrap();
    o.ok(&["policy", "allow", "-e", "dev", "--exe", exe]);
    o.ok(&["run", "-e", "dev", "--only", "SESSION_SECRET", "--", exe]);
    let err = call(
        &o,
        Request::VarGenerate {
            env: "dev".into(),
            names: vec!["X".into()],
            length: 4,
            charset: Charset::Hex,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("8 to 256"), "{err}");
}
