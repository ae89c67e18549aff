//! `csep demo`: the README's main job, run as a new user would.

use crate::support::{TestHome, stdout_json};

#[test]
fn demo_prints_memory_learned_from_the_samples_and_leaves_the_real_home_alone() {
    let t = TestHome::new();
    let out = t.csep(&["demo"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "the worker processed 4 (0 failed)",
        "cargo nextest run",
        "以后请用中文回答",
        "<csep-context",
        "Status: matched",
        "Skill synthesis (dry run",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !t.home().join("csep.db").exists(),
        "the demo must not touch --home"
    );
}

#[test]
fn demo_json_reports_each_stage() {
    let t = TestHome::new();
    let v = stdout_json(&t.csep(&["demo", "--json"]).output().unwrap());
    assert_eq!(v["worker"]["processed"], 4);
    assert!(v["learned"].as_array().unwrap().len() >= 5, "{v}");
    assert!(
        v["session_start_context"]
            .as_str()
            .unwrap()
            .contains("csep memory")
    );
    assert!(v["skills"]["dry_run"].as_bool().unwrap());
}
