//! Provider tests against the fake model server (real HTTP on 127.0.0.1) and real child
//! processes.

use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::testing::{FakeServer, Reply};
use super::*;
use crate::store::config::BudgetConfig;
use crate::store::db::Store;

const KEY: &str = "test-key-123";

fn profile(kind: ProviderKind, base_url: &str) -> Profile {
    Profile {
        provider: kind,
        model: "fake-model".to_owned(),
        base_url: base_url.to_owned(),
        api_key_env: "FAKE_KEY".to_owned(),
        timeout_seconds: 5.0,
        max_retries: 2,
        ..Profile::default()
    }
}

fn env() -> Env {
    Env::from_pairs([("FAKE_KEY", KEY)])
}

fn provider(kind: ProviderKind, server: &FakeServer) -> Provider {
    Provider::from_profile("t", &profile(kind, &server.base_url()), &env())
        .unwrap()
        .with_retry_policy(http::RetryPolicy::fast(2))
}

fn request() -> LlmRequest {
    LlmRequest {
        system: "Return JSON.".to_owned(),
        user: "{\"messages\":[]}".to_owned(),
        schema: Some(JsonSchemaSpec {
            name: "csep_review_output".to_owned(),
            schema: json!({"type": "object", "properties": {"operations": {"type": "array"}}}),
        }),
        max_tokens: Some(256),
    }
}

#[test]
fn chat_completions_success_reads_text_usage_and_sends_a_json_schema() {
    let server =
        FakeServer::start(vec![Reply::chat("{\"operations\":[]}", Some((42, 7)))]).unwrap();
    let p = provider(ProviderKind::OpenaiCompatible, &server);
    let c = p.complete(&request()).unwrap();
    assert_eq!(c.text, "{\"operations\":[]}");
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 42,
            output_tokens: 7,
            is_estimated: false
        }
    );
    let posts = server.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/chat/completions");
    assert_eq!(
        posts[0].header("authorization"),
        Some("Bearer test-key-123")
    );
    let body = posts[0].json().unwrap();
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "csep_review_output"
    );
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["max_tokens"], 256);
}

#[test]
fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = FakeServer::start(vec![
        Reply::status(429, "slow down").with_header("retry-after", "0.3"),
        Reply::chat("{}", Some((1, 1))),
    ])
    .unwrap();
    let client = http::HttpClient::new(
        "t/openai-compatible".into(),
        Duration::from_secs(5),
        http::RetryPolicy::fast(2),
    );
    let url = format!("{}/chat/completions", server.base_url());
    let response = client.post_json(&url, &[], &json!({})).unwrap();
    assert_eq!(response.attempts, 2);
    assert_eq!(response.waits, vec![Duration::from_millis(300)]);
    assert_eq!(server.posts().len(), 2);
}

#[test]
fn three_500s_exhaust_the_retries_and_report_the_status() {
    let server = FakeServer::start(vec![
        Reply::status(500, "boom"),
        Reply::status(500, "boom"),
        Reply::status(500, "boom"),
        Reply::chat("never reached", None),
    ])
    .unwrap();
    let err = provider(ProviderKind::OpenaiCompatible, &server)
        .complete(&request())
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Http { status: 500, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("boom"), "{err}");
    assert_eq!(server.posts().len(), 3);
}

#[test]
fn a_hanging_server_times_out_with_an_actionable_message() {
    let server = FakeServer::start(vec![Reply::Hang(Duration::from_secs(5))]).unwrap();
    let mut prof = profile(ProviderKind::OpenaiCompatible, &server.base_url());
    prof.timeout_seconds = 0.3;
    let p = Provider::from_profile("t", &prof, &env())
        .unwrap()
        .with_retry_policy(http::RetryPolicy::fast(0));
    let err = p.complete(&request()).unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("raise timeout_seconds"), "{err}");
    assert!(err.may_have_spent());
}

#[test]
fn bad_bodies_are_clear_errors_not_panics() {
    let cases: Vec<(Reply, &str)> = vec![
        (Reply::malformed_json(), "malformed_response"),
        (Reply::html(200), "html_body"),
        (Reply::html(502), "html_body"),
        (Reply::empty(), "empty_body"),
        (Reply::huge(2 * 1024 * 1024), "body_too_large"),
        (
            Reply::json(200, &json!({"choices": []})),
            "malformed_response",
        ),
        (Reply::status(401, "invalid api key"), "http_401"),
    ];
    for (reply, code) in cases {
        // 502 is retried: give it the same page three times.
        let script = vec![reply.clone(), reply.clone(), reply];
        let server = FakeServer::start(script).unwrap();
        let err = provider(ProviderKind::OpenaiCompatible, &server)
            .complete(&request())
            .unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn missing_usage_is_estimated_and_flagged() {
    let server = FakeServer::start(vec![Reply::chat("{\"operations\":[]}", None)]).unwrap();
    let c = provider(ProviderKind::OpenaiCompatible, &server)
        .complete(&request())
        .unwrap();
    assert!(c.usage.is_estimated);
    assert!(c.usage.input_tokens > 0 && c.usage.output_tokens > 0);
}

#[test]
fn an_unsupported_response_format_degrades_to_json_object() {
    let server = FakeServer::start(vec![
        Reply::status(
            400,
            "response_format.json_schema is not supported by this model",
        ),
        Reply::chat("{}", Some((1, 1))),
    ])
    .unwrap();
    provider(ProviderKind::OpenaiCompatible, &server)
        .complete(&request())
        .unwrap();
    let posts = server.posts();
    assert_eq!(
        posts[1].json().unwrap()["response_format"],
        json!({"type": "json_object"})
    );
}

#[test]
fn responses_api_reads_json_and_sse_answers() {
    let server = FakeServer::start(vec![
        Reply::responses("{\"a\":1}", Some((10, 2))),
        Reply::responses_sse("{\"operations\":[{\"op\":\"remove\"}]}", Some((11, 3))),
        Reply::responses_sse("{\"b\":2}", None),
    ])
    .unwrap();
    let p = provider(ProviderKind::OpenaiResponses, &server);
    let a = p.complete(&request()).unwrap();
    assert_eq!((a.text.as_str(), a.usage.input_tokens), ("{\"a\":1}", 10));
    let b = p.complete(&request()).unwrap();
    assert_eq!(b.text, "{\"operations\":[{\"op\":\"remove\"}]}");
    assert_eq!((b.usage.output_tokens, b.usage.is_estimated), (3, false));
    let c = p.complete(&request()).unwrap();
    assert!(c.usage.is_estimated);
    let body = server.posts()[0].json().unwrap();
    assert_eq!(server.posts()[0].path, "/responses");
    assert_eq!(body["instructions"], "Return JSON.");
    assert_eq!(body["text"]["format"]["type"], "json_schema");
    assert_eq!(body["max_output_tokens"], 256);
}

#[test]
fn anthropic_messages_force_a_tool_call_and_read_its_input() {
    let answer = json!({"operations": []});
    let server = FakeServer::start(vec![
        Reply::messages_tool(&answer, Some((20, 5))),
        Reply::messages_text("```json\n{\"operations\":[]}\n```", None),
    ])
    .unwrap();
    let p = provider(ProviderKind::Anthropic, &server);
    let c = p.complete(&request()).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&c.text).unwrap(),
        answer
    );
    assert_eq!(c.usage.input_tokens, 20);
    let text = p.complete(&request()).unwrap();
    assert!(text.text.starts_with("```json"));
    let post = &server.posts()[0];
    assert_eq!(post.path, "/v1/messages");
    assert_eq!(post.header("x-api-key"), Some(KEY));
    assert_eq!(post.header("anthropic-version"), Some("2023-06-01"));
    let body = post.json().unwrap();
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "submit_answer"})
    );
    assert_eq!(body["system"], "Return JSON.");
}

#[test]
fn minimax_sends_a_bearer_token_and_picks_the_region_endpoint() {
    let server = FakeServer::start(vec![Reply::messages_text("{}", Some((1, 1)))]).unwrap();
    provider(ProviderKind::Minimax, &server)
        .complete(&request())
        .unwrap();
    assert_eq!(
        server.posts()[0].header("authorization"),
        Some("Bearer test-key-123")
    );

    let empty = Env::default();
    assert_eq!(
        minimax_endpoint(Region::Cn, &empty),
        "https://api.minimaxi.com/anthropic/v1/messages"
    );
    assert_eq!(
        minimax_endpoint(Region::Global, &Env::from_pairs([("MINIMAX_REGION", "cn")])),
        "https://api.minimax.io/anthropic/v1/messages"
    );
    assert_eq!(
        minimax_endpoint(Region::Unset, &Env::from_pairs([("MINIMAX_REGION", "CN")])),
        "https://api.minimaxi.com/anthropic/v1/messages"
    );
    assert_eq!(default_model(ProviderKind::Minimax), "MiniMax-M2.7");
}

#[test]
fn a_missing_key_names_the_variable_and_the_profile() {
    let mut prof = profile(ProviderKind::Anthropic, "");
    prof.api_key_env = String::new();
    let err = Provider::from_profile("claude-api", &prof, &Env::default()).unwrap_err();
    let ProviderError::MissingKey { var, profile } = &err else {
        panic!("expected MissingKey, got {err}")
    };
    assert_eq!(
        (var.as_str(), profile.as_str()),
        ("ANTHROPIC_API_KEY", "claude-api")
    );
    assert!(err.to_string().contains(".env.provider"), "{err}");
    let (fallback, why) = Provider::from_profile_or_offline("claude-api", &prof, &Env::default());
    assert!(fallback.is_offline());
    assert!(matches!(why, Some(ProviderError::MissingKey { .. })));
}

#[test]
fn endpoint_urls_join_bases_and_keep_full_endpoints() {
    assert_eq!(
        endpoint_url("https://api.deepseek.com/v1/", "/chat/completions"),
        "https://api.deepseek.com/v1/chat/completions"
    );
    assert_eq!(
        endpoint_url("https://x.test/v1/chat/completions", "/chat/completions"),
        "https://x.test/v1/chat/completions"
    );
    assert_eq!(
        endpoint_url("http://127.0.0.1:9", "/v1/messages"),
        "http://127.0.0.1:9/v1/messages"
    );
    assert_eq!(
        endpoint_url("https://k.test/coding/v1", "/v1/messages"),
        "https://k.test/coding/v1/messages"
    );
}

#[test]
fn secrets_are_redacted_before_the_request_leaves() {
    let server = FakeServer::start(vec![Reply::chat("{}", Some((1, 1)))]).unwrap();
    let secret = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB";
    let mut req = request();
    req.user = format!("my token is {secret}");
    provider(ProviderKind::OpenaiCompatible, &server)
        .complete(&req)
        .unwrap();
    let body = &server.posts()[0].body;
    assert!(!body.contains(secret), "{body}");
    assert!(body.contains("[REDACTED:"), "{body}");
}

#[test]
fn call_records_the_ledger_and_a_cap_stops_the_next_call_before_any_request() {
    let server = FakeServer::start(vec![Reply::chat("{}", Some((990, 5)))]).unwrap();
    let store = Store::open_in_memory().unwrap();
    let caps = BudgetConfig {
        daily_tokens: 0,
        review_daily_tokens: 1000,
        compile_daily_tokens: 0,
        skills_daily_tokens: 0,
    };
    let ctx = LedgerCtx {
        now: Some("2026-03-04T05:06:07.000Z".to_owned()),
        project_id: None,
        ..LedgerCtx::new(&store, &caps, Purpose::Review)
    };
    let p = provider(ProviderKind::OpenaiCompatible, &server);
    call(&p, &request(), &ctx).unwrap();
    let rows = budget::summary(&store, "2026-03-04").unwrap();
    assert_eq!(
        (rows[0].input_tokens, rows[0].output_tokens, rows[0].calls),
        (990, 5, 1)
    );
    let err = call(&p, &request(), &ctx).unwrap_err();
    assert!(matches!(err, CallError::Budget(_)), "{err}");
    assert_eq!(server.posts().len(), 1, "no request after the cap");
}

#[test]
fn failed_calls_are_recorded_with_their_error_code() {
    let server = FakeServer::start(vec![Reply::status(401, "bad key")]).unwrap();
    let store = Store::open_in_memory().unwrap();
    let caps = BudgetConfig::default();
    let ctx = LedgerCtx::new(&store, &caps, Purpose::Compile);
    let p = provider(ProviderKind::OpenaiCompatible, &server);
    assert!(matches!(
        call(&p, &request(), &ctx),
        Err(CallError::Provider(_))
    ));
    let status: String = store
        .conn()
        .query_row("SELECT status FROM budget_ledger", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "error:http_401");
}

#[cfg(unix)]
fn sh_profile(script: &str) -> Profile {
    Profile {
        provider: ProviderKind::Command,
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout_seconds: 5.0,
        max_retries: 0,
        ..Profile::default()
    }
}

#[cfg(unix)]
#[test]
fn the_command_provider_pipes_the_prompt_and_marks_the_child_session() {
    let prof = sh_profile(
        "input=$(cat); case \"$input\" in *'Return JSON.'*) ;; *) exit 3;; esac; \
         printf '{\"child\":\"%s\"}' \"$CSEP_CHILD_SESSION\"",
    );
    let p = Provider::from_profile("cmd", &prof, &Env::default()).unwrap();
    let c = p.complete(&request()).unwrap();
    assert_eq!(c.text, "{\"child\":\"1\"}");
    assert!(c.usage.is_estimated);
}

#[cfg(unix)]
#[test]
fn a_failing_or_slow_command_is_a_clear_error() {
    let p = Provider::from_profile("cmd", &sh_profile("echo oops >&2; exit 4"), &Env::default())
        .unwrap();
    let err = p.complete(&request()).unwrap_err();
    assert!(matches!(err, ProviderError::ChildFailed { .. }), "{err}");
    assert!(err.to_string().contains("oops"), "{err}");

    let mut slow = sh_profile("sleep 5");
    slow.timeout_seconds = 0.3;
    let p = Provider::from_profile("cmd", &slow, &Env::default()).unwrap();
    let started = std::time::Instant::now();
    let err = p.complete(&request()).unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn a_cli_provider_whose_program_is_missing_says_how_to_fix_it() {
    let prof = Profile {
        provider: ProviderKind::ClaudeCli,
        ..Profile::default()
    };
    let err = Provider::from_profile(
        "claude",
        &prof,
        &Env::from_pairs([("PATH", "/nonexistent")]),
    )
    .unwrap_err();
    assert!(
        matches!(err, ProviderError::ProgramNotFound { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("command = [\"/path/to/claude\"]"),
        "{err}"
    );
}

#[test]
fn codex_events_and_claude_results_are_parsed() {
    let events = concat!(
        "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n",
        "{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"{\\\"operations\\\":[]}\"}}\n",
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":120,\"cached_input_tokens\":0,\"output_tokens\":9}}\n",
    );
    let c = subprocess::parse_codex_events(
        "t",
        std::path::Path::new("codex"),
        events,
        "",
        &request(),
        "",
    )
    .unwrap();
    assert_eq!(c.text, "{\"operations\":[]}");
    assert_eq!((c.usage.input_tokens, c.usage.output_tokens), (120, 9));
    let failed = "{\"type\":\"turn.failed\",\"error\":{\"message\":\"stream disconnected\"}}\n";
    let err = subprocess::parse_codex_events(
        "t",
        std::path::Path::new("codex"),
        failed,
        "",
        &request(),
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("stream disconnected"), "{err}");

    let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"{\"operations\":[]}","usage":{"input_tokens":3,"cache_read_input_tokens":10,"output_tokens":4}}"#;
    let c = subprocess::parse_claude_result(
        "t",
        std::path::Path::new("claude"),
        result,
        &request(),
        "",
    )
    .unwrap();
    assert_eq!(
        (c.text.as_str(), c.usage.input_tokens),
        ("{\"operations\":[]}", 13)
    );
    let err_result = r#"{"type":"result","is_error":true,"result":"Invalid API key"}"#;
    assert!(
        subprocess::parse_claude_result(
            "t",
            std::path::Path::new("claude"),
            err_result,
            &request(),
            ""
        )
        .is_err()
    );
}

#[test]
fn child_session_detection_reads_the_guard_variable() {
    assert!(is_child_session(&Env::from_pairs([(
        CHILD_SESSION_ENV,
        "1"
    )])));
    assert!(!is_child_session(&Env::from_pairs([(
        CHILD_SESSION_ENV,
        "0"
    )])));
    assert!(!is_child_session(&Env::default()));
}

#[test]
fn token_estimates_count_cjk_characters_one_each() {
    assert_eq!(estimate_tokens("abcd"), 1);
    assert_eq!(estimate_tokens("abcde"), 2);
    assert_eq!(estimate_tokens("记住这个"), 4);
}

/// The Codex CLI binary for the `codex exec` provider test: `CSEP_TEST_CODEX_BIN`, else `codex`
/// on `PATH`, else the repository's npm cache (`.cache/npm/node_modules/.bin/codex`, where
/// `scripts/setup.sh` installs it). `None` skips the test, except under `CI=true`, where a
/// missing client is a failure (CI installs it).
fn codex_bin() -> Option<std::path::PathBuf> {
    let process = Env::from_process();
    if let Some(bin) = process.get("CSEP_TEST_CODEX_BIN") {
        return Some(bin.into());
    }
    if let Some(found) = subprocess::find_program("codex", &process) {
        return Some(found);
    }
    let cached =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/npm/node_modules/.bin/codex");
    if cached.is_file() {
        return Some(cached);
    }
    assert!(
        process.get("CI") != Some("true"),
        "the Codex CLI is not installed; CI runs scripts/setup.sh, which installs it"
    );
    None
}

/// Runs the real `codex exec` against the fake Responses server; skipped (with a printed reason)
/// when no Codex binary is found. Set `CSEP_TEST_CODEX_BIN=/path/to/codex` to choose one.
#[test]
fn codex_exec_provider_talks_to_the_real_codex_cli_pointed_at_the_fake_server() {
    let Some(bin) = codex_bin() else {
        eprintln!("SKIPPED: no Codex CLI found; set CSEP_TEST_CODEX_BIN or run scripts/setup.sh");
        return;
    };
    let answer = r#"{"operations":[{"op":"add","scope":"user","kind":"preference","summary":"Answer in English"}]}"#;
    let server = FakeServer::start_with(vec![], answer, Duration::from_secs(120)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let codex_home = tmp.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"fake-model\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\n\
             name = \"fake\"\nbase_url = \"{}/v1\"\nwire_api = \"responses\"\n\
             request_max_retries = 0\nstream_max_retries = 0\n",
            server.base_url()
        ),
    )
    .unwrap();
    let process = Env::from_process();
    let env = Env::from_pairs([
        ("PATH", process.get("PATH").unwrap_or("/usr/bin:/bin")),
        ("HOME", tmp.path().to_str().unwrap()),
        ("CODEX_HOME", codex_home.to_str().unwrap()),
        ("TMPDIR", tmp.path().to_str().unwrap()),
    ]);
    let prof = Profile {
        provider: ProviderKind::CodexCli,
        model: "fake-model".into(),
        command: vec![bin.display().to_string()],
        timeout_seconds: 90.0,
        max_retries: 0,
        ..Profile::default()
    };
    let p = Provider::from_profile("codex", &prof, &env).unwrap();
    let mut req = request();
    req.system = "You are csep's reviewer. CSEP-PROMPT-MARKER".into();
    req.schema = Some(JsonSchemaSpec {
        name: "csep_review_output".into(),
        schema: json!({"type": "object", "properties": {"operations": {"type": "array", "items": {"type": "object"}}},
                       "required": ["operations"], "additionalProperties": false}),
    });
    let c = p.complete(&req).unwrap();
    assert_eq!(c.text, answer);
    assert_eq!(
        (
            c.usage.input_tokens,
            c.usage.output_tokens,
            c.usage.is_estimated
        ),
        (100, 10, false)
    );
    let posts = server.posts();
    let last = posts.last().unwrap();
    assert_eq!(last.path, "/v1/responses");
    assert!(
        last.body.contains("CSEP-PROMPT-MARKER"),
        "the prompt reached the model"
    );
    let body = last.json().unwrap();
    assert_eq!(
        body["text"]["format"]["type"], "json_schema",
        "--output-schema was passed"
    );
    // --ephemeral: no rollout was written into CODEX_HOME/sessions.
    assert!(!codex_home.join("sessions").exists());
}

#[test]
fn pi_events_give_the_last_assistant_message_or_the_cut_streams_text_end() {
    let pi = std::path::Path::new("pi");
    let events = concat!(
        "pi v0.73 starting\n",
        "{\"type\":\"message_end\",\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"draft\"}]}}\n",
        "{\"type\":\"message_end\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"tool result\"}]}}\n",
        "{\"type\":\"message_end\",\"message\":{\"role\":\"assistant\",\"usage\":{\"input\":50,\"output\":7},\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\"},{\"type\":\"text\",\"text\":\"{\\\"operations\\\":\"},{\"type\":\"text\",\"text\":\"[]}\"}]}}\n",
    );
    let (text, usage) = subprocess::parse_pi_events("t", pi, events).unwrap();
    assert_eq!(text, "{\"operations\":[]}");
    let usage = usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (50, 7));

    let cut = concat!(
        "{\"type\":\"message_update\",\"assistantMessageEvent\":{\"type\":\"text_delta\",\"delta\":\"{\\\"op\"}}\n",
        "{\"type\":\"message_update\",\"assistantMessageEvent\":{\"type\":\"text_end\",\"content\":\"{\\\"operations\\\":[]}\"}}\n",
    );
    let (text, usage) = subprocess::parse_pi_events("t", pi, cut).unwrap();
    assert_eq!(text, "{\"operations\":[]}");
    assert!(usage.is_none());

    let failed = "{\"type\":\"error\",\"error\":{\"message\":\"401 invalid key sk-proj-Zx81KqP0aB7cD9eF2gH4jK6mN8pQ1rS3tU5vW7y\"}}\n";
    let err = subprocess::parse_pi_events("t", pi, failed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pi reported an error: 401"), "{err}");
    assert!(
        !err.contains("sk-proj-Zx81KqP0aB7cD9eF2gH4jK6mN8pQ1rS3tU5vW7y"),
        "redacted: {err}"
    );
    let err = subprocess::parse_pi_events("t", pi, "nothing useful\n").unwrap_err();
    assert!(err.to_string().contains("no assistant text"), "{err}");
}

#[test]
fn opencode_events_concatenate_text_parts_and_sum_step_tokens() {
    let oc = std::path::Path::new("opencode");
    let events = concat!(
        "{\"type\":\"step_start\",\"part\":{}}\n",
        "{\"type\":\"text\",\"part\":{\"text\":\"{\\\"operations\\\":\"}}\n",
        "{\"type\":\"step_finish\",\"part\":{\"tokens\":{\"input\":10,\"output\":2}}}\n",
        "{\"type\":\"text\",\"part\":{\"text\":\"[]}\"}}\n",
        "{\"type\":\"step_finish\",\"part\":{\"tokens\":{\"input\":5,\"output\":1}}}\n",
    );
    let (text, usage) = subprocess::parse_opencode_events("t", oc, events).unwrap();
    assert_eq!(text, "{\"operations\":[]}");
    let usage = usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (15, 3));
    let failed = "{\"type\":\"error\",\"error\":{\"name\":\"APIError\",\"data\":{\"message\":\"model not found\"}}}\n";
    let err = subprocess::parse_opencode_events("t", oc, failed).unwrap_err();
    assert!(
        err.to_string()
            .contains("opencode reported an error: model not found"),
        "{err}"
    );
}

/// Output of the real CLIs in their JSON modes, captured with the exact argv csep builds, against
/// a fake Anthropic server answering `{"operations":[]}` (100 input, 10 output tokens).
#[rstest::rstest]
#[case::pi("pi-0.73.1-json-mode.jsonl")]
#[case::opencode("opencode-1.18.33-json-format.jsonl")]
fn captured_agent_cli_output_parses_to_the_answer_and_its_usage(#[case] name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(name);
    let stdout = std::fs::read_to_string(path).unwrap();
    let parsed = if name.starts_with("pi") {
        subprocess::parse_pi_events("t", std::path::Path::new("pi"), &stdout)
    } else {
        subprocess::parse_opencode_events("t", std::path::Path::new("opencode"), &stdout)
    };
    let (text, usage) = parsed.unwrap();
    assert_eq!(text, r#"{"operations":[]}"#);
    let usage = usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (100, 10));
}
