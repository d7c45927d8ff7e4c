//! The project file `openv.toml`: the project's default environment, the mounts it
//! wants (`openv up` / `openv down`) and its MCP servers. Found like git finds its
//! repository: in the current directory or the nearest one above.
//!
//! ```toml
//! env = "myapp-dev"
//!
//! [[mount]]
//! path = ".env"          # relative to this file's directory
//! env = "myapp-dev"      # optional: the default above
//! mode = "auto"          # optional: auto, fuse or fifo
//!
//! [mcp.servers.github]
//! command = "npx"
//! args = ["-y", "@modelcontextprotocol/server-github"]
//! env = { LOG_LEVEL = "info" }
//! secrets = { GITHUB_PERSONAL_ACCESS_TOKEN = "openv://myapp-dev/GITHUB_TOKEN" }
//! ```

mod error;
pub mod servers;
mod span;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use servers::{RawMcp, ServerSpec};

pub use error::ProjectError;
pub use span::locate;

pub const FILE_NAME: &str = "openv.toml";

/// One `[[mount]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Absolute (not canonical: the file may not exist yet).
    pub path: PathBuf,
    /// As written, for messages.
    pub written: String,
    pub env: Option<String>,
    pub mode: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding openv.toml (canonical).
    pub root: PathBuf,
    pub file: PathBuf,
    pub env: Option<String>,
    pub mounts: Vec<MountSpec>,
    pub servers: Vec<(String, ServerSpec)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    env: Option<Spanned<String>>,
    #[serde(default)]
    mount: Vec<RawMount>,
    #[serde(default)]
    mcp: RawMcp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMount {
    path: Spanned<String>,
    env: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
}

impl Project {
    /// The nearest openv.toml at or above `start`; `None` if there is none.
    pub fn find(start: &Path) -> Result<Option<Self>, ProjectError> {
        for dir in start.ancestors() {
            let file = dir.join(FILE_NAME);
            if file.is_file() {
                return Self::load(&file).map(Some);
            }
        }
        Ok(None)
    }

    /// The project of the current directory, if any.
    pub fn current() -> Result<Option<Self>, ProjectError> {
        let cwd = std::env::current_dir().map_err(|source| ProjectError::Read {
            path: ".".into(),
            source,
        })?;
        Self::find(&cwd)
    }

    /// Like `current`, but a missing file is an error.
    pub fn require() -> Result<Self, ProjectError> {
        let cwd = std::env::current_dir().map_err(|source| ProjectError::Read {
            path: ".".into(),
            source,
        })?;
        Self::find(&cwd)?.ok_or_else(|| ProjectError::NotFound {
            dir: cwd.display().to_string(),
        })
    }

    pub fn load(file: &Path) -> Result<Self, ProjectError> {
        let text = std::fs::read_to_string(file).map_err(|source| ProjectError::Read {
            path: file.display().to_string(),
            source,
        })?;
        let file = std::path::absolute(file).map_err(|source| ProjectError::Read {
            path: file.display().to_string(),
            source,
        })?;
        let root = file
            .parent()
            .unwrap_or(Path::new("/"))
            .canonicalize()
            .map_err(|source| ProjectError::Read {
                path: file.display().to_string(),
                source,
            })?;
        let file = root.join(FILE_NAME);
        Self::parse(&text, &file, root)
    }

    fn parse(text: &str, file: &Path, root: PathBuf) -> Result<Self, ProjectError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ProjectError::parse(file, text, &e))?;
        let at = |span: Range<usize>, msg: String| ProjectError::at(file, text, span, msg);
        let env_name = |s: &Spanned<String>| {
            crate::names::check_env_name(s.get_ref()).map_err(|e| at(s.span(), e.to_string()))
        };
        if let Some(e) = &raw.env {
            env_name(e)?;
        }
        let mut mounts = Vec::new();
        for m in raw.mount {
            let written = m.path.get_ref().clone();
            if written.is_empty() || written.ends_with('/') {
                return Err(at(
                    m.path.span(),
                    "give the file to mount, e.g. path = \".env\"".into(),
                ));
            }
            if let Some(e) = &m.env {
                env_name(e)?;
            }
            let mode = match &m.mode {
                None => "auto".to_owned(),
                Some(s) if ["auto", "fuse", "fifo"].contains(&s.get_ref().as_str()) => {
                    s.get_ref().clone()
                }
                Some(s) => {
                    return Err(at(
                        s.span(),
                        format!("mode {:?}: use auto, fuse or fifo", s.get_ref()),
                    ));
                }
            };
            let line = locate(text, Some(m.path.span())).line;
            mounts.push(MountSpec {
                path: root.join(&written),
                written,
                env: m.env.map(Spanned::into_inner),
                mode,
                line,
            });
        }
        let servers = servers::validate(raw.mcp, file, text)?;
        Ok(Self {
            root,
            file: file.to_owned(),
            env: raw.env.map(Spanned::into_inner),
            mounts,
            servers,
        })
    }
}

/// The environment a command works on: `-e` (clap also fills it from `OPENV_ENV`),
/// else the project's `env`. The project file is read only when needed, so a broken
/// openv.toml does not get in the way of an explicit `-e`.
pub fn env_or_default(flag: Option<String>) -> Result<String, ProjectError> {
    if let Some(e) = flag.filter(|e| !e.is_empty()) {
        return Ok(e);
    }
    match Project::current()? {
        Some(Project { env: Some(e), .. }) => Ok(e),
        Some(p) => Err(ProjectError::NoEnv {
            where_: p.file.display().to_string(),
        }),
        None => Err(ProjectError::NoEnv {
            where_: FILE_NAME.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Project, ProjectError> {
        Project::parse(text, Path::new("/p/openv.toml"), PathBuf::from("/p"))
    }

    #[test]
    fn full_file() {
        let p = parse(
            r#"env = "dev"

[[mount]]
path = ".env"

[[mount]]
path = "web/.env.local"
env = "web-dev"
mode = "fifo"

[mcp.servers.gh]
command = "npx"
args = ["-y", "server-github"]
env = { LOG = "info" }
secrets = { TOKEN = "openv://dev/GITHUB_TOKEN" }
"#,
        )
        .unwrap();
        assert_eq!(p.env.as_deref(), Some("dev"));
        assert_eq!(p.mounts.len(), 2);
        assert_eq!(p.mounts[0].path, PathBuf::from("/p/.env"));
        assert_eq!(p.mounts[0].mode, "auto");
        assert_eq!(p.mounts[1].env.as_deref(), Some("web-dev"));
        assert_eq!(p.mounts[1].line, 7);
        let (name, s) = &p.servers[0];
        assert_eq!(name, "gh");
        assert_eq!(s.args, ["-y", "server-github"]);
        assert_eq!(s.secrets[0].0, "TOKEN");
        assert_eq!(s.secrets[0].1.to_string(), "openv://dev/GITHUB_TOKEN");
        assert_eq!(s.base, PathBuf::from("/p"));
    }

    #[test]
    fn errors_point_to_line_and_key() {
        let e = parse("env = \"dev\"\n[[mount]]\npath = \".env\"\nmode = \"nfs\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/p/openv.toml, line 4, key `mount.mode`: mode \"nfs\": use auto, fuse or fifo"
        );
        let e = parse("env = 5\n").unwrap_err().to_string();
        assert!(e.starts_with("/p/openv.toml, line 1, key `env`: "), "{e}");
        let e = parse("[mcp.servers.gh]\ncommand = \"x\"\nsecrets = { T = \"dev/T\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3, key `mcp.servers.gh.secrets`") && e.contains("openv://ENV/VAR"),
            "{e}"
        );
        let e = parse("colour = \"red\"\n").unwrap_err().to_string();
        assert!(e.contains("line 1, key `colour`: unknown field"), "{e}");
        let e = parse("[mcp.servers.\"a b\"]\ncommand = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("server name"), "{e}");
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn found_upward_and_default_env() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(FILE_NAME), "env = \"proj\"\n").unwrap();
        let deep = t.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let p = Project::find(&deep).unwrap().unwrap();
        assert_eq!(p.root, t.path().canonicalize().unwrap());
        assert_eq!(p.env.as_deref(), Some("proj"));
    }
}
