use super::*;
use pretty_assertions::assert_eq;
use rstest::rstest;

fn values(text: &str) -> Vec<(String, String, usize)> {
    parse_env_provider(text)
        .entries
        .iter()
        .map(|e| (e.name().to_owned(), e.value().to_owned(), e.line()))
        .collect()
}

fn one(text: &str) -> Option<String> {
    let parsed = parse_env_provider(text);
    assert!(parsed.entries.len() <= 1, "{parsed:?}");
    parsed.entries.first().map(|e| e.value().to_owned())
}

#[rstest]
#[case::plain("KEY=value", Some("value"))]
#[case::spaces_around_equals("KEY = value  ", Some("value"))]
#[case::export_prefix("export KEY=value", Some("value"))]
#[case::export_prefix_with_tabs("export\t KEY=value", Some("value"))]
#[case::lowercase_name("key_1=value", Some("value"))]
#[case::inner_spaces_kept("KEY=a b  c", Some("a b  c"))]
#[case::unquoted_inline_comment("KEY=cn   # region", Some("cn"))]
#[case::hash_without_space_is_literal("KEY=a#b", Some("a#b"))]
#[case::comment_only_value_is_empty("KEY= # nothing", None)]
#[case::single_quoted("KEY='a b # c'", Some("a b # c"))]
#[case::single_quotes_are_literal(r"KEY='a\nb'", Some(r"a\nb"))]
#[case::double_quoted("KEY=\"a b\"", Some("a b"))]
#[case::double_quoted_escapes(r#"KEY="q\"b\\s\nn""#, Some("q\"b\\s\nn"))]
#[case::unknown_escape_is_literal(r#"KEY="a\d""#, Some(r"a\d"))]
#[case::comment_after_double_quotes("KEY=\"v\" # note", Some("v"))]
#[case::comment_after_single_quotes("KEY='v'# note", Some("v"))]
#[case::dollar_var_is_literal("KEY=$HOME/x", Some("$HOME/x"))]
#[case::command_substitution_is_literal("KEY=$(rm -rf /)", Some("$(rm -rf /)"))]
#[case::backticks_are_literal("KEY=\"`id`\"", Some("`id`"))]
#[case::empty_value_dropped("KEY=", None)]
#[case::empty_quotes_dropped("KEY=\"\"", None)]
#[case::equals_in_value("KEY=a=b==", Some("a=b=="))]
fn values_parse(#[case] text: &str, #[case] expected: Option<&str>) {
    assert_eq!(one(text), expected.map(str::to_owned));
}

#[rstest]
#[case::no_equals("JUSTAWORD", "line 1: not a KEY=value assignment; ignored")]
#[case::bad_name(
    "MY-KEY=x",
    "line 1: invalid variable name (must match [A-Za-z_][A-Za-z0-9_]*); ignored"
)]
#[case::digit_first(
    "1KEY=x",
    "line 1: invalid variable name (must match [A-Za-z_][A-Za-z0-9_]*); ignored"
)]
#[case::unterminated_double("KEY=\"abc", "line 1: unterminated quote; ignored")]
#[case::unterminated_single("KEY='abc", "line 1: unterminated quote; ignored")]
#[case::trailing_backslash("KEY=\"abc\\", "line 1: unterminated quote; ignored")]
#[case::text_after_quote(
    "KEY=\"a\" b",
    "line 1: unexpected text after the closing quote; ignored"
)]
fn malformed_lines_warn_and_are_skipped(#[case] text: &str, #[case] warning: &str) {
    let parsed = parse_env_provider(text);
    assert_eq!(parsed.entries, vec![]);
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings, vec![warning.to_owned()]);
}

#[test]
fn comments_blank_lines_and_line_numbers_are_tracked() {
    let text = "# provider keys\n\n   # indented comment\nexport OPENAI_API_KEY=sk-1\nnot an assignment\n\nMINIMAX_REGION='cn' # cn\nBAD=\"open\n";
    let parsed = parse_env_provider(text);
    assert_eq!(
        values(text),
        vec![
            ("OPENAI_API_KEY".to_owned(), "sk-1".to_owned(), 4),
            ("MINIMAX_REGION".to_owned(), "cn".to_owned(), 7),
        ]
    );
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "line 5: not a KEY=value assignment; ignored".to_owned(),
            "line 8: unterminated quote; ignored".to_owned(),
        ]
    );
}

#[test]
fn duplicate_keys_keep_the_last_value_and_warn() {
    let text = "A=1\nB=2\nA=3\n";
    assert_eq!(
        values(text),
        vec![
            ("B".to_owned(), "2".to_owned(), 2),
            ("A".to_owned(), "3".to_owned(), 3)
        ]
    );
    let parsed = parse_env_provider(text);
    assert_eq!(
        parsed.warnings,
        vec![EnvWarning {
            line: 3,
            reason: "duplicate key `A` (also on line 1); the later value wins".to_owned()
        }]
    );
}

#[test]
fn warnings_never_contain_values() {
    let secret = "sk-SECRETVALUE";
    let text = format!(
        "{secret}\nK=\"{secret}\nK2='{secret}' trailing {secret}\nK3={secret}\nK3={secret}\n"
    );
    let parsed = parse_env_provider(&text);
    for w in &parsed.warnings {
        assert!(!w.to_string().contains("SECRETVALUE"), "{w}");
    }
    assert!(!format!("{parsed:?}").contains("SECRETVALUE"));
}

#[test]
fn provider_file_never_overwrites_variables_already_set() {
    let file = EnvProviderFile::from_text(
        Path::new("/h/.env.provider"),
        "OPENAI_API_KEY=from-file\nMINIMAX_API_KEY=mm\nEMPTY_IN_PROCESS=filled\n",
    );
    let env = Env::from_pairs([("OPENAI_API_KEY", "from-process"), ("EMPTY_IN_PROCESS", "")]);
    let (env, applied) = env.with_provider_file(&file);
    assert_eq!(
        applied,
        vec!["EMPTY_IN_PROCESS".to_owned(), "MINIMAX_API_KEY".to_owned()]
    );
    assert_eq!(env.get("OPENAI_API_KEY"), Some("from-process"));
    assert_eq!(env.get("MINIMAX_API_KEY"), Some("mm"));
    assert_eq!(env.get("EMPTY_IN_PROCESS"), Some("filled"));
    assert_eq!(env.source_of("OPENAI_API_KEY"), Some(EnvSource::Process));
    assert_eq!(
        env.source_of("MINIMAX_API_KEY"),
        Some(EnvSource::ProviderFile)
    );
    assert_eq!(env.source_of("NOPE"), None);
}

#[test]
fn empty_values_count_as_unset() {
    let env = Env::from_pairs([("A", ""), ("B", "x")]);
    assert_eq!(env.get("A"), None);
    assert!(!env.is_set("A"));
    assert_eq!(env.names().collect::<Vec<_>>(), vec!["B"]);
}

#[test]
fn debug_output_shows_names_but_never_values() {
    let file = EnvProviderFile::from_text(
        Path::new("/h/.env.provider"),
        "OPENAI_API_KEY=sk-TOPSECRET\n",
    );
    let (env, _) = Env::from_pairs([("OTHER", "hunter2-SECRET")]).with_provider_file(&file);
    for rendered in [
        format!("{file:?}"),
        format!("{env:?}"),
        format!("{:?}", file.entries),
    ] {
        assert!(rendered.contains("OPENAI_API_KEY"), "{rendered}");
        assert!(!rendered.contains("TOPSECRET"), "{rendered}");
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }
    assert_eq!(file.key_names(), vec!["OPENAI_API_KEY"]);
}

#[test]
fn missing_file_loads_as_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        EnvProviderFile::load(&dir.path().join(".env.provider"))
            .unwrap()
            .is_none()
    );
}

#[cfg(unix)]
#[test]
fn world_readable_file_gets_a_chmod_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env.provider");
    std::fs::write(&path, "KEY=sk-SECRET\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = EnvProviderFile::load(&path).unwrap().unwrap();
    let shown = path.display();
    assert_eq!(
        file.mode_warning,
        Some(format!(
            "{shown} is readable by other users (mode 0644); run `chmod 600 {shown}`"
        ))
    );
    assert_eq!(file.entries[0].value(), "sk-SECRET");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = EnvProviderFile::load(&path).unwrap().unwrap();
    assert_eq!(file.mode_warning, None);
}

#[test]
fn non_utf8_file_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env.provider");
    std::fs::write(&path, b"KEY=\xff\xfe\n").unwrap();
    let err = EnvProviderFile::load(&path).unwrap_err();
    assert!(
        err.to_string().contains(".env.provider is not UTF-8"),
        "{err}"
    );
}
