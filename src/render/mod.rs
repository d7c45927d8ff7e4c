//! Values -> `.env` bytes in the dialect of the reader that opens the file.
//!
//! One rendering cannot serve every reader: Vite, Next.js and bun expand `$NAME` even
//! inside single quotes, direnv, phpdotenv and Ruby dotenv reject or cut a multi-line
//! single-quoted value, and each has its own escapes. So every [`Dialect`] has its own
//! rules (one small file per family), each measured against the real reader
//! (`tests/readers_matrix.rs` runs them all). A value a dialect cannot hold is refused
//! for that dialect, naming the variable and the readers, never served changed.
//! [`Dialect::Common`] is the conservative form for readers openv does not recognise.

pub mod cache;
mod choose;
mod common;
mod dialect;
mod forms;
mod js;
mod native;
mod python;
pub mod report;
mod shell;

use zeroize::Zeroizing;

use crate::secret::SecretValue;
use forms::Form;

pub use choose::{choose_dialect, needs_cmdline, package_dialect};
pub use common::{Unrepresentable, check_value, render, rendered_len};
pub use dialect::Dialect;

/// A variable a dialect cannot render. Names the variable, the dialect and its readers;
/// the reason is static text, so no part of a value can reach the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} cannot be served to {} ({dialect} dialect): its value {reason}", dialect.readers())]
pub struct Refusal {
    pub name: String,
    pub dialect: Dialect,
    reason: &'static str,
}

impl Refusal {
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// The dialects that cannot read `value` back exactly.
pub fn unreadable_by(value: &str) -> Vec<Dialect> {
    Dialect::ALL
        .into_iter()
        .filter(|d| !d.can_hold(value))
        .collect()
}

/// Refuses only a value no dialect can hold (NUL): every other value reaches at least
/// the readers whose dialect can take it.
pub fn check_storable(value: &str) -> Result<(), Unrepresentable> {
    if Dialect::ALL.into_iter().any(|d| d.can_hold(value)) {
        Ok(())
    } else {
        Err(Unrepresentable::nul())
    }
}

/// One line's parts: name, value and form.
fn lines<'a, I>(dialect: Dialect, vars: I) -> Result<Vec<(&'a str, &'a str, Form)>, Refusal>
where
    I: IntoIterator<Item = (&'a str, &'a SecretValue)>,
{
    vars.into_iter()
        .map(|(name, value)| {
            let refuse = |reason| Refusal {
                name: name.to_owned(),
                dialect,
                reason,
            };
            if !crate::names::is_shell_identifier(name) {
                return Err(refuse(
                    "has a name that is not a shell identifier (letters, digits and _)",
                ));
            }
            let value = value.expose();
            let form = dialect.form(value).map_err(refuse)?;
            Ok((name, value, form))
        })
        .collect()
}

fn line_len(dialect: Dialect, name: &str, value: &str, form: Form) -> usize {
    name.len() + 2 + forms::written_len(value, form, dialect.rules()) // `=` and `\n`
}

/// The exact length [`render_for`] produces, without building it.
pub fn rendered_len_for<'a, I>(dialect: Dialect, vars: I) -> Result<usize, Refusal>
where
    I: IntoIterator<Item = (&'a str, &'a SecretValue)>,
{
    Ok(lines(dialect, vars)?
        .into_iter()
        .map(|(n, v, f)| line_len(dialect, n, v, f))
        .sum())
}

/// The longest rendering among the dialects that can render `vars`: a size no open
/// exceeds (`st_size` must not be shorter than what a read gets).
pub fn max_rendered_len<'a, I>(vars: I) -> usize
where
    I: IntoIterator<Item = (&'a str, &'a SecretValue)> + Clone,
{
    Dialect::ALL
        .into_iter()
        .filter_map(|d| rendered_len_for(d, vars.clone()).ok())
        .max()
        .unwrap_or(0)
}

/// One `NAME=value` line per variable, in the given order, in `dialect`.
pub fn render_for<'a, I>(dialect: Dialect, vars: I) -> Result<Zeroizing<Vec<u8>>, Refusal>
where
    I: IntoIterator<Item = (&'a str, &'a SecretValue)>,
{
    let lines = lines(dialect, vars)?;
    let len = lines
        .iter()
        .map(|&(n, v, f)| line_len(dialect, n, v, f))
        .sum();
    // Exact capacity: a growing Vec would leave un-zeroized copies of plaintext behind.
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    for (name, value, form) in lines {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        forms::write(&mut out, value, form, dialect.rules());
        out.push(b'\n');
    }
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

#[cfg(test)]
mod tests;
