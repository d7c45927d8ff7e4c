//! Names whose value can become code: a variable that changes how a program starts or what
//! it loads (`NODE_OPTIONS=--require /tmp/x.js`, `LD_PRELOAD`, `BASH_ENV`, `PATH`). An AI
//! agent that could set one would run its own code inside the process the human approved,
//! with every value present. So a value for one of these names comes only from the human
//! with a proof (`agent::router` makes such writes human tier), and `openv run` and the
//! mount use a stored value of one only when its source is `human`.
//!
//! This file is the one list; `docs/security.md` repeats it for people.

use std::ffi::OsStr;

/// Matched as prefixes (`LD_PRELOAD`, `DYLD_INSERT_LIBRARIES`, `GIT_SSH_COMMAND`, ...).
const PREFIXES: [&str; 6] = [
    "LD_",
    "DYLD_",
    "GIT_",
    "npm_config_",
    "NPM_CONFIG_",
    "MALLOC_",
];

/// Matched whole.
const NAMES: [&str; 25] = [
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "RUBYLIB",
    "BASH_ENV",
    "ENV",
    "PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "SSH_ASKPASS",
    "GCONV_PATH",
    "PROMPT_COMMAND",
    "ELECTRON_RUN_AS_NODE",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "SHELLOPTS",
];

/// True when a value for `name` can change what code a program runs.
pub fn is_code_name(name: &str) -> bool {
    NAMES.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || crate::clean_env::is_loader_var(OsStr::new(name))
}

/// The names of `names` that can become code, in their order.
pub fn code_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| is_code_name(n))
        .map(str::to_owned)
        .collect()
}

/// Every entry, for the docs test and `openv status`: whole names, then prefixes with `*`.
pub fn listed() -> Vec<String> {
    NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(PREFIXES.iter().map(|p| format!("{p}*")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_list_is_covered() {
        for n in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "NODE_OPTIONS",
            "BASH_ENV",
            "PYTHONSTARTUP",
            "PATH",
            "GIT_SSH_COMMAND",
            "npm_config_script_shell",
            "NPM_CONFIG_PREFIX",
            "ELECTRON_RUN_AS_NODE",
        ] {
            assert!(is_code_name(n), "{n}");
        }
        for n in [
            "STRIPE_KEY",
            "DATABASE_URL",
            "NODE_ENV",
            "PATHNAME",
            "GITHUB_TOKEN",
        ] {
            assert!(!is_code_name(n), "{n}");
        }
    }
}
