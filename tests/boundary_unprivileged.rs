//! Rows 1, 4 and 8 of the boundary issue as a non-root user (`openv-test`): the agent,
//! the human and the attacker are all that uid, as on a developer's machine, and the
//! reader is `openv run` (no FUSE below root here). The canary never reaches the attacker.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;
#[path = "common/test_user.rs"]
mod test_user;

use common::require;
use test_user::{home_for_user, setup_script, sh as as_user, text};

const CANARY: &str = "canary-2e8a-unprivileged";

#[test]
fn a_non_root_attacker_gets_no_canary_from_an_inserted_rule_a_humans_rule_or_a_cli_write() {
    if !require(
        hostile::can_switch_user(),
        "root and the openv-test user (scripts/test.sh makes it)",
    ) {
        return;
    }
    let setup = setup_script(CANARY);

    // Row 1: an allow rule for printenv inserted with SQLite, then a restart.
    let (_t, dir) = home_for_user();
    let out = as_user(
        &dir,
        &format!(
            r#"{setup}
python3 - "$OPENV_HOME/vault.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO rules(env_id, effect, exe, created) SELECT id, 'allow', '/usr/bin/printenv', 0 FROM environments WHERE name = 'dev'")
db.commit()
PY
openv agent restart >/dev/null
openv unlock --keyfile "$D/key" >/dev/null
if openv run -e dev -- printenv API_KEY; then echo RUN-SUCCEEDED; fi
openv status || true
"#
        ),
    );
    let t1 = text(&out);
    assert!(!t1.contains(CANARY), "row 1 leaked: {t1}");
    assert!(!t1.contains("RUN-SUCCEEDED"), "{t1}");
    assert!(t1.contains("policy does not verify"), "{t1}");

    // Row 4: the human's rule for printenv; the agent's shell runs the same program.
    let (_t, dir) = home_for_user();
    let out = as_user(
        &dir,
        &format!(
            r#"{setup}
openv policy allow -e dev --exe printenv --keyfile "$D/key" >/dev/null
echo HUMAN-$(openv run -e dev --no-masking --keyfile "$D/key" -- printenv API_KEY)
"$D/codex" -c 'openv run -e dev -- printenv API_KEY && echo AGENT-SUCCEEDED' 2>&1 || true
"#
        ),
    );
    let t4 = text(&out);
    assert!(
        t4.contains(&format!("HUMAN-{CANARY}")),
        "the human's run is served: {t4}"
    );
    let agent_part = t4.split(&format!("HUMAN-{CANARY}")).nth(1).unwrap();
    assert!(!agent_part.contains(CANARY), "row 4 leaked: {t4}");
    assert!(!agent_part.contains("AGENT-SUCCEEDED"), "{t4}");
    assert!(
        agent_part.contains("AI agent"),
        "the refusal says why: {t4}"
    );

    // Row 8: a value set from the agent's shell is recorded as the agent's.
    let (_t, dir) = home_for_user();
    let out = as_user(
        &dir,
        &format!(
            r#"{setup}
"$D/codex" -c 'printf %s x | openv var set -e dev FROM_AGENT'
openv var list -e dev --json
"#
        ),
    );
    let t8 = text(&out);
    assert!(out.status.success(), "{t8}");
    let json_start = t8.find('[').or_else(|| t8.find('{')).unwrap();
    let v: serde_json::Value = serde_json::Deserializer::from_str(&t8[json_start..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let vars = v
        .as_array()
        .cloned()
        .or_else(|| v["variables"].as_array().cloned())
        .unwrap();
    let from_agent = vars.iter().find(|x| x["name"] == "FROM_AGENT").unwrap();
    assert_eq!(from_agent["source"], "agent", "{t8}");
    let api = vars.iter().find(|x| x["name"] == "API_KEY").unwrap();
    assert_eq!(api["source"], "cli", "{t8}");
}
