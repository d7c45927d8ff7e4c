//! Property tests for `openv::render`: whatever `check_value` accepts, dotenvy reads
//! back exactly, and `rendered_len` is the exact length of `render`'s output.
//! `tests/render_readers.rs` does the same with the real python, node and bash readers.

use openv::render::{check_value, render, rendered_len};
use openv::secret::SecretValue;
use proptest::prelude::*;

/// Characters that some reader treats specially, weighted well above their share of
/// `any::<char>()` so that most cases exercise quoting.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        12 => prop::sample::select(vec![
            '\'', '"', '\\', '$', '#', '=', ' ', '\t', '\n', '~', '`', '{', '}', ':', '-', '!',
            ';', '&', '|', '*', '?', '(', ')', '<', '>', '\u{a0}', '\u{85}', '\u{2028}',
            '\u{feff}', 'é', '日', '🎉',
        ]),
        6 => prop::char::range('a', 'z'),
        2 => any::<char>(),
        // Always refused: rarer, so that most cases reach the quoting rules.
        1 => prop::sample::select(vec!['\0', '\r']),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(nasty_char(), 0..24).prop_map(String::from_iter),
        1 => any::<String>(),
    ]
}

fn named(values: Vec<String>) -> Vec<(String, SecretValue)> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("OPENV_T{i}"), SecretValue::new(v)))
        .collect()
}

fn pairs(vars: &[(String, SecretValue)]) -> impl Iterator<Item = (&str, &SecretValue)> {
    vars.iter().map(|(n, v)| (n.as_str(), v))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn accepted_values_read_back_exactly_in_dotenvy(values in prop::collection::vec(value(), 1..6)) {
        let accepted: Vec<String> = values.into_iter().filter(|v| check_value(v).is_ok()).collect();
        let vars = named(accepted);
        let bytes = render(pairs(&vars)).expect("accepted values render");
        let parsed: Vec<(String, String)> = dotenvy::from_read_iter(bytes.as_slice())
            .collect::<Result<_, _>>()
            .expect("dotenvy parses rendered output");
        let expected: Vec<(String, String)> =
            vars.iter().map(|(n, v)| (n.clone(), v.expose().to_owned())).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn render_succeeds_exactly_when_check_value_accepts(v in value()) {
        let sv = SecretValue::new(v.clone());
        prop_assert_eq!(render([("K", &sv)]).is_ok(), check_value(&v).is_ok());
    }

    #[test]
    fn rendered_len_is_exact(values in prop::collection::vec(value(), 0..6)) {
        let vars = named(values);
        match (rendered_len(pairs(&vars)), render(pairs(&vars))) {
            (Ok(len), Ok(bytes)) => prop_assert_eq!(len, bytes.len()),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (len, bytes) => prop_assert!(false, "disagree: {:?} vs {:?}", len, bytes.map(|b| b.len())),
        }
    }
}
