//! Opens waiting for the owner: the reply slot, per-open snapshots, and the timeout watchdog.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fuser::{Errno, ReplyOpen};
use zeroize::Zeroizing;

use super::attrs::Attrs;
use crate::Shared;
use crate::request::{Decision, Responder};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop readers from being answered.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The bytes each open file handle was served; dropped (and zeroized) on release.
#[derive(Default)]
pub(crate) struct Snapshots {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Zeroizing<Vec<u8>>>>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Snapshots({} open, <redacted>)", lock(&self.open).len())
    }
}

impl Snapshots {
    fn insert(&self, bytes: Zeroizing<Vec<u8>>) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.open).insert(fh, bytes);
        fh
    }

    pub(crate) fn len_of(&self, fh: u64) -> Option<u64> {
        lock(&self.open).get(&fh).map(|b| b.len() as u64)
    }

    /// Runs `f` on the slice `[offset, offset + size)` of handle `fh`, under the lock so the
    /// bytes are never copied out.
    pub(crate) fn with_range<R>(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> R {
        let open = lock(&self.open);
        let range = open.get(&fh).map(|bytes| {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = start.saturating_add(size as usize).min(bytes.len());
            &bytes[start..end]
        });
        f(range)
    }

    pub(crate) fn release(&self, fh: u64) {
        let bytes = lock(&self.open).remove(&fh);
        drop(bytes);
    }
}

/// The kernel's open request, answered exactly once by the owner, the watchdog or unmount.
#[derive(Debug)]
pub(crate) struct Slot(Mutex<Option<ReplyOpen>>);

impl Slot {
    pub(crate) fn new(reply: ReplyOpen) -> Arc<Slot> {
        Arc::new(Slot(Mutex::new(Some(reply))))
    }

    fn take(&self) -> Option<ReplyOpen> {
        lock(&self.0).take()
    }

    pub(crate) fn is_answered(&self) -> bool {
        lock(&self.0).is_none()
    }
}

/// Denies `slot` if nobody answered it yet.
pub(crate) fn deny(slot: &Slot, shared: &Shared) {
    if let Some(reply) = slot.take() {
        // Counted before the reply: a reader that sees the answer sees updated stats.
        shared.counters.denied();
        reply.error(Errno::EACCES);
    }
}

/// The owner's side of a FUSE open.
pub(crate) struct PendingOpen {
    pub slot: Arc<Slot>,
    pub snapshots: Arc<Snapshots>,
    pub shared: Arc<Shared>,
    pub attrs: Arc<Attrs>,
}

impl Responder for PendingOpen {
    fn answer(self: Box<Self>, decision: Decision) {
        match decision {
            Decision::Serve(bytes) => {
                // Too late (timed out or unmounting): the bytes drop here, zeroized.
                let Some(reply) = self.slot.take() else {
                    return;
                };
                let len = bytes.len() as u64;
                let fh = self.snapshots.insert(bytes);
                self.shared.counters.served();
                // Direct I/O: every read comes to us, so each handle reads its own snapshot.
                self.attrs.answer_open(reply, fh, len, &self.shared);
            }
            Decision::Deny => deny(&self.slot, &self.shared),
        }
    }
}

#[derive(Default)]
struct Queue {
    /// Deadlines arrive in order (one timeout per mount), so a queue is enough.
    pending: VecDeque<(Instant, Weak<Slot>)>,
    stopped: bool,
}

impl Queue {
    /// Answered opens leave dead weak references behind: drop those at the front, and
    /// compact now and then in case a long-pending open keeps them from reaching it.
    fn prune(&mut self) {
        while self
            .pending
            .front()
            .is_some_and(|(_, w)| w.strong_count() == 0)
        {
            self.pending.pop_front();
        }
        if self.pending.len() > 1024 {
            self.pending.retain(|(_, w)| w.strong_count() > 0);
        }
    }
}

/// Denies opens still unanswered at their deadline, and all of them at unmount.
#[derive(Debug)]
pub(crate) struct Watchdog {
    state: Arc<(Mutex<Queue>, Condvar)>,
    timeout: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queue({} pending)", self.pending.len())
    }
}

impl Watchdog {
    pub(crate) fn start(timeout: Duration, shared: Arc<Shared>) -> std::io::Result<Watchdog> {
        let state = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("openv-timeout".into())
            .spawn(move || watch_loop(&thread_state, &shared))?;
        Ok(Watchdog {
            state,
            timeout,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Starts the clock on `slot` (the deadline counts from now). False once stopped: the
    /// caller must deny.
    pub(crate) fn watch(&self, slot: &Arc<Slot>) -> bool {
        let (queue, wake) = &*self.state;
        let mut queue = lock(queue);
        if queue.stopped {
            return false;
        }
        queue.prune();
        let was_empty = queue.pending.is_empty();
        queue
            .pending
            .push_back((Instant::now() + self.timeout, Arc::downgrade(slot)));
        // The thread already sleeps until an earlier deadline unless the queue was empty:
        // waking it on every open would cost a context switch per open.
        if was_empty {
            wake.notify_one();
        }
        true
    }

    /// Denies every pending open and stops the thread.
    pub(crate) fn stop(&self) {
        let (queue, wake) = &*self.state;
        lock(queue).stopped = true;
        wake.notify_one();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

fn watch_loop(state: &(Mutex<Queue>, Condvar), shared: &Shared) {
    let (queue, wake) = state;
    let mut queue = lock(queue);
    loop {
        queue.prune();
        if queue.stopped {
            let pending: Vec<_> = queue.pending.drain(..).collect();
            drop(queue);
            for (_, slot) in pending {
                if let Some(slot) = slot.upgrade() {
                    deny(&slot, shared);
                }
            }
            return;
        }
        let now = Instant::now();
        let mut expired = Vec::new();
        while let Some((deadline, _)) = queue.pending.front() {
            if *deadline > now {
                break;
            }
            expired.extend(queue.pending.pop_front().map(|(_, slot)| slot));
        }
        if !expired.is_empty() {
            // Reply outside the lock: opens keep being queued meanwhile.
            drop(queue);
            for slot in expired.iter().filter_map(Weak::upgrade) {
                deny(&slot, shared);
            }
            queue = lock(&state.0);
            continue;
        }
        queue = match queue.pending.front() {
            Some((deadline, _)) => {
                let wait = deadline.saturating_duration_since(now);
                wake.wait_timeout(queue, wait)
                    .map_or_else(|e| e.into_inner().0, |(q, _)| q)
            }
            None => wake.wait(queue).unwrap_or_else(PoisonError::into_inner),
        };
    }
}
