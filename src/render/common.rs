//! The common dialect, for readers openv does not recognise: `.env` bytes that dotenvy,
//! python-dotenv, node's dotenv and bash's `set -a; . ./.env` all read back exactly, or
//! a refusal that says which reader cannot.
//!
//! Each value gets the most readable form every reader agrees on:
//! * bare `NAME=value` for a conservative ASCII charset (no quoting, `~`, `$`, `#`, spaces);
//! * `NAME='value'` otherwise: no reader processes escapes or `$VAR` there, with the
//!   python-dotenv exceptions checked below;
//! * `NAME="value"` when the value holds a `'`: only if it has nothing any reader would
//!   escape or expand inside double quotes, because their escape rules disagree.
//!
//! The readers' parsers were read and run (dotenvy 0.15.7, python-dotenv 1.2.2 and 1.2.4,
//! node dotenv 18, bash 5); `tests/render_readers.rs` runs them on every form.

use zeroize::Zeroizing;

use super::forms::{Form, Rules, Why, is_bare, no_escapes};
use crate::secret::SecretValue;

pub(super) const RULES: Rules = Rules {
    form,
    escape: no_escapes,
};

fn form(value: &str) -> Result<Form, Why> {
    match quote_for(value) {
        Ok("") => Ok(Form::Bare),
        Ok("'") => Ok(Form::Single),
        Ok(_) => Ok(Form::Double),
        Err(e) => Err(e.reason()),
    }
}

/// A value (or name) that at least one supported reader cannot read back exactly.
/// The message names the reader and the reason; it never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Unrepresentable {
    /// The variable's name, when known (names are not secret).
    name: Option<String>,
    problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    BadName,
    Nul,
    CarriageReturn,
    PythonInterpolation,
    DoubleBackslash,
    TrailingBackslash,
    QuoteAndDoubleQuote,
    QuoteAndBackslash,
    QuoteAndDollar,
    QuoteAndBacktick,
}

impl Unrepresentable {
    fn new(problem: Problem) -> Self {
        Self {
            name: None,
            problem,
        }
    }

    /// A NUL character: the one thing no dialect can hold.
    pub(super) fn nul() -> Self {
        Self::new(Problem::Nul)
    }

    fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// What is wrong, which reader fails and why, what to do. Static text only, so no
    /// part of a value can ever reach the message.
    fn reason(&self) -> &'static str {
        use Problem::*;
        match self.problem {
            BadName => {
                "is not a shell variable name: bash cannot assign it; \
                use letters, digits and _, not starting with a digit"
            }
            Nul => {
                "contains a NUL character: bash and process environments cannot hold it; \
                remove it"
            }
            CarriageReturn => {
                "contains a carriage return (CR): python-dotenv and node's dotenv \
                turn it into a line feed and dotenvy has no escape for it; use LF line endings"
            }
            PythonInterpolation => {
                "contains ${...}: python-dotenv substitutes it even inside \
                single quotes and has no escape for it; break up the ${ ... } or encode the value"
            }
            DoubleBackslash => {
                "contains two backslashes in a row: python-dotenv reads \\\\ as \
                one backslash even inside single quotes; encode the value (e.g. base64)"
            }
            TrailingBackslash => {
                "ends with a backslash: python-dotenv and dotenvy read the \
                closing \\' as an escaped quote; remove the trailing backslash"
            }
            QuoteAndDoubleQuote => {
                "contains both ' and \": node's dotenv has no escape for ' \
                in single quotes or \" in double quotes; remove one of them"
            }
            QuoteAndBackslash => {
                "contains both ' and a backslash: dotenvy needs \\\\ inside \
                double quotes and node's dotenv keeps both backslashes; remove one of them"
            }
            QuoteAndDollar => {
                "contains both ' and $: dotenvy expands $ inside double quotes, \
                node's dotenv and python-dotenv keep the \\ of \\$; remove one of them"
            }
            QuoteAndBacktick => {
                "contains both ' and `: bash runs `...` inside double quotes, \
                the other readers have no escape for it; remove one of them"
            }
        }
    }

    fn message(&self) -> String {
        match (&self.name, self.problem) {
            (Some(name), Problem::BadName) => format!("name {name:?} {}", self.reason()),
            (Some(name), _) => format!("value of {name} {}", self.reason()),
            (None, _) => format!("value {}", self.reason()),
        }
    }
}

/// The quote to wrap `value` in (`""` for bare), or why no form works for all readers.
fn quote_for(value: &str) -> Result<&'static str, Unrepresentable> {
    use Problem::*;
    let refuse = |p| Err(Unrepresentable::new(p));
    if value.contains('\0') {
        return refuse(Nul);
    }
    // Both python (universal newlines) and node rewrite CR and CRLF before parsing.
    if value.contains('\r') {
        return refuse(CarriageReturn);
    }
    if super::forms::has_braced_interpolation(value) {
        return refuse(PythonInterpolation);
    }
    if value.chars().all(is_bare) {
        return Ok("");
    }
    if !value.contains('\'') {
        // python-dotenv decodes `\\` and `\'` inside single quotes; python, dotenvy's
        // line joiner and node take a final `\` plus the closing quote as `\'`.
        if value.contains("\\\\") {
            return refuse(DoubleBackslash);
        }
        if value.ends_with('\\') {
            return refuse(TrailingBackslash);
        }
        return Ok("'");
    }
    // Double quotes: dotenvy requires `\\`, `\"`, `\$` escapes there, node decodes only
    // `\n` and `\r`, bash expands `$` and backticks; so none of these may appear.
    for (c, problem) in [
        ('"', QuoteAndDoubleQuote),
        ('\\', QuoteAndBackslash),
        ('$', QuoteAndDollar),
        ('`', QuoteAndBacktick),
    ] {
        if value.contains(c) {
            return refuse(problem);
        }
    }
    Ok("\"")
}

/// A name every reader accepts: bash's identifier rule is the strictest.
fn check_name(name: &str) -> Result<(), Unrepresentable> {
    if crate::names::is_shell_identifier(name) {
        Ok(())
    } else {
        Err(Unrepresentable::new(Problem::BadName).named(name))
    }
}

/// Refuses a value that some supported reader would not read back exactly.
pub fn check_value(value: &str) -> Result<(), Unrepresentable> {
    quote_for(value).map(|_| ())
}

/// Checks one variable; returns its value and the quote to wrap it in.
fn line<'a>(
    name: &str,
    value: &'a SecretValue,
) -> Result<(&'a str, &'static str), Unrepresentable> {
    check_name(name)?;
    let value = value.expose();
    let quote = quote_for(value).map_err(|e| e.named(name))?;
    Ok((value, quote))
}

fn line_len(name: &str, value: &str, quote: &str) -> usize {
    name.len() + value.len() + 2 * quote.len() + 2 // `=` and the newline
}

/// The exact length `render` produces for the same variables, without building it.
pub fn rendered_len<'a, I>(vars: I) -> Result<usize, Unrepresentable>
where
    I: IntoIterator<Item = (&'a str, &'a SecretValue)>,
{
    vars.into_iter()
        .map(|(name, v)| line(name, v).map(|(value, quote)| line_len(name, value, quote)))
        .sum()
}

/// One `NAME=value` line per variable, in the given order.
pub fn render<'a, I>(vars: I) -> Result<Zeroizing<Vec<u8>>, Unrepresentable>
where
    I: IntoIterator<Item = (&'a str, &'a SecretValue)>,
{
    let lines = vars
        .into_iter()
        .map(|(name, v)| Ok((name, line(name, v)?)))
        .collect::<Result<Vec<_>, Unrepresentable>>()?;
    let len = lines.iter().map(|&(n, (v, q))| line_len(n, v, q)).sum();
    // Exact capacity: a growing Vec would leave un-zeroized copies of plaintext behind.
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    for (name, (value, quote)) in lines {
        for part in [name, "=", quote, value, quote, "\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> String {
        let v = SecretValue::new(value.to_owned());
        let bytes = render([("K", &v)]).expect("renders");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn picks_the_most_readable_form() {
        assert_eq!(one("abc-1.2/x:y@z%+,="), "K=abc-1.2/x:y@z%+,=\n");
        assert_eq!(one(""), "K=\n");
        assert_eq!(one("a b"), "K='a b'\n");
        assert_eq!(one("~/x"), "K='~/x'\n");
        assert_eq!(
            one("$HOME \"q\" #c\nl2 \\n"),
            "K='$HOME \"q\" #c\nl2 \\n'\n"
        );
        assert_eq!(one("it's"), "K=\"it's\"\n");
        assert_eq!(one("ünï 🎉"), "K='ünï 🎉'\n");
        assert_eq!(one("${a:b} ${x"), "K='${a:b} ${x'\n");
    }

    #[test]
    fn refusals_name_the_reader_and_never_the_value() {
        let cases = [
            ("Q7\0W9", "bash"),
            ("Q7\r\nW9", "python-dotenv"),
            ("Q7${W9}", "python-dotenv"),
            ("Q7${W:-9}", "python-dotenv"),
            ("Q7\\\\W9", "python-dotenv"),
            ("Q7W9\\", "dotenvy"),
            ("Q7'W9\"", "node"),
            ("Q7'W9\\", "node"),
            ("Q7'W9$", "dotenvy"),
            ("Q7'W9`", "bash"),
        ];
        for (value, reader) in cases {
            let err = check_value(value).expect_err("refused").to_string();
            assert!(err.contains(reader), "{err}");
            assert!(!err.contains("Q7") && !err.contains("W9"), "{err}");
        }
    }

    #[test]
    fn render_names_the_variable_and_checks_names() {
        let v = SecretValue::new("a'b\"".into());
        let err = render([("API_KEY", &v)]).expect_err("refused").to_string();
        assert!(
            err.starts_with("value of API_KEY contains both ' and \""),
            "{err}"
        );
        let ok = SecretValue::new("x".into());
        for bad in ["", "1A", "A-B", "A.B", "É"] {
            assert!(render([(bad, &ok)]).is_err(), "{bad}");
        }
        assert!(render([("_a1", &ok)]).is_ok());
    }
}
