//! The hash chain: each line's `prev` is the hash of the line before it.

use sha2::{Digest, Sha256};

/// `prev` of the first line ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Only the sequence number of a line: what resuming and checking a file's end need.
#[derive(serde::Deserialize)]
pub(crate) struct SeqOnly {
    pub seq: u64,
}

/// Hex SHA-256 of one line's bytes (newline included): the next line's `prev`.
pub(crate) fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}
