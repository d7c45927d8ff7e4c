//! list_variables, append_variables, request_variable_values, remove_variables.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ctx::{Ctx, Done, require_unlocked, unexpected};
use crate::ipc::protocol::{Charset, Request, Response};
use crate::mcp::args;
use crate::mcp::error::ToolError;
use crate::names::{ENV_NAME_PATTERN, VAR_NAME_PATTERN, check_value_len};
use crate::secret::SecretValue;
use crate::store::{ValueSource, VarInfo};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvArgs {
    /// Environment name.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamesArgs {
    /// Environment name.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
    /// Variable names.
    #[schemars(length(min = 1, max = 1000), inner(pattern(VAR_NAME_PATTERN)))]
    pub names: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestArgs {
    /// Environment name.
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
    /// Names of the variables the user should set.
    #[schemars(length(min = 1, max = 1000), inner(pattern(VAR_NAME_PATTERN)))]
    pub names: Vec<String>,
    /// How long to wait for the user, in seconds (default: openv's prompt timeout).
    #[serde(default)]
    #[schemars(with = "u64", range(min = 5, max = 900))]
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendArgs {
    /// Environment name (it must exist: see create_environment).
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub environment: String,
    /// Variables to add.
    #[schemars(length(min = 1, max = 1000))]
    pub variables: Vec<VariableArg>,
}

/// One variable: a name alone (placeholder), with `generate`, or with `value`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableArg {
    /// Variable name, e.g. DATABASE_URL.
    #[schemars(pattern(VAR_NAME_PATTERN))]
    pub name: String,
    /// A value you already know and may know (stored as agent-supplied). Never a secret
    /// the user typed in chat. Omit for a placeholder.
    #[serde(default)]
    #[schemars(with = "String", length(max = 65536))]
    pub value: Option<SecretValue>,
    /// Fill with a random value made inside openv; you never see it. `{}` for defaults.
    #[serde(default)]
    #[schemars(with = "GenerateArg")]
    pub generate: Option<GenerateArg>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateArg {
    /// Number of characters, 8 to 256 (default 32).
    #[serde(default = "default_length")]
    #[schemars(range(min = 8, max = 256))]
    pub length: u32,
    /// Characters to use (default alphanumeric).
    #[serde(default)]
    pub charset: CharsetArg,
}

fn default_length() -> u32 {
    32
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CharsetArg {
    /// A-Z a-z 0-9
    #[default]
    Alphanumeric,
    /// 0-9 a-f
    Hex,
    /// A-Z a-z 0-9 - _
    Base64url,
}

impl From<CharsetArg> for Charset {
    fn from(c: CharsetArg) -> Self {
        match c {
            CharsetArg::Alphanumeric => Charset::Alphanumeric,
            CharsetArg::Hex => Charset::Hex,
            CharsetArg::Base64url => Charset::Base64url,
        }
    }
}

async fn vars_of(ctx: &Ctx<'_>, env: &str) -> Result<Vec<VarInfo>, ToolError> {
    match ctx
        .agent
        .call(&Request::VarList {
            env: env.to_owned(),
        })
        .await?
    {
        Response::Variables { variables, .. } => Ok(variables),
        _ => Err(unexpected()),
    }
}

/// "A, B and 3 more", for prompts and messages.
fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 20;
    let head = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        format!("{head} and {} more", names.len() - SHOWN)
    } else {
        head
    }
}

#[derive(Debug, Serialize)]
struct VarList<'a> {
    environment: &'a str,
    variables: Vec<VarRow<'a>>,
}

/// One row of `list_variables`, serialized straight into the answer.
#[derive(Debug, Serialize)]
struct VarRow<'a> {
    name: &'a str,
    has_value: bool,
    source: Option<&'static str>,
    updated: String,
}

pub async fn list(ctx: &Ctx<'_>, a: EnvArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    let vars = vars_of(ctx, &a.environment).await?;
    let rows: Vec<VarRow<'_>> = vars
        .iter()
        .map(|v| VarRow {
            name: &v.name,
            has_value: v.has_value,
            source: v.source.map(ValueSource::as_str),
            updated: crate::store::rfc3339_seconds(v.updated),
        })
        .collect();
    let answer = VarList {
        environment: &a.environment,
        variables: rows,
    };
    Ok(Done::typed(&answer)?.env(a.environment.clone()))
}

/// What one append does, sorted out before anything is sent.
#[derive(Debug, Default)]
struct Plan {
    placeholders: Vec<String>,
    values: Vec<(String, SecretValue)>,
    /// (length, charset) -> names
    generate: Vec<((u32, Charset), Vec<String>)>,
}

fn plan(vars: Vec<VariableArg>) -> Result<Plan, ToolError> {
    let mut p = Plan::default();
    for v in vars {
        match (v.value, v.generate) {
            (Some(_), Some(_)) => {
                return Err(ToolError::invalid(format!(
                    "{}: give either value or generate, not both",
                    v.name
                )));
            }
            (Some(value), None) => {
                check_value_len(&v.name, value.len())?;
                p.values.push((v.name, value));
            }
            (None, Some(g)) => {
                if !(8..=256).contains(&g.length) {
                    return Err(ToolError::invalid(format!(
                        "{}: generate.length must be 8 to 256, not {}",
                        v.name, g.length
                    )));
                }
                let key = (g.length, Charset::from(g.charset));
                match p.generate.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, names)) => names.push(v.name),
                    None => p.generate.push((key, vec![v.name])),
                }
            }
            (None, None) => p.placeholders.push(v.name),
        }
    }
    Ok(p)
}

pub async fn append(ctx: &Ctx<'_>, a: AppendArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    let env = a.environment;
    let names: Vec<String> = a.variables.iter().map(|v| v.name.clone()).collect();
    args::var_names(&names)?;
    let plan = plan(a.variables)?;
    let before = vars_of(ctx, &env).await?;
    let with_value: Vec<String> = plan
        .values
        .iter()
        .map(|(n, _)| n)
        .chain(plan.generate.iter().flat_map(|(_, n)| n))
        .filter(|n| before.iter().any(|v| v.name == **n && v.has_value))
        .cloned()
        .collect();
    if !with_value.is_empty() {
        return Err(ToolError::Refused {
            kind: "exists",
            message: format!(
                "{} already {} a value in {env}: openv never overwrites a value from MCP; the user changes values with `openv var set`, or remove the variable first (remove_variables). Nothing was changed.",
                list_names(&with_value),
                if with_value.len() == 1 { "has" } else { "have" }
            ),
        });
    }
    let (new_placeholders, known): (Vec<String>, Vec<String>) = plan
        .placeholders
        .iter()
        .cloned()
        .partition(|n| !before.iter().any(|v| v.name == *n));
    let stored: Vec<String> = plan.values.iter().map(|(n, _)| n.clone()).collect();
    let generated: Vec<String> = plan.generate.iter().flat_map(|(_, n)| n.clone()).collect();

    let mut applied = Vec::new();
    if let Err(e) = apply(ctx, &env, plan, new_placeholders.clone(), &mut applied).await {
        undo(ctx, &env, &applied, &before).await;
        return Err(e);
    }
    let detail = format!(
        "{} declared, {} agent-supplied value{}, {} generated",
        new_placeholders.len(),
        stored.len(),
        if stored.len() == 1 { "" } else { "s" },
        generated.len()
    );
    let mut answer = json!({
        "environment": env,
        "declared": new_placeholders,
        "already_declared": known,
        "stored": stored,
        "generated": generated,
    });
    if !stored.is_empty() {
        answer["note"] = json!(
            "stored values are marked as agent-supplied (source: agent); the user can review them with `openv var list`"
        );
    }
    Ok(Done::new(answer).env(env).names(names).detail(detail))
}

/// Sends the plan; `applied` collects the names changed so far, for `undo`.
async fn apply(
    ctx: &Ctx<'_>,
    env: &str,
    plan: Plan,
    placeholders: Vec<String>,
    applied: &mut Vec<String>,
) -> Result<(), ToolError> {
    if !plan.values.is_empty() {
        let names: Vec<String> = plan.values.iter().map(|(n, _)| n.clone()).collect();
        ctx.agent
            .call(&Request::VarSetMany {
                env: env.to_owned(),
                vars: plan.values,
                source: ValueSource::Agent,
            })
            .await?;
        applied.extend(names);
    }
    for ((length, charset), names) in plan.generate {
        ctx.agent
            .call(&Request::VarGenerate {
                env: env.to_owned(),
                names: names.clone(),
                length,
                charset,
            })
            .await?;
        applied.extend(names);
    }
    if !placeholders.is_empty() {
        ctx.agent
            .call(&Request::VarDeclare {
                env: env.to_owned(),
                names: placeholders.clone(),
            })
            .await?;
        applied.extend(placeholders);
    }
    Ok(())
}

/// Puts back what a failed append changed: new names go, former placeholders become
/// placeholders again. Best effort: a failure here is logged.
async fn undo(ctx: &Ctx<'_>, env: &str, applied: &[String], before: &[VarInfo]) {
    if applied.is_empty() {
        return;
    }
    let again: Vec<String> = applied
        .iter()
        .filter(|n| before.iter().any(|v| v.name == **n))
        .cloned()
        .collect();
    let remove = Request::VarRemove {
        env: env.to_owned(),
        names: applied.to_vec(),
    };
    let mut result = ctx.agent.call(&remove).await.map(|_| ());
    if result.is_ok() && !again.is_empty() {
        let declare = Request::VarDeclare {
            env: env.to_owned(),
            names: again,
        };
        result = ctx.agent.call(&declare).await.map(|_| ());
    }
    if let Err(e) = result {
        tracing::error!(%env, error = %e, "could not undo a partly applied append_variables");
    }
}

pub async fn request(ctx: &Ctx<'_>, a: RequestArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    args::var_names(&a.names)?;
    if let Some(t) = a.timeout_secs
        && !(5..=900).contains(&t)
    {
        return Err(ToolError::invalid(format!(
            "timeout_secs must be 5 to 900, not {t}"
        )));
    }
    require_unlocked(ctx).await?;
    let Response::Names { names: set } = ctx
        .agent
        .call(&Request::AskValues {
            env: a.environment.clone(),
            names: a.names.clone(),
            timeout_secs: a.timeout_secs,
        })
        .await?
    else {
        return Err(unexpected());
    };
    let not_set: Vec<String> = a
        .names
        .iter()
        .filter(|n| !set.contains(n))
        .cloned()
        .collect();
    let mut answer = json!({ "environment": a.environment, "set": set, "not_set": not_set });
    if !not_set.is_empty() {
        answer["message"] = json!(format!(
            "the user has not set {} yet; they can run `openv var set -e {} NAME` in a terminal",
            list_names(&not_set),
            a.environment
        ));
    }
    let detail = format!("{} of {} set by the user", set.len(), a.names.len());
    Ok(Done::new(answer)
        .env(a.environment)
        .names(a.names)
        .detail(detail))
}

/// Removing is asked of the user first; nothing changes unless they approve.
pub async fn remove(ctx: &Ctx<'_>, a: NamesArgs) -> Result<Done, ToolError> {
    args::env(&a.environment)?;
    args::var_names(&a.names)?;
    require_unlocked(ctx).await?;
    let vars = vars_of(ctx, &a.environment).await?;
    let unknown: Vec<String> = a
        .names
        .iter()
        .filter(|n| !vars.iter().any(|v| v.name == **n))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ToolError::Refused {
            kind: "not_found",
            message: format!(
                "not in environment {}: {}; nothing was removed (see list_variables)",
                a.environment,
                list_names(&unknown)
            ),
        });
    }
    let action = format!(
        "remove variable{} {} from environment \"{}\"",
        if a.names.len() == 1 { "" } else { "s" },
        list_names(&a.names),
        a.environment
    );
    ctx.agent
        .call(&Request::Confirm {
            action,
            env: Some(a.environment.clone()),
            client: ctx.client.map(str::to_owned),
        })
        .await?;
    ctx.agent
        .call(&Request::VarRemove {
            env: a.environment.clone(),
            names: a.names.clone(),
        })
        .await?;
    Ok(
        Done::new(json!({ "environment": a.environment, "removed": a.names }))
            .env(a.environment)
            .names(a.names)
            .detail("approved by the user"),
    )
}
