//! Runs the real readers on one rendered `.env`: dotenvy (in process), python-dotenv
//! (`dotenv_values`), node's dotenv (`dotenv.parse`, from tests/js/node_modules) and
//! bash (`set -a; . ./.env`). Every accepted value in the corpus must come back
//! byte-exact from all of them; every refused one must be refused with a message that
//! names a reader and does not contain the value.
//!
//! Readers are installed by scripts/test.sh. Without one, the test skips it with a
//! notice, unless `CI` is set: then a missing reader is a failure.

mod common;

use common::readers::{self, Outcome};
use openv::render::{check_value, render};
use openv::secret::SecretValue;

/// Values every reader must read back exactly, with a label for failure messages.
const ACCEPTED: &[(&str, &str)] = &[
    ("plain", "abc123"),
    ("empty", ""),
    ("bare punctuation", "a-b_c.d,e/f:g@h%i+j=k"),
    ("inner space", "a b"),
    ("leading and trailing spaces", "  padded  "),
    ("only a space", " "),
    ("tabs", "\tx\t"),
    ("hash first", "#not-a-comment"),
    ("space hash", "a #b"),
    ("hash inside", "a#b"),
    ("equals", "==x=y="),
    ("dollar var", "$HOME"),
    ("dollar braces unclosed", "${HOME"),
    ("dollar braces colon", "${a:b}"),
    ("lone dollar", "price: 5$"),
    ("command substitution", "$(id) `id`"),
    ("tilde", "~"),
    ("tilde path", "~/x:~/y"),
    ("double quotes", "say \"hi\""),
    ("only a double quote", "\""),
    ("json", "{\"a\": [1, \"b\"]}"),
    ("apostrophe", "it's"),
    ("only an apostrophe", "'"),
    ("quoted in apostrophes", "'quoted'"),
    (
        "apostrophe and newline",
        "it's\n# not a comment\nB=injected",
    ),
    ("apostrophe with hash and tilde", "~'#!"),
    ("windows path", "C:\\Users\\me\\x"),
    ("literal backslash n", "a\\nb"),
    ("backslash space", "a\\ b"),
    ("backslash dollar", "\\$x"),
    ("backslash double quote", "a\\\"b"),
    ("backslash newline", "a\\\nb"),
    ("newline", "line1\nline2"),
    ("only newlines", "\n\n"),
    ("trailing newline", "x\n"),
    ("pem", "-----BEGIN KEY-----\nMIIB+/=\n-----END KEY-----\n"),
    ("injection attempt", "x\nEVIL=1\n"),
    ("spaces before newline", "a  \n  b"),
    ("unicode", "ünïcödé 日本語"),
    ("emoji", "🔑🎉👩‍💻"),
    ("nbsp edges", "\u{a0}x\u{a0}"),
    ("line separators", "a\u{2028}b\u{2029}c\u{85}d"),
    ("bom first", "\u{feff}x"),
    ("vertical tab form feed", "\u{b}x\u{c}"),
    ("right-to-left override", "\u{202e}abc"),
    ("bangs", "a!!b !$"),
    ("globs", "*?[a]{b,c}"),
    ("shell operators", "; rm -rf / && echo | cat > out"),
    ("export inside", "export X=1"),
    ("dash flags", "-n"),
    (
        "url",
        "postgres://u:p%40ss@host:5432/db?sslmode=require&x=1",
    ),
];

/// Values some reader cannot read back, and a reader the refusal must name. Each holds
/// the marker `s3cr3t`, which must never appear in the message.
const REFUSED: &[(&str, &str)] = &[
    ("s3cr3t\0", "bash"),
    ("s3cr3t\r\n", "python-dotenv"),
    ("s3cr3t\rx", "node"),
    ("${s3cr3t}", "python-dotenv"),
    ("a${X:-s3cr3t}", "python-dotenv"),
    ("${}s3cr3t", "python-dotenv"),
    ("\\\\server\\s3cr3t", "python-dotenv"),
    ("s3cr3t\\", "dotenvy"),
    ("s3cr3t'\"", "node"),
    ("s3cr3t'\\x", "node"),
    ("s3cr3t'$", "dotenvy"),
    ("s3cr3t'`", "bash"),
];

/// Generated values: long, and every printable ASCII character in one value.
fn generated() -> Vec<(&'static str, String)> {
    let printable: String = (' '..='~').collect();
    vec![
        ("64 KiB", "a b\n".repeat(16 * 1024)),
        ("printable ascii but '", printable.replace('\'', "")),
        (
            "printable ascii but \" $ \\ `",
            printable.replace(['"', '$', '\\', '`'], ""),
        ),
    ]
}

fn corpus() -> Vec<(String, String, SecretValue)> {
    let fixed = ACCEPTED.iter().map(|&(l, v)| (l, v.to_owned()));
    fixed
        .chain(generated())
        .enumerate()
        .map(|(i, (label, v))| {
            (
                format!("OPENV_{i:02}"),
                label.to_owned(),
                SecretValue::new(v),
            )
        })
        .collect()
}

#[test]
fn refused_values_name_a_reader_and_never_the_value() {
    for &(value, reader) in REFUSED {
        let err = check_value(value).expect_err("refused").to_string();
        assert!(err.contains(reader), "{reader} not named in: {err}");
        assert!(
            !err.contains(value) && !err.contains("s3cr3t"),
            "leaks: {err}"
        );
        let v = SecretValue::new(value.to_owned());
        let err = render([("API_KEY", &v)]).expect_err("refused").to_string();
        assert!(err.starts_with("value of API_KEY "), "{err}");
        assert!(!err.contains("s3cr3t"), "leaks: {err}");
    }
}

#[test]
fn every_reader_reads_every_accepted_value_back() {
    assert!(ACCEPTED.len() + REFUSED.len() >= 40);
    let vars = corpus();
    let bytes = render(vars.iter().map(|(n, _, v)| (n.as_str(), v))).expect("corpus renders");
    let dir = tempfile::tempdir().expect("tempdir");
    let env_file = dir.path().join(".env");
    std::fs::write(&env_file, bytes.as_slice()).expect("write .env");

    let mut problems = Vec::new();
    for (reader, read) in readers::ALL {
        match read(&env_file) {
            Outcome::Read(got) => {
                let wrong: Vec<&str> = vars
                    .iter()
                    .filter(|(name, _, v)| got.get(name).map(String::as_str) != Some(v.expose()))
                    .map(|(_, label, _)| label.as_str())
                    .collect();
                if !wrong.is_empty() {
                    problems.push(format!("{reader} read back wrongly: {wrong:?}"));
                }
            }
            Outcome::Broke(why) => problems.push(format!("{reader} failed: {why}")),
            // A failure under CI, a notice elsewhere.
            Outcome::Missing(why) => {
                common::require(false, &format!("{reader} ({why})"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
