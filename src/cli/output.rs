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
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
}
