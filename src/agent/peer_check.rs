//! Who may receive values: a `Resolve` names the program that will get them, but the
//! values go to the process on the socket. So that process must be genuine `openv run`
//! (the same executable as this agent), started without loader variables (which would
//! put other code inside it) and not traced. Anything else is refused before any rule,
//! grant or prompt is consulted, and the audit line names the real peer and why.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use openv_mount::Reader;

use super::error::AgentError;
use super::state::{Shared, with_state};
use crate::approvals::describe;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::peer::{Binary, same_binary};
use crate::prompt::system_program::trusted_dir;

/// `Ok` when `peer` may receive the values of `envs`; otherwise the refusal is audited
/// and returned as the error the client sees.
pub async fn resolve_peer(
    state: &Shared,
    peer: &Reader,
    envs: &[String],
    cid: &str,
) -> Result<(), AgentError> {
    let Err(why) = genuine_runner(peer) else {
        return Ok(());
    };
    let mut ev = Event::new(EventKind::Run)
        .env(envs.join(","))
        .pid(peer.pid)
        .chain(describe::chain(peer))
        .decision(Decision::Denied)
        .rule(format!("refused: {why}"))
        .cid(cid);
    if let Some(e) = &peer.exe {
        ev = ev.exe(e.display().to_string());
    }
    with_state(state, move |st| st.audit(ev)).await?;
    tracing::warn!(
        peer_pid = peer.pid,
        "refused values to a process that is not openv run: {why}"
    );
    Err(AgentError::denied(format!(
        "refused: {why}; values are given only to `openv run` and `openv launch`"
    )))
}

/// `LD_LIBRARY_PATH` naming only directories that root alone can write adds no code the
/// system does not already trust (cargo sets one for the programs it runs).
fn system_libraries(name: &OsStr, value: &OsStr) -> bool {
    name == "LD_LIBRARY_PATH"
        && !value.is_empty()
        && value
            .as_bytes()
            .split(|b| *b == b':')
            .all(|d| !d.is_empty() && trusted_dir(Path::new(OsStr::from_bytes(d))))
}

/// Why `peer` is not a clean, genuine openv process.
fn genuine_runner(peer: &Reader) -> Result<(), String> {
    let pid = peer.pid;
    match same_binary(pid) {
        Ok(Binary::Genuine) => {}
        Ok(Binary::Other(path)) => return Err(format!("the asking process {path} is not openv")),
        Ok(Binary::Hidden) | Err(_) => {
            return Err(format!(
                "the executable of the asking process (pid {pid}) cannot be read"
            ));
        }
    }
    let environ = std::fs::read(format!("/proc/{pid}/environ"))
        .map_err(|e| format!("cannot read the environment of the asking process: {e}"))?;
    let loaders: Vec<String> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let at = kv.iter().position(|b| *b == b'=')?;
            let (name, value) = (
                OsStr::from_bytes(&kv[..at]),
                OsStr::from_bytes(&kv[at + 1..]),
            );
            (crate::clean_env::is_loader_var(name) && !system_libraries(name, value))
                .then(|| name.to_string_lossy().into_owned())
        })
        .collect();
    if !loaders.is_empty() {
        return Err(format!(
            "the asking openv was started with {} set",
            loaders.join(", ")
        ));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read the status of the asking process: {e}"))?;
    let tracer = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .map(str::trim)
        .unwrap_or("0");
    if tracer != "0" {
        return Err(format!(
            "the asking openv is being traced (by pid {tracer})"
        ));
    }
    Ok(())
}
