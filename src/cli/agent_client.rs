//! How every command reaches the agent, and the one error for an answer of the wrong kind.

use crate::ipc::client::Client;
use crate::paths::Home;

/// The agent answered with a response of the wrong kind (another version, or a bug).
pub(crate) fn unexpected() -> anyhow::Error {
    anyhow::anyhow!("unexpected answer from the agent: run `openv agent restart`")
}

/// Every command talks to the agent through this: it connects with its first call,
/// starting the agent when needed.
pub(crate) fn client(home: &Home) -> Client {
    Client::deferred(home)
}
