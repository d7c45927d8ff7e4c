//! The agent's local-socket protocol: messages, framing and the client side.

pub mod cid;
pub mod client;
pub mod deadline;
pub mod limits;
pub mod peer;
pub mod protocol;
pub mod spawn;
pub mod status_info;
pub mod transport;
