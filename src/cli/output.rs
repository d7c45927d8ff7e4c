//! Printing: human tables or `--json`, times in UTC.

use std::io::Write;

use serde::Serialize;

pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    // stdout is line-buffered: without this every JSON line would be a write(2).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// `2026-11-22 14:03:07Z` from unix seconds.
pub fn time(secs: i64) -> String {
    crate::store::rfc3339_seconds(secs).replace('T', " ")
}
