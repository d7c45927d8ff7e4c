//! In-process MCP sessions for the tests: the `openv mcp` server (the library's
//! `OpenvMcp`) and an rmcp client joined by `tokio::io::duplex`, against a real agent
//! started with the real binary in a throwaway OPENV_HOME. Also the list of tools every
//! MCP test expects.

use openv::mcp::{OpenvMcp, Options};
use openv::paths::Home;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::{Peer, RunningService};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

use super::agent::{Openv, check_ok, wait_pending_at};
use super::run;

pub const CLIENT_NAME: &str = "openv-test-client";

pub struct Mcp {
    pub o: Openv,
    /// The directory `openv mcp` runs in (relative paths start here).
    pub project: tempfile::TempDir,
    pub client: RunningService<RoleClient, ClientConfig>,
}

impl Mcp {
    /// A vault (key file, unlocked) whose agent asks through `prompt`, and a session.
    pub async fn start(prompt: &'static str) -> Self {
        Self::start_with(prompt, 0).await
    }

    pub async fn start_with(prompt: &'static str, rate_limit: u32) -> Self {
        // The agent must run before the library connects: `connect_or_start` would spawn
        // the current executable, which here is the test binary.
        let o = tokio::task::spawn_blocking(move || Openv::with_prompt(prompt))
            .await
            .unwrap();
        let project = tempfile::Builder::new().prefix("proj").tempdir().unwrap();
        let client = connect(&o, project.path(), rate_limit).await;
        Self { o, project, client }
    }

    pub fn peer(&self) -> Peer<RoleClient> {
        self.client.peer().clone()
    }

    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        call(&self.peer(), tool, args).await
    }

    /// Calls and asserts success; returns the structured answer.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        ok(self.call(tool, args).await)
    }

    /// Calls and asserts a tool error; returns (kind, text shown to the model).
    pub async fn err(&self, tool: &str, args: Value) -> (String, String) {
        err(self.call(tool, args).await)
    }

    /// Calls `tool` expecting an error of `kind`; returns its message.
    pub async fn err_kind(&self, tool: &str, args: Value, kind: &str) -> String {
        let (got, message) = self.err(tool, args).await;
        assert_eq!(got, kind, "{tool}: {message}");
        message
    }

    /// Runs the real CLI off the async runtime; asserts success, returns stdout.
    pub async fn cli(&self, args: &[&str]) -> String {
        self.cli_with(args, None).await
    }

    /// [`cli`](Self::cli) with `stdin` as the command's input.
    pub async fn cli_stdin(&self, args: &[&str], stdin: &str) -> String {
        self.cli_with(args, Some(stdin.as_bytes().to_vec())).await
    }

    async fn cli_with(&self, args: &[&str], stdin: Option<Vec<u8>>) -> String {
        let mut cmd = self.o.cmd(args);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let out = match stdin {
                Some(bytes) => run::with_stdin(&mut cmd, &bytes),
                None => cmd.output().unwrap(),
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            check_ok(&args, out)
        })
        .await
        .unwrap()
    }

    /// Waits for the agent's queue to hold a request; returns its id and JSON.
    pub async fn pending(&self) -> (u64, Value) {
        let home = self.o.home.clone();
        let first = tokio::task::spawn_blocking(move || wait_pending_at(&home))
            .await
            .unwrap();
        (first["id"].as_u64().unwrap(), first)
    }

    /// The audit log's MCP records (after a `get_audit_log` call, which waits for the
    /// records of earlier calls to be written).
    pub async fn audit_mcp(&self) -> Vec<Value> {
        self.ok("get_audit_log", serde_json::json!({"limit": 1}))
            .await;
        self.audit_file()
    }

    /// The audit log's MCP records as the file holds them now.
    pub fn audit_file(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.o.home.join("audit/audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["kind"] == "mcp_call")
            .collect()
    }
}

/// A new MCP session on the agent of `o`.
pub async fn connect(
    o: &Openv,
    cwd: &std::path::Path,
    rate_limit: u32,
) -> RunningService<RoleClient, ClientConfig> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let mut opts = Options::new(cwd.to_path_buf());
    opts.rate_limit_per_minute = rate_limit;
    let server = OpenvMcp::new(Home::at(o.home.clone()), opts);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(CLIENT_NAME, "1.0"),
    );
    info.serve(client_io).await.unwrap()
}

pub async fn call(peer: &Peer<RoleClient>, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    peer.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(map))
        .await
        .unwrap()
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
pub fn ok(r: CallToolResult) -> Value {
    assert_eq!(r.is_error, Some(false), "tool failed: {}", text(&r));
    assert!(r.structured_content.is_none());
    // The answer is one text block of JSON.
    assert_eq!(r.content.len(), 1);
    serde_json::from_str(&text(&r)).unwrap()
}

#[track_caller]
pub fn err(r: CallToolResult) -> (String, String) {
    assert_eq!(
        r.is_error,
        Some(true),
        "tool should have failed: {}",
        text(&r)
    );
    let t = text(&r);
    let e = &r.structured_content.as_ref().unwrap()["error"];
    let cid = e["correlation_id"].as_str().unwrap();
    assert_eq!(cid.len(), 8, "correlation id: {cid}");
    assert!(t.contains(&format!("(correlation id {cid})")), "{t}");
    (e["kind"].as_str().unwrap().to_owned(), t)
}

pub fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

/// Every tool `openv mcp` offers, in the order `tools/list` gives them.
pub const MCP_TOOLS: &[&str] = &[
    "list_environments",
    "create_environment",
    "rename_environment",
    "delete_environment",
    "list_variables",
    "append_variables",
    "request_variable_values",
    "remove_variables",
    "create_local_env_file",
    "list_local_env_files",
    "remove_local_env_file",
    "import_env_file",
    "check_environment",
    "get_health_status",
    "get_metrics",
    "get_security_status",
    "get_audit_log",
];
