//! The socket loop: accept, check the peer, handshake, then one request at a time,
//! each answered by `router::handle`.

use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::local_socket::traits::tokio::Listener as _;
use tracing::{Instrument, info, info_span, warn};

use super::router::{self, Tier};
use super::state::{Shared, lock};
use super::surfaces;
use crate::approvals::ClientContext;
use crate::audit::{Event, EventKind};
use crate::ipc::cid::new_cid as cid;
use crate::ipc::limits::{AcceptBackoff, Gate, LimitedCodec, Limits};
use crate::ipc::protocol::{ErrorCode, PROTOCOL_VERSION, Request, Response};
use crate::ipc::transport::{Channel, TransportError};

type Chan = Channel<Stream, LimitedCodec>;

/// Serves until `shutdown` resolves. The caller binds the listener, so tests can run
/// a server on their own socket.
pub async fn serve(
    listener: Listener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let gate = {
        let st = lock(&state);
        Gate::new(
            Limits {
                total: st.config.max_connections,
                per_peer: st.config.max_connections_per_process,
                ..Limits::default()
            }
            .fitted(),
        )
    };
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    backoff.accepted();
                    let state = state.clone();
                    let gate = gate.clone();
                    tokio::spawn(async move { connection(stream, state, gate).await });
                }
                Err(e) => tokio::time::sleep(backoff.failed(&e)).await,
            },
            () = &mut shutdown => break,
        }
    }
}

/// Whether the peer runs as our uid; its pid when the kernel says.
fn peer_is_us(stream: &Stream) -> (Result<(), String>, Option<i32>) {
    match stream.peer_creds() {
        Ok(creds) => (same_user(&creds), creds.pid()),
        Err(e) => (Err(format!("cannot read peer credentials: {e}")), None),
    }
}

fn same_user(creds: &interprocess::local_socket::PeerCreds) -> Result<(), String> {
    let me = nix::unistd::geteuid().as_raw();
    match creds.euid() {
        Some(uid) if uid == me => Ok(()),
        Some(uid) => {
            warn!(peer_uid = uid, peer_pid = ?creds.pid(), "refused a connection from another user");
            Err(format!(
                "refused: this openv agent belongs to uid {me} and serves only that user (you are uid {uid})"
            ))
        }
        None => Err("refused: cannot tell which user is connecting".into()),
    }
}

/// Answers the client's first message with `message` and closes. The hello is read
/// first: closing with unread data would reset the connection and the client would never
/// see why it was refused.
async fn refuse(chan: &mut Chan, code: ErrorCode, message: String, wait: Duration) {
    let _ = tokio::time::timeout(wait, chan.recv::<Request>()).await;
    let _ = chan
        .send(&Response::Error {
            code,
            message,
            cid: cid(),
        })
        .await;
}

/// A request that broke a limit gets its reason; any other unreadable one "malformed".
fn unreadable(e: &TransportError) -> String {
    match e {
        TransportError::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other
            ) =>
        {
            format!("request refused: {io}")
        }
        e => format!("malformed request: {e}"),
    }
}

async fn connection(stream: Stream, state: Shared, gate: Arc<Gate>) {
    let (peer, peer_pid) = peer_is_us(&stream);
    let limits = gate.limits().clone();
    let mut chan = Channel::with_codec(stream, LimitedCodec::new(gate.clone()));
    let _admitted = match gate.admit(peer_pid) {
        Ok(a) => a,
        Err(message) => {
            let wait = Duration::from_millis(200);
            return refuse(&mut chan, ErrorCode::RateLimited, message, wait).await;
        }
    };
    if let Err(message) = peer {
        // Read the client's hello first: closing with unread data would reset the
        // connection and the client would never see why it was refused.
        let _ = tokio::time::timeout(Duration::from_secs(1), chan.recv::<Request>()).await;
        let _ = chan
            .send(&Response::Error {
                code: ErrorCode::PeerRefused,
                message,
                cid: cid(),
            })
            .await;
        return;
    }
    // Read once, at connect: `NoNewPrivs` never clears, so a guarded peer stays one. A
    // peer without a pid (another pid namespace: a sandbox) can't be checked: it counts
    // as guarded, so it gets the agent tier only.
    let guarded = peer_pid.is_none_or(super::guarded::is_guarded);
    let surface: ClientContext;
    // The first message must be a Hello with our protocol version, soon.
    let Ok(first) = tokio::time::timeout(limits.handshake, chan.recv::<Request>()).await else {
        return;
    };
    match first {
        Ok(Some(Request::Hello {
            protocol,
            context,
            mcp,
            ..
        })) if protocol == PROTOCOL_VERSION => {
            if mcp && let Some(client) = peer_pid.and_then(mcp_client_of) {
                let state = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    lock(&state)
                        .approvals
                        .mcp_clients
                        .register(client.0, client.1);
                })
                .await;
            }
            // A candidate only: a surface is trusted once a proof is made on it.
            let context = surfaces::candidate(peer_pid, context);
            // A guarded agent controls its terminal: it is never a surface the human trusts.
            if !guarded
                && (context.tty.is_some() || context.display.is_some() || context.wayland.is_some())
            {
                // Off the runtime's thread: the lock may be held by a long task (an unlock).
                let (state, ctx) = (state.clone(), context.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    lock(&state).approvals.candidate = ctx;
                })
                .await;
            }
            surface = context;
            let hello = Response::Hello {
                protocol: PROTOCOL_VERSION,
                version: env!("CARGO_PKG_VERSION").into(),
                pid: std::process::id(),
            };
            if chan.send(&hello).await.is_err() {
                return;
            }
        }
        Ok(Some(Request::Hello {
            protocol, version, ..
        })) => {
            let message = format!(
                "openv agent is version {} (protocol {PROTOCOL_VERSION}), this CLI is {version} (protocol {protocol}): run `openv agent restart`",
                env!("CARGO_PKG_VERSION")
            );
            warn!(client_protocol = protocol, "protocol version mismatch");
            let _ = chan
                .send(&Response::Error {
                    code: ErrorCode::VersionMismatch,
                    message,
                    cid: cid(),
                })
                .await;
            return;
        }
        Ok(Some(_)) | Err(_) => {
            let _ = chan
                .send(&Response::Error {
                    code: ErrorCode::BadRequest,
                    message: "expected a hello with the protocol version first: upgrade the client"
                        .into(),
                    cid: cid(),
                })
                .await;
            return;
        }
        Ok(None) => return,
    }
    let mut trust = Trust::None;
    loop {
        // An idle connection is closed: clients reconnect on their next call.
        let Ok(next) = tokio::time::timeout(limits.idle, chan.recv::<Request>()).await else {
            return;
        };
        let req = match next {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = chan
                    .send(&Response::Error {
                        code: ErrorCode::BadRequest,
                        message: unreadable(&e),
                        cid: cid(),
                    })
                    .await;
                return;
            }
        };
        let id = cid();
        let span = info_span!("request", cid = %id, op = req.op(), peer_pid = ?peer_pid);
        let started = std::time::Instant::now();
        let resp = answer(req, peer_pid, guarded, &mut trust, &surface, &state, &id)
            .instrument(span.clone())
            .await;
        span.in_scope(|| info!(elapsed_us = started.elapsed().as_micros() as u64, "handled"));
        if chan.send(&resp).await.is_err() {
            return;
        }
    }
}

/// How far a connection's proof of the human reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    None,
    /// A proof for the next request only.
    Next,
    /// A proof for every request while the connection lives (`openv pending --watch`).
    Connection,
}

/// Routes one request, holds a human-tier request to its proof, and keeps the
/// connection's trust: a proof covers the next request (or, kept, the connection), and
/// makes this client's surface the trusted one. A `guarded` peer (inside `openv guard`)
/// is never proven: the agent there types in the terminal the proof would come from.
#[allow(clippy::too_many_arguments)]
async fn answer(
    req: Request,
    peer: Option<i32>,
    guarded: bool,
    trust: &mut Trust,
    surface: &ClientContext,
    state: &Shared,
    cid: &str,
) -> Response {
    let proving = match &req {
        Request::Prove { keep, .. } => Some(*keep),
        _ => None,
    };
    // An unlock by passphrase is a proof made on this surface too.
    let unlocking_by_hand = matches!(
        &req,
        Request::Unlock {
            secret: crate::ipc::protocol::WireSecret::Passphrase { .. }
        }
    );
    let proven = *trust != Trust::None && !guarded;
    let what = router::widens(&req);
    let route = router::route(req, peer, proven, state, cid);
    tracing::debug!(tier = route.tier.as_str(), proven, guarded, "routed");
    if route.tier == Tier::Human && !proven {
        let ev = Event::new(EventKind::NeedsHuman)
            .decision(crate::audit::Decision::Denied)
            .detail(if guarded {
                format!("{what}, from inside openv guard")
            } else {
                what.to_owned()
            });
        let ev = match peer {
            Some(pid) => ev.pid(pid),
            None => ev,
        };
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || lock(&st).audit(ev)).await;
        let refusal = if guarded {
            super::error::AgentError::guarded(what)
        } else {
            super::error::AgentError::needs_human(what)
        };
        return refusal.into_response(cid);
    }
    let resp = router::run(route, state, cid).await;
    let ok = matches!(resp, Response::Done);
    if *trust == Trust::Next && proving.is_none() {
        *trust = Trust::None;
    }
    if ok && !guarded && (proving.is_some() || unlocking_by_hand) {
        if let Some(keep) = proving {
            *trust = if keep { Trust::Connection } else { Trust::Next };
        }
        let (st, ctx) = (state.clone(), surface.clone());
        let _ = tokio::task::spawn_blocking(move || {
            lock(&st).approvals.trusted = Some(ctx);
        })
        .await;
    }
    resp
}

/// The MCP client behind an `openv mcp` peer: the server's parent, with its start time
/// (so a reused pid is never taken for it).
fn mcp_client_of(server: i32) -> Option<(i32, u64)> {
    let ppid = procfs::process::Process::new(server)
        .ok()?
        .stat()
        .ok()?
        .ppid;
    let start = crate::approvals::describe::start_time(ppid)?;
    (ppid > 1).then_some((ppid, start))
}
