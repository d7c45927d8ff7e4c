//! Matching persistent rules against a reader. Deny rules win over allow rules.

use openv_mount::Reader;

use crate::store::rules::{Effect, Rule};

/// The first deny rule that matches, else the first allow rule, else nothing. An allow
/// rule covers a reader an AI agent started (`agent_started`) only if it says `agents`.
pub fn evaluate<'a>(
    rules: &'a [Rule],
    env: &str,
    reader: &Reader,
    now: i64,
    agent_started: bool,
) -> Option<&'a Rule> {
    let matching = |effect: Effect| {
        rules.iter().find(|r| {
            r.effect == effect
                && r.env == env
                && (effect == Effect::Deny || r.agents || !agent_started)
                && matches(r, reader, now)
        })
    };
    matching(Effect::Deny).or_else(|| matching(Effect::Allow))
}

fn matches(rule: &Rule, reader: &Reader, now: i64) -> bool {
    if rule.expires.is_some_and(|t| t <= now) {
        return false;
    }
    let Some(exe) = reader.exe.as_ref() else {
        return false;
    };
    if exe.as_os_str() != rule.exe.as_str() {
        return false;
    }
    match (&rule.cwd, &reader.cwd) {
        (None, _) => true,
        (Some(dir), Some(cwd)) => cwd.starts_with(dir),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn reader(exe: &str, cwd: &str) -> Reader {
        Reader {
            pid: 10,
            tid: 10,
            uid: 0,
            exe: Some(PathBuf::from(exe)),
            cmdline: vec![],
            cwd: Some(PathBuf::from(cwd)),
            start_time: 1,
            ppid: 1,
            parents: vec![],
            no_new_privs: false,
        }
    }

    fn rule(id: i64, effect: Effect, exe: &str, cwd: Option<&str>, expires: Option<i64>) -> Rule {
        Rule {
            id,
            env: "dev".into(),
            effect,
            exe: exe.into(),
            cwd: cwd.map(Into::into),
            expires,
            created: 0,
            agents: false,
        }
    }

    #[test]
    fn deny_beats_allow_and_scopes_apply() {
        let r = reader("/usr/bin/node", "/home/u/app/src");
        let rules = vec![
            rule(1, Effect::Allow, "/usr/bin/node", None, None),
            rule(2, Effect::Deny, "/usr/bin/node", Some("/home/u/app"), None),
        ];
        assert_eq!(
            evaluate(&rules, "dev", &r, 100, false).map(|r| r.id),
            Some(2)
        );
        assert_eq!(evaluate(&rules, "prod", &r, 100, false), None);
        let other = reader("/usr/bin/node", "/tmp");
        assert_eq!(
            evaluate(&rules, "dev", &other, 100, false).map(|r| r.id),
            Some(1)
        );
        let expired = vec![rule(3, Effect::Allow, "/usr/bin/node", None, Some(50))];
        assert_eq!(evaluate(&expired, "dev", &r, 100, false), None);
        // A path prefix is not a directory prefix.
        let sibling = reader("/usr/bin/node", "/home/u/app2");
        let scoped = vec![rule(
            4,
            Effect::Allow,
            "/usr/bin/node",
            Some("/home/u/app"),
            None,
        )];
        assert_eq!(evaluate(&scoped, "dev", &sibling, 100, false), None);
    }

    #[test]
    fn an_agent_started_reader_needs_a_rule_that_says_agents_and_deny_still_applies() {
        let r = reader("/usr/bin/node", "/home/u/app");
        let human_only = vec![rule(1, Effect::Allow, "/usr/bin/node", None, None)];
        assert_eq!(evaluate(&human_only, "dev", &r, 100, true), None);
        assert_eq!(
            evaluate(&human_only, "dev", &r, 100, false).map(|r| r.id),
            Some(1)
        );
        let mut for_agents = rule(2, Effect::Allow, "/usr/bin/node", None, None);
        for_agents.agents = true;
        let rules = vec![for_agents.clone()];
        assert_eq!(
            evaluate(&rules, "dev", &r, 100, true).map(|r| r.id),
            Some(2)
        );
        let deny = vec![
            rule(3, Effect::Deny, "/usr/bin/node", None, None),
            for_agents,
        ];
        assert_eq!(evaluate(&deny, "dev", &r, 100, true).map(|r| r.id), Some(3));
    }
}
