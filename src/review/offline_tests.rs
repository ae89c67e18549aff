//! The offline reviewer against the labelled set in `tests/fixtures/offline_reviewer/`, plus
//! unit tests of its command rules.

use serde::Deserialize;

use super::*;
use crate::review::input::{MemoryRef, ReviewInput, ReviewMessage};

#[derive(Deserialize)]
struct Case {
    name: String,
    messages: Vec<CaseMessage>,
    expect: Vec<Expected>,
}

#[derive(Deserialize)]
struct CaseMessage {
    role: MessageRole,
    text: String,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    exit_code: Option<i32>,
}

#[derive(Deserialize)]
struct Expected {
    scope: Scope,
    kind: Vec<Kind>,
    contains: Vec<String>,
}

fn input_of(case: &Case) -> ReviewInput {
    let messages = case
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| ReviewMessage {
            id: i as i64 + 1,
            role: m.role,
            text: m.text.clone(),
            tool_name: m.tool.clone(),
            exit_code: m.exit_code,
        })
        .collect();
    ReviewInput {
        messages,
        ..ReviewInput::default()
    }
}

fn matches(op: &Operation, want: &Expected) -> bool {
    let Operation::Add {
        scope,
        kind,
        summary,
        ..
    } = op
    else {
        return false;
    };
    let lower = summary.to_lowercase();
    *scope == want.scope
        && want.kind.contains(kind)
        && want
            .contains
            .iter()
            .all(|c| lower.contains(&c.to_lowercase()))
}

fn load_cases() -> Vec<(String, Case)> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/offline_reviewer");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed: Vec<Case> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        cases.extend(parsed.into_iter().map(|c| (stem.clone(), c)));
    }
    cases
}

#[test]
fn offline_reviewer_precision_on_the_labelled_set_is_at_least_0_9() {
    let cases = load_cases();
    assert!(
        cases.len() >= 40,
        "the labelled set has {} cases",
        cases.len()
    );
    let (mut predicted, mut true_positive, mut expected, mut found) =
        (0usize, 0usize, 0usize, 0usize);
    let mut report = Vec::new();
    for (file, case) in &cases {
        let out = review(&input_of(case));
        let adds: Vec<&Operation> = out.operations.iter().collect();
        let mut used = vec![false; case.expect.len()];
        for op in &adds {
            predicted += 1;
            match case
                .expect
                .iter()
                .enumerate()
                .position(|(i, e)| !used[i] && matches(op, e))
            {
                Some(i) => {
                    used[i] = true;
                    true_positive += 1;
                }
                None => report.push(format!("FALSE POSITIVE {file}/{}: {op:?}", case.name)),
            }
        }
        expected += case.expect.len();
        found += used.iter().filter(|u| **u).count();
        for (i, e) in case.expect.iter().enumerate() {
            if !used[i] {
                report.push(format!(
                    "MISSED {file}/{}: {:?} {:?} {:?}",
                    case.name, e.scope, e.kind, e.contains
                ));
            }
        }
    }
    let precision = if predicted == 0 {
        1.0
    } else {
        true_positive as f64 / predicted as f64
    };
    let recall = if expected == 0 {
        1.0
    } else {
        found as f64 / expected as f64
    };
    println!(
        "offline reviewer on {} cases: precision {precision:.3} ({true_positive}/{predicted}), recall {recall:.3} ({found}/{expected})",
        cases.len()
    );
    for line in &report {
        println!("{line}");
    }
    assert!(
        precision >= 0.9,
        "precision {precision:.3} < 0.9:\n{}",
        report.join("\n")
    );
    assert!(found > 0, "the reviewer found nothing at all");
}

#[test]
fn evidence_points_at_the_messages_and_memory_duplicates_are_skipped() {
    let mut input = ReviewInput::default();
    input.messages.push(ReviewMessage::new(
        7,
        MessageRole::User,
        "Remember that this repo uses pnpm, not npm.",
    ));
    let out = review(&input);
    let Some(Operation::Add { evidence, .. }) = out.operations.first() else {
        panic!("expected an add: {out:?}")
    };
    assert_eq!(evidence, &vec!["7".to_owned()]);
    input.memory.push(MemoryRef {
        id: "m_1".into(),
        scope: Scope::Project,
        kind: Kind::Rule,
        summary: "This repo uses pnpm, not npm".into(),
    });
    assert!(review(&input).operations.is_empty());
}

#[test]
fn the_operation_budget_caps_the_output() {
    let mut input = ReviewInput::default();
    for i in 0..20 {
        input.messages.push(ReviewMessage::new(
            i,
            MessageRole::User,
            format!("Always use the helper number {i} for parsing dates."),
        ));
    }
    input.budgets.max_operations = 3;
    assert_eq!(review(&input).operations.len(), 3);
}

#[test]
fn core_commands_drop_cd_env_and_pipes() {
    assert_eq!(
        core_command("cd web && RUST_LOG=debug time cargo test 2>&1 | tail -5"),
        "cargo test"
    );
    assert_eq!(command_purpose("cargo test --workspace"), Some("test"));
    assert_eq!(command_purpose("cargo test my_filter"), None);
    assert_eq!(command_purpose("pnpm run typecheck"), Some("check"));
    assert_eq!(command_purpose("npm run lint:fix"), Some("lint"));
    assert_eq!(command_purpose("uv run pytest"), Some("test"));
    assert_eq!(command_purpose("git status"), None);
}
