//! Environments: list, create, rename, delete.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::ipc::protocol::Response;
use crate::store::Backend;

pub fn list(st: &mut State) -> Result<Response, AgentError> {
    Ok(Response::Environments {
        environments: st.vault()?.list_envs()?,
    })
}

pub fn create(st: &mut State, name: &str) -> Result<Response, AgentError> {
    st.vault()?.create_env(name)?;
    Ok(Response::Done)
}

pub fn rename(st: &mut State, name: &str, new_name: &str) -> Result<Response, AgentError> {
    st.vault()?.rename_env(name, new_name)?;
    st.mounts.rename_env(name, new_name);
    st.rendered.remove(name);
    st.unreadable.remove(name);
    gone(st, name);
    Ok(Response::Done)
}

pub fn delete(st: &mut State, name: &str) -> Result<Response, AgentError> {
    let variables = st.vault()?.delete_env(name)?;
    st.rendered.remove(name);
    st.unreadable.remove(name);
    gone(st, name);
    // Its mounts go with it (their records were deleted by the cascade).
    for m in st.mounts.take_env(name) {
        let path = m.path().to_path_buf();
        super::mounts::stop(st, m, &path);
    }
    Ok(Response::Deleted { variables })
}

/// Rules and grants name environments: once a name is gone (deleted, or renamed), what
/// was allowed under it must not carry over to a new environment of that name. The
/// rules' cache is reloaded (the vault moved or dropped them) and the grants end.
fn gone(st: &mut State, name: &str) {
    st.approvals.rules_changed();
    st.approvals.grants.forget_env(name);
}
