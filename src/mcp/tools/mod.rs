//! The tools: their definitions (name, description, schema, annotations) and dispatch.
//!
//! Each tool is a plain async function taking the session context and its parsed
//! arguments, in a module per subject. No tool ever returns a value: answers carry
//! names, counts, states and paths only.

mod ctx;
mod environments;
mod files;
mod project;
mod status;
mod variables;

use ctx::NoArgs;
pub use ctx::{Ctx, Done};

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::Value;

use super::args::parse;
use super::error::ToolError;

/// One tool's definition.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    schema: fn() -> Arc<JsonObject>,
}

const fn spec(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    (read_only, destructive, idempotent): (bool, bool, bool),
    schema: fn() -> Arc<JsonObject>,
) -> Spec {
    Spec {
        name,
        title,
        description,
        read_only,
        destructive,
        idempotent,
        schema,
    }
}

/// (read-only, destructive, idempotent)
const READ: (bool, bool, bool) = (true, false, true);

pub static TOOLS: &[Spec] = &[
    spec(
        "list_environments",
        "List environments",
        "List openv environments: name, number of variables, how many have a value, last change, and the local .env files (mounts) that serve each. Never values.",
        READ,
        schema_for_type::<NoArgs>,
    ),
    spec(
        "create_environment",
        "Create an environment",
        "Create an empty environment (a named set of variables, e.g. myapp-dev). Then declare variables with append_variables.",
        (false, false, true),
        schema_for_type::<environments::NameArgs>,
    ),
    spec(
        "rename_environment",
        "Rename an environment",
        "Rename an environment. Its variables, values and local .env files follow it.",
        (false, false, false),
        schema_for_type::<environments::RenameArgs>,
    ),
    spec(
        "delete_environment",
        "Delete an environment",
        "Delete an environment with all its variables and values, and stop its local .env files. The user is asked to approve first; the call waits for the answer and fails if they decline.",
        (false, true, true),
        schema_for_type::<environments::NameArgs>,
    ),
    spec(
        "list_variables",
        "List variables",
        "List the variables of an environment: name, whether it has a value, who supplied it (user, import, agent, generated) and when it last changed. Values are never shown.",
        READ,
        schema_for_type::<variables::EnvArgs>,
    ),
    spec(
        "append_variables",
        "Add variables",
        "Add variables to an environment. A name alone is a placeholder the user fills later (see request_variable_values). `generate` fills the variable with a random value made inside openv that you never see (use it for new passwords, tokens, signing keys). `value` stores a value you already know and are allowed to know (it is marked as agent-supplied); never put a secret the user gave you in chat here: use request_variable_values instead. Variables that already have a value are never overwritten (the call fails and nothing changes).",
        (false, false, false),
        schema_for_type::<variables::AppendArgs>,
    ),
    spec(
        "request_variable_values",
        "Ask the user for values",
        "Ask the user to type the values of these variables themselves (a hidden-input dialog, or a pending request they answer with `openv var set`). The call waits until they are set, declined or timed out, and returns only which names are now set. Use this whenever a secret is needed: never ask the user to paste a secret into the chat.",
        (false, false, false),
        schema_for_type::<variables::RequestArgs>,
    ),
    spec(
        "remove_variables",
        "Remove variables",
        "Remove variables (names and values) from an environment. The user is asked to approve first; the call waits for the answer and fails if they decline.",
        (false, true, true),
        schema_for_type::<variables::NamesArgs>,
    ),
    spec(
        "create_local_env_file",
        "Create a local .env file",
        "Serve an environment as a virtual .env file at mountPath (a directory, meaning DIR/.env, or a file path). Apps read it like any .env file; each reading process must be approved by the user, and nothing is written to disk in plaintext. Reading it yourself (cat .env) is refused.",
        (false, false, true),
        schema_for_type::<files::MountArgs>,
    ),
    spec(
        "list_local_env_files",
        "List local .env files",
        "List the virtual .env files openv serves: path, environment, mode (fuse or fifo), state, and how many reads were served and denied.",
        READ,
        schema_for_type::<NoArgs>,
    ),
    spec(
        "remove_local_env_file",
        "Remove a local .env file",
        "Stop serving the virtual .env file at mountPath (a directory or the file). The environment and its values are kept.",
        (false, false, true),
        schema_for_type::<files::UnmountArgs>,
    ),
    spec(
        "import_env_file",
        "Import a .env file",
        "Move the variables of an existing plaintext .env file into an environment (created if missing); openv reads the file itself and returns the names only. With replace_with_mount, the plaintext file is then removed and replaced by a virtual .env serving the environment.",
        (false, true, false),
        schema_for_type::<files::ImportArgs>,
    ),
    spec(
        "check_environment",
        "Check an environment against a project",
        "Compare an environment's variable names with what the project at path expects (.env.example, .env.sample, docker-compose environment keys, and process.env.X / os.environ[\"X\"] / os.getenv(\"X\") / std::env::var(\"X\") / os.Getenv(\"X\") references in code). Reports missing (expected, not declared), unset (declared without a value) and unused (declared, not referenced) names.",
        READ,
        schema_for_type::<project::CheckArgs>,
    ),
    spec(
        "get_health_status",
        "Health",
        "Check openv's health: agent reachable, vault present and unlocked, audit log intact, FUSE available; each check with its duration.",
        READ,
        schema_for_type::<NoArgs>,
    ),
    spec(
        "get_metrics",
        "Metrics",
        "Calls, errors and latency percentiles (p50/p95/p99) of each tool in this MCP session.",
        READ,
        schema_for_type::<NoArgs>,
    ),
    spec(
        "get_security_status",
        "Security status",
        "openv's security state: vault locked or not, how approvals are asked (prompter), vault and state file permissions, local .env file modes, and requests waiting for the user.",
        READ,
        schema_for_type::<NoArgs>,
    ),
    spec(
        "get_audit_log",
        "Audit log",
        "Recent entries of openv's audit log (reads, approvals, MCP calls...), newest last, optionally for one environment. Names only, never values.",
        READ,
        schema_for_type::<status::AuditArgs>,
    ),
];

/// Tools whose arguments name files: they need the project's roots.
pub fn takes_paths(name: &str) -> bool {
    matches!(
        name,
        "create_local_env_file" | "remove_local_env_file" | "import_env_file" | "check_environment"
    )
}

pub fn find(name: &str) -> Option<&'static Spec> {
    TOOLS.iter().find(|t| t.name == name)
}

impl Spec {
    pub fn definition(&self) -> Tool {
        // The argument struct's own name and doc comment are noise to a model.
        let mut schema = (*(self.schema)()).clone();
        schema.remove("title");
        schema.remove("description");
        // Some clients require `properties` on every object schema, even an empty one.
        schema
            .entry("properties")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        let mut tool = Tool::new(self.name, self.description, schema);
        tool.title = Some(self.title.to_owned());
        tool.annotations = Some(
            ToolAnnotations::with_title(self.title)
                .read_only(self.read_only)
                .destructive(self.destructive)
                .idempotent(self.idempotent)
                .open_world(false),
        );
        tool
    }
}

/// Runs the tool `name`.
pub async fn call(ctx: &Ctx<'_>, name: &str, args: Option<JsonObject>) -> Result<Done, ToolError> {
    match name {
        "list_environments" => environments::list(ctx, parse(args)?).await,
        "create_environment" => environments::create(ctx, parse(args)?).await,
        "rename_environment" => environments::rename(ctx, parse(args)?).await,
        "delete_environment" => environments::delete(ctx, parse(args)?).await,
        "list_variables" => variables::list(ctx, parse(args)?).await,
        "append_variables" => {
            super::args::values_are_strings(args.as_ref())?;
            variables::append(ctx, parse(args)?).await
        }
        "request_variable_values" => variables::request(ctx, parse(args)?).await,
        "remove_variables" => variables::remove(ctx, parse(args)?).await,
        "create_local_env_file" => files::mount(ctx, parse(args)?).await,
        "list_local_env_files" => files::list(ctx, parse(args)?).await,
        "remove_local_env_file" => files::unmount(ctx, parse(args)?).await,
        "import_env_file" => files::import(ctx, parse(args)?).await,
        "check_environment" => project::check(ctx, parse(args)?).await,
        "get_health_status" => status::health(ctx, parse(args)?).await,
        "get_metrics" => status::metrics(ctx, parse(args)?),
        "get_security_status" => status::security(ctx, parse(args)?).await,
        "get_audit_log" => status::audit(ctx, parse(args)?).await,
        other => Err(ToolError::UnknownTool(other.chars().take(80).collect())),
    }
}
