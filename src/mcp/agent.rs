//! The MCP session's link to the openv agent.
//!
//! One connection is kept for the session and reused; a second one is opened only while
//! the first is busy (a consent request can wait minutes for a person, and list calls
//! should not queue behind it). A kept connection whose agent has since restarted is
//! dropped and the call retried once on a fresh one: always when the request could not
//! even be written (it never reached an agent), and otherwise only when repeating it is
//! harmless.

use std::sync::Mutex;

use crate::ipc::client::{Client, ClientError};
use crate::ipc::protocol::{Request, Response};
use crate::ipc::transport::TransportError;
use crate::paths::Home;

use super::error::ToolError;

/// Idle connections kept; more than this only exist while calls overlap.
const MAX_IDLE: usize = 4;

#[derive(Debug)]
pub struct AgentLink {
    home: Home,
    idle: Mutex<Vec<Client>>,
}

/// Requests whose effect does not change if the agent ran them twice.
fn repeatable(req: &Request) -> bool {
    matches!(
        req,
        Request::Status
            | Request::EnvList
            | Request::VarList { .. }
            | Request::VarDeclare { .. }
            | Request::Mounts
            | Request::Pending
            | Request::VarSetMany { .. }
            // A duplicate audit line is better than a lost one.
            | Request::McpAudit { .. }
    )
}

/// The request was not delivered: writing to a socket whose agent is gone fails at once.
fn undelivered(e: &ClientError) -> bool {
    matches!(e, ClientError::Transport(TransportError::Io(io)) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn broken(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Transport(TransportError::Closed | TransportError::Io(_))
            | ClientError::Interrupted { .. }
    )
}

impl AgentLink {
    pub fn new(home: Home) -> Self {
        Self {
            home,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    fn take(&self) -> Option<Client> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put(&self, client: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(client);
        }
    }

    /// A client that connects with its first call, starting the agent when none runs
    /// (as every openv command does); the greeting travels with that call.
    fn connect(&self) -> Client {
        Client::deferred(&self.home)
    }

    /// Sends one request. Agent errors come back as `ToolError::Agent` with its cid.
    pub async fn call(&self, req: &Request) -> Result<Response, ToolError> {
        let (mut client, reused) = match self.take() {
            Some(c) => (c, true),
            None => (self.connect(), false),
        };
        let first = client.call(req).await;
        let result = match first {
            // A kept connection to an agent that has since restarted: try a fresh one.
            Err(e) if reused && (undelivered(&e) || (broken(&e) && repeatable(req))) => {
                tracing::info!("agent connection lost; reconnecting");
                client = self.connect();
                client.call(req).await
            }
            other => other,
        };
        match result {
            Ok(r) => {
                self.put(client);
                Ok(r)
            }
            Err(e) => {
                if matches!(e, ClientError::Agent { .. }) {
                    self.put(client);
                }
                Err(e.into())
            }
        }
    }
}
