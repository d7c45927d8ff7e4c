//! The client side: connect, check versions, start the agent when none runs.

use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use thiserror::Error;

use super::protocol::{ErrorCode, PROTOCOL_VERSION, Request, Response};
use super::transport::{Channel, TransportError};
use crate::paths::{Home, PathError};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("no openv agent is running for {0}")]
    NotRunning(String),
    #[error("{message}")]
    Agent {
        code: ErrorCode,
        message: String,
        cid: String,
    },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("could not start the openv agent: {0}")]
    Start(String),
    #[error("the openv agent answered {0} where it should not: run `openv agent restart`")]
    Unexpected(&'static str),
}

impl ClientError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Agent { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The agent's side of the handshake.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub pid: u32,
    pub version: String,
}

#[derive(Debug)]
pub struct Client {
    chan: Channel<Stream>,
    pub agent: AgentInfo,
}

impl Client {
    /// Connects to a running agent; fails with `NotRunning` if there is none.
    pub async fn connect(home: &Home) -> Result<Self, ClientError> {
        let path = home.socket();
        let name = path
            .as_path()
            .to_fs_name::<GenericFilePath>()
            .map_err(TransportError::Io)?;
        let stream = match Stream::connect(name).await {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning(home.root().display().to_string()));
            }
            Err(e) => return Err(TransportError::Io(e).into()),
        };
        let mut chan = Channel::new(stream);
        let hello = Request::Hello {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
        };
        match chan.request(&hello).await? {
            Response::Hello { pid, version, .. } => Ok(Self {
                chan,
                agent: AgentInfo { pid, version },
            }),
            Response::Error { code, message, cid } => {
                Err(ClientError::Agent { code, message, cid })
            }
            _ => Err(ClientError::Unexpected("an unknown greeting")),
        }
    }

    /// Connects, starting the agent in the background first if none is running.
    /// Returns only once the agent's socket answers.
    pub async fn connect_or_start(home: &Home) -> Result<Self, ClientError> {
        match Self::connect(home).await {
            Err(ClientError::NotRunning(_)) => {}
            other => return other,
        }
        crate::agent::daemon::spawn_background(home).await?;
        // The agent listens before it reports ready; a concurrent start may have won
        // the race, in which case its socket appears shortly.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match Self::connect(home).await {
                Err(ClientError::NotRunning(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }

    /// Sends one request; an agent error becomes `ClientError::Agent`.
    pub async fn call(&mut self, req: &Request) -> Result<Response, ClientError> {
        match self.chan.request(req).await? {
            Response::Error { code, message, cid } => {
                Err(ClientError::Agent { code, message, cid })
            }
            other => Ok(other),
        }
    }
}
