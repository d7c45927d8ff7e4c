//! The `.env` dialect of the process behind an open, and the record of a read refused
//! because that dialect cannot hold a value.

use openv_mount::OpenRequest;

use crate::agent::state::State;
use crate::render::{Dialect, Refusal};

/// The dialect `req`'s reader parses `.env` in; node's command line is loaded for it.
/// The mount's directory is its project: what its openv.toml and package.json say comes
/// from the mount table's cached hints, so no file is read here.
pub fn of_reader(st: &mut State, req: &mut OpenRequest) -> Dialect {
    if req
        .reader
        .exe
        .as_deref()
        .is_some_and(crate::render::needs_cmdline)
    {
        req.load_details();
    }
    let Some(hints) = st.mounts.hints_of(&req.path) else {
        return Dialect::Common;
    };
    let explicit = hints.render();
    match req.reader.exe.as_deref() {
        Some(exe) => {
            crate::render::choose_dialect(exe, &req.reader.cmdline, explicit, || hints.package())
        }
        None => explicit.unwrap_or(Dialect::Common),
    }
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
