//! The shapes a value can take on its line, shared by every dialect: bare, single-quoted,
//! backtick-quoted or double-quoted, with a per-dialect escape inside the quotes.

/// How one value is written after `NAME=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// As is, unquoted.
    Bare,
    Single,
    Backtick,
    Double,
}

impl Form {
    fn quote(self) -> &'static str {
        match self {
            Self::Bare => "",
            Self::Single => "'",
            Self::Backtick => "`",
            Self::Double => "\"",
        }
    }
}

/// Why a dialect cannot hold a value: static text, so no part of a value reaches it.
pub(super) type Why = &'static str;

/// One dialect's choice of form, and its escapes inside that form (`None`: the
/// character is written as is).
#[derive(Clone, Copy)]
pub(super) struct Rules {
    pub form: fn(&str) -> Result<Form, Why>,
    pub escape: fn(Form, char) -> Option<&'static str>,
}

pub(super) fn no_escapes(_: Form, _: char) -> Option<&'static str> {
    None
}

/// Characters no reader treats specially in a bare value. Excluded on purpose: quotes,
/// `\`, `$`, backtick (escapes, expansion), `#` (comments), whitespace (trimmed or
/// word-splitting), `~` (bash expands it after `=` and `:`), shell metacharacters, and
/// non-ASCII (some readers trim Unicode whitespace).
pub(super) fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.,/:@%+=".contains(c)
}

pub(super) fn all_bare(value: &str) -> bool {
    value.chars().all(is_bare)
}

/// A value every reader would keep whole when written unquoted, except for escapes and
/// expansion (checked by the caller): one line, no edge whitespace, no opening quote,
/// no ` #` comment.
pub(super) fn fits_unquoted(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(['\n', '\r'])
        && value.trim() == value
        && !value.starts_with(['\'', '"', '`'])
        && !value
            .char_indices()
            .any(|(i, c)| c == '#' && value[..i].ends_with(char::is_whitespace))
}

/// python-dotenv's `${NAME}` / `${NAME:-default}` pattern (`\$\{[^}:]*(:-[^}]*)?\}`),
/// which it expands in every value, however quoted.
pub(super) fn has_braced_interpolation(value: &str) -> bool {
    value.match_indices("${").any(|(i, _)| {
        let rest = &value[i + 2..];
        match rest.find(['}', ':']) {
            Some(j) if rest[j..].starts_with('}') => true,
            Some(j) => rest[j..].starts_with(":-") && rest[j + 2..].contains('}'),
            None => false,
        }
    })
}

/// A backslash followed by `n` or `r`: readers that decode those escapes in double
/// quotes without an escape for the backslash itself would turn it into a line break.
pub(super) fn has_backslash_n_or_r(value: &str) -> bool {
    value.contains("\\n") || value.contains("\\r")
}

/// The length of `value` written in `form` under `escape`, quotes included.
pub(super) fn written_len(value: &str, form: Form, rules: &Rules) -> usize {
    let body: usize = value
        .chars()
        .map(|c| (rules.escape)(form, c).map_or(c.len_utf8(), str::len))
        .sum();
    body + 2 * form.quote().len()
}

/// Appends `value` written in `form`; `out` has the capacity already (no reallocation
/// may leave a copy of plaintext behind).
pub(super) fn write(out: &mut Vec<u8>, value: &str, form: Form, rules: &Rules) {
    out.extend_from_slice(form.quote().as_bytes());
    let mut buf = [0u8; 4];
    for c in value.chars() {
        let part = match (rules.escape)(form, c) {
            Some(s) => s,
            None => c.encode_utf8(&mut buf),
        };
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(form.quote().as_bytes());
}
