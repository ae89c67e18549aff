//! A small client for `codex app-server` (JSON-RPC 2.0 over stdio, one JSON object per line),
//! used to trust csep's plugin hooks the way Codex itself does (`client-protocols.md` §1.3).
//!
//! Plugin hooks need `trusted_hash` *and* `trusted_content_hash` (a hash of the whole plugin
//! bundle whose algorithm is not public), so csep asks Codex: `initialize` → `hooks/list` →
//! `config/batchWrite` of each hook's `currentHash` (Codex splits `"<hash>/<content hash>"`
//! into the two keys itself). Port of `proto/codex_app_server_rpc.py trust-hooks`.
//!
//! Invariants: only hooks of the given plugin id are ever trusted (never someone else's); every
//! request waits at most [`REQUEST_TIMEOUT`]; the child is killed when the client is dropped.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

/// Longest wait for one response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors talking to `codex app-server`.
#[derive(Debug, thiserror::Error)]
pub enum AppServerError {
    /// The binary could not be started.
    #[error("cannot start `{bin} app-server`: {source}; pass --host-bin with the codex binary")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a request failed or the server exited.
    #[error("`codex app-server` exited or closed its pipes during `{method}`")]
    Closed {
        /// The request.
        method: String,
    },
    /// No answer in time.
    #[error("`codex app-server` did not answer `{method}` within {REQUEST_TIMEOUT:?}")]
    Timeout {
        /// The request.
        method: String,
    },
    /// The server answered with an error.
    #[error("`codex app-server` refused `{method}`: {message}")]
    Rpc {
        /// The request.
        method: String,
        /// Its error object.
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("unexpected answer to `{method}` from `codex app-server`: {detail}")]
    Shape {
        /// The request.
        method: String,
        /// What was wrong.
        detail: String,
    },
}

/// One hook as `hooks/list` reports it (fields csep uses; the rest is ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedHook {
    /// Trust key (`<plugin id>:hooks/hooks.json:<event>:<group>:<handler>` for plugin hooks).
    pub key: String,
    /// Hash to write to trust the hook as it is now.
    #[serde(default)]
    pub current_hash: Option<String>,
    /// `untrusted`, `trusted`, `modified` or `managed`.
    #[serde(default)]
    pub trust_status: Option<String>,
    /// The plugin that ships the hook.
    #[serde(default)]
    pub plugin_id: Option<String>,
    /// The hook's command.
    #[serde(default)]
    pub command: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HooksListWire {
    #[serde(default)]
    data: Vec<HooksListEntryWire>,
}

#[derive(Debug, Deserialize)]
struct HooksListEntryWire {
    #[serde(default)]
    hooks: Vec<ListedHook>,
}

/// A running `codex app-server`.
pub struct AppServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl std::fmt::Debug for AppServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServer")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl AppServer {
    /// Starts `<bin> app-server` with `CODEX_HOME=codex_home` and completes the handshake.
    pub fn start(bin: &Path, codex_home: &Path) -> Result<AppServer, AppServerError> {
        let mut child = Command::new(bin)
            .arg("app-server")
            .env("CODEX_HOME", codex_home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| AppServerError::Spawn {
                bin: bin.to_path_buf(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, rx) = channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut server = AppServer {
            child,
            stdin,
            lines: rx,
            next_id: 0,
        };
        server.call(
            "initialize",
            &json!({"clientInfo": {"name": "csep", "title": "csep", "version": crate::VERSION}}),
        )?;
        server.send(&json!({"method": "initialized"}), "initialized")?;
        Ok(server)
    }

    fn send(&mut self, message: &Value, method: &str) -> Result<(), AppServerError> {
        let closed = || AppServerError::Closed {
            method: method.to_owned(),
        };
        let stdin = self.stdin.as_mut().ok_or_else(closed)?;
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).map_err(|_| closed())?;
        stdin.flush().map_err(|_| closed())
    }

    /// Sends one request and waits for its response (notifications in between are skipped).
    pub fn call(&mut self, method: &str, params: &Value) -> Result<Value, AppServerError> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(
            &json!({"id": id, "method": method, "params": params}),
            method,
        )?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(AppServerError::Timeout {
                        method: method.to_owned(),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(AppServerError::Closed {
                        method: method.to_owned(),
                    });
                }
            };
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if message.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(error) = message.get("error") {
                return Err(AppServerError::Rpc {
                    method: method.to_owned(),
                    message: error.to_string(),
                });
            }
            if let Some(result) = message.get("result") {
                return Ok(result.clone());
            }
        }
    }

    /// `hooks/list` for `cwd`: every hook Codex discovers, flattened.
    pub fn list_hooks(&mut self, cwd: &Path) -> Result<Vec<ListedHook>, AppServerError> {
        let result = self.call("hooks/list", &json!({"cwds": [cwd]}))?;
        let wire: HooksListWire =
            serde_json::from_value(result).map_err(|e| AppServerError::Shape {
                method: "hooks/list".into(),
                detail: e.to_string(),
            })?;
        Ok(wire.data.into_iter().flat_map(|e| e.hooks).collect())
    }

    /// Trusts every hook of `plugin_id` that is not trusted as it is now; returns the trust keys
    /// of the plugin's hooks (all of them, trusted before or now).
    pub fn trust_plugin_hooks(
        &mut self,
        plugin_id: &str,
        cwd: &Path,
    ) -> Result<Vec<String>, AppServerError> {
        let hooks = self.list_hooks(cwd)?;
        let ours: Vec<&ListedHook> = hooks
            .iter()
            .filter(|h| {
                h.plugin_id.as_deref() == Some(plugin_id)
                    || h.key.starts_with(&format!("{plugin_id}:"))
            })
            .collect();
        let edits: Vec<Value> = ours
            .iter()
            .filter(|h| matches!(h.trust_status.as_deref(), Some("untrusted" | "modified")))
            .filter_map(|h| {
                h.current_hash.as_ref().map(|hash| {
                    json!({
                        "keyPath": format!("hooks.state.\"{}\".trusted_hash", h.key),
                        "value": hash,
                        "mergeStrategy": "upsert",
                    })
                })
            })
            .collect();
        if !edits.is_empty() {
            self.call(
                "config/batchWrite",
                &json!({"edits": edits, "reloadUserConfig": true}),
            )?;
        }
        Ok(ours.iter().map(|h| h.key.clone()).collect())
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        // Closing stdin asks the server to exit; a server still running after a grace period
        // is killed (it is our own child, found by its handle, never by name).
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_list_answers_decode_tolerantly() {
        let answer = json!({"data": [{"cwd": "/w", "hooks": [
            {"key": "csep@csep-local:hooks/hooks.json:stop:0:0", "currentHash": "sha256:a/sha256:b",
             "trustStatus": "untrusted", "pluginId": "csep@csep-local", "source": "plugin",
             "command": "/x/csep hook stop", "timeoutSec": 30, "matcher": null},
            {"key": "/h/hooks.json:stop:0:0", "trustStatus": "trusted"}
        ]}]});
        let wire: HooksListWire = serde_json::from_value(answer).unwrap();
        let hooks: Vec<ListedHook> = wire.data.into_iter().flat_map(|e| e.hooks).collect();
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].plugin_id.as_deref(), Some("csep@csep-local"));
        assert_eq!(hooks[1].current_hash, None);
    }
}
