//! Rows 2 and 3 of the boundary issue as a non-root user (`openv-test`): the agent edits
//! `config.toml` to widen access and rewrites the audit log to hide its reads and MCP calls,
//! with that user's rights only. Neither is honoured or goes unnoticed, each report names
//! what the human must do, and the canary never reaches the attacker.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;
#[path = "common/test_user.rs"]
mod test_user;

use serde_json::json;
use test_user::{can_run, home_for_user, setup_script, sh, text};

const CANARY: &str = "canary-7d41-state";

/// Row 2: what an agent that edits config.toml writes.
const WIDENING: &str =
    "ai_agents = []\nexe_grant = \"3650d\"\nidle_lock = \"3650d\"\nprompt_rate_limit = 100000\n";

#[test]
fn row2_a_widened_config_toml_is_ignored_reported_and_the_agent_still_flagged() {
    if !can_run() {
        return;
    }
    let (_t, dir) = home_for_user();
    let setup = setup_script(CANARY);
    let out = sh(
        &dir,
        &format!(
            r#"{setup}
openv policy allow -e dev --exe printenv --keyfile "$D/key" >/dev/null
printf '%s' '{WIDENING}' > "$OPENV_HOME/config.toml"
openv agent restart >/dev/null
openv unlock --keyfile "$D/key" >/dev/null
echo '--- status'
openv status --json
echo '--- get'
for k in ai_agents exe_grant idle_lock prompt_rate_limit; do openv config get $k; done
echo '--- set'
setsid -w openv config set exe_grant 3650d </dev/null 2>&1 && echo SET-SUCCEEDED
setsid -w openv config set ai_agents '' </dev/null 2>&1 && echo SET-SUCCEEDED
echo '--- agent'
"$D/codex" -c 'openv run -e dev -- printenv API_KEY && echo AGENT-SUCCEEDED' 2>&1 || true
echo '--- end'
openv config get exe_grant
"#
        ),
    );
    let t = text(&out);
    assert!(!t.contains(CANARY), "row 2 leaked: {t}");
    assert!(!t.contains("SET-SUCCEEDED"), "{t}");
    assert!(!t.contains("AGENT-SUCCEEDED"), "{t}");

    let status_json = t.split("--- status").nth(1).unwrap();
    let status_json = &status_json[..status_json.find("--- get").unwrap()];
    let st: serde_json::Value = serde_json::from_str(status_json.trim()).unwrap();
    let warnings: Vec<String> = st["settings_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    for key in ["exe_grant", "idle_lock", "prompt_rate_limit"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(key) && w.contains(&format!("openv config set {key}"))),
            "{key} not reported: {warnings:?}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("ai_agents") && w.contains("codex")),
        "{warnings:?}"
    );
    assert_eq!(st["idle_lock_secs"], json!(8 * 3600), "{st}");

    let get = t.split("--- get").nth(1).unwrap();
    let get = &get[..get.find("--- set").unwrap()];
    assert!(get.contains("codex"), "built-in agent names stay: {get}");
    assert_eq!(
        get.matches("(default)").count(),
        4,
        "agent names, grant, idle lock and rate limit keep their defaults: {get}"
    );

    let set = t.split("--- set").nth(1).unwrap();
    let set = &set[..set.find("--- agent").unwrap()];
    assert!(
        set.contains("security setting") && set.contains("--keyfile"),
        "the refusal says how the human sets it: {set}"
    );

    let agent = t.split("--- agent").nth(1).unwrap();
    assert!(agent.contains("AI agent"), "still flagged: {t}");
    let end = t.split("--- end").nth(1).unwrap();
    assert!(end.contains("(default)"), "nothing widened: {end}");
}

/// The attacker's rewrite, in Python as the test user: drops the lines whose kind is in
/// `drop`, renumbers and recomputes every `prev`, so the unkeyed chain holds.
const REWRITE: &str = r#"
import hashlib, json, sys
path, drop = sys.argv[1], set(sys.argv[2].split(','))
out, prev, changed = [], '0' * 64, False
for raw in open(path).read().splitlines():
    l = json.loads(raw)
    if l['kind'] in drop:
        changed = True
        continue
    if changed:
        l['seq'] = len(out) + 1
        l['prev'] = prev
        line = json.dumps(l, separators=(',', ':')) + '\n'
    else:
        line = raw + '\n'
    prev = hashlib.sha256(line.encode()).hexdigest()
    out.append(line)
open(path, 'w').write(''.join(out))
"#;

#[test]
fn row3_a_rewritten_shortened_or_cut_audit_log_is_named_by_verify() {
    if !can_run() {
        return;
    }
    let (_t, dir) = home_for_user();
    let setup = setup_script(CANARY);
    // The human's rule and runs (reads), the agent's MCP calls, sealed by lock/unlock.
    let out = sh(
        &dir,
        &format!(
            r#"{setup}
mkdir "$D/p"
openv policy allow -e dev --exe printenv --keyfile "$D/key" >/dev/null
openv lock >/dev/null
openv unlock --keyfile "$D/key" >/dev/null
for i in 1 2 3; do openv run -e dev --keyfile "$D/key" -- printenv API_KEY >/dev/null; done
"#
        ),
    );
    assert!(out.status.success(), "{}", text(&out));
    let project = dir.join("p");
    let mut m = test_user::mcp(&dir, &project);
    m.call_ok("list_environments", json!({}));
    m.call_ok("list_variables", json!({"environment": "dev"}));
    m.close();
    let log = dir.join("h/audit/audit.jsonl");
    let before = std::fs::read_to_string(&log).unwrap();
    assert!(before.contains("\"kind\":\"run\""), "{before}");
    assert!(before.contains("\"kind\":\"mcp_call\""), "{before}");

    let out = sh(
        &dir,
        &format!(
            r#"openv lock >/dev/null
openv unlock --keyfile "$D/key" >/dev/null
openv audit verify
cp "$OPENV_HOME/audit/audit.jsonl" "$D/audit.orig"
cat > "$D/rewrite.py" <<'PY'
{REWRITE}
PY
python3 "$D/rewrite.py" "$OPENV_HOME/audit/audit.jsonl" run,mcp_call,launch
echo '--- offline'
openv audit verify --offline 2>&1
echo '--- rewritten'
openv audit verify 2>&1 && echo VERIFIED
echo '--- shortened'
n=$(grep -n '"kind":"seal"' "$D/audit.orig" | tail -n 1 | cut -d: -f1)
head -n $((n - 1)) "$D/audit.orig" > "$OPENV_HOME/audit/audit.jsonl"
openv audit verify 2>&1 && echo VERIFIED
echo '--- cut'
head -c $(( $(wc -c < "$D/audit.orig") / 2 )) "$D/audit.orig" > "$OPENV_HOME/audit/audit.jsonl"
openv audit verify 2>&1 && echo VERIFIED
echo '--- end'
"#
        ),
    );
    let t = text(&out);
    assert!(!t.contains(CANARY), "{t}");
    let part = |name: &str| {
        let p = t.split(&format!("--- {name}")).nth(1).unwrap();
        p[..p.find("\n--- ").unwrap_or(p.len())].to_owned()
    };
    let intact = &t[..t.find("--- offline").unwrap()];
    assert!(intact.contains("audit log intact"), "sealed and whole: {t}");
    assert!(
        part("offline").contains("hash chain intact"),
        "the rewrite fools the unkeyed chain, as a same-uid attacker can: {t}"
    );
    let rewritten = part("rewritten");
    assert!(!rewritten.contains("VERIFIED"), "{t}");
    assert!(
        rewritten.contains("rewritten")
            && rewritten.contains("first event it can no longer vouch for is seq"),
        "{t}"
    );
    let shortened = part("shortened");
    assert!(
        !shortened.contains("VERIFIED") && shortened.contains("shortened"),
        "{t}"
    );
    let cut = part("cut");
    assert!(
        !cut.contains("VERIFIED") && cut.contains("cut short"),
        "{t}"
    );
    // The MCP transcript never held the value either.
    assert!(!before.contains(CANARY));
}
