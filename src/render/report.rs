//! What `var set` and MCP say about values some readers cannot take: the dialects (and
//! their readers) each value is refused for.

use super::{Dialect, unreadable_by};

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

/// The names of the dialects that cannot read `value` exactly, for `var list` and MCP.
pub fn unreadable_names(value: &str) -> Vec<String> {
    unreadable_by(value)
        .into_iter()
        .map(Dialect::as_str)
        .map(str::to_owned)
        .collect()
}
