//! The MCP server registry: servers declared in the project's openv.toml and in the
//! user-wide `OPENV_HOME/mcp-servers.toml`, turned on and off per project, exported to
//! MCP clients as `openv launch NAME` so no client configuration holds a secret.

mod error;
pub mod export;
pub use error::RegistryError;
pub mod switches;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::Home;
use crate::project::servers::{self, RawMcp, ServerSpec};
use crate::project::{FILE_NAME, Project, ProjectError};

/// The user-wide registry, under OPENV_HOME.
pub const USER_FILE: &str = "mcp-servers.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The project's openv.toml: on unless turned off.
    Project,
    /// OPENV_HOME/mcp-servers.toml: off unless turned on in this project.
    User,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::User => "user",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub source: Source,
    pub enabled: bool,
    pub spec: ServerSpec,
}

#[derive(Debug, Clone)]
pub struct Registry {
    /// The project root (where openv.toml is), else the directory asked about.
    pub root: PathBuf,
    /// Name order; a project server hides a user-wide one of the same name.
    pub servers: Vec<Server>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    #[serde(default)]
    mcp: RawMcp,
}

fn user_servers(home: &Home) -> Result<Vec<(String, ServerSpec)>, ProjectError> {
    let file = home.root().join(USER_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ProjectError::Read {
                path: file.display().to_string(),
                source,
            });
        }
    };
    let raw: UserFile = toml::from_str(&text).map_err(|e| ProjectError::parse(&file, &text, &e))?;
    servers::validate(raw.mcp, &file, &text)
}

impl Registry {
    /// The registry seen from `dir`: its project (found upward) and the user-wide file.
    /// `exact`: `dir` is the project root itself (`openv launch --project DIR`), no search.
    pub fn load(home: &Home, dir: &Path, exact: bool) -> Result<Self, RegistryError> {
        let project = if exact {
            let f = dir.join(FILE_NAME);
            if f.is_file() {
                Some(Project::load(&f)?)
            } else {
                None
            }
        } else {
            Project::find(dir)?
        };
        let root = match &project {
            Some(p) => p.root.clone(),
            None => dir.canonicalize().unwrap_or_else(|_| dir.to_owned()),
        };
        let st = switches::load(home, &root)?;
        let mut servers: Vec<Server> = Vec::new();
        for (name, spec) in project.into_iter().flat_map(|p| p.servers) {
            servers.push(Server {
                enabled: !st.disabled.contains(&name),
                name,
                source: Source::Project,
                spec,
            });
        }
        for (name, spec) in user_servers(home)? {
            if servers.iter().any(|s| s.name == name) {
                continue;
            }
            servers.push(Server {
                enabled: st.enabled.contains(&name),
                name,
                source: Source::User,
                spec,
            });
        }
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { root, servers })
    }

    pub fn get(&self, name: &str) -> Result<&Server, RegistryError> {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| RegistryError::Unknown {
                name: name.to_owned(),
                known: self.known(),
            })
    }

    fn known(&self) -> String {
        if self.servers.is_empty() {
            format!(
                "none are declared: add [mcp.servers.NAME] to {FILE_NAME} or to OPENV_HOME/{USER_FILE}"
            )
        } else {
            let names: Vec<&str> = self.servers.iter().map(|s| s.name.as_str()).collect();
            format!("known: {}", names.join(", "))
        }
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Server> {
        self.servers.iter().filter(|s| s.enabled)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn project_and_user_servers_with_defaults() {
        let t = tempfile::tempdir().unwrap();
        let home = Home::at(t.path().join("h"));
        home.prepare().unwrap();
        std::fs::write(
            home.root().join(USER_FILE),
            "[mcp.servers.db]\ncommand = \"db-mcp\"\n[mcp.servers.gh]\ncommand = \"user-gh\"\n",
        )
        .unwrap();
        let proj = t.path().join("p");
        std::fs::create_dir(&proj).unwrap();
        std::fs::write(
            proj.join(FILE_NAME),
            "[mcp.servers.gh]\ncommand = \"gh-mcp\"\n",
        )
        .unwrap();
        let r = Registry::load(&home, &proj, false).unwrap();
        let names: Vec<(&str, Source, bool)> = r
            .servers
            .iter()
            .map(|s| (s.name.as_str(), s.source, s.enabled))
            .collect();
        assert_eq!(
            names,
            [("db", Source::User, false), ("gh", Source::Project, true)]
        );
        assert_eq!(r.get("gh").unwrap().spec.command, "gh-mcp");
        switches::set(&home, &r.root, "db", true).unwrap();
        switches::set(&home, &r.root, "gh", false).unwrap();
        let r = Registry::load(&home, &proj, true).unwrap();
        let on: Vec<&str> = r.enabled().map(|s| s.name.as_str()).collect();
        assert_eq!(on, ["db"]);
        let e = r.get("nope").unwrap_err().to_string();
        assert_eq!(e, "no MCP server named nope: known: db, gh");
    }
}
