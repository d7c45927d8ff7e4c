//! POSIX shells sourcing the file (`set -a; . ./.env` in sh, bash, dash, zsh): single
//! quotes hold everything but `'`, which is written `'\''`.

use super::forms::{Form, Rules, Why, all_bare};

pub(super) const RULES: Rules = Rules { form, escape };

fn form(value: &str) -> Result<Form, Why> {
    // `=` stays quoted: zsh expands `=word` at the start of a word.
    Ok(if all_bare(value) && !value.contains('=') {
        Form::Bare
    } else {
        Form::Single
    })
}

fn escape(form: Form, c: char) -> Option<&'static str> {
    (form == Form::Single && c == '\'').then_some("'\\''")
}
