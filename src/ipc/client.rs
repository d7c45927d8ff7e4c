//! The client side: connect, check versions, start the agent when none runs.

use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use thiserror::Error;

use super::deadline::{self, Deadlines};
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
    #[error(transparent)]
    Peer(#[from] super::peer::PeerError),
    /// A connect or response deadline passed; the message says why and what to do.
    #[error("{0}")]
    Timeout(String),
    /// The agent went away between receiving a change and answering it.
    #[error(
        "the openv agent stopped before answering `{op}`: it may or may not have been applied; check with {check}, then run the command again if needed"
    )]
    Interrupted {
        op: &'static str,
        check: &'static str,
    },
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
    /// The listening process, as the kernel reports it (not as the greeting says).
    peer_pid: Option<i32>,
    /// Another binary accepted as the agent (see [`Self::with_agent_binary`]).
    agent_binary: Option<std::path::PathBuf>,
    deadlines: Deadlines,
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

/// The answer to a delivered `req` was lost: for a change, say that it may have been
/// applied and how to tell.
fn lost(req: &Request, e: TransportError) -> ClientError {
    let cut = match &e {
        TransportError::Closed => true,
        TransportError::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
        TransportError::Decode(_) => false,
    };
    match deadline::how_to_check(req) {
        Some(check) if cut => ClientError::Interrupted {
            op: req.op(),
            check,
        },
        _ => e.into(),
    }
}

/// Runs `fut` with a deadline; past it, the agent's state explains why.
async fn within<T>(
    home: &Home,
    pid: Option<u32>,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout(deadline::explain(home, pid, limit))),
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
        Ok(Self::connect_with(home, None, None).await?.0)
    }

    /// Connects and greets, with `first` sent right behind the greeting so that both
    /// answers come back in one round trip. `NotRunning` means nothing was done: the agent
    /// answers in order, and it had not even answered the greeting.
    async fn connect_with(
        home: &Home,
        first: Option<&Request>,
        also: Option<&std::path::Path>,
    ) -> Result<(Self, Option<Response>), ClientError> {
        let path = home.socket();
        let name = path
            .as_path()
            .to_fs_name::<GenericFilePath>()
            .map_err(TransportError::Io)?;
        let deadlines = Deadlines::load(home);
        let connect = within(home, None, deadlines.connect, async {
            Stream::connect(name)
                .await
                .map_err(|e| TransportError::Io(e).into())
        });
        let stream = match connect.await {
            Ok(s) => s,
            Err(ClientError::Transport(TransportError::Io(e)))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning(home.root().display().to_string()));
            }
            // A full backlog: the agent accepts nothing, as when stopped.
            Err(ClientError::Transport(TransportError::Io(e)))
                if e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                return Err(ClientError::Timeout(deadline::explain(
                    home,
                    None,
                    deadlines.connect,
                )));
            }
            Err(e) => return Err(e),
        };
        let peer_pid = stream.peer_creds().ok().and_then(|c| c.pid());
        // The listener's process is gone (a killed agent whose socket another process still
        // holds): as good as no agent, so one is started, never a secret sent.
        let gone = |pid: i32| {
            procfs::process::Process::new(pid)
                .and_then(|p| p.stat())
                .map_or(true, |st| st.state == 'Z')
        };
        if peer_pid.is_some_and(gone) {
            return Err(ClientError::NotRunning(home.root().display().to_string()));
        }
        if first.is_some_and(super::peer::carries_secret) {
            super::peer::check_agent(home, peer_pid, also)?;
        }
        let limit = first.map_or(deadlines.response, |r| deadlines.response_for(r));
        within(
            home,
            None,
            limit,
            Self::greet(home, stream, first, deadlines, peer_pid),
        )
        .await
    }

    /// The greeting (and `first`) on a fresh connection, and their answers.
    /// (`MCP_SESSION` is set by `openv mcp`: see [`announce_mcp_session`].)
    async fn greet(
        home: &Home,
        stream: Stream,
        first: Option<&Request>,
        deadlines: Deadlines,
        peer_pid: Option<i32>,
    ) -> Result<(Self, Option<Response>), ClientError> {
        let mut chan = Channel::new(stream);
        let hello = Request::Hello {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
            context: context(),
            mcp: MCP_SESSION.load(std::sync::atomic::Ordering::Relaxed),
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
            Some(req) => match chan.recv().await {
                Ok(Some(a)) => Some(a),
                Ok(None) => return Err(lost(req, TransportError::Closed)),
                Err(e) => return Err(lost(req, e)),
            },
            None => None,
        };
        let client = Self {
            home: home.clone(),
            chan: Some(chan),
            agent,
            peer_pid,
            agent_binary: None,
            deadlines,
        };
        Ok((client, first_answer))
    }

    /// Connects, starting the agent in the background first if none is running.
    /// Returns only once the agent's socket answers.
    pub async fn connect_or_start(home: &Home) -> Result<Self, ClientError> {
        Ok(Self::connect_or_start_with(home, None, None).await?.0)
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
            peer_pid: None,
            agent_binary: None,
            deadlines: Deadlines::load(home),
        }
    }

    /// Accepts `exe` as the agent's binary too, for programs that embed this client and
    /// are not `openv` themselves (tests, benchmarks). Only code can set it: no variable
    /// or option lets a caller of the CLI or the MCP server choose it.
    pub fn with_agent_binary(mut self, exe: impl Into<std::path::PathBuf>) -> Self {
        self.agent_binary = Some(exe.into());
        self
    }

    async fn connect_or_start_with(
        home: &Home,
        first: Option<&Request>,
        also: Option<&std::path::Path>,
    ) -> Result<(Self, Option<Response>), ClientError> {
        // A previous agent may still be dying (socket present, lock still held), or a
        // concurrent client may be starting one: retry until one answers.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Self::connect_with(home, first, also).await {
                Err(ClientError::NotRunning(_)) => {}
                other => return other,
            }
            super::spawn::spawn_background(home).await?;
            let settle = Instant::now() + Duration::from_millis(500);
            loop {
                match Self::connect_with(home, first, also).await {
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
            Some(chan) => {
                if super::peer::carries_secret(req) {
                    super::peer::check_agent(
                        &self.home,
                        self.peer_pid,
                        self.agent_binary.as_deref(),
                    )?;
                }
                let (home, pid) = (&self.home, Some(self.agent.pid));
                let limit = self.deadlines.response_for(req);
                within(home, pid, limit, async {
                    // Not written = not delivered: that error stays as it is.
                    chan.send(req).await?;
                    match chan.recv().await {
                        Ok(Some(a)) => Ok(a),
                        Ok(None) => Err(lost(req, TransportError::Closed)),
                        Err(e) => Err(lost(req, e)),
                    }
                })
                .await?
            }
            None => {
                let also = self.agent_binary.take();
                let (client, answer) =
                    Self::connect_or_start_with(&self.home, Some(req), also.as_deref()).await?;
                *self = client;
                self.agent_binary = also;
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

/// Set once by `openv mcp`: every greeting then says so (`Request::Hello::mcp`).
static MCP_SESSION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as an MCP server: the agent counts what its parent (the MCP
/// client) starts as agent-started.
pub fn announce_mcp_session() {
    MCP_SESSION.store(true, std::sync::atomic::Ordering::Relaxed);
}
