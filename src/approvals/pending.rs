//! Requests waiting for a person. Simultaneous requests from one process tree (session)
//! for one environment share a single prompt; prompts are rate-limited.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use openv_mount::Reader;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::verdict::Verdict;

#[derive(Debug)]
struct Waiter {
    pid: i32,
    start_time: u64,
    tx: oneshot::Sender<Verdict>,
}

/// What a pending request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ItemKind {
    /// Read an environment (a mount open or `openv run`).
    Read,
    /// Approve an action, e.g. "delete environment dev".
    Action { action: String },
    /// Type values for these names (`openv var set`), asked for by an agent.
    Values { names: Vec<String> },
}

#[derive(Debug)]
pub struct Item {
    pub id: u64,
    pub kind: ItemKind,
    pub env: String,
    pub reader: Reader,
    pub tree: i32,
    pub ai: Option<String>,
    pub text: String,
    pub created: Instant,
    waiters: Vec<Waiter>,
}

impl Item {
    /// Sends the verdict to every coalesced open.
    pub fn settle(self, verdict: &Verdict) -> usize {
        let n = self.waiters.len();
        for w in self.waiters {
            let _ = w.tx.send(verdict.clone());
        }
        n
    }
}

/// One row of `openv pending`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingView {
    pub id: u64,
    #[serde(flatten)]
    pub kind: ItemKind,
    pub env: String,
    pub pid: i32,
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    pub cwd: Option<String>,
    pub chain: Vec<String>,
    pub ai_agent: Option<String>,
    pub age_secs: u64,
    /// Opens waiting on this one prompt.
    pub waiting: usize,
    pub text: String,
}

#[derive(Debug)]
pub struct RateLimited {
    pub until: SystemTime,
}

#[derive(Debug)]
pub struct Pending {
    items: Vec<Item>,
    next_id: u64,
    opened: VecDeque<Instant>,
    /// At most this many new prompts per `window`.
    pub limit: usize,
    pub window: Duration,
}

impl Pending {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            items: Vec::new(),
            next_id: 0,
            opened: VecDeque::new(),
            limit,
            window,
        }
    }

    /// Joins the open prompt for (env, tree) or opens a new one. Returns the receiver,
    /// the prompt's id, and whether it is new.
    pub fn enqueue(
        &mut self,
        env: &str,
        reader: &Reader,
        tree: i32,
        ai: Option<String>,
        text: String,
    ) -> Result<(oneshot::Receiver<Verdict>, u64, bool), RateLimited> {
        if let Some(item) = self.items.iter_mut().find(|i| {
            i.kind == ItemKind::Read
                && i.env == env
                && (i.tree == tree || i.reader.pid == reader.pid)
        }) {
            let (tx, rx) = oneshot::channel();
            item.waiters.push(Waiter {
                pid: reader.pid,
                start_time: reader.start_time,
                tx,
            });
            return Ok((rx, item.id, false));
        }
        let (rx, id) = self.open(ItemKind::Read, env, reader, tree, ai, text)?;
        Ok((rx, id, true))
    }

    /// A request that is not a read: never coalesced, still rate-limited.
    pub fn enqueue_other(
        &mut self,
        kind: ItemKind,
        env: &str,
        reader: &Reader,
        ai: Option<String>,
        text: String,
    ) -> Result<(oneshot::Receiver<Verdict>, u64), RateLimited> {
        self.open(kind, env, reader, reader.pid, ai, text)
    }

    fn open(
        &mut self,
        kind: ItemKind,
        env: &str,
        reader: &Reader,
        tree: i32,
        ai: Option<String>,
        text: String,
    ) -> Result<(oneshot::Receiver<Verdict>, u64), RateLimited> {
        let now = Instant::now();
        while self
            .opened
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            self.opened.pop_front();
        }
        if self.opened.len() >= self.limit {
            let oldest = self.opened.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(RateLimited {
                until: SystemTime::now() + wait,
            });
        }
        self.opened.push_back(now);
        self.next_id += 1;
        let id = self.next_id;
        let (tx, rx) = oneshot::channel();
        self.items.push(Item {
            id,
            kind,
            env: env.to_owned(),
            reader: reader.clone(),
            tree,
            ai,
            text,
            created: now,
            waiters: vec![Waiter {
                pid: reader.pid,
                start_time: reader.start_time,
                tx,
            }],
        });
        Ok((rx, id))
    }

    pub fn kind_of(&self, id: u64) -> Option<&ItemKind> {
        self.items.iter().find(|i| i.id == id).map(|i| &i.kind)
    }

    pub fn take(&mut self, id: u64) -> Option<Item> {
        let pos = self.items.iter().position(|i| i.id == id)?;
        Some(self.items.remove(pos))
    }

    pub fn take_all(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.items)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Forgets waiters whose process exited; returns prompts left with nobody waiting.
    pub fn prune_exited(&mut self, alive: impl Fn(i32, u64) -> bool) -> Vec<Item> {
        for item in &mut self.items {
            item.waiters
                .retain(|w| !w.tx.is_closed() && alive(w.pid, w.start_time));
        }
        let (gone, keep): (Vec<Item>, Vec<Item>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|i| i.waiters.is_empty());
        self.items = keep;
        gone
    }

    pub fn list(&self) -> Vec<PendingView> {
        self.items
            .iter()
            .map(|i| PendingView {
                id: i.id,
                kind: i.kind.clone(),
                env: i.env.clone(),
                pid: i.reader.pid,
                exe: i.reader.exe.as_ref().map(|p| p.display().to_string()),
                cmdline: i.reader.cmdline.clone(),
                cwd: i.reader.cwd.as_ref().map(|p| p.display().to_string()),
                chain: super::describe::chain(&i.reader),
                ai_agent: i.ai.clone(),
                age_secs: i.created.elapsed().as_secs(),
                waiting: i.waiters.len(),
                text: i.text.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn reader(pid: i32) -> Reader {
        Reader {
            pid,
            tid: pid,
            uid: 0,
            exe: Some(PathBuf::from("/usr/bin/cat")),
            cmdline: vec![],
            cwd: None,
            start_time: 1,
            ppid: 1,
            parents: vec![],
            no_new_privs: false,
        }
    }

    #[test]
    fn one_tree_one_prompt_and_rate_limit() {
        let mut p = Pending::new(2, Duration::from_secs(60));
        let mut rxs = Vec::new();
        for pid in 0..100 {
            let (rx, id, new) = p
                .enqueue("dev", &reader(1000 + pid), 7, None, String::new())
                .expect("not limited");
            assert_eq!(id, 1);
            assert_eq!(new, pid == 0);
            rxs.push(rx);
        }
        assert_eq!(p.len(), 1);
        assert_eq!(p.list()[0].waiting, 100);
        let (_, id2, _) = p
            .enqueue("prod", &reader(5), 7, None, String::new())
            .expect("2nd");
        assert_eq!(id2, 2);
        assert!(
            p.enqueue("dev", &reader(6), 8, None, String::new())
                .is_err(),
            "limit"
        );
        let item = p.take(1).expect("item");
        let outcome = Verdict::deny(crate::approvals::verdict::DenyCause::Person, "x");
        assert_eq!(item.settle(&outcome), 100);
        for mut rx in rxs {
            assert_eq!(rx.try_recv().expect("settled"), outcome);
        }
        let gone = p.prune_exited(|_, _| false);
        assert_eq!(gone.len(), 1);
        assert!(p.is_empty());
    }
}
