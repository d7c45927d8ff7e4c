//! Calls per minute per MCP client: a token bucket per client name.
//!
//! A model stuck in a loop should not flood the agent or the audit log. The default
//! (600 a minute, all of it usable as a burst) is far above what a person-driven session
//! makes; `--rate-limit 0` turns the limit off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const DEFAULT_PER_MINUTE: u32 = 600;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Refusing since the last allowed call.
    refusing: bool,
}

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` = 0: no limit.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one token for `client`, or says how long until one is available and
    /// whether this is the first refusal since the last allowed call.
    pub fn check(&self, client: &str) -> Result<(), (Duration, bool)> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &str, now: Instant) -> Result<(), (Duration, bool)> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
            refusing: false,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            b.refusing = false;
            Ok(())
        } else {
            let first = !b.refusing;
            b.refusing = true;
            Err((Duration::from_secs_f64((1.0 - b.tokens) / per_sec), first))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(rl.check_at("a", t0).is_ok());
        }
        let (wait, first) = rl.check_at("a", t0).expect_err("61st call refused");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(first);
        assert!(!rl.check_at("a", t0).expect_err("refused again").1);
        // Another client has its own bucket.
        assert!(rl.check_at("b", t0).is_ok());
        // One token a second comes back.
        assert!(rl.check_at("a", t0 + Duration::from_millis(1010)).is_ok());
        assert!(rl.check_at("a", t0 + Duration::from_millis(1020)).is_err());
    }

    #[test]
    fn zero_means_unlimited() {
        let rl = RateLimiter::new(0);
        for _ in 0..10_000 {
            assert!(rl.check("a").is_ok());
        }
    }
}
