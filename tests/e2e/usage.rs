//! `csep usage`: spend per day and purpose from the budget ledger.

use predicates::prelude::*;

use crate::support::{TestHome, stdout_json};

#[test]
fn usage_on_a_fresh_home_reports_no_calls_and_creates_no_database() {
    let t = TestHome::new();
    t.csep(&["usage"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "no LLM calls recorded in the last 7 day(s)",
        ));
    assert!(!t.home().join("csep.db").exists());
}

#[test]
fn usage_sums_todays_ledger_rows_per_purpose_against_the_caps() {
    let t = TestHome::new();
    let store = csep::store::db::Store::open(&t.home().join("csep.db")).unwrap();
    let now = csep::store::time::now();
    for (purpose, input, output, status) in [
        ("review", 1000, 100, "ok"),
        ("review", 0, 0, "error:http_529"),
        ("compile", 300, 30, "ok"),
    ] {
        csep::llm::budget::record(
            &store,
            &csep::llm::budget::LedgerRecord {
                at: now.clone(),
                provider: "p/minimax".into(),
                model: Some("MiniMax-M2.7".into()),
                purpose: csep::llm::Purpose::parse(purpose).unwrap(),
                usage: csep::llm::Usage {
                    input_tokens: input,
                    output_tokens: output,
                    is_estimated: false,
                },
                duration_ms: 10,
                status: status.into(),
                project_id: None,
            },
        )
        .unwrap();
    }
    drop(store);
    let out = t
        .csep(&["usage", "--days", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["today"]["spent"], 1430);
    assert_eq!(v["today"]["cap"], 200000);
    assert_eq!(v["today"]["purposes"][0]["purpose"], "review");
    assert_eq!(v["today"]["purposes"][0]["spent"], 1100);
    assert_eq!(v["totals"]["calls"], 3);
    assert_eq!(v["totals"]["failed_calls"], 1);
    t.csep(&["usage"])
        .assert()
        .success()
        .stdout(predicate::str::contains("review 1100/150000"));
}
