//! `openv hook check-env [DIR]`, the pre-tool hook for Claude Code and Codex: exit 0 when
//! DIR/.env is absent or an openv mount, exit 2 with the fixing command when it is a
//! plaintext file.
#![allow(clippy::unwrap_used)]

mod common;

use common::Openv;

fn check(o: &Openv, dir: &std::path::Path) -> (Option<i32>, String) {
    let out = o.run(&["hook", "check-env", dir.to_str().unwrap()]);
    assert!(out.stdout.is_empty(), "hooks print on stderr only");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plaintext_env_blocks_mount_and_absence_pass() {
    let o = Openv::new();
    let project = tempfile::Builder::new().prefix("my app").tempdir().unwrap();
    let dir = project.path();

    // No .env: nothing to say.
    assert_eq!(check(&o, dir), (Some(0), String::new()));

    // Plaintext .env: blocked (exit 2) with the command that fixes it.
    std::fs::write(dir.join(".env"), "API_KEY=hook-canary\n").unwrap();
    let (code, stderr) = check(&o, dir);
    assert_eq!(code, Some(2), "{stderr}");
    let real = dir.canonicalize().unwrap();
    assert!(stderr.contains("is a plaintext .env file"), "{stderr}");
    assert!(
        stderr.contains("openv mount --import -e ")
            && stderr.contains(&format!("'{}'", real.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("hook-canary"));

    // The suggested command works, and afterwards the hook passes.
    o.ok(&["env", "create", "hooked"]);
    o.ok(&[
        "mount",
        "--import",
        "--mode",
        "fifo",
        "-e",
        "hooked",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(check(&o, dir), (Some(0), String::new()));
    // The current directory is the default.
    let out = o.run_in(dir, &["hook", "check-env"]);
    assert_eq!(out.status.code(), Some(0));
    o.ok(&["unmount", dir.to_str().unwrap()]);

    let (code, stderr) = check(&o, &dir.join("missing"));
    assert_eq!(code, Some(1), "an unknown directory is an error: {stderr}");
}
