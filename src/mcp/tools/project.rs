//! check_environment: the environment's names against what the project expects, and the
//! readers that cannot read each value exactly (names only).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::ctx::{Ctx, Done, unexpected};
use crate::ipc::protocol::{Request, Response};
use crate::mcp::args;
use crate::mcp::check_env::{self, Limits, is_ambient};
use crate::mcp::error::ToolError;
use crate::names::ENV_NAME_PATTERN;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckArgs {
    /// Environment name.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
    /// The directory to scan, in the project (default: the project's directory).
    #[serde(default)]
    #[schemars(with = "String", length(min = 1, max = 4096))]
    pub path: Option<String>,
}

pub async fn check(ctx: &Ctx<'_>, a: CheckArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    // Resolved, so the scan starts where the checks looked.
    let root = ctx.project.scan_dir(a.path.as_deref())?;
    let Response::Variables {
        variables,
        readers_checked,
        ..
    } = ctx
        .agent
        .call(&Request::VarList {
            env: a.environment.clone(),
        })
        .await?
    else {
        return Err(unexpected());
    };
    let scan_root = root.clone();
    let scan = tokio::task::spawn_blocking(move || check_env::scan(&scan_root, &Limits::default()))
        .await
        .map_err(|e| ToolError::Local(format!("project scan failed: {e}")))?
        .map_err(|e| ToolError::Local(format!("cannot scan {}: {e}", root.display())))?;

    let declared = |n: &str| variables.iter().any(|v| v.name == n);
    let mut missing = serde_json::Map::new();
    let mut ambient = Vec::new();
    for (name, places) in &scan.expected {
        if declared(name) {
            continue;
        }
        if is_ambient(name) {
            ambient.push(name.clone());
        } else {
            missing.insert(name.clone(), json!(places));
        }
    }
    let unset: Vec<&str> = variables
        .iter()
        .filter(|v| !v.has_value)
        .map(|v| v.name.as_str())
        .collect();
    let unused: Vec<&str> = variables
        .iter()
        .filter(|v| !scan.expected.contains_key(&v.name))
        .map(|v| v.name.as_str())
        .collect();
    let unreadable: serde_json::Map<String, serde_json::Value> = variables
        .iter()
        .filter(|v| !v.unreadable_by.is_empty())
        .map(|v| (v.name.clone(), json!(v.unreadable_by)))
        .collect();
    let missing_names: Vec<String> = missing.keys().cloned().collect();
    let detail = format!(
        "{} missing, {} unset, {} unused, {} unreadable by some reader",
        missing.len(),
        unset.len(),
        unused.len(),
        unreadable.len()
    );
    Ok(Done::new(json!({
        "environment": a.environment,
        "path": root.display().to_string(),
        "expected": scan.expected.keys().collect::<Vec<_>>(),
        "missing": missing_names,
        "missing_where": missing,
        "unset": unset,
        "unused": unused,
        "ambient_not_counted": ambient,
        // Per variable, the reader dialects denied the file because they cannot read
        // its value exactly (see docs/cli.md, "Dialects"); computed only while the
        // vault is unlocked, which `readers_checked` says.
        "unreadable_by": unreadable,
        "readers_checked": readers_checked,
        "scanned": scan.scanned,
    }))
    .env(a.environment)
    .names(missing_names)
    .detail(detail))
}
