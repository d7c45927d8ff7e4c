//! Reading the log back: filters over the records, newest files first.

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use super::error::AuditError;
use super::event::{Decision, EventKind, Record};
use super::files;

/// Which records [`query`] returns. Every set field must match; the default matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub env: Option<String>,
    /// Records written at or after this time.
    pub since: Option<SystemTime>,
    pub decision: Option<Decision>,
    pub event: Option<EventKind>,
    /// Only the most recent N matching records.
    pub limit: Option<usize>,
}

impl Filter {
    pub fn matches(&self, r: &Record) -> bool {
        self.env
            .as_deref()
            .is_none_or(|env| r.event.env.as_deref() == Some(env))
            && self.since.is_none_or(|since| r.time >= since)
            && self.decision.is_none_or(|d| r.event.decision == Some(d))
            && self.event.is_none_or(|k| r.event.kind == k)
    }
}

/// The matching records of the audit directory `dir`, oldest first (so with `limit` the
/// last N). A missing directory is an empty log. This does not check the chain: use
/// [`verify`](super::verify) for that.
pub fn query(dir: &Path, filter: &Filter) -> Result<Vec<Record>, AuditError> {
    let mut attempts = 0;
    loop {
        let before = match files::snapshot(dir) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AuditError::io("list audit directory", dir, e)),
        };
        let result = query_files(before.iter().map(|(p, _)| p.as_path()), filter);
        // A rotation between listing and reading would hide lines: read again.
        let changed = || {
            files::snapshot(dir)
                .is_ok_and(|now| now.iter().map(|(p, _)| p).ne(before.iter().map(|(p, _)| p)))
        };
        match result {
            _ if attempts < 3 && changed() => attempts += 1,
            other => return other,
        }
    }
}

fn query_files<'a>(
    paths: impl DoubleEndedIterator<Item = &'a Path>,
    filter: &Filter,
) -> Result<Vec<Record>, AuditError> {
    let limit = filter.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    // Newest first, so that `limit` can stop early on a long history.
    'files: for path in paths.rev() {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            // Rotated away since the listing: the retry in `query` reads it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(AuditError::io("read", path, e)),
        };
        // A line without its newline is being written right now (or was cut by a crash:
        // `verify` reports that); it is not a record yet.
        let lines: Vec<&[u8]> = files::lines(&bytes)
            .filter(|(_, complete)| *complete)
            .map(|(l, _)| l)
            .collect();
        for (i, line) in lines.iter().enumerate().rev() {
            let record: Record = serde_json::from_slice(&line[..line.len() - 1]).map_err(|e| {
                AuditError::Corrupt {
                    path: path.display().to_string(),
                    line: i as u64 + 1,
                    reason: e.to_string(),
                }
            })?;
            if filter.matches(&record) {
                out.push(record);
                if out.len() >= limit {
                    break 'files;
                }
            }
        }
    }
    out.reverse();
    Ok(out)
}
