//! Reliability: the whole loop across sessions (generated transcripts and the real clients),
//! 200 concurrent Stop hooks, kill -9 of the worker at every failpoint, and hostile homes
//! (read-only, full disk, locked database, spaces and non-ASCII in the path).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;

use crate::fake_model::FakeModel;
use crate::real_clients::{base_env, client_bin, run_client, wait_for_worker};
use crate::sessions::{self, Item, count, hook, integrity, worker};
use crate::support::{TestHome, stdout_json};

/// Budget a hook must answer within, even when the store is locked or the disk is full (the
/// hook's own busy timeout is 250 ms; the rest is process start-up on a loaded CI machine).
const HOOK_WALL_BUDGET: Duration = Duration::from_secs(5);

fn session_one() -> Vec<Item> {
    vec![
        Item::User("Set up the web app. I prefer pnpm over npm in this repo.".into()),
        Item::Agent("I'll run npm install first.".into()),
        Item::User("No, we use pnpm here, not npm.".into()),
        Item::Bash(
            "pnpm run lint".into(),
            "> web@1.0.0 lint\n> eslint .".into(),
            0,
        ),
        Item::Agent("Lint passed with pnpm.".into()),
    ]
}

fn memory_texts(t: &TestHome) -> Vec<String> {
    let conn = sessions::db(t);
    let mut stmt = conn
        .prepare("SELECT summary || ' ' || content FROM memory_entries WHERE status = 'active'")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Records session 1 through the Stop hook and drains it with the foreground worker.
fn learn_session_one(t: &TestHome, work: &Path, env: &[(&str, &str)]) {
    let transcript =
        sessions::claude_transcript(&t.scratch().join("tx"), "sess-one", work, &session_one());
    let out = hook(
        t,
        "stop",
        &sessions::payload("Stop", "sess-one", work, &transcript),
        false,
    );
    assert!(out.status.success());
    let out = worker(t, env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["processed"], 1, "{}", stdout_json(&out));
}

#[rstest]
#[case::offline_reviewer(false)]
#[case::provider_profile(true)]
fn a_preference_learned_in_session_one_reaches_session_two(#[case] with_provider: bool) {
    let t = TestHome::new();
    let work = sessions::project(&t.scratch().join("work"));
    let server = FakeModel::start(Duration::from_secs(120));
    let mut env = vec![];
    if with_provider {
        server.set_review_reply(
            r#"{"operations":[{"op":"add","scope":"project","kind":"rule","summary":"Use pnpm, never npm, in this repo (PROVIDER-LEARNED)","content":"The user corrected npm to pnpm.","evidence":["No, we use pnpm here, not npm."],"confidence":0.9}]}"#,
        );
        sessions::provider_config(&t, &format!("{}", server.openai_base()), "");
        env.push(("CSEP_TEST_REVIEW_KEY", "dummy-key"));
    }
    learn_session_one(&t, &work, &env);
    let texts = memory_texts(&t);
    if with_provider {
        assert_eq!(server.review_requests().len(), 1);
        assert!(
            texts.iter().any(|m| m.contains("PROVIDER-LEARNED")),
            "{texts:?}"
        );
    } else {
        assert!(server.review_requests().is_empty());
        assert!(texts.iter().any(|m| m.contains("pnpm")), "{texts:?}");
    }
    assert_eq!(integrity(&t), "ok");

    // Session 2: SessionStart injects the learned preference as quoted, attributed data.
    let transcript2 = sessions::claude_transcript(&t.scratch().join("tx"), "sess-two", &work, &[]);
    let out = hook(
        &t,
        "session-start",
        &sessions::payload("SessionStart", "sess-two", &work, &transcript2),
        false,
    );
    let ctx = stdout_json(&out)["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ctx.contains("pnpm"), "{ctx}");
    assert!(ctx.contains("(from session sess-one on "), "{ctx}");

    // A prompt about the same topic gets session 1 recalled.
    let out = hook(
        &t,
        "user-prompt-submit",
        &sessions::prompt_payload(
            "sess-two",
            &work,
            &transcript2,
            "How did we run the pnpm lint for the web app?",
        ),
        false,
    );
    let injected = stdout_json(&out).to_string();
    assert!(injected.contains("pnpm"), "no recall injected: {injected}");

    // And `csep recall` finds session 1 by what was said there.
    let out = t
        .csep(&["recall", "--format", "json", "--cwd"])
        .arg(&work)
        .arg("pnpm lint")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sess-one"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The real Codex CLI: session 1 states a preference and a correction and runs a command; the
/// Stop hook's detached worker archives, reviews (offline, or through a provider profile at the
/// fake server) and compiles; session 2's model request carries the preference, a related
/// prompt gets session 1 recalled, and `csep recall` finds it.
#[rstest]
#[case::offline_reviewer(false)]
#[case::provider_profile(true)]
fn real_codex_learns_in_session_one_and_uses_it_in_session_two(#[case] with_provider: bool) {
    let Some(codex) = client_bin("codex", "CSEP_TEST_CODEX_BIN") else {
        return;
    };
    let t = TestHome::new();
    let server = FakeModel::start(Duration::from_secs(240));
    let codex_home = t.scratch().join("codex-home");
    let work = sessions::project(&t.scratch().join("work"));
    let user_home = t.scratch().join("user");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::create_dir_all(&user_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"fake-model\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\nname = \"fake\"\n\
             base_url = \"{}\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
            server.openai_base()
        ),
    )
    .unwrap();
    if with_provider {
        server.set_review_reply(
            r#"{"operations":[{"op":"add","scope":"project","kind":"rule","summary":"Use pnpm, never npm, in this repo (CTX-MARKER-provider)","content":"","evidence":[],"confidence":0.9}]}"#,
        );
        sessions::provider_config(&t, &server.openai_base(), "");
    }
    let out = t
        .csep(&["install", "codex", "--codex-home"])
        .arg(&codex_home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codex_run = |prompt: &str| {
        let mut cmd = Command::new(&codex);
        base_env(&mut cmd, &user_home);
        cmd.env("CODEX_HOME", &codex_home)
            .env("CSEP_TEST_REVIEW_KEY", "dummy-key")
            .current_dir(&work)
            .args(["exec", "--skip-git-repo-check", prompt]);
        let out = run_client(cmd);
        assert!(
            out.status.success(),
            "codex failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    codex_run(
        "RUN_TOOL please. I prefer pnpm over npm in this repo. No, we use pnpm here, not npm.",
    );
    let db = t.home().join("csep.db");
    wait_for_worker(&db);
    let texts = memory_texts(&t);
    if with_provider {
        assert!(
            !server.review_requests().is_empty(),
            "the provider was not asked"
        );
        assert!(
            texts.iter().any(|m| m.contains("CTX-MARKER-provider")),
            "{texts:?}"
        );
    } else {
        assert!(server.review_requests().is_empty());
        assert!(texts.iter().any(|m| m.contains("pnpm")), "{texts:?}");
    }
    let session_one: String = sessions::db(&t)
        .query_row(
            "SELECT session_id FROM sessions ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();

    codex_run("remind me: pnpm or npm in this repo?");
    let requests = server.model_requests();
    let last = requests.last().unwrap().to_string();
    assert!(
        last.contains("csep memory") && last.contains("pnpm"),
        "no learned context: {last}"
    );
    assert!(
        last.contains("kind=\\\"recall\\\""),
        "no recall injected: {last}"
    );
    wait_for_worker(&db);

    let out = t
        .csep(&["recall", "--format", "json", "--scope", "sessions", "--top-k", "5", "--cwd"])
        .arg(&work)
        .arg("prefer pnpm over npm")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = String::from_utf8_lossy(&out.stdout);
    assert!(found.contains(&session_one), "{session_one} not in {found}");
    assert_eq!(integrity(&t), "ok");
}
