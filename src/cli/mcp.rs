//! `openv mcp`: the MCP server on stdin/stdout. Nothing but protocol goes to stdout;
//! logs go to stderr.

use anyhow::Context;
use rmcp::ServiceExt;

use crate::mcp::ratelimit::DEFAULT_PER_MINUTE;
use crate::mcp::{OpenvMcp, Options};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tool calls allowed per minute per MCP client (0: no limit).
    #[arg(long, env = "OPENV_MCP_RATE_LIMIT", default_value_t = DEFAULT_PER_MINUTE, value_name = "CALLS")]
    rate_limit: u32,
}

pub async fn run(home: Home, a: Args) -> anyhow::Result<()> {
    let _log = crate::mcp::log::scoped();
    // What the MCP client (the AI agent) starts counts as agent-started.
    crate::ipc::client::announce_mcp_session();
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut opts = Options::new(cwd);
    opts.rate_limit_per_minute = a.rate_limit;
    let server = OpenvMcp::new(home, opts);
    let service = server
        .clone()
        // Non-blocking pipes when the client gave us pipes (every MCP client does): no
        // thread hand-off per message.
        .serve(rmcp::transport::io::stdio_pipes())
        .await
        .context("MCP handshake failed")?;
    tracing::info!("openv mcp serving on stdio");
    let ended = service.waiting().await;
    // Calls answered just before the client left are still recorded.
    server.flush_audit().await;
    ended.context("MCP session failed")?;
    Ok(())
}
