//! Request handlers, one file per subject. Each is a few plain functions over the state;
//! `router.rs` maps every request to one of them.

pub mod audit;
pub mod backups;
pub mod consent;
pub mod environments;
pub mod mounts;
pub mod pending;
pub mod policy;
pub mod settings;
pub mod team;
pub mod variables;
pub mod vault;
