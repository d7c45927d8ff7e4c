//! `openv agent install` / `uninstall`: the systemd user unit, written in a throwaway
//! HOME, checked by `systemd-analyze verify`, and removed again.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{BIN, Openv, require};

fn agent_cmd(o: &Openv, home: &std::path::Path, verb: &str) -> String {
    let mut c = o.cmd(&["agent", verb]);
    // No user manager answers on an empty runtime directory: the unit is only written.
    let run = home.join("run");
    std::fs::create_dir_all(&run).unwrap();
    c.env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env("XDG_RUNTIME_DIR", &run)
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "openv agent {verb}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn install_writes_a_valid_unit_and_uninstall_removes_it() {
    let o = Openv::empty();
    let home = o.dir.path().join("user-home");
    let unit = home.join(".config/systemd/user/openv-agent.service");

    let said = agent_cmd(&o, &home, "install");
    assert!(
        said.contains(&format!("wrote {}", unit.display())),
        "{said}"
    );
    assert!(
        said.contains("no systemd user manager answers here"),
        "{said}"
    );
    assert!(
        said.contains("systemctl --user enable --now openv-agent.service"),
        "{said}"
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = std::fs::canonicalize(BIN).unwrap();
    for line in [
        format!("ExecStart=\"{}\" agent --foreground", exe.display()),
        format!("Environment=\"OPENV_HOME={}\"", o.home.display()),
        "Restart=on-failure".to_owned(),
        "WantedBy=default.target".to_owned(),
        "UMask=0077".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing:\n{text}");
    }

    if require(
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok(),
        "systemd-analyze (apt systemd)",
    ) {
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "systemd-analyze verify: {err}"
        );
    }

    let said = agent_cmd(&o, &home, "uninstall");
    assert!(
        said.contains(&format!("removed {}", unit.display())),
        "{said}"
    );
    assert!(!unit.exists());
    let said = agent_cmd(&o, &home, "uninstall");
    assert!(said.contains("was not installed"), "{said}");
}

/// No user manager runs in this test VM (systemd is not PID 1), so the unit's service
/// is run the way systemd would run it: its `ExecStart` with only its `Environment=`,
/// its `UMask=` and `LimitCORE=`. The agent it starts serves a FUSE mount.
#[test]
fn the_units_service_serves_a_fuse_mount() {
    if !require(openv_mount::fuse_available(), "FUSE") {
        return;
    }
    let o = Openv::empty();
    let home = o.dir.path().join("user-home");
    agent_cmd(&o, &home, "install");
    let text =
        std::fs::read_to_string(home.join(".config/systemd/user/openv-agent.service")).unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} missing:\n{text}"))
            .to_owned()
    };
    let exec = value("ExecStart=");
    let (exe, args) = exec
        .strip_prefix('"')
        .and_then(|r| r.split_once("\" "))
        .unwrap();
    assert_eq!(args, "agent --foreground");
    let env = value("Environment=");
    let env = env.trim_matches('"');
    let umask = value("UMask=");
    let core = value("LimitCORE=");
    let mut service = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask}; exec prlimit --core={core} env -i '{env}' '{exe}' agent --foreground"
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !o.socket().exists() {
        assert!(
            std::time::Instant::now() < until,
            "the service never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert_eq!(
        o.agent_pid(),
        service.id() as i32,
        "the CLI used the service's agent"
    );
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "KEY", "from-the-unit");
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "/usr/bin/cat"]);
    let dir = o.dir.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&[
        "mount",
        dir.to_str().unwrap(),
        "-e",
        "dev",
        "--mode",
        "fuse",
    ]);
    let out = Command::new("/usr/bin/cat")
        .arg(dir.join(".env"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "KEY=from-the-unit\n");
    o.ok(&["agent", "stop"]);
    let _ = service.wait();
}
