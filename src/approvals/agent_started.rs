//! Whether an AI agent started a reader. Such a reader is never covered by a rule or grant
//! made for the human's own programs: only by a rule that says `--agents`, or a grant for
//! that very process given at a prompt that said who started it.
//!
//! Three marks, strongest first:
//! * `NoNewPrivs: 1`: set by an agent's sandbox (Codex's Landlock and seccomp, `openv
//!   guard`), inherited by every child and impossible to clear. It survives a double fork
//!   and `setsid`.
//! * An ancestor that is the client of an `openv mcp` session: the MCP server registers
//!   its parent (pid and start time) in its greeting. It does not survive a double fork.
//! * An ancestor named like a configured AI agent (`ai_agents`). It does not survive a
//!   double fork or a renamed binary either.

use openv_mount::Reader;

/// Why a reader counts as started by an AI agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The reader runs with `no_new_privs`.
    NoNewPrivs,
    /// An ancestor (pid) is the client of an `openv mcp` session.
    McpClient { pid: i32, name: String },
    /// An ancestor (or the reader) is named like a configured AI agent.
    Named { agent: String },
}

impl Mark {
    /// For prompts, denials and the audit log.
    pub fn describe(&self) -> String {
        match self {
            Self::NoNewPrivs => {
                "it runs with NoNewPrivs, the mark of an AI agent's sandbox".to_owned()
            }
            Self::McpClient { pid, name } => {
                format!("its ancestor {name} (pid {pid}) is the client of an openv mcp session")
            }
            Self::Named { agent } => format!("an AI agent ({agent}) is among its ancestors"),
        }
    }

    /// A short label (the agent's name where known).
    pub fn label(&self) -> String {
        match self {
            Self::NoNewPrivs => "a sandboxed process".to_owned(),
            Self::McpClient { name, .. } => name.clone(),
            Self::Named { agent } => agent.clone(),
        }
    }
}

/// Clients of `openv mcp` sessions (the MCP server's parent), by pid and start time.
#[derive(Debug, Default)]
pub struct McpClients {
    clients: Vec<(i32, u64)>,
}

/// At most this many are remembered; the oldest goes first.
const MAX_CLIENTS: usize = 256;

impl McpClients {
    pub fn register(&mut self, pid: i32, start_time: u64) {
        if self.clients.contains(&(pid, start_time)) {
            return;
        }
        self.clients
            .retain(|&(p, s)| super::describe::start_time(p) == Some(s));
        if self.clients.len() >= MAX_CLIENTS {
            self.clients.remove(0);
        }
        self.clients.push((pid, start_time));
    }

    fn find(&self, pid: i32) -> bool {
        // The pid alone could be a reused one: its start time must match too.
        self.clients
            .iter()
            .any(|&(p, s)| p == pid && super::describe::start_time(p) == Some(s))
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

/// The mark of an AI agent on `reader`, if any. Its parent chain must be loaded.
pub fn mark(reader: &Reader, ai_agents: &[String], mcp: &McpClients) -> Option<Mark> {
    if reader.no_new_privs {
        return Some(Mark::NoNewPrivs);
    }
    if !mcp.is_empty()
        && let Some(a) = reader.parents.iter().find(|a| mcp.find(a.pid))
    {
        return Some(Mark::McpClient {
            pid: a.pid,
            name: a.name.clone(),
        });
    }
    super::describe::ai_agent(reader, ai_agents).map(|agent| Mark::Named { agent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openv_mount::Ancestor;

    fn reader(parent: &str, ppid: i32) -> Reader {
        Reader {
            pid: 99,
            tid: 99,
            parents: vec![Ancestor {
                pid: ppid,
                name: parent.into(),
                exe: None,
                cmdline: vec![],
            }],
            ..Reader::default()
        }
    }

    #[test]
    fn each_mark_is_found_and_a_plain_shell_has_none() {
        let agents = vec!["codex".to_owned()];
        let none = McpClients::default();
        assert_eq!(
            mark(&reader("codex", 5), &agents, &none),
            Some(Mark::Named {
                agent: "codex".into()
            })
        );
        assert_eq!(mark(&reader("bash", 5), &agents, &none), None);
        let mut sandboxed = reader("bash", 5);
        sandboxed.no_new_privs = true;
        assert_eq!(mark(&sandboxed, &agents, &none), Some(Mark::NoNewPrivs));
        // This test process stands in for an MCP client: its pid and start time are real.
        let me = std::process::id() as i32;
        let mut mcp = McpClients::default();
        mcp.register(
            me,
            super::super::describe::start_time(me).expect("start time"),
        );
        assert!(matches!(
            mark(&reader("node", me), &agents, &mcp),
            Some(Mark::McpClient { pid, .. }) if pid == me
        ));
        // A registration whose start time does not match (a reused pid) marks nothing.
        let mut stale = McpClients::default();
        stale.register(me, 1);
        assert_eq!(mark(&reader("node", me), &agents, &stale), None);
    }
}
