//! The optional OS scheduler: a launchd agent (macOS) or a systemd user timer + service (Linux)
//! that runs `csep scan` and incremental skill synthesis at the `[scheduler]` intervals
//! (defaults 300 s and 14,400 s, the reference's plist intervals, spec §12.3–12.4). A cron line
//! is the fallback where neither exists. The Stop hook already drives the worker, so this only
//! batches what a quiet machine would otherwise leave waiting.
//!
//! Invariants: the generators are pure functions of their inputs (both platforms' files can be
//! generated and tested on any OS); the jobs call the installed csep by absolute path; every
//! file written is recorded in `<csep home>/install/scheduler.json` and uninstall removes exactly
//! those files (a unit file changed since install is left in place and reported). Loading the
//! units (`systemctl --user`, `launchctl`) is attempted and its failure reported, never fatal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::host::install::{FileEdit, InstallError, read_optional, shell_quote};
use crate::store::config::SchedulerConfig;
use crate::store::fsutil;

/// Directories on PATH for the jobs, after the csep binary's own (launchd starts agents with a
/// bare PATH; providers such as `codex exec` need the user's tools).
pub const BASE_PATH: &str = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// Which scheduler a unit set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// macOS launchd user agents.
    Launchd,
    /// systemd user units.
    Systemd,
}

impl Platform {
    /// The platform of this build's OS.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Launchd
        } else {
            Platform::Systemd
        }
    }
}

/// One periodic job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Short name: `scan` or `skills`.
    pub name: &'static str,
    /// What it does, for unit descriptions.
    pub description: &'static str,
    /// Full argv, starting with the csep binary.
    pub argv: Vec<String>,
    /// Seconds between runs.
    pub interval_seconds: u64,
}

impl Job {
    /// launchd label (`com.csep.<name>`).
    pub fn label(&self) -> String {
        format!("com.csep.{}", self.name)
    }

    /// systemd unit stem (`csep-<name>`).
    pub fn unit(&self) -> String {
        format!("csep-{}", self.name)
    }
}

/// The two jobs: `csep scan` and `csep skill-synthesize --mode incremental`.
pub fn jobs(exe: &Path, home: Option<&Path>, config: &SchedulerConfig) -> Vec<Job> {
    let mut base = vec![exe.to_string_lossy().into_owned()];
    if let Some(home) = home {
        base.push("--home".into());
        base.push(home.to_string_lossy().into_owned());
    }
    let with = |args: &[&str]| {
        let mut argv = base.clone();
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv
    };
    vec![
        Job {
            name: "scan",
            description: "compile pending suggestions of every project (csep scan)",
            argv: with(&["scan"]),
            interval_seconds: config.scan_interval_seconds.max(60),
        },
        Job {
            name: "skills",
            description: "incremental skill synthesis (csep skill-synthesize)",
            argv: with(&["skill-synthesize", "--mode", "incremental"]),
            interval_seconds: config.synthesis_interval_seconds.max(60),
        },
    ]
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn job_path(job: &Job) -> String {
    let exe_dir = Path::new(&job.argv[0])
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if exe_dir.is_empty() || BASE_PATH.split(':').any(|d| d == exe_dir) {
        BASE_PATH.to_owned()
    } else {
        format!("{exe_dir}:{BASE_PATH}")
    }
}

/// The launchd agent plist of `job`, logging to `<log_dir>/launchd.<name>.{stdout,stderr}.log`.
pub fn launchd_plist(job: &Job, log_dir: &Path) -> String {
    let mut s = String::new();
    s.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" ",
        "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
        "<plist version=\"1.0\">\n<dict>\n"
    ));
    let _ = writeln!(s, "  <key>Label</key>\n  <string>{}</string>", job.label());
    s.push_str("  <key>ProgramArguments</key>\n  <array>\n");
    for arg in &job.argv {
        let _ = writeln!(s, "    <string>{}</string>", xml_escape(arg));
    }
    s.push_str("  </array>\n");
    let _ = writeln!(
        s,
        "  <key>EnvironmentVariables</key>\n  <dict>\n    <key>PATH</key>\n    <string>{}</string>\n  </dict>",
        xml_escape(&job_path(job))
    );
    let _ = writeln!(
        s,
        "  <key>StartInterval</key>\n  <integer>{}</integer>",
        job.interval_seconds
    );
    s.push_str("  <key>RunAtLoad</key>\n  <false/>\n");
    s.push_str("  <key>ThrottleInterval</key>\n  <integer>60</integer>\n");
    s.push_str("  <key>ProcessType</key>\n  <string>Background</string>\n");
    s.push_str("  <key>LowPriorityIO</key>\n  <true/>\n");
    for (key, stream) in [
        ("StandardOutPath", "stdout"),
        ("StandardErrorPath", "stderr"),
    ] {
        let path = log_dir.join(format!("launchd.{}.{stream}.log", job.name));
        let _ = writeln!(
            s,
            "  <key>{key}</key>\n  <string>{}</string>",
            xml_escape(&path.to_string_lossy())
        );
    }
    s.push_str("</dict>\n</plist>\n");
    s
}

/// Quotes one `ExecStart=` word for systemd (`%` and `$` are systemd specifiers/variables).
fn systemd_word(arg: &str) -> String {
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%$".contains(c));
    if plain {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The systemd user service of `job` (a oneshot the timer starts).
pub fn systemd_service(job: &Job) -> String {
    let exec: Vec<String> = job.argv.iter().map(|a| systemd_word(a)).collect();
    format!(
        "[Unit]\nDescription=csep: {desc}\nDocumentation=man:csep(1)\n\n[Service]\nType=oneshot\n\
         ExecStart={exec}\nEnvironment={path}\nNice=10\nIOSchedulingClass=idle\n",
        desc = job.description,
        exec = exec.join(" "),
        path = systemd_word(&format!("PATH={}", job_path(job))),
    )
}

/// The systemd user timer of `job`: first run one interval after boot, then every interval.
pub fn systemd_timer(job: &Job) -> String {
    format!(
        "[Unit]\nDescription=csep: run {unit}.service every {n} s\n\n[Timer]\nOnBootSec={n}\n\
         OnUnitActiveSec={n}\nAccuracySec=30\nUnit={unit}.service\n\n[Install]\n\
         WantedBy=timers.target\n",
        unit = job.unit(),
        n = job.interval_seconds,
    )
}

/// A crontab line running `job` at about its interval (cron has minute granularity: intervals
/// are rounded to whole minutes below an hour, whole hours below a day, else daily).
pub fn cron_line(job: &Job) -> String {
    let minutes = job.interval_seconds.div_ceil(60).max(1);
    let schedule = if minutes < 60 {
        format!("*/{minutes} * * * *")
    } else if minutes < 24 * 60 {
        format!("0 */{} * * *", minutes.div_ceil(60))
    } else {
        "0 3 * * *".to_owned()
    };
    let command: Vec<String> = job.argv.iter().map(|a| shell_quote(a)).collect();
    format!("{schedule} {} >/dev/null 2>&1", command.join(" "))
}

/// The files of a unit set: (file name, content), for `platform`.
pub fn unit_files(platform: Platform, jobs: &[Job], log_dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for job in jobs {
        match platform {
            Platform::Launchd => {
                files.push((
                    format!("{}.plist", job.label()),
                    launchd_plist(job, log_dir),
                ));
            }
            Platform::Systemd => {
                files.push((format!("{}.service", job.unit()), systemd_service(job)));
                files.push((format!("{}.timer", job.unit()), systemd_timer(job)));
            }
        }
    }
    files
}

/// The default unit directory: `~/Library/LaunchAgents`, or `$XDG_CONFIG_HOME/systemd/user`
/// (else `~/.config/systemd/user`).
pub fn default_unit_dir(
    platform: Platform,
    user_home: &Path,
    xdg_config_home: Option<&Path>,
) -> PathBuf {
    match platform {
        Platform::Launchd => user_home.join("Library/LaunchAgents"),
        Platform::Systemd => xdg_config_home
            .map(Path::to_path_buf)
            .unwrap_or_else(|| user_home.join(".config"))
            .join("systemd/user"),
    }
}

/// What `csep install scheduler` did, kept in `<csep home>/install/scheduler.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerManifest {
    /// Which scheduler.
    pub platform: Platform,
    /// Where the unit files are.
    pub unit_dir: PathBuf,
    /// Files written, with what they held before.
    pub files: Vec<FileEdit>,
    /// Whether the units were loaded (`systemctl --user enable --now`, `launchctl bootstrap`).
    pub activated: bool,
    /// launchd labels / systemd timer names to unload at uninstall.
    pub units: Vec<String>,
    /// When (stored timestamp).
    pub installed_at: String,
}

/// Path of the scheduler manifest.
pub fn manifest_path(csep_home: &Path) -> PathBuf {
    csep_home.join("install").join("scheduler.json")
}

/// Reads the scheduler manifest, if installed.
pub fn read_manifest(csep_home: &Path) -> Option<SchedulerManifest> {
    let text = std::fs::read_to_string(manifest_path(csep_home)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes the scheduler manifest (0600).
pub fn write_manifest(csep_home: &Path, manifest: &SchedulerManifest) -> Result<(), InstallError> {
    let path = manifest_path(csep_home);
    let text = serde_json::to_string_pretty(manifest).unwrap_or_default();
    fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| InstallError::Io {
        action: "write",
        path,
        source,
    })
}

/// Writes the unit files into `unit_dir` (mode 0644: the service manager reads them); returns
/// the edit records. `previous` keeps the state before the first install across reinstalls.
pub fn write_units(
    unit_dir: &Path,
    files: &[(String, String)],
    previous: Option<&SchedulerManifest>,
) -> Result<Vec<FileEdit>, InstallError> {
    std::fs::create_dir_all(unit_dir).map_err(|source| InstallError::Io {
        action: "create",
        path: unit_dir.to_path_buf(),
        source,
    })?;
    let mut edits = Vec::new();
    for (name, text) in files {
        let path = unit_dir.join(name);
        let current = read_optional(&path)?;
        let prior = previous.and_then(|m| m.files.iter().find(|e| e.path == path));
        if current.as_deref() != Some(text.as_str()) {
            fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| InstallError::Io {
                action: "write",
                path: path.clone(),
                source,
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
            }
        }
        edits.push(FileEdit {
            path: path.clone(),
            original: match prior {
                Some(p) => p.original.clone(),
                None => current,
            },
            written: text.clone(),
            backup: None,
        });
    }
    Ok(edits)
}

/// Removes the recorded unit files (restoring a file that existed before the first install);
/// a file changed since install is left and reported.
pub fn remove_units(manifest: &SchedulerManifest) -> Result<Vec<(PathBuf, String)>, InstallError> {
    let mut done = Vec::new();
    for edit in &manifest.files {
        let outcome = crate::host::install::undo_edit(edit, |now| Ok(now.to_owned()))?;
        let outcome = if outcome.starts_with("cleaned") {
            "left in place (changed since install)"
        } else {
            outcome
        };
        done.push((edit.path.clone(), outcome.to_owned()));
    }
    Ok(done)
}

/// Result of one service-manager command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandOutcome {
    /// The command line.
    pub command: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Its error output when it failed.
    pub detail: Option<String>,
}

fn run(program: &str, args: &[String]) -> CommandOutcome {
    let command = format!("{program} {}", args.join(" "));
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => CommandOutcome {
            command,
            ok: true,
            detail: None,
        },
        Ok(out) => CommandOutcome {
            command,
            ok: false,
            detail: Some(
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .chars()
                    .take(300)
                    .collect(),
            ),
        },
        Err(e) => CommandOutcome {
            command,
            ok: false,
            detail: Some(e.to_string()),
        },
    }
}

fn user_id(unit_dir: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(unit_dir).ok().map(|m| m.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = unit_dir;
        None
    }
}

/// Loads the units into the service manager; every command's outcome is returned.
pub fn activate(platform: Platform, unit_dir: &Path, jobs: &[Job]) -> Vec<CommandOutcome> {
    match platform {
        Platform::Systemd => {
            let mut out = vec![run("systemctl", &["--user".into(), "daemon-reload".into()])];
            let mut args = vec!["--user".into(), "enable".into(), "--now".into()];
            args.extend(jobs.iter().map(|j| format!("{}.timer", j.unit())));
            out.push(run("systemctl", &args));
            out
        }
        Platform::Launchd => {
            let domain = format!("gui/{}", user_id(unit_dir).unwrap_or(0));
            let mut out = Vec::new();
            for job in jobs {
                // A previous version of the agent is unloaded first; its failure is expected
                // when none is loaded.
                let _ = run(
                    "launchctl",
                    &["bootout".into(), format!("{domain}/{}", job.label())],
                );
                let plist = unit_dir.join(format!("{}.plist", job.label()));
                out.push(run(
                    "launchctl",
                    &[
                        "bootstrap".into(),
                        domain.clone(),
                        plist.display().to_string(),
                    ],
                ));
            }
            out
        }
    }
}

/// Unloads the units (before their files are removed).
pub fn deactivate(manifest: &SchedulerManifest) -> Vec<CommandOutcome> {
    match manifest.platform {
        Platform::Systemd => {
            let mut args = vec!["--user".into(), "disable".into(), "--now".into()];
            args.extend(manifest.units.iter().cloned());
            vec![run("systemctl", &args)]
        }
        Platform::Launchd => {
            let domain = format!("gui/{}", user_id(&manifest.unit_dir).unwrap_or(0));
            manifest
                .units
                .iter()
                .map(|label| {
                    run(
                        "launchctl",
                        &["bootout".into(), format!("{domain}/{label}")],
                    )
                })
                .collect()
        }
    }
}

/// Reloads systemd after unit files were removed (no-op for launchd).
pub fn after_removal(platform: Platform) -> Option<CommandOutcome> {
    (platform == Platform::Systemd)
        .then(|| run("systemctl", &["--user".into(), "daemon-reload".into()]))
}

/// The units to unload at uninstall: launchd labels or systemd timers.
pub fn unit_names(platform: Platform, jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .map(|j| match platform {
            Platform::Launchd => j.label(),
            Platform::Systemd => format!("{}.timer", j.unit()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_jobs() -> Vec<Job> {
        jobs(
            Path::new("/Users/me/.cargo/bin/csep"),
            Some(Path::new("/Users/me/csep home")),
            &SchedulerConfig::default(),
        )
    }

    #[test]
    fn launchd_plists_match_their_snapshots() {
        for (name, text) in unit_files(
            Platform::Launchd,
            &sample_jobs(),
            Path::new("/Users/me/csep home/logs"),
        ) {
            insta::assert_snapshot!(name, text);
        }
    }

    #[test]
    fn systemd_units_match_their_snapshots() {
        for (name, text) in unit_files(
            Platform::Systemd,
            &sample_jobs(),
            Path::new("/home/me/csep home/logs"),
        ) {
            insta::assert_snapshot!(name, text);
        }
    }

    #[test]
    fn intervals_default_to_the_reference_plist_values_and_follow_config() {
        let default = sample_jobs();
        assert_eq!(default[0].interval_seconds, 300);
        assert_eq!(default[1].interval_seconds, 14_400);
        let custom = jobs(
            Path::new("/b/csep"),
            None,
            &SchedulerConfig {
                scan_interval_seconds: 900,
                synthesis_interval_seconds: 3600,
            },
        );
        assert_eq!(custom[0].argv, ["/b/csep", "scan"]);
        assert!(systemd_timer(&custom[0]).contains("OnUnitActiveSec=900\n"));
        assert!(launchd_plist(&custom[1], Path::new("/l")).contains("<integer>3600</integer>"));
    }

    #[rstest::rstest]
    #[case::five_minutes(300, "*/5 * * * *")]
    #[case::ninety_seconds(90, "*/2 * * * *")]
    #[case::four_hours(14_400, "0 */4 * * *")]
    #[case::two_days(172_800, "0 3 * * *")]
    fn cron_lines_round_intervals_to_cron_granularity(
        #[case] seconds: u64,
        #[case] schedule: &str,
    ) {
        let job = Job {
            name: "scan",
            description: "",
            argv: vec!["/b/my csep".into(), "scan".into()],
            interval_seconds: seconds,
        };
        assert_eq!(
            cron_line(&job),
            format!("{schedule} '/b/my csep' scan >/dev/null 2>&1")
        );
    }

    #[test]
    fn systemd_words_escape_specifiers_and_quote_spaces() {
        assert_eq!(systemd_word("/usr/bin/csep"), "/usr/bin/csep");
        assert_eq!(systemd_word("/a b/100%"), "\"/a b/100%%\"");
        assert_eq!(systemd_word("$HOME"), "$$HOME");
    }

    #[test]
    fn units_are_written_and_removed_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let files = unit_files(Platform::Systemd, &sample_jobs(), Path::new("/l"));
        std::fs::write(dir.path().join("unrelated.service"), "x").unwrap();
        let edits = write_units(dir.path(), &files, None).unwrap();
        assert_eq!(edits.len(), 4);
        let manifest = SchedulerManifest {
            platform: Platform::Systemd,
            unit_dir: dir.path().to_path_buf(),
            files: edits,
            activated: false,
            units: unit_names(Platform::Systemd, &sample_jobs()),
            installed_at: "now".into(),
        };
        let done = remove_units(&manifest).unwrap();
        assert!(done.iter().all(|(_, what)| what == "removed"), "{done:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["unrelated.service"]);
    }
}
