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
    Start(#[from] super::spawn::StartError),
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
    home: Home,
    /// `None` until the first call of a [`deferred`](Self::deferred) client connects.
    chan: Option<Channel<Stream>>,
    /// The agent's side of the handshake (pid 0 until connected).
    pub agent: AgentInfo,
}

/// An agent that is being killed can accept and then reset: as good as none.
fn gone(home: &Home, e: TransportError) -> ClientError {
    match e {
        TransportError::Closed => ClientError::NotRunning(home.root().display().to_string()),
        TransportError::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            ClientError::NotRunning(home.root().display().to_string())
        }
        e => e.into(),
    }
}

fn agent_error(answer: Response) -> Result<Response, ClientError> {
    match answer {
        Response::Error { code, message, cid } => Err(ClientError::Agent { code, message, cid }),
        other => Ok(other),
    }
}

impl Client {
    /// Connects to a running agent; fails with `NotRunning` if there is none.
    pub async fn connect(home: &Home) -> Result<Self, ClientError> {
        Ok(Self::connect_with(home, None).await?.0)
    }

    /// Connects and greets, with `first` sent right behind the greeting so that both
    /// answers come back in one round trip. `NotRunning` means nothing was done: the agent
    /// answers in order, and it had not even answered the greeting.
    async fn connect_with(
        home: &Home,
        first: Option<&Request>,
    ) -> Result<(Self, Option<Response>), ClientError> {
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
            context: context(),
        };
        let sent = match first {
            Some(req) => match chan.feed(&hello).await {
                Ok(()) => chan.send(req).await,
                Err(e) => Err(e),
            },
            None => chan.send(&hello).await,
        };
        sent.map_err(|e| gone(home, e))?;
        let answer = match chan.recv().await {
            Ok(Some(a)) => a,
            Ok(None) => return Err(gone(home, TransportError::Closed)),
            Err(e) => return Err(gone(home, e)),
        };
        let agent = match agent_error(answer)? {
            Response::Hello { pid, version, .. } => AgentInfo { pid, version },
            _ => return Err(ClientError::Unexpected("an unknown greeting")),
        };
        let first_answer = match first {
            Some(_) => Some(chan.recv().await?.ok_or(TransportError::Closed)?),
            None => None,
        };
        let client = Self {
            home: home.clone(),
            chan: Some(chan),
            agent,
        };
        Ok((client, first_answer))
    }

    /// Connects, starting the agent in the background first if none is running.
    /// Returns only once the agent's socket answers.
    pub async fn connect_or_start(home: &Home) -> Result<Self, ClientError> {
        Ok(Self::connect_or_start_with(home, None).await?.0)
    }

    /// A client that connects (starting the agent if needed) with its first call, the
    /// greeting and that call travelling together: one round trip fewer per command.
    pub fn deferred(home: &Home) -> Self {
        Self {
            home: home.clone(),
            chan: None,
            agent: AgentInfo {
                pid: 0,
                version: String::new(),
            },
        }
    }

    async fn connect_or_start_with(
        home: &Home,
        first: Option<&Request>,
    ) -> Result<(Self, Option<Response>), ClientError> {
        // A previous agent may still be dying (socket present, lock still held), or a
        // concurrent client may be starting one: retry until one answers.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Self::connect_with(home, first).await {
                Err(ClientError::NotRunning(_)) => {}
                other => return other,
            }
            super::spawn::spawn_background(home).await?;
            let settle = Instant::now() + Duration::from_millis(500);
            loop {
                match Self::connect_with(home, first).await {
                    Err(ClientError::NotRunning(_)) if Instant::now() < settle => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(ClientError::NotRunning(h)) if Instant::now() >= deadline => {
                        return Err(ClientError::Start(super::spawn::StartError::new(format!(
                            "no agent answered on {h} within 10 s: see {}",
                            home.log_file().display()
                        ))));
                    }
                    Err(ClientError::NotRunning(_)) => break,
                    other => return other,
                }
            }
        }
    }

    /// Sends one request; an agent error becomes `ClientError::Agent`.
    pub async fn call(&mut self, req: &Request) -> Result<Response, ClientError> {
        let answer = match self.chan.as_mut() {
            Some(chan) => chan.request(req).await?,
            None => {
                let (client, answer) = Self::connect_or_start_with(&self.home, Some(req)).await?;
                *self = client;
                answer.ok_or(ClientError::Unexpected("no answer"))?
            }
        };
        agent_error(answer)
    }
}

/// Where this client runs: its terminal (if stdin is one) and display.
fn context() -> crate::approvals::ClientContext {
    use std::io::IsTerminal;
    let tty = std::io::stdin()
        .is_terminal()
        .then(|| nix::unistd::ttyname(std::io::stdin()).ok())
        .flatten()
        .map(|p| p.display().to_string());
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    crate::approvals::ClientContext {
        tty,
        display: var("DISPLAY"),
        wayland: var("WAYLAND_DISPLAY"),
    }
}
