//! Retries with exponential backoff and full jitter, and a circuit breaker so a down
//! server is not hammered by every read, refresh and write.
//!
//! Only transient failures (`RemoteError::is_transient`: connection refused, timeouts,
//! a sealed node or one without a leader) are retried and counted. After `threshold`
//! failures in a row the breaker opens: calls fail at once until `cool_down` has passed;
//! then one call is let through (half-open) and its result closes or re-opens it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::RemoteError;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random delay in [0, min(max, base * 2^n)].
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
    }
}

/// What `openv status` and the MCP health tool show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct Inner {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cool_down: Duration,
    retry: RetryPolicy,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration, retry: RetryPolicy) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            retry,
            inner: Mutex::new(Inner {
                failures: 0,
                open_until: None,
                probing: false,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        let i = self.inner();
        match i.open_until {
            None => BreakerState::Closed,
            Some(t) if Instant::now() < t => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    pub fn failures(&self) -> u32 {
        self.inner().failures
    }

    /// Closes the breaker: a person asked for a retry (`openv sync`).
    pub fn reset(&self) {
        let mut i = self.inner();
        i.failures = 0;
        i.open_until = None;
        i.probing = false;
    }

    /// Runs `op` with retries. `url` names the server in the open-circuit error.
    pub fn call<T>(
        &self,
        url: &str,
        mut op: impl FnMut() -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let half_open = {
            let mut i = self.inner();
            match i.open_until {
                Some(t) if Instant::now() < t || i.probing => {
                    return Err(RemoteError::CircuitOpen {
                        url: url.to_owned(),
                        failures: i.failures,
                        retry_in_secs: t.saturating_duration_since(Instant::now()).as_secs() + 1,
                    });
                }
                Some(_) => {
                    i.probing = true;
                    true
                }
                None => false,
            }
        };
        // A probe gets one attempt: the server has been failing.
        let attempts = if half_open { 1 } else { self.retry.attempts };
        let mut attempt = 0;
        loop {
            match op() {
                Ok(v) => {
                    let mut i = self.inner();
                    i.failures = 0;
                    i.open_until = None;
                    i.probing = false;
                    return Ok(v);
                }
                Err(e) if e.is_transient() => {
                    attempt += 1;
                    let mut i = self.inner();
                    i.failures = i.failures.saturating_add(1);
                    if half_open || i.failures >= self.threshold {
                        i.open_until = Some(Instant::now() + self.cool_down);
                        i.probing = false;
                        return Err(e);
                    }
                    drop(i);
                    if attempt >= attempts {
                        return Err(e);
                    }
                    std::thread::sleep(self.retry.delay(attempt));
                }
                Err(e) => {
                    // The server answered: it is up, whatever it said.
                    let mut i = self.inner();
                    i.failures = 0;
                    i.open_until = None;
                    i.probing = false;
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> RemoteError {
        RemoteError::Unreachable {
            url: "u".into(),
            reason: "connection refused".into(),
        }
    }

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cool_down() {
        let b = Breaker::new(
            3,
            Duration::from_millis(50),
            RetryPolicy {
                attempts: 2,
                base: Duration::from_millis(1),
                max: Duration::from_millis(2),
            },
        );
        let mut calls = 0;
        let _ = b.call("u", || -> Result<(), _> {
            calls += 1;
            Err(down())
        });
        assert_eq!(calls, 2, "retried once");
        let _ = b.call("u", || -> Result<(), _> {
            calls += 1;
            Err(down())
        });
        assert_eq!(b.state(), BreakerState::Open);
        let before = calls;
        let e = b
            .call("u", || -> Result<(), _> {
                calls += 1;
                Ok(())
            })
            .expect_err("open");
        assert!(matches!(e, RemoteError::CircuitOpen { .. }));
        assert_eq!(calls, before, "no request while open");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.call("u", || Ok(())).expect("probe");
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_answer_is_not_a_failure_and_delays_are_bounded() {
        let b = Breaker::new(1, Duration::from_secs(60), RetryPolicy::default());
        let _ = b.call("u", || -> Result<(), _> {
            Err(RemoteError::Denied {
                url: "u".into(),
                what: "x".into(),
                status: 403,
            })
        });
        assert_eq!(b.state(), BreakerState::Closed);
        let p = RetryPolicy::default();
        for n in 0..40 {
            assert!(p.delay(n) <= p.max);
        }
    }
}
