//! The JavaScript loaders. Node's `dotenv` 18, `node --env-file` and
//! `process.loadEnvFile` share one grammar: `'`, `` ` `` and `"` quotes, no escapes
//! except `\n` (and, in dotenv alone, `\r`) inside double quotes. dotenv-expand
//! (Vite 8 `loadEnv`, Next.js 16 `@next/env`) and bun 1.4 then expand `$NAME` in every
//! form, single quotes included, and honour `\$`. deno 2.9 and dotenvx 2.38 expand
//! `$NAME` in double quotes (dotenvx in backticks too) and decode `\$` and `\n` there,
//! but not `\\` or `\"`.

use super::forms::{Form, Rules, Why, all_bare, has_backslash_n_or_r};

pub(super) const NODE: Rules = Rules {
    form: node_form,
    escape: node_escape,
};
pub(super) const EXPAND: Rules = Rules {
    form: node_form,
    escape: dollar_escape,
};
pub(super) const BUN: Rules = Rules {
    form: bun_form,
    escape: dollar_escape,
};
pub(super) const DENO: Rules = Rules {
    form: deno_form,
    escape: deno_escape,
};
pub(super) const DOTENVX: Rules = Rules {
    form: dotenvx_form,
    escape: dotenvx_escape,
};

const CR: Why =
    "contains a carriage return (CR), for which node's and Vite's loaders have no escape";

/// The first quote the value does not contain.
fn quoted(value: &str) -> Option<Form> {
    if !value.contains('\'') {
        Some(Form::Single)
    } else if !value.contains('`') {
        Some(Form::Backtick)
    } else {
        None
    }
}

fn node_form(value: &str) -> Result<Form, Why> {
    if value.contains('\r') {
        return Err(CR);
    }
    if all_bare(value) {
        return Ok(Form::Bare);
    }
    match quoted(value) {
        Some(form) => Ok(form),
        None if !value.contains('"') && !has_backslash_n_or_r(value) => Ok(Form::Double),
        None => Err("contains ', ` and \" (or \\n), and no quote of node's loaders can hold that"),
    }
}

fn node_escape(form: Form, c: char) -> Option<&'static str> {
    (form == Form::Double && c == '\n').then_some("\\n")
}

fn dollar_escape(form: Form, c: char) -> Option<&'static str> {
    match c {
        '$' => Some("\\$"),
        '\n' if form == Form::Double => Some("\\n"),
        _ => None,
    }
}

fn bun_form(value: &str) -> Result<Form, Why> {
    if value.contains('\r') {
        return Err("contains a carriage return (CR), for which bun has no escape");
    }
    if all_bare(value) {
        return Ok(Form::Bare);
    }
    if value.ends_with('\\') {
        return Err("ends with a backslash, and bun reads the closing quote as escaped");
    }
    if value.contains("\\$") {
        return Err("contains \\$, which bun reads as an escaped $");
    }
    match quoted(value) {
        Some(form) => Ok(form),
        None if !value.contains(['"', '\\']) => Ok(Form::Double),
        None => Err("contains ', ` and \" (or a backslash), and no quote of bun's can hold that"),
    }
}

fn deno_form(value: &str) -> Result<Form, Why> {
    if value.contains('\r') {
        return Err("contains a carriage return (CR), for which deno and dotenvx have no escape");
    }
    if all_bare(value) {
        return Ok(Form::Bare);
    }
    match quoted(value) {
        Some(form) => Ok(form),
        None if !value.contains(['"', '\\']) => Ok(Form::Double),
        None => Err(
            "contains ', ` and \" (or a backslash), and no quote of deno's and dotenvx's can hold that",
        ),
    }
}

fn deno_escape(form: Form, c: char) -> Option<&'static str> {
    match (form, c) {
        (Form::Double, '$') => Some("\\$"),
        (Form::Double, '\n') => Some("\\n"),
        _ => None,
    }
}

fn dotenvx_form(value: &str) -> Result<Form, Why> {
    let form = deno_form(value)?;
    if form == Form::Backtick && value.contains("\\$") {
        return Err("holds ' and \\$, which dotenvx reads as an escaped $ in backticks");
    }
    Ok(form)
}

fn dotenvx_escape(form: Form, c: char) -> Option<&'static str> {
    match (form, c) {
        (Form::Backtick, '$') => Some("\\$"),
        _ => deno_escape(form, c),
    }
}
