//! The agent's local-socket protocol: messages, framing and the client side.

pub mod cid;
pub mod client;
pub mod protocol;
pub mod spawn;
pub mod transport;
