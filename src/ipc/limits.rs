//! What one client may cost the agent: connections (per peer and in total), frame size
//! by request kind, and the memory all partial frames together may hold.
//!
//! A frame's length comes first; the codec then waits for the request's tag (the first
//! JSON string of the frame) and refuses a frame larger than that kind may be before
//! buffering more. A value-carrying request (`var_set`, `var_set_many`, `init`,
//! `unlock`, `restore`) may be as large as its values allow; every other request is
//! small. Bytes are buffered as they arrive (never reserved up front from the length),
//! and every frame in flight draws on one shared budget, so idle or slow clients cannot
//! grow the agent without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::names::MAX_VALUE_LEN;

/// A value can grow six-fold in JSON (`\u0001`), plus the request around it.
pub const VALUE_FRAME: usize = 6 * MAX_VALUE_LEN + 16 * 1024;
/// `var_set_many`: a batch of values.
pub const BATCH_FRAME: usize = 4 * 1024 * 1024;
/// Everything else: names, paths, argv. 8,000 names of 128 bytes fit.
pub const SMALL_FRAME: usize = 1024 * 1024;
/// The tag is within this many bytes of the frame's start.
const TAG_WINDOW: usize = 48;
/// Frames up to this size are let through unjudged and unbudgeted: every kind may be
/// this small, and the greeting and `status` must get through while big frames queue.
/// Their memory is bounded by the connection cap (512 × 64 KiB = 32 MiB).
pub const FREE_FRAME: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once, all peers together.
    pub total: usize,
    /// Connections open at once from one process.
    pub per_peer: usize,
    /// The greeting must arrive within this of the connect.
    pub handshake: Duration,
    /// A connection with no request for this long is closed (clients reconnect).
    pub idle: Duration,
    /// All partial frames together.
    pub partial_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            total: 512,
            per_peer: 64,
            handshake: Duration::from_secs(5),
            idle: Duration::from_secs(600),
            partial_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Fits the connection cap under the descriptor limit: half of it stays for mounts,
    /// the vault, /proc reads and readers' identification.
    pub fn fitted(mut self) -> Self {
        if let Ok((soft, _)) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        {
            let room = usize::try_from(soft / 2).unwrap_or(usize::MAX).max(16);
            self.total = self.total.min(room);
        }
        self
    }
}

/// The largest frame a request of kind `tag` may be.
pub fn frame_cap(tag: &str) -> usize {
    match tag {
        "var_set" | "init" | "unlock" | "restore" => VALUE_FRAME,
        "var_set_many" => BATCH_FRAME,
        _ => SMALL_FRAME,
    }
}

/// How the accept loop waits after a failure: out of descriptors, accepting again at
/// once only fails again. Logs once when failures start and once when they end.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u64,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// After a failed accept: how long to wait before the next.
    pub fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.failures += 1;
        if self.failures == 1 {
            let fds = matches!(
                e.raw_os_error(),
                Some(nix::libc::EMFILE | nix::libc::ENFILE)
            );
            tracing::warn!(
                error = %e,
                out_of_descriptors = fds,
                "accepting connections fails; backing off (logged again when it recovers)"
            );
        }
        let shift = u32::try_from(self.failures.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(7);
        (Self::FIRST * 2u32.pow(shift)).min(Self::MAX)
    }

    /// After a successful accept.
    pub fn accepted(&mut self) {
        if self.failures > 0 {
            tracing::warn!(failures = self.failures, "accepting connections again");
            self.failures = 0;
        }
    }
}

/// Open connections and frame bytes in flight; shared by every connection.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    total: AtomicUsize,
    per_peer: Mutex<HashMap<i32, usize>>,
    partial: AtomicUsize,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<Gate>,
    peer: Option<i32>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gate.total.fetch_sub(1, Ordering::SeqCst);
        if let Some(pid) = self.peer {
            let mut map = self.gate.per_peer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = map.get_mut(&pid) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&pid);
                }
            }
        }
    }
}

impl Gate {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            total: AtomicUsize::new(0),
            per_peer: Mutex::new(HashMap::new()),
            partial: AtomicUsize::new(0),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A place for a new connection from `peer`, or why there is none (one line).
    pub fn admit(self: &Arc<Self>, peer: Option<i32>) -> Result<Admission, String> {
        let n = self.total.fetch_add(1, Ordering::SeqCst);
        // From here the admission undoes the count whatever happens.
        let mut a = Admission {
            gate: Arc::clone(self),
            peer: None,
        };
        if n >= self.limits.total {
            return Err(format!(
                "the openv agent has {} connections open, its limit: close idle clients (`openv mcp` sessions, scripts) and try again",
                self.limits.total
            ));
        }
        if let Some(pid) = peer {
            let mut map = self.per_peer.lock().unwrap_or_else(|p| p.into_inner());
            let mine = map.entry(pid).or_insert(0);
            if *mine >= self.limits.per_peer {
                return Err(format!(
                    "process {pid} has {} connections open to the openv agent, the limit for one process: close some and try again",
                    self.limits.per_peer
                ));
            }
            *mine += 1;
            a.peer = Some(pid);
        }
        Ok(a)
    }

    fn reserve(&self, n: usize) -> bool {
        let before = self.partial.fetch_add(n, Ordering::SeqCst);
        if before + n > self.limits.partial_bytes {
            self.partial.fetch_sub(n, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn release(&self, n: usize) {
        self.partial.fetch_sub(n, Ordering::SeqCst);
    }

    /// Bytes of partial frames held now.
    pub fn partial_bytes(&self) -> usize {
        self.partial.load(Ordering::SeqCst)
    }
}

/// Length-delimited frames, decoded under the limits above; encodes like the client.
#[derive(Debug)]
pub struct LimitedCodec {
    inner: LengthDelimitedCodec,
    gate: Arc<Gate>,
    /// Budget held for the frame being received.
    held: usize,
}

impl LimitedCodec {
    pub fn new(gate: Arc<Gate>) -> Self {
        Self {
            inner: LengthDelimitedCodec::builder()
                .max_frame_length(BATCH_FRAME)
                .new_codec(),
            gate,
            held: 0,
        }
    }

    fn let_go(&mut self) {
        self.gate.release(std::mem::take(&mut self.held));
    }
}

impl Drop for LimitedCodec {
    fn drop(&mut self) {
        self.let_go();
    }
}

fn too_big(tag: &str, len: usize, cap: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("a {tag} request of {len} bytes is over its limit of {cap} bytes"),
    )
}

/// The request's tag: the first JSON string (`{"var_set":...` or `"status"`).
fn tag(head: &[u8]) -> Option<&str> {
    let start = head.iter().position(|b| *b == b'"')? + 1;
    let len = head[start..].iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&head[start..start + len]).ok()
}

impl Decoder for LimitedCodec {
    type Item = BytesMut;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, std::io::Error> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if self.held == 0 && len > FREE_FRAME {
            // Judge the frame by its kind before holding more of it.
            if src.len() < 4 + TAG_WINDOW {
                return Ok(None);
            }
            let tag = tag(&src[4..4 + TAG_WINDOW]).unwrap_or("malformed");
            let cap = frame_cap(tag);
            if len > cap {
                return Err(too_big(tag, len, cap));
            }
            if !self.gate.reserve(len) {
                return Err(std::io::Error::other(
                    "the openv agent is receiving too much at once: try again in a moment",
                ));
            }
            self.held = len;
        }
        if src.len() < 4 + len {
            return Ok(None);
        }
        let frame = self.inner.decode(src)?;
        self.let_go();
        // Frames arrive one at a time; what follows stays buffered for the next call.
        if src.capacity() > 64 * 1024 && src.is_empty() {
            *src = BytesMut::new();
        }
        Ok(frame)
    }
}

impl Encoder<bytes::Bytes> for LimitedCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: bytes::Bytes, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        self.inner.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        b.extend_from_slice(&(body.len() as u32).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn frames_are_judged_by_kind_and_budget() {
        let gate = Gate::new(Limits {
            partial_bytes: 2 * VALUE_FRAME,
            ..Limits::default()
        });
        let mut c = LimitedCodec::new(Arc::clone(&gate));
        let mut small = frame(b"\"status\"");
        assert_eq!(
            &c.decode(&mut small).expect("ok").expect("frame")[..],
            b"\"status\""
        );

        // A big frame of a small kind is refused from its first bytes.
        let mut head = BytesMut::new();
        head.extend_from_slice(&((SMALL_FRAME + 1) as u32).to_be_bytes());
        head.extend_from_slice(br#"{"var_list":{"env":"dev"}"#);
        head.extend_from_slice(&[b' '; 64]);
        let e = c.decode(&mut head).expect_err("too big");
        assert!(e.to_string().contains("a var_list request of"), "{e}");

        // Unfinished value frames hold budget until the codec goes.
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = LimitedCodec::new(Arc::clone(&gate));
            let mut part = BytesMut::new();
            part.extend_from_slice(&(VALUE_FRAME as u32).to_be_bytes());
            part.extend_from_slice(br#"{"var_set":{"env":"dev","name":"A","value":"#);
            part.extend_from_slice(&[b'x'; 64]);
            assert!(c.decode(&mut part).expect("pending").is_none());
            held.push((c, part));
        }
        let mut c3 = LimitedCodec::new(Arc::clone(&gate));
        let mut part = held[0].1.clone();
        let e = c3.decode(&mut part).expect_err("over budget");
        assert!(e.to_string().contains("too much at once"), "{e}");
        drop(held);
        assert_eq!(gate.partial_bytes(), 0);
    }

    #[test]
    fn connections_are_capped_per_peer_and_in_total() {
        let gate = Gate::new(Limits {
            total: 3,
            per_peer: 2,
            ..Limits::default()
        });
        let a = gate.admit(Some(7)).expect("1");
        let b = gate.admit(Some(7)).expect("2");
        let e = gate.admit(Some(7)).expect_err("per peer");
        assert!(e.contains("process 7 has 2 connections"), "{e}");
        let c = gate.admit(Some(8)).expect("3");
        let e = gate.admit(Some(9)).expect_err("total");
        assert!(e.contains("has 3 connections open"), "{e}");
        drop((a, b, c));
        gate.admit(Some(7)).expect("again");
    }
}
