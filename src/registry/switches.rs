//! Which MCP servers are on in which project. Kept under OPENV_HOME, keyed by the
//! project's root directory, so turning a server on or off never touches the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::RegistryError;
use crate::paths::Home;

const FILE: &str = "mcp-projects.json";

/// Choices made in one project; a server in neither set has its default (on for the
/// project's own servers, off for the user-wide ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectState {
    #[serde(default)]
    pub enabled: BTreeSet<String>,
    #[serde(default)]
    pub disabled: BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    #[serde(default)]
    projects: BTreeMap<String, ProjectState>,
}

fn path(home: &Home) -> PathBuf {
    home.root().join(FILE)
}

fn read(home: &Home) -> Result<StateFile, RegistryError> {
    let p = path(home);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| RegistryError::State {
            path: p.display().to_string(),
            message: format!("{e}: fix or delete the file"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
        Err(e) => Err(RegistryError::State {
            path: p.display().to_string(),
            message: e.to_string(),
        }),
    }
}

pub fn load(home: &Home, root: &Path) -> Result<ProjectState, RegistryError> {
    Ok(read(home)?
        .projects
        .remove(&root.display().to_string())
        .unwrap_or_default())
}

/// Turns `name` on or off in the project at `root`.
pub fn set(home: &Home, root: &Path, name: &str, on: bool) -> Result<(), RegistryError> {
    let mut file = read(home)?;
    let st = file.projects.entry(root.display().to_string()).or_default();
    if on {
        st.disabled.remove(name);
        st.enabled.insert(name.to_owned());
    } else {
        st.enabled.remove(name);
        st.disabled.insert(name.to_owned());
    }
    write(home, &file)
}

/// Write-then-rename: a crash leaves the old file or the new one, never half of one.
fn write(home: &Home, file: &StateFile) -> Result<(), RegistryError> {
    let err = |p: &Path, e: std::io::Error| RegistryError::State {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    home.prepare().map_err(|e| RegistryError::State {
        path: home.root().display().to_string(),
        message: e.to_string(),
    })?;
    let p = path(home);
    let tmp = p.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(file).map_err(|e| RegistryError::State {
        path: p.display().to_string(),
        message: e.to_string(),
    })?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(&tmp, e))?;
    f.write_all(&body)
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e))?;
    std::fs::rename(&tmp, &p).map_err(|e| err(&p, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn per_project_choices() {
        let t = tempfile::tempdir().unwrap();
        let home = Home::at(t.path().join("h"));
        let (a, b) = (Path::new("/work/a"), Path::new("/work/b"));
        set(&home, a, "gh", false).unwrap();
        set(&home, b, "gh", true).unwrap();
        set(&home, a, "db", true).unwrap();
        let sa = load(&home, a).unwrap();
        assert!(sa.disabled.contains("gh") && sa.enabled.contains("db"));
        assert!(load(&home, b).unwrap().enabled.contains("gh"));
        set(&home, a, "gh", true).unwrap();
        let sa = load(&home, a).unwrap();
        assert!(sa.enabled.contains("gh") && !sa.disabled.contains("gh"));
        assert_eq!(
            load(&home, Path::new("/other")).unwrap(),
            ProjectState::default()
        );
    }
}
