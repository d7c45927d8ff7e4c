//! What can stop `openv guard` before it starts the command. Each message says what to do.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum GuardError {
    #[error(
        "this kernel's Landlock (ABI {abi}) lacks: {missing}; upgrade the kernel, or run `openv guard --allow-weaker` to start without them"
    )]
    Weaker { abi: u8, missing: String },
    #[error("cannot read the profile {path}: {source}")]
    ProfileRead {
        path: String,
        source: std::io::Error,
    },
    #[error("profile {path}: {message}")]
    Profile { path: String, message: String },
    #[error("profile {profile}: {path} does not exist: fix the path or remove it from the profile")]
    NoSuchPath { profile: String, path: String },
    #[error(
        "the profile loosens {path}, which is or holds openv's own files ({protected}): no profile opens the vault or a key file; remove it from the profile"
    )]
    Protected { path: String, protected: String },
    #[error("the profile loosens the guard ({what}): {why}; nothing was started")]
    Loosen { what: String, why: String },
    #[error("cannot find a home directory: set HOME")]
    NoHome,
    #[error("cannot use the project directory {path}: {source}")]
    Project {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot set up the Landlock domain: {0}")]
    Landlock(String),
    #[error("cannot drop the capabilities the command would inherit: {0}; nothing was started")]
    Capabilities(String),
}
