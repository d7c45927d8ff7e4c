//! get_health_status, get_metrics, get_security_status, get_audit_log.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::{Ctx, Done, NoArgs, status_of, unexpected};
use crate::audit::{Filter, query, verify};
use crate::ipc::protocol::{Request, Response};
use crate::mcp::args;
use crate::mcp::error::ToolError;
use crate::names::ENV_NAME_PATTERN;

const MAX_AUDIT: usize = 500;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditArgs {
    /// Only entries about this environment.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub environment: Option<String>,
    /// How many of the most recent entries (default 50, at most 500).
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = 500))]
    pub limit: Option<usize>,
}

fn check(name: &str, ok: bool, detail: impl Into<String>, started: Instant) -> Value {
    json!({
        "name": name,
        "ok": ok,
        "detail": detail.into(),
        "ms": started.elapsed().as_secs_f64() * 1000.0,
    })
}

pub async fn health(ctx: &Ctx<'_>, _: NoArgs) -> Result<Done, ToolError> {
    let mut checks = Vec::new();
    let mut healthy = true;

    let t = Instant::now();
    let status = status_of(ctx).await;
    match &status {
        Ok(s) => {
            checks.push(check(
                "agent",
                true,
                format!(
                    "pid {}, version {}, up {} s",
                    s.pid, s.version, s.uptime_secs
                ),
                t,
            ));
            checks.push(check(
                "vault_present",
                s.vault_exists,
                if s.vault_exists {
                    s.vault.clone()
                } else {
                    format!("no vault at {}: run `openv init`", s.vault)
                },
                t,
            ));
            let open = s.vault_exists && !s.locked;
            checks.push(check(
                "vault_unlocked",
                open,
                if open {
                    "unlocked"
                } else {
                    "locked: run `openv unlock`; names can still be listed and declared"
                },
                t,
            ));
            healthy &= s.vault_exists;
        }
        Err(e) => {
            checks.push(check("agent", false, e.to_string(), t));
            healthy = false;
        }
    }

    let t = Instant::now();
    let dir = ctx.agent.home().audit_dir();
    let report = tokio::task::spawn_blocking(move || {
        if dir.exists() {
            verify(&dir).map(Some)
        } else {
            Ok(None)
        }
    })
    .await
    .map_err(|e| ToolError::Local(format!("audit check failed: {e}")))?;
    match report {
        Ok(Some(r)) => checks.push(check(
            "audit_log",
            true,
            format!("chain intact: {} lines in {} files", r.lines, r.files),
            t,
        )),
        Ok(None) => checks.push(check("audit_log", true, "empty (nothing recorded yet)", t)),
        Err(e) => {
            healthy = false;
            checks.push(check("audit_log", false, e.to_string(), t));
        }
    }

    let t = Instant::now();
    let fuse = openv_mount::fuse_available();
    checks.push(check(
        "fuse",
        fuse,
        if fuse {
            "FUSE available: .env files are checked on every open"
        } else {
            "FUSE not available: .env files are served as FIFOs (consent, not isolation)"
        },
        t,
    ));
    Ok(Done::new(json!({ "healthy": healthy, "checks": checks })))
}

pub fn metrics(ctx: &Ctx<'_>, _: NoArgs) -> Result<Done, ToolError> {
    let snap = ctx.metrics.snapshot();
    let mut v = serde_json::to_value(&snap).map_err(|e| ToolError::Local(e.to_string()))?;
    v["client"] = json!(ctx.client);
    v["rate_limit_per_minute"] = json!(ctx.limiter.per_minute());
    Ok(Done::new(v))
}

/// Mode and ownership of a state file or directory.
fn permissions(path: &Path) -> Value {
    match std::fs::metadata(path) {
        Ok(m) => {
            let mode = m.mode() & 0o7777;
            let mine = m.uid() == nix::unistd::geteuid().as_raw();
            json!({
                "path": path.display().to_string(),
                "mode": format!("{mode:04o}"),
                "owner_is_you": mine,
                "private": mine && mode & 0o077 == 0,
            })
        }
        Err(e) => json!({ "path": path.display().to_string(), "error": e.to_string() }),
    }
}

pub async fn security(ctx: &Ctx<'_>, _: NoArgs) -> Result<Done, ToolError> {
    let s = status_of(ctx).await?;
    let Response::Mounts { mounts } = ctx.agent.call(&Request::Mounts).await? else {
        return Err(unexpected());
    };
    let Response::Pending { requests } = ctx.agent.call(&Request::Pending).await? else {
        return Err(unexpected());
    };
    let home = ctx.agent.home();
    let mounts: Vec<_> = mounts
        .iter()
        .map(|m| {
            json!({
                "path": m.path,
                "environment": m.env,
                "mode": m.mode,
                "isolation": if m.mode == "fuse" { "every open checked" } else { "consent only (FIFO)" },
                "state": m.state,
            })
        })
        .collect();
    let pending: Vec<_> = requests
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(&p.kind).unwrap_or(Value::Null);
            v["id"] = json!(p.id);
            v["environment"] = json!(p.env);
            v["exe"] = json!(p.exe);
            v["age_secs"] = json!(p.age_secs);
            v["ai_agent"] = json!(p.ai_agent);
            v
        })
        .collect();
    Ok(Done::new(json!({
        "vault": {
            "exists": s.vault_exists,
            "locked": s.locked,
            "idle_lock_secs": s.idle_lock_secs,
            "file": permissions(Path::new(&s.vault)),
        },
        "state_directory": permissions(home.root()),
        "prompter": s.prompt,
        "prompts_rate_limited_until": s.rate_limited_until,
        "session_grants": s.grants,
        "pending_requests": pending,
        "mounts": mounts,
        // Shared environments served stale or refused, and open circuit breakers.
        "team_warnings": s.team_warnings,
        // Rules or agent policies changed outside openv: allow rules are not used.
        "policy_problem": s.policy,
        "agent": { "pid": s.pid, "version": s.version, "socket": permissions(Path::new(&s.socket)) },
    })))
}

pub async fn audit(ctx: &Ctx<'_>, a: AuditArgs) -> Result<Done, ToolError> {
    if let Some(e) = &a.environment {
        args::env(e)?;
    }
    let limit = a.limit.unwrap_or(50);
    if !(1..=MAX_AUDIT).contains(&limit) {
        return Err(ToolError::invalid(format!(
            "limit must be 1 to {MAX_AUDIT}, not {limit}"
        )));
    }
    // Calls made before this one are recorded first.
    ctx.audit.flush().await;
    let filter = Filter {
        env: a.environment.clone(),
        limit: Some(limit),
        ..Filter::default()
    };
    let dir = ctx.agent.home().audit_dir();
    let records = tokio::task::spawn_blocking(move || query(&dir, &filter))
        .await
        .map_err(|e| ToolError::Local(format!("reading the audit log failed: {e}")))?
        .map_err(|e| ToolError::Local(e.to_string()))?;
    let entries = serde_json::to_value(&records).map_err(|e| ToolError::Local(e.to_string()))?;
    let mut done = Done::new(json!({ "entries": entries, "count": records.len() }));
    if let Some(e) = a.environment {
        done = done.env(e);
    }
    Ok(done)
}
