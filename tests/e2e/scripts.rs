//! The shell scripts the README gives for installing and benchmarking: they parse, and the
//! static-link rules they share (`scripts/static-link.sh`) pick the host target and flags
//! without leaking them into the caller's environment.

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `cmd`, asserts it succeeded (showing its stderr if not) and returns its stdout.
fn bash_stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Sources `scripts/static-link.sh` under `set -euo pipefail` (as its callers do) and prints
/// what it set, plus whether `RUSTFLAGS` reached the environment.
fn static_link_choice(extra_env: &[(&str, &str)]) -> (String, String, String, String) {
    let text = bash_stdout(
        Command::new("bash")
            .current_dir(ROOT)
            .env_remove("RUSTFLAGS")
            .envs(extra_env.iter().copied())
            .args([
                "-c",
                "set -euo pipefail; . scripts/static-link.sh; \
             printf '%s\\n%s\\n%s\\n%s' \"$CSEP_BUILD_TARGET\" \"$CSEP_TARGET_SUBDIR\" \
             \"$CSEP_RUSTFLAGS\" \"$(env | grep -c '^RUSTFLAGS=' || true)\"",
            ]),
    );
    let mut lines = text.split('\n').map(str::to_owned);
    let mut next = || lines.next().unwrap_or_default();
    (next(), next(), next(), next())
}

#[test]
fn the_install_and_bench_scripts_parse() {
    for script in [
        "scripts/install.sh",
        "bench/compare.sh",
        "scripts/static-link.sh",
    ] {
        let status = Command::new("bash")
            .current_dir(ROOT)
            .args(["-n", script])
            .status()
            .unwrap();
        assert!(status.success(), "{script} does not parse");
    }
}

#[test]
fn static_linking_targets_the_host_and_can_be_turned_off() {
    let host = String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap();
    let (target, subdir, flags, exported) = static_link_choice(&[]);
    assert_eq!(exported, "0", "RUSTFLAGS must not be exported");
    if target.is_empty() {
        // Not Linux/glibc, or no static libc here: a dynamic build, nothing set.
        assert!(
            subdir.is_empty() && flags.is_empty(),
            "{subdir:?} {flags:?}"
        );
    } else {
        assert!(host.ends_with("-linux-gnu"), "{host}");
        assert_eq!(target, host);
        assert_eq!(subdir, format!("{host}/"));
        assert!(
            flags.contains("target-feature=+crt-static")
                && flags.contains("relocation-model=static"),
            "{flags}"
        );
    }
    let off = static_link_choice(&[("CSEP_STATIC", "0")]);
    assert_eq!(
        off,
        (String::new(), String::new(), String::new(), "0".to_owned())
    );
}

/// `csep_cargo` (what both scripts build with) passes the static flags and `--target` to that
/// one cargo command when static linking is on, and nothing when it is off.
#[cfg(unix)]
#[test]
fn csep_cargo_passes_the_choice_to_cargo_alone() {
    let fake = tempfile::tempdir().unwrap();
    let cargo = fake.path().join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\nprintf 'args=%s\\nrustflags=%s\\n' \"$*\" \"${RUSTFLAGS-unset}\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&cargo).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&cargo, perms).unwrap();
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |extra_env: &[(&str, &str)]| {
        bash_stdout(
            Command::new("bash")
                .current_dir(ROOT)
                .env_remove("RUSTFLAGS")
                .env("PATH", &path)
                .envs(extra_env.iter().copied())
                .args([
                    "-c",
                    "set -euo pipefail; . scripts/static-link.sh; csep_cargo build --release; \
                 printf 'target=%s\\nafter=%s\\n' \"$CSEP_BUILD_TARGET\" \"${RUSTFLAGS-unset}\"",
                ]),
        )
    };
    let on = run(&[]);
    let target = on
        .lines()
        .find_map(|l| l.strip_prefix("target="))
        .unwrap()
        .to_owned();
    if target.is_empty() {
        assert!(
            on.contains("args=build --release\nrustflags=unset\n"),
            "{on}"
        );
    } else {
        assert!(
            on.contains(&format!("args=build --release --target {target}\n")),
            "{on}"
        );
        assert!(
            on.contains("rustflags= -C target-feature=+crt-static"),
            "{on}"
        );
    }
    // The flags were for that command alone.
    assert!(on.ends_with("after=unset\n"), "{on}");
    let off = run(&[("CSEP_STATIC", "0")]);
    assert!(
        off.contains("args=build --release\nrustflags=unset\n"),
        "{off}"
    );
}
