//! Operating commands: `install scheduler` / `uninstall scheduler` (files only, `--unit-dir`),
//! `completions` and the man pages.

use crate::support::{TestHome, stdout_json, success_json};

#[test]
fn scheduler_units_follow_config_and_uninstall_removes_exactly_them() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        "[scheduler]\nscan_interval_seconds = 600\nsynthesis_interval_seconds = 7200\n",
    )
    .unwrap();
    let units = t.scratch().join("units");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(units.join("mine.timer"), "[Timer]\n").unwrap();
    let report = success_json(
        t.csep(&["install", "scheduler", "--json", "--unit-dir"])
            .arg(&units),
    );
    assert_eq!(report["action"], "installed");
    assert_eq!(report["active"], false, "--unit-dir never loads units");
    assert_eq!(report["commands"].as_array().unwrap().len(), 0);
    let cron = report["cron_fallback"].as_array().unwrap();
    assert!(
        cron[0].as_str().unwrap().starts_with("*/10 * * * * "),
        "{cron:?}"
    );
    assert!(
        cron[1].as_str().unwrap().starts_with("0 */2 * * * "),
        "{cron:?}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let home = t.home().display().to_string();
    if cfg!(target_os = "macos") {
        assert_eq!(
            names,
            ["com.csep.scan.plist", "com.csep.skills.plist", "mine.timer"]
        );
    } else {
        assert_eq!(
            names,
            [
                "csep-scan.service",
                "csep-scan.timer",
                "csep-skills.service",
                "csep-skills.timer",
                "mine.timer"
            ]
        );
        let timer = std::fs::read_to_string(units.join("csep-scan.timer")).unwrap();
        assert!(timer.contains("OnUnitActiveSec=600\n"), "{timer}");
        let service = std::fs::read_to_string(units.join("csep-skills.service")).unwrap();
        assert!(
            service.contains(&format!(
                " --home {home} skill-synthesize --mode incremental"
            )),
            "{service}"
        );
    }

    t.csep(&["uninstall", "scheduler"]).assert().success();
    let left: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["mine.timer"]);
    let again = stdout_json(
        &t.csep(&["uninstall", "scheduler", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(again["action"], "not installed");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let t = TestHome::new();
    for (shell, marker) in [
        ("bash", "complete -F _csep"),
        ("zsh", "#compdef csep"),
        ("fish", "complete -c csep"),
    ] {
        let out = t.csep(&["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(script.contains("migrate-worktrees"));
    }
}

#[test]
fn man_pages_are_written_from_the_command_line_definition() {
    let t = TestHome::new();
    let out = t.csep(&["man"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH csep 1"));
    let dir = t.scratch().join("man");
    t.csep(&["man", "--out"]).arg(&dir).assert().success();
    for page in [
        "csep.1",
        "csep-install.1",
        "csep-doctor.1",
        "csep-plugin-bundle.1",
    ] {
        assert!(dir.join(page).is_file(), "{page} missing");
    }
}
