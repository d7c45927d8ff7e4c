//! What can be wrong with the MCP server registry.

use thiserror::Error;

use crate::project::ProjectError;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error(transparent)]
    File(#[from] ProjectError),
    #[error("{path}: {message}")]
    State { path: String, message: String },
    #[error("no MCP server named {name}: {known}")]
    Unknown { name: String, known: String },
}
