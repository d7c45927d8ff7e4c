//! `openv mcp` figures (targets in the MCP issue): cold start to the answer of
//! `tools/list` (spawn, initialize, tools/list) median < 30 ms; a `list_variables` round
//! trip over 1,000 names median < 2 ms; at least 2,000 calls/s sustained from one client.
//! Run with `cargo bench --bench mcp`. Prints a markdown table.
//!
//! The client speaks raw JSON-RPC lines to the real binary, so the figures are the
//! server's (and the agent's), not a client library's.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::home::{BIN, Home};
use common::jsonrpc::{LineClient, answer};
use common::stats::{ms, pct, verdict};
use serde_json::{Value, json};

const COLD_RUNS: usize = 40;
const LIST_RUNS: usize = 300;
const NAMES: usize = 1000;
const SUSTAIN: Duration = Duration::from_secs(5);

/// A new `openv mcp` session on `home`, not yet initialized.
fn session(home: &Path) -> LineClient {
    let mut cmd = Command::new(BIN);
    cmd.args(["mcp", "--rate-limit", "0"])
        .env("OPENV_HOME", home)
        .env_remove("OPENV_LOG")
        .stderr(Stdio::null());
    LineClient::spawn(&mut cmd)
}

/// Requests kept in flight by one client, e.g. an agent issuing tool calls in parallel.
fn sustained(home: &Path, window: usize) -> f64 {
    let mut s = session(home);
    s.initialize("bench");
    let args = json!({"name": "list_variables", "arguments": {"environment": "small"}});
    let started = Instant::now();
    let mut in_flight = 0;
    let mut done = 0u64;
    while started.elapsed() < SUSTAIN || in_flight > 0 {
        while in_flight < window && started.elapsed() < SUSTAIN {
            s.send("tools/call", args.clone());
            in_flight += 1;
        }
        s.flush();
        let r = s.recv();
        assert_eq!(r["result"]["isError"], false, "{r}");
        in_flight -= 1;
        done += 1;
    }
    let rate = done as f64 / started.elapsed().as_secs_f64();
    s.close();
    rate
}

/// Where a `list_variables` of 1,000 names spends its time: the agent alone (`VarList`
/// and one `McpAudit` straight over the socket), then the MCP layer in process
/// (`OpenvMcp::call`, no transport), medians.
struct Split {
    agent_list: Duration,
    agent_audit: Duration,
    in_process: Duration,
}

fn split(home: &Path) -> Split {
    use openv::ipc::client::Client;
    use openv::ipc::protocol::Request;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = Client::connect(&openv::paths::Home::at(home.to_path_buf()))
            .await
            .unwrap();
        let list = Request::VarList { env: "big".into() };
        let audit = Request::McpAudit {
            tool: "bench".into(),
            env: Some("big".into()),
            names: vec![],
            client: Some("bench".into()),
            allowed: true,
            detail: None,
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..LIST_RUNS {
            let t = Instant::now();
            c.call(&list).await.unwrap();
            a.push(t.elapsed());
            let t = Instant::now();
            c.call(&audit).await.unwrap();
            b.push(t.elapsed());
        }
        a.sort();
        b.sort();
        // The MCP layer without transport: OpenvMcp::call in process.
        let server = openv::mcp::OpenvMcp::new(
            openv::paths::Home::at(home.to_path_buf()),
            openv::mcp::Options::new(home.to_path_buf()),
        );
        let mut args = serde_json::Map::new();
        args.insert("environment".into(), json!("big"));
        let mut c = Vec::new();
        for _ in 0..LIST_RUNS {
            let t = Instant::now();
            let r = server
                .call("list_variables", Some(args.clone()), Some("bench"))
                .await;
            c.push(t.elapsed());
            assert_eq!(r.is_error, Some(false));
        }
        server.flush_audit().await;
        c.sort();
        Split {
            agent_list: pct(&a, 50),
            agent_audit: pct(&b, 50),
            in_process: pct(&c, 50),
        }
    })
}

fn main() {
    let h = Home::init();
    let home = h.home.clone();

    // Cold start: a new process each time, up to the tools/list answer.
    let mut cold = Vec::with_capacity(COLD_RUNS);
    for _ in 0..COLD_RUNS {
        let t = Instant::now();
        let mut s = session(&home);
        s.initialize("bench");
        let tools = s.request("tools/list", json!({}));
        cold.push(t.elapsed());
        assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 17);
        s.close();
    }
    cold.sort();

    // list_variables with 1,000 names, on a warm session.
    let mut s = session(&home);
    s.initialize("bench");
    s.call_ok("create_environment", json!({"name": "big"}));
    let vars: Vec<Value> = (0..NAMES)
        .map(|i| json!({"name": format!("VAR_{i:04}")}))
        .collect();
    s.call_ok(
        "append_variables",
        json!({"environment": "big", "variables": vars}),
    );
    s.call_ok("create_environment", json!({"name": "small"}));
    s.call_ok(
        "append_variables",
        json!({"environment": "small", "variables": [{"name": "A"}, {"name": "B", "generate": {}}]}),
    );
    for _ in 0..20 {
        s.call_ok("list_variables", json!({"environment": "big"}));
    }
    let mut list = Vec::with_capacity(LIST_RUNS);
    for _ in 0..LIST_RUNS {
        // From the request written to the answer's last byte read; parsing the answer is
        // the client's work, not the server's.
        let t = Instant::now();
        let id = s.send(
            "tools/call",
            json!({"name": "list_variables", "arguments": {"environment": "big"}}),
        );
        s.flush();
        let line = s.recv_line();
        list.push(t.elapsed());
        let r: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(r["id"], id);
        assert_eq!(answer(&r)["variables"].as_array().unwrap().len(), NAMES);
    }
    list.sort();
    let metrics = s.call_ok("get_metrics", json!({}));
    s.close();
    let split = split(&home);

    let one = sustained(&home, 1);
    let eight = sustained(&home, 8);

    let cold_med = pct(&cold, 50);
    let list_med = pct(&list, 50);
    println!("| measure | median | p95 | target | verdict |");
    println!("|---|---|---|---|---|");
    println!(
        "| cold start to tools/list answer ({COLD_RUNS} runs) | {} | {} | median < 30 ms | {} |",
        ms(cold_med),
        ms(pct(&cold, 95)),
        verdict(cold_med < Duration::from_millis(30))
    );
    println!(
        "| list_variables, {NAMES} names, round trip ({LIST_RUNS} calls) | {} | {} | median < 2 ms | {} |",
        ms(list_med),
        ms(pct(&list, 95)),
        verdict(list_med < Duration::from_millis(2))
    );
    println!(
        "| sustained calls/s, one client, one call at a time | {one:.0}/s | | >= 2,000/s | {} |",
        verdict(one >= 2000.0)
    );
    println!(
        "| sustained calls/s, one client, 8 calls in flight | {eight:.0}/s | | >= 2,000/s | {} |",
        verdict(eight >= 2000.0)
    );
    let metrics = answer(&metrics);
    let server = &metrics["tools"]["list_variables"];
    println!(
        "| list_variables, {NAMES} names, inside the server (get_metrics) | {:.2} ms | p99 {:.2} ms | | |",
        server["p50_ms"].as_f64().unwrap_or(0.0),
        server["p99_ms"].as_f64().unwrap_or(0.0)
    );
    println!(
        "| agent alone: var_list of {NAMES} names / one mcp_audit record | {} / {} | | | |",
        ms(split.agent_list),
        ms(split.agent_audit)
    );
    println!(
        "| list_variables, {NAMES} names, MCP layer in process (no transport) | {} | | | |",
        ms(split.in_process)
    );
    h.ok(&["agent", "stop"]);
}
