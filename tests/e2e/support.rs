//! `TestHome`: a temporary `--home` and a command builder that leaves the user's own
//! environment (CSEP_*, CODEX_*, CLAUDE_*, provider keys) out of every test.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A fresh home directory for one test.
pub struct TestHome {
    dir: TempDir,
}

impl TestHome {
    /// Creates an empty temporary directory; the home itself is `<dir>/home` and does not exist
    /// yet, as on a new machine.
    pub fn new() -> TestHome {
        TestHome {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The csep home (may not exist yet).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A scratch directory beside the home.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// A directory `name` under the scratch directory, registered as a project in the home's
    /// database (created and migrated through the library, as a hook would): the store, the
    /// project and the directory.
    pub fn registered_project(
        &self,
        name: &str,
    ) -> (
        csep::store::db::Store,
        csep::store::project::Project,
        PathBuf,
    ) {
        let dir = self.scratch().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let store = csep::store::db::Store::open(&self.home().join("csep.db")).unwrap();
        let identity = csep::store::identity::RepoIdentity::resolve(&dir).unwrap();
        let project =
            csep::store::project::upsert(&store, &identity, "2026-11-25T00:00:00Z").unwrap();
        (store, project, dir)
    }

    /// `csep --home <home> ARGS…` with a clean environment.
    pub fn csep(&self, args: &[&str]) -> Command {
        self.bin("csep", args)
    }

    /// The reference-named binary with the same clean environment.
    pub fn reference(&self, args: &[&str]) -> Command {
        self.bin("codex-self-evolution", args)
    }

    /// `csep --home <home> ARGS…` as a `std::process::Command` with the same clean environment,
    /// for tests that talk to a running process (the MCP server) over its pipes.
    pub fn csep_process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_csep"));
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CSEP_")
                || key.starts_with("CODEX_")
                || key.starts_with("CLAUDE_")
                || key.ends_with("_API_KEY")
            {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", self.dir.path().join("user"));
        cmd.current_dir(self.dir.path());
        cmd.arg("--home").arg(self.home());
        cmd.args(args);
        cmd
    }

    fn bin(&self, name: &str, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin(name).expect("binary built");
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CSEP_")
                || key.starts_with("CODEX_")
                || key.starts_with("CLAUDE_")
                || key.ends_with("_API_KEY")
            {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", self.dir.path().join("user"));
        cmd.current_dir(self.dir.path());
        cmd.arg("--home").arg(self.home());
        cmd.args(args);
        cmd
    }
}

/// Runs `cmd`, asserts that it succeeded (showing its stderr if not) and parses its stdout as
/// JSON.
pub fn success_json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

/// Parses a command's stdout as JSON.
pub fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Copies the demo's sample Codex rollouts into `<scratch>/sessions` with their project directory
/// rewritten to `<scratch>/shopfront`, backfills them with `csep import codex-sessions`, and
/// returns the project directory.
pub fn backfill_demo_sessions(t: &TestHome) -> PathBuf {
    let project = t.scratch().join("shopfront");
    let dir = t.scratch().join("sessions");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::create_dir_all(&dir).expect("sessions dir");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/sessions");
    for entry in std::fs::read_dir(samples).expect("demo sessions") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.starts_with("rollout-") {
            let text = std::fs::read_to_string(&path).expect("sample");
            let text = text.replace("/home/dev/shopfront", &project.to_string_lossy());
            std::fs::write(dir.join(name), text).expect("write sample");
        }
    }
    let out = t
        .csep(&["import", "codex-sessions", "--dir"])
        .arg(&dir)
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    project
}

/// Makes `command` provider profile `local` (a script printing `answer` whatever it is asked) the
/// active profile of the home: a deterministic stand-in for an LLM.
pub fn use_scripted_provider(t: &TestHome, answer: &str) {
    let answer_file = t.scratch().join("answer.json");
    std::fs::write(&answer_file, answer).expect("answer");
    let script = t.scratch().join("model.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >/dev/null\ncat '{}'\n",
            answer_file.display()
        ),
    )
    .expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::create_dir_all(t.home()).expect("home");
    std::fs::write(
        t.home().join("config.toml"),
        format!(
            "schema_version = 3\nactive_profile = \"local\"\n[profiles.local]\nprovider = \"command\"\ncommand = [\"{}\"]\n",
            script.display()
        ),
    )
    .expect("config");
}
