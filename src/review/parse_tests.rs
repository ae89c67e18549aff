//! Tests of strict parsing, repairs and per-item validation of reviewer answers.

use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::memory::{Kind, Scope};

fn ctx() -> ParseContext {
    ParseContext {
        memory_ids: ["m_1".to_owned()].into_iter().collect(),
        max_operations: 5,
    }
}

const ADD: &str = r#"{"op":"add","scope":"user","kind":"preference","summary":"Answer in English","evidence":["3"],"confidence":0.8}"#;

fn add_op() -> Operation {
    Operation::Add {
        scope: Scope::User,
        kind: Kind::Preference,
        summary: "Answer in English".into(),
        content: String::new(),
        evidence: vec!["3".into()],
        confidence: Some(0.8),
    }
}

#[test]
fn a_strict_answer_parses_without_repairs() {
    let parsed = parse(&format!(r#"{{"operations":[{ADD}]}}"#), &ctx()).unwrap();
    assert_eq!(parsed.output.operations, vec![add_op()]);
    assert!(parsed.repairs.is_empty() && parsed.dropped.is_empty());
}

#[rstest]
#[case::code_fence_with_prose(
    format!("Here is my review:\n```json\n{{\"operations\":[{ADD}]}}\n```\nHope it helps."),
    vec![Repair::CodeFence]
)]
#[case::leading_and_trailing_prose(
    format!("Sure! {{\"operations\":[{ADD}]}} That is all."),
    vec![Repair::SurroundingProse]
)]
#[case::trailing_commas(
    format!("{{\"operations\":[{ADD},],}}"),
    vec![Repair::TrailingCommas]
)]
#[case::truncated_mid_string(
    format!("{{\"operations\":[{ADD},{{\"op\":\"add\",\"scope\":\"project\",\"kind\":\"fact\",\"summary\":\"The API lives in serv"),
    vec![Repair::Truncated]
)]
#[case::truncated_fence(
    format!("```json\n{{\"operations\":[{ADD},{{\"op\":\"remove\",\"id\":\"m_"),
    vec![Repair::CodeFence, Repair::Truncated]
)]
#[case::bare_array(format!("[{ADD}]"), vec![Repair::BareArray])]
fn repairs_recover_the_complete_operations(#[case] raw: String, #[case] repairs: Vec<Repair>) {
    let parsed = parse(&raw, &ctx()).unwrap();
    assert_eq!(parsed.output.operations, vec![add_op()]);
    assert_eq!(parsed.repairs, repairs);
}

#[test]
fn invalid_items_are_dropped_with_reasons_and_valid_ones_kept() {
    let raw = format!(
        r#"{{"operations":[
            {ADD},
            {{"op":"add","scope":"global","kind":"fact","summary":"x"}},
            {{"op":"add","scope":"user","kind":"fact","summary":"  "}},
            {{"op":"replace","id":"m_404","summary":"y"}},
            {{"op":"remove","id":"m_1","reason":"obsolete"}},
            {{"op":"add","scope":"user","kind":"fact","summary":"z","confidence":7}},
            {{"op":"rewrite_all","text":"..."}},
            "just a string",
            {{"op":"ADD","scope":"project","kind":"command","summary":"Run `make test`","content":null,"evidence":null,"confidence":null}}
        ]}}"#
    );
    let parsed = parse(&raw, &ctx()).unwrap();
    let names: Vec<&str> = parsed
        .output
        .operations
        .iter()
        .map(Operation::name)
        .collect();
    assert_eq!(names, ["add", "remove", "add"]);
    let reasons: Vec<&str> = parsed.dropped.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons.len(), 6, "{reasons:#?}");
    assert!(reasons[0].contains("does not fit the schema") && reasons[0].contains("global"));
    assert_eq!(reasons[1], "the summary is empty");
    assert_eq!(reasons[2], "memory entry `m_404` does not exist");
    assert!(reasons[3].contains("outside 0.0–1.0"));
    assert!(reasons[4].contains("rewrite_all"));
    assert!(reasons[5].contains("must be an object"));
}

#[test]
fn operations_over_the_budget_are_dropped() {
    let items = [ADD; 7].join(",");
    let parsed = parse(&format!(r#"{{"operations":[{items}]}}"#), &ctx()).unwrap();
    assert_eq!(parsed.output.operations.len(), 5);
    assert_eq!(parsed.dropped.len(), 2);
    assert!(parsed.dropped[0].reason.contains("budget of 5"));
}

#[rstest]
#[case::empty("   ", "empty")]
#[case::prose_only("I could not find anything worth remembering.", "not valid JSON")]
#[case::html("<html><body>Bad gateway</body></html>", "not valid JSON")]
#[case::wrong_shape(r#"{"memory_updates": []}"#, "no `operations`")]
#[case::number("42", "JSON a number")]
fn unrecoverable_answers_are_errors(#[case] raw: &str, #[case] message: &str) {
    let err = parse(raw, &ctx()).unwrap_err();
    assert!(err.to_string().contains(message), "{err}");
}

#[test]
fn an_empty_operation_list_and_null_are_valid_empty_reviews() {
    assert!(
        parse(r#"{"operations":[]}"#, &ctx())
            .unwrap()
            .output
            .operations
            .is_empty()
    );
    assert!(
        parse(r#"{"operations":null}"#, &ctx())
            .unwrap()
            .output
            .operations
            .is_empty()
    );
}

#[test]
fn braces_inside_strings_do_not_confuse_the_repairs() {
    let raw = r#"Answer: {"operations":[{"op":"add","scope":"project","kind":"rule","summary":"Format strings like \"{name}\" and ]close[","evidence":[]},]}"#;
    let parsed = parse(raw, &ctx()).unwrap();
    assert_eq!(parsed.output.operations.len(), 1);
    assert_eq!(
        parsed.repairs,
        vec![Repair::SurroundingProse, Repair::TrailingCommas]
    );
}

#[test]
fn an_overlong_answer_is_refused() {
    let raw = "x".repeat(MAX_ANSWER_CHARS + 1);
    assert!(matches!(
        parse(&raw, &ctx()),
        Err(ParseError::TooLong { .. })
    ));
}
