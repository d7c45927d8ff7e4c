//! `config.toml` under OPENV_HOME. Every key is optional.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The vault key is wiped after this long without a request.
    pub idle_lock: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            idle_lock: Duration::from_secs(8 * 3600),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    idle_lock: Option<String>,
}

impl Config {
    /// A missing file means defaults; a bad one is an error naming the line and key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let mut cfg = Self::default();
        if let Some(s) = raw.idle_lock {
            cfg.idle_lock = humantime::parse_duration(&s)
                .map_err(|e| format!("idle_lock = {s:?}: {e} (use e.g. \"8h\" or \"30m\")"))?;
        }
        Ok(cfg)
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parse() {
        assert_eq!(
            Config::parse("").expect("empty").idle_lock.as_secs(),
            8 * 3600
        );
        assert_eq!(
            Config::parse("idle_lock = \"2s\"").expect("2s").idle_lock,
            Duration::from_secs(2)
        );
        let e = Config::parse("idle_lock = \"soon\"").expect_err("bad duration");
        assert!(e.contains("idle_lock"), "{e}");
        let e = Config::parse("\nidle_lok = \"1h\"").expect_err("unknown key");
        assert!(e.contains("idle_lok") && e.contains("line 2"), "{e}");
    }
}
