//! What each mount serves: the environment's rendering (cached while unlocked) and the
//! size and mtime its file reports, which must match what the next open serves.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::state::{Rendered, State};
use crate::store::{Backend, StoreError};

fn env_mtime(st: &mut State, env: &str) -> i64 {
    st.vault()
        .and_then(|v| v.env_updated(env))
        .unwrap_or_else(|_| crate::store::now())
}

/// Recomputes what the mounts of `env` will serve (size, mtime). Called after every
/// change to `env`, so it also drops the cached rendering.
pub fn refresh_env(st: &mut State, env: &str) {
    st.rendered.remove(env);
    st.unreadable.remove(env);
    let paths = st.mounts.paths_of(env);
    refresh_paths(st, env, &paths);
}

pub fn refresh_all(st: &mut State) {
    for env in st.mounts.envs() {
        refresh_env(st, &env);
    }
}

pub fn refresh_path(st: &mut State, path: &Path, env: &str) {
    refresh_paths(st, env, &[path.to_path_buf()]);
}

/// Sets what `paths` (mounts of `env`) report: the environment is read, decrypted and
/// measured once for all of them.
fn refresh_paths(st: &mut State, env: &str, paths: &[PathBuf]) {
    if paths.is_empty() {
        return;
    }
    let mtime = env_mtime(st, env);
    let size = match st.vault() {
        Ok(v) if v.is_unlocked() => super::withheld::usable_values(v, env).ok().map(|vals| {
            // Each open gets its reader's dialect. The size is the common dialect's, exact
            // for most readers (git refuses a file shorter than its size); an open served
            // more is answered only after the mount has raised the size it reports.
            let vars = || vals.iter().map(|(n, v)| (n.as_str(), v));
            crate::render::rendered_len_for(crate::render::Dialect::Common, vars())
                .unwrap_or_else(|_| crate::render::max_rendered_len(vars()))
        }),
        _ => None,
    };
    // Locked: keep the sizes last recorded.
    let recorded = match size {
        Some(_) => Vec::new(),
        None => st.vault().and_then(|v| v.list_mounts()).unwrap_or_default(),
    };
    for path in paths {
        let key = path.display().to_string();
        let size = match size {
            Some(s) => {
                if let Ok(v) = st.vault() {
                    let _ = v.set_mount_size(&key, s as u64);
                }
                s as u64
            }
            None => recorded
                .iter()
                .find(|m| m.path == key)
                .map_or(0, |m| m.size),
        };
        st.mounts.set_content(path, size, mtime);
    }
}

/// Why a mount cannot serve an environment to a reader.
#[derive(Debug, thiserror::Error)]
pub enum Unservable {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The reader's dialect cannot hold one of the values.
    #[error(transparent)]
    Refused(#[from] crate::render::Refusal),
}

/// The file in `dialect` and the names in it (cached while unlocked).
pub fn render_env(
    st: &mut State,
    env: &str,
    dialect: crate::render::Dialect,
) -> Result<(Vec<String>, Zeroizing<Vec<u8>>), Unservable> {
    if !st.rendered.contains_key(env) {
        let values = super::withheld::usable_values(st.vault()?, env)?;
        st.rendered.insert(env.to_owned(), Rendered::new(values));
    }
    let Some(r) = st.rendered.get_mut(env) else {
        return Err(StoreError::Locked.into());
    };
    let bytes = r.get(dialect)?;
    Ok((r.names(), bytes))
}

/// The mtime a restored mount reports before anything is rendered.
pub fn restored(st: &mut State, path: &Path, env: &str, size: u64) {
    let mtime = env_mtime(st, env);
    st.mounts.set_content(path, size, mtime);
}
