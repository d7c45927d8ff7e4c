//! The fixed environment the agent runs with, whoever starts it.
//!
//! The agent is the only process that holds decrypted values, so nothing its starter
//! chooses may shape what runs inside it or what it runs: no loader variables
//! (`LD_PRELOAD` would put the starter's code in the agent), no caller `PATH` (a fake
//! `pinentry-curses` first on it would see every passphrase), no `DBUS_SESSION_BUS_ADDRESS`
//! or `XDG_RUNTIME_DIR` of the caller's choosing (pinentry-gnome3 talks to its prompter
//! over the session bus). The agent checks its environment at start and, when it differs
//! from [`fixed`], re-executes `/proc/self/exe` with exactly that environment; the CLI
//! starts it with the same environment.
//!
//! What is kept, and why:
//! * `HOME`, `USER`, `LOGNAME`: from the password database for our uid, not the caller.
//! * `XDG_RUNTIME_DIR`: `/run/user/UID` when it exists and is ours (the session bus lives
//!   there); never the caller's value.
//! * `LANG`, `LANGUAGE`, `LC_*`: locale names only (a value with `/` names a locale
//!   directory of the caller's choosing and is dropped).
//! * `OPENV_HOME` (always set, to the resolved home), `OPENV_LOG`, `OPENV_LOG_FORMAT`
//!   (logging only) and `OPENV_PROMPT` (which prompter the agent uses).
//! * `PATH`: [`SYSTEM_PATH`], root-owned system directories.
//!
//! Display variables (`DISPLAY`, `WAYLAND_DISPLAY`, `XAUTHORITY`) are not kept: a prompt's
//! display is never the agent's own; the prompt code sets it per dialog from the surface
//! it chose, so whoever starts the agent cannot choose where prompts appear.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The agent's `PATH`: root-owned system directories only.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Passed through unchanged when present.
const KEPT: [&str; 4] = ["OPENV_LOG", "OPENV_LOG_FORMAT", "OPENV_PROMPT", "LANGUAGE"];

/// Variables that make the dynamic loader or libc run or load code the caller chose.
/// `LD_*` and `MALLOC_*` are matched as prefixes.
const LOADER_PREFIXES: [&str; 2] = ["LD_", "MALLOC_"];
const LOADER_NAMES: [&str; 8] = [
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "TZDIR",
    "GETCONF_DIR",
];

#[derive(Debug, thiserror::Error)]
pub enum CleanEnvError {
    #[error("the openv agent is being traced (by pid {0}): it refuses to run under a debugger")]
    Traced(i32),
    #[error("cannot restart the openv agent with a clean environment: {0}")]
    Exec(std::io::Error),
}

/// True for a variable that changes what code the loader or libc runs.
pub fn is_loader_var(name: &OsStr) -> bool {
    let name = name.as_bytes();
    LOADER_PREFIXES
        .iter()
        .any(|p| name.starts_with(p.as_bytes()))
        || LOADER_NAMES.iter().any(|n| name == n.as_bytes())
}

/// The agent's environment for home `home`, from the current process's variables.
pub fn fixed(home: &Path) -> Vec<(OsString, OsString)> {
    fixed_from(std::env::vars_os(), home)
}

/// [`fixed`] from given variables (for tests), sorted by name.
pub fn fixed_from(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    home: &Path,
) -> Vec<(OsString, OsString)> {
    let mut out: Vec<(OsString, OsString)> = vars.into_iter().filter(|(k, v)| kept(k, v)).collect();
    let me = nix::unistd::getuid();
    if let Ok(Some(user)) = nix::unistd::User::from_uid(me) {
        out.push(("HOME".into(), user.dir.into_os_string()));
        out.push(("USER".into(), user.name.clone().into()));
        out.push(("LOGNAME".into(), user.name.into()));
    }
    let runtime = Path::new("/run/user").join(me.as_raw().to_string());
    if std::fs::metadata(&runtime).is_ok_and(|m| m.is_dir() && m.uid() == me.as_raw()) {
        out.push(("XDG_RUNTIME_DIR".into(), runtime.into_os_string()));
    }
    out.push(("PATH".into(), SYSTEM_PATH.into()));
    out.push(("OPENV_HOME".into(), home.as_os_str().to_owned()));
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn kept(name: &OsStr, value: &OsStr) -> bool {
    let n = name.as_bytes();
    let locale = n == b"LANG" || n.starts_with(b"LC_") || n == b"LANGUAGE";
    if locale {
        return !value.as_bytes().contains(&b'/');
    }
    KEPT.iter().any(|k| n == k.as_bytes())
}

/// At agent start: returns when the environment is already [`fixed`]; otherwise replaces
/// the process with `/proc/self/exe` and the same arguments in the fixed environment
/// (same pid, so a service manager or a waiting CLI keeps track of it). Refuses to run
/// under a tracer, which a loader hook could have attached before `main`.
pub fn ensure(home: &Path) -> Result<(), CleanEnvError> {
    // First thing in each image (exec makes a process dumpable again): nobody may attach
    // from here on, and one attached already is refused below.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Some(tracer) = tracer() {
        return Err(CleanEnvError::Traced(tracer));
    }
    let mut current: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    current.sort();
    let want = fixed(home);
    if current == want {
        return Ok(());
    }
    // `fixed` is a fixed point, so the new image passes this check at once.
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(std::env::args_os().next().unwrap_or_else(|| "openv".into()))
        .args(std::env::args_os().skip(1))
        .env_clear()
        .envs(want)
        .exec();
    Err(CleanEnvError::Exec(err))
}

/// The pid tracing this process, if any.
fn tracer() -> Option<i32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&pid| pid != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn get<'a>(env: &'a [(OsString, OsString)], k: &str) -> Option<&'a OsStr> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_os_str())
    }

    #[test]
    fn only_the_allow_list_survives() {
        let home = Path::new("/tmp/h");
        let env = fixed_from(
            vars(&[
                ("LD_PRELOAD", "/tmp/hook.so"),
                ("LD_LIBRARY_PATH", "/tmp"),
                ("GLIBC_TUNABLES", "x"),
                ("MALLOC_CHECK_", "3"),
                ("PATH", "/tmp/evil:/usr/bin"),
                ("HOME", "/tmp/fakehome"),
                ("XDG_RUNTIME_DIR", "/tmp/evilrun"),
                ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/bus"),
                ("DISPLAY", ":9"),
                ("LANG", "C.UTF-8"),
                ("LC_ALL", "/tmp/locale"),
                ("OPENV_LOG", "debug"),
                ("OPENV_HOME", "/elsewhere"),
            ]),
            home,
        );
        for gone in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "GLIBC_TUNABLES",
            "MALLOC_CHECK_",
            "DBUS_SESSION_BUS_ADDRESS",
            "DISPLAY",
            "LC_ALL",
        ] {
            assert_eq!(get(&env, gone), None, "{gone} kept");
        }
        assert_eq!(get(&env, "PATH"), Some(OsStr::new(SYSTEM_PATH)));
        assert_eq!(get(&env, "OPENV_HOME"), Some(OsStr::new("/tmp/h")));
        assert_eq!(get(&env, "LANG"), Some(OsStr::new("C.UTF-8")));
        assert_eq!(get(&env, "OPENV_LOG"), Some(OsStr::new("debug")));
        assert_ne!(get(&env, "HOME"), Some(OsStr::new("/tmp/fakehome")));
        assert_ne!(
            get(&env, "XDG_RUNTIME_DIR"),
            Some(OsStr::new("/tmp/evilrun"))
        );
        assert!(env.iter().all(|(k, _)| !is_loader_var(k)));
    }

    #[test]
    fn fixed_is_a_fixed_point() {
        let home = Path::new("/tmp/h");
        let once = fixed_from(vars(&[("LANG", "C"), ("PATH", "/x")]), home);
        assert_eq!(fixed_from(once.clone(), home), once);
    }

    #[test]
    fn loader_names() {
        for n in ["LD_PRELOAD", "LD_AUDIT", "MALLOC_ARENA_MAX", "GCONV_PATH"] {
            assert!(is_loader_var(OsStr::new(n)), "{n}");
        }
        for n in ["HOME", "OLD_PATH", "XLD_PRELOAD"] {
            assert!(!is_loader_var(OsStr::new(n)), "{n}");
        }
    }
}
