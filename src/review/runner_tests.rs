//! Tests of one review run: statuses, retry with the error shown, budget skips, receipts.

use pretty_assertions::assert_eq;

use super::*;
use crate::llm::dummy::Scripted;
use crate::llm::testing::{FakeServer, Reply};
use crate::llm::{Purpose, http::RetryPolicy};
use crate::review::input::{MessageRole, ReviewMessage};
use crate::store::config::{BudgetConfig, Profile, Provider as ProviderKind};
use crate::store::env::Env;

const GOOD: &str = r#"{"operations":[{"op":"add","scope":"user","kind":"preference","summary":"Answer in English","evidence":["1"]}]}"#;

fn input() -> ReviewInput {
    ReviewInput {
        messages: vec![
            ReviewMessage::new(1, MessageRole::User, "Please always answer in English."),
            ReviewMessage::new(2, MessageRole::Agent, "Sure."),
        ],
        ..ReviewInput::default()
    }
}

fn caps() -> BudgetConfig {
    BudgetConfig::default()
}

#[test]
fn a_valid_answer_is_ok_and_the_call_is_in_the_ledger() {
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let provider = Provider::dummy(vec![Scripted::TextWithUsage(GOOD.into(), 100, 20)]);
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    );
    assert_eq!(r.status, ReviewStatus::Ok, "{:?}", r.reason);
    assert_eq!(r.output.operations.len(), 1);
    assert_eq!((r.calls, r.usage.total()), (1, 120));
    let sent = provider.dummy_requests();
    assert!(sent[0].system.contains("durable"));
    assert!(sent[0].user.contains("Please always answer in English."));
    assert!(sent[0].schema.is_some());
    let calls: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM budget_ledger WHERE purpose = 'review'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn an_unreadable_answer_is_retried_once_with_the_error_shown() {
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let provider = Provider::dummy(vec![
        Scripted::Text("I think you should remember English.".into()),
        Scripted::Text(GOOD.into()),
    ]);
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    );
    assert_eq!(r.status, ReviewStatus::Ok);
    assert_eq!(r.calls, 2);
    let sent = provider.dummy_requests();
    assert!(
        sent[1]
            .user
            .contains("could not be used: the answer is not valid JSON"),
        "{}",
        sent[1].user
    );
}

#[test]
fn two_unreadable_answers_fail_and_keep_the_raw_text_redacted_in_the_receipt() {
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let secret = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB";
    let provider = Provider::dummy(vec![
        Scripted::Text(format!("oops {secret}")),
        Scripted::Text("<html>still not json</html>".into()),
    ]);
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    );
    assert_eq!(r.status, ReviewStatus::Failed);
    assert_eq!(r.raw_failures.len(), 2);
    assert!(!r.raw_failures[0].contains(secret));
    assert!(r.reason.as_deref().unwrap().contains("after 2 call(s)"));
    let id = record_receipt(&store, &r, None, Some("s1"), "2026-01-01T00:00:00.000Z").unwrap();
    let (status, detail): (String, String) = store
        .conn()
        .query_row(
            "SELECT status, detail FROM receipts WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "failed");
    assert!(
        detail.contains("still not json") && !detail.contains(secret),
        "{detail}"
    );
}

#[test]
fn a_budget_cap_skips_the_review_without_calling() {
    let store = Store::open_in_memory().unwrap();
    let caps = BudgetConfig {
        daily_tokens: 0,
        review_daily_tokens: 10,
        compile_daily_tokens: 0,
        skills_daily_tokens: 0,
    };
    let provider = Provider::dummy(vec![Scripted::Text(GOOD.into())]);
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    );
    assert_eq!(r.status, ReviewStatus::SkippedBudget);
    assert!(r.reason.as_deref().unwrap().contains("review_daily_tokens"));
    assert!(provider.dummy_requests().is_empty(), "nothing was called");
    assert_eq!(r.calls, 0);
}

#[test]
fn a_provider_failure_is_a_failed_review_with_the_reason() {
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let provider = Provider::dummy(vec![Scripted::Fail("upstream 529".into())]);
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    );
    assert_eq!(r.status, ReviewStatus::Failed);
    assert!(r.reason.as_deref().unwrap().contains("upstream 529"));
}

#[test]
fn invalid_items_degrade_the_review_and_are_listed() {
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let answer = r#"{"operations":[{"op":"remove","id":"m_missing","reason":"x"},{"op":"add","scope":"user","kind":"fact","summary":"Works in UTC"}]}"#;
    let provider = Provider::dummy(vec![Scripted::Text(answer.into())]);
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    );
    assert_eq!(r.status, ReviewStatus::Degraded);
    assert_eq!(r.output.operations.len(), 1);
    assert_eq!(r.dropped[0].1, "memory entry `m_missing` does not exist");
}

#[test]
fn offline_and_empty_reviews_call_nothing() {
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let ledger = LedgerCtx::new(&store, &caps, Purpose::Review);
    let r = run(&Provider::offline("offline"), &input(), &ledger);
    assert_eq!(
        (r.status, r.reviewer.as_str(), r.calls),
        (ReviewStatus::Ok, "offline", 0)
    );
    assert_eq!(r.output.operations.len(), 1, "{:?}", r.output);
    let empty = ReviewInput::default();
    let r = run(&Provider::dummy(vec![]), &empty, &ledger);
    assert_eq!(r.status, ReviewStatus::Skipped);
}

#[test]
fn a_missing_key_falls_back_to_offline_and_says_so() {
    let profile = Profile {
        provider: ProviderKind::Minimax,
        ..Profile::default()
    };
    let (provider, cause) = Provider::from_profile_or_offline("minimax", &profile, &Env::default());
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let r = run(
        &provider,
        &input(),
        &LedgerCtx::new(&store, &caps, Purpose::Review),
    )
    .with_fallback(&cause.unwrap());
    assert_eq!(r.status, ReviewStatus::Degraded);
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("offline reviewer used") && reason.contains("MINIMAX_API_KEY"),
        "{reason}"
    );
}

#[test]
fn a_fenced_answer_with_prose_from_a_real_http_provider_is_repaired() {
    let fenced = format!("Here you go:\n```json\n{GOOD}\n```\nLet me know!");
    let truncated = &GOOD[..GOOD.len() - 20];
    let server = FakeServer::start(vec![
        Reply::chat(&fenced, Some((50, 9))),
        Reply::chat(truncated, None),
    ])
    .unwrap();
    let profile = Profile {
        provider: ProviderKind::OpenaiCompatible,
        base_url: server.base_url(),
        api_key_env: "K".into(),
        ..Profile::default()
    };
    let provider = Provider::from_profile("p", &profile, &Env::from_pairs([("K", "k")]))
        .unwrap()
        .with_retry_policy(RetryPolicy::fast(0));
    let store = Store::open_in_memory().unwrap();
    let caps = caps();
    let ledger = LedgerCtx::new(&store, &caps, Purpose::Review);
    let r = run(&provider, &input(), &ledger);
    assert_eq!(r.status, ReviewStatus::Ok);
    assert_eq!(r.repairs, vec![Repair::CodeFence]);
    assert_eq!(r.output.operations.len(), 1);
    // The truncated answer loses its only (incomplete) operation but is not a failure.
    let r = run(&provider, &input(), &ledger);
    assert_ne!(r.status, ReviewStatus::Failed, "{:?}", r.reason);
    assert!(r.usage.is_estimated);
}
