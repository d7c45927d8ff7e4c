//! Verifying with the key: the chain, the tag of every seal, and the vault's record of
//! the last seal. This is what `openv audit verify` runs (in the agent, which holds the
//! key); [`super::verify`] alone checks only the unkeyed chain.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files;
use super::seal::{self, SealPoint};
use super::verify::{SealLine, Walk, verify_files};
use crate::store::mac_keys::MacKey;

/// The vault's record of the last seal, as it read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultHead {
    Sealed(SealPoint),
    /// No record: removed (a vault made by `openv init` always has one).
    Missing,
    /// A record whose tag does not verify, or that is not a seal point.
    Forged,
}

/// What a keyed verification found. `problems` empty: every line up to `sealed_to` is
/// vouched for, and the `unsealed` lines after it are intact as a chain but not yet
/// sealed (they will be at the next seal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedReport {
    pub files: usize,
    /// Lines read whose chain holds.
    pub events: u64,
    /// Seals whose tag verified.
    pub seals: u64,
    /// `seq` of the last seal that verified.
    pub sealed_to: Option<u64>,
    /// Lines after that seal (not an error).
    pub unsealed: u64,
    /// What was found, one line each, first problem first.
    pub problems: Vec<String>,
    /// The first event the seals can no longer vouch for (set with `problems`).
    pub first_unvouched: Option<u64>,
}

/// Checks the audit directory `dir` with the audit key `mac` against the vault's `head`.
pub fn verify_sealed(dir: &Path, mac: &MacKey, head: &VaultHead) -> std::io::Result<SealedReport> {
    let listing = files::list(dir)?;
    let mut walk = Walk::default();
    let chain = verify_files(listing.files.iter().map(|p| p.as_path()), &mut walk);
    let mut problems = Vec::new();

    let valid = |s: &SealLine| {
        s.tag
            .as_deref()
            .is_some_and(|t| seal::tag_ok(mac, s.seq, &s.prev, t))
    };
    let good = walk.seals.iter().take_while(|s| valid(s)).count();
    let last_good = good.checked_sub(1).map(|i| &walk.seals[i]);
    if let Some(bad) = walk.seals.get(good) {
        problems.push(format!(
            "the log was rewritten: the seal at {} does not verify, so lines before it were changed, removed or inserted after they were sealed (with their hashes recomputed)",
            bad.at
        ));
    }
    let mut first_unvouched = last_good.map_or(1, |s| s.seq + 1);
    if let Err(e) = &chain {
        problems.push(e.to_string());
        if let Some(seq) = e.location().and_then(|l| l.seq) {
            first_unvouched = first_unvouched.min(seq);
        }
    }

    match head {
        VaultHead::Missing => problems.push(
            "the vault has no record of the log's last seal (`audit_head` was removed from vault.db): a cut at the end of the log cannot be ruled out".to_string(),
        ),
        VaultHead::Forged => problems.push(
            "the vault's record of the log's last seal does not verify (edited, forged or copied from another vault): a cut at the end of the log cannot be ruled out".to_string(),
        ),
        VaultHead::Sealed(p) if p.seq == 0 => {}
        VaultHead::Sealed(p) => {
            let found = walk.seals[..good]
                .iter()
                .any(|s| s.seq == p.seq && s.prev == p.head);
            let last = walk.last_seq.unwrap_or(0);
            let rest_sound = chain.is_ok() && good == walk.seals.len();
            if found || !(rest_sound || last >= p.seq) {
                // Found, or the walk stopped at a break already reported before it.
            } else if rest_sound && last < p.seq {
                problems.push(format!(
                    "the log was shortened: it ends at seq {last}, but the vault's last seal is seq {}: the events after seq {last} were cut",
                    p.seq
                ));
            } else {
                problems.push(format!(
                    "the vault's last seal (seq {}) is not in the log",
                    p.seq
                ));
            }
        }
    }

    let sealed_to = last_good.map(|s| s.seq);
    let ok = problems.is_empty();
    Ok(SealedReport {
        files: listing.files.len(),
        events: walk.lines,
        seals: good as u64,
        sealed_to,
        unsealed: if ok {
            walk.last_seq.unwrap_or(0) - sealed_to.unwrap_or(0)
        } else {
            0
        },
        first_unvouched: (!ok).then_some(first_unvouched),
        problems,
    })
}
