//! Reading a plaintext `.env` for `openv import`: every line either parses or is named
//! with the reason it does not, and a value never appears in a message.
//!
//! Accepted: `NAME=value`, `export NAME=value`, `NAME='literal'` and `NAME="with \n
//! escapes"` (both may span lines), `#` comments (whole line, or after a space outside
//! quotes), blank lines, a UTF-8 byte order mark and CRLF line endings. `$NAME` is kept
//! literally: an import stores what the file says, not what this machine's environment
//! would expand it to. A name set twice keeps its last value, as every dotenv reader
//! does, and the import says so.

use zeroize::Zeroizing;

use crate::names::is_shell_identifier;
use crate::secret::SecretValue;

/// Why a file cannot be imported. `line` is 1-based; the reason is static text.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot import {path}: line {line}: {reason}; fix it and import again")]
    Line {
        path: String,
        line: usize,
        reason: &'static str,
    },
}

/// The variables of a file in first-seen order, and notes for the user.
#[derive(Debug, Default)]
pub struct EnvFile {
    pub vars: Vec<(String, SecretValue)>,
    /// One line per name set more than once: which line's value was kept.
    pub warnings: Vec<String>,
}

pub const NOT_UTF8: &str = "not valid UTF-8 text: save the file as UTF-8";
pub const NO_EQUALS: &str = "no `=`: each line is NAME=value, a # comment or blank";
pub const NO_NAME: &str = "no name before `=`";
pub const DIGIT_NAME: &str =
    "the name starts with a digit: names are letters, digits and _, and do not start with a digit";
pub const BAD_NAME: &str =
    "the name holds a character other than letters, digits and _ (or is longer than 128)";
pub const SPACE: &str =
    "the value holds a space outside quotes: quote the whole value, e.g. NAME='a b'";
pub const STRAY_QUOTE: &str = "a quote inside an unquoted value: quote the whole value";
pub const OPEN_SINGLE: &str = "the single quote opened on this line is never closed";
pub const OPEN_DOUBLE: &str = "the double quote opened on this line is never closed";
pub const AFTER_QUOTE: &str =
    "text after the closing quote: remove it, or start a comment with ` #`";

/// Reads and parses `path`. The text is wiped once parsed.
pub fn read(path: &std::path::Path) -> Result<EnvFile, EnvFileError> {
    let shown = path.display().to_string();
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| EnvFileError::Read {
        path: shown.clone(),
        source,
    })?);
    parse(&bytes).map_err(|(line, reason)| EnvFileError::Line {
        path: shown,
        line,
        reason,
    })
}

/// Parses the bytes of a file; an error is (line, reason).
pub fn parse(bytes: &[u8]) -> Result<EnvFile, (usize, &'static str)> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            return Err((line, NOT_UTF8));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Lines without their terminator (LF or CRLF), numbered from 1.
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out = EnvFile::default();
    // Name -> its place in `out.vars`; the lines each name was set on.
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut set_on: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((name, rest)) = line.split_once('=') else {
            return Err((number, NO_EQUALS));
        };
        let name = name.trim_end();
        check_name(name).map_err(|r| (number, r))?;
        let (value, used) = value(rest.trim_start(), &lines[i..]).map_err(|r| (number, r))?;
        i += used;
        let value = SecretValue::new(value);
        match index.get(name) {
            Some(&at) => {
                set_on[at].push(number);
                out.vars[at].1 = value;
            }
            None => {
                index.insert(name.to_owned(), out.vars.len());
                set_on.push(vec![number]);
                out.vars.push((name.to_owned(), value));
            }
        }
    }
    for ((name, _), on) in out.vars.iter().zip(&set_on).filter(|(_, on)| on.len() > 1) {
        let list: Vec<String> = on.iter().map(usize::to_string).collect();
        out.warnings.push(format!(
            "{name} is set on lines {}: the value of line {} was kept",
            list.join(", "),
            on[on.len() - 1]
        ));
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err(NO_NAME)
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Err(DIGIT_NAME)
    } else if name.len() > 128 || !is_shell_identifier(name) {
        Err(BAD_NAME)
    } else {
        Ok(())
    }
}

/// The value that starts at `first` (the rest of the line after `=`), continuing on
/// `more` for a quoted value. Returns it and how many of `more` it used.
fn value(first: &str, more: &[&str]) -> Result<(String, usize), &'static str> {
    let Some(quote) = first.chars().next().filter(|c| *c == '\'' || *c == '"') else {
        return unquoted(first).map(|v| (v, 0));
    };
    // One allocation big enough for any value here, so no unwiped copies are left
    // behind by growth; the caller wipes it.
    let room = first.len() + more.iter().map(|l| l.len() + 1).sum::<usize>();
    let mut v = Zeroizing::new(String::with_capacity(room));
    let mut used = 0;
    let mut line = &first[1..];
    loop {
        let mut chars = line.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                c if c == quote => {
                    let after = line[at + 1..].trim_start();
                    if !after.is_empty() && !after.starts_with('#') {
                        return Err(AFTER_QUOTE);
                    }
                    return Ok((std::mem::take(&mut *v), used));
                }
                '\\' if quote == '"' => match chars.next() {
                    Some((_, 'n')) => v.push('\n'),
                    Some((_, 't')) => v.push('\t'),
                    Some((_, e @ ('"' | '\\' | '$' | '\''))) => v.push(e),
                    Some((_, other)) => {
                        v.push('\\');
                        v.push(other);
                    }
                    None => v.push('\\'),
                },
                c => v.push(c),
            }
        }
        let Some(next) = more.get(used) else {
            return Err(if quote == '\'' {
                OPEN_SINGLE
            } else {
                OPEN_DOUBLE
            });
        };
        v.push('\n');
        used += 1;
        line = next;
    }
}

fn unquoted(text: &str) -> Result<String, &'static str> {
    // A comment starts at `#` after whitespace (or at the very start: an empty value).
    let end = text
        .char_indices()
        .find(|&(at, c)| c == '#' && (at == 0 || text[..at].ends_with([' ', '\t'])))
        .map_or(text.len(), |(at, _)| at);
    let v = text[..end].trim_end();
    if v.contains([' ', '\t']) {
        return Err(SPACE);
    }
    if v.contains(['\'', '"', '`']) {
        return Err(STRAY_QUOTE);
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .expect("parses")
            .vars
            .into_iter()
            .map(|(n, v)| (n, v.expose().to_owned()))
            .collect()
    }

    fn pair(n: &str, v: &str) -> (String, String) {
        (n.into(), v.into())
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(
            ok(
                "\u{feff}A=1\r\nexport B='x y'\r\n# c\r\n\r\nC=\"l1\\nl2\" # note\nD=\nE='multi\r\nline'\nF=a#b # c\n"
            ),
            [
                pair("A", "1"),
                pair("B", "x y"),
                pair("C", "l1\nl2"),
                pair("D", ""),
                pair("E", "multi\nline"),
                pair("F", "a#b"),
            ]
        );
        assert_eq!(
            ok("U=$HOME/x\nexport=1\n"),
            [pair("U", "$HOME/x"), pair("export", "1")]
        );
    }

    #[test]
    fn each_bad_line_is_named_with_its_reason() {
        for (text, line, reason) in [
            (&b"A=1\nB=\xff\n"[..], 2, NOT_UTF8),
            (b"A=1\nC=has space\n", 2, SPACE),
            (b"A='open\nB=2\n", 1, OPEN_SINGLE),
            (b"\n\nA=\"open\n", 3, OPEN_DOUBLE),
            (b"1BAD=x\n", 1, DIGIT_NAME),
            (b"A-B=x\n", 1, BAD_NAME),
            (b"=x\n", 1, NO_NAME),
            (b"JUST TEXT\n", 1, NO_EQUALS),
            (b"A='x' y\n", 1, AFTER_QUOTE),
            (b"A=it's\n", 1, STRAY_QUOTE),
        ] {
            assert_eq!(parse(text).map(|_| ()).expect_err("bad"), (line, reason));
        }
    }

    #[test]
    fn duplicates_keep_the_last_and_say_so() {
        let f = parse(b"A=1\nB=2\nA=3\nA=4\n").expect("parses");
        assert_eq!(f.vars.len(), 2);
        assert_eq!(f.vars[0].1.expose(), "4");
        assert_eq!(
            f.warnings,
            ["A is set on lines 1, 3, 4: the value of line 4 was kept"]
        );
    }
}
