//! Fuzzing on stable Rust: bounded `proptest` properties over every parser that reads outside
//! input — both transcript parsers, hook payloads, the reviewer output parser/repairer,
//! `.env.provider` and SKILL.md frontmatter. Inputs are arbitrary bytes and real samples from
//! the checked-in seed corpus (`tests/fixtures/fuzz/<target>/`) mutated byte-wise (flip, insert,
//! delete, truncate, splice). The property is "no panic"; each target also replays its seeds
//! unmutated. cargo-fuzz needs a nightly toolchain, which CI does not have (README, Guarantees).

use std::collections::BTreeSet;
use std::path::Path;

use csep::host::Host;
use csep::host::transcript::{parse_chunk, parse_hook_event};
use csep::review::parse::{ParseContext, parse as parse_review};
use proptest::prelude::*;

/// Cases per property: enough to find shallow panics, small enough for CI's 2 cores (about a
/// second per property). `CSEP_FUZZ_CASES=100000` runs a longer session locally.
fn cases() -> u32 {
    std::env::var("CSEP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// Every line (and every whole file) of the seed corpus of `target`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push(line.to_vec());
        }
        out.push(bytes);
    }
    assert!(!out.is_empty(), "empty seed corpus for {target}");
    out
}

/// One byte-level edit.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Splice(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(b'"'),
                Just(b'{'),
                Just(b'}'),
                Just(b'\\'),
                Just(0u8),
                Just(b'\n'),
                Just(b':'),
                any::<u8>()
            ]
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Splice(a, b)),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len();
        match *e {
            Edit::Flip(i, b) if n > 0 => bytes[i % n] ^= b,
            Edit::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Edit::Delete(i) if n > 0 => {
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(i % (n + 1)),
            Edit::Splice(a, b) if n > 0 => {
                let (a, b) = (a % n, b % n);
                let chunk = bytes[a.min(b)..a.max(b)].to_vec();
                bytes.splice(a..a, chunk);
            }
            _ => {}
        }
    }
    bytes
}

/// A seed of `target` with a few edits, or arbitrary bytes.
fn input(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    let n = seeds.len();
    prop_oneof![
        3 => (0..n, prop::collection::vec(edit(), 1..8))
            .prop_map(move |(i, edits)| mutate(seeds[i].clone(), &edits)),
        1 => prop::collection::vec(any::<u8>(), 0..1024),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn review_ctx() -> ParseContext {
    ParseContext {
        memory_ids: BTreeSet::from(["m_1".to_owned()]),
        max_operations: 20,
    }
}

#[test]
fn every_seed_parses_without_panicking() {
    for seed in seeds("codex_rollout") {
        let _ = parse_chunk(Host::Codex, &seed, 0);
    }
    for seed in seeds("claude_transcript") {
        let _ = parse_chunk(Host::Claude, &seed, 0);
    }
    for seed in seeds("hook_payload") {
        let _ = parse_hook_event(&text(&seed), None);
    }
    for seed in seeds("review_output") {
        let _ = parse_review(&text(&seed), &review_ctx());
    }
    for seed in seeds("env_provider") {
        let _ = csep::store::env::parse_env_provider(&text(&seed));
    }
    for seed in seeds("skill_md") {
        let _ = csep::skills::render::parse(&text(&seed));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_codex_rollout_parser_never_panics(bytes in input("codex_rollout"), offset in 0u64..1 << 40) {
        let chunk = parse_chunk(Host::Codex, &bytes, offset);
        let _ = chunk;
    }

    #[test]
    fn the_claude_transcript_parser_never_panics(bytes in input("claude_transcript"), offset in 0u64..1 << 40) {
        let _ = parse_chunk(Host::Claude, &bytes, offset);
    }

    #[test]
    fn hook_payload_parsing_never_panics_and_never_keeps_an_unsafe_id(bytes in input("hook_payload"), hint in prop_oneof![Just(None), Just(Some(Host::Codex)), Just(Some(Host::Claude))]) {
        if let Ok(Some(event)) = parse_hook_event(&text(&bytes), hint) {
            for id in [event.session_id, event.turn_id].into_iter().flatten() {
                prop_assert!(csep::host::transcript::is_safe_id(&id), "unsafe id kept: {id:?}");
            }
        }
    }

    #[test]
    fn the_reviewer_output_parser_and_repairer_never_panic(bytes in input("review_output")) {
        let _ = parse_review(&text(&bytes), &review_ctx());
    }

    #[test]
    fn env_provider_parsing_never_panics(bytes in input("env_provider")) {
        let _ = csep::store::env::parse_env_provider(&text(&bytes));
    }

    #[test]
    fn skill_frontmatter_parsing_never_panics(bytes in input("skill_md")) {
        let _ = csep::skills::render::parse(&text(&bytes));
    }
}
