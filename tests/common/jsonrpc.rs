//! A raw JSON-RPC line client for `openv mcp` over stdio: what an MCP client writes and
//! reads, with no client library in between. Shared by tests/mcp_leak.rs and
//! benches/mcp.rs, so it uses nothing else from tests/common.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

use serde_json::{Value, json};

#[derive(Debug)]
pub struct LineClient {
    pub child: Child,
    pub stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// Every line the server wrote to stdout, when kept ([`LineClient::keep_transcript`]).
    pub transcript: Option<String>,
}

impl LineClient {
    /// Starts `cmd` (an `openv mcp` command: its environment and stderr set by the caller)
    /// with piped stdin and stdout.
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start openv mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            next_id: 1,
            transcript: None,
        }
    }

    /// Keeps every line read from now on in `transcript`.
    pub fn keep_transcript(mut self) -> Self {
        self.transcript = Some(String::new());
        self
    }

    /// Writes a request without flushing (so that several can be in flight); its id.
    pub fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").expect("write to openv mcp");
        id
    }

    /// Writes a notification without flushing: it goes with the next request.
    pub fn notify(&mut self, method: &str) {
        let msg = json!({"jsonrpc": "2.0", "method": method});
        writeln!(self.stdin, "{msg}").expect("write to openv mcp");
    }

    /// Writes one line as it is (also one that is not JSON) and flushes.
    pub fn write_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to openv mcp");
        self.flush();
    }

    pub fn flush(&mut self) {
        self.stdin.flush().expect("flush to openv mcp");
    }

    /// The next line the server writes.
    pub fn recv_line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read openv mcp");
        assert!(n > 0, "server closed stdout");
        if let Some(t) = &mut self.transcript {
            t.push_str(&line);
        }
        line
    }

    pub fn recv(&mut self) -> Value {
        serde_json::from_str(&self.recv_line()).expect("a JSON-RPC line")
    }

    /// Sends a request and returns its response (other messages in between are read and
    /// dropped, kept in the transcript).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        self.flush();
        loop {
            let msg = self.recv();
            if msg["id"] == id {
                return msg;
            }
        }
    }

    /// `initialize` as client `name`, then `notifications/initialized`; the answer.
    pub fn initialize(&mut self, name: &str) -> Value {
        let init = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": name, "version": "1"}}),
        );
        self.notify("notifications/initialized");
        init
    }

    /// A `tools/call`; the whole response.
    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": args}))
    }

    /// A `tools/call` that must succeed; the whole response.
    #[track_caller]
    pub fn call_ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args);
        assert_eq!(r["result"]["isError"], false, "{tool}: {r}");
        r
    }

    /// Closes stdin (the end of the session) and waits for the server to exit.
    pub fn close(self) -> ExitStatus {
        drop(self.stdin);
        let mut child = self.child;
        child.wait().expect("wait for openv mcp")
    }
}

/// A tool's answer: its one text block, parsed as JSON.
pub fn answer(r: &Value) -> Value {
    serde_json::from_str(
        r["result"]["content"][0]["text"]
            .as_str()
            .expect("a text block"),
    )
    .expect("JSON in the text block")
}
