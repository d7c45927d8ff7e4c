//! Logging for `openv mcp`: stderr only (stdout carries the protocol), JSON with
//! `OPENV_LOG_FORMAT=json`, level from `OPENV_LOG` (default warn), exactly like
//! `openv::logging::to_stderr`, with one addition: the MCP SDK's own events are capped
//! at `info`, because at `debug` it logs every request's arguments, and the arguments of
//! `append_variables` can hold a value.

use tracing::dispatcher::DefaultGuard;
use tracing::{Dispatch, Level, Metadata};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

/// False for the SDK's debug and trace events, whatever `OPENV_LOG` asks for.
fn not_sdk_debug(meta: &Metadata<'_>) -> bool {
    !(meta.target().starts_with("rmcp") && *meta.level() > Level::INFO)
}

/// Installs the MCP server's subscriber for the current thread (the binary runs on a
/// current-thread runtime, so every task of the session logs through it).
pub fn scoped() -> DefaultGuard {
    let b = tracing_subscriber::fmt()
        .with_env_filter(crate::logging::filter("warn"))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let cap = filter_fn(not_sdk_debug);
    let dispatch = if crate::logging::json() {
        Dispatch::new(b.json().finish().with(cap))
    } else {
        Dispatch::new(b.finish().with(cap))
    };
    tracing::dispatcher::set_default(&dispatch)
}
