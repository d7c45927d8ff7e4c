//! Variables: list and declare names, set, generate and remove values, import a file.
//! Every change refreshes what the environment's mounts serve.

use std::path::Path;

use super::team;
use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::ipc::protocol::Response;
use crate::remote::sync::Change;
use crate::secret::{Charset, SecretValue};
use crate::store::{Backend, StoreError, ValueSource};

pub fn list(st: &mut State, env: String) -> Result<Response, AgentError> {
    let mut variables = st.vault()?.list_vars(&env)?;
    // Unlocked: say which dialects cannot read each value (names only leave the agent).
    // Worked out once per change of the environment: it means decrypting every value.
    let readers_checked = match st.unreadable.get(&env) {
        Some(_) => true,
        None => match st.vault()?.read_values(&env) {
            Ok(values) => {
                let found = values
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.clone(),
                            crate::render::report::unreadable_names(v.expose()),
                        )
                    })
                    .filter(|(_, d)| !d.is_empty())
                    .collect();
                st.unreadable.insert(env.clone(), found);
                true
            }
            Err(_) => false,
        },
    };
    if let Some(found) = st.unreadable.get(&env) {
        for v in &mut variables {
            if let Some(d) = found.get(&v.name) {
                v.unreadable_by = d.clone();
            }
        }
    }
    Ok(Response::Variables {
        variables,
        environment: env,
        readers_checked,
    })
}

pub fn declare(st: &mut State, env: &str, names: &[String]) -> Result<Response, AgentError> {
    if team::is_shared(st, env) {
        let names = team::team_write(st, env, Change::Declare(names.to_vec()))?;
        return Ok(Response::Names { names });
    }
    Ok(Response::Names {
        names: st.vault()?.declare_vars(env, names)?,
    })
}

pub fn set(
    st: &mut State,
    env: &str,
    name: String,
    value: SecretValue,
    source: ValueSource,
) -> Result<Response, AgentError> {
    if team::is_shared(st, env) {
        let vars = vec![(name, value)];
        team::team_write(st, env, Change::Set { vars, source })?;
        return Ok(Response::Done);
    }
    st.vault()?.set_vars(env, &[(name, value)], source)?;
    crate::agent::contents::refresh_env(st, env);
    Ok(Response::Done)
}

pub fn set_many(
    st: &mut State,
    env: &str,
    vars: Vec<(String, SecretValue)>,
    source: ValueSource,
) -> Result<Response, AgentError> {
    if team::is_shared(st, env) {
        let names = team::team_write(st, env, Change::Set { vars, source })?;
        return Ok(Response::Names { names });
    }
    st.vault()?.set_vars(env, &vars, source)?;
    crate::agent::contents::refresh_env(st, env);
    Ok(Response::Names {
        names: vars.into_iter().map(|(n, _)| n).collect(),
    })
}

/// Random values made inside the agent: nobody ever sees them.
pub fn generate(
    st: &mut State,
    env: &str,
    names: Vec<String>,
    length: u32,
    charset: Charset,
) -> Result<Response, AgentError> {
    if !(8..=256).contains(&length) {
        return Err(AgentError::invalid(format!(
            "length {length} is out of range: use 8 to 256"
        )));
    }
    let vars: Vec<(String, SecretValue)> = names
        .iter()
        .map(|n| (n.clone(), crate::secret::generate(length as usize, charset)))
        .collect();
    if team::is_shared(st, env) {
        let source = ValueSource::Generated;
        team::team_write(st, env, Change::Set { vars, source })?;
        return Ok(Response::Names { names });
    }
    st.vault()?.set_vars(env, &vars, ValueSource::Generated)?;
    crate::agent::contents::refresh_env(st, env);
    Ok(Response::Names { names })
}

pub fn remove(st: &mut State, env: &str, names: Vec<String>) -> Result<Response, AgentError> {
    if team::is_shared(st, env) {
        let names = team::team_write(st, env, Change::Remove(names))?;
        return Ok(Response::Names { names });
    }
    st.vault()?.remove_vars(env, &names)?;
    crate::agent::contents::refresh_env(st, env);
    Ok(Response::Names { names })
}

pub fn import(
    st: &mut State,
    env: &str,
    path: &Path,
    source: ValueSource,
) -> Result<Response, AgentError> {
    let (names, warnings) = import_file(st, env, path, source)?;
    Ok(Response::Imported { names, warnings })
}

/// Reads a .env file inside the agent (values never pass through a client) into `env`,
/// creating it if needed; returns the names stored and the file's warnings (a name set
/// twice: which line was kept). `source` is who asked (`agent::provenance`): a file
/// with a name that can become code is imported only for the human.
pub fn import_file(
    st: &mut State,
    env: &str,
    path: &Path,
    source: ValueSource,
) -> Result<(Vec<String>, Vec<String>), AgentError> {
    let crate::envfile::EnvFile { vars, warnings } =
        crate::envfile::read(path).map_err(StoreError::from)?;
    crate::names::check_env_name(env).map_err(StoreError::from)?;
    let code = crate::code_names::code_names(vars.iter().map(|(n, _)| n.as_str()));
    if !code.is_empty() && source != ValueSource::Human {
        return Err(AgentError::needs_human(&format!(
            "importing {} (a value that changes what code runs)",
            code.join(", ")
        )));
    }
    let source = match source {
        ValueSource::Human => ValueSource::Human,
        _ => ValueSource::Import,
    };
    let v = st.vault()?;
    if !v.is_unlocked() {
        return Err(StoreError::Locked.into());
    }
    let exists = v.list_envs()?.iter().any(|e| e.name == env);
    if !exists {
        v.create_env(env)?;
    }
    let result = v.set_vars(env, &vars, source);
    if result.is_err() && !exists {
        // Creating the environment was part of this import: undo it.
        let _ = v.delete_env(env);
    }
    result?;
    // Mounts of the environment serve the new values from the next open.
    crate::agent::contents::refresh_env(st, env);
    Ok((vars.into_iter().map(|(n, _)| n).collect(), warnings))
}
