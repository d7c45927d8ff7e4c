//! The files of one audit directory: their names and chain order, permissions, and
//! reading the last line without reading the whole file.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::AuditError;

/// The file being appended to.
pub(crate) const CURRENT: &str = "audit.jsonl";

pub(crate) fn rotated_name(n: u64) -> String {
    format!("audit-{n:06}.jsonl")
}

fn rotated_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The log's files in chain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    /// Rotated files by number, then `audit.jsonl` if it exists.
    pub files: Vec<PathBuf>,
    /// The number the next rotated file gets.
    pub next_number: u64,
}

pub(crate) fn list(dir: &Path) -> io::Result<Listing> {
    let mut rotated = Vec::new();
    let mut current = None;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        // Names that are not UTF-8 are not ours.
        let Some(name) = name.to_str() else { continue };
        if name == CURRENT {
            current = Some(entry.path());
        } else if let Some(n) = rotated_number(name) {
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort();
    let next_number = rotated.last().map_or(1, |(n, _)| n.saturating_add(1));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    files.extend(current);
    Ok(Listing { files, next_number })
}

/// The name shown in reports: the file name only (all files share one directory).
pub(crate) fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The end of a file.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The last complete line, newline included.
    pub line: Option<Vec<u8>>,
    /// The file ends with bytes that are not newline-terminated.
    pub torn: bool,
}

/// Reads backwards from the end in chunks until the last complete line is found, so
/// opening a large log stays cheap.
pub(crate) fn last_line(path: &Path) -> io::Result<Tail> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    let mut torn = None;
    while start > 0 {
        let n = CHUNK.min(start);
        start -= n;
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = vec![0; usize::try_from(n).unwrap_or(usize::MAX)];
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        let torn = *torn.get_or_insert(buf.last() != Some(&b'\n'));
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        match buf[..end].iter().rposition(|&b| b == b'\n') {
            Some(before) => {
                return Ok(Tail {
                    line: Some(buf[before + 1..=end].to_vec()),
                    torn,
                });
            }
            None if start == 0 => {
                return Ok(Tail {
                    line: Some(buf[..=end].to_vec()),
                    torn,
                });
            }
            None => {}
        }
    }
    Ok(Tail {
        line: None,
        torn: torn.unwrap_or(false),
    })
}

/// Makes a rename or a new file in `dir` durable (the directory entry itself).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io("sync directory", dir, e))
}

/// Sizes of the listed files: used to notice that the log changed under a reader.
pub(crate) fn snapshot(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let listing = list(dir)?;
    listing
        .files
        .into_iter()
        .map(|p| {
            let len = fs::metadata(&p).map_or(0, |m| m.len());
            Ok((p, len))
        })
        .collect()
}

/// Splits a file's bytes into lines. Each item is the line WITH its newline, except a
/// final segment that has none (a torn line), which is returned with `complete == false`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, tail) = rest.split_at(i + 1);
                rest = tail;
                Some((line, true))
            }
            None => {
                let line = rest;
                rest = &[];
                Some((line, false))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_finds_the_end_across_chunks() {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("f");
        let long = "x".repeat(200_000);
        fs::write(&p, format!("a\n{long}\nlast\n")).expect("write");
        let tail = last_line(&p).expect("tail");
        assert_eq!(tail.line.as_deref(), Some(&b"last\n"[..]));
        assert!(!tail.torn);

        fs::write(&p, format!("a\n{long}\npart")).expect("write");
        let tail = last_line(&p).expect("tail");
        assert_eq!(tail.line.map(|l| l.len()), Some(long.len() + 1));
        assert!(tail.torn);

        fs::write(&p, "only\n").expect("write");
        assert_eq!(
            last_line(&p).expect("tail").line.as_deref(),
            Some(&b"only\n"[..])
        );
        fs::write(&p, "torn").expect("write");
        let tail = last_line(&p).expect("tail");
        assert!(tail.line.is_none() && tail.torn);
        fs::write(&p, "").expect("write");
        let tail = last_line(&p).expect("tail");
        assert!(tail.line.is_none() && !tail.torn);
    }

    #[test]
    fn rotated_files_sort_by_number() {
        let t = tempfile::tempdir().expect("tempdir");
        for n in [
            "audit-000010.jsonl",
            "audit-000002.jsonl",
            "audit.jsonl",
            "other.txt",
        ] {
            fs::write(t.path().join(n), "").expect("write");
        }
        let l = list(t.path()).expect("list");
        let names: Vec<String> = l.files.iter().map(|p| display_name(p)).collect();
        assert_eq!(
            names,
            ["audit-000002.jsonl", "audit-000010.jsonl", "audit.jsonl"]
        );
        assert_eq!(l.next_number, 11);
    }
}
