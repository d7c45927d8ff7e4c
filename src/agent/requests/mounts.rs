//! Mounts: create (after the checks on what is at the path), remove, list. Serving a
//! mount's opens is `reads/`; what it serves is `contents.rs`.

use std::path::{Path, PathBuf};

use openv_mount::{Mode, Mount, Placement};
use tracing::{info, warn};

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::Response;
use crate::mount_table::prepare::{self, Existing};
use crate::mount_table::{mode_name, parse_mode};

/// The path a mount is known by: the real directory (symlinks and `..` resolved) plus the
/// file name, so `./.env`, `link/.env` and the real path are one mount whichever client
/// asks. `None` when the directory cannot be resolved (for example it was removed).
fn mount_key(path: &Path) -> Option<PathBuf> {
    let (dir, name) = (path.parent()?, path.file_name()?);
    Some(dir.canonicalize().ok()?.join(name))
}

fn invalid_path(path: &Path, why: &str) -> AgentError {
    AgentError::invalid(format!("mount path {}: {why}", path.display()))
}

pub fn mount(
    st: &mut State,
    path: PathBuf,
    env: String,
    mode: &str,
    import: bool,
    source: crate::store::ValueSource,
) -> Result<Response, AgentError> {
    if !path.is_absolute() {
        return Err(invalid_path(&path, "give an absolute path"));
    }
    if path.file_name().is_none() {
        return Err(invalid_path(&path, "names no file"));
    }
    let path = mount_key(&path)
        .ok_or_else(|| invalid_path(&path, "its directory does not exist: create it first"))?;
    let mode = parse_mode(mode).ok_or_else(|| {
        AgentError::invalid(format!("unknown mode {mode:?}: use auto, fuse or fifo"))
    })?;
    if mode == Mode::Fuse && !openv_mount::fuse_available() {
        return Err(AgentError::mount(
            "FUSE is not usable here (/dev/fuse missing or not permitted): use --mode fifo, or install fuse3",
        ));
    }
    if let Some(e) = st.mounts.env_of(&path) {
        return Err(AgentError::mount(format!(
            "{} is already a mount of environment {e}: run `openv unmount {}` first",
            path.display(),
            path.parent().unwrap_or(&path).display()
        )));
    }
    let mut notes = Vec::new();
    let mut imported = Vec::new();
    // Stale FUSE mount left by a crashed agent: clear it before looking at the path.
    if openv_mount::clean_stale(&path).unwrap_or(false) {
        notes.push(format!("removed a stale mount at {}", path.display()));
    }
    let existing = prepare::inspect(&path);
    match existing {
        Existing::Other(what) => {
            return Err(AgentError::mount(format!(
                "{} is {what}: move it away or choose another --file",
                path.display()
            )));
        }
        Existing::Plaintext if !import => {
            return Err(AgentError::mount(format!(
                "{} is a plaintext file with content: run `openv mount --import -e {env}` to move its variables into {env} (the file is then removed), or move it away",
                path.display()
            )));
        }
        _ => {}
    }
    if let Some(note) = prepare::check_git(&path).map_err(AgentError::mount)? {
        notes.push(note);
    }
    if existing == Existing::Plaintext {
        // Importing removes the file: only a .env file, never a script or a source file
        // that happens to parse (whoever asks: the socket is open to every process).
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if !name.as_deref().is_some_and(crate::names::is_env_name) {
            return Err(invalid_path(
                &path,
                "--import takes a .env or .env.NAME file, and removes it; read another file with `openv import -e ENV FILE`, which leaves it in place",
            ));
        }
        let warnings;
        (imported, warnings) = super::variables::import_file(st, &env, &path, source)?;
        notes.extend(warnings);
        prepare::shred(&path).map_err(|e| {
            AgentError::mount(format!(
                "imported, but cannot remove {}: {e}",
                path.display()
            ))
        })?;
        notes.push(format!(
            "imported {} variable(s) into {env} and removed the plaintext file",
            imported.len()
        ));
    } else {
        // The environment must exist (an import creates it).
        st.vault()?.env_id(&env)?;
    }
    let placement = st.mounts.start(&path, &env, mode)?;
    if let Placement::InHiddenDir(d) = &placement {
        notes.push(format!(
            "{} could not take a file mount: it is a symlink into {}",
            path.display(),
            d.display()
        ));
    }
    let key = path.display().to_string();
    if let Err(e) = st
        .vault()
        .and_then(|v| v.record_mount(&key, &env, mode_name(mode)))
    {
        // Not recorded, not served: a retry must not find a mount already there.
        if let Some(m) = st.mounts.take(&path) {
            stop(st, m, &path);
        }
        return Err(e.into());
    }
    crate::agent::contents::refresh_path(st, &path, &env);
    info!(path = %key, env = %env, mode = mode_name(mode), "mounted");
    st.audit(
        Event::new(EventKind::Mount)
            .env(env.clone())
            .detail(format!("{key} ({})", mode_name(mode))),
    );
    Ok(Response::Mounted {
        path: key,
        mode: mode_name(mode).into(),
        notes,
        imported,
    })
}

pub fn unmount(st: &mut State, path: &Path) -> Result<Response, AgentError> {
    // A record whose directory is gone is still removable by the path it was made with.
    let path = &mount_key(path).unwrap_or_else(|| path.to_owned());
    let key = path.display().to_string();
    let recorded = st.vault()?.forget_mount(&key)?;
    let live = st.mounts.take(path);
    if live.is_none() && !recorded {
        return Err(AgentError::not_found(format!(
            "nothing is mounted at {key}: see `openv mounts`"
        )));
    }
    if let Some(m) = live {
        m.unmount()?;
    }
    unmounted(st, path);
    Ok(Response::Done)
}

pub fn list(st: &mut State) -> Response {
    Response::Mounts {
        mounts: st.mounts.list(),
    }
}

/// Unmounts a mount already taken out of the table (its record gone or going): a
/// failure is logged, and the path is cleaned and the unmount audited either way.
pub fn stop(st: &mut State, m: Mount, path: &Path) {
    if let Err(e) = m.unmount() {
        warn!(path = %path.display(), error = %e, "unmount failed");
    }
    unmounted(st, path);
}

fn unmounted(st: &mut State, path: &Path) {
    prepare::remove_placeholder(path);
    let key = path.display().to_string();
    info!(path = %key, "unmounted");
    st.audit(Event::new(EventKind::Unmount).detail(key));
}
