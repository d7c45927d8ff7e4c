//! create_local_env_file, list_local_env_files, remove_local_env_file, import_env_file:
//! the virtual `.env` files (mounts) and moving plaintext ones into the vault.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use std::path::Path;

use super::ctx::{Ctx, Done, NoArgs, require_unlocked, unexpected};
use crate::ipc::protocol::{Request, Response};
use crate::mcp::args;
use crate::mcp::confine::Purpose;
use crate::mcp::error::ToolError;
use crate::mount_table::prepare::{self, Existing};
use crate::names::ENV_NAME_PATTERN;

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeArg {
    /// FUSE where available, else a FIFO.
    #[default]
    Auto,
    /// A real file; every open is checked (needs /dev/fuse).
    Fuse,
    /// A named pipe: one reader at a time; consent, not isolation.
    Fifo,
}

impl ModeArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Fuse => "fuse",
            Self::Fifo => "fifo",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountArgs {
    /// Environment to serve.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
    /// A directory (the file is DIR/.env) or a .env / .env.NAME file, in the project;
    /// relative to it.
    #[serde(rename = "mountPath", alias = "mount_path")]
    #[schemars(length(min = 1, max = 4096))]
    pub mount_path: String,
    /// auto (default), fuse or fifo.
    #[serde(default)]
    pub mode: ModeArg,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmountArgs {
    /// The directory (DIR/.env) or the file that is served.
    #[serde(rename = "mountPath", alias = "mount_path")]
    #[schemars(length(min = 1, max = 4096))]
    pub mount_path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportArgs {
    /// Environment to import into (created if missing).
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
    /// The plaintext .env / .env.NAME file, or a directory holding a .env, in the
    /// project; relative to it.
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
    /// Then remove the plaintext file and serve the environment in its place (the user
    /// is asked to approve first).
    #[serde(default)]
    pub replace_with_mount: bool,
}

pub async fn mount(ctx: &Ctx<'_>, a: MountArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    let path = ctx.project.env_file(
        &a.mount_path,
        Purpose::Mount {
            env: &a.environment,
        },
    )?;
    // Serving over a file that is there (even an empty one) hides it: the user decides.
    let asked = match prepare::inspect(&path) {
        Existing::EmptyFile | Existing::Fifo if !is_mounted(ctx, &path).await? => {
            // Fails with "no environment named ..." before anyone is asked.
            ctx.agent
                .call(&Request::VarList {
                    env: a.environment.clone(),
                })
                .await?;
            let action = format!(
                "serve environment \"{}\" as a virtual .env at {}, in place of the file there now (it is put back when the mount is removed)",
                a.environment,
                path.display()
            );
            confirm(ctx, action, &a.environment).await?;
            true
        }
        _ => false,
    };
    let Response::Mounted {
        path, mode, notes, ..
    } = ctx
        .agent
        .call(&Request::Mount {
            path,
            env: a.environment.clone(),
            mode: a.mode.as_str().to_owned(),
            import: false,
        })
        .await?
    else {
        return Err(unexpected());
    };
    let mut detail = format!("mounted at {path} ({mode})");
    if asked {
        detail.push_str(", over the existing file, approved by the user");
    }
    Ok(Done::new(json!({
        "environment": a.environment,
        "path": path,
        "mode": mode,
        "notes": notes,
    }))
    .env(a.environment)
    .detail(detail))
}

/// Whether `path` is already one of the agent's mounts (then the agent says so; nobody
/// needs to be asked).
async fn is_mounted(ctx: &Ctx<'_>, path: &Path) -> Result<bool, ToolError> {
    let Response::Mounts { mounts } = ctx.agent.call(&Request::Mounts).await? else {
        return Err(unexpected());
    };
    Ok(mounts.iter().any(|m| Path::new(&m.path) == path))
}

/// A pending confirmation the user answers (`openv approve ID`, or the dialog).
async fn confirm(ctx: &Ctx<'_>, action: String, env: &str) -> Result<(), ToolError> {
    ctx.agent
        .call(&Request::Confirm {
            action,
            env: Some(env.to_owned()),
            client: ctx.client.map(str::to_owned),
        })
        .await?;
    Ok(())
}

pub async fn list(ctx: &Ctx<'_>, _: NoArgs) -> Result<Done, ToolError> {
    let Response::Mounts { mounts } = ctx.agent.call(&Request::Mounts).await? else {
        return Err(unexpected());
    };
    let list: Vec<_> = mounts
        .iter()
        .map(|m| {
            json!({
                "path": m.path,
                "environment": m.env,
                "mode": m.mode,
                "state": m.state,
                "reads_served": m.served,
                "reads_denied": m.denied,
            })
        })
        .collect();
    Ok(Done::new(json!({ "files": list })))
}

pub async fn unmount(ctx: &Ctx<'_>, a: UnmountArgs) -> Result<Done, ToolError> {
    let path = ctx.project.env_file(&a.mount_path, Purpose::Unmount)?;
    ctx.agent
        .call(&Request::Unmount { path: path.clone() })
        .await?;
    let path = path.display().to_string();
    Ok(Done::new(json!({ "removed": path })).detail(format!("unmounted {path}")))
}

pub async fn import(ctx: &Ctx<'_>, a: ImportArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    let path = ctx.project.env_file(
        &a.path,
        Purpose::Import {
            env: &a.environment,
            replace: a.replace_with_mount,
        },
    )?;
    if !path.is_file() {
        return Err(ToolError::invalid(format!(
            "{} is not a file: give the plaintext .env file or its directory",
            path.display()
        )));
    }
    if a.replace_with_mount {
        require_unlocked(ctx).await?;
        let action = format!(
            "import {} into environment \"{}\", delete that plaintext file and serve the environment there as a virtual .env",
            path.display(),
            a.environment
        );
        confirm(ctx, action, &a.environment).await?;
        let Response::Mounted {
            path,
            mode,
            notes,
            imported,
        } = ctx
            .agent
            .call(&Request::Mount {
                path,
                env: a.environment.clone(),
                mode: "auto".into(),
                import: true,
            })
            .await?
        else {
            return Err(unexpected());
        };
        let detail = format!("imported and mounted at {path} ({mode}), approved by the user");
        return Ok(Done::new(json!({
            "environment": a.environment,
            "imported": imported,
            "mounted": path,
            "mode": mode,
            "notes": notes,
        }))
        .env(a.environment)
        .names(imported)
        .detail(detail));
    }
    let Response::Imported { names, warnings } = ctx
        .agent
        .call(&Request::Import {
            env: a.environment.clone(),
            path: path.clone(),
        })
        .await?
    else {
        return Err(unexpected());
    };
    Ok(Done::new(json!({
        "environment": a.environment,
        "imported": names,
        "warnings": warnings,
        "note": format!(
            "{} still holds the values in plaintext: import again with replace_with_mount to remove it and serve the environment there, or ask the user to delete it",
            path.display()
        ),
    }))
    .env(a.environment)
    .names(names)
    .detail(format!("imported from {}", path.display())))
}
