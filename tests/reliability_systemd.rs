//! Self-recovery under a real systemd user manager: `openv agent install` enables the unit,
//! `kill -9` of the agent, and the manager starts a new one (`Restart=on-failure`) that
//! restores the mount with no openv command in between.
//!
//! PID 1 here is not systemd, so the test starts a user manager of its own (`systemd
//! --user`) in a private mount namespace (`unshare -m`), where a tmpfs on /run/systemd
//! holds the `system/` directory the manager looks for; the machine is left as it was.
//! Everything runs in a script inside that namespace (the agent's FUSE mount is visible
//! only there); the test reads the steps it prints.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::tools::require_tools;
use common::{BIN, Openv, require};

const SCRIPT: &str = r#"
set -euo pipefail
mount -t tmpfs none /run/systemd
mkdir /run/systemd/system
export HOME="$T/home" XDG_RUNTIME_DIR="$T/xdg"
unset XDG_CONFIG_HOME DBUS_SESSION_BUS_ADDRESS
mkdir -p -m 700 "$HOME" "$XDG_RUNTIME_DIR"
systemd --user >"$T/manager.log" 2>&1 &
manager=$!
trap 'systemctl --user stop openv-agent.service >/dev/null 2>&1 || true; kill $manager; wait $manager || true' EXIT
# Waits up to $1 tenths of a second for the command after it.
until_ok() { local n=$1; shift; until "$@"; do n=$((n-1)); [ $n -gt 0 ] || return 1; sleep 0.1; done; }
until_ok 100 systemctl --user show-environment >/dev/null 2>&1
mounted() { grep -q " $T/proj/.env .* - fuse openv " /proc/self/mountinfo; }
served() { cat "$T/proj/.env" 2>/dev/null | grep -q "GREETING='hello world'"; }

"$BIN" init --keyfile "$KEY" >/dev/null
# The test is the human: its key file proves it where a command widens access.
export OPENV_KEYFILE="$KEY"
"$BIN" env create dev >/dev/null
printf 'hello world' | "$BIN" var set -e dev GREETING >/dev/null
"$BIN" allow -e dev --exe cat >/dev/null
"$BIN" agent install
# Under load the manager may still be starting the unit: wait for its agent before any
# command could start one on demand.
unit_up() { [ "$(systemctl --user show -p MainPID --value openv-agent.service)" != 0 ] && [ -S "$OPENV_HOME/run/agent.sock" ]; }
until_ok 100 unit_up || true
# The unit's agent is a new one: locked.
"$BIN" unlock --keyfile "$KEY" >/dev/null
mkdir "$T/proj"
"$BIN" mount "$T/proj" -e dev --mode fuse >/dev/null
served && echo "step: served under the unit"
old=$(systemctl --user show -p MainPID --value openv-agent.service)
echo "step: unit agent $old"
kill -9 "$old"
start=$(date +%s%N)
new() { local p; p=$(systemctl --user show -p MainPID --value openv-agent.service); [ "$p" != 0 ] && [ "$p" != "$old" ]; }
until_ok 100 new
# The killed agent's dead mount stays listed until the new agent cleans it: wait for the
# new agent to answer (its restore runs before any request), so what is mounted is its.
unit_answers() { [ "$(cat "$OPENV_HOME/run/agent.pid" 2>/dev/null)" = "$(systemctl --user show -p MainPID --value openv-agent.service)" ] && "$BIN" mounts >/dev/null 2>&1; }
until_ok 100 unit_answers
until_ok 100 mounted
echo "step: restarted and mounted in $(( ($(date +%s%N) - start) / 1000000 )) ms"
echo "step: new agent $(systemctl --user show -p MainPID --value openv-agent.service) pidfile $(cat "$OPENV_HOME/run/agent.pid")"
if cat "$T/proj/.env" >/dev/null 2>&1; then echo "step: locked read served"; else echo "step: locked read refused"; fi
"$BIN" unlock --keyfile "$KEY" >/dev/null
served && echo "step: served after unlock"
"$BIN" agent uninstall >/dev/null
"#;

#[test]
fn the_unit_restarts_a_killed_agent_which_restores_its_mount() {
    let systemd = std::path::Path::new("/lib/systemd/systemd").exists()
        || common::tools::which("systemd").is_some();
    if !require(systemd, "systemd (the user manager)")
        || !require_tools(&["systemctl", "unshare"])
        || !require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
    {
        return;
    }
    let o = Openv::empty();
    let t = o.dir.path();
    let out = Command::new("timeout")
        .args([
            "60",
            "unshare",
            "-m",
            "--propagation",
            "private",
            "bash",
            "-c",
            SCRIPT,
        ])
        .env(
            "PATH",
            format!("/lib/systemd:{}", std::env::var("PATH").unwrap()),
        )
        .env("T", t)
        .env("BIN", std::fs::canonicalize(BIN).unwrap())
        .env("KEY", &o.keyfile)
        .env("OPENV_HOME", &o.home)
        .env("OPENV_PROMPT", "none")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(t.join("manager.log")).unwrap_or_default();
    eprintln!("{said}");
    assert!(
        out.status.success(),
        "{said}\n{}\nmanager:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("enabled and started openv-agent.service"),
        "{said}"
    );
    assert!(said.contains("step: served under the unit"), "{said}");
    let old = step(&said, "step: unit agent ");
    let line = step(&said, "step: new agent ");
    let (new, pidfile) = line.split_once(" pidfile ").unwrap();
    assert_ne!(new, old, "{said}");
    assert_eq!(
        new, pidfile,
        "the unit's agent is not the one holding the pid lock"
    );
    let ms: u64 = step(&said, "step: restarted and mounted in ")
        .trim_end_matches(" ms")
        .parse()
        .unwrap();
    // RestartSec=1, then the agent's start and restore.
    assert!(ms < 5000, "{ms} ms");
    assert!(said.contains("step: locked read refused"), "{said}");
    assert!(said.contains("step: served after unlock"), "{said}");
}

fn step<'a>(said: &'a str, prefix: &str) -> &'a str {
    said.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{said}"))
}
