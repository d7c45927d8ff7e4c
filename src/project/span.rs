//! Errors in hand-written TOML files (openv.toml, mcp-servers.toml) that point to the
//! line and the key, in one line: the `toml` crate's own message spans several lines
//! and quotes the source.

use std::ops::Range;

/// Where a problem is: 1-based line (0 when unknown) and the dotted key on that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub key: String,
}

/// The line and key at byte offset `at` of `text`.
pub fn locate(text: &str, span: Option<Range<usize>>) -> Location {
    let Some(span) = span else {
        return Location {
            line: 0,
            key: String::new(),
        };
    };
    let at = span.start.min(text.len());
    let line = text[..at].matches('\n').count() + 1;
    let this = text.lines().nth(line - 1).unwrap_or_default().trim();
    if let Some(h) = header(this) {
        return Location { line, key: h };
    }
    let own = this
        .split_once('=')
        .map(|(k, _)| unquote(k.trim()))
        .unwrap_or_default();
    // The table the line belongs to: the last header above it.
    let table = text
        .lines()
        .take(line - 1)
        .filter_map(|l| header(l.trim()))
        .last();
    let key = match (table, own.is_empty()) {
        (Some(t), false) => format!("{t}.{own}"),
        (Some(t), true) => t,
        (None, _) => own,
    };
    Location { line, key }
}

/// `[a.b]` or `[[a]]` -> `a.b` / `a`.
fn header(line: &str) -> Option<String> {
    let l = line.split('#').next().unwrap_or_default().trim();
    let inner = l.strip_prefix("[[").and_then(|l| l.strip_suffix("]]"));
    let inner = inner.or_else(|| l.strip_prefix('[').and_then(|l| l.strip_suffix(']')))?;
    Some(
        inner
            .split('.')
            .map(|p| unquote(p.trim()))
            .collect::<Vec<_>>()
            .join("."),
    )
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'').to_owned()
}

/// The toml crate's message without its source excerpt, on one line.
pub fn message(e: &toml::de::Error) -> String {
    e.message().trim().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_line_and_dotted_key() {
        let text = "env = \"dev\"\n\n[mcp.servers.gh]\ncommand = 5\n";
        let at = text.find("5").map(|i| i..i + 1);
        assert_eq!(
            locate(text, at),
            Location {
                line: 4,
                key: "mcp.servers.gh.command".into()
            }
        );
        let at = text.find("dev").map(|i| i..i + 3);
        assert_eq!(locate(text, at).key, "env");
        let at = text.find("[mcp").map(|i| i..i + 3);
        assert_eq!(locate(text, at).key, "mcp.servers.gh");
    }

    #[test]
    fn array_tables() {
        let text = "[[mount]]\npath = 1\n";
        let at = text.find('1').map(|i| i..i + 1);
        assert_eq!(locate(text, at).key, "mount.path");
        assert_eq!(locate(text, None).line, 0);
    }
}
