//! The systemd user unit that runs the agent under the service manager: started at login,
//! restarted after a crash, with an environment that no caller chose. `openv agent
//! install` writes and enables it; `openv agent uninstall` removes it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's file name.
pub const NAME: &str = "openv-agent.service";

/// Where the unit goes: `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
pub fn path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("systemd/user").join(NAME))
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{0} cannot be written into a systemd unit (it contains a newline or is not UTF-8): move it"
)]
pub struct Unquotable(String);

/// The unit text for `exe` (the installed openv) and, when given, `OPENV_HOME`.
///
/// Hardening is limited to what keeps FUSE working: every sandboxing option of a user
/// unit either implies `NoNewPrivileges=` (so the setuid `fusermount3` that mounts for a
/// non-root user fails) or runs the agent in a mount namespace of its own (so its mounts
/// are invisible to the user's processes). The agent hardens itself (no core dumps,
/// non-dumpable, umask 077) and re-executes with its fixed environment in any case.
pub fn text(exe: &Path, home: Option<&Path>) -> Result<String, Unquotable> {
    let mut env = String::new();
    if let Some(h) = home {
        env = format!(
            "Environment={}\n",
            quote(&format!("OPENV_HOME={}", plain(h)?))
        );
    }
    Ok(format!(
        "# Written by `openv agent install`; removed by `openv agent uninstall`.
[Unit]
Description=openv agent (holds the vault key, serves approved reads)

[Service]
Type=simple
ExecStart={exe} agent --foreground
{env}Restart=on-failure
RestartSec=1
TimeoutStopSec=15
UMask=0077
LimitCORE=0
KeyringMode=private

[Install]
WantedBy=default.target
",
        exe = quote(&plain(exe)?).replace('$', "$$"),
    ))
}

fn plain(p: &Path) -> Result<String, Unquotable> {
    match p.to_str() {
        Some(s) if !s.contains('\n') => Ok(s.to_owned()),
        _ => Err(Unquotable(p.display().to_string())),
    }
}

/// A double-quoted systemd word: `%` is a specifier, `\` and `"` are escapes.
fn quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

/// Runs `systemctl --user ARGS`; `Err` holds its message when it fails or is missing.
pub fn systemctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(err.lines().next().unwrap_or("failed").trim().to_owned())
}

/// Whether a systemd user manager answers; why not when it does not.
pub fn manager() -> Result<(), String> {
    systemctl(&["show-environment"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_systemd_would_expand() {
        let t = text(Path::new("/opt/o v/openv"), Some(Path::new("/h/100%\"x"))).expect("unit");
        assert!(
            t.contains("ExecStart=\"/opt/o v/openv\" agent --foreground"),
            "{t}"
        );
        assert!(
            t.contains("Environment=\"OPENV_HOME=/h/100%%\\\"x\""),
            "{t}"
        );
        assert!(text(Path::new("/a\nb"), None).is_err());
        assert!(
            !text(Path::new("/usr/bin/openv"), None)
                .expect("unit")
                .contains("Environment")
        );
    }
}
