//! list_environments, create_environment, rename_environment, delete_environment.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::ctx::{Ctx, Done, NoArgs, require_unlocked, unexpected};
use crate::ipc::protocol::{Request, Response};
use crate::mcp::args;
use crate::mcp::error::ToolError;
use crate::names::ENV_NAME_PATTERN;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    /// Environment name, e.g. myapp-dev.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameArgs {
    /// Current name.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub name: String,
    /// New name.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub new_name: String,
}

pub async fn list(ctx: &Ctx<'_>, _: NoArgs) -> Result<Done, ToolError> {
    let Response::Environments { environments } = ctx.agent.call(&Request::EnvList).await? else {
        return Err(unexpected());
    };
    let Response::Mounts { mounts } = ctx.agent.call(&Request::Mounts).await? else {
        return Err(unexpected());
    };
    let list: Vec<_> = environments
        .iter()
        .map(|e| {
            let mounts: Vec<_> = mounts
                .iter()
                .filter(|m| m.env == e.name)
                .map(|m| json!({"path": m.path, "mode": m.mode, "state": m.state}))
                .collect();
            json!({
                "name": e.name,
                "variables": e.variables,
                "with_value": e.set,
                "updated": crate::store::rfc3339_seconds(e.updated),
                "mounts": mounts,
            })
        })
        .collect();
    Ok(Done::new(json!({ "environments": list })))
}

pub async fn create(ctx: &Ctx<'_>, a: NameArgs) -> Result<Done, ToolError> {
    args::env(&a.name)?;
    ctx.agent
        .call(&Request::EnvCreate {
            name: a.name.clone(),
        })
        .await?;
    Ok(Done::new(json!({ "created": a.name })).env(a.name))
}

pub async fn rename(ctx: &Ctx<'_>, a: RenameArgs) -> Result<Done, ToolError> {
    args::env(&a.name)?;
    args::env(&a.new_name)?;
    ctx.agent
        .call(&Request::EnvRename {
            name: a.name.clone(),
            new_name: a.new_name.clone(),
        })
        .await?;
    Ok(
        Done::new(json!({ "renamed": { "from": a.name, "to": a.new_name } }))
            .env(a.new_name.clone())
            .detail(format!("renamed from {}", a.name)),
    )
}

/// Deleting is asked of the user first; nothing changes unless they approve.
pub async fn delete(ctx: &Ctx<'_>, a: NameArgs) -> Result<Done, ToolError> {
    args::env(&a.name)?;
    require_unlocked(ctx).await?;
    // Fails with "no environment named ..." before anyone is asked.
    let Response::Variables { variables, .. } = ctx
        .agent
        .call(&Request::VarList {
            env: a.name.clone(),
        })
        .await?
    else {
        return Err(unexpected());
    };
    let action = format!(
        "delete environment \"{}\" and its {} variable{}",
        a.name,
        variables.len(),
        if variables.len() == 1 { "" } else { "s" }
    );
    ctx.agent
        .call(&Request::Confirm {
            action,
            env: Some(a.name.clone()),
            client: ctx.client.map(str::to_owned),
        })
        .await?;
    let Response::Deleted { variables } = ctx
        .agent
        .call(&Request::EnvDelete {
            name: a.name.clone(),
        })
        .await?
    else {
        return Err(unexpected());
    };
    Ok(
        Done::new(json!({ "deleted": a.name, "variables": variables }))
            .env(a.name)
            .detail("approved by the user"),
    )
}
