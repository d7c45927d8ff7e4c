//! Percentiles of measured times and how the benches print them.

use std::time::Duration;

/// The `p`th percentile of `sorted` (ascending).
pub fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// `times`, sorted.
pub fn sorted(times: &[Duration]) -> Vec<Duration> {
    let mut v = times.to_vec();
    v.sort();
    v
}

pub fn median(times: &[Duration]) -> Duration {
    pct(&sorted(times), 50)
}

pub fn p95(times: &[Duration]) -> Duration {
    pct(&sorted(times), 95)
}

/// Milliseconds, two decimals: "1.23 ms".
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Microseconds as a number, for tables that print their own unit.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A target's column: met or not.
pub fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}
