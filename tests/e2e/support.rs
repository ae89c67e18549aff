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

/// Parses a command's stdout as JSON.
pub fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
