//! Built-in deny rules: readers denied in every environment before any rule, grant or
//! prompt is consulted, unless the human lifted the rule for that executable.
//!
//! `git` is the one today: `git add -A`, `git diff` or `git stash` on a project would copy a
//! mounted `.env`'s plaintext into the object store (and from there to a remote). A read by
//! git is never what the user meant, so it is refused without a prompt.
//!
//! Lifting: an allow rule for the executable, which the agent adds only when the request
//! sets its `lift_builtin` field (`openv policy allow --exe git --lift-builtin`). That field
//! is the one place a later proof of the human attaches to.

use std::path::Path;

use openv_mount::Reader;

use crate::store::rules::{Effect, Rule};

/// Why `exe` is denied by a built-in rule, if it is.
#[must_use]
pub fn denies(exe: &Path) -> Option<&'static str> {
    let name = exe.file_name()?.to_str()?;
    // git itself, and its helpers (`git-core/git-upload-pack`, `git-remote-https`, ...).
    let git = name == "git"
        || name.starts_with("git-")
        || exe.components().any(|c| c.as_os_str() == "git-core");
    git.then_some("git (built-in deny: git would copy the plaintext into the repository)")
}

/// The built-in denial of `reader` in `env`, unless an allow rule for its executable (added
/// with `lift_builtin`) lifts it. Deny rules are left to the ordinary evaluation.
#[must_use]
pub fn check(rules: &[Rule], env: &str, reader: &Reader, now: i64) -> Option<String> {
    let exe = reader.exe.as_deref()?;
    let why = denies(exe)?;
    let lifted = rules.iter().any(|r| {
        r.effect == Effect::Allow
            && r.env == env
            && r.exe.as_str() == exe.as_os_str()
            && r.expires.is_none_or(|t| t > now)
    });
    (!lifted).then(|| {
        format!(
            "{why}; to lift it: openv policy allow -e {env} --exe {} --lift-builtin",
            exe.display()
        )
    })
}

/// Refuses an allow rule for a built-in-denied executable unless the request lifts it.
///
/// # Errors
/// The one-line message that says how to lift it.
pub fn check_allow(effect: Effect, exe: &str, lift_builtin: bool) -> Result<(), String> {
    match denies(Path::new(exe)) {
        Some(why) if effect == Effect::Allow && !lift_builtin => Err(format!(
            "{exe} is denied by a built-in rule: {why}; add --lift-builtin to allow it anyway"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn reader(exe: &str) -> Reader {
        Reader {
            pid: 10,
            tid: 10,
            uid: 0,
            exe: Some(PathBuf::from(exe)),
            cmdline: vec![],
            cwd: None,
            start_time: 1,
            ppid: 1,
            parents: vec![],
            no_new_privs: false,
        }
    }

    fn allow(exe: &str, expires: Option<i64>) -> Rule {
        Rule {
            id: 1,
            env: "dev".into(),
            effect: Effect::Allow,
            exe: exe.into(),
            cwd: None,
            expires,
            created: 0,
            agents: false,
        }
    }

    #[test]
    fn git_and_its_helpers_are_denied_until_lifted() {
        for exe in [
            "/usr/bin/git",
            "/usr/lib/git-core/git-upload-pack",
            "/usr/lib/git-core/git",
            "/usr/local/bin/git-remote-https",
        ] {
            assert!(check(&[], "dev", &reader(exe), 100).is_some(), "{exe}");
        }
        for exe in ["/usr/bin/cat", "/usr/bin/gitk2", "/usr/bin/legit"] {
            assert_eq!(check(&[], "dev", &reader(exe), 100), None, "{exe}");
        }
        let git = reader("/usr/bin/git");
        assert_eq!(
            check(&[allow("/usr/bin/git", None)], "dev", &git, 100),
            None
        );
        // Only in that environment, and not once the rule expired.
        assert!(check(&[allow("/usr/bin/git", None)], "prod", &git, 100).is_some());
        assert!(check(&[allow("/usr/bin/git", Some(50))], "dev", &git, 100).is_some());
    }

    #[test]
    fn an_allow_rule_for_git_needs_the_lift() {
        assert!(check_allow(Effect::Allow, "/usr/bin/git", false).is_err());
        assert!(check_allow(Effect::Allow, "/usr/bin/git", true).is_ok());
        assert!(check_allow(Effect::Deny, "/usr/bin/git", false).is_ok());
        assert!(check_allow(Effect::Allow, "/usr/bin/cat", false).is_ok());
    }
}
