//! What `var set`, `var list`, `openv check` and MCP say about values some readers
//! cannot take: the dialects (and their readers) each value is refused for.

use super::{Dialect, unreadable_by};
use crate::secret::SecretValue;
use crate::store::VarInfo;

/// A warning for `name` when some dialect cannot read `value`; names the readers that
/// will be denied the file, never the value.
pub fn warning(name: &str, value: &str) -> Option<String> {
    let refused = unreadable_by(value);
    if refused.is_empty() {
        return None;
    }
    let readers: Vec<&str> = refused.iter().map(|d| d.readers()).collect();
    Some(format!(
        "{name} cannot be read exactly by {}: openv denies them the file rather than serve it changed (see `openv check`)",
        readers.join("; ")
    ))
}

/// Fills each variable's `unreadable_by` from its value (the agent calls this while
/// unlocked; names and dialects only leave it).
pub fn annotate(vars: &mut [VarInfo], values: &[(String, SecretValue)]) {
    for v in vars {
        if let Some((_, value)) = values.iter().find(|(n, _)| *n == v.name) {
            v.unreadable_by = unreadable_by(value.expose())
                .into_iter()
                .map(Dialect::as_str)
                .map(str::to_owned)
                .collect();
        }
    }
}
