//! The agent's local-socket protocol: messages, framing and the client side.

pub mod client;
pub mod peer;
pub mod protocol;
pub mod transport;
