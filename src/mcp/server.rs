//! The MCP server: what `initialize` and `tools/list` answer, and the pipeline every
//! `tools/call` goes through: rate limit, run, metrics, audit, answer.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::json;

use super::agent::AgentLink;
use super::args;
use super::audit::AuditQueue;
use super::confine::Project;
use super::error::ToolError;
use super::metrics::Metrics;
use super::ratelimit::RateLimiter;
use super::tools::{self, Ctx, Done};
use crate::ipc::cid::new_cid;

/// The server's instructions to the model (sent in the `initialize` answer).
pub const INSTRUCTIONS: &str = include_str!("instructions.md");
use crate::ipc::protocol::Request;
use crate::paths::Home;

#[derive(Debug, Clone)]
pub struct Options {
    /// Calls per minute per client; 0 = no limit.
    pub rate_limit_per_minute: u32,
    /// Where relative paths in arguments start, and the project the tools are confined
    /// to (with the client's roots).
    pub cwd: PathBuf,
}

impl Options {
    pub fn new(cwd: PathBuf) -> Self {
        Self {
            rate_limit_per_minute: super::ratelimit::DEFAULT_PER_MINUTE,
            cwd,
        }
    }
}

#[derive(Debug)]
struct Inner {
    agent: Arc<AgentLink>,
    audit: AuditQueue,
    metrics: Metrics,
    limiter: RateLimiter,
    project: Project,
    tools: OnceLock<Vec<Tool>>,
}

/// One MCP session (one stdio connection).
#[derive(Debug, Clone)]
pub struct OpenvMcp {
    inner: Arc<Inner>,
}

impl OpenvMcp {
    /// Does not contact the agent: it is started (if need be) by the first tool call.
    pub fn new(home: Home, opts: Options) -> Self {
        let project = Project::new(opts.cwd, home.root());
        let agent = Arc::new(AgentLink::new(home));
        Self {
            inner: Arc::new(Inner {
                audit: AuditQueue::new(agent.clone()),
                agent,
                metrics: Metrics::new(),
                limiter: RateLimiter::new(opts.rate_limit_per_minute),
                project,
                tools: OnceLock::new(),
            }),
        }
    }

    fn tools(&self) -> &[Tool] {
        self.inner
            .tools
            .get_or_init(|| tools::TOOLS.iter().map(tools::Spec::definition).collect())
    }

    /// Waits until every call answered so far is in the audit log (end of session).
    pub async fn flush_audit(&self) {
        self.inner.audit.flush().await;
    }

    /// Runs one tool call to its answer. Failures are tool errors, never protocol errors,
    /// so the model reads the message and the correlation id.
    pub async fn call(
        &self,
        name: &str,
        args: Option<JsonObject>,
        client: Option<&str>,
    ) -> CallToolResult {
        let started = Instant::now();
        let inner = &self.inner;
        let (env, names) = args::audit_target(args.as_ref());
        let who = client.unwrap_or("unknown");
        let mut first_refusal = true;
        let outcome = match inner.limiter.check(who) {
            Err((retry_after, first)) => {
                first_refusal = first;
                Err(ToolError::RateLimited {
                    client: who.to_owned(),
                    per_minute: inner.limiter.per_minute(),
                    retry_after,
                })
            }
            Ok(()) => {
                let ctx = Ctx {
                    agent: &inner.agent,
                    audit: &inner.audit,
                    metrics: &inner.metrics,
                    limiter: &inner.limiter,
                    client,
                    project: &inner.project,
                };
                tools::call(&ctx, name, args).await
            }
        };
        // Metric keys stay bounded whatever names a client sends.
        let key = tools::find(name).map_or("unknown_tool", |t| t.name);
        let took = started.elapsed();
        let limited = matches!(outcome, Err(ToolError::RateLimited { .. }));
        inner.metrics.record(key, took, outcome.is_ok(), limited);

        match outcome {
            Ok(done) => {
                let ms = took.as_secs_f64() * 1000.0;
                tracing::info!(tool = key, client = who, ms, "tool call");
                let Done {
                    text,
                    env,
                    names,
                    detail,
                } = done;
                self.audit(key, client, true, env, names, detail);
                // The answer is JSON text. No `structuredContent` copy: without an output
                // schema it is optional, and it would double the work for long lists.
                CallToolResult::success(vec![ContentBlock::text(text)])
            }
            Err(e) => {
                let cid = e.agent_cid().map_or_else(new_cid, str::to_owned);
                let kind = e.kind();
                let error = e.audit_detail();
                tracing::warn!(tool = key, client = who, %cid, kind, %error, "tool call failed");
                // A flood of refused calls is recorded once, not once per call.
                if !limited || first_refusal {
                    let detail = format!("{error} (cid {cid})");
                    self.audit(key, client, false, env, names, Some(detail));
                }
                failure(&e, &cid)
            }
        }
    }

    /// Queues the call's audit record; the answer does not wait for it.
    fn audit(
        &self,
        tool: &str,
        client: Option<&str>,
        allowed: bool,
        env: Option<String>,
        names: Vec<String>,
        detail: Option<String>,
    ) {
        self.inner.audit.record(Request::McpAudit {
            tool: tool.to_owned(),
            env,
            names,
            client: client.map(str::to_owned),
            allowed,
            detail,
        });
    }
}

/// How long a client may take to list its roots before the call goes on without them.
const ROOTS_TIMEOUT: Duration = Duration::from_secs(10);

impl OpenvMcp {
    /// Asks a client that offers roots for them, once (again after it says they
    /// changed). A client that fails to answer leaves the project as the working directory.
    // Roots are deprecated in the spec's next revision (SEP-2577); clients send them today.
    #[allow(deprecated)]
    async fn ask_client_roots(&self, context: &RequestContext<RoleServer>) {
        let project = &self.inner.project;
        if !project.wants_client_roots() {
            return;
        }
        let offers = context
            .peer
            .peer_info()
            .is_some_and(|i| i.capabilities.roots.is_some());
        if !offers {
            project.set_client_roots([]);
            return;
        }
        let asked = tokio::time::timeout(ROOTS_TIMEOUT, context.peer.list_roots()).await;
        match asked {
            Ok(Ok(list)) => project.set_client_roots(list.roots.iter().map(|r| r.uri.as_str())),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the client did not list its roots");
                project.set_client_roots([]);
            }
            Err(_) => {
                tracing::warn!("the client did not list its roots in time");
                project.set_client_roots([]);
            }
        }
    }
}

fn failure(e: &ToolError, cid: &str) -> CallToolResult {
    let mut r = CallToolResult::error(vec![ContentBlock::text(format!(
        "error: {e} (correlation id {cid})"
    ))]);
    let mut err = json!({ "kind": e.kind(), "message": e.to_string(), "correlation_id": cid });
    if let Some(wait) = e.retry_after() {
        err["retry_after_secs"] = json!(wait.as_secs().max(1));
    }
    r.structured_content = Some(json!({ "error": err }));
    r
}

impl ServerHandler for OpenvMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("openv", env!("CARGO_PKG_VERSION"))
                    .with_title("openv")
                    .with_description(
                        "Environments (secrets) for AI coding agents: names, never values",
                    ),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools().to_vec()))
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        self.inner.project.forget_client_roots();
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let client = context.client_info().map(|i| i.name);
        if tools::takes_paths(&request.name) {
            self.ask_client_roots(&context).await;
        }
        Ok(self
            .call(&request.name, request.arguments, client.as_deref())
            .await
            .into())
    }
}
