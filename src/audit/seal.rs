//! Seals: the part of the chain a same-uid process cannot recompute.
//!
//! The hash chain alone has no secret: whoever can write the files can drop lines and
//! recompute every `prev`. While the vault is unlocked the agent appends a `seal` line
//! whose `tag` is an HMAC, under the vault's audit key ([`Purpose::Audit`]), of that
//! line's `seq` and `prev`. `prev` is the hash of the line before, which chains back to
//! the first line, so a seal whose tag verifies vouches for every line before it. The
//! last seal is also kept in the vault ([`SealPoint`], tagged, under [`HEAD_KEY`]), which
//! pins the end: a log cut after its last seal no longer holds the seal the vault names.
//!
//! [`Purpose::Audit`]: crate::store::mac_keys::Purpose::Audit

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::chain::GENESIS;
use super::event::{EventKind, Record};
use super::files;
use crate::store::mac_keys::MacKey;

/// The `sealed_state` key of the last seal.
pub const HEAD_KEY: &str = "audit_head";

/// A seal every this many events while unlocked: at most this many lines are open to a
/// silent rewrite, and the cost (one HMAC and one small vault write, ~1 ms with the
/// vault's fsync) is spread over 256 appends.
pub const SEAL_EVERY_EVENTS: u64 = 256;

/// ... or this long after the last seal when events are waiting, so a quiet agent does
/// not leave its last events unsealed for hours.
pub const SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the last seal is: what the vault keeps under [`HEAD_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealPoint {
    /// `seq` of the seal line (0: the vault was made sealed, nothing written yet).
    pub seq: u64,
    /// The seal line's `prev`: the hash of the line before it.
    pub head: String,
    /// The file the seal line was written to (`audit.jsonl` until it is rotated) and its
    /// byte offset there: finding it again reads one line per file.
    pub file: String,
    pub offset: u64,
}

impl SealPoint {
    /// The point a new vault starts from.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            head: GENESIS.to_string(),
            file: files::CURRENT.to_string(),
            offset: 0,
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of numbers and strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

/// The tag of the seal line `seq` whose `prev` is `prev`, in hex.
pub fn tag(mac: &MacKey, seq: u64, prev: &str) -> String {
    hex::encode(mac.tag(&parts(&seq.to_be_bytes(), prev)))
}

/// Whether `tag_hex` is the tag of seal `seq` / `prev`.
pub fn tag_ok(mac: &MacKey, seq: u64, prev: &str, tag_hex: &str) -> bool {
    hex::decode(tag_hex).is_ok_and(|t| mac.verify(&parts(&seq.to_be_bytes(), prev), &t))
}

fn parts<'a>(seq: &'a [u8; 8], prev: &'a str) -> [&'a [u8]; 3] {
    [b"openv-audit-seal", seq, prev.as_bytes()]
}

/// Whether the log in `dir` still holds the seal `point` names, at its offset in its
/// file or in the file it was rotated to. Reads one line per file, newest first.
pub fn holds(dir: &Path, point: &SealPoint) -> io::Result<bool> {
    if point.seq == 0 {
        return Ok(true);
    }
    let listing = files::list(dir)?;
    for path in listing.files.iter().rev() {
        let Some(line) = line_at(path, point.offset)? else {
            continue;
        };
        let Ok(r) = serde_json::from_slice::<Record>(&line) else {
            continue;
        };
        if r.seq == point.seq && r.event.kind == EventKind::Seal && r.prev == point.head {
            return Ok(true);
        }
        if r.seq < point.seq {
            // Older files only hold smaller seqs.
            break;
        }
    }
    Ok(false)
}

/// The complete line starting at `offset` (without its newline), if any.
fn line_at(path: &Path, offset: u64) -> io::Result<Option<Vec<u8>>> {
    let mut f = File::open(path)?;
    if f.metadata()?.len() <= offset {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(offset))?;
    let mut line = Vec::new();
    // A line longer than this is not one of ours.
    BufReader::new(f.take(64 * 1024)).read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Ok(None);
    }
    Ok(Some(line))
}
