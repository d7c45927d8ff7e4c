//! Which program a command names: looked up in PATH like a shell does, then made
//! canonical (symlinks resolved), because the agent approves the file the kernel will
//! run (`/proc/PID/exe`), not the name typed.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProgramError {
    #[error("{0}: command not found in PATH")]
    NotFound(String),
    #[error("{0} is not an executable file")]
    NotExecutable(String),
    #[error("the path of {0} is not UTF-8: move the program to a UTF-8 path")]
    NotUtf8(String),
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The canonical path of the program `cmd` names. A name with a `/` is a path (relative
/// to `cwd`); anything else is searched in `path` (the PATH value).
pub fn resolve(cmd: &OsStr, path: Option<&OsStr>, cwd: &Path) -> Result<PathBuf, ProgramError> {
    let shown = || cmd.to_string_lossy().into_owned();
    let p = Path::new(cmd);
    let found = if cmd.as_encoded_bytes().contains(&b'/') {
        let p = cwd.join(p);
        if !executable(&p) {
            return Err(ProgramError::NotExecutable(shown()));
        }
        p
    } else if cmd.is_empty() {
        return Err(ProgramError::NotFound(shown()));
    } else {
        path.into_iter()
            .flat_map(std::env::split_paths)
            // An empty PATH entry means the current directory.
            .map(|d| {
                if d.as_os_str().is_empty() {
                    cwd.join(p)
                } else {
                    cwd.join(d).join(p)
                }
            })
            .find(|c| executable(c))
            .ok_or_else(|| ProgramError::NotFound(shown()))?
    };
    let canon = found
        .canonicalize()
        .map_err(|_| ProgramError::NotFound(shown()))?;
    if canon.to_str().is_none() {
        return Err(ProgramError::NotUtf8(shown()));
    }
    Ok(canon)
}

/// `resolve` with this process's PATH and working directory.
pub fn find(cmd: &OsStr) -> Result<PathBuf, ProgramError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    resolve(cmd, std::env::var_os("PATH").as_deref(), &cwd)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn path_search_and_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let real = t.path().join("real-tool");
        std::fs::write(&real, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        symlink(&real, bin.join("tool")).unwrap();
        std::fs::write(bin.join("data"), "").unwrap();
        let path = std::env::join_paths(["/nonexistent", bin.to_str().unwrap()]).unwrap();
        let got = resolve(OsStr::new("tool"), Some(&path), t.path()).unwrap();
        assert_eq!(got, real.canonicalize().unwrap());
        let e = resolve(OsStr::new("data"), Some(&path), t.path()).unwrap_err();
        assert_eq!(e.to_string(), "data: command not found in PATH");
        let got = resolve(OsStr::new("./real-tool"), None, t.path()).unwrap();
        assert_eq!(got, real.canonicalize().unwrap());
        let e = resolve(OsStr::new("bin/data"), None, t.path()).unwrap_err();
        assert!(e.to_string().contains("not an executable"), "{e}");
    }
}
