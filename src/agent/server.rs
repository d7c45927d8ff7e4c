//! The socket loop: accept, check the peer, handshake, then one request at a time,
//! each answered by `router::handle`.

use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::local_socket::traits::tokio::Listener as _;
use tracing::{Instrument, info, info_span, warn};

use super::state::{Shared, lock};
use crate::ipc::cid::new_cid as cid;
use crate::ipc::protocol::{ErrorCode, PROTOCOL_VERSION, Request, Response};
use crate::ipc::transport::Channel;

/// Serves until `shutdown` resolves. The caller binds the listener, so tests can run
/// a server on their own socket.
pub async fn serve(
    listener: Listener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    let state = state.clone();
                    tokio::spawn(async move { connection(stream, state).await });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
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

async fn connection(stream: Stream, state: Shared) {
    let (peer, peer_pid) = peer_is_us(&stream);
    let mut chan = Channel::new(stream);
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
    // The first message must be a Hello with our protocol version.
    match chan.recv::<Request>().await {
        Ok(Some(Request::Hello {
            protocol, context, ..
        })) if protocol == PROTOCOL_VERSION => {
            // Prompts go where the user last typed an openv command.
            if context.tty.is_some() || context.display.is_some() || context.wayland.is_some() {
                // Off the runtime's thread: the lock may be held by a long task (an unlock).
                let state = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    lock(&state).approvals.context = context;
                })
                .await;
            }
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
    loop {
        let req = match chan.recv::<Request>().await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = chan
                    .send(&Response::Error {
                        code: ErrorCode::BadRequest,
                        message: format!("malformed request: {e}"),
                        cid: cid(),
                    })
                    .await;
                return;
            }
        };
        let id = cid();
        let span = info_span!("request", cid = %id, op = req.op(), peer_pid = ?peer_pid);
        let started = std::time::Instant::now();
        let resp = super::router::handle(req, peer_pid, &state, &id)
            .instrument(span.clone())
            .await;
        span.in_scope(|| info!(elapsed_us = started.elapsed().as_micros() as u64, "handled"));
        if chan.send(&resp).await.is_err() {
            return;
        }
    }
}
