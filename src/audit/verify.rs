//! Checking the chain: every line parses, `seq` grows by one, `prev` matches.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use thiserror::Error;

use super::chain::{GENESIS, SeqOnly, line_hash};
use super::event::{EventKind, Record};
use super::files::{self, display_name};

/// What a successful [`verify`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files checked (rotated ones and `audit.jsonl`).
    pub files: usize,
    /// Lines checked.
    pub lines: u64,
    /// `seq` of the last line, if any.
    pub last_seq: Option<u64>,
    /// Hash of the last line ([`GENESIS`] for an empty log). The chain cannot prove that
    /// nothing was cut from its END: record this elsewhere and compare it later.
    pub head: String,
}

/// A line of the log: file name (all files share one directory), 1-based line number,
/// and its `seq` when the line could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: u64,
    pub seq: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.file, self.line)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        Ok(())
    }
}

/// Where the chain breaks and how. Every variant but `Io` means the files were changed
/// after they were written (or cut by a crash, for `Truncated`): keep them as they are
/// for investigation. New events keep chaining from the last line regardless.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("cannot read audit log {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("audit log damaged at {at}: not an audit record ({reason})")]
    NotJson { at: Location, reason: String },
    #[error(
        "audit log damaged at {at}: the line is cut short (no newline at the end of the file): it was truncated, or the machine crashed while it was written"
    )]
    Truncated { at: Location },
    #[error("audit log tampered at {at}: line edited after it was written ({how})")]
    Edited { at: Location, how: String },
    #[error("audit log tampered at {at}: {}", removed(*.expected, *.missing))]
    Removed {
        at: Location,
        /// The first missing `seq`.
        expected: u64,
        missing: u64,
    },
    #[error(
        "audit log tampered at {at}: lines reordered (seq {expected} belongs here but is at {found})"
    )]
    Reordered {
        at: Location,
        expected: u64,
        found: Location,
    },
    #[error(
        "audit log tampered at {at}: line duplicated or moved (seq {expected} expected here, and no line after has it)"
    )]
    Duplicated { at: Location, expected: u64 },
}

fn removed(expected: u64, missing: u64) -> String {
    let last = expected.saturating_add(missing).saturating_sub(1);
    let which = if missing == 1 {
        format!("seq {expected}")
    } else {
        format!("seq {expected} to {last}")
    };
    if expected == 1 {
        format!(
            "the log does not start at seq 1: {missing} earlier line(s) ({which}) were removed (expected if you deleted old audit files yourself)"
        )
    } else {
        format!("{missing} line(s) removed just before this line ({which})")
    }
}

impl VerifyError {
    /// Where the chain breaks (`None` for an I/O error).
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Io { .. } => None,
            Self::NotJson { at, .. }
            | Self::Truncated { at }
            | Self::Edited { at, .. }
            | Self::Removed { at, .. }
            | Self::Reordered { at, .. }
            | Self::Duplicated { at, .. } => Some(at),
        }
    }
}

/// Walks every file of the audit directory `dir` in chain order and checks every line.
/// Stops at the first break and says where it is and what it is.
///
/// Safe to run while the agent appends: if the files change under it (a rotation, a line
/// half-written at that instant) and a break is found, it starts again, up to 3 times.
pub fn verify(dir: &Path) -> Result<VerifyReport, VerifyError> {
    let io_err = |source| VerifyError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut attempts = 0;
    loop {
        let before = files::snapshot(dir).map_err(io_err)?;
        let result = verify_files(
            before.iter().map(|(p, _)| p.as_path()),
            &mut Walk::default(),
        );
        match result {
            Err(_) if attempts < 3 && files::snapshot(dir).map_err(io_err)? != before => {
                attempts += 1;
            }
            other => return other,
        }
    }
}

/// A `seal` line met on the way, with its place; its tag is checked by the caller.
#[derive(Debug, Clone)]
pub(crate) struct SealLine {
    pub seq: u64,
    pub prev: String,
    pub tag: Option<String>,
    pub at: Location,
}

/// What a walk saw before the first break (or to the end).
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub seals: Vec<SealLine>,
    /// Lines whose chain holds.
    pub lines: u64,
    pub last_seq: Option<u64>,
}

/// Checks the chain of `paths` (in chain order), noting in `walk` the seal lines and the
/// lines met before the first break.
pub(crate) fn verify_files<'a>(
    paths: impl Iterator<Item = &'a Path>,
    walk: &mut Walk,
) -> Result<VerifyReport, VerifyError> {
    let paths: Vec<&Path> = paths.collect();
    let mut expected: u64 = 1;
    let mut prev = GENESIS.to_string();
    let mut prev_at: Option<Location> = None;
    let mut lines: u64 = 0;
    for (index, path) in paths.iter().enumerate() {
        let bytes = read(path)?;
        let file = display_name(path);
        let mut offset = 0;
        for (n, (line, complete)) in files::lines(&bytes).enumerate() {
            offset += line.len();
            let mut at = Location {
                file: file.clone(),
                line: n as u64 + 1,
                seq: None,
            };
            if !complete {
                at.seq = seq_prefix(line);
                return Err(VerifyError::Truncated { at });
            }
            // The newline is part of the hash but not of the JSON.
            let record: Record = serde_json::from_slice(&line[..line.len() - 1]).map_err(|e| {
                VerifyError::NotJson {
                    at: Location {
                        seq: seq_prefix(line),
                        ..at.clone()
                    },
                    reason: e.to_string(),
                }
            })?;
            at.seq = Some(record.seq);
            if record.seq != expected {
                if record.prev == prev {
                    // Still chained to the line before: only its seq was changed.
                    return Err(VerifyError::Edited {
                        at,
                        how: format!(
                            "its seq was changed: it follows seq {} so it must be {expected}",
                            expected - 1
                        ),
                    });
                }
                let rest = Rest {
                    file: &file,
                    bytes: &bytes[offset..],
                    first_line: n as u64 + 2,
                    later: &paths[index + 1..],
                };
                return Err(match rest.find(expected)? {
                    Some(found) => VerifyError::Reordered {
                        at,
                        expected,
                        found,
                    },
                    None if record.seq > expected => VerifyError::Removed {
                        at,
                        expected,
                        missing: record.seq - expected,
                    },
                    None => VerifyError::Duplicated { at, expected },
                });
            }
            if record.prev != prev {
                return Err(match prev_at {
                    Some(edited) => VerifyError::Edited {
                        how: format!("its hash does not match the prev recorded by {at}"),
                        at: edited,
                    },
                    None => VerifyError::Edited {
                        at,
                        how: "the first line's prev is not the genesis value".to_string(),
                    },
                });
            }
            if record.event.kind == EventKind::Seal {
                walk.seals.push(SealLine {
                    seq: record.seq,
                    prev: record.prev,
                    tag: record.event.tag,
                    at: at.clone(),
                });
            }
            prev = line_hash(line);
            walk.last_seq = at.seq;
            prev_at = Some(at);
            expected += 1;
            lines += 1;
            walk.lines = lines;
        }
    }
    Ok(VerifyReport {
        files: paths.len(),
        lines,
        last_seq: prev_at.and_then(|a| a.seq),
        head: prev,
    })
}

/// The `seq` of a line that is not valid JSON any more, when its start is intact (lines
/// are written with `seq` first).
fn seq_prefix(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

fn read(path: &Path) -> Result<Vec<u8>, VerifyError> {
    fs::read(path).map_err(|source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The lines after a break: searched for the seq that should have been there, to tell a
/// reordering from a removal.
struct Rest<'a> {
    file: &'a str,
    bytes: &'a [u8],
    first_line: u64,
    later: &'a [&'a Path],
}

impl Rest<'_> {
    fn find(&self, seq: u64) -> Result<Option<Location>, VerifyError> {
        if let Some(at) = find_in(self.file, self.bytes, self.first_line, seq) {
            return Ok(Some(at));
        }
        for path in self.later {
            let bytes = read(path)?;
            if let Some(at) = find_in(&display_name(path), &bytes, 1, seq) {
                return Ok(Some(at));
            }
        }
        Ok(None)
    }
}

fn find_in(file: &str, bytes: &[u8], first_line: u64, seq: u64) -> Option<Location> {
    files::lines(bytes)
        .enumerate()
        .find(|(_, (line, _))| serde_json::from_slice::<SeqOnly>(line).is_ok_and(|s| s.seq == seq))
        .map(|(i, _)| Location {
            file: file.to_string(),
            line: first_line + i as u64,
            seq: Some(seq),
        })
}
