//! Real AI-agent CLIs inside `openv guard`, as the non-root user `openv-test`, and the
//! profiles that loosen the guard: they need the human's proof, never from inside a
//! guard, and never open `OPENV_HOME`.
//!
//! Codex and Claude Code can't run a model session here (no network account), so what
//! runs is what they do offline: `codex sandbox` (Codex's own command runner) and
//! `claude --version`. That is enough to show the nesting measured in docs/guard.md:
//! Codex's bubblewrap sandbox cannot start inside a Landlock domain (Landlock denies
//! `mount(2)`), and with it off, Codex runs under the guard's rules.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;
#[path = "common/test_user.rs"]
mod test_user;

use common::client_bin;
use test_user::{can_run, home_for_user, setup_script, sh, text};

const CANARY: &str = "canary-0b7e-agents";

/// A vault, a project at `$D/p`, `~/.codex` and `~/.claude`, and a profile that makes
/// the agents' own state directories writable.
fn world(dir: &std::path::Path) {
    let out = sh(
        dir,
        &format!(
            r#"{}
mkdir -p "$D/p" "$D/.codex" "$D/.claude"
printf '# theirs\n' > "$D/.bashrc"
printf 'writable = ["~/.codex", "~/.claude"]\n' > "$D/p/agents.toml"
"#,
            setup_script(CANARY)
        ),
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// What the guarded command tries; `ok NAME` or `failed NAME` per attempt.
const INSIDE: &str = r#"
t() { if sh -c "$2" >/dev/null 2>&1; then echo "ok $1"; else echo "failed $1"; fi; }
t read-vault "cat $OPENV_HOME/vault.db"
t read-key "cat $D/key"
t write-bashrc "echo x >> $D/.bashrc"
t write-project "echo x > $D/p/out"
t write-codex-home "echo x > $D/.codex/state"
t list-names "openv var list -e dev"
grep NoNewPrivs /proc/self/status
"#;

#[test]
fn codex_runs_inside_the_guard_under_its_rules_and_its_bubblewrap_sandbox_cannot_nest() {
    if !can_run() {
        return;
    }
    let Some(codex) = client_bin("codex") else {
        return;
    };
    let (_t, dir) = home_for_user();
    world(&dir);
    let codex = codex.display();
    let inside = INSIDE.replace('\'', "'\\''");
    let out = sh(
        &dir,
        &format!(
            r#"cd "$D/p"
echo '--- off'
openv guard --profile agents.toml --keyfile "$D/key" -- {codex} sandbox -c 'sandbox_mode="danger-full-access"' -- sh -c '{inside}' 2>&1
echo '--- bwrap'
openv guard -- {codex} sandbox -- sh -c 'echo NESTED-RAN' 2>&1 && echo BWRAP-SUCCEEDED
echo '--- end'
"#
        ),
    );
    let t = text(&out);
    assert!(!t.contains(CANARY), "{t}");
    let off = t.split("--- off").nth(1).unwrap();
    let off = &off[..off.find("--- bwrap").unwrap()];
    for (attempt, want) in [
        ("read-vault", "failed"),
        ("read-key", "failed"),
        ("write-bashrc", "failed"),
        ("write-project", "ok"),
        ("write-codex-home", "ok"),
        ("list-names", "ok"),
    ] {
        assert!(
            off.contains(&format!("{want} {attempt}\n")),
            "{attempt} should be {want}: {t}"
        );
    }
    assert!(off.contains("NoNewPrivs:\t1"), "{t}");
    assert!(
        off.contains("loosens the defaults: writable"),
        "the terminal shows what the profile opens: {t}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(".bashrc")).unwrap(),
        "# theirs\n"
    );
    let bwrap = t.split("--- bwrap").nth(1).unwrap();
    assert!(
        !bwrap.contains("NESTED-RAN") && !bwrap.contains("BWRAP-SUCCEEDED"),
        "Landlock denies the mounts bubblewrap needs: {t}"
    );
    assert!(bwrap.contains("bwrap"), "{t}");
}

#[test]
fn claude_code_starts_inside_the_guard() {
    if !can_run() {
        return;
    }
    let Some(claude) = client_bin("claude") else {
        return;
    };
    let (_t, dir) = home_for_user();
    world(&dir);
    let out = sh(
        &dir,
        &format!(
            r#"cd "$D/p"
DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 openv guard --profile agents.toml --keyfile "$D/key" -- {} --version 2>&1
"#,
            claude.display()
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("Claude Code"), "{t}");
}

#[test]
fn a_loosening_profile_needs_the_human_outside_the_guard_and_never_opens_openv_home() {
    if !can_run() {
        return;
    }
    let (_t, dir) = home_for_user();
    world(&dir);
    let out = sh(
        &dir,
        &format!(
            r#"cd "$D/p"
printf 'readable = ["~/h"]\n' > "$D/p/home.toml"
echo '--- unproven'
setsid -w openv guard --profile agents.toml -- touch "$D/p/UNPROVEN" </dev/null 2>&1
echo '--- nested'
openv guard -- sh -c 'openv guard --profile agents.toml --keyfile "$D/key" -- touch "$D/p/NESTED"' </dev/null 2>&1
echo '--- home'
openv guard --profile home.toml --keyfile "$D/key" -- touch "$D/p/HOME" 2>&1
echo '--- pass'
printf 'a-passphrase-{CANARY}\n' > "$D/pass"
openv guard --passphrase-file "$D/pass" -- cat "$D/pass" 2>&1 || echo PASS-REFUSED
echo '--- end'
openv audit --limit 20
"#
        ),
    );
    let t = text(&out);
    for marker in ["UNPROVEN", "NESTED", "HOME"] {
        assert!(
            !dir.join("p").join(marker).exists(),
            "{marker} was started: {t}"
        );
    }
    let part = |name: &str| {
        let p = t.split(&format!("--- {name}\n")).nth(1).unwrap();
        p[..p.find("\n--- ").unwrap_or(p.len())].to_owned()
    };
    let unproven = part("unproven");
    assert!(
        unproven.contains("loosens the guard") && unproven.contains("--keyfile"),
        "{t}"
    );
    assert_eq!(
        unproven.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{t}"
    );
    assert!(
        part("nested").contains("inside `openv guard`"),
        "no proof counts from inside a guard: {t}"
    );
    assert!(part("home").contains("openv's own"), "{t}");
    let pass = part("pass");
    assert!(
        pass.contains("PASS-REFUSED") && !pass.contains(CANARY),
        "a passphrase file named for the proof is unreadable inside: {t}"
    );
    assert!(
        !part("end").contains("openv guard profile loosens"),
        "nothing was loosened, so nothing is recorded as loosened: {t}"
    );
}
