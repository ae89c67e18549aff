//! `csep mcp`: a Model Context Protocol server on stdio (the official Rust SDK, `rmcp`) with four
//! tools: `recall`, `remember`, `forget` and `list_memories`.
//!
//! Each tool is a thin adapter over the function the CLI command of the same job calls
//! ([`crate::cli::recall::respond`], [`crate::cli::memory_cmd::add_entry`],
//! [`crate::cli::memory_cmd::forget_entry`], [`crate::cli::memory_cmd::list_entries`]), so the
//! dedupe, transient-noise, secret and budget rules of `csep memory add` apply to `remember` too
//! and nothing is implemented twice. The project is the server's working directory unless a
//! tool call passes `cwd`.
//!
//! Invariants: stdout belongs to the protocol (JSON-RPC lines); warnings go to stderr and the
//! log. The tokio runtime exists only inside this command (current-thread, built in [`run`]), so
//! hooks and every other command never pay for it. Tool failures are tool results with
//! `isError: true` and a message saying what to do; only a malformed request is a protocol
//! error. Requests are served one at a time: each tool is a few milliseconds of SQLite work.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::cli::Ctx;
use crate::cli::args::{HostArg, RecallScopeArg};
use crate::cli::memory_cmd::{self, AddRequest, Forgotten};
use crate::cli::recall::{log_recall, resolve_cwd, respond, since_filter};
use crate::memory::entry::{MemoryEntry, Status as EntryStatus};
use crate::memory::{Kind, Scope};
use crate::recall::render::{self, Status};
use crate::recall::search::{SearchOptions, SearchScope};

/// Most hits one `recall` call returns, whatever `top_k` asks for.
pub const MAX_TOP_K: usize = 50;

/// What the server tells the client about itself at `initialize`.
pub const INSTRUCTIONS: &str = "csep is this user's long-term memory for coding sessions. Call \
    `recall` before redoing earlier work or when the user refers to it (\"as last time\", \"the \
    fix we found\"): it searches what earlier sessions learned and the archived sessions \
    themselves. Call `remember` when the user states a durable preference, rule or fact that \
    should outlive this session (scope `user` for the person, `project` for this repository). \
    `list_memories` shows what is stored; `forget` removes an entry by id.";

/// Arguments of the `recall` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallParams {
    /// What to look for: words, a question or an error message.
    pub query: String,
    /// How many hits to return (default: `[recall] top_k` of csep's config, 5; at most 50).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Where to search: `project` (this project and the user's memory), `global` (every
    /// project ranked together), `sessions` (archived sessions only) or `memory` (memory and
    /// recall entries only). Default: this project first, other projects as a fallback.
    #[serde(default)]
    pub scope: Option<RecallScopeArg>,
    /// The project directory (default: the server's working directory).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Only hits from this time on: a date (`2026-03-01`), a date and time (UTC unless it has
    /// an offset) or an age (`7d`, `12h`, `2w`).
    #[serde(default)]
    pub since: Option<String>,
    /// Only sessions of this host (`codex` or `claude`; memory entries are kept).
    #[serde(default)]
    pub host: Option<HostArg>,
}

/// Arguments of the `remember` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RememberParams {
    /// The entry: a one-line summary, optionally followed by details on the next lines.
    pub text: String,
    /// `user` (applies to the person across projects) or `project` (this repository only).
    pub scope: Scope,
    /// `preference`, `rule`, `fact` (default), `gotcha`, `command` or `reference`.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// The project directory for project scope (default: the server's working directory).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
}

/// Arguments of the `forget` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgetParams {
    /// The entry id (`m_…` memory entry, or a unique prefix of one; `r_…` recall entry), as
    /// `recall` and `list_memories` show it.
    pub id: String,
}

/// Arguments of the `list_memories` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMemoriesParams {
    /// Only `user` or only `project` entries (default: both).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// The project whose entries are listed (default: the server's working directory).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
}

/// The MCP server: csep's command context plus the tool table the `#[tool_router]` macro builds.
#[derive(Debug, Clone)]
pub struct CsepMcp {
    ctx: Arc<Ctx>,
    tool_router: ToolRouter<Self>,
}

/// Formats an error chain as one line for a tool result.
fn message(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// Lists entries as Markdown, one line each: id, scope and kind, flags, summary.
pub fn render_entries(entries: &[MemoryEntry]) -> String {
    if entries.is_empty() {
        return "No memory entries yet.\n".to_owned();
    }
    let mut out = format!("{} memory entries:\n", entries.len());
    for e in entries {
        let mut flags = String::new();
        if e.pinned {
            flags.push_str(" · pinned");
        }
        if e.status != EntryStatus::Active {
            flags.push_str(" · ");
            flags.push_str(e.status.as_str());
        }
        out.push_str(&format!(
            "- `{}` [{} · {}{flags}] {}\n",
            e.id, e.scope, e.kind, e.summary
        ));
    }
    out
}

#[tool_router]
impl CsepMcp {
    /// A server acting for `ctx` (its home, environment and working directory).
    pub fn new(ctx: Ctx) -> Self {
        CsepMcp {
            ctx: Arc::new(ctx),
            tool_router: Self::tool_router(),
        }
    }

    /// `recall`: the Markdown `csep recall` prints.
    #[tool(
        description = "Search what earlier coding sessions learned (memory entries, recall \
                       entries) and the archived sessions themselves. Returns ranked hits as \
                       Markdown with their provenance. Use it before redoing earlier work."
    )]
    pub async fn recall(&self, Parameters(p): Parameters<RecallParams>) -> CallToolResult {
        let ctx = &*self.ctx;
        let query = p.query.trim().to_owned();
        if query.is_empty() {
            return CallToolResult::error(vec![ContentBlock::text(
                "recall needs a query: pass `query` with a few words to look for",
            )]);
        }
        let cwd = match resolve_cwd(ctx, p.cwd.as_deref()) {
            Ok(cwd) => cwd,
            Err(e) => return CallToolResult::error(vec![ContentBlock::text(message(&e))]),
        };
        let since = match since_filter(p.since.as_deref()) {
            Ok(since) => since,
            Err(e) => return CallToolResult::error(vec![ContentBlock::text(message(&e))]),
        };
        let default_top_k = ctx
            .load_config()
            .map(|c| usize::try_from(c.config.recall.top_k).unwrap_or(MAX_TOP_K))
            .unwrap_or(5);
        let opts = SearchOptions {
            scope: p.scope.map_or(SearchScope::Auto, SearchScope::from),
            top_k: p.top_k.unwrap_or(default_top_k).clamp(1, MAX_TOP_K),
            since,
            host: p.host.map(Into::into),
            ..SearchOptions::default()
        };
        let response = respond(ctx, &query, &cwd, &opts, vec!["mcp_tool".to_owned()]);
        log_recall("mcp-recall", &query, &cwd, &response, "markdown");
        let text = render::render_markdown(&response, render::DEFAULT_BUDGET_CHARS);
        if response.status == Status::Error {
            CallToolResult::error(vec![ContentBlock::text(text)])
        } else {
            CallToolResult::success(vec![ContentBlock::text(text)])
        }
    }

    /// `remember`: `csep memory add`.
    #[tool(
        description = "Store a durable preference, rule, fact, gotcha, command or reference in \
                       csep's memory so later sessions get it. Duplicates, transient noise and \
                       secrets are refused with the reason."
    )]
    pub async fn remember(
        &self,
        Parameters(p): Parameters<RememberParams>,
    ) -> Result<String, String> {
        let outcome = memory_cmd::add_entry(
            &self.ctx,
            AddRequest {
                scope: p.scope,
                kind: p.kind.unwrap_or(Kind::Fact),
                cwd: p.cwd.as_deref(),
                pin: false,
                text: &p.text,
                source: "mcp",
            },
        )
        .and_then(|outcome| memory_cmd::check_added(&outcome).map(|()| outcome));
        tracing::info!(
            tool = "remember",
            ok = outcome.is_ok(),
            "mcp tool completed"
        );
        match outcome {
            Ok(outcome) => Ok(memory_cmd::describe_added(&outcome)),
            Err(e) => Err(message(&e)),
        }
    }

    /// `forget`: `csep memory forget`.
    #[tool(
        description = "Forget a memory entry by id (as shown by `recall` or `list_memories`). \
                       It is never injected or recalled again; `csep memory undo ID` restores it."
    )]
    pub async fn forget(&self, Parameters(p): Parameters<ForgetParams>) -> Result<String, String> {
        let result = memory_cmd::forget_entry(&self.ctx, p.id.trim(), "mcp");
        tracing::info!(tool = "forget", ok = result.is_ok(), "mcp tool completed");
        match result {
            Ok(Forgotten::Recall(id)) => Ok(format!("forgot recall entry {id}")),
            Ok(Forgotten::Memory(entry)) => Ok(format!(
                "forgot {} ({}); undo with `csep memory undo {}`",
                entry.id, entry.summary, entry.id
            )),
            Err(e) => Err(message(&e)),
        }
    }

    /// `list_memories`: `csep memory list`.
    #[tool(
        description = "List the active memory entries of the user and of this project, with \
                       their ids, scope, kind and summary."
    )]
    pub async fn list_memories(
        &self,
        Parameters(p): Parameters<ListMemoriesParams>,
    ) -> Result<String, String> {
        let result = memory_cmd::list_entries(&self.ctx, p.scope, p.cwd.as_deref(), false);
        tracing::info!(
            tool = "list_memories",
            ok = result.is_ok(),
            "mcp tool completed"
        );
        result.map(|e| render_entries(&e)).map_err(|e| message(&e))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CsepMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("csep", crate::VERSION))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Runs `csep mcp`: serves MCP on stdin/stdout until the client closes stdin.
pub fn run(ctx: &Ctx) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the MCP server's async runtime")?;
    let server = CsepMcp::new(ctx.clone());
    runtime.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .context("the MCP client did not complete the initialize handshake on stdio")?;
        running
            .waiting()
            .await
            .context("the MCP server stopped abnormally")?;
        anyhow::Ok(())
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_lists_its_four_tools_with_input_schemas() {
        let router = CsepMcp::tool_router();
        let mut names: Vec<String> = router
            .list_all()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["forget", "list_memories", "recall", "remember"]);
        let remember = router
            .list_all()
            .into_iter()
            .find(|t| t.name == "remember")
            .unwrap();
        let schema = serde_json::to_value(&*remember.input_schema).unwrap();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(required, ["text", "scope"]);
    }

    #[test]
    fn entries_render_one_line_each_with_id_scope_kind_and_flags() {
        let entry = MemoryEntry {
            id: "m_1".into(),
            scope: Scope::Project,
            project_id: Some("p_1".into()),
            kind: Kind::Rule,
            summary: "use pytest".into(),
            content: String::new(),
            provenance: Default::default(),
            confidence: 1.0,
            status: EntryStatus::Active,
            pinned: true,
            supersedes: None,
            created_at: "2026-03-01T00:00:00Z".into(),
            updated_at: "2026-03-01T00:00:00Z".into(),
            last_injected_at: None,
            last_used_at: None,
            use_count: 0,
            archived_at: None,
            status_reason: None,
        };
        assert_eq!(
            render_entries(&[entry]),
            "1 memory entries:\n- `m_1` [project · rule · pinned] use pytest\n"
        );
        assert_eq!(render_entries(&[]), "No memory entries yet.\n");
    }
}
