//! Where MCP tools may touch files: under the project, never inside `OPENV_HOME`, never
//! through a symlink that leaves the project. The project is the directory `openv mcp`
//! was started in, plus the roots the client sends (MCP `roots/list`).
//!
//! The model picks every path a tool takes, and it runs as the same user as the human:
//! without this, `import_env_file` reads `~/.ssh/...` and `create_local_env_file`
//! mounts over `main.py`. Paths are resolved as the kernel would (directory part
//! canonicalized, a final symlink followed) before they are compared.

use std::path::{Component, Path, PathBuf};
use std::sync::RwLock;

use super::error::ToolError;

/// What a path is for: it decides the name rule and what the human can run instead.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    Mount { env: &'a str },
    Import { env: &'a str, replace: bool },
    Unmount,
    Scan,
}

impl Purpose<'_> {
    /// Mounts and imports take only `.env`-like names; removing a mount takes any.
    fn needs_env_name(self) -> bool {
        matches!(self, Self::Mount { .. } | Self::Import { .. })
    }

    /// The command the human runs to do it anyway.
    fn human_fix(self, path: &Path) -> String {
        let (dir, name) = (
            path.parent().unwrap_or(path).display(),
            path.file_name().unwrap_or_default().to_string_lossy(),
        );
        match self {
            Self::Mount { env } => format!(
                "if the user wants it, they run `openv mount -e {env} {dir} --file {name}` themselves"
            ),
            Self::Import {
                env,
                replace: false,
            } => format!(
                "if the user wants it, they run `openv import -e {env} {}` themselves",
                path.display()
            ),
            Self::Import { env, replace: true } => format!(
                "if the user wants it, they run `openv mount --import -e {env} {dir} --file {name}` themselves"
            ),
            Self::Unmount => format!(
                "if the user wants it, they run `openv unmount {}` themselves",
                path.display()
            ),
            Self::Scan => "to check another project, the user starts openv mcp in it".into(),
        }
    }
}

pub use crate::names::is_env_name;

#[derive(Debug)]
pub struct Project {
    /// The working directory at start, as given.
    cwd: PathBuf,
    /// The working directory, resolved; `None` when it is `/` or the home directory.
    own: Option<PathBuf>,
    /// `OPENV_HOME`, resolved.
    home: PathBuf,
    /// The roots the client sent, resolved; `None` until asked (or after it said they
    /// changed).
    client: RwLock<Option<Vec<PathBuf>>>,
}

/// `/` and the user's home directory hold everything: no project is that wide.
fn too_wide(dir: &Path) -> bool {
    dir.parent().is_none()
        || std::env::var_os("HOME")
            .and_then(|h| Path::new(&h).canonicalize().ok())
            .is_some_and(|h| h == dir)
}

impl Project {
    pub fn new(cwd: PathBuf, openv_home: &Path) -> Self {
        let own = cwd.canonicalize().ok().filter(|d| !too_wide(d));
        Self {
            home: real(openv_home),
            cwd,
            own,
            client: RwLock::new(None),
        }
    }

    /// Where relative paths start: the working directory, or the client's first root
    /// when `openv mcp` runs in no project (clients such as desktop apps start it in `/`).
    fn base(&self) -> PathBuf {
        if self.own.is_some() {
            return self.cwd.clone();
        }
        let client = self.client.read().unwrap_or_else(|p| p.into_inner());
        client
            .as_ref()
            .and_then(|c| c.first().cloned())
            .unwrap_or_else(|| self.cwd.clone())
    }

    /// Whether the client's roots are still to be asked for.
    pub fn wants_client_roots(&self) -> bool {
        self.client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Takes the `file://` URIs the client sent; others, and roots that are `/` or the
    /// home directory, are ignored.
    pub fn set_client_roots<'u>(&self, uris: impl IntoIterator<Item = &'u str>) {
        let roots: Vec<PathBuf> = uris
            .into_iter()
            .filter_map(file_uri_path)
            .filter_map(|p| p.canonicalize().ok())
            .filter(|d| d.is_dir() && !too_wide(d))
            .collect();
        tracing::info!(roots = roots.len(), "client roots");
        *self.client.write().unwrap_or_else(|p| p.into_inner()) = Some(roots);
    }

    /// The client said its roots changed: ask again before the next path is checked.
    pub fn forget_client_roots(&self) {
        *self.client.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn roots(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = self.own.iter().cloned().collect();
        if let Some(c) = &*self.client.read().unwrap_or_else(|p| p.into_inner()) {
            all.extend(c.iter().cloned());
        }
        all
    }

    fn describe_roots(roots: &[PathBuf]) -> String {
        roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Refuses `real` (a resolved path) unless it is under a root and outside OPENV_HOME.
    /// `shown` is the path as the message names it.
    fn check_inside(
        &self,
        real: &Path,
        shown: &Path,
        purpose: Purpose<'_>,
    ) -> Result<(), ToolError> {
        if real.starts_with(&self.home) {
            return Err(refused(format!(
                "{} is inside openv's own directory (OPENV_HOME {}), which holds the vault: no MCP tool touches it and nothing belongs there; use a path in the project",
                shown.display(),
                self.home.display(),
            )));
        }
        let roots = self.roots();
        if roots.is_empty() {
            return Err(refused(format!(
                "{} is refused: openv mcp runs in {}, which is no project directory (/ or the home directory) and the client sent no project roots; the user starts openv mcp in the project (the client's working directory); {}",
                shown.display(),
                self.cwd.display(),
                purpose.human_fix(shown)
            )));
        }
        if !roots.iter().any(|r| real.starts_with(r)) {
            let via = if real == shown {
                String::new()
            } else {
                format!(" (it resolves to {})", real.display())
            };
            return Err(refused(format!(
                "{}{via} is outside the project ({}): MCP tools only touch files under it; {}",
                shown.display(),
                Self::describe_roots(&roots),
                purpose.human_fix(shown)
            )));
        }
        Ok(())
    }

    /// The `.env` file a mount, an unmount or an import is about: `p` itself, or `.env`
    /// in it when it is a directory. Returned with its directory resolved (the agent keys
    /// mounts by real path); refused unless it lies in the project, and for mounts and
    /// imports unless its name is `.env`-like.
    pub fn env_file(&self, p: &str, purpose: Purpose<'_>) -> Result<PathBuf, ToolError> {
        let given = absolute(&self.base(), p)?;
        // Refusals name the path as the model gave it, and where it leads.
        let mut shown = lexical(&given);
        let path = if given.is_dir() {
            let dir = given
                .canonicalize()
                .map_err(|e| ToolError::invalid(format!("{}: {e}", given.display())))?;
            shown.push(".env");
            dir.join(".env")
        } else {
            let (Some(dir), Some(name)) = (given.parent(), given.file_name()) else {
                return Err(ToolError::invalid(format!(
                    "{} is not a file path",
                    given.display()
                )));
            };
            real(dir).join(name)
        };
        self.check_inside(&path, &shown, purpose)?;
        // A final symlink is followed where it leads (`.env -> ~/.ssh/id_ed25519`).
        if let Ok(target) = std::fs::read_link(&path) {
            let dir = path.parent().unwrap_or(&path);
            let resolved = path
                .canonicalize()
                .unwrap_or_else(|_| lexical(&dir.join(target)));
            if let Err(e) = self.check_inside(&resolved, &path, purpose) {
                return Err(refused(format!(
                    "{} is a symlink that leaves the project: {e}",
                    path.display()
                )));
            }
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if purpose.needs_env_name() && !is_env_name(&name) {
            return Err(ToolError::Refused {
                kind: "invalid_input",
                message: format!(
                    "{} is not a .env file: this tool takes only .env or .env.NAME files (.env.local, .env.production...), never another project file; {}",
                    path.display(),
                    purpose.human_fix(&path)
                ),
            });
        }
        let dir = path.parent().unwrap_or(&path);
        if !dir.is_dir() {
            return Err(ToolError::invalid(format!(
                "directory {} does not exist: create it first",
                dir.display()
            )));
        }
        Ok(path)
    }

    /// The directory `check_environment` scans (default: where `openv mcp` runs),
    /// resolved; refused unless it lies in the project.
    pub fn scan_dir(&self, p: Option<&str>) -> Result<PathBuf, ToolError> {
        let given = match p {
            Some(p) => absolute(&self.base(), p)?,
            None => self.base(),
        };
        let resolved = real(&given);
        self.check_inside(&resolved, &given, Purpose::Scan)?;
        if !resolved.is_dir() {
            return Err(ToolError::invalid(format!(
                "{} is not a directory: give the project directory",
                given.display()
            )));
        }
        Ok(resolved)
    }
}

fn refused(message: String) -> ToolError {
    ToolError::Refused {
        kind: "outside_project",
        message,
    }
}

/// A path from the model, relative to the directory `openv mcp` runs in (the client
/// starts it in the project).
pub fn absolute(cwd: &Path, p: &str) -> Result<PathBuf, ToolError> {
    if p.is_empty() {
        return Err(ToolError::invalid("empty path"));
    }
    if p.contains('\0') {
        return Err(ToolError::invalid("path contains a NUL byte"));
    }
    let p = Path::new(p);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    })
}

/// Where `path` leads: its longest existing ancestor canonicalized, the rest applied
/// lexically (a missing directory followed by `..` cancels out, as the kernel would
/// refuse to walk through it anyway).
fn real(path: &Path) -> PathBuf {
    for ancestor in path.ancestors() {
        if let Ok(c) = ancestor.canonicalize() {
            let rest = path.strip_prefix(ancestor).unwrap_or(Path::new(""));
            return lexical(&c.join(rest));
        }
    }
    lexical(path)
}

/// `.` and `..` resolved by text alone.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The path of a `file://` URI (`file:///p` or `file://localhost/p`), percent-decoded.
fn file_uri_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for ok in [".env", ".env.local", ".env.production"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in [
            "main.py",
            "settings.sh",
            ".envrc",
            "app.env",
            ".env.",
            "env",
        ] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn file_uris() {
        assert_eq!(
            file_uri_path("file:///home/me/my%20app"),
            Some(PathBuf::from("/home/me/my app"))
        );
        assert_eq!(
            file_uri_path("file://localhost/srv"),
            Some(PathBuf::from("/srv"))
        );
        assert_eq!(file_uri_path("https://example.com/x"), None);
        assert_eq!(file_uri_path("file://host/x"), None);
        assert_eq!(file_uri_path("file:///a%00b"), None);
        assert_eq!(file_uri_path("file:///a%zz"), None);
    }

    #[test]
    fn missing_directories_resolve_by_text() {
        let t = tempfile::tempdir().expect("tempdir");
        let base = t.path().canonicalize().expect("canon");
        assert_eq!(
            real(&t.path().join("missing/../../x")),
            lexical(&base.join("../x"))
        );
        assert_eq!(real(&t.path().join("a/b")), base.join("a/b"));
    }

    #[test]
    fn paths_outside_the_project_or_in_openv_home_are_refused() {
        let t = tempfile::tempdir().expect("tempdir");
        let proj = t.path().join("proj");
        std::fs::create_dir_all(proj.join("home")).expect("dirs");
        let p = Project::new(proj.clone(), &proj.join("home"));
        let real_proj = proj.canonicalize().expect("canon");
        let mount = Purpose::Mount { env: "dev" };
        assert_eq!(p.env_file(".", mount).expect("dir"), real_proj.join(".env"));
        assert_eq!(
            p.env_file(".env.local", mount).expect("file"),
            real_proj.join(".env.local")
        );
        let kind = |r: Result<PathBuf, ToolError>| r.expect_err("refused").kind();
        assert_eq!(kind(p.env_file("main.py", mount)), "invalid_input");
        assert_eq!(kind(p.env_file("home/.env", mount)), "outside_project");
        assert_eq!(kind(p.env_file("../.env", mount)), "outside_project");
        assert_eq!(kind(p.env_file("/etc/.env", mount)), "outside_project");
        assert_eq!(kind(p.env_file("missing/x/.env", mount)), "invalid_input");
        std::os::unix::fs::symlink("/etc/hostname", proj.join(".env.link")).expect("link");
        assert_eq!(kind(p.env_file(".env.link", mount)), "outside_project");
        assert_eq!(kind(p.scan_dir(Some("/etc"))), "outside_project");
        assert_eq!(p.scan_dir(None).expect("cwd"), real_proj);
    }
}
