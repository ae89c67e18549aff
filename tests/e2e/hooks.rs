//! Hook commands never hurt the host: exit 0 and valid JSON on any input.

use rstest::rstest;

use crate::support::{TestHome, stdout_json};

#[rstest]
#[case::empty_stdin(b"".as_slice())]
#[case::truncated_json(b"{\"session_id\": \"abc".as_slice())]
#[case::not_json(b"hello".as_slice())]
#[case::binary_garbage(&[0xff, 0xfe, 0x00, 0x9f][..])]
#[case::valid_payload(br#"{"hook_event_name":"Stop","session_id":"s1","cwd":"/nonexistent"}"#.as_slice())]
fn every_hook_form_exits_zero_with_valid_json(#[case] stdin: &[u8]) {
    let t = TestHome::new();
    let forms: [(&str, &[&str]); 5] = [
        ("csep", &["hook", "session-start", "--host", "codex"]),
        ("csep", &["hook", "user-prompt-submit", "--host", "claude"]),
        ("csep", &["hook", "stop"]),
        ("reference", &["session-start", "--from-stdin"]),
        ("reference", &["stop-review", "--from-stdin"]),
    ];
    for (bin, args) in forms {
        let mut cmd = if bin == "csep" {
            t.csep(args)
        } else {
            t.reference(args)
        };
        let out = cmd.write_stdin(stdin.to_vec()).output().unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?} exited {:?}",
            out.status.code()
        );
        assert!(stdout_json(&out).is_object(), "{bin} {args:?}");
    }
}

#[test]
fn a_hook_with_an_unwritable_home_still_exits_zero() {
    let t = TestHome::new();
    let file = t.scratch().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = assert_cmd::Command::cargo_bin("csep")
        .unwrap()
        .args(["--home"])
        .arg(&file)
        .args(["hook", "stop", "--host", "codex"])
        .write_stdin("{}")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout_json(&out).is_object());
}
