//! Storage of environments and values behind a small backend interface.
//!
//! The embedded SQLite vault is the default; a team backend (OpenBao KV v2) will
//! implement the same trait. Names are metadata readable while locked; values need the
//! unlocked key.

pub mod audit_head;
mod backend;
pub mod backup;
pub mod crypto;
pub mod durability;
mod error;
pub mod keyslot;
pub mod mac_keys;
pub mod mount_records;
pub mod policy_seal;
pub mod remotes;
pub mod rules;
mod schema;
pub mod sealed_state;
mod shared_gate;
pub mod sqlite;
pub mod team;
mod time;
mod types;

pub use backend::Backend;
pub use error::{REMEDY, StoreError};
pub use keyslot::SlotSecret;
pub use time::{now, rfc3339_seconds};
pub use types::{EnvInfo, ValueSource, VarInfo};
