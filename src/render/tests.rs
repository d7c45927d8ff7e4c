use super::*;

fn one(dialect: Dialect, value: &str) -> Result<String, Refusal> {
    let v = SecretValue::new(value.to_owned());
    let bytes = render_for(dialect, [("K", &v)])?;
    assert_eq!(
        rendered_len_for(dialect, [("K", &v)]).expect("same refusal"),
        bytes.len()
    );
    Ok(String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

#[test]
fn names_round_trip() {
    for d in Dialect::ALL {
        assert_eq!(Dialect::parse(d.as_str()), Some(d));
    }
    assert_eq!(Dialect::parse("vim"), None);
}

#[test]
fn common_is_todays_rendering() {
    for value in ["abc", "a b", "it's", "$HOME", "x\ny", ""] {
        let v = SecretValue::new(value.to_owned());
        let old = render([("K", &v)]).expect("renders");
        assert_eq!(
            one(Dialect::Common, value).expect("renders").as_bytes(),
            &old[..]
        );
    }
}

#[test]
fn each_dialect_writes_its_own_form() {
    use Dialect::*;
    let cases: &[(Dialect, &str, &str)] = &[
        (PythonDotenv, "a\\'b", "K='a\\\\\\'b'\n"),
        (PythonDotenv, "a\rb", "K=\"a\\rb\"\n"),
        (Node, "it's", "K=`it's`\n"),
        (DotenvExpand, "$HOME and $PATH", "K='\\$HOME and \\$PATH'\n"),
        (Bun, "$HOME", "K='\\$HOME'\n"),
        (Deno, "'`$X\n", "K=\"'`\\$X\\n\"\n"),
        (Dotenvx, "it's $X", "K=`it's \\$X`\n"),
        (Direnv, "line1\nline2", "K=\"line1\\nline2\"\n"),
        (Phpdotenv, "a\nb$c", "K=\"a\\nb\\$c\"\n"),
        (RubyDotenv, "it's", "K='it's'\n"),
        (Posix, "it's", "K='it'\\''s'\n"),
        (Posix, "a=b", "K='a=b'\n"),
        (Dotenvy, "ends\\", "K=\"ends\\\\\"\n"),
    ];
    for &(d, value, want) in cases {
        assert_eq!(one(d, value).as_deref(), Ok(want), "{d} {value:?}");
    }
}

#[test]
fn refusals_name_the_variable_and_the_readers_never_the_value() {
    let v = SecretValue::new("Q7${W9}".into());
    let err = render_for(Dialect::PythonDotenv, [("API_KEY", &v)])
        .expect_err("refused")
        .to_string();
    assert!(
        err.starts_with("API_KEY cannot be served to python-dotenv"),
        "{err}"
    );
    assert!(!err.contains("Q7") && !err.contains("W9"), "{err}");
    let v = SecretValue::new("x".into());
    assert!(render_for(Dialect::Posix, [("A-B", &v)]).is_err());
}

#[test]
fn only_nul_is_refused_everywhere() {
    assert!(check_storable("a\0b").is_err());
    for value in ["${X}", "'\"`", "a\r\nb", "\\\\x\\", "$HOME"] {
        assert!(check_storable(value).is_ok(), "{value:?}");
        assert!(Dialect::Posix.can_hold(value), "{value:?}");
    }
    assert_eq!(unreadable_by("plain"), vec![]);
    let js = unreadable_by("$HOME'\"`");
    assert!(
        js.contains(&Dialect::Node) && !js.contains(&Dialect::Posix),
        "{js:?}"
    );
}

#[test]
fn max_len_covers_every_dialect() {
    let a = SecretValue::new("it's $HOME\nx".into());
    let vars = [("A", &a)];
    let max = max_rendered_len(vars);
    for d in Dialect::ALL {
        if let Ok(n) = rendered_len_for(d, vars) {
            assert!(n <= max, "{d}");
        }
    }
}
