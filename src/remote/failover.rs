//! Choosing the node of a cluster for each request, as Vault's own clients do: the node
//! the last request succeeded on first; on a connection failure, a 5xx or a standby's
//! answer, the next configured node; when failing over, `sys/leader` is asked first (no
//! token sent) so the request goes to the active node and never to one that does not
//! answer; while every node that answers reports an election, rounds are repeated with
//! backoff and full jitter until the request's deadline. A cluster where no node answers
//! at all fails at once: the circuit breaker (`breaker.rs`) handles a server that is down.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::breaker::RetryPolicy;
use super::error::RemoteError;
use super::http::{Method, Reply, Req, Transport, safe_server_message};
use crate::secret::SecretValue;

/// HTTP statuses that say "not this node, not now": a standby's (429, 472, 473), one
/// that has not yet applied the index the request carries and may not forward (412),
/// sealed or no active node (503), a forwarding failure (500, 502, 504). 501 is an
/// answer.
pub fn node_unavailable(status: u16) -> bool {
    matches!(status, 412 | 429 | 472 | 473 | 500..=599) && status != 501
}

/// What a node said about the cluster's active node.
enum Leader {
    /// The configured node that is active (maybe the one asked).
    Node(usize),
    /// There is an active node, not among the configured addresses: the asked node
    /// forwards to it.
    Elsewhere,
    /// No active node yet (an election is under way).
    Electing,
}

#[derive(Deserialize)]
struct LeaderReply {
    #[serde(default)]
    ha_enabled: bool,
    #[serde(default)]
    is_self: bool,
    #[serde(default)]
    leader_address: String,
}

/// The order nodes are tried in: `first`, then the others in configured order.
fn order(n: usize, first: usize) -> Vec<usize> {
    (0..n).map(|k| (first + k) % n).collect()
}

impl Transport {
    /// One request. `path` is below `/v1/`. Transport failures become `Unreachable` or
    /// `Tls`; any HTTP status is returned as a `Reply` for the caller to judge (a
    /// cluster's unavailable answers only once every node gave one).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretValue>,
        body: Option<(&str, &[u8])>,
    ) -> Result<Reply, RemoteError> {
        let req = Req {
            method,
            path,
            token,
            body,
        };
        let deadline = Instant::now() + self.timeout;
        let n = self.nodes.len();
        // A hung node (accepts, never answers) must leave time for the others.
        let share = if n > 1 { 2 } else { 1 };
        let limit = || {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RemoteError::Unreachable {
                    url: self.url().to_owned(),
                    reason: "timed out".into(),
                });
            }
            Ok((left / share).max(Duration::from_millis(500)).min(left))
        };
        let backoff = RetryPolicy::default();
        let mut failing_over = false;
        let mut last: Result<Reply, RemoteError> = Err(RemoteError::Unreachable {
            url: self.url().to_owned(),
            reason: "no node tried".into(),
        });
        for round in 0u32.. {
            let mut answered = false;
            let mut queue = order(n, self.preferred.load(Ordering::Relaxed) % n);
            let mut tried = vec![false; n];
            // Each node is asked `sys/leader` at most once a round: two nodes naming
            // each other cannot send the loop round in circles.
            let mut probed = vec![false; n];
            while let Some(i) = (!queue.is_empty()).then(|| queue.remove(0)) {
                if tried[i] {
                    continue;
                }
                if failing_over && n > 1 && !probed[i] {
                    probed[i] = true;
                    let hint = self.leader(i, &limit);
                    // A node that answers is alive: the cluster is worth waiting for.
                    answered |= hint.is_ok();
                    match hint {
                        Err(e) => {
                            tried[i] = true;
                            last = Err(e);
                            continue;
                        }
                        Ok(Leader::Electing) => {
                            tried[i] = true;
                            answered = true;
                            last = Err(RemoteError::Unreachable {
                                url: self.nodes[i].clone(),
                                reason: "no active node (a leader election is under way)".into(),
                            });
                            continue;
                        }
                        Ok(Leader::Node(m)) if m != i && !tried[m] => {
                            // Straight to the active node; this one stays a fallback.
                            queue.insert(0, i);
                            queue.insert(0, m);
                            continue;
                        }
                        Ok(_) => {}
                    }
                }
                tried[i] = true;
                match self.send_node(i, &req, limit) {
                    Ok((reply, _)) if n > 1 && node_unavailable(reply.status) => {
                        tracing::debug!(node = %self.nodes[i], status = reply.status, "node unavailable: trying the next");
                        answered = true;
                        failing_over = true;
                        last = Ok(reply);
                    }
                    Ok((reply, at)) => {
                        self.preferred.store(at.unwrap_or(i), Ordering::Relaxed);
                        return Ok(reply);
                    }
                    Err(e @ (RemoteError::Tls { .. } | RemoteError::Config(_))) => return Err(e),
                    Err(e) => {
                        tracing::debug!(node = %self.nodes[i], error = %e, "node failed: trying the next");
                        failing_over = true;
                        last = Err(e);
                    }
                }
            }
            let pause = backoff.delay(round);
            if n == 1 || !answered || Instant::now() + pause >= deadline {
                break;
            }
            std::thread::sleep(pause);
        }
        last
    }

    /// Asks node `i` (no token) which node is active.
    fn leader(
        &self,
        i: usize,
        limit: &impl Fn() -> Result<Duration, RemoteError>,
    ) -> Result<Leader, RemoteError> {
        let req = Req {
            method: Method::Get,
            path: "sys/leader",
            token: None,
            body: None,
        };
        let (reply, _) = self.send_node(i, &req, limit)?;
        if !(200..300).contains(&reply.status) {
            if node_unavailable(reply.status) {
                return Err(RemoteError::Unreachable {
                    url: self.nodes[i].clone(),
                    reason: format!(
                        "HTTP {} for sys/leader{}",
                        reply.status,
                        safe_server_message(&reply.body)
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    ),
                });
            }
            // No answer about HA (not a cluster, or a proxy in front): let the request
            // itself find out.
            return Ok(Leader::Node(i));
        }
        let l: LeaderReply = reply.json(&self.nodes[i], "sys/leader")?;
        Ok(if !l.ha_enabled || l.is_self {
            Leader::Node(i)
        } else if l.leader_address.is_empty() {
            Leader::Electing
        } else {
            self.node_of(&l.leader_address)
                .map_or(Leader::Elsewhere, Leader::Node)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_node_goes_first_then_the_others_in_order() {
        assert_eq!(order(3, 0), [0, 1, 2]);
        assert_eq!(order(3, 2), [2, 0, 1]);
        assert_eq!(order(1, 0), [0]);
    }

    #[test]
    fn a_standby_or_an_election_is_unavailable_and_an_answer_is_not() {
        for s in [412, 429, 472, 473, 500, 502, 503, 504] {
            assert!(node_unavailable(s), "{s}");
        }
        for s in [200, 204, 400, 403, 404, 501] {
            assert!(!node_unavailable(s), "{s}");
        }
    }

    /// Every node refuses connections: the request fails (at once: no node answered, so
    /// no round is repeated), naming a node.
    #[test]
    fn a_cluster_with_no_node_answering_fails_at_once() {
        let ports: Vec<u16> = (0..2)
            .map(|_| {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            })
            .collect();
        let url = ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let t = Transport::new(&url, None, Duration::from_secs(20)).unwrap();
        let e = t
            .send(Method::Get, "sys/health", None, None)
            .expect_err("nothing listens");
        assert!(matches!(e, RemoteError::Unreachable { .. }), "{e}");
    }
}
