//! `openv run` and `openv launch`: ask the agent for the values (approved like a read
//! of the mount, with the program to run as the subject), then start the program with
//! them in its environment. With a terminal (or `--no-masking`) openv execs the program
//! and is gone; when output is captured, a small proxy masks the values in it.

mod error;
pub mod exec;
pub use error::RunError;
pub mod mask;
pub mod program;
pub mod proxy;

use std::io::IsTerminal;
use std::os::fd::AsFd;

use crate::ipc::client::{Client, ClientError};
use crate::ipc::protocol::{Request, Response};
use crate::secret::SecretValue;
pub use exec::Launch;
pub use program::ProgramError;

/// Asks the agent for the values; `command` is the canonical program and its arguments.
pub async fn resolve(
    client: &mut Client,
    envs: Vec<String>,
    only: Option<Vec<String>>,
    command: Vec<String>,
) -> Result<Vec<(String, SecretValue)>, ClientError> {
    match client
        .call(&Request::Resolve {
            envs,
            only,
            command,
        })
        .await?
    {
        Response::Values { vars } => Ok(vars),
        _ => Err(ClientError::Unexpected("no values to a resolve")),
    }
}

/// Could something be capturing this stream? Not for a terminal (a person reads it) or
/// /dev/null (nobody does).
pub fn captured(fd: impl AsFd) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let fd = fd.as_fd();
    if fd.is_terminal() {
        return false;
    }
    let meta = fd
        .try_clone_to_owned()
        .and_then(|o| std::fs::File::from(o).metadata());
    match (meta, std::fs::metadata("/dev/null")) {
        (Ok(m), Ok(null)) => !(m.file_type().is_char_device() && m.rdev() == null.rdev()),
        _ => true,
    }
}

/// Starts the program: exec when no stream needs masking (returns only on failure),
/// else the masking proxy, which returns the program's exit code.
pub async fn start(launch: &Launch<'_>, masking: bool) -> Result<i32, RunError> {
    let streams = proxy::Streams {
        stdout: masking && captured(std::io::stdout()),
        stderr: masking && captured(std::io::stderr()),
    };
    let patterns = if streams.stdout || streams.stderr {
        mask::Patterns::new(launch.secrets.iter().map(|(_, v)| v.expose()))
    } else {
        None
    };
    match patterns {
        None => Err(exec::exec(launch.command(), launch.program)),
        Some(p) => proxy::run(launch.command(), p, streams).await,
    }
}
