//! `openv audit`: listing reads the audit files directly, so it works with the agent
//! stopped; `verify` asks the agent, which holds the key the seals are checked with.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Subcommand;

use super::agent_client::client;
use crate::audit::{self, Decision, EventKind, Filter};
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only events of this environment.
    #[arg(short, long = "env")]
    env: Option<String>,
    /// Only events since TIME: RFC 3339 (2026-11-22T10:00:00Z) or an age (1h, 30m).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only allowed or denied decisions.
    #[arg(long, value_parser = ["allowed", "denied"])]
    decision: Option<String>,
    /// Only the most recent N events (default 100).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print JSON lines as stored.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the log with the vault key: the hash chain, every seal, and the vault's
    /// record of the last seal. A rewritten, truncated or shortened log, a removed file or
    /// a removed or forged seal record is reported, with the first event the seals can no
    /// longer vouch for. Needs the vault unlocked.
    Verify {
        /// Check only the unkeyed hash chain, without the agent. NOT proof against a
        /// process of your user rewriting the log and recomputing every hash.
        #[arg(long)]
        offline: bool,
    },
    /// After `verify` reported a problem you have looked into: set the old files aside
    /// (moved untouched to audit/set-aside-SECS/, never deleted) and start a new log that
    /// the seals vouch for again. Needs you, the human (passphrase or --keyfile), and the
    /// vault unlocked.
    Accept {
        #[command(flatten)]
        proof: super::human::ProofArgs,
    },
}

fn parse_since(s: &str) -> anyhow::Result<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    let age: Duration = humantime::parse_duration(s).with_context(|| {
        format!("--since {s:?}: give a time (2026-11-22T10:00:00Z) or an age (1h)")
    })?;
    Ok(SystemTime::now() - age)
}

/// The keyed check, in the agent.
async fn verify(home: &Home) -> anyhow::Result<()> {
    let r = match client(home).call(&Request::AuditVerify).await? {
        Response::AuditVerified(r) => r,
        _ => return Err(super::agent_client::unexpected()),
    };
    if r.problems.is_empty() {
        let sealed = r.sealed_to.map_or("no seal yet".to_string(), |s| {
            format!("sealed up to seq {s}")
        });
        println!(
            "audit log intact: {} events in {} file(s), {sealed} ({} seal(s)); {} event(s) after it not yet sealed",
            r.events, r.files, r.seals, r.unsealed
        );
        return Ok(());
    }
    let first = r.first_unvouched.unwrap_or(1);
    anyhow::bail!(
        "audit log NOT intact: {}; the first event it can no longer vouch for is seq {first} (keep the files as they are for investigation; once you have, `openv audit accept` sets them aside and starts a new log)",
        r.problems.join("; ")
    )
}

/// The human accepts what `verify` reported: a new log, the old one set aside.
async fn accept(home: &Home, proof: &super::human::ProofArgs) -> anyhow::Result<()> {
    let mut c = client(home);
    let r = super::human::call(&mut c, &Request::AuditAccept, proof).await?;
    let Response::AuditAccepted {
        problems,
        set_aside,
    } = r
    else {
        return Err(super::agent_client::unexpected());
    };
    println!(
        "accepted: a new audit log was started and sealed; the old files are kept in {set_aside} (not vouched for: {})",
        problems.join("; ")
    );
    Ok(())
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let dir = home.audit_dir();
    match a.command {
        Some(AuditCommand::Accept { proof }) => return accept(home, &proof).await,
        Some(AuditCommand::Verify { offline: false }) => return verify(home).await,
        Some(AuditCommand::Verify { offline: true }) => {
            let r = audit::verify(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "hash chain intact: {} events in {} file(s); head {} (chain only: not proof against a process of your user rewriting the log; `openv audit verify` checks the seals)",
                r.lines, r.files, r.head
            );
            return Ok(());
        }
        None => {}
    }
    let filter = Filter {
        env: a.env,
        since: a.since.as_deref().map(parse_since).transpose()?,
        decision: a.decision.map(|d| {
            if d == "allowed" {
                Decision::Allowed
            } else {
                Decision::Denied
            }
        }),
        event: None::<EventKind>,
        limit: Some(a.limit),
    };
    let records = audit::query(&dir, &filter).map_err(|e| anyhow::anyhow!("{e}"))?;
    if a.json {
        for r in &records {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    if records.is_empty() {
        println!("no audit events match");
    }
    for r in records {
        let e = &r.event;
        let t = humantime::format_rfc3339_seconds(r.time).to_string();
        let mut line = format!(
            "{t}  {:<11} {}",
            serde_json::to_value(e.kind)?.as_str().unwrap_or("?"),
            e.env.as_deref().unwrap_or("-")
        );
        if let Some(d) = e.decision {
            line.push_str(&format!(
                "  {}",
                serde_json::to_value(d)?.as_str().unwrap_or("?")
            ));
        }
        if let (Some(pid), Some(exe)) = (e.pid, &e.exe) {
            line.push_str(&format!("  {exe} (pid {pid})"));
        }
        if !e.chain.is_empty() {
            line.push_str(&format!("  [{}]", e.chain.join(" <- ")));
        }
        if let Some(rule) = &e.rule {
            line.push_str(&format!("  {rule}"));
        }
        if !e.names.is_empty() {
            line.push_str(&format!("  names: {}", e.names.join(",")));
        }
        if let Some(d) = &e.detail {
            line.push_str(&format!("  ({d})"));
        }
        println!("{line}");
    }
    Ok(())
}
