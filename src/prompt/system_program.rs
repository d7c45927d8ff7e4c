//! Which programs the agent may run to ask the human: only files that the user (and so an
//! AI agent running as the user) cannot replace. A pinentry sees every passphrase typed
//! into it and decides every click, so one first on a caller's `PATH` or named in a
//! user-writable `config.toml` would be the attacker's.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where pinentry programs are looked up, in order: root-owned system directories
/// (`/opt/homebrew/bin` for macOS). `PATH` is never used.
pub const SYSTEM_DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/bin", "/opt/homebrew/bin"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedProgram {
    #[error("pinentry {0} not found in {dirs}", dirs = SYSTEM_DIRS.join(", "))]
    NotFound(String),
    #[error("pinentry {0} does not exist or is not an executable file")]
    NotExecutable(String),
    #[error(
        "pinentry {path} is refused: {what} {at} {why}; use a pinentry installed in a system directory (owned by root, not writable by others) or remove `pinentry` from config.toml"
    )]
    Writable {
        path: String,
        what: &'static str,
        at: String,
        why: String,
    },
}

/// `program` as the agent may run it: a bare name is looked up in [`SYSTEM_DIRS`]; a
/// path must itself be trusted. Returns the canonical path, which is what must be run
/// (a symlink could be re-pointed after the check).
pub fn resolve(program: &Path) -> Result<PathBuf, UntrustedProgram> {
    if program.components().count() > 1 {
        return trusted(program);
    }
    SYSTEM_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .filter(|candidate| candidate.exists())
        .find_map(|candidate| trusted(&candidate).ok())
        .ok_or_else(|| UntrustedProgram::NotFound(program.display().to_string()))
}

/// The canonical path of `path` when it is an executable regular file owned by root and
/// not writable by group or others, in directories that are all the same (a sticky
/// directory, such as /tmp, may be writable by others: they cannot rename what root owns
/// in it).
pub fn trusted(path: &Path) -> Result<PathBuf, UntrustedProgram> {
    let shown = path.display().to_string();
    let not_exe = || UntrustedProgram::NotExecutable(shown.clone());
    let real = std::fs::canonicalize(path).map_err(|_| not_exe())?;
    let meta = std::fs::metadata(&real).map_err(|_| not_exe())?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(not_exe());
    }
    check_owner(&shown, "the program", &real, &meta, false)?;
    for dir in real.ancestors().skip(1) {
        let m = std::fs::metadata(dir).map_err(|_| not_exe())?;
        check_owner(&shown, "its directory", dir, &m, true)?;
    }
    Ok(real)
}

/// True when `dir` and every directory above it pass the same test as a program's
/// directories: only root can put a file there.
pub fn trusted_dir(dir: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(dir) else {
        return false;
    };
    real.ancestors().all(|d| {
        std::fs::metadata(d).is_ok_and(|m| m.is_dir() && check_owner("", "", d, &m, true).is_ok())
    })
}

fn check_owner(
    shown: &str,
    what: &'static str,
    at: &Path,
    meta: &std::fs::Metadata,
    is_dir: bool,
) -> Result<(), UntrustedProgram> {
    let mode = meta.permissions().mode();
    let sticky = is_dir && mode & 0o1000 != 0;
    let why = if meta.uid() != 0 {
        Some(format!("is owned by uid {}, not root", meta.uid()))
    } else if mode & 0o022 != 0 && !sticky {
        Some(format!(
            "is writable by group or others (mode {:o})",
            mode & 0o7777
        ))
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(UntrustedProgram::Writable {
            path: shown.to_owned(),
            what,
            at: at.display().to_string(),
            why,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_programs_are_trusted() {
        let sh = trusted(Path::new("/bin/sh")).expect("/bin/sh is root-owned");
        assert!(sh.is_absolute());
        assert!(resolve(Path::new("sh")).is_ok());
        assert!(matches!(
            resolve(Path::new("no-such-pinentry")),
            Err(UntrustedProgram::NotFound(_))
        ));
    }

    #[test]
    fn writable_programs_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pinentry");
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let e = trusted(&p).expect_err("world-writable");
        let msg = e.to_string();
        assert!(
            msg.contains("refused") && msg.contains("config.toml"),
            "{msg}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // Owned by the test's uid: trusted only when that is root.
        assert_eq!(trusted(&p).is_ok(), nix::unistd::geteuid().is_root());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod dir");
        let e = trusted(&p).expect_err("writable directory");
        assert!(e.to_string().contains("directory"), "{e}");
    }
}
