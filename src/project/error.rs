//! What can be wrong with an `openv.toml`, located by line and key.

use std::io;
use std::ops::Range;
use std::path::Path;

use thiserror::Error;

use super::span::{self, Location, locate};

#[derive(Debug, Error)]
pub enum ProjectError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path}, line {line}, key `{key}`: {message}")]
    Invalid {
        path: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Whole { path: String, message: String },
    #[error("no environment given: pass -e ENV, set OPENV_ENV, or put env = \"NAME\" in {where_}")]
    NoEnv { where_: String },
    #[error("no openv.toml in {dir} or any directory above it: create one (see docs/cli.md)")]
    NotFound { dir: String },
}

impl ProjectError {
    /// A problem at `span` of `text`, the content of `file`.
    pub fn at(file: &Path, text: &str, span: Range<usize>, message: String) -> Self {
        let Location { line, key } = locate(text, Some(span));
        Self::Invalid {
            path: file.display().to_string(),
            line,
            key,
            message,
        }
    }

    /// A parse error from the toml crate, located.
    pub fn parse(file: &Path, text: &str, e: &toml::de::Error) -> Self {
        match e.span() {
            Some(s) => Self::at(file, text, s, span::message(e)),
            None => Self::Whole {
                path: file.display().to_string(),
                message: span::message(e),
            },
        }
    }
}
