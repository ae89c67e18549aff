use super::*;
use pretty_assertions::assert_eq;

struct Env {
    _dir: tempfile::TempDir,
    roots: Roots,
    codex: PathBuf,
    claude: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let codex = dir.path().join("codex");
    let claude = dir.path().join("claude");
    let roots = Roots::new(&dir.path().join("csep"), Some(&codex), Some(&claude));
    Env {
        roots,
        codex: codex.join("skills"),
        claude: claude.join("skills"),
        _dir: dir,
    }
}

const TEXT: &str = "---\nname: csep-x\ndescription: \"Use when x.\"\n---\nbody\n";

#[test]
fn publishing_writes_the_same_file_into_both_hosts_and_records_hashes() {
    let e = env();
    let report = publish(&e.roots, "csep-x", TEXT, &[]).unwrap();
    let codex_file = e.codex.join("csep-x/SKILL.md");
    let claude_file = e.claude.join("csep-x/SKILL.md");
    assert_eq!(std::fs::read_to_string(&codex_file).unwrap(), TEXT);
    assert_eq!(std::fs::read_to_string(&claude_file).unwrap(), TEXT);
    let hash = content_hash(TEXT.as_bytes());
    assert_eq!(
        report.manifest,
        vec![
            ManifestEntry {
                host: "codex".into(),
                path: codex_file.to_string_lossy().into_owned(),
                hash: hash.clone(),
                released: false
            },
            ManifestEntry {
                host: "claude".into(),
                path: claude_file.to_string_lossy().into_owned(),
                hash,
                released: false
            },
        ]
    );
    assert_eq!(report.written.len(), 2);
    // Publishing again changes nothing.
    let again = publish(&e.roots, "csep-x", TEXT, &report.manifest).unwrap();
    assert_eq!(again.written, Vec::<String>::new());
    assert_eq!(again.unchanged.len(), 2);
}

#[test]
fn a_new_version_replaces_files_csep_still_owns() {
    let e = env();
    let first = publish(&e.roots, "csep-x", TEXT, &[]).unwrap();
    let v2 = TEXT.replace("body", "body v2");
    let second = publish(&e.roots, "csep-x", &v2, &first.manifest).unwrap();
    assert_eq!(second.written.len(), 2);
    assert_eq!(
        std::fs::read_to_string(e.codex.join("csep-x/SKILL.md")).unwrap(),
        v2
    );
}

#[test]
fn a_skill_the_user_edited_is_left_alone_and_released() {
    let e = env();
    let first = publish(&e.roots, "csep-x", TEXT, &[]).unwrap();
    let edited = format!("{TEXT}my own notes\n");
    std::fs::write(e.codex.join("csep-x/SKILL.md"), &edited).unwrap();
    let v2 = TEXT.replace("body", "body v2");
    let second = publish(&e.roots, "csep-x", &v2, &first.manifest).unwrap();
    assert_eq!(
        std::fs::read_to_string(e.codex.join("csep-x/SKILL.md")).unwrap(),
        edited
    );
    assert_eq!(
        std::fs::read_to_string(e.claude.join("csep-x/SKILL.md")).unwrap(),
        v2
    );
    assert_eq!(second.left_alone.len(), 1);
    assert!(second.left_alone[0].why.contains("edited by the user"));
    let codex_entry = second.manifest.iter().find(|m| m.host == "codex").unwrap();
    assert!(codex_entry.released);
    // Unpublishing removes only the file csep still owns.
    let gone = unpublish("csep-x", &second.manifest).unwrap();
    assert!(e.codex.join("csep-x/SKILL.md").exists());
    assert!(!e.claude.join("csep-x").exists());
    assert_eq!(gone.left_alone.len(), 1);
    assert_eq!(gone.remaining.len(), 1);
}

#[test]
fn a_foreign_file_under_the_same_name_is_not_overwritten() {
    let e = env();
    std::fs::create_dir_all(e.codex.join("csep-x")).unwrap();
    std::fs::write(e.codex.join("csep-x/SKILL.md"), "someone else's").unwrap();
    let report = publish(&e.roots, "csep-x", TEXT, &[]).unwrap();
    assert_eq!(
        std::fs::read_to_string(e.codex.join("csep-x/SKILL.md")).unwrap(),
        "someone else's"
    );
    assert_eq!(report.left_alone.len(), 1);
    assert_eq!(report.manifest.len(), 1, "only claude's copy is csep's");
}

#[test]
fn detect_user_edits_releases_changed_files_only() {
    let e = env();
    let first = publish(&e.roots, "csep-x", TEXT, &[]).unwrap();
    std::fs::write(e.claude.join("csep-x/SKILL.md"), "changed").unwrap();
    let (manifest, edited) = detect_user_edits(&first.manifest);
    assert_eq!(
        edited,
        vec![
            e.claude
                .join("csep-x/SKILL.md")
                .to_string_lossy()
                .into_owned()
        ]
    );
    assert_eq!(manifest.iter().filter(|m| m.released).count(), 1);
}

#[rstest::rstest]
#[case::no_prefix("deploy")]
#[case::traversal("csep-../../etc")]
#[case::slash("csep-a/b")]
#[case::bare("csep-")]
#[case::uppercase("csep-X")]
fn names_outside_the_namespace_are_refused(#[case] name: &str) {
    let e = env();
    assert!(matches!(
        publish(&e.roots, name, TEXT, &[]),
        Err(SkillError::OutsideNamespace { .. })
    ));
    assert!(matches!(
        stage(&e.roots, name, TEXT),
        Err(SkillError::OutsideNamespace { .. })
    ));
    assert!(!e.codex.exists());
}

#[test]
fn orphans_include_reference_leftovers_but_not_managed_or_foreign_skills() {
    let e = env();
    let managed = publish(&e.roots, "csep-x", TEXT, &[]).unwrap();
    for dir in [
        "csep-synth-old-workflow",
        "csep-reflect-notes",
        "csep-managed",
        "csep-stray",
        "my-own-skill",
    ] {
        std::fs::create_dir_all(e.codex.join(dir)).unwrap();
        std::fs::write(e.codex.join(dir).join("SKILL.md"), "x").unwrap();
    }
    std::fs::create_dir_all(e.roots.staging.join("csep-gone")).unwrap();
    let paths: Vec<String> = managed.manifest.iter().map(|m| m.path.clone()).collect();
    let orphans = find_orphans(&e.roots, &paths, &["csep-x".into()], &[]);
    let found: Vec<(String, OrphanKind)> = orphans
        .iter()
        .map(|o| {
            (
                Path::new(&o.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                o.kind,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("csep-managed".into(), OrphanKind::ReferenceLeftover),
            ("csep-reflect-notes".into(), OrphanKind::ReferenceLeftover),
            ("csep-stray".into(), OrphanKind::Unmanaged),
            (
                "csep-synth-old-workflow".into(),
                OrphanKind::ReferenceLeftover
            ),
            ("csep-gone".into(), OrphanKind::StaleCopy),
        ]
    );
    for orphan in &orphans {
        remove_orphan(&e.roots, orphan).unwrap();
    }
    assert!(e.codex.join("my-own-skill/SKILL.md").exists());
    assert!(e.codex.join("csep-x/SKILL.md").exists());
    assert!(!e.codex.join("csep-synth-old-workflow").exists());
}

#[cfg(unix)]
#[test]
fn removing_a_symlinked_orphan_never_follows_it() {
    let e = env();
    let outside = e.roots.staging.parent().unwrap().join("precious");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "keep").unwrap();
    std::fs::create_dir_all(&e.codex).unwrap();
    std::os::unix::fs::symlink(&outside, e.codex.join("csep-synth-link")).unwrap();
    let orphans = find_orphans(&e.roots, &[], &[], &[]);
    assert_eq!(orphans.len(), 1);
    remove_orphan(&e.roots, &orphans[0]).unwrap();
    assert!(outside.join("keep.txt").exists());
    assert!(!e.codex.join("csep-synth-link").exists());
}

#[test]
fn an_orphan_outside_the_roots_is_refused() {
    let e = env();
    let orphan = Orphan {
        path: "/etc/csep-x".into(),
        location: "codex".into(),
        kind: OrphanKind::Unmanaged,
    };
    assert!(remove_orphan(&e.roots, &orphan).is_err());
}

#[test]
fn the_inventory_reads_host_skills_and_nested_system_skills() {
    let e = env();
    std::fs::create_dir_all(e.codex.join("pdf")).unwrap();
    std::fs::write(
        e.codex.join("pdf/SKILL.md"),
        "---\nname: pdf\ndescription: Use when reading PDFs.\n---\n",
    )
    .unwrap();
    std::fs::create_dir_all(e.codex.join(".system/imagegen")).unwrap();
    std::fs::write(
        e.codex.join(".system/imagegen/SKILL.md"),
        "---\nname: imagegen\ndescription: Use when generating images.\n---\n",
    )
    .unwrap();
    let names: Vec<String> = read_inventory(&e.roots)
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["imagegen", "pdf"]);
}
