//! Turning a tool call's JSON arguments into checked values.
//!
//! Every name goes through `openv::names`, so the MCP server accepts exactly what the
//! CLI and the agent accept. Parse errors never quote a variable's value: `value` fields
//! are checked before serde sees them (serde's "invalid type" messages quote the input).

use rmcp::model::JsonObject;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ToolError;
use crate::names::{check_env_name, check_var_name};

/// Most names one call may carry.
pub const MAX_NAMES: usize = 1000;

/// Deserializes a tool's arguments (absent arguments are `{}`).
pub fn parse<T: DeserializeOwned>(args: Option<JsonObject>) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(args.unwrap_or_default()))
        .map_err(|e| ToolError::invalid(format!("invalid arguments: {e}")))
}

pub fn env(name: &str) -> Result<(), ToolError> {
    Ok(check_env_name(name)?)
}

/// A non-empty list of valid, distinct variable names.
pub fn var_names(names: &[String]) -> Result<(), ToolError> {
    if names.is_empty() {
        return Err(ToolError::invalid("no variable names given"));
    }
    if names.len() > MAX_NAMES {
        return Err(ToolError::invalid(format!(
            "{} names in one call: the limit is {MAX_NAMES}",
            names.len()
        )));
    }
    for (i, n) in names.iter().enumerate() {
        check_var_name(n)?;
        if names[..i].contains(n) {
            return Err(ToolError::invalid(format!("{n} is listed twice")));
        }
    }
    Ok(())
}

/// Checks that each `variables[i].value` is a string (or absent/null) without quoting it.
pub fn values_are_strings(args: Option<&JsonObject>) -> Result<(), ToolError> {
    let Some(Value::Array(vars)) = args.and_then(|a| a.get("variables")) else {
        return Ok(());
    };
    for (i, v) in vars.iter().enumerate() {
        if let Some(value) = v.get("value")
            && !(value.is_string() || value.is_null())
        {
            return Err(ToolError::invalid(format!(
                "variables[{i}].value must be a string (the value was not echoed)"
            )));
        }
    }
    Ok(())
}

/// The environment and names a call is about, read before the arguments are parsed so
/// that even a refused or failed call is audited with them. Invalid names are left out.
pub fn audit_target(args: Option<&JsonObject>) -> (Option<String>, Vec<String>) {
    let Some(a) = args else {
        return (None, Vec::new());
    };
    let env = ["environment", "name"]
        .iter()
        .filter_map(|k| a.get(*k).and_then(Value::as_str))
        .find(|e| check_env_name(e).is_ok())
        .map(str::to_owned);
    let mut names: Vec<String> = Vec::new();
    let mut push = |n: &str| {
        if check_var_name(n).is_ok() && names.len() < MAX_NAMES && !names.iter().any(|m| m == n) {
            names.push(n.to_owned());
        }
    };
    if let Some(Value::Array(list)) = a.get("names") {
        list.iter().filter_map(Value::as_str).for_each(&mut push);
    }
    if let Some(Value::Array(list)) = a.get("variables") {
        list.iter()
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .for_each(&mut push);
    }
    (env, names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(var_names(&["A".into(), "B_2".into()]).is_ok());
        assert!(var_names(&[]).is_err());
        assert!(var_names(&["1A".into()]).is_err());
        assert!(var_names(&["A".into(), "A".into()]).is_err());
        assert!(env("dev").is_ok());
        assert!(env("a/b").is_err());
    }

    #[test]
    fn value_type_errors_do_not_quote_the_value() {
        let a = obj(json!({"variables": [{"name": "A", "value": 12345678}]}));
        let e = values_are_strings(Some(&a)).expect_err("number refused");
        assert!(!e.to_string().contains("12345678"), "{e}");
        let a = obj(json!({"variables": [{"name": "A", "value": "s"}, {"name": "B"}]}));
        assert!(values_are_strings(Some(&a)).is_ok());
    }

    #[test]
    fn audit_target_reads_valid_names_only() {
        let a = obj(json!({"environment": "dev", "names": ["A", "bad name", "A"]}));
        assert_eq!(
            audit_target(Some(&a)),
            (Some("dev".into()), vec!["A".into()])
        );
        let a = obj(json!({"name": "x y", "variables": [{"name": "B"}]}));
        assert_eq!(audit_target(Some(&a)), (None, vec!["B".into()]));
    }
}
