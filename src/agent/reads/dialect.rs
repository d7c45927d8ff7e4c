//! The `.env` dialect of the process behind an open, and the record of a read refused
//! because that dialect cannot hold a value.

use std::path::Path;

use openv_mount::OpenRequest;

use crate::agent::state::State;
use crate::render::{Dialect, Refusal};

/// The dialect `req`'s reader parses `.env` in; node's command line is loaded for it.
pub fn of_reader(req: &mut OpenRequest) -> Dialect {
    if req
        .reader
        .exe
        .as_deref()
        .is_some_and(crate::render::needs_cmdline)
    {
        req.load_details();
    }
    // The mount's directory is its project: its openv.toml and package.json count.
    let dir = req.path.parent();
    let explicit = dir.and_then(|d| explicit_render(d, &req.path));
    match req.reader.exe.as_deref() {
        Some(exe) => crate::render::choose_dialect(exe, &req.reader.cmdline, dir, explicit),
        None => explicit.unwrap_or(Dialect::Common),
    }
}

/// `render = "..."` of the `[[mount]]` for `mount` in `dir/openv.toml`. A file that does
/// not parse gives none: `openv up` reports its errors.
fn explicit_render(dir: &Path, mount: &Path) -> Option<Dialect> {
    let file = dir.join(crate::project::FILE_NAME);
    if !file.is_file() {
        return None;
    }
    let project = crate::project::Project::load(&file).ok()?;
    project
        .mounts
        .iter()
        .find(|m| m.path == mount || m.path.canonicalize().ok().as_deref() == Some(mount))
        .and_then(|m| m.render)
}

/// Keeps the last few refusals for `openv status` (names and dialects, never values).
pub fn note_refused(st: &mut State, req: &OpenRequest, refusal: &Refusal) {
    const KEEP: usize = 8;
    let exe = req
        .reader
        .exe
        .as_ref()
        .map_or_else(|| "?".to_owned(), |p| p.display().to_string());
    let line = format!(
        "{} {exe} (pid {}) denied {}: {refusal}",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        req.reader.pid,
        req.path.display()
    );
    if st.refused_reads.len() == KEEP {
        st.refused_reads.pop_front();
    }
    st.refused_reads.push_back(line);
}
