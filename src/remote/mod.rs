//! Team environments on OpenBao (or HashiCorp Vault, same HTTP API).
//!
//! A thin blocking client for the dozen endpoints openv needs, over `ureq` with rustls:
//! `http` (transport, custom CA), `failover` (the node of a cluster to ask), `consistency`
//! (read-your-writes on standbys that serve reads), `auth` (token, AppRole, userpass; lookup and renewal),
//! `kv` (KV v2 read, check-and-set write and patch, subkeys, metadata, delete), `breaker`
//! (retries with backoff and jitter, circuit breaker), `mapping` (an environment as one
//! secret), `client` (one configured server), `registry` (the agent's live clients) and
//! `sync` (fetching into the sealed cache, writing with check-and-set).
//!
//! Nothing here reads `VAULT_*` variables or a proxy from the environment: the server,
//! the credentials and the CA are what `openv remote add` recorded.

pub mod auth;
pub mod breaker;
pub mod change;
pub mod client;
pub mod consistency;
pub mod error;
pub mod failover;
pub mod http;
pub mod kv;
pub mod mapping;
pub mod registry;
pub mod sync;

pub use client::{Remote, RemoteSpec};
pub use error::RemoteError;
pub use registry::Remotes;
