//! Locking, key slots, tampering, file permissions and durability of the vault.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Openv, require};
use openv::ipc::client::Client;
use openv::ipc::protocol::{ErrorCode, PROTOCOL_VERSION, Request, Response};
use openv::paths::Home;
use openv::secret::SecretValue;

fn chmod(p: &std::path::Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn passphrase_lock_unlock_and_wrong_passphrase() {
    let o = Openv::empty();
    o.ok_stdin(&["init"], b"correct horse battery\n");
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "A", "value-a");
    o.ok(&["lock"]);
    assert_eq!(o.status()["locked"], true);
    // Names stay readable while locked; values do not.
    assert!(o.ok(&["var", "list", "-e", "dev"]).contains('A'));
    let err = o.err(&["verify"]);
    assert!(err.contains("vault locked: run `openv unlock`"), "{err}");
    let err = o.err_stdin(&["var", "set", "-e", "dev", "B"], b"x");
    assert!(err.contains("vault locked"), "{err}");

    let err = o.err_stdin(&["unlock"], b"wrong horse\n");
    assert!(err.contains("wrong passphrase"), "{err}");
    assert_eq!(o.status()["locked"], true);
    let err = o.err_stdin(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()], b"");
    assert!(
        err.contains("cannot access key file") || err.contains("no key file slot"),
        "{err}"
    );

    o.ok_stdin(&["unlock"], b"correct horse battery\n");
    assert!(o.ok(&["verify"]).contains("1 values"));
    let err = o.err_stdin(&["init"], b"again\n");
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn keyfile_from_env_var_and_wrong_keyfile() {
    let o = Openv::new();
    o.ok(&["lock"]);
    let other = o.dir.path().join("other.key");
    std::fs::write(&other, [7u8; 32]).unwrap();
    chmod(&other, 0o600);
    let err = o.err(&["unlock", "--keyfile", other.to_str().unwrap()]);
    assert!(err.contains("does not unlock this vault"), "{err}");
    common::run::ok(o.cmd(&["unlock"]).env("OPENV_KEYFILE", &o.keyfile));
    assert_eq!(o.status()["locked"], false);
}

#[test]
fn files_readable_by_others_are_refused() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.ok(&["agent", "stop"]);
    chmod(&o.vault(), 0o644);
    let err = o.err(&["env", "list"]);
    assert!(
        err.contains(&o.vault().display().to_string()) && err.contains("chmod 600"),
        "{err}"
    );
    chmod(&o.vault(), 0o600);
    assert!(
        o.ok(&["env", "list"]).contains("dev"),
        "fixed permissions work without restart"
    );

    o.ok(&["lock"]);
    chmod(&o.keyfile, 0o640);
    let err = o.err(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(
        err.contains("key file") && err.contains("chmod 600"),
        "{err}"
    );

    o.ok(&["agent", "stop"]);
    chmod(&o.home, 0o755);
    let err = o.err(&["status"]);
    assert!(err.contains("chmod 700"), "{err}");
    chmod(&o.home, 0o700);
}

#[test]
fn vault_files_are_private() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "A", "x");
    for entry in std::fs::read_dir(&o.home).unwrap() {
        let e = entry.unwrap();
        let mode = e.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", e.path().display());
    }
    let kmode = std::fs::metadata(&o.keyfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(kmode, 0o600);
}

#[test]
fn tampered_rows_are_detected() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "A", "alpha");
    o.set("dev", "B", "beta");
    assert!(o.ok(&["verify"]).contains("2 values"));
    let db = rusqlite::Connection::open(o.vault()).unwrap();
    db.execute_batch(
        "UPDATE variables SET nonce = (SELECT nonce FROM variables WHERE name = 'B'),
            ciphertext = (SELECT ciphertext FROM variables WHERE name = 'B') WHERE name = 'A';",
    )
    .unwrap();
    let err = o.err(&["verify"]);
    assert!(
        err.contains("vault tampered") && err.contains("A in environment dev"),
        "{err}"
    );
    assert!(!err.contains("alpha") && !err.contains("beta"));
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let pid = o.agent_pid();
    let home = Home::at(o.home.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Kill once a few hundred writes are acknowledged, whatever the machine's speed.
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = progress.clone();
    let killer = std::thread::spawn(move || {
        while seen.load(std::sync::atomic::Ordering::SeqCst) < 300 {
            std::thread::sleep(Duration::from_micros(200));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    });
    let acked = rt.block_on(async {
        let mut c = Client::connect(&home)
            .await
            .unwrap()
            .with_agent_binary(common::BIN);
        let mut acked = 0;
        for i in 0..1000 {
            let req = Request::VarSet {
                env: "dev".into(),
                name: format!("V{i:04}"),
                value: SecretValue::new(format!("value-{i}")),
            };
            match c.call(&req).await {
                Ok(_) => {
                    acked += 1;
                    progress.store(acked, std::sync::atomic::Ordering::SeqCst);
                }
                Err(_) => break,
            }
        }
        acked
    });
    killer.join().unwrap();
    assert!(
        acked > 0 && acked < 1000,
        "kill landed mid-run: {acked} acknowledged"
    );
    o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert_ne!(o.agent_pid(), pid);
    let list: serde_json::Value =
        serde_json::from_str(&o.ok(&["var", "list", "-e", "dev", "--json"])).unwrap();
    let stored = list.as_array().unwrap().len();
    assert!(stored >= acked, "acknowledged {acked}, stored {stored}");
    assert!(o.ok(&["verify"]).contains(&format!("{stored} values")));
}

#[test]
fn protocol_version_mismatch_says_how_to_fix() {
    let o = Openv::new();
    let home = Home::at(o.home.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resp: Response = rt.block_on(async {
        use interprocess::local_socket::tokio::Stream;
        use interprocess::local_socket::tokio::prelude::*;
        use interprocess::local_socket::{GenericFilePath, ToFsName};
        let name = home.socket().to_fs_name::<GenericFilePath>().unwrap();
        let s = Stream::connect(name).await.unwrap();
        let mut ch = openv::ipc::transport::Channel::new(s);
        ch.request(&Request::Hello {
            protocol: PROTOCOL_VERSION + 1,
            version: "9.9.9".into(),
            context: Default::default(),
            mcp: false,
        })
        .await
        .unwrap()
    });
    match resp {
        Response::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::VersionMismatch);
            assert!(message.contains("this CLI is 9.9.9"), "{message}");
            assert!(message.contains("run `openv agent restart`"), "{message}");
        }
        other => panic!("expected a version error, got {other:?}"),
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// An agent owned by another uid refuses our connection (and logs it).
#[test]
fn other_uid_is_refused() {
    if !require(is_root(), "root (to create a throwaway user)") {
        return;
    }
    let user = "openv-test-peer";
    let have = std::process::Command::new("id")
        .arg(user)
        .output()
        .unwrap()
        .status
        .success();
    if !have {
        let st = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ])
            .status()
            .unwrap();
        assert!(st.success(), "useradd failed");
    }
    // A home the other user owns, in a directory it can reach, and a copy of the binary
    // it can execute.
    let base = std::path::PathBuf::from(format!("/tmp/openv-peer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("h")).unwrap();
    let bin = base.join("openv");
    std::fs::copy(common::BIN, &bin).unwrap();
    chmod(&base, 0o755);
    chmod(&bin, 0o755);
    let chown = |p: &std::path::Path| {
        assert!(
            std::process::Command::new("chown")
                .args(["-R", user, p.to_str().unwrap()])
                .status()
                .unwrap()
                .success()
        );
    };
    chown(&base.join("h"));
    chmod(&base.join("h"), 0o700);
    let agent = std::process::Command::new("runuser")
        .args([
            "-u",
            user,
            "--",
            bin.to_str().unwrap(),
            "agent",
            "--foreground",
        ])
        .env("OPENV_HOME", base.join("h"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let sock = base.join("h/run/agent.sock");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "foreign agent did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let home = Home::at(base.join("h"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(Client::connect(&home)).expect_err("refused");
    assert_eq!(err.code(), Some(ErrorCode::PeerRefused), "{err}");
    assert!(err.to_string().contains("serves only that user"), "{err}");
    // Stops this test's agent only (another run's agent of the same user is left alone).
    let _ = std::process::Command::new("runuser")
        .args(["-u", user, "--", bin.to_str().unwrap(), "agent", "stop"])
        .env("OPENV_HOME", base.join("h"))
        .status();
    let out = agent.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("refused a connection from another user"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&base);
}
