//! Why `openv run` could not start or follow the program.

use thiserror::Error;

use super::program::ProgramError;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error("cannot start {program}: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot watch signals to forward them: {0}")]
    Signals(std::io::Error),
    #[error("cannot wait for the command: {0}")]
    Wait(std::io::Error),
}
