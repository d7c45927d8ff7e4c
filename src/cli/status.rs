use super::agent_client::client;
use super::output;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let Response::Status(s) = client(home).call(&Request::Status).await? else {
        return Err(super::agent_client::unexpected());
    };
    if a.json {
        output::json(&s)?;
        return damaged(&s);
    }
    let state = match (s.vault_exists, s.locked) {
        (false, _) => "no vault (run `openv init`)",
        (true, true) => "locked",
        (true, false) => "unlocked",
    };
    println!(
        "agent:        running, pid {}, up {} s, version {}",
        s.pid, s.uptime_secs, s.version
    );
    println!("vault:        {} ({state})", s.vault);
    println!("environments: {}", s.environments);
    println!("variables:    {}", s.variables);
    println!(
        "idle lock:    {}",
        humantime::format_duration(std::time::Duration::from_secs(s.idle_lock_secs))
    );
    println!("mounts:       {}", s.mounts);
    if let Some(w) = &s.mount_warning {
        println!("              warning: {w}");
    }
    for r in &s.refused_reads {
        println!("refused read: {r}");
    }
    if let Some(a) = &s.audit_seal {
        println!("audit seal:   {a}");
    }
    for w in &s.settings_warnings {
        println!("settings:     {w}");
    }
    for w in &s.withheld {
        println!("withheld:     {w}");
    }
    if let Some(p) = &s.policy {
        println!("policy:       warning: {p}");
    }
    println!(
        "approvals:    prompt {}, {} pending, {} session grants",
        s.prompt, s.pending, s.grants
    );
    if let Some(t) = &s.rate_limited_until {
        println!(
            "              prompts rate-limited until {t}: requests are denied unasked (see the audit log)"
        );
    }
    for w in &s.team_warnings {
        println!("team:         warning: {w}");
    }
    println!("socket:       {}", s.socket);
    println!("log:          {}", s.log_file);
    damaged(&s)
}

/// A damaged vault is not a healthy status: exit non-zero with what to do.
fn damaged(s: &crate::ipc::protocol::StatusInfo) -> anyhow::Result<()> {
    match (&s.damage, &s.policy) {
        (Some(d), _) => Err(anyhow::anyhow!("vault damaged: {d}")),
        // Tampered trust state is a finding to act on, as damage is.
        (None, Some(p)) => Err(anyhow::anyhow!("{p}")),
        (None, None) => Ok(()),
    }
}
