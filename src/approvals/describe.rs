//! What the user is shown about a reader: the prompt text, the parent chain, and whether
//! an AI coding agent is among its ancestors.

use openv_mount::Reader;

/// Programs whose descendants are flagged in prompts (config `ai_agents`).
pub const DEFAULT_AI_AGENTS: &[&str] = &["codex", "claude", "kiro", "cursor", "gemini", "aider"];

fn stat(pid: i32) -> Option<procfs::process::Stat> {
    procfs::process::Process::new(pid).ok()?.stat().ok()
}

/// Start time (clock ticks since boot) of a live process, to tell a reused pid apart.
pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|s| s.starttime)
}

/// True while the process exists (same start time) and is not being killed or
/// interrupted. A reader blocked in a FUSE open cannot exit until it gets an answer, so a
/// pending SIGKILL, SIGTERM, SIGINT, SIGHUP or SIGQUIT means "gone": deny and let it go.
pub fn waiting_reader_alive(pid: i32, start: u64) -> bool {
    let Ok(p) = procfs::process::Process::new(pid) else {
        return false;
    };
    if p.stat().map(|s| s.starttime).ok() != Some(start) {
        return false;
    }
    // Signal n is bit n-1: SIGHUP 1, SIGINT 2, SIGQUIT 3, SIGKILL 9, SIGTERM 15.
    const FATAL: u64 = 1 | (1 << 1) | (1 << 2) | (1 << 8) | (1 << 14);
    p.status()
        .map(|s| (s.sigpnd | s.shdpnd) & FATAL == 0)
        .unwrap_or(false)
}

/// Session id of a process: requests from one session are one "process tree".
pub fn session(pid: i32) -> Option<i32> {
    stat(pid).map(|s| s.session)
}

/// `cat <- bash <- node .../codex.js`: each ancestor's name, with the script an
/// interpreter runs when that is what names it.
pub fn chain(reader: &Reader) -> Vec<String> {
    let mut out = vec![label(
        reader
            .exe
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or("?".into(), |n| n.to_string_lossy().into_owned()),
        &reader.cmdline,
    )];
    out.extend(
        reader
            .parents
            .iter()
            .map(|a| label(a.name.clone(), &a.cmdline)),
    );
    out
}

/// Whether a program of this file name runs a script, so that its label names the script
/// (`node .../bin/codex.js`) and needs the command line.
fn is_interpreter(name: &str) -> bool {
    ["node", "python", "python3", "deno", "bun", "ruby", "perl"]
        .iter()
        .any(|i| name == *i || name.strip_prefix(i).is_some_and(|v| v.starts_with('.')))
}

/// Whether the reader's label in a chain needs its command line: only an interpreter's
/// does, so a record of `cat` reading costs no command-line read.
pub fn label_needs_cmdline(exe: Option<&std::path::Path>) -> bool {
    exe.and_then(|p| p.file_name())
        .is_some_and(|n| is_interpreter(&n.to_string_lossy()))
}

fn label(name: String, cmdline: &[String]) -> String {
    match cmdline.get(1) {
        Some(script) if is_interpreter(&name) && !script.starts_with('-') => {
            format!("{name} {}", shorten(script))
        }
        _ => name,
    }
}

fn shorten(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 3 {
        format!(".../{}", parts[parts.len() - 2..].join("/"))
    } else {
        path.to_owned()
    }
}

/// The first AI agent found in the reader or its ancestors: a name, a component of the
/// program's path, or a `/`-separated part of one of the first three arguments that is an
/// entry of `agents` (any case), or starts with one followed by `-`, `.`, `_` or `@`.
///
/// It runs on every covered open (the agent-started check), so it allocates nothing until
/// it finds one.
pub fn ai_agent(reader: &Reader, agents: &[String]) -> Option<String> {
    let find = |word: &str| agents.iter().find(|a| names_agent(word, a)).cloned();
    let check = |exe: Option<&std::path::Path>, cmdline: &[String], name: &str| {
        if let Some(a) = find(name) {
            return Some(a);
        }
        if let Some(e) = exe
            && let Some(a) = e.iter().find_map(|c| find(&c.to_string_lossy()))
        {
            return Some(a);
        }
        cmdline
            .iter()
            .take(3)
            .find_map(|arg| arg.split('/').find_map(find))
    };
    check(reader.exe.as_deref(), &reader.cmdline, "").or_else(|| {
        reader
            .parents
            .iter()
            .find_map(|a| check(a.exe.as_deref(), &a.cmdline, &a.name))
    })
}

/// `word` is `agent`, or `agent` followed by `-`, `.`, `_` or `@` (ASCII case ignored):
/// "cursorless" is not "cursor", "codex-cli" is "codex".
fn names_agent(word: &str, agent: &str) -> bool {
    if agent.is_empty() || word.len() < agent.len() {
        return false;
    }
    let (head, rest) = word.as_bytes().split_at(agent.len());
    head.eq_ignore_ascii_case(agent.as_bytes())
        && (rest.is_empty() || matches!(rest[0], b'-' | b'.' | b'_' | b'@'))
}

/// The text of a prompt: environment, process, parents, agent warning.
/// `ai`: the AI agent's label and why the reader counts as its (`agent_started::Mark`).
pub fn prompt_text(env: &str, reader: &Reader, ai: Option<(&str, &str)>) -> String {
    let exe = reader
        .exe
        .as_ref()
        .map_or_else(|| "(unknown)".to_owned(), |p| p.display().to_string());
    let cwd = reader
        .cwd
        .as_ref()
        .map_or_else(|| "(unknown)".to_owned(), |p| p.display().to_string());
    let mut cmd = reader.cmdline.join(" ");
    if cmd.chars().count() > 200 {
        cmd = cmd.chars().take(197).collect::<String>() + "...";
    }
    let mut t = format!(
        "A process wants to read environment \"{env}\".\n\nProcess: {exe} (pid {}, uid {})\nCommand: {cmd}\nIn:      {cwd}\nParents: {}\n",
        reader.pid,
        reader.uid,
        chain(reader).join(" <- ")
    );
    if let Some((label, why)) = ai {
        t.push_str(&format!(
            "\nWARNING: started by an AI agent ({label}): {why}. The agent could see what this process reads. Allow only if you expect it to read these secrets; an approval covers this process only.\n"
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use openv_mount::Ancestor;
    use std::path::PathBuf;

    fn reader() -> Reader {
        Reader {
            pid: 42,
            tid: 42,
            uid: 1000,
            exe: Some(PathBuf::from("/usr/bin/cat")),
            cmdline: vec!["cat".into(), ".env".into()],
            cwd: Some(PathBuf::from("/home/u/app")),
            start_time: 7,
            ppid: 1,
            parents: vec![
                Ancestor {
                    pid: 41,
                    name: "bash".into(),
                    exe: Some(PathBuf::from("/usr/bin/bash")),
                    cmdline: vec!["bash".into()],
                },
                Ancestor {
                    pid: 40,
                    name: "node".into(),
                    exe: Some(PathBuf::from("/usr/bin/node")),
                    cmdline: vec![
                        "node".into(),
                        "/usr/lib/node_modules/@openai/codex/bin/codex.js".into(),
                    ],
                },
            ],
            no_new_privs: false,
        }
    }

    #[test]
    fn only_an_interpreter_label_needs_the_command_line() {
        for (exe, needs) in [
            ("/usr/bin/node", true),
            ("/usr/bin/python3.11", true),
            ("/usr/bin/python3", true),
            ("/usr/bin/cat", false),
            ("/usr/bin/nodejs-helper", false),
            ("/usr/bin/pythonista", false),
        ] {
            assert_eq!(label_needs_cmdline(Some(exe.as_ref())), needs, "{exe}");
        }
        assert!(!label_needs_cmdline(None));
    }

    #[test]
    fn chain_and_agent_mark() {
        let r = reader();
        assert_eq!(
            chain(&r).join(" <- "),
            "cat <- bash <- node .../bin/codex.js"
        );
        let agents: Vec<String> = DEFAULT_AI_AGENTS.iter().map(|s| s.to_string()).collect();
        assert_eq!(ai_agent(&r, &agents).as_deref(), Some("codex"));
        let text = prompt_text(
            "dev",
            &r,
            Some(("codex", "an AI agent (codex) is among its ancestors")),
        );
        assert!(
            text.contains("cat <- bash <- node .../bin/codex.js"),
            "{text}"
        );
        assert!(text.contains("AI agent (codex)"));
        let mut plain = reader();
        plain.parents.truncate(1);
        assert_eq!(ai_agent(&plain, &agents), None);
        // "cursorless" is not "cursor".
        plain.parents[0].name = "cursorless".into();
        assert_eq!(ai_agent(&plain, &agents), None);
    }
}
