//! The environment snapshot and the `<home>/.env.provider` secrets file.
//!
//! Library code never calls `std::env::var`: the binary takes one [`Env`] snapshot at start-up
//! ([`Env::from_process`]) and passes it down, and tests build one from pairs
//! ([`Env::from_pairs`]) so they never touch the process environment.
//!
//! `.env.provider` holds API keys in dotenv style, one `KEY=value` per line. The parser is strict
//! and inert: it never expands `$VAR` or runs `$(...)`, and every line it cannot read becomes a
//! warning with its line number instead of a guess. Variables already set in the process win over
//! the file. Values are secrets, so no `Debug`, `Display`, error or warning in this module ever
//! shows one; only names and line numbers are printed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Errors reading `.env.provider`. Messages name the file and never contain a value.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// The file exists but could not be read (permissions, I/O).
    #[error("cannot read {path}: {source}; check its permissions (it should be `chmod 600`)")]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text; rewrite it as plain `KEY=value` lines")]
    NotUtf8 {
        /// The file that failed.
        path: PathBuf,
    },
}

/// Where a variable in an [`Env`] snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSource {
    /// The process environment (or the pairs a test passed to [`Env::from_pairs`]).
    Process,
    /// `<home>/.env.provider`, added by [`Env::with_provider_file`].
    ProviderFile,
}

/// An immutable snapshot of environment variables.
///
/// An empty value counts as unset: [`Env::get`] returns `None` for it, and
/// [`Env::with_provider_file`] may fill it from the file. `Debug` prints names only.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    from_file: BTreeSet<String>,
}

impl Env {
    /// Snapshots the real process environment.
    ///
    /// This is the only function in the library that reads the process environment; call it once,
    /// in `main`, and pass the snapshot down. Variables whose name or value is not UTF-8 are
    /// skipped (no setting csep reads can be non-UTF-8).
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self {
            vars,
            from_file: BTreeSet::new(),
        }
    }

    /// Builds a snapshot from explicit pairs, for tests and for callers that scrub the environment.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            from_file: BTreeSet::new(),
        }
    }

    /// Returns the value of `name`, or `None` when it is unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Returns whether `name` is set to a non-empty value.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Returns where `name` came from, or `None` when it is unset or empty.
    pub fn source_of(&self, name: &str) -> Option<EnvSource> {
        self.get(name)?;
        if self.from_file.contains(name) {
            Some(EnvSource::ProviderFile)
        } else {
            Some(EnvSource::Process)
        }
    }

    /// Iterates over the names of the variables that are set (non-empty), in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// Returns a new snapshot with every `.env.provider` entry whose name is not already set added,
    /// plus the sorted names that were applied.
    ///
    /// Variables already set (non-empty) always win, so an exported key overrides the file.
    pub fn with_provider_file(mut self, file: &EnvProviderFile) -> (Env, Vec<String>) {
        let mut applied = Vec::new();
        for entry in &file.entries {
            if self.is_set(&entry.name) {
                continue;
            }
            self.vars.insert(entry.name.clone(), entry.value.clone());
            self.from_file.insert(entry.name.clone());
            applied.push(entry.name.clone());
        }
        applied.sort();
        applied.dedup();
        (self, applied)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .field("from_provider_file", &self.from_file)
            .finish()
    }
}

/// One `KEY=value` assignment read from `.env.provider`. `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvEntry {
    name: String,
    value: String,
    line: usize,
}

impl EnvEntry {
    /// The variable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, unquoted and unescaped. It is a secret: never log or print it.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The 1-based line the assignment sits on.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl fmt::Debug for EnvEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvEntry")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .field("line", &self.line)
            .finish()
    }
}

/// A line of `.env.provider` that was skipped, and why. Never contains a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvWarning {
    /// The 1-based line number.
    pub line: usize,
    /// Why the line was skipped or what was surprising about it.
    pub reason: String,
}

impl fmt::Display for EnvWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// The result of [`parse_env_provider`]: the assignments kept and the lines warned about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvProviderParse {
    /// Assignments in file order; for a duplicated name only the last one is kept.
    pub entries: Vec<EnvEntry>,
    /// One warning per skipped or suspicious line, in line order.
    pub warnings: Vec<EnvWarning>,
}

/// Parses `.env.provider` text.
///
/// Rules: blank lines and lines starting with `#` are skipped; an optional `export ` prefix is
/// accepted; names match `[A-Za-z_][A-Za-z0-9_]*`. A value is unquoted (trimmed; whitespace
/// followed by `#` starts a comment), single-quoted (literal) or double-quoted (`\"`, `\\`, `\n`,
/// `\t`, `\r` are unescaped; any other backslash stays literal). A comment may follow a quoted
/// value; any other text after the closing quote skips the line with a warning. Empty values are
/// dropped. Nothing is expanded or executed. A repeated name keeps the last value and warns.
pub fn parse_env_provider(text: &str) -> EnvProviderParse {
    let mut out = EnvProviderParse::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let warn = |out: &mut EnvProviderParse, reason: &str| {
            out.warnings.push(EnvWarning {
                line,
                reason: reason.to_owned(),
            });
        };
        match parse_line(raw) {
            Line::Skip => {}
            Line::Bad(reason) => warn(&mut out, reason),
            Line::Assign { name, value } => {
                if value.is_empty() {
                    continue;
                }
                if let Some(pos) = out.entries.iter().position(|e| e.name == name) {
                    let first = out.entries.remove(pos).line;
                    warn(
                        &mut out,
                        &format!(
                            "duplicate key `{name}` (also on line {first}); the later value wins"
                        ),
                    );
                }
                out.entries.push(EnvEntry {
                    name: name.to_owned(),
                    value,
                    line,
                });
            }
        }
    }
    out
}

/// What one line of `.env.provider` holds.
enum Line<'a> {
    Skip,
    Bad(&'static str),
    Assign { name: &'a str, value: String },
}

fn parse_line(raw: &str) -> Line<'_> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Line::Skip;
    }
    let body = match trimmed.strip_prefix("export") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => trimmed,
    };
    let Some((name, rest)) = body.split_once('=') else {
        return Line::Bad("not a KEY=value assignment; ignored");
    };
    let name = name.trim_end();
    if !is_valid_name(name) {
        return Line::Bad("invalid variable name (must match [A-Za-z_][A-Za-z0-9_]*); ignored");
    }
    let rest = rest.trim_start();
    let parsed = if let Some(quoted) = rest.strip_prefix('\'') {
        quoted
            .split_once('\'')
            .map(|(value, after)| (value.to_owned(), after))
    } else if let Some(quoted) = rest.strip_prefix('"') {
        unescape_double(quoted)
    } else {
        return Line::Assign {
            name,
            value: unquoted_value(rest).to_owned(),
        };
    };
    let Some((value, after)) = parsed else {
        return Line::Bad("unterminated quote; ignored");
    };
    let after = after.trim_start();
    if after.is_empty() || after.starts_with('#') {
        Line::Assign { name, value }
    } else {
        Line::Bad("unexpected text after the closing quote; ignored")
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The value of an unquoted assignment: up to a `#` preceded by whitespace, trimmed.
/// `rest` has already lost its leading whitespace, so a leading `#` is a comment too.
fn unquoted_value(rest: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in rest.char_indices() {
        if c == '#' && prev_space {
            return rest[..i].trim_end();
        }
        prev_space = c.is_whitespace();
    }
    rest.trim_end()
}

/// Reads a double-quoted value up to its closing quote; returns the value and the text after it.
fn unescape_double(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            },
            other => value.push(other),
        }
    }
    None
}

/// A parsed `<home>/.env.provider`. `Debug` shows names, never values.
#[derive(Clone)]
pub struct EnvProviderFile {
    /// Where the file was read from.
    pub path: PathBuf,
    /// The assignments kept, in file order.
    pub entries: Vec<EnvEntry>,
    /// Lines that were skipped or surprising.
    pub warnings: Vec<EnvWarning>,
    /// Set when other users can read or write the file (unix only).
    pub mode_warning: Option<String>,
}

impl EnvProviderFile {
    /// Reads and parses `path`; `Ok(None)` when the file does not exist.
    ///
    /// On unix a file whose mode grants anything to group or others gets a
    /// [`mode_warning`](Self::mode_warning) with the `chmod 600` fix.
    pub fn load(path: &Path) -> Result<Option<Self>, EnvError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(EnvError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| EnvError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        let mut file = Self::from_text(path, &text);
        file.mode_warning = mode_warning(path);
        Ok(Some(file))
    }

    /// Parses `text` as if read from `path`, without touching the file system.
    pub fn from_text(path: &Path, text: &str) -> Self {
        let parsed = parse_env_provider(text);
        Self {
            path: path.to_path_buf(),
            entries: parsed.entries,
            warnings: parsed.warnings,
            mode_warning: None,
        }
    }

    /// The names the file sets, sorted.
    pub fn key_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// Every warning as a display line prefixed with the file path, mode warning first.
    pub fn warning_lines(&self) -> Vec<String> {
        let path = self.path.display();
        self.mode_warning
            .iter()
            .cloned()
            .chain(self.warnings.iter().map(|w| format!("{path}: {w}")))
            .collect()
    }
}

impl fmt::Debug for EnvProviderFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvProviderFile")
            .field("path", &self.path)
            .field("keys", &self.key_names())
            .field("warnings", &self.warnings)
            .field("mode_warning", &self.mode_warning)
            .finish()
    }
}

#[cfg(unix)]
fn mode_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return None;
    }
    let what = if mode & 0o044 != 0 {
        "readable"
    } else {
        "writable"
    };
    let path = path.display();
    Some(format!(
        "{path} is {what} by other users (mode {mode:04o}); run `chmod 600 {path}`"
    ))
}

#[cfg(not(unix))]
fn mode_warning(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
