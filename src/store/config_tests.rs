use super::*;
use pretty_assertions::assert_eq;
use rstest::rstest;

fn path() -> PathBuf {
    PathBuf::from("/home/u/.csep/config.toml")
}

fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
    parse_str(text, &path(), &Env::default(), &Overrides::default())
}

fn parse_with(
    text: &str,
    env: &[(&str, &str)],
    profile: Option<&str>,
) -> Result<LoadedConfig, ConfigError> {
    let overrides = Overrides {
        profile: profile.map(str::to_owned),
    };
    parse_str(
        text,
        &path(),
        &Env::from_pairs(env.iter().copied()),
        &overrides,
    )
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

fn label(loaded: &LoadedConfig, key: &str) -> String {
    loaded
        .sources()
        .get(key)
        .map(ToString::to_string)
        .unwrap_or_else(|| format!("<no source for {key}>"))
}

#[test]
fn missing_file_gives_defaults_with_offline_active() {
    let home = tempfile::tempdir().unwrap();
    let loaded = load(home.path(), &Env::default(), &Overrides::default()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(!loaded.exists);
    assert_eq!(loaded.warnings, Vec::<String>::new());
    assert_eq!(
        loaded.config.active_profile().map(|p| p.provider),
        Some(Provider::Offline)
    );
    assert!(loaded.sources().values().all(|s| *s == Source::Default));
    assert_eq!(label(&loaded, "profiles.offline.provider"), "default");
    assert_eq!(label(&loaded, "log.max_bytes"), "default");
}

#[test]
fn template_loads_to_exactly_the_defaults_without_warnings() {
    let loaded = parse(template()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert_eq!(loaded.warnings, Vec::<String>::new());
    // Every leaf is spelled out in the template, so every source points into the file.
    let from_default: Vec<String> = loaded
        .sources()
        .into_iter()
        .filter(|(_, s)| !matches!(s, Source::File { .. }))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(from_default, Vec::<String>::new());
}

#[test]
fn template_example_profiles_load_when_uncommented() {
    let uncommented: String = template()
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with("[profiles.")
                    || ["provider =", "model =", "api_key_env =", "region ="]
                        .iter()
                        .any(|k| rest.starts_with(k)) =>
            {
                rest.to_owned()
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let loaded = parse(&uncommented).unwrap();
    let names: Vec<&str> = loaded.config.profiles.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "anthropic",
            "claude",
            "codex",
            "minimax",
            "offline",
            "openai"
        ]
    );
    assert_eq!(loaded.config.profiles["minimax"].region, Region::Global);
    assert_eq!(
        loaded.config.profiles["claude"].provider,
        Provider::ClaudeCli
    );
}

#[test]
fn file_values_are_read_and_sourced_by_line() {
    let text = "schema_version = 3\nactive_profile = \"fast\"\n\n[profiles.fast]\nprovider = \"openai-compatible\"\nmodel = \"m1\"\ntimeout_seconds = 5\n\n[log]\nlevel = \"debug\"\n";
    let loaded = parse(text).unwrap();
    let fast = loaded.config.active_profile().unwrap();
    assert_eq!(fast.provider, Provider::OpenaiCompatible);
    assert_eq!(fast.timeout_seconds, 5.0);
    assert_eq!(loaded.config.log.level, LogLevel::Debug);
    // The built-in profile survives a file that declares its own profiles.
    assert!(loaded.config.profiles.contains_key("offline"));
    assert_eq!(label(&loaded, "active_profile"), "config.toml:2");
    assert_eq!(label(&loaded, "profiles.fast.model"), "config.toml:6");
    assert_eq!(label(&loaded, "profiles.fast.max_tokens"), "default");
    assert_eq!(label(&loaded, "log.level"), "config.toml:10");
    assert_eq!(label(&loaded, "log.keep_files"), "default");
}

#[rstest]
#[case::typo_in_profile(
    "schema_version = 3\n\n[profiles.fast]\nprovider = \"offline\"\nmodle = \"x\"\n",
    "/home/u/.csep/config.toml:5: unknown key `profiles.fast.modle`; valid keys here: api_key_env, base_url, command, max_retries, max_tokens, model, provider, region, timeout_seconds; run `csep config validate`"
)]
#[case::top_level(
    "schema_version = 3\nbogus = 1\n",
    "/home/u/.csep/config.toml:2: unknown key `bogus`; valid keys here: active_profile, budget, hooks, log, memory, profiles, recall, review, scheduler, schema_version, skills; run `csep config validate`"
)]
#[case::section(
    "schema_version = 3\n[hooks]\nuser_prompt_recall = false\nsession_budget = 5\n",
    "/home/u/.csep/config.toml:4: unknown key `hooks.session_budget`; valid keys here: session_start_budget_tokens, user_prompt_budget_tokens, user_prompt_recall; run `csep config validate`"
)]
#[case::unknown_section(
    "schema_version = 3\n[compile.pi]\nmodel = \"x\"\n",
    "/home/u/.csep/config.toml:2: unknown key `compile`; valid keys here: active_profile, budget, hooks, log, memory, profiles, recall, review, scheduler, schema_version, skills; run `csep config validate`"
)]
#[case::secret_key(
    "schema_version = 3\n[profiles.x]\napi_key = \"sk-123\"\n",
    "/home/u/.csep/config.toml:3: unknown key `profiles.x.api_key`; valid keys here: api_key_env, base_url, command, max_retries, max_tokens, model, provider, region, timeout_seconds; it looks like a secret: put the key in .env.provider and name its variable with `api_key_env`; run `csep config validate`"
)]
fn unknown_keys_name_the_dotted_path_and_line(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(err(text), expected);
}

#[rstest]
#[case::string_for_integer(
    "schema_version = 3\n[profiles.fast]\nmax_tokens = \"many\"\n",
    "/home/u/.csep/config.toml:3: `profiles.fast.max_tokens` must be a non-negative integer, found a string; run `csep config validate`"
)]
#[case::integer_for_bool(
    "schema_version = 3\n\n[hooks]\nuser_prompt_recall = 1\n",
    "/home/u/.csep/config.toml:4: `hooks.user_prompt_recall` must be a boolean, found an integer; run `csep config validate`"
)]
#[case::scalar_for_section(
    "schema_version = 3\nlog = 5\n",
    "/home/u/.csep/config.toml:2: `log` must be a table, found an integer; run `csep config validate`"
)]
#[case::string_for_float(
    "schema_version = 3\n[profiles.a]\ntimeout_seconds = \"60\"\n",
    "/home/u/.csep/config.toml:3: `profiles.a.timeout_seconds` must be a number, found a string; run `csep config validate`"
)]
#[case::string_for_array(
    "schema_version = 3\n[profiles.a]\ncommand = \"my-reviewer --json\"\n",
    "/home/u/.csep/config.toml:3: `profiles.a.command` must be an array of strings, found a string; run `csep config validate`"
)]
#[case::schema_version_string(
    "schema_version = \"3\"\n",
    "/home/u/.csep/config.toml:1: `schema_version` must be an integer, found a string; run `csep config validate`"
)]
fn wrong_types_name_the_path_line_and_expected_type(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(err(text), expected);
}

#[rstest]
#[case::unknown_provider(
    "schema_version = 3\n[profiles.a]\nprovider = \"gpt\"\n",
    "config.toml:3: invalid value for `profiles.a.provider`: unknown variant `gpt`, expected one of"
)]
#[case::negative_integer(
    "schema_version = 3\n[recall]\ntop_k = -1\n",
    "config.toml:3: invalid value for `recall.top_k`: invalid value: integer `-1`, expected a non-negative integer"
)]
#[case::zero_timeout(
    "schema_version = 3\n[profiles.a]\ntimeout_seconds = 0\n",
    "config.toml:3: invalid value for `profiles.a.timeout_seconds`: must be a positive number of seconds, found 0"
)]
#[case::command_without_argv(
    "schema_version = 3\n[profiles.a]\nprovider = \"command\"\n",
    "config.toml:2: invalid value for `profiles.a.command`: provider = \"command\" needs a non-empty argv"
)]
#[case::schema_zero(
    "schema_version = 0\n",
    "config.toml:1: invalid value for `schema_version`: 0 is not a schema version"
)]
fn invalid_values_are_errors_with_lines(#[case] text: &str, #[case] expected: &str) {
    let message = err(text);
    assert!(message.contains(expected), "{message}");
}

#[test]
fn syntax_errors_report_line_and_column() {
    let e = parse("schema_version = 3\n\n[hooks\nuser_prompt_recall = true\n").unwrap_err();
    match &e {
        ConfigError::Syntax { line, column, .. } => assert_eq!((*line, *column), (3, 7)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("/home/u/.csep/config.toml:3:7: TOML syntax error: "),
        "{e}"
    );

    let e = parse("schema_version = 3\nactive_profile = \"unterminated\n").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { line: 2, .. }), "{e:?}");
}

#[test]
fn newer_schema_asks_for_an_upgrade() {
    assert_eq!(
        err("schema_version = 4\n[something_new]\nx = 1\n"),
        "/home/u/.csep/config.toml schema_version 4 is newer than this csep understands (3); upgrade csep"
    );
}

#[test]
fn missing_schema_version_means_current_with_a_warning() {
    let loaded = parse("[recall]\ntop_k = 9\n").unwrap();
    assert_eq!(loaded.config.recall.top_k, 9);
    assert_eq!(loaded.file_schema_version, 3);
    assert_eq!(
        loaded.warnings,
        vec![
            "config.toml has no schema_version; assuming 3 (add `schema_version = 3` at the top)"
                .to_owned()
        ]
    );
}

const REFERENCE_V2: &str = r#"schema_version = 2
active_profile = "glm"

[profiles.minimax]
provider = "minimax"
model = "MiniMax-M2.7"
timeout_seconds = 30
retry_backoff = [2.0, 5.0]

[profiles.glm]
provider = "anthropic-style"
model = "glm-5"
base_url = "https://open.bigmodel.cn/api/anthropic/v1/messages"
api_key_env = "ZHIPU_API_KEY"
timeout_seconds = 60
max_tokens = "lots"

[profiles.opencode]
provider = "opencode-cli"
[profiles.opencode.subprocess]
command = ["opencode", "run"]

[compile]
backend = "agent:pi"
[compile.pi]
model = "kimi-k2.6"

[log]
retention_days = 14
"#;

#[test]
fn reference_schema_2_file_is_lifted_with_warnings() {
    let loaded = parse(REFERENCE_V2).unwrap();
    assert_eq!(loaded.file_schema_version, 2);
    assert_eq!(loaded.config.schema_version, SCHEMA_VERSION);
    assert_eq!(loaded.config.active_profile, "glm");
    let glm = loaded.config.active_profile().unwrap();
    assert_eq!(
        glm,
        &Profile {
            provider: Provider::Anthropic,
            model: "glm-5".to_owned(),
            base_url: "https://open.bigmodel.cn/api/anthropic/v1/messages".to_owned(),
            api_key_env: "ZHIPU_API_KEY".to_owned(),
            timeout_seconds: 60.0,
            ..Profile::default()
        }
    );
    assert_eq!(loaded.config.profiles["minimax"].timeout_seconds, 30.0);
    assert_eq!(
        loaded.config.profiles["minimax"].provider,
        Provider::Minimax
    );
    assert_eq!(
        loaded.config.profiles["opencode"].provider,
        Provider::OpencodeCli
    );
    assert!(loaded.config.profiles.contains_key("offline"));
    assert_eq!(label(&loaded, "profiles.glm.model"), "config.toml:12");
    assert_eq!(label(&loaded, "active_profile"), "config.toml:2");
    assert_eq!(label(&loaded, "profiles.glm.max_tokens"), "default");
    assert_eq!(
        loaded.warnings,
        vec![
            "config.toml is a codex-self-evolution schema_version 2 file; csep reads only its reviewer profiles; run `csep config init --force` to write a csep config".to_owned(),
            "config.toml:24: reference-only key `compile.backend` ignored; run `csep config init --force` to write a csep config".to_owned(),
            "config.toml:26: reference-only key `compile.pi.model` ignored; run `csep config init --force` to write a csep config".to_owned(),
            "config.toml:29: reference-only key `log.retention_days` ignored; run `csep config init --force` to write a csep config".to_owned(),
            "config.toml:16: `profiles.glm.max_tokens` must be a non-negative integer, found a string; using the default".to_owned(),
            "config.toml:8: reference-only key `profiles.minimax.retry_backoff` ignored; run `csep config init --force` to write a csep config".to_owned(),
            "config.toml:21: reference-only key `profiles.opencode.subprocess.command` ignored; run `csep config init --force` to write a csep config".to_owned(),
        ]
    );
}

#[test]
fn reference_schema_1_reviewer_block_becomes_profile_default() {
    let text = "schema_version = 1\n[reviewer]\nprovider = \"openai-compatible\"\nmodel = \"deepseek-chat\"\nopenai_api_key = \"sk-x\"\n";
    let loaded = parse(text).unwrap();
    assert_eq!(loaded.config.active_profile, "default");
    let profile = loaded.config.active_profile().unwrap();
    assert_eq!(profile.provider, Provider::OpenaiCompatible);
    assert_eq!(profile.model, "deepseek-chat");
    assert_eq!(label(&loaded, "profiles.default.model"), "config.toml:4");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("legacy [reviewer] block read as profile `default`"))
    );
    let secret = loaded
        .warnings
        .iter()
        .find(|w| w.contains("reviewer.openai_api_key"))
        .unwrap();
    assert!(secret.contains("looks like a secret"), "{secret}");
    assert!(!secret.contains("sk-x"), "{secret}");
}

#[test]
fn reference_file_without_schema_version_is_recognised() {
    let loaded = parse("[reviewer]\nprovider = \"dummy\"\n").unwrap();
    assert_eq!(
        loaded.config.active_profile().unwrap().provider,
        Provider::Dummy
    );
    assert_eq!(loaded.file_schema_version, 2);
}

#[test]
fn reference_file_with_unknown_active_profile_falls_back_to_offline() {
    let loaded = parse("schema_version = 2\nactive_profile = \"nope\"\n").unwrap();
    assert_eq!(loaded.config.active_profile, "offline");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("active_profile `nope` matches no"))
    );
}

#[test]
fn env_overrides_apply_to_the_active_profile_and_record_their_source() {
    let text = "schema_version = 3\nactive_profile = \"fast\"\n[profiles.fast]\nprovider = \"anthropic\"\nmodel = \"file-model\"\n";
    let loaded = parse_with(
        text,
        &[
            (ENV_PROVIDER, "openai-compatible"),
            (ENV_MODEL, "env-model"),
            (ENV_BASE_URL, "http://localhost:8080/v1"),
            (ENV_TIMEOUT, "12.5"),
        ],
        None,
    )
    .unwrap();
    let fast = loaded.config.active_profile().unwrap();
    assert_eq!(fast.provider, Provider::OpenaiCompatible);
    assert_eq!(fast.model, "env-model");
    assert_eq!(fast.base_url, "http://localhost:8080/v1");
    assert_eq!(fast.timeout_seconds, 12.5);
    assert_eq!(
        label(&loaded, "profiles.fast.model"),
        "env:CODEX_SELF_EVOLUTION_REVIEWER_MODEL"
    );
    assert_eq!(
        label(&loaded, "profiles.fast.provider"),
        "env:CODEX_SELF_EVOLUTION_REVIEWER_PROVIDER"
    );
    assert_eq!(
        label(&loaded, "profiles.fast.timeout_seconds"),
        "env:CODEX_SELF_EVOLUTION_REVIEWER_TIMEOUT"
    );
    // Other profiles are untouched.
    assert_eq!(label(&loaded, "profiles.offline.model"), "default");
}

#[test]
fn invalid_env_overrides_warn_and_are_ignored() {
    let loaded = parse_with(
        "schema_version = 3\n",
        &[(ENV_PROVIDER, "gpt"), (ENV_TIMEOUT, "-1")],
        None,
    )
    .unwrap();
    let profile = loaded.config.active_profile().unwrap();
    assert_eq!(profile.provider, Provider::Offline);
    assert_eq!(profile.timeout_seconds, 60.0);
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert_eq!(label(&loaded, "profiles.offline.provider"), "default");
}

#[test]
fn reference_provider_names_are_accepted_from_env() {
    let loaded = parse_with("", &[(ENV_PROVIDER, "anthropic-style")], None).unwrap();
    assert_eq!(
        loaded.config.active_profile().unwrap().provider,
        Provider::Anthropic
    );
}

const THREE_PROFILES: &str = "schema_version = 3\nactive_profile = \"from_file\"\n[profiles.from_file]\n[profiles.from_env]\n[profiles.from_flag]\n";

#[rstest]
#[case::file_only(None, None, "from_file", "config.toml:2")]
#[case::env_beats_file(Some("from_env"), None, "from_env", "env:CSEP_PROFILE")]
#[case::flag_beats_env(Some("from_env"), Some("from_flag"), "from_flag", "flag:--profile")]
#[case::flag_beats_file(None, Some("from_flag"), "from_flag", "flag:--profile")]
fn profile_selection_precedence(
    #[case] env: Option<&str>,
    #[case] flag: Option<&str>,
    #[case] expected: &str,
    #[case] source: &str,
) {
    let env: Vec<(&str, &str)> = env.map(|v| (ENV_PROFILE, v)).into_iter().collect();
    let loaded = parse_with(THREE_PROFILES, &env, flag).unwrap();
    assert_eq!(loaded.config.active_profile, expected);
    assert_eq!(label(&loaded, "active_profile"), source);
}

#[test]
fn unknown_active_profile_lists_the_available_ones() {
    assert_eq!(
        err("schema_version = 3\nactive_profile = \"fats\"\n[profiles.fast]\n"),
        "active profile `fats` (from config.toml:2) does not exist; available profiles: fast, offline; add a [profiles.fats] section to /home/u/.csep/config.toml or pick another with --profile"
    );
    let e = parse_with("", &[], Some("nope")).unwrap_err().to_string();
    assert!(e.starts_with("active profile `nope` (from flag:--profile) does not exist; available profiles: offline;"), "{e}");
}

#[test]
fn api_key_env_holding_a_key_is_flagged() {
    let loaded = parse("schema_version = 3\n[profiles.a]\napi_key_env = \"sk-abc123\"\n").unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].contains("`profiles.a.api_key_env` should be the NAME"),
        "{:?}",
        loaded.warnings
    );
    assert!(!loaded.warnings[0].contains("sk-abc123"));
}

#[rstest]
#[case::api_key("api_key", true)]
#[case::prefixed("openai_api_key", true)]
#[case::token("token", true)]
#[case::bearer("auth-bearer", true)]
#[case::password("PASSWORD", true)]
#[case::api_key_env("api_key_env", false)]
#[case::max_tokens("max_tokens", false)]
#[case::daily_tokens("daily_tokens", false)]
#[case::tokenizer("tokenizer", false)]
fn secret_like_key_names(#[case] key: &str, #[case] expected: bool) {
    assert_eq!(looks_like_secret(key), expected);
}

#[test]
fn init_creates_refuses_and_forces() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("nested").join("home");
    assert_eq!(init(&home, false).unwrap(), InitOutcome::Created);
    let path = config_path(&home);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), template());

    std::fs::write(&path, "# mine\n").unwrap();
    let e = init(&home, false).unwrap_err();
    assert!(matches!(e, ConfigError::Exists { .. }));
    assert!(
        e.to_string()
            .ends_with("already exists; use --force to overwrite it"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    assert_eq!(init(&home, true).unwrap(), InitOutcome::Overwritten);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), template());
    let leftovers: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("config.toml")]);

    let loaded = load(&home, &Env::default(), &Overrides::default()).unwrap();
    assert!(loaded.exists);
    assert_eq!(loaded.config, Config::default());
}

#[cfg(unix)]
#[test]
fn init_writes_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    init(home.path(), false).unwrap();
    let mode = std::fs::metadata(config_path(home.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn resolved_json_has_the_documented_shape() {
    let loaded = parse_with(
        "schema_version = 3\n[recall]\ntop_k = 7\n",
        &[(ENV_MODEL, "m")],
        None,
    )
    .unwrap();
    let json = resolved_json(&loaded);
    assert_eq!(json["config_path"], "/home/u/.csep/config.toml");
    assert_eq!(json["config_exists"], true);
    assert_eq!(json["schema_version"], 3);
    assert_eq!(json["resolved"]["recall"]["top_k"], 7);
    assert_eq!(json["resolved"]["profiles"]["offline"]["model"], "m");
    assert_eq!(json["sources"]["recall.top_k"], "config.toml:3");
    assert_eq!(
        json["sources"]["profiles.offline.model"],
        "env:CODEX_SELF_EVOLUTION_REVIEWER_MODEL"
    );
    assert_eq!(json["sources"]["skills.enabled"], "default");
    assert_eq!(json["warnings"], serde_json::json!([]));
}

#[test]
fn render_show_lists_each_leaf_with_its_source() {
    let loaded = parse_with(
        "schema_version = 3\n[recall]\ntop_k = 7\n",
        &[(ENV_PROFILE, "offline")],
        None,
    )
    .unwrap();
    let shown = render_show(&loaded);
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        shown.starts_with("# /home/u/.csep/config.toml\n"),
        "{shown}"
    );
    assert!(line("recall.top_k").ends_with("(config.toml:3)"), "{shown}");
    assert!(
        line("active_profile").starts_with("active_profile = \"offline\" "),
        "{shown}"
    );
    assert!(
        line("active_profile").ends_with("(env:CSEP_PROFILE)"),
        "{shown}"
    );
    assert!(
        line("profiles.offline.command").starts_with("profiles.offline.command = []"),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), loaded.sources().len() + 1);
}

#[test]
fn source_labels_display() {
    assert_eq!(Source::Default.to_string(), "default");
    assert_eq!(Source::File { line: 12 }.to_string(), "config.toml:12");
    assert_eq!(
        Source::Env(ENV_MODEL.to_owned()).to_string(),
        "env:CODEX_SELF_EVOLUTION_REVIEWER_MODEL"
    );
    assert_eq!(
        Source::Flag("--profile".to_owned()).to_string(),
        "flag:--profile"
    );
}

#[test]
fn provider_names_round_trip() {
    for provider in Provider::ALL {
        assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
        let toml_text = format!(
            "schema_version = 3\n[profiles.p]\nprovider = \"{provider}\"\ncommand = [\"x\"]\n"
        );
        assert_eq!(
            parse(&toml_text).unwrap().config.profiles["p"].provider,
            provider
        );
    }
}

#[test]
fn dotted_keys_and_inline_tables_get_lines_too() {
    let text = "schema_version = 3\n\nprofiles.fast.model = \"m\"\nhooks = { user_prompt_recall = false }\n";
    let loaded = parse(text).unwrap();
    assert_eq!(label(&loaded, "profiles.fast.model"), "config.toml:3");
    assert_eq!(label(&loaded, "hooks.user_prompt_recall"), "config.toml:4");
    assert_eq!(
        err("schema_version = 3\n\nprofiles.fast.modle = \"m\"\n"),
        "/home/u/.csep/config.toml:3: unknown key `profiles.fast.modle`; valid keys here: api_key_env, base_url, command, max_retries, max_tokens, model, provider, region, timeout_seconds; run `csep config validate`"
    );
    assert!(
        err("schema_version = 3\nhooks = { recall = 1 }\n")
            .starts_with("/home/u/.csep/config.toml:2: unknown key `hooks.recall`")
    );
}

#[test]
fn profile_names_that_are_not_bare_keys_are_quoted_in_paths() {
    let loaded = parse("schema_version = 3\n[profiles.\"my.prof\"]\nmodel = \"m\"\n").unwrap();
    assert_eq!(
        label(&loaded, "profiles.\"my.prof\".model"),
        "config.toml:3"
    );
}

#[test]
fn render_show_of_the_defaults() {
    let home = tempfile::tempdir().unwrap();
    let mut loaded = load(home.path(), &Env::default(), &Overrides::default()).unwrap();
    loaded.path = PathBuf::from("/home/u/.csep/config.toml");
    insta::assert_snapshot!(render_show(&loaded));
}

#[test]
fn review_trigger_keys_load_and_reject_typos() {
    let loaded = parse(
        "schema_version = 3\n[review]\nmin_new_chars = 900\nmin_new_tool_calls = 4\n\
         review_on_signal = false\nbackoff_after_empty = 0\nbackoff_max_factor = 2\n",
    )
    .unwrap();
    let review = &loaded.config.review;
    assert_eq!(
        (
            review.min_new_chars,
            review.min_new_tool_calls,
            review.review_on_signal
        ),
        (900, 4, false)
    );
    assert_eq!(
        (review.backoff_after_empty, review.backoff_max_factor),
        (0, 2)
    );
    assert_eq!(
        review.min_new_user_messages,
        ReviewConfig::default().min_new_user_messages
    );
    let err = parse("schema_version = 3\n[review]\nmin_new_char = 1\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown key `review.min_new_char`"),
        "{err}"
    );
}

#[test]
fn skills_publish_policy_and_retirement_are_read_and_checked() {
    let loaded = parse(
        "schema_version = 3\n[skills]\npublish_policy = \"approve\"\nretire_after_days = 0\n",
    )
    .unwrap();
    assert_eq!(loaded.config.skills.publish_policy, PublishPolicy::Approve);
    assert_eq!(loaded.config.skills.retire_after_days, 0);
    assert_eq!(label(&loaded, "skills.publish_policy"), "config.toml:3");
    let defaults = parse("schema_version = 3\n").unwrap();
    assert_eq!(defaults.config.skills.publish_policy, PublishPolicy::Auto);
    assert_eq!(defaults.config.skills.retire_after_days, 60);
    let message = err("schema_version = 3\n[skills]\npublish_policy = \"always\"\n");
    assert!(message.contains("skills.publish_policy"), "{message}");
}

#[test]
fn a_reference_provider_without_a_csep_equivalent_falls_back_with_a_warning() {
    let text =
        "schema_version = 2\nactive_profile = \"g\"\n[profiles.g]\nprovider = \"gemini-cli\"\n";
    let loaded = parse(text).unwrap();
    assert_eq!(loaded.config.profiles["g"].provider, Provider::Minimax);
    assert!(
        loaded.warnings.iter().any(|w| w.contains(
            "reference provider `gemini-cli` in `profiles.g.provider` has no csep equivalent"
        )),
        "{:?}",
        loaded.warnings
    );
}

fn load_for_hook_from(text: &str) -> (Config, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(config_path(dir.path()), text).unwrap();
    assert!(
        load(dir.path(), &Env::default(), &Overrides::default()).is_err() || text.is_empty(),
        "the CLI still reports the error"
    );
    load_for_hook(dir.path(), &Env::default(), &Overrides::default())
}

/// Audit 04: one typo in `[review]` made the hooks run with the whole default config, so
/// auto-recall came back on and the custom budgets were lost.
#[test]
fn a_hook_keeps_its_settings_when_an_unrelated_section_has_an_error() {
    let (config, problem) = load_for_hook_from(
        "schema_version = 3\n[hooks]\nuser_prompt_recall = false\nuser_prompt_budget_tokens = 123\n\
         [review]\nmin_new_user_msgs = 3\nmin_new_user_messages = 7\n[log]\nlevel = \"debug\"\n",
    );
    assert!(!config.hooks.user_prompt_recall);
    assert_eq!(config.hooks.user_prompt_budget_tokens, 123);
    assert_eq!(
        config.review.min_new_user_messages, 7,
        "the valid keys of [review] stay"
    );
    assert_eq!(config.log.level, LogLevel::Debug);
    let problem = problem.unwrap();
    assert!(problem.contains("review.min_new_user_msgs"), "{problem}");
}

#[rstest]
#[case::wrong_type_switch("[hooks]\nuser_prompt_recall = \"no\"\n")]
#[case::misspelt_switch("[hooks]\nuser_prompt_recal = false\n")]
#[case::hooks_not_a_table("hooks = 1\n")]
#[case::not_toml("[hooks\nuser_prompt_recall = false\n")]
#[case::singular_table("[hook]\nuser_prompt_recall = false\n")]
#[case::capitalized_table("[Hooks]\nuser_prompt_recall = false\n")]
#[case::top_level_switch("user_prompt_recall = false\n")]
fn a_hook_turns_auto_recall_off_when_it_cannot_read_the_switch(#[case] body: &str) {
    let (config, problem) = load_for_hook_from(&format!("schema_version = 3\n{body}"));
    assert!(!config.hooks.user_prompt_recall, "{problem:?}");
    assert!(problem.unwrap().contains("auto-recall off"));
}

/// The log line names an unknown top-level key or table the hooks dropped, not "the profiles".
#[test]
fn a_dropped_top_level_key_is_named() {
    let (config, problem) =
        load_for_hook_from("schema_version = 3\n[hook]\nfoo = 1\n[revue]\nx = 1\n");
    let problem = problem.unwrap();
    assert!(problem.contains("hooks ignore hook, revue"), "{problem}");
    assert!(!config.hooks.user_prompt_recall);
    let (config, problem) = load_for_hook_from("schema_version = 3\n[revue]\nx = 1\n");
    assert!(
        config.hooks.user_prompt_recall,
        "an unrelated table keeps auto-recall on"
    );
    assert!(problem.unwrap().contains("hooks ignore revue"));
}

#[test]
fn a_valid_switch_is_kept_beside_an_invalid_budget() {
    let (config, _) = load_for_hook_from(
        "schema_version = 3\n[hooks]\nuser_prompt_recall = true\nuser_prompt_budget_tokens = -1\n",
    );
    assert!(config.hooks.user_prompt_recall);
    assert_eq!(
        config.hooks.user_prompt_budget_tokens,
        HooksConfig::default().user_prompt_budget_tokens
    );
}
