//! The audit record of one answered open.

use std::path::Path;

use openv_mount::Reader;
use tracing::debug;

use crate::approvals::describe;
use crate::audit::{Decision, Event, EventKind};

pub fn read_event(env: &str, reader: Reader, path: &Path, decision: Decision, rule: &str) -> Event {
    let chain = describe::chain(&reader);
    let exe = reader
        .exe
        .as_ref()
        .map_or_else(|| "?".to_owned(), |p| p.display().to_string());
    debug!(path = %path.display(), %env, pid = reader.pid, %exe, chain = %chain.join(" <- "), %rule, ?decision, "read");
    let mut ev = Event::new(EventKind::Read)
        .env(env)
        .pid(reader.pid)
        .exe(exe)
        .chain(chain)
        .decision(decision)
        .rule(rule)
        .detail(path.display().to_string());
    if let Some(c) = &reader.cwd {
        ev = ev.cwd(c.display().to_string());
    }
    ev
}
