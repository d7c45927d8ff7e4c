use std::io::{BufRead, Write};
use std::time::Duration;

use super::agent_client::client;
use super::output;
use crate::approvals::grants::Scope;
use crate::approvals::pending::PendingView;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct PendingArgs {
    /// Print JSON.
    #[arg(long, conflicts_with = "watch")]
    json: bool,
    /// Answer requests interactively as they arrive.
    #[arg(long)]
    watch: bool,
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The request id from `openv pending`.
    id: u64,
    /// once: this open; process: this process until it exits; exe: this executable
    /// (path + content hash) for --for. Default: config `prompt_scope` (process).
    #[arg(long, value_parser = ["once", "process", "exe"])]
    scope: Option<String>,
    /// With --scope exe: how long (default: config `exe_grant`, 1h).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    for_: Option<Duration>,
    /// With --scope exe: only in this directory or below.
    #[arg(long, value_name = "DIR")]
    cwd: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// The request id from `openv pending`.
    id: u64,
}

async fn list(home: &Home) -> anyhow::Result<Vec<PendingView>> {
    let Response::Pending { requests } = client(home).call(&Request::Pending).await? else {
        return Err(super::agent_client::unexpected());
    };
    Ok(requests)
}

fn show(p: &PendingView) -> String {
    let mut s = format!(
        "[{}] {} wants {} ({} s ago{})\n     command: {}\n     in:      {}\n     parents: {}",
        p.id,
        p.exe.as_deref().unwrap_or("?"),
        p.env,
        p.age_secs,
        if p.waiting > 1 {
            format!(", {} opens waiting", p.waiting)
        } else {
            String::new()
        },
        p.cmdline.join(" "),
        p.cwd.as_deref().unwrap_or("?"),
        p.chain.join(" <- "),
    );
    if let Some(a) = &p.ai_agent {
        s.push_str(&format!("\n     WARNING: started by an AI agent ({a})"));
    }
    s
}

pub async fn pending(home: &Home, a: PendingArgs) -> anyhow::Result<()> {
    if a.watch {
        return watch(home).await;
    }
    let reqs = list(home).await?;
    if a.json {
        return output::json(&reqs);
    }
    if reqs.is_empty() {
        println!("no pending requests");
    }
    for p in &reqs {
        println!("{}", show(p));
    }
    Ok(())
}

async fn answer(
    home: &Home,
    id: u64,
    allow: bool,
    scope: Option<Scope>,
    for_: Option<Duration>,
    cwd: Option<String>,
) -> anyhow::Result<()> {
    client(home)
        .call(&Request::Answer {
            id,
            allow,
            scope,
            for_secs: for_.map(|d| d.as_secs().max(1)),
            cwd,
        })
        .await?;
    Ok(())
}

pub async fn approve(home: &Home, a: ApproveArgs) -> anyhow::Result<()> {
    let cwd = a
        .cwd
        .as_deref()
        .map(super::policy::canonical_dir)
        .transpose()?;
    let scope = a.scope.as_deref().and_then(Scope::parse);
    answer(home, a.id, true, scope, a.for_, cwd).await?;
    println!("approved request {}", a.id);
    Ok(())
}

pub async fn deny(home: &Home, a: DenyArgs) -> anyhow::Result<()> {
    answer(home, a.id, false, None, None, None).await?;
    println!("denied request {}", a.id);
    Ok(())
}

/// An interactive approver for a terminal: shows each new request and asks.
async fn watch(home: &Home) -> anyhow::Result<()> {
    println!("watching for requests; Ctrl-C to stop");
    let mut seen = std::collections::BTreeSet::new();
    loop {
        for p in list(home).await? {
            if !seen.insert(p.id) {
                continue;
            }
            println!("\n{}", show(&p));
            print!("     allow [o]nce, this [p]rocess, this [e]xe for 1h, or [d]eny? ");
            std::io::stdout().flush()?;
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line)? == 0 {
                return Ok(());
            }
            let (allow, scope) = match line.trim() {
                "o" => (true, Some(Scope::Once)),
                "p" => (true, Some(Scope::Process)),
                "e" => (true, Some(Scope::Exe)),
                _ => (false, None),
            };
            match answer(home, p.id, allow, scope, None, None).await {
                Ok(()) => println!("     {}", if allow { "approved" } else { "denied" }),
                Err(e) => println!("     {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
