//! Loaders with double-quote escapes for `\`, `"` and `$`: dotenvy 0.15 (Rust; also
//! `uv run --env-file`), godotenv 1.5 (Go), phpdotenv 5.4, Ruby dotenv 2.4, and direnv
//! 2.32's `dotenv`, which has no escape for `$` or `\`.

use super::forms::{Form, Rules, Why, all_bare, fits_unquoted, has_backslash_n_or_r};

pub(super) const DOTENVY: Rules = Rules {
    form: dotenvy_form,
    escape: full_escape,
};
pub(super) const GODOTENV: Rules = Rules {
    form: godotenv_form,
    escape: full_escape,
};
pub(super) const PHP: Rules = Rules {
    form: php_form,
    escape: full_escape,
};
pub(super) const RUBY: Rules = Rules {
    form: ruby_form,
    escape: full_escape,
};
pub(super) const DIRENV: Rules = Rules {
    form: direnv_form,
    escape: full_escape,
};

/// Inside double quotes: `\\`, `\"`, `\$`, `\n`, `\r`.
fn full_escape(form: Form, c: char) -> Option<&'static str> {
    if form != Form::Double {
        return None;
    }
    match c {
        '\\' => Some("\\\\"),
        '"' => Some("\\\""),
        '$' => Some("\\$"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        _ => None,
    }
}

fn one_line(value: &str) -> bool {
    !value.contains(['\n', '\r'])
}

fn dotenvy_form(value: &str) -> Result<Form, Why> {
    if value.contains('\r') {
        return Err("contains a carriage return (CR), for which dotenvy has no escape");
    }
    if all_bare(value) {
        Ok(Form::Bare)
    } else if !value.contains('\'') && !value.ends_with('\\') {
        Ok(Form::Single)
    } else {
        Ok(Form::Double)
    }
}

fn godotenv_form(value: &str) -> Result<Form, Why> {
    if all_bare(value) {
        return Ok(Form::Bare);
    }
    // A quote is closed by the first quote character not after a backslash, and quote
    // characters at either end of the value are trimmed off.
    if !value.contains(['\'', '\r']) && !value.ends_with('\\') {
        return Ok(Form::Single);
    }
    if !value.starts_with('"') && !value.ends_with(['"', '\\']) {
        return Ok(Form::Double);
    }
    if fits_unquoted(value) && !value.contains('$') {
        return Ok(Form::Bare);
    }
    Err("starts or ends with \" or a backslash and needs quotes, whose ends godotenv trims")
}

fn php_form(value: &str) -> Result<Form, Why> {
    if all_bare(value) {
        Ok(Form::Bare)
    } else if !value.contains('\'') && one_line(value) {
        Ok(Form::Single)
    } else {
        Ok(Form::Double)
    }
}

fn ruby_form(value: &str) -> Result<Form, Why> {
    if all_bare(value) {
        return Ok(Form::Bare);
    }
    // Single quotes hold anything on one line, `'` included; lines split at any CR/LF.
    if one_line(value) {
        return Ok(Form::Single);
    }
    if has_backslash_n_or_r(value) {
        return Err(
            "has a line break and a literal \\n or \\r, which Ruby dotenv decodes in double quotes whatever precedes it",
        );
    }
    if value.contains("$(") {
        return Err(
            "has a line break and $(, which Ruby dotenv runs as a command in double quotes",
        );
    }
    Ok(Form::Double)
}

fn direnv_form(value: &str) -> Result<Form, Why> {
    if all_bare(value) {
        Ok(Form::Bare)
    } else if !value.contains('\'') && one_line(value) {
        Ok(Form::Single)
    } else if !value.contains(['$', '\\']) {
        Ok(Form::Double)
    } else {
        Err(
            "needs double quotes (a line break or a ') and holds $ or a backslash, for which direnv's dotenv has no escape there",
        )
    }
}
