//! Where openv keeps its state, and the permission rules for it.
//!
//! `OPENV_HOME` moves everything (vault, config, socket, logs, pid file) into one
//! directory; without it the XDG data directory is used.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PathError {
    #[error("cannot find a home directory: set OPENV_HOME to a directory for openv's state")]
    NoHome,
    #[error("{what} {path} is accessible by other users (mode {mode:o}): run `chmod {fix} {path}`")]
    TooOpen {
        what: &'static str,
        path: String,
        mode: u32,
        fix: &'static str,
    },
    #[error(
        "{what} {path} belongs to uid {owner}, not to you (uid {me}): fix its owner or use another OPENV_HOME"
    )]
    WrongOwner {
        what: &'static str,
        path: String,
        owner: u32,
        me: u32,
    },
    #[error("cannot create {path}: {source}")]
    Create { path: String, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Stat { path: String, source: io::Error },
    #[error("socket path {0} is too long for a unix socket: use a shorter OPENV_HOME")]
    SocketTooLong(String),
}

/// All state locations for one OPENV_HOME.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `OPENV_HOME`, else `$XDG_DATA_HOME/openv`, else `~/.local/share/openv`.
    pub fn from_env() -> Result<Self, PathError> {
        if let Some(h) = std::env::var_os("OPENV_HOME").filter(|h| !h.is_empty()) {
            return Ok(Self::at(absolute(PathBuf::from(h))));
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
            return Ok(Self::at(PathBuf::from(x).join("openv")));
        }
        let home = std::env::var_os("HOME").ok_or(PathError::NoHome)?;
        Ok(Self::at(PathBuf::from(home).join(".local/share/openv")))
    }

    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn vault(&self) -> PathBuf {
        self.root.join("vault.db")
    }
    /// Automatic copies of the vault (and rescued views of a replaced one).
    pub fn backups(&self) -> PathBuf {
        self.root.join("backups")
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn socket(&self) -> PathBuf {
        self.run_dir().join("agent.sock")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.run_dir().join("agent.pid")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("agent.log")
    }

    /// Creates the state directories (0700) and checks they are ours and private.
    pub fn prepare(&self) -> Result<(), PathError> {
        for dir in [self.root.clone(), self.run_dir(), self.log_dir()] {
            ensure_private_dir(&dir)?;
        }
        let sock = self.socket();
        // sun_path is 108 bytes including the terminating NUL.
        if sock.as_os_str().len() > 107 {
            return Err(PathError::SocketTooLong(sock.display().to_string()));
        }
        Ok(())
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

/// Creates `dir` with mode 0700 if missing; refuses one that others can enter.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PathError> {
    match fs::metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| PathError::Create {
                    path: dir.display().to_string(),
                    source,
                })?;
            // `recursive` applies the mode to every level it creates, but a umask
            // may still have narrowed nothing; make the leaf exact.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|source| {
                PathError::Create {
                    path: dir.display().to_string(),
                    source,
                }
            })?;
        }
        Err(source) => {
            return Err(PathError::Stat {
                path: dir.display().to_string(),
                source,
            });
        }
    }
    check_private(dir, "directory", "700")
}

/// Refuses a file or directory that is not ours or that group/others can access.
pub fn check_private(path: &Path, what: &'static str, fix: &'static str) -> Result<(), PathError> {
    let meta = fs::metadata(path).map_err(|source| PathError::Stat {
        path: path.display().to_string(),
        source,
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(PathError::WrongOwner {
            what,
            path: path.display().to_string(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PathError::TooOpen {
            what,
            path: path.display().to_string(),
            mode,
            fix,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_creates_private_dirs_and_refuses_open_ones() {
        let t = tempfile::tempdir().expect("tempdir");
        let home = Home::at(t.path().join("h"));
        home.prepare().expect("prepare");
        let mode = fs::metadata(home.run_dir()).expect("stat").mode() & 0o777;
        assert_eq!(mode, 0o700);
        fs::set_permissions(home.root(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = home.prepare().expect_err("open dir refused").to_string();
        assert!(err.contains("chmod 700"), "{err}");
    }
}
