//! python-dotenv 1.2 (`dotenv_values`, `load_dotenv`, pydantic-settings) and
//! docker-compose 1.29, which reads env files with python-dotenv.
//!
//! Single quotes decode `\\` and `\'`, double quotes also `\r` and `\n`, and `${NAME}`
//! is substituted however a value is quoted, with no escape for it.

use super::forms::{Form, Rules, Why, all_bare, fits_unquoted, has_braced_interpolation};

pub(super) const RULES: Rules = Rules { form, escape };

fn form(value: &str) -> Result<Form, Why> {
    if has_braced_interpolation(value) {
        return Err("contains ${...}, which python-dotenv substitutes however it is quoted");
    }
    if all_bare(value) {
        return Ok(Form::Bare);
    }
    // The quote regexes take a final `\\` plus the closing quote as an escaped quote.
    if value.ends_with('\\') {
        return if fits_unquoted(value) {
            Ok(Form::Bare)
        } else {
            Err(
                "ends with a backslash and needs quotes, where python-dotenv reads the closing quote as escaped",
            )
        };
    }
    // Universal newlines turn a raw CR into LF: only `\r` in double quotes keeps it.
    Ok(if value.contains('\r') {
        Form::Double
    } else {
        Form::Single
    })
}

fn escape(form: Form, c: char) -> Option<&'static str> {
    match (form, c) {
        (Form::Single | Form::Double, '\\') => Some("\\\\"),
        (Form::Single, '\'') => Some("\\'"),
        (Form::Double, '"') => Some("\\\""),
        (Form::Double, '\r') => Some("\\r"),
        (Form::Double, '\n') => Some("\\n"),
        _ => None,
    }
}
