//! Is the process at the other end of the socket genuine openv?
//!
//! Any process of the user can remove `run/agent.sock` and listen there itself; a client
//! that then sends a passphrase or a value would hand it over. So before a request that
//! carries one, the client asks the kernel who is listening (`SO_PEERCRED`: the pid
//! comes from the socket, never from the agent's greeting) and compares that process's
//! executable with its own: the same file (device and inode) as `/proc/self/exe`, or an
//! `openv` installed by root (root-owned, in root-owned directories). The agent makes the
//! same comparison for `openv run` ([`same_binary`]).
//!
//! The kernel hides the executable of a non-dumpable process (the agent is one) from an
//! unprivileged process of the same user. There the client checks what it can see: the
//! peer is non-dumpable (its `/proc` files belong to root), holds this home's agent lock,
//! and runs `openv agent`. A fake that imitates all three passes; see docs/security.md.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::protocol::Request;
use crate::paths::Home;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(
        "refused to send a secret: the process behind {socket} is not openv ({what}); another program is listening in the agent's place: stop it (pid {pid}), then run `openv agent restart`"
    )]
    NotGenuine {
        socket: String,
        pid: i32,
        what: String,
    },
    #[error(
        "refused to send a secret: cannot tell which process is behind {socket} ({why}): run `openv agent restart`"
    )]
    Unknown { socket: String, why: String },
}

/// Requests that carry a passphrase, a key file or a value into the agent.
pub fn carries_secret(req: &Request) -> bool {
    matches!(
        req,
        Request::Init { .. }
            | Request::Unlock { .. }
            | Request::VarSet { .. }
            | Request::VarSetMany { .. }
            | Request::Prove { .. }
            | Request::Restore { .. }
            | Request::RemoteAdd { .. }
    )
}

/// How `pid`'s executable compares with ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binary {
    /// The same file as `/proc/self/exe`, or a root-installed `openv`.
    Genuine,
    /// Another program: its path.
    Other(String),
    /// The kernel does not show it to us (a non-dumpable process, and we are not root).
    Hidden,
}

/// Compares `/proc/PID/exe` with `/proc/self/exe` by device and inode.
pub fn same_binary(pid: i32) -> io::Result<Binary> {
    let exe = format!("/proc/{pid}/exe");
    let theirs = match std::fs::metadata(&exe) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(Binary::Hidden),
        Err(e) => return Err(e),
    };
    let ours = std::fs::metadata("/proc/self/exe")?;
    if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
        return Ok(Binary::Genuine);
    }
    let path = std::fs::read_link(&exe).unwrap_or_else(|_| PathBuf::from("?"));
    let installed = path.file_name().is_some_and(|n| n == "openv")
        && crate::prompt::system_program::trusted(&path).is_ok_and(|real| {
            std::fs::metadata(real)
                .is_ok_and(|m| (m.dev(), m.ino()) == (theirs.dev(), theirs.ino()))
        });
    Ok(if installed {
        Binary::Genuine
    } else {
        Binary::Other(path.display().to_string())
    })
}

fn same_file(a: impl AsRef<Path>, b: impl AsRef<Path>) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Checks that `pid`, the process listening on `home`'s socket, is the genuine agent
/// ([`same_binary`]), or runs `also` (a binary an embedding program names).
pub fn check_agent(home: &Home, pid: Option<i32>, also: Option<&Path>) -> Result<(), PeerError> {
    let socket = home.socket().display().to_string();
    let Some(pid) = pid else {
        return Err(PeerError::Unknown {
            socket,
            why: "no peer credentials".into(),
        });
    };
    let not_genuine = |what: String| PeerError::NotGenuine {
        socket: socket.clone(),
        pid,
        what,
    };
    match same_binary(pid) {
        Ok(Binary::Genuine) => Ok(()),
        Ok(Binary::Other(_)) if also.is_some_and(|a| same_file(format!("/proc/{pid}/exe"), a)) => {
            Ok(())
        }
        Ok(Binary::Other(path)) => Err(not_genuine(path)),
        Ok(Binary::Hidden) => hidden_agent(home, pid).map_err(not_genuine),
        Err(e) => Err(PeerError::Unknown {
            socket: socket.clone(),
            why: e.to_string(),
        }),
    }
}

/// What an unprivileged client can check of a non-dumpable peer.
fn hidden_agent(home: &Home, pid: i32) -> Result<(), String> {
    // The kernel gives a non-dumpable process's /proc files (not its directory) to root.
    let status = std::fs::metadata(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    if status.uid() != 0 {
        // Dumpable after all: the exe was hidden for another reason.
        return Err("its executable cannot be read".into());
    }
    if crate::agent::pidlock::running_pid(home) != Some(pid) && !lock_hidden_by_guard(home) {
        return Err("it does not hold the agent's lock".into());
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|e| e.to_string())?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let named = args
        .first()
        .and_then(|a| std::path::Path::new(std::str::from_utf8(a).ok()?).file_name())
        .is_some_and(|n| n == "openv");
    if !named || args.get(1) != Some(&b"agent".as_slice()) {
        return Err("it is not running `openv agent`".into());
    }
    Ok(())
}

/// Inside `openv guard` (`NoNewPrivs`, Landlock) `OPENV_HOME` is out of reach, the
/// agent's lock included. The check can go without it there: nothing inside the guard
/// can make a socket in `OPENV_HOME` either (Landlock's `MAKE_SOCK`), so the listener
/// was put there from outside, where the lock is checked. Only a kernel sandbox refuses
/// a regular file of ours whose mode lets us read it: a `chmod` by a process outside
/// (to make a fake agent pass) shows in the mode and keeps the check.
fn lock_hidden_by_guard(home: &Home) -> bool {
    let path = home.pid_file();
    let readable = std::fs::metadata(&path).is_ok_and(|m| {
        m.is_file() && m.uid() == nix::unistd::getuid().as_raw() && m.mode() & 0o400 != 0
    });
    readable
        && openv_mount::no_new_privs_of(std::process::id() as i32) == Some(true)
        && std::fs::File::open(&path).is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_are_our_own_binary() {
        let me = std::process::id() as i32;
        assert_eq!(same_binary(me).expect("own exe"), Binary::Genuine);
        // pid 1 runs something else (or is hidden from a non-root test).
        assert_ne!(same_binary(1).expect("pid 1"), Binary::Genuine);
    }
}
