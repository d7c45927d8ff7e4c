//! Counters and latencies per tool, kept in the MCP process for `get_metrics`.
//!
//! Latency percentiles come from the most recent `WINDOW` calls of each tool, so a long
//! session reports how it behaves now, in bounded memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

const WINDOW: usize = 4096;

#[derive(Debug, Default)]
struct ToolStats {
    calls: u64,
    errors: u64,
    rate_limited: u64,
    /// Microseconds, newest last.
    recent: VecDeque<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolSnapshot {
    pub calls: u64,
    pub errors: u64,
    pub rate_limited: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    pub uptime_secs: u64,
    pub calls: u64,
    pub errors: u64,
    /// Percentiles over each tool's last 4096 calls.
    pub tools: BTreeMap<String, ToolSnapshot>,
}

#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    tools: Mutex<BTreeMap<String, ToolStats>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            tools: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn record(&self, tool: &str, took: Duration, ok: bool, rate_limited: bool) {
        let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let s = tools.entry(tool.to_owned()).or_default();
        s.calls += 1;
        if !ok {
            s.errors += 1;
        }
        if rate_limited {
            s.rate_limited += 1;
        }
        if s.recent.len() == WINDOW {
            s.recent.pop_front();
        }
        s.recent
            .push_back(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn snapshot(&self) -> Snapshot {
        let tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeMap::new();
        let (mut calls, mut errors) = (0, 0);
        for (name, s) in tools.iter() {
            let mut sorted: Vec<u64> = s.recent.iter().copied().collect();
            sorted.sort_unstable();
            calls += s.calls;
            errors += s.errors;
            out.insert(
                name.clone(),
                ToolSnapshot {
                    calls: s.calls,
                    errors: s.errors,
                    rate_limited: s.rate_limited,
                    p50_ms: percentile(&sorted, 50.0),
                    p95_ms: percentile(&sorted, 95.0),
                    p99_ms: percentile(&sorted, 99.0),
                    max_ms: sorted.last().map_or(0.0, |m| *m as f64 / 1000.0),
                },
            );
        }
        Snapshot {
            uptime_secs: self.started.elapsed().as_secs(),
            calls,
            errors,
            tools: out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_over_recent_calls() {
        let m = Metrics::new();
        for i in 1..=100u64 {
            m.record("t", Duration::from_millis(i), i % 10 != 0, false);
        }
        let s = m.snapshot();
        let t = &s.tools["t"];
        assert_eq!((t.calls, t.errors), (100, 10));
        assert_eq!(
            (t.p50_ms, t.p95_ms, t.p99_ms, t.max_ms),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!((s.calls, s.errors), (100, 10));
    }

    #[test]
    fn window_is_bounded() {
        let m = Metrics::new();
        for _ in 0..(WINDOW + 10) {
            m.record("t", Duration::from_micros(5), true, false);
        }
        let tools = m.tools.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(tools["t"].recent.len(), WINDOW);
    }
}
