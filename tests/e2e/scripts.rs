//! The shell scripts the README gives for installing and benchmarking: they parse, and the
//! static-link rules they share (`scripts/static-link.sh`) pick the host target and flags
//! without leaking them into the caller's environment.

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Sources `scripts/static-link.sh` under `set -euo pipefail` (as its callers do) and prints
/// what it set, plus whether `RUSTFLAGS` reached the environment.
fn static_link_choice(extra_env: &[(&str, &str)]) -> (String, String, String, String) {
    let out = Command::new("bash")
        .current_dir(ROOT)
        .env_remove("RUSTFLAGS")
        .envs(extra_env.iter().copied())
        .args([
            "-c",
            "set -euo pipefail; . scripts/static-link.sh; \
             printf '%s\\n%s\\n%s\\n%s' \"$CSEP_BUILD_TARGET\" \"$CSEP_TARGET_SUBDIR\" \
             \"$CSEP_RUSTFLAGS\" \"$(env | grep -c '^RUSTFLAGS=' || true)\"",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
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
