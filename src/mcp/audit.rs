//! Recording tool calls in the agent's audit log without holding up the answer.
//!
//! Records go, in call order, through one queue to a task that sends them to the agent
//! (`McpAudit`). `get_audit_log` and the end of the session wait for the queue to empty,
//! so what a client reads back, and what a finished session leaves, is complete.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::agent::AgentLink;
use crate::ipc::protocol::Request;

#[derive(Debug)]
enum Job {
    Record(Request),
    Flush(oneshot::Sender<()>),
}

#[derive(Debug)]
pub struct AuditQueue {
    agent: Arc<AgentLink>,
    /// Started on first use, from inside the runtime.
    tx: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl AuditQueue {
    pub fn new(agent: Arc<AgentLink>) -> Self {
        Self {
            agent,
            tx: OnceLock::new(),
        }
    }

    fn sender(&self) -> &mpsc::UnboundedSender<Job> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(self.agent.clone(), rx));
            tx
        })
    }

    /// Queues one `McpAudit` request.
    pub fn record(&self, req: Request) {
        if self.sender().send(Job::Record(req)).is_err() {
            tracing::warn!("audit queue closed: a tool call was not recorded");
        }
    }

    /// Waits until every record queued so far has been sent to the agent.
    pub async fn flush(&self) {
        let Some(tx) = self.tx.get() else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Job::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(agent: Arc<AgentLink>, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = rx.recv().await {
        match job {
            Job::Record(req) => {
                if let Err(e) = agent.call(&req).await {
                    tracing::warn!(error = %e, "could not record a tool call in the audit log");
                }
            }
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
