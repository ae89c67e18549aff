//! Secret redaction shared by ingest, every file write and every provider request.
//!
//! This module owns the one pass that turns arbitrary text (transcript lines, raw JSONL, tool
//! output, evidence files, provider prompts) into text that can be stored or sent. It reads UTF-8
//! text or a `serde_json::Value` and replaces each secret with `[REDACTED:<kind>]`, where `<kind>`
//! is a [`SecretKind`] name. When only part of a match is secret (a password inside a URL, the
//! value of `API_KEY=…`), only that part is replaced.
//!
//! Invariants:
//! - **Idempotent.** `redact(redact(x)) == redact(x)`. A marker is never matched again: any
//!   candidate that overlaps a `[REDACTED…]` marker is dropped.
//! - **Borrowed when clean.** Text with nothing to redact comes back as `Cow::Borrowed`, and a
//!   cheap prefilter skips the full rule set for text with no trigger at all.
//! - **Offsets are in the input.** [`Finding`] offsets are byte offsets into the original text.
//!   Overlapping findings are merged, and the merged finding takes the most specific kind
//!   ([`SecretKind`] declaration order).
//! - **Fail closed.** If the patterns could not be compiled (a bug that the unit tests rule
//!   out), the free functions return a [`UNAVAILABLE_MARKER`] instead of the input.
//!
//! The reference implementation had six regexes, applied them only on one path and missed
//! `KEY: value`, GitHub/Slack tokens, JWTs, PEM keys, AWS secret keys and URL credentials
//! (reference spec §8.8 and §15.1 item 5; lessons item 20). This module covers those formats and
//! is meant to be called on every write path.
//!
//! False-positive rules (each is tested in `redact_tests.rs`):
//! - Vendor-prefixed tokens need a token boundary on the left (`task-sk-learning…` is a word)
//!   and a random-looking body: digits and letters, a long alphanumeric run, and no `xxxx`
//!   placeholder.
//! - `NAME=value`, `NAME: value`, `"name": "value"` and `--name value` redact the value only when
//!   the name is secret-like word by word (`password`, `token`, `secret`, `api key`, `auth`, …)
//!   and has no metadata word (`count`, `length`, `max`, `ttl`, `file`, `path`, `url`, `id`,
//!   `type`, …). So `PASSWORD_MIN_LENGTH=8`, `token_count` and `max_tokens` survive. A name whose
//!   only secret word is `key` (`cache_key`, `SSH_KEY`) needs a random-looking value.
//! - The value is not a secret when it is a placeholder (`$VAR`, `${…}`, `<your-key>`, `{{…}}`,
//!   `sk-...`, `xxxx`, `your…`), a keyword (`null`, `true`, `string`, …), a number shorter than
//!   eight digits (a limit, a port, a count), a path or a URL, or, when unquoted, code (a call, a
//!   dotted path such as `self.token`, an identifier such as `OPENAI_API_KEY` or `api_key`).
//! - A password on a command line (`mysql -p…`, `sshpass -p`, `redis-cli -a`, `curl -u`,
//!   `docker login -p`) counts only when its command is in command position (not an argument
//!   such as `find -name mysql`), when its flag is the first of that command, and when the value
//!   is not a variable, a placeholder name (`API_TOKEN`, `mypassword`), a port mapping, code
//!   building the command (`"-p" + pw`) or, after a blank, a stop word or a word ending a
//!   sentence. A `.netrc` password needs `machine <host> login` or a line-initial `default`.
//! - The generic high-entropy rule only considers runs of 32 to 100 base64 characters that mix
//!   upper case, lower case and at least two digits, are not hex (git SHAs, UUIDs, digests), are
//!   not a data URI payload, an SRI hash (`sha512-…`) or a line of a multi-line base64 block, do
//!   not read like words (camelCase identifiers) and pass a length-scaled Shannon-entropy bound.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;

/// What the free functions return in place of non-empty input if the patterns failed to compile.
///
/// Unreachable in a tested build (`redactor_builds_from_the_shipped_patterns` compiles them all);
/// it exists so that a broken build drops data instead of leaking it.
pub const UNAVAILABLE_MARKER: &str = "[REDACTED:redactor-unavailable]";

/// Shortest run the generic high-entropy rule looks at, in characters.
const MIN_HIGH_ENTROPY_CHARS: usize = 32;
/// Longest run the generic high-entropy rule looks at, in characters; longer runs are blobs
/// (images, Codex `encrypted_content`, Claude thinking signatures), not credentials.
const MAX_HIGH_ENTROPY_CHARS: usize = 100;
/// Digit-only values shorter than this are numbers (limits, ports, counts), not secrets.
const MIN_NUMERIC_SECRET_CHARS: usize = 8;
/// Unquoted or quoted assignment values shorter than this are not redacted in free text.
const MIN_ASSIGNED_SECRET_CHARS: usize = 4;

/// The kind of secret a finding is, named in its `[REDACTED:<kind>]` marker.
///
/// The kebab-case name is stable: it is written into archives and files. The declaration order
/// is the merge priority: when findings overlap, the earlier (more specific) kind wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// A whole PEM/OpenSSH/PGP private-key block, from `-----BEGIN` to `-----END` (or to the end
    /// of the base64 body when the block was truncated), or the base64 lines that end at an
    /// `-----END … PRIVATE KEY-----` line when the block's start was cut (`tail id_rsa`).
    PrivateKey,
    /// An Anthropic API key (`sk-ant-…`).
    AnthropicKey,
    /// An OpenAI API key (`sk-…`, `sk-proj-…`, `sk-svcacct-…`, `sk-admin-…`).
    OpenaiKey,
    /// An AWS access key id (`AKIA`/`ASIA`/`ABIA`/`ACCA` + 16 characters).
    AwsAccessKey,
    /// A 40-character AWS secret access key assigned to an AWS-secret-looking name.
    AwsSecretKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A GitLab token: personal access (`glpat-`), deploy (`gldt-`), runner (`glrt-`), CI job
    /// (`glcbt-`), pipeline trigger (`glptt-`), feed (`glft-`), incoming mail (`glimt-`), agent
    /// (`glagent-`), OAuth application secret (`gloas-`), SCIM (`glsoat-`) or feature-flag
    /// client (`glffct-`).
    GitlabToken,
    /// The secret path of a Slack incoming webhook URL.
    SlackWebhook,
    /// A Slack token (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxo-`, `xoxe-`) or app-level
    /// token (`xapp-`).
    SlackToken,
    /// A Google API key (`AIza` + 35 characters).
    GoogleApiKey,
    /// A Stripe secret or restricted key (`sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`) or
    /// webhook signing secret (`whsec_`).
    StripeKey,
    /// A token with another service's published prefix: SendGrid (`SG.`), Atlassian (`ATATT`),
    /// PyPI (`pypi-AgE`), npm (`npm_`), Hugging Face (`hf_`), DigitalOcean (`dop_v1_`),
    /// Shopify (`shpat_`), Databricks (`dapi`), Grafana (`glsa_`, `glc_`), Linear
    /// (`lin_api_`), Postman (`PMAK-`), Google OAuth access tokens (`ya29.`, `gcloud auth
    /// print-access-token`), age secret keys (`AGE-SECRET-KEY-1`). Several are hex, upper case
    /// or longer than 100 characters, which the generic high-entropy rule leaves alone.
    ServiceToken,
    /// A JSON Web Token: three base64url segments, the first starting with `eyJ`.
    Jwt,
    /// The password in `scheme://user:password@host`.
    UrlPassword,
    /// The credential of an `Authorization:` header (`Bearer`, `Basic`, `token`) or of a bare
    /// `Bearer <token>`.
    BearerToken,
    /// The value assigned to a secret-looking name (`API_KEY=…`, `password: …`,
    /// `"token": "…"`, `--password …`), a `.netrc` password, or a password given to a command
    /// line's short flag (`mysql -p…`, `sshpass -p`, `redis-cli -a`, `curl -u user:…`,
    /// `docker login -p`).
    SecretAssignment,
    /// A random-looking token of 32 to 100 characters that no other rule claimed.
    HighEntropy,
}

impl SecretKind {
    /// Every kind, in merge-priority order.
    pub const ALL: [SecretKind; 17] = [
        SecretKind::PrivateKey,
        SecretKind::AnthropicKey,
        SecretKind::OpenaiKey,
        SecretKind::AwsAccessKey,
        SecretKind::AwsSecretKey,
        SecretKind::GithubToken,
        SecretKind::GitlabToken,
        SecretKind::SlackWebhook,
        SecretKind::SlackToken,
        SecretKind::GoogleApiKey,
        SecretKind::StripeKey,
        SecretKind::ServiceToken,
        SecretKind::Jwt,
        SecretKind::UrlPassword,
        SecretKind::BearerToken,
        SecretKind::SecretAssignment,
        SecretKind::HighEntropy,
    ];

    /// The stable kebab-case name used in markers, logs and storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "private-key",
            SecretKind::AnthropicKey => "anthropic-key",
            SecretKind::OpenaiKey => "openai-key",
            SecretKind::AwsAccessKey => "aws-access-key",
            SecretKind::AwsSecretKey => "aws-secret-key",
            SecretKind::GithubToken => "github-token",
            SecretKind::GitlabToken => "gitlab-token",
            SecretKind::SlackWebhook => "slack-webhook",
            SecretKind::SlackToken => "slack-token",
            SecretKind::GoogleApiKey => "google-api-key",
            SecretKind::StripeKey => "stripe-key",
            SecretKind::ServiceToken => "service-token",
            SecretKind::Jwt => "jwt",
            SecretKind::UrlPassword => "url-password",
            SecretKind::BearerToken => "bearer-token",
            SecretKind::SecretAssignment => "secret-assignment",
            SecretKind::HighEntropy => "high-entropy",
        }
    }

    /// The replacement text for this kind, `[REDACTED:<kind>]`.
    pub const fn marker(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "[REDACTED:private-key]",
            SecretKind::AnthropicKey => "[REDACTED:anthropic-key]",
            SecretKind::OpenaiKey => "[REDACTED:openai-key]",
            SecretKind::AwsAccessKey => "[REDACTED:aws-access-key]",
            SecretKind::AwsSecretKey => "[REDACTED:aws-secret-key]",
            SecretKind::GithubToken => "[REDACTED:github-token]",
            SecretKind::GitlabToken => "[REDACTED:gitlab-token]",
            SecretKind::SlackWebhook => "[REDACTED:slack-webhook]",
            SecretKind::SlackToken => "[REDACTED:slack-token]",
            SecretKind::GoogleApiKey => "[REDACTED:google-api-key]",
            SecretKind::StripeKey => "[REDACTED:stripe-key]",
            SecretKind::ServiceToken => "[REDACTED:service-token]",
            SecretKind::Jwt => "[REDACTED:jwt]",
            SecretKind::UrlPassword => "[REDACTED:url-password]",
            SecretKind::BearerToken => "[REDACTED:bearer-token]",
            SecretKind::SecretAssignment => "[REDACTED:secret-assignment]",
            SecretKind::HighEntropy => "[REDACTED:high-entropy]",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One redacted span of the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Finding {
    /// The kind of secret; after a merge, the most specific kind of the merged spans.
    pub kind: SecretKind,
    /// Byte offset of the first redacted byte in the original text.
    pub start: usize,
    /// Byte offset one past the last redacted byte in the original text.
    pub end: usize,
}

/// The result of [`Redactor::redact`]: the redacted text and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted<'a> {
    /// The redacted text; `Cow::Borrowed` (the input itself) when `findings` is empty.
    pub text: Cow<'a, str>,
    /// The replaced spans, sorted by `start`, non-overlapping, in original-text offsets.
    pub findings: Vec<Finding>,
}

/// Error building a [`Redactor`]: a shipped pattern does not compile.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// The pattern of one rule failed to compile.
    #[error(
        "the `{rule}` redaction pattern does not compile; this is a csep bug, please report it"
    )]
    Pattern {
        /// The rule whose pattern failed.
        rule: &'static str,
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },
}

/// Decides whether a regex match is a secret; returns the byte span to replace.
type Accept = fn(&str, &Captures<'_>) -> Option<(usize, usize)>;

/// Where a rule's next match can start at or after `pos`: `Some((start, end))` when the
/// search may begin at `start` and no match reaches past `end` (the haystack is cut there; the
/// acceptance check still sees the whole text), `None` when no match starts at or after `pos`.
/// It must never skip a match: it only spares the regex the bytes that cannot hold one.
type Seek = fn(&Redactor, &str, usize) -> Option<(usize, usize)>;

/// One detection rule: a pattern plus the checks that the pattern alone cannot express.
struct Rule {
    kind: SecretKind,
    regex: Regex,
    accept: Accept,
    /// For the rules with no literal for the regex engine to look for first (it would run its
    /// automaton over every byte of every text): where a match can start.
    seek: Option<Seek>,
    /// Whether the rule runs only on a text that [`COMMAND_GATE`] matches.
    gated: bool,
    /// For a command-line rule: its command words. Its pattern is only tried, anchored, at an
    /// occurrence in command position ([`Redactor::find_commands`]).
    command: Option<Regex>,
    /// For a command-line rule whose pattern names the password flag (a `flag` group): every
    /// such flag of a command is read ([`Redactor::flag_values`]), not only the first.
    flags: bool,
    /// A word every match holds ([`COMMAND_NEEDS`]): a text without it skips the rule.
    needs: Option<memchr::memmem::Finder<'static>>,
}

/// The compiled rule set; build it once and share it.
///
/// It holds only immutable compiled patterns, no configuration, so one instance can serve the
/// whole process (see [`redact`]).
pub struct Redactor {
    rules: Vec<Rule>,
    /// Cheap gate for a short text ([`PREFILTER_MAX_BYTES`]): one that matches none of these
    /// triggers cannot contain a finding.
    prefilter: Regex,
    /// [`COMMAND_GATE`], compiled.
    command_gate: Regex,
    /// Markers already in the text; candidates overlapping them are dropped (idempotence).
    marker: Regex,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// What may stand between a command and its password flag (lazily matched): quoted strings
/// (JSON-escaped ones too) whole, a quote or backslash escaped by JSON, a line continuation (raw
/// or JSON-escaped), a `$(…)` substitution, and any other character but a line break, a shell
/// operator (`;`, `|`, `&`), a parenthesis, a lone quote, a backtick (the end of a Markdown code
/// span) or a comma before a blank (prose: "…, then `cp -pr`").
macro_rules! cli_args {
    () => {
        r#"(?:\\*"[^"\\\r\n]*\\*"|'[^'\r\n]*'|\$\([^()\n]*\)|[^\n|;&\\()"'`,]|,[^\s;|&"'`()\\]|\\["'\\/]|\\t|\\\r?\n|\\\\\\n)*?"#
    };
}

/// A password value after its flag: double-quoted, single-quoted (JSON-escaped quotes too) or
/// bare up to a blank, a quote or a shell operator.
macro_rules! cli_value {
    () => {
        r#"(?:\\*"(?P<dq>[^"\\\r\n]*)|\\*'(?P<sq>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`;|&<>]+))"#
    };
}

/// A separator between a command's words: blanks, or the end of one item of a JSON or YAML list
/// and the start of the next (`", "`).
macro_rules! cli_sep {
    () => {
        r#"(?:(?:[ \t]|\\t)+|\\*["'][ \t]*,[ \t]*\\*["'])"#
    };
}

/// `sudo` told to read the password from standard input (`-S`, in a cluster too, or
/// `--stdin`), after only `sudo`'s own options: those with a value (`-u root`, `-p ''`,
/// `--user=root`) and the others (`-E`, `-k`).
macro_rules! sudo_stdin {
    () => {
        concat!(
            r#"\bsudo(?:[ \t]+(?:-[A-Za-z]*[ugpChrtTUDR](?:[ \t]+(?:''|""|[^\s-]\S*))?|-[A-Za-z]+|--[a-z-]+(?:=\S*)?))*?"#,
            r#"[ \t]+(?:-[A-Za-z]*S[A-Za-z]*|--stdin)\b"#,
        )
    };
}

/// What follows `htpasswd` when it gets its password on the command line: a flag cluster holding
/// `b` (`flags`), then `FILE USER PW` or, with `n`, `USER PW` (`file` and `user` groups).
macro_rules! htpasswd_args {
    () => {
        concat!(
            r#"(?P<flags>(?:"#,
            cli_sep!(),
            r#"-(?:[A-Za-z]*C(?:[ \t]+|\\*["'][ \t]*,[ \t]*\\*["'])?[0-9]+|[A-Za-z]+))+)"#,
            cli_sep!(),
            r#"(?:(?P<file>[^\s"'\\`;|&<>,-][^\s"'\\`;|&<>,]*)"#,
            cli_sep!(),
            r#")?(?P<user>""|''|\\"\\"|[^\s"'\\`;|&<>,-][^\s"'\\`;|&<>,]*)"#,
            cli_sep!(),
            cli_value!(),
        )
    };
}

/// Source of every rule: (name for errors, kind, pattern, acceptance check).
const RULES: &[(&str, SecretKind, &str, Accept)] = &[
    (
        "private-key",
        SecretKind::PrivateKey,
        // A truncated transcript may cut the END line; then the base64 body (headers such as
        // `Proc-Type: 4,ENCRYPTED`, JSON-escaped `\n` and a host's truncation note such as
        // `…2000 tokens truncated…` or `[... 12 lines ...]` included) is redacted to its end.
        r"(?s)(?:-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----)(?:.*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----)|[A-Za-z0-9+/=\s\\:,.…\[\]-]*)",
        accept_whole,
    ),
    (
        "private-key-tail",
        SecretKind::PrivateKey,
        // The base64 lines before an END line whose BEGIN line is not in the text.
        // A diff's `+` before each line is taken as part of the line.
        r"(?:[A-Za-z0-9+/=]+(?:\r?\n|\\r\\n|\\n))+\+?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----)",
        accept_key_tail,
    ),
    (
        "anthropic-key",
        SecretKind::AnthropicKey,
        r"sk-ant-[A-Za-z0-9_-]{20,}",
        accept_prefixed_token,
    ),
    (
        "openai-key",
        SecretKind::OpenaiKey,
        r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        accept_prefixed_token,
    ),
    (
        "aws-access-key",
        SecretKind::AwsAccessKey,
        r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        accept_aws_access_key,
    ),
    (
        "aws-secret-key",
        SecretKind::AwsSecretKey,
        r#"(?i:aws[_.-]?secret(?:[_.-]?access)?[_.-]?key|secret[_.-]?access[_.-]?key)(?:\\?["'])?[ \t]*(?:=>|:=|=|:)[ \t]*(?:\\?["'])?(?P<v>[A-Za-z0-9/+]{40})"#,
        accept_aws_secret_key,
    ),
    (
        "github-token",
        SecretKind::GithubToken,
        r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}",
        accept_prefixed_token,
    ),
    (
        "gitlab-token",
        SecretKind::GitlabToken,
        r"gl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|oas|soat|ffct)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*",
        accept_prefixed_token,
    ),
    (
        "slack-webhook",
        SecretKind::SlackWebhook,
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9_/-]{8,})",
        accept_group_v,
    ),
    (
        "slack-token",
        SecretKind::SlackToken,
        r"xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]+-[A-Za-z0-9-]{10,}",
        accept_slack_token,
    ),
    (
        "google-api-key",
        SecretKind::GoogleApiKey,
        r"AIza[0-9A-Za-z_-]{35}",
        accept_left_bounded,
    ),
    (
        "stripe-key",
        SecretKind::StripeKey,
        r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}|whsec_[0-9A-Za-z]{24,}",
        accept_prefixed_token,
    ),
    (
        "service-token",
        SecretKind::ServiceToken,
        r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|ATATT[A-Za-z0-9_=-]{100,}|pypi-AgE[A-Za-z0-9_-]{50,}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,}|do[opr]_v1_[a-f0-9]{64}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|dapi[a-f0-9]{32}(?:-[0-9]+)?|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2}|lin_api_[A-Za-z0-9]{40}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|ya29\.[0-9A-Za-z_-]{30,}|AGE-SECRET-KEY-1[0-9A-Z]{50,}",
        accept_service_token,
    ),
    (
        "jwt",
        SecretKind::Jwt,
        r"eyJ[A-Za-z0-9_-]{8,}\.(?:eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
        accept_left_bounded,
    ),
    (
        "url-password",
        SecretKind::UrlPassword,
        // The password runs to the last `@` before the host: one with an unencoded `@` in it
        // (`postgres://app:p@ss@db/app`) goes whole.
        r#"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#"'\\`<>]*:(?P<v>[^\s/?#"'\\`<>]+)@"#,
        accept_url_password,
    ),
    (
        "bearer-token",
        SecretKind::BearerToken,
        r#"(?i:(?P<auth>authorization)(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?:(?:bearer|basic|token|bot|digest)[ \t]+)?|(?-u:\b)bearer[ \t]+)(?P<v>[A-Za-z0-9._~+/=-]+)"#,
        accept_bearer,
    ),
    (
        "secret-assignment",
        SecretKind::SecretAssignment,
        r#"(?:(?P<name>[A-Za-z0-9_.-]*(?i-u:pass|pwd|secret|token|key|auth|bearer|credential|cookie|mnemonic|phrase)[A-Za-z0-9_.-]*)(?:\\*["']\]?)?[ \t]*(?P<sep>=>|:=|=|:)[ \t]*|(?P<flag>--[A-Za-z0-9_.-]*(?i-u:pass|pwd|secret|token|key|auth|bearer|credential|cookie|mnemonic|phrase)[A-Za-z0-9_.-]*)(?:[ \t]+|\\*["'][ \t]*,[ \t]*\\*["']))(?:\\*"(?P<dq>(?:[^"\\\r\n]|\\+/)*)|\\*'(?P<sq>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`]+))"#,
        accept_assignment,
    ),
    (
        "netrc-password",
        SecretKind::SecretAssignment,
        // `.netrc` entries: `machine <host> login <user>` or `default login <user>` (a bare
        // `login <user>` too), then other `.netrc` tokens, then `password <pw>`, on one line or
        // several (real or JSON-escaped line breaks); `machine <host> password <pw>` (then
        // `login`, or none) only for a value that looks like a password.
        concat!(
            r#"(?P<anchor>(?:machine[ \t]+(?:[^\s\\]|\\[^nrt\s])+|default)(?:[ \t\r\n]|\\[nrt])+login[ \t]+(?:[^\s\\]|\\[^nrt\s])+"#,
            r#"|login[ \t]+(?:[^\s\\]|\\[^nrt\s])+"#,
            r#"|(?P<first>machine[ \t]+(?:[^\s\\]|\\[^nrt\s])+|default))"#,
            r#"(?:(?:[ \t\r\n]|\\[nrt])+(?:account|port|macdef)[ \t]+(?:[^\s\\]|\\[^nrt\s])+)*"#,
            r#"(?:[ \t\r\n]|\\[nrt])+password[ \t]+"#,
            r#"(?:\\*"(?P<dq>[^"\\\r\n]*)|(?P<bare>[^\s"'\\`]+))"#,
        ),
        accept_netrc_password,
    ),
    // Passwords given to a command's short flag. Each is anchored at its command word
    // (`COMMAND_WORDS`, in command position: `Redactor::find_commands`); what lies between
    // it and the flag stays in that command (`cli_args!`), and `cli_sep!` also takes the items
    // of a JSON or YAML list (`["CMD", "redis-cli", "-a", "pw"]`).
    (
        "mysql-password",
        SecretKind::SecretAssignment,
        // Attached to `-p`: `mysql -uroot -pS3cret`, `mysqldump -p'pw'`.
        concat!(
            r#"^(?:mysql(?:dump|admin|import|check|show|pump|binlog|slap|_upgrade|sh)?|mariadb(?:-?dump|-?admin|-?import|-?check)?)(?:\.exe)?"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??-p"#,
            cli_value!(),
        ),
        accept_cli_password,
    ),
    (
        "sshpass-password",
        SecretKind::SecretAssignment,
        concat!(
            r#"^sshpass(?:[ \t]+-(?:[fdP][ \t]*[^\s-]\S*|[A-Za-z]+))*?"#,
            cli_sep!(),
            r#"-p(?:"#,
            cli_sep!(),
            r#")?"#,
            cli_value!(),
        ),
        accept_cli_password,
    ),
    (
        "registry-login-password",
        SecretKind::SecretAssignment,
        // `docker|podman|nerdctl|buildah|skopeo|oras login … -p pw`, `helm registry login …`,
        // and the Azure CLI's `az login -u user -p pw` and `az acr login -n reg -u user -p pw`
        // (its `--password` is the `secret-assignment` rule's).
        concat!(
            r#"^(?:docker|podman|nerdctl|buildah|skopeo|oras|helm|az)(?:\.exe)?"#,
            r#"(?:[ \t]+-[-A-Za-z]+(?:[ \t=]+[^\s-]\S*)?)*?[ \t]+(?:(?:registry|acr)[ \t]+)?login"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??-p(?:"#,
            cli_sep!(),
            r#")?"#,
            cli_value!(),
        ),
        accept_cli_password,
    ),
    (
        "redis-cli-password",
        SecretKind::SecretAssignment,
        concat!(
            r#"^redis-cli(?:\.exe)?"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??-a"#,
            cli_sep!(),
            cli_value!(),
        ),
        accept_cli_password,
    ),
    (
        "other-cli-password",
        SecretKind::SecretAssignment,
        // `sqlcmd -P pw`, `mongosh|mongo -p pw`, `keytool -storepass|-keypass pw`,
        // `ldapsearch|ldapadd|ldapmodify|ldapdelete|ldappasswd -w pw`.
        concat!(
            r#"^(?:sqlcmd(?:\.exe)?|mongosh|mongo|keytool|ldap(?:search|add|modify|delete|passwd))"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??(?P<flag>-P|-p|-(?:src|dest)?(?:storepass|keypass)|-w)"#,
            cli_sep!(),
            cli_value!(),
        ),
        accept_other_cli_password,
    ),
    (
        "openssl-password",
        SecretKind::SecretAssignment,
        // `openssl enc -k pw`, and `pass:pw` given to `-pass`, `-passin`, `-passout` or
        // `-password` (pkcs12), quoted whole or after `pass:`.
        concat!(
            r#"^openssl(?:\.exe)?"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??(?P<flag>-k|-pass(?:in|out|word)?)"#,
            cli_sep!(),
            r#"(?:\\*"(?P<pq>pass:)?(?P<dq>[^"\\\r\n]*)|\\*'(?P<pq2>pass:)?(?P<sq>[^'\\\r\n]*)"#,
            r#"|(?P<pb>pass:)?(?:\\*"(?P<dq2>[^"\\\r\n]*)|\\*'(?P<sq2>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`;|&<>]+)))"#,
        ),
        accept_openssl_password,
    ),
    (
        "htpasswd-password",
        SecretKind::SecretAssignment,
        // `htpasswd -b[c…] FILE USER PW` and `htpasswd -nb USER PW`: the password is the last
        // positional argument when a flag cluster holds `b`.
        concat!(r#"^htpasswd(?:\.exe)?"#, htpasswd_args!()),
        accept_htpasswd_password,
    ),
    (
        "htpasswd-entrypoint-password",
        SecretKind::SecretAssignment,
        // `htpasswd` as a container's entrypoint (`docker run --rm --entrypoint htpasswd
        // httpd:2 -Bbn user pw`, as the registry's docs write it): its arguments follow the
        // image.
        concat!(
            r#"^(?:docker|podman|nerdctl)(?:\.exe)?[ \t]+(?:container[ \t]+)?run"#,
            r#"(?:[ \t]+-[-A-Za-z]+(?:(?:[ \t]+|=)[^\s-]\S*)?)*?"#,
            r#"[ \t]+--entrypoint(?:[ \t]+|=)\\*["']?htpasswd\\*["']?"#,
            r#"(?:[ \t]+-[-A-Za-z]+(?:(?:[ \t]+|=)[^\s-]\S*)?)*?"#,
            r#"[ \t]+[^\s"'\\`;|&<>-][^\s"'\\`;|&<>]*"#,
            htpasswd_args!(),
        ),
        accept_htpasswd_password,
    ),
    (
        "smb-password",
        SecretKind::SecretAssignment,
        // `smbclient //host/share -U 'DOMAIN\user%pw'`, `rpcclient -U user%pw host`,
        // `-Uuser%'pw'`, `--user=user%pw`, `net ads join -U user%pw`: Samba's
        // `user%password` pair.
        concat!(
            r#"^(?:smbclient|rpcclient|smbget|smbcacls|winexe|net)(?:\.exe)?"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??(?:-U|--user)(?:[ \t]+|=|\\*["'][ \t]*,[ \t]*)?"#,
            r#"(?:\\*"[^"%\r\n]*%(?P<dq>[^"\\\r\n]*)|'[^'%\r\n]*%(?P<sq>[^'\r\n]*)"#,
            r#"|[^\s"'%;|&<>]*%(?:'(?P<sq2>[^'\r\n]*)|\\*"(?P<dq2>[^"\\\r\n]*)|(?P<bare>[^\s"'\\`;|&<>]+)))"#,
        ),
        accept_cli_password,
    ),
    (
        "stdin-password",
        SecretKind::SecretAssignment,
        // A password handed to a command's `--password-stdin` (`--pass-stdin`: regctl) or to
        // `sudo -S` / `sudo --stdin` by `echo`/`printf` in a pipe (the command may follow on
        // the next line, after a line continuation or a trailing `|`), or by a here-string
        // (`<<< "pw"`) after the flag. Before `-S`, only `sudo`'s own options (`-u root`).
        concat!(
            r#"\b(?:echo(?:[ \t]+-[neE]+)*|printf(?:[ \t]+\\*["']%s(?:\\+n)?\\*["'])?)[ \t]+"#,
            r#"(?:\\*"(?P<dq>[^"\\\r\n]*)\\*"|'(?P<sq>[^'\r\n]*)'|(?P<bare>[^\s"'\\`;|&<>]+))"#,
            r#"(?:[ \t]|\\\r?\n)*\|(?:[ \t]|\\?\r?\n)*"#,
            r#"(?:[A-Za-z0-9_./$-](?:[^\r\n|;&]|\\\r?\n)*--pass(?:word)?-stdin\b|"#,
            sudo_stdin!(),
            r#")|(?:--pass(?:word)?-stdin\b|"#,
            sudo_stdin!(),
            r#")[^\r\n|;&]*?<<<[ \t]*"#,
            r#"(?:\\*"(?P<dq2>[^"\\\r\n]*)\\*"|'(?P<sq2>[^'\r\n]*)'|(?P<bare2>[^\s"'\\`;|&<>]+))"#,
        ),
        accept_stdin_password,
    ),
    (
        "curl-password",
        SecretKind::SecretAssignment,
        // `curl -u user:pw` (also `-su`, `--user`, `-U` and `--proxy-user`): the pair quoted
        // whole, or the user and the password each quoted or not.
        concat!(
            r#"^curl(?:\.exe)?"#,
            cli_sep!(),
            r#"(?:"#,
            cli_args!(),
            cli_sep!(),
            r#")??(?:(?:-[A-Za-z]*u|-U)(?:[ \t]+|=|\\*["'][ \t]*,[ \t]*)?|(?:--user|--proxy-user)(?:[ \t]+|=|\\*["'][ \t]*,[ \t]*))"#,
            r#"(?:\\*"(?:[^":\\\r\n]|\\\\)*:(?P<dq>[^"\\\r\n]*)"#,
            r#"|\\*'(?:[^':\\\r\n]|\\\\)*:(?P<sq>[^'\\\r\n]*)"#,
            r#"|(?:\\*"[^"\\\r\n]*\\*"|'[^'\r\n]*'|(?:[^\s:"'\\]|\\\\|\\[^nrt\s"'])+):"#,
            r#"(?:\\*"(?P<dq2>[^"\\\r\n]*)|\\*'(?P<sq2>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`;|&<>]+)))"#,
        ),
        accept_cli_password,
    ),
    (
        "name-value-pair",
        SecretKind::SecretAssignment,
        // A secret-looking name and its value given apart: a Kubernetes env entry (`- name:
        // DB_PASSWORD` then `value: …` on the next line), a PHP `define('DB_PASSWORD', '…')`,
        // `key="SmtpPassword" value="…"` or a Terraform variable's `default` (a Markdown table
        // row is the `table-row` rule's).
        concat!(
            r#"(?:\bname:[ \t]*\\*["']?(?P<name>[A-Za-z0-9_.-]+)\\*["']?[ \t]*(?:\r?\n|\\r?\\n)[ \t]*value:[ \t]*"#,
            r#"|\bdefine\([ \t]*\\*["'](?P<name2>[A-Za-z0-9_]+)\\*["'][ \t]*,[ \t]*"#,
            r#"|\bkey=\\*"(?P<name3>[A-Za-z0-9_.:-]+)\\*"[ \t]+value="#,
            // Terraform: `variable "db_password" {` … `default = "…"` within its block.
            r#"|\bvariable[ \t]+\\*"(?P<name5>[A-Za-z0-9_.-]+)\\*"[ \t]*\{[^{}]{0,400}?\bdefault[ \t]*=[ \t]*)"#,
            r#"(?:\\*"(?P<dq>[^"\\\r\n]*)|\\*'(?P<sq>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`<]+))?"#,
        ),
        accept_name_value_pair,
    ),
    (
        "table-row",
        SecretKind::SecretAssignment,
        // A Markdown table row: `| DB_PASSWORD | s3cret |`, either cell in backticks. The match
        // starts at the name, which must hold a secret-like word (as every name
        // `classify_name` accepts does), so the regex engine looks for those words rather
        // than for every `|` of a text (a code frame, a numbered listing, a pipeline); the
        // accept function checks the `|` before the name. A rejected name is searched past
        // only to its end: `| Database password | DB_PASSWORD | … |` holds a row's name after
        // the word `password` of a description.
        concat!(
            r#"(?P<name>[A-Za-z0-9_.-]*(?i-u:pass|pwd|secret|token|key|auth|bearer|credential|cookie|mnemonic|phrase)[A-Za-z0-9_.-]*)`?[ \t]*\|[ \t]*`?"#,
            r#"(?:\\*"(?P<dq>[^"\\\r\n]*)|\\*'(?P<sq>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`<]+))?"#,
        ),
        accept_table_row,
    ),
    (
        "xml-element",
        SecretKind::SecretAssignment,
        // An XML element named like a secret (`<password>…</password>`), judged as a
        // `name-value-pair`. A rule of its own: in one pattern with the others, its `<` and
        // name class left the regex engine no literal to look for first, and it ran its
        // automaton over every byte (four times the cost of both rules apart).
        concat!(
            r#"<(?P<name4>[A-Za-z0-9_.:-]+)>(?P<text>[^<\r\n]{1,200})</"#,
            r#"(?:\\*"(?P<dq>[^"\\\r\n]*)|\\*'(?P<sq>[^'\\\r\n]*)|(?P<bare>[^\s"'\\`<]+))?"#,
        ),
        accept_name_value_pair,
    ),
    (
        "redis-config-password",
        SecretKind::SecretAssignment,
        // redis.conf, `CONFIG SET` and `redis-server --requirepass` (`requirepass pw`,
        // `masterauth pw`, also as list items), and `AUTH pw` at a redis-cli prompt
        // (`host:6379> AUTH pw`); the value must end its line (prose goes on).
        r#"\b(?:requirepass|masterauth)(?:[ \t]+|\\*["'][ \t]*,[ \t]*\\*["'])(?P<bare>[^\s"'\\`]+)|> AUTH[ \t]+(?:[^\s"'\\`]+[ \t]+)?(?P<v>[^\s"'\\`]+)"#,
        accept_redis_config_password,
    ),
    (
        "docker-config",
        SecretKind::SecretAssignment,
        // A Kubernetes image-pull secret's data (`.dockerconfigjson: <base64>`, `.dockercfg`):
        // base64 of a registry config whose `auths` hold the credentials.
        r#"\.docker(?:configjson|cfg)\\*["']?[ \t]*:[ \t]*\\*["']?(?P<v>[A-Za-z0-9+/]{32,}={0,2})"#,
        accept_value,
    ),
    (
        "pgpass-password",
        SecretKind::SecretAssignment,
        // A `~/.pgpass` line, `host:port:database:user:password`, near the word `pgpass`
        // (`cat ~/.pgpass`, `echo "…" >> ~/.pgpass`): at a line start (JSON-escaped too) or
        // after a quote; the port is a number or `*`.
        concat!(
            r#"(?:(?m:^)[ \t]*|\\n[ \t]*|\\*["'])[A-Za-z0-9_.*-]{1,255}:(?:[0-9]{1,5}|\*):"#,
            r#"[^:\s"'\\]{1,255}:[^:\s"'\\]{1,255}:(?P<bare>(?:[^\s"'\\:]|\\:){1,255})"#,
        ),
        accept_pgpass_password,
    ),
    (
        "url-token",
        SecretKind::UrlPassword,
        // A token as the whole userinfo of a URL (`https://<token>@github.com/…`, as `git
        // remote -v` shows it); a short user name (`alice@`) is not one.
        r#"[A-Za-z][A-Za-z0-9+.-]*://(?P<v>[A-Za-z0-9_-]{20,})@"#,
        accept_url_token,
    ),
    (
        "tool-secret",
        SecretKind::SecretAssignment,
        // Secrets some tools take as a plain argument: `sqlplus user/pw@db`, `gh secret set NAME
        // --body …`, `aws ssm put-parameter … --value …` (kept when the command says
        // `SecureString`), PowerShell's `ConvertTo-SecureString "…" -AsPlainText` and npm's or
        // yarn's `config set …_authToken …` / `npmAuthToken …` (the space form), archivers' and
        // uploaders' password flags, user-and-password pairs of `lftp` and HTTPie, `poetry`'s
        // `http-basic`, a secret's variable set by `setx` or PowerShell, and expect's answer to
        // a password prompt. One rule, so that their words cost one search.
        concat!(
            r#"\bsqlplus(?:[ \t]+-[A-Za-z]+)*[ \t]+\\*["']?[A-Za-z0-9_$#.]+/(?P<sqlplus>[^@\s"'/\\]+)@"#,
            r#"|\bsecret[ \t]+set\b[^\r\n|;&]*?[ \t](?:--body|-b)(?:[ \t]+|=)"#,
            r#"(?:\\*"(?P<ghdq>[^"\\\r\n]*)\\*"|'(?P<ghsq>[^'\r\n]*)'|(?P<ghbare>[^\s"'\\`;|&<>]+))"#,
            r#"|\bput-parameter\b[^\r\n|;&]*?[ \t]--value(?:[ \t]+|=)"#,
            r#"(?:\\*"(?P<ssmdq>[^"\\\r\n]*)\\*"|'(?P<ssmsq>[^'\r\n]*)'|(?P<ssmbare>[^\s"'\\`;|&<>]+))"#,
            r#"|ConvertTo-SecureString(?:[ \t]+-String)?[ \t]+"#,
            r#"(?:\\*"(?P<psdq>[^"\\\r\n]*)\\*"|'(?P<pssq>[^'\r\n]*)')"#,
            r#"|(?:_authToken|npmAuthToken)\\*["']?[ \t]+"#,
            r#"(?:\\*"(?P<npmdq>[^"\\\r\n]*)\\*"|'(?P<npmsq>[^'\r\n]*)'|(?P<npmbare>[^\s"'\\`;|&<>]+))"#,
            // `zip|unzip|zipcloak … -P pw` and `twine upload … -p pw`: each tool's own flag
            // (`unzip -p` extracts to a pipe).
            r#"|(?-u:\b)(?:zip|unzip|zipcloak)(?:\.exe)?(?:[ \t](?:[^\r\n|;&\\]|\\[^nr\r\n])*?)?[ \t](?:-P|--password)(?:[ \t]+|=)"#,
            r#"(?:\\*"(?P<zipdq>[^"\\\r\n]*)\\*"|'(?P<zipsq>[^'\r\n]*)'|(?P<zipbare>[^\s"'\\`;|&<>]+))"#,
            r#"|(?-u:\b)twine(?:\.exe)?(?:[ \t](?:[^\r\n|;&\\]|\\[^nr\r\n])*?)?[ \t](?:-p|--password)(?:[ \t]+|=)"#,
            r#"(?:\\*"(?P<twinedq>[^"\\\r\n]*)\\*"|'(?P<twinesq>[^'\r\n]*)'|(?P<twinebare>[^\s"'\\`;|&<>]+))"#,
            // `7z a -pSECRET …`: the password is glued to `-p` (a bare `-p` prompts for it).
            r#"|(?-u:\b)7z[arz]?(?:\.exe)?(?:\\*["'])?(?:[ \t](?:[^\r\n|;&\\]|\\[^nr\r\n])*?)?[ \t]-p"#,
            r#"(?:\\*"(?P<szdq>[^"\\\r\n]*)\\*"|'(?P<szsq>[^'\r\n]*)'|(?P<szbare>[^\s"'\\`;|&<>]+))"#,
            // `lftp -u user,pw host` and HTTPie's `http -a user:pw …` (`--auth`): the part
            // after the user's separator.
            r#"|(?-u:\b)lftp(?:[ \t](?:[^\r\n|;&\\]|\\[^nr\r\n])*?)?[ \t]-u[ \t]+"#,
            r#"(?:\\*"[^",\\\r\n]*,(?P<lftpdq>[^"\\\r\n]*)\\*"|'[^',\r\n]*,(?P<lftpsq>[^'\r\n]*)'|[^\s,"'\\]+,(?P<lftpbare>[^\s"'\\`;|&<>]+))"#,
            r#"|(?-u:\b)https?(?:[ \t](?:[^\r\n|;&\\]|\\[^nr\r\n])*?)?[ \t](?:-a|--auth)(?:[ \t]+|=)"#,
            r#"(?:\\*"[^":\\\r\n]*:(?P<httpdq>[^"\\\r\n]*)\\*"|'[^':\r\n]*:(?P<httpsq>[^'\r\n]*)'|[^\s:"'\\]+:(?P<httpbare>[^\s"'\\`;|&<>]+))"#,
            // `poetry config http-basic.REPO USER PW`.
            r#"|(?-u:\b)poetry[ \t]+config[ \t]+(?:-[-A-Za-z]+[ \t]+)*http-basic\.[A-Za-z0-9_.-]+[ \t]+(?:\\*"[^"\\\r\n]*\\*"|'[^'\r\n]*'|[^\s"'\\]+)[ \t]+"#,
            r#"(?:\\*"(?P<poetrydq>[^"\\\r\n]*)\\*"|'(?P<poetrysq>[^'\r\n]*)'|(?P<poetrybare>[^\s"'\\`;|&<>]+))"#,
            // `poetry config pypi-token.REPO TOKEN`.
            r#"|(?-u:\b)poetry[ \t]+config[ \t]+(?:-[-A-Za-z]+[ \t]+)*pypi-token\.[A-Za-z0-9_.-]+[ \t]+"#,
            r#"(?:\\*"(?P<pypidq>[^"\\\r\n]*)\\*"|'(?P<pypisq>[^'\r\n]*)'|(?P<pypibare>[^\s"'\\`;|&<>]+))"#,
            // Windows' `setx NAME value` and PowerShell's
            // `[Environment]::SetEnvironmentVariable("NAME", "value", …)`, for a secret's name.
            r#"|(?-u:\b)setx(?:[ \t]+/[A-Za-z])*[ \t]+\\*["']?(?P<setxname>[A-Za-z0-9_.-]+)\\*["']?[ \t]+"#,
            r#"(?:\\*"(?P<setxdq>[^"\\\r\n]*)\\*"|'(?P<setxsq>[^'\r\n]*)'|(?P<setxbare>[^\s"'\\`;|&<>]+))"#,
            r#"|SetEnvironmentVariable\([ \t]*\\*["'](?P<psenvname>[A-Za-z0-9_.-]+)\\*["'][ \t]*,[ \t]*"#,
            r#"(?:\\*"(?P<psenvdq>[^"\\\r\n]*)\\*"|'(?P<psenvsq>[^'\r\n]*)')"#,
            // expect's `send "pw\r"` after a password prompt (checked by the accept function).
            r#"|(?-u:\b)(?:exp_)?send[ \t]+(?:--[ \t]+)?\\*"(?P<senddq>[^"\\\r\n]+?)\\+[rn]\\*""#,
        ),
        accept_tool_secret,
    ),
    (
        "url-signature",
        SecretKind::SecretAssignment,
        // The signature of a pre-signed or SAS URL (`?sig=`, `&X-Amz-Signature=`,
        // `&X-Goog-Signature=`, and the session token beside it): a credential in its own right.
        // Its base64 is often URL-encoded (`%2B`, `%2F`, `%3D`), which cuts it into runs too
        // short for the high-entropy rule, and a hex one reads like a checksum.
        r#"[?&](?:sig|signature|Signature|X-Amz-Signature|X-Amz-Security-Token|X-Goog-Signature)=(?P<v>[A-Za-z0-9%+/=_.-]{16,})"#,
        accept_url_signature,
    ),
    (
        "high-entropy",
        SecretKind::HighEntropy,
        r"[A-Za-z0-9+/_-]{32,}={0,2}",
        accept_high_entropy,
    ),
];

/// Texts this long or longer skip the prefilter and go straight to the rules: nearly every one
/// holds a trigger (a word such as `key` or `token`, a URL, a 32-character run), found only
/// after a scan of its first kilobytes by an automaton slower than the rules' own literal
/// searches. On the texts of the bench rollout (43 MB, untruncated), redaction took a tenth
/// less time (15 rounds alternating, minimum 189.5 ms with the prefilter on every text, 169.4
/// ms with this threshold, 183.9 ms with no prefilter at all).
const PREFILTER_MAX_BYTES: usize = 1024;

/// Triggers for the prefilter: a superset of what any rule needs to match.
const PREFILTER: &str = r"(?i:pass|pwd|secret|token|key|auth|bearer|credential|cookie|mnemonic|phrase)|sk-|sk_|rk_|whsec_|AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|gl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|oas|soat|ffct)-|xox[abposre]-|xapp-|hooks\.slack\.com|AIza|eyJ|PRIVATE KEY|://|[A-Za-z0-9+/_-]{32}|SG\.|ATATT|pypi-AgE|npm_|hf_|_v1_|shp(?:at|ca|pa|ss)_|dapi[0-9a-f]|glsa_|glc_|lin_api_|PMAK-|ya29\.|AGE-SECRET-KEY-|sig=|[Ss]ignature=|sqlplus|SecureString|zip|7z|twine|lftp|(?-u:\b)https?[ \t]|http-basic|(?i:assword)|mysql|mariadb|sshpass|login|redis-cli|curl|sqlcmd|mongo|keytool|ldap|smbclient|rpcclient|smbget|smbcacls|winexe|sudo|openssl|(?-u:\b)net[ \t]";

/// The rules behind [`COMMAND_GATE`]: each needs one of its words, so a text without any (most
/// texts) costs them one search instead of one each.
const GATED_RULES: [&str; 12] = [
    "netrc-password",
    "htpasswd-password",
    "htpasswd-entrypoint-password",
    "openssl-password",
    "smb-password",
    "stdin-password",
    "mysql-password",
    "sshpass-password",
    "registry-login-password",
    "redis-cli-password",
    "curl-password",
    "other-cli-password",
];

/// The command words of each command-line rule: where its matches start.
const COMMAND_WORDS: [(&str, &str); 10] = [
    ("htpasswd-password", "htpasswd"),
    ("htpasswd-entrypoint-password", "docker|podman|nerdctl"),
    ("openssl-password", "openssl"),
    (
        "smb-password",
        "smbclient|rpcclient|smbget|smbcacls|winexe|net",
    ),
    ("mysql-password", "mysql|mariadb"),
    ("sshpass-password", "sshpass"),
    (
        "registry-login-password",
        "docker|podman|nerdctl|buildah|skopeo|oras|helm|az",
    ),
    ("redis-cli-password", "redis-cli"),
    ("curl-password", "curl"),
    (
        "other-cli-password",
        "sqlcmd|mongosh|mongo|keytool|ldapsearch|ldapadd|ldapmodify|ldapdelete|ldappasswd",
    ),
];

/// A word that every match of a command-line rule holds besides its command word, for the
/// rules whose command words are common inside other words: `az` of `registry-login-password`
/// starts no command in `lazy` or `hazard`, but each occurrence still had to be found and
/// checked, and a text without `login` can hold no match of the rule at all.
const COMMAND_NEEDS: [(&str, &str); 1] = [("registry-login-password", "login")];

/// How many flags after the first [`Redactor::flag_values`] looks at in one command.
const LATER_FLAG_LOOKS: usize = 8;

/// How every marker of this module (and the reference's `[REDACTED]`) starts.
const MARKER_PREFIX: &str = "[REDACTED";

/// Whether the command word that ends at `end` ends there as a word: followed by a blank, a
/// quote, a backslash (a JSON escape), a list comma, a shell operator or nothing, after any
/// letters of a longer command name (`mysqldump`, `redis-cli`) and an `.exe`. A path
/// (`/opt/keytool/a.p12`), a URL (`"mongodb://db"`) or a host (`docker.io`) is no command.
fn ends_command_word(text: &str, end: usize) -> bool {
    let rest = text.get(end..).unwrap_or_default();
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let rest = rest.strip_prefix(".exe").unwrap_or(rest);
    rest.chars()
        .next()
        .is_none_or(|c| c.is_whitespace() || "\"'\\,;|&)`".contains(c))
}

/// Where to go on after a value that ends at `end`: past its closing quote (JSON-escaped too),
/// unless a comma follows it (an item of a JSON or YAML list, which `cli_sep!` takes whole).
fn past_closing_quote(window: &str, end: usize) -> usize {
    let quote = window[end..]
        .bytes()
        .take_while(|b| matches!(b, b'"' | b'\'' | b'\\'))
        .count();
    let list_item = window[end + quote..]
        .trim_start_matches([' ', '\t'])
        .starts_with(',');
    if list_item { end } else { end + quote }
}

/// The byte ranges of the lines of `text` that hold `needed`, each with the lines it continues
/// onto (a line ending in a backslash, as a shell continues a command), in order and disjoint.
fn lines_holding(text: &str, needed: &memchr::memmem::Finder<'_>) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut lines: Vec<(usize, usize)> = Vec::new();
    for at in needed.find_iter(bytes) {
        if lines.last().is_some_and(|&(_, end)| at < end) {
            continue;
        }
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let mut end = at;
        loop {
            end = memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |i| end + i);
            let content = bytes[..end].strip_suffix(b"\r").unwrap_or(&bytes[..end]);
            if end == bytes.len() || !content.ends_with(b"\\") {
                break;
            }
            end += 1;
        }
        match lines.last_mut() {
            Some(last) if last.1 >= start => last.1 = end,
            _ => lines.push((start, end)),
        }
    }
    lines
}

/// How far past its command word a command-line rule looks for the password flag (a long
/// `curl -d '<JSON>' -u user:pw` included); a match also ends with the command's line.
const COMMAND_WINDOW_BYTES: usize = 16 * 1024;

/// A word every match of a [`GATED_RULES`] rule holds.
const COMMAND_GATE: &str = r"password|pass-stdin|sudo|mysql|mariadb|sshpass|login|redis-cli|curl|sqlcmd|mongo|keytool|ldap|htpasswd|smbclient|rpcclient|smbget|smbcacls|winexe|openssl|(?-u:\b)net[ \t]";

/// A marker this module (or the reference, `[REDACTED]`) wrote.
const MARKER: &str = r"\[REDACTED(?::[a-z0-9-]+)?\]";

impl Redactor {
    /// Compiles the shipped rule set.
    ///
    /// Fails only if a shipped pattern is invalid, which the unit tests rule out; build it once
    /// and reuse it, compilation costs a few milliseconds.
    pub fn new() -> Result<Self, RedactError> {
        let compile = |rule: &'static str, pattern: &str| {
            Regex::new(pattern).map_err(|source| RedactError::Pattern { rule, source })
        };
        let rules = RULES
            .iter()
            .map(|&(name, kind, pattern, accept)| {
                let regex = compile(name, pattern)?;
                let command = COMMAND_WORDS
                    .iter()
                    .find(|(rule, _)| *rule == name)
                    .map(|(_, words)| compile(name, words))
                    .transpose()?;
                Ok(Rule {
                    kind,
                    flags: command.is_some()
                        && regex.capture_names().any(|group| group == Some("flag")),
                    command,
                    regex,
                    accept,
                    seek: match name {
                        "secret-assignment" => Some(seek_assignment as Seek),
                        "high-entropy" => Some(seek_high_entropy as Seek),
                        "private-key-tail" => Some(seek_key_tail as Seek),
                        "pgpass-password" => Some(seek_pgpass as Seek),
                        _ => None,
                    },
                    gated: GATED_RULES.contains(&name),
                    needs: COMMAND_NEEDS
                        .iter()
                        .find(|(rule, _)| *rule == name)
                        .map(|(_, word)| memchr::memmem::Finder::new(word)),
                })
            })
            .collect::<Result<Vec<_>, RedactError>>()?;
        Ok(Redactor {
            rules,
            prefilter: compile("prefilter", PREFILTER)?,
            command_gate: compile("command-gate", COMMAND_GATE)?,
            marker: compile("marker", MARKER)?,
        })
    }

    /// The same rules searched over every byte (no [`Seek`]): the oracle the seeks are tested
    /// against.
    #[cfg(test)]
    fn without_seeks(mut self) -> Self {
        for rule in &mut self.rules {
            rule.seek = None;
        }
        self
    }

    /// Redacts every secret in `text`; borrows the input when it holds neither a secret nor a
    /// terminal escape.
    ///
    /// A text holding terminal escape sequences (colored `grep`, `rg` or `bat` output) loses
    /// them first, so that a color cutting a secret's name from its value
    /// (`DB_ESC[1mPASSWORD ESC[0m=…`) hides nothing: the result is then owned, and the findings'
    /// offsets are in the text without its escapes.
    pub fn redact<'a>(&self, text: &'a str) -> Redacted<'a> {
        if let Cow::Owned(plain) = crate::host::transcript::escapes_replaced(text, "") {
            let redacted = self.redact(&plain);
            return Redacted {
                text: Cow::Owned(redacted.text.into_owned()),
                findings: redacted.findings,
            };
        }
        let findings = self.find(text);
        if findings.is_empty() {
            return Redacted {
                text: Cow::Borrowed(text),
                findings,
            };
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for finding in &findings {
            out.push_str(text.get(last..finding.start).unwrap_or_default());
            out.push_str(finding.kind.marker());
            last = finding.end;
        }
        out.push_str(text.get(last..).unwrap_or_default());
        Redacted {
            text: Cow::Owned(out),
            findings,
        }
    }

    /// Whether `text` contains nothing this redactor would replace.
    pub fn is_clean(&self, text: &str) -> bool {
        self.find(&crate::host::transcript::escapes_replaced(text, ""))
            .is_empty()
    }

    /// Redacts every string in `value` in place and returns the number of replacements.
    ///
    /// Strings are redacted as text; object keys too (a key containing a secret is renamed).
    /// In addition, a string under a secret-looking key (`"api_key"`, `"password"`,
    /// `"clientSecret"`) is replaced whole as [`SecretKind::SecretAssignment`], however short,
    /// unless it is a placeholder, a keyword, a short number, a path or a URL. Numbers, booleans
    /// and nested values under such keys are walked, not replaced.
    pub fn redact_json(&self, value: &mut Value) -> usize {
        match value {
            Value::String(s) => self.redact_string(s),
            Value::Array(items) => items.iter_mut().map(|item| self.redact_json(item)).sum(),
            Value::Object(map) => {
                let mut count = 0;
                let renamed: Vec<(String, String)> = map
                    .keys()
                    .filter_map(|key| {
                        // Renamed for a secret only (a key's terminal escapes alone count for
                        // nothing).
                        let redacted = self.redact(key);
                        match redacted.text {
                            Cow::Owned(new) if !redacted.findings.is_empty() => {
                                Some((key.clone(), new))
                            }
                            _ => None,
                        }
                    })
                    .collect();
                for (old, new) in renamed {
                    if let Some(moved) = map.remove(&old) {
                        map.insert(new, moved);
                        count += 1;
                    }
                }
                for (key, child) in map.iter_mut() {
                    count += self.redact_json(child);
                    if let Value::String(s) = child
                        && self.is_secret_json_value(key, s)
                    {
                        *s = SecretKind::SecretAssignment.marker().to_owned();
                        count += 1;
                    }
                }
                count
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
    }

    /// Redacts one owned string in place; returns the number of findings.
    fn redact_string(&self, s: &mut String) -> usize {
        let redacted = self.redact(s);
        let count = redacted.findings.len();
        if let Cow::Owned(new) = redacted.text {
            *s = new;
        }
        count
    }

    /// Whether a (text-redacted) string under object key `key` is a secret as a whole.
    fn is_secret_json_value(&self, key: &str, value: &str) -> bool {
        if self.marker.find(value).is_some_and(|m| m.as_str() == value) {
            return false;
        }
        let Some(strength) = classify_name(key) else {
            return false;
        };
        if !is_plausible_value(value, ValueShape::Json, key) {
            return false;
        }
        strength == NameStrength::Strong || looks_random(value)
    }

    /// All findings in `text`: sorted, merged, none overlapping an existing marker.
    fn find(&self, text: &str) -> Vec<Finding> {
        if text.is_empty() || (text.len() < PREFILTER_MAX_BYTES && !self.prefilter.is_match(text)) {
            return Vec::new();
        }
        let markers: Vec<(usize, usize)> = self
            .marker
            .find_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        let mut candidates = Vec::new();
        let mut gate_open = None;
        for rule in &self.rules {
            if rule.gated && !*gate_open.get_or_insert_with(|| self.command_gate.is_match(text)) {
                continue;
            }
            if rule
                .needs
                .as_ref()
                .is_some_and(|word| word.find(text.as_bytes()).is_none())
            {
                continue;
            }
            if let Some(words) = &rule.command {
                self.find_commands(rule, words, text, &markers, &mut candidates);
                continue;
            }
            let mut pos = 0;
            while pos < text.len() {
                let (start, end) = match rule.seek {
                    None => (pos, text.len()),
                    Some(seek) => match seek(self, text, pos) {
                        Some(range) => range,
                        None => break,
                    },
                };
                // A seek only cuts after ASCII bytes; were a cut ever not a char boundary, the
                // whole text is searched (slower, never a missed secret).
                let hay = text.get(..end).unwrap_or(text);
                let Some(caps) = rule.regex.captures_at(hay, start) else {
                    if end < text.len() {
                        // Nothing starts before `end`: look past it.
                        pos = end;
                        continue;
                    }
                    break;
                };
                let Some(whole) = caps.get(0) else { break };
                let next = match (rule.accept)(text, &caps) {
                    Some((start, end)) => {
                        let overlaps_marker =
                            markers.iter().any(|&(ms, me)| start < me && ms < end);
                        if !overlaps_marker && start < end {
                            candidates.push(Finding {
                                kind: rule.kind,
                                start,
                                end,
                            });
                        }
                        whole.end()
                    }
                    // Resume right after the secret-looking name, so a rejected `--password
                    // x` does not hide an assignment that starts inside its value; after the
                    // first character of a rejected `.netrc` anchor (`xmachine h login u
                    // password p` still holds `login u password p`).
                    None => match (
                        caps.name("name").or_else(|| caps.name("flag")),
                        caps.name("anchor"),
                    ) {
                        (Some(name), _) => name.end(),
                        (None, Some(anchor)) => next_char_boundary(text, anchor.start()),
                        (None, None) => whole.end(),
                    },
                };
                pos = if next > pos {
                    next
                } else {
                    next_char_boundary(text, pos)
                };
            }
        }
        merge(candidates)
    }
}

impl Redactor {
    /// The findings of a command-line rule: its pattern (anchored with `^`) is tried once at
    /// each of its command words in command position, on the text from that word to the next
    /// one (at most [`COMMAND_WINDOW_BYTES`]); the windows never overlap, so the search is
    /// linear in the text.
    fn find_commands(
        &self,
        rule: &Rule,
        words: &Regex,
        text: &str,
        markers: &[(usize, usize)],
        candidates: &mut Vec<Finding>,
    ) {
        // A rule with a needed word only matches on a line holding it (with the lines it
        // continues onto), and a command elsewhere can neither match nor cut such a line's
        // window short: only those lines are searched for command words (`az` is in many words).
        let lines = match &rule.needs {
            Some(needed) => lines_holding(text, needed),
            None => vec![(0, text.len())],
        };
        let commands: Vec<usize> = lines
            .iter()
            .flat_map(|&(from, to)| {
                words
                    .find_iter(&text[from..to])
                    .map(move |word| (from + word.start(), from + word.end()))
            })
            .filter(|&(_, end)| ends_command_word(text, end))
            .map(|(start, _)| start)
            .filter(|&start| is_command_position(text, start))
            .collect();
        for (i, &command) in commands.iter().enumerate() {
            // A window ends where the next command of this rule starts, so windows never
            // overlap and the whole search stays linear.
            let next = commands.get(i + 1).copied().unwrap_or(text.len());
            let mut window_end = (command + COMMAND_WINDOW_BYTES).min(next);
            while !text.is_char_boundary(window_end) {
                window_end -= 1;
            }
            let window = &text[command..window_end];
            let mut push = |start: usize, mut end: usize| {
                if end == window_end {
                    // A value cut by the window's edge is redacted to its own end.
                    end += text[end..]
                        .find(|c: char| c.is_whitespace() || "\"'\\`;|&<>".contains(c))
                        .unwrap_or(text.len() - end);
                }
                if start < end && !markers.iter().any(|&(ms, me)| start < me && ms < end) {
                    candidates.push(Finding {
                        kind: rule.kind,
                        start,
                        end,
                    });
                }
            };
            if rule.flags {
                let word = words.find(window).map_or(0, |w| w.end());
                self.flag_values(rule, window, word, &mut |s, e| {
                    push(command + s, command + e);
                });
            } else if let Some((start, end)) = rule
                .regex
                .captures(window)
                .and_then(|caps| (rule.accept)(window, &caps))
            {
                push(command + start, command + end);
            }
        }
    }

    /// The passwords given to the flags of one command (`keytool -storepass a -keypass b`;
    /// `sqlcmd -p -U sa -P pw`, where `-p` takes no value), for a rule with a `flag` group.
    /// The rule is tried on the command word followed by what comes after the last flag
    /// looked at. The search ends at a flag whose value was already taken (a second `-p` is
    /// another command in prose, not a second password; a marker counts as taken, so a second
    /// pass finds nothing new) and at a value that reads as prose ("-storepass is required").
    fn flag_values(
        &self,
        rule: &Rule,
        window: &str,
        word: usize,
        found: &mut dyn FnMut(usize, usize),
    ) {
        let mut taken: Vec<String> = Vec::new();
        let mut after = word;
        // Bounded: each look scans the rest of the window, and a command has few such flags.
        for _ in 0..=LATER_FLAG_LOOKS {
            if after >= window.len() {
                return;
            }
            // The window itself first; then the command word and what is left of it.
            let probe: Cow<'_, str> = if after == word {
                Cow::Borrowed(window)
            } else {
                Cow::Owned(format!("{}{}", &window[..word], &window[after..]))
            };
            let Some(caps) = rule.regex.captures(&probe) else {
                return;
            };
            let (Some(flag), Some(whole), Some((value, _))) =
                (caps.name("flag"), caps.get(0), cli_value_of(&caps))
            else {
                return;
            };
            if taken.iter().any(|t| t == flag.as_str()) || whole.end() <= word {
                return;
            }
            let to_window = |offset: usize| after + offset - word;
            let v = value.as_str();
            match (rule.accept)(&probe, &caps) {
                Some((start, end)) if word <= start && start < end => {
                    found(to_window(start), to_window(end));
                    taken.push(flag.as_str().to_owned());
                    after = past_closing_quote(window, to_window(end));
                }
                _ if v.starts_with(MARKER_PREFIX) => {
                    taken.push(flag.as_str().to_owned());
                    after = past_closing_quote(window, to_window(value.end()));
                }
                // The flag takes no value here: what follows it is the next flag.
                _ if v.starts_with('-') => after = to_window(flag.end()),
                _ if is_prose_value(&probe, value) => return,
                _ => after = to_window(whole.end()),
            }
        }
    }
}

/// The secret-like words of the `secret-assignment` rule's name, in its pattern's order.
const SECRET_NAME_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "bearer",
    "credential",
    "cookie",
    "mnemonic",
    "phrase",
];

/// Whether `b` can be part of an assignment's name or flag (`[A-Za-z0-9_.-]`).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// [`Seek`] of `secret-assignment`.
///
/// A match is a name (or a `--flag`): a run of name bytes holding one of
/// [`SECRET_NAME_WORDS`]; the run ends the name, since what follows one (a quote, a blank, `=`,
/// `:`) is never a name byte. After a name come an optional (escaped) quote, blanks and a
/// separator starting with `=` or `:`; after a flag, a blank. So the candidates are found from
/// the rare bytes instead of the words: each `=` or `:` whose preceding name run holds a word,
/// and each `--` whose run holds one and is followed by a blank. The earliest candidate's run
/// start (clamped to `pos`) is where the regex starts; no part of the pattern matches `\n`, so
/// the haystack ends at that line's end.
fn seek_assignment(_: &Redactor, text: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    // One pass over the trigger bytes, in order: a name run ends before its separator and a
    // flag's run holds its `--`, and the runs are disjoint, so the first trigger with a
    // candidate has the earliest start. (Two independent searches, each rescanning the rest of
    // the text per call, made a text with many rejected candidates quadratic.)
    let mut from = pos;
    while let Some(i) = memchr::memchr3(b'=', b':', b'-', &bytes[from..]) {
        let at = from + i;
        from = at + 1;
        let start = if bytes[at] == b'-' {
            if bytes.get(at + 1) != Some(&b'-') {
                continue;
            }
            let start = name_run_start(bytes, pos, at);
            let mut end = at;
            while end < bytes.len() && is_name_byte(bytes[end]) {
                end += 1;
            }
            from = end.max(at + 2);
            // A blank, or the end of a list item (`"--token", "v"`).
            let after_flag = matches!(
                bytes.get(end),
                Some(b' ' | b'\t' | b'"' | b'\'' | b'\\' | b'\n' | b'\r')
            );
            if !(after_flag && has_secret_word(&bytes[start..end])) {
                continue;
            }
            // The window reaches the next line too (it may only be larger than needed).
            let next_line =
                memchr::memchr(b'\n', &bytes[end..]).map_or(text.len(), |i| end + i + 1);
            let line_end = memchr::memchr(b'\n', bytes.get(next_line..).unwrap_or_default())
                .map_or(text.len(), |i| next_line + i);
            return Some((start, line_end));
        } else {
            match named_start(bytes, pos, at) {
                Some(start) => start,
                None => continue,
            }
        };
        let line_end = memchr::memchr(b'\n', &bytes[start..]).map_or(text.len(), |i| start + i);
        return Some((start, line_end));
    }
    None
}

/// For the separator (`=` or `:`) at `sep`: the start (clamped to `pos`) of the name run before
/// it, past `[\\]["']` and blanks, when that run holds a secret-like word.
fn named_start(bytes: &[u8], pos: usize, sep: usize) -> Option<usize> {
    let mut end = sep;
    while end > pos && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    // An index by a quoted key: `os.environ['DB_PASSWORD'] = …`.
    if end > pos + 1 && bytes[end - 1] == b']' && matches!(bytes[end - 2], b'"' | b'\'') {
        end -= 1;
    }
    if end > pos && matches!(bytes[end - 1], b'"' | b'\'') {
        end -= 1;
        // A quote escaped once per level of JSON nesting.
        while end > pos && bytes[end - 1] == b'\\' {
            end -= 1;
        }
    }
    let start = name_run_start(bytes, pos, end);
    has_secret_word(&bytes[start..end]).then_some(start)
}

/// Where the run of name bytes ending at `end` starts, not before `pos`.
fn name_run_start(bytes: &[u8], pos: usize, end: usize) -> usize {
    let mut start = end;
    while start > pos && is_name_byte(bytes[start - 1]) {
        start -= 1;
    }
    start
}

/// Whether `run` holds one of [`SECRET_NAME_WORDS`], ASCII case-insensitively (the pattern's
/// `(?i-u:…)`).
fn has_secret_word(run: &[u8]) -> bool {
    SECRET_NAME_WORDS.iter().any(|word| {
        run.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    })
}

/// Whether `b` is in the `high-entropy` rule's run class (`[A-Za-z0-9+/_-]`).
fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-')
}

/// [`Seek`] of `high-entropy`: its match is the first run of at least
/// [`MIN_HIGH_ENTROPY_CHARS`] run bytes at or after `pos`, plus up to two `=`; the haystack ends
/// there. Such a run covers one of any [`MIN_HIGH_ENTROPY_CHARS`] consecutive positions, so
/// only every 32nd byte is probed, and only a probe that lands on a run byte measures its run.
fn seek_high_entropy(_: &Redactor, text: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut probe = pos + MIN_HIGH_ENTROPY_CHARS - 1;
    while probe < bytes.len() {
        if !is_run_byte(bytes[probe]) {
            probe += MIN_HIGH_ENTROPY_CHARS;
            continue;
        }
        let mut start = probe;
        while start > pos && is_run_byte(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < bytes.len() && is_run_byte(bytes[end]) {
            end += 1;
        }
        if end - start >= MIN_HIGH_ENTROPY_CHARS {
            let pad = bytes[end..]
                .iter()
                .take(2)
                .take_while(|&&b| b == b'=')
                .count();
            return Some((start, end + pad));
        }
        // The next long run starts after `end`, so it covers `end + MIN_HIGH_ENTROPY_CHARS`.
        probe = end + MIN_HIGH_ENTROPY_CHARS;
    }
    None
}

/// Sorts findings and merges overlapping ones, keeping the most specific kind.
fn merge(mut candidates: Vec<Finding>) -> Vec<Finding> {
    candidates.sort_by_key(|f| (f.start, f.end, f.kind));
    let mut merged: Vec<Finding> = Vec::with_capacity(candidates.len());
    for next in candidates {
        match merged.last_mut() {
            Some(last) if next.start < last.end => {
                last.end = last.end.max(next.end);
                last.kind = last.kind.min(next.kind);
            }
            _ => merged.push(next),
        }
    }
    merged
}

/// The byte offset of the character after the one at `pos`.
fn next_char_boundary(text: &str, pos: usize) -> usize {
    text.get(pos..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len(), |c| pos + c.len_utf8())
}

/// The process-wide redactor behind [`redact`], [`redact_json`] and [`is_clean`].
///
/// A static is acceptable here, unlike configuration (STYLE §6 "No global state"): it holds only
/// immutable compiled patterns that do not depend on paths, config or environment, so every
/// caller would build exactly the same value, and building it once saves recompiling the regexes
/// on each write path.
static DEFAULT: LazyLock<Result<Redactor, RedactError>> = LazyLock::new(Redactor::new);

/// Redacts `text` with the process-wide [`Redactor`]; borrows when there is nothing to redact.
///
/// If the patterns could not be compiled, returns [`UNAVAILABLE_MARKER`] for non-empty input
/// (fail closed).
pub fn redact(text: &str) -> Cow<'_, str> {
    match &*DEFAULT {
        Ok(redactor) => redactor.redact(text).text,
        Err(_) if text.is_empty() => Cow::Borrowed(text),
        Err(_) => Cow::Borrowed(UNAVAILABLE_MARKER),
    }
}

/// Whether `text` has nothing to redact, using the process-wide [`Redactor`].
///
/// Returns `false` when the patterns could not be compiled (fail closed).
pub fn is_clean(text: &str) -> bool {
    match &*DEFAULT {
        Ok(redactor) => redactor.is_clean(text),
        Err(_) => text.is_empty(),
    }
}

/// Redacts every string in `value` in place with the process-wide [`Redactor`]; returns the
/// number of replacements (see [`Redactor::redact_json`]).
///
/// If the patterns could not be compiled, every string becomes [`UNAVAILABLE_MARKER`].
pub fn redact_json(value: &mut Value) -> usize {
    match &*DEFAULT {
        Ok(redactor) => redactor.redact_json(value),
        Err(_) => blank_strings(value),
    }
}

/// Replaces every non-empty string in `value` with [`UNAVAILABLE_MARKER`].
fn blank_strings(value: &mut Value) -> usize {
    match value {
        Value::String(s) if !s.is_empty() => {
            UNAVAILABLE_MARKER.clone_into(s);
            1
        }
        Value::Array(items) => items.iter_mut().map(blank_strings).sum(),
        Value::Object(map) => map.values_mut().map(blank_strings).sum(),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Acceptance checks
// ---------------------------------------------------------------------------------------------

/// Characters that continue a token: a secret must not start right after one of these.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether the match starting at `start` begins a token rather than continuing a word.
///
/// A JSON escape (`\n`, `\t`, `\"`) right before the match counts as a boundary: raw JSONL
/// lines are redacted too.
fn is_left_boundary(text: &str, start: usize) -> bool {
    let before = text.get(..start).unwrap_or_default();
    let mut rev = before.chars().rev();
    match rev.next() {
        None => true,
        Some(c) if !is_token_char(c) => true,
        Some('n' | 't' | 'r') => rev.next() == Some('\\'),
        Some(_) => false,
    }
}

fn span_of(caps: &Captures<'_>, group: &str) -> Option<(usize, usize)> {
    caps.name(group).map(|m| (m.start(), m.end()))
}

fn whole_span(caps: &Captures<'_>) -> Option<(usize, usize)> {
    caps.get(0).map(|m| (m.start(), m.end()))
}

fn accept_whole(_text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    whole_span(caps)
}

fn accept_group_v(_text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    span_of(caps, "v")
}

fn accept_left_bounded(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = whole_span(caps)?;
    is_left_boundary(text, start).then_some((start, end))
}

/// The base64 lines of a key block before its END line, from the first line of at least 40
/// characters (key lines hold 64 or 70): shorter lines before it are other text (`tail -4
/// mykeyfile`, `ok`); short lines after it (a last line, a PGP checksum) are the key's.
fn accept_key_tail(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (mut start, end) = whole_span(caps)?;
    // A run right after a JSON escape (`\nAbc…`) starts with the escape letter.
    if text.get(..start).is_some_and(|b| b.ends_with('\\'))
        && text
            .get(start..)
            .is_some_and(|r| r.starts_with(['n', 'r', 't']))
    {
        start += 1;
    }
    loop {
        // The END line has no line break after it in the match: no long line was found.
        let (len, next) = first_line_break(text.get(start..end)?)?;
        if len >= 40 {
            return Some((start, end));
        }
        start += next;
    }
}

/// The first line break of `run` (real, or JSON-escaped `\n` / `\r\n`): where it starts and
/// where the next line does. One pass, so that walking a text line by line stays linear.
fn first_line_break(run: &str) -> Option<(usize, usize)> {
    let bytes = run.as_bytes();
    let mut from = 0;
    loop {
        let at = from + memchr::memchr2(b'\n', b'\\', bytes.get(from..)?)?;
        match &bytes[at..] {
            [b'\n', ..] if at > 0 && bytes[at - 1] == b'\r' => return Some((at - 1, at + 1)),
            [b'\n', ..] => return Some((at, at + 1)),
            [b'\\', b'n', ..] => return Some((at, at + 2)),
            [b'\\', b'r', b'\\', b'n', ..] => return Some((at, at + 4)),
            // Another escape: the line goes on past it.
            _ => from = at + 1,
        }
    }
}

/// Where a `private-key-tail` match can be: nowhere without an END line.
fn seek_key_tail(_: &Redactor, text: &str, pos: usize) -> Option<(usize, usize)> {
    let rest = text.get(pos..)?;
    static END_LINE: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("-- END"));
    static DASHES: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("-----END"));
    let bytes = rest.as_bytes();
    (DASHES.find(bytes).is_some() || END_LINE.find(bytes).is_some()).then_some((pos, text.len()))
}

/// The rule's `v` group, whatever it holds (the rule's pattern is specific enough).
fn accept_value(_text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    caps.name("v").map(|v| (v.start(), v.end()))
}

/// A secret given to a tool as a plain argument (see the `tool-secret` rule), judged as a
/// command-line flag's value: `gh secret set` only after `gh`, `put-parameter`'s value only
/// for a `SecureString`, npm's token only after `config set`.
fn accept_tool_secret(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    // A branch's value groups are its name followed by `dq` (double-quoted), `sq` or `bare`
    // (`sqlplus` has one group, named like the branch).
    const BRANCHES: [&str; 14] = [
        "gh", "ssm", "ps", "npm", "zip", "twine", "sz", "lftp", "http", "poetry", "pypi", "setx",
        "psenv", "send",
    ];
    let (branch, value, quoted) = match caps.name("sqlplus") {
        Some(value) => ("sqlplus", value, false),
        None => BRANCHES.iter().find_map(|&branch| {
            [("dq", true), ("sq", true), ("bare", false)]
                .iter()
                .find_map(|&(suffix, quoted)| {
                    caps.name(&format!("{branch}{suffix}"))
                        .map(|value| (value, quoted))
                })
                .map(|(value, quoted)| (branch, value, quoted))
        })?,
    };
    let whole = caps.get(0)?;
    let line_start = text[..whole.start()].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..whole.start()];
    let wanted = match branch {
        "gh" => word_before(before) == Some("gh"),
        "ssm" => {
            let line_end = text[whole.end()..]
                .find('\n')
                .map_or(text.len(), |i| whole.end() + i);
            text[line_start..line_end].contains("SecureString")
        }
        "npm" => before.contains("config set") || before.contains("config\tset"),
        // The variable's name must be a secret's, as for an assignment.
        "setx" | "psenv" => {
            let name = caps.name(&format!("{branch}name"))?.as_str();
            match classify_name(name)? {
                NameStrength::Strong => true,
                NameStrength::Weak => looks_random(value.as_str()),
            }
        }
        // A prompt's answer such as `y` or `exit` is no password: it must look like one.
        "send" => is_typed_password(value.as_str()) && answers_password_prompt(text, whole.start()),
        // `zip` and `http` are words of prose and file names too (`release.zip -P`, "the http
        // logs … -a"): only a command counts.
        "zip" | "http" => is_command_position(text, whole.start()),
        _ => true,
    };
    if !wanted {
        return None;
    }
    judge_cli_value(text, value, quoted)
}

/// How far before an expect script's `send` its password prompt may be.
const SEND_PROMPT_BEFORE: usize = 256;

/// Whether the `send` at `start` answers a password prompt: an `expect` comes shortly before it,
/// and after it a pattern naming a password or passphrase (`password:`, `*assword*`,
/// `[Pp]assword`, any case), with no other `send` between that pattern and this one (in an
/// `expect { "yes/no" { send … } "password:" { send … } }` block, only the second).
fn answers_password_prompt(text: &str, start: usize) -> bool {
    let mut from = start.saturating_sub(SEND_PROMPT_BEFORE);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = text[from..start].to_ascii_lowercase();
    let Some(expect) = window.find("expect") else {
        return false;
    };
    let prompt = ["assword", "assphrase"]
        .iter()
        .filter_map(|word| window.rfind(word))
        .max();
    prompt.is_some_and(|at| at > expect && !window[at..].contains("send"))
}

/// The word (ASCII letters and digits) that `before` ends with after blanks, if blanks come
/// before the end: `gh` in `gh secret set`, `public` in `public key: …`.
fn word_before(before: &str) -> Option<&str> {
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.len() == before.len() {
        return None;
    }
    trimmed.rsplit(|c: char| !c.is_ascii_alphanumeric()).next()
}

/// A URL's signature (see the `url-signature` rule): varied enough to be one, and not a
/// placeholder.
fn accept_url_signature(_text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let value = caps.name("v")?;
    let v = value.as_str();
    (distinct_chars(v) >= 10 && !is_placeholder(v)).then_some((value.start(), value.end()))
}

/// How far after the word `pgpass` a `.pgpass` line may start (`cat ~/.pgpass`, then lines).
const PGPASS_AFTER: usize = 2048;
/// How far before the word `pgpass` a `.pgpass` line may start (`echo "…" >> ~/.pgpass`).
const PGPASS_BEFORE: usize = 512;
/// Longest `pgpass-password` match (four fields of at most 255 bytes and their separators).
const PGPASS_MATCH_MAX: usize = 4 * 255 + 16;

/// The word near which a `.pgpass` line is taken for one.
static PGPASS: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("pgpass"));

/// Where a `pgpass-password` match can start: within [`PGPASS_BEFORE`] before or
/// [`PGPASS_AFTER`] after an occurrence of `pgpass` (windows of nearby occurrences merged).
fn seek_pgpass(_: &Redactor, text: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let from = pos.saturating_sub(PGPASS_AFTER);
    let first = from + PGPASS.find(bytes.get(from..)?)?;
    let mut last = first;
    while let Some(next) = bytes
        .get(last + 1..)
        .and_then(|rest| PGPASS.find(rest))
        .map(|i| last + 1 + i)
        .filter(|&next| next.saturating_sub(PGPASS_BEFORE) <= last + PGPASS_AFTER)
    {
        last = next;
    }
    let start = pos.max(first.saturating_sub(PGPASS_BEFORE));
    let end = (last + PGPASS_AFTER + PGPASS_MATCH_MAX).min(text.len());
    let start = (0..=start).rev().find(|&i| text.is_char_boundary(i))?;
    let end = (end..=text.len()).find(|&i| text.is_char_boundary(i))?;
    (start < end).then_some((start, end))
}

/// A `.pgpass` password: its line starts near the word `pgpass` (see [`seek_pgpass`]), its
/// database and user are not both numbers, and the value has at least 4 characters and is not
/// a placeholder (`*:*:*:user:password`, `$PGPASSWORD`).
fn accept_pgpass_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let value = caps.name("bare")?;
    let whole = caps.get(0)?;
    let lo = whole.start().saturating_sub(PGPASS_AFTER);
    let hi = (whole.start() + PGPASS_BEFORE + "pgpass".len()).min(text.len());
    let near = PGPASS.find(text.as_bytes().get(lo..hi)?).is_some();
    let v = value.as_str();
    // A database and a user that are both numbers: a run of numbers (`12:30:45:100:200`).
    let numbers = whole
        .as_str()
        .split(':')
        .skip(2)
        .take(2)
        .all(|field| field.bytes().all(|b| b.is_ascii_digit()));
    (near && !numbers && v.chars().count() >= 4 && is_password_value(v) && !is_named_placeholder(v))
        .then_some((value.start(), value.end()))
}

/// A service token: a boundary on both sides and a random-looking body after its prefix.
fn accept_service_token(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = accept_left_bounded(text, caps)?;
    let token = text.get(start..end)?;
    let continues = text
        .get(end..)
        .and_then(|s| s.chars().next())
        .is_some_and(|c| c.is_ascii_alphanumeric());
    // An age key is bech32 in upper case, which reads as one long word.
    if let Some(body) = token.strip_prefix("AGE-SECRET-KEY-1") {
        return (!continues && distinct_chars(body) >= 10).then_some((start, end));
    }
    let body = token
        .find(['_', '.', '-'])
        .filter(|&i| i < 9)
        .map_or_else(|| token.get(4..), |i| token.get(i + 1..))
        .unwrap_or_default();
    // `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` is an identifier: random bodies switch case.
    let random =
        longest_alnum_run(body) >= 16 && distinct_chars(body) >= 10 && wordiness(body) <= 0.6;
    (!continues && random && !is_placeholder(body)).then_some((start, end))
}

/// A `.netrc` password. After `machine <host> login <user>` or `default login <user>` any real
/// value is one; after a bare `login <user>` (prose reads alike: "failed login root password 3
/// times") only a value of four characters or more that looks like a password. The entry must
/// start a word (after a JSON-escaped line break too).
fn accept_netrc_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let value = caps.name("dq").or_else(|| caps.name("bare"))?;
    let v = value.as_str();
    let anchor = caps.name("anchor")?;
    if !is_left_boundary(text, anchor.start()) || !is_password_value(v) {
        return None;
    }
    if is_named_placeholder(v) || crate::recall::analyze::is_stop_word(&v.to_lowercase()) {
        return None;
    }
    // `default` in prose ("by default login root password …") does not start a line.
    if anchor.as_str().starts_with("default") && !is_line_start(text, anchor.start()) {
        return None;
    }
    // `password` first: only for a host name with a dot (or `default`), and then when `login`
    // follows the value or the value has a digit or mixed case and starts alphanumeric
    // ("the machine account password (every 30 days)", "a machine learning password manager
    // login flow", `"machine #{host} password #{token}"` are not entries).
    if let Some(first) = caps.name("first") {
        let then_login = text.get(value.end()..).is_some_and(|rest| {
            let rest = skip_breaks(rest);
            rest.starts_with("login ") || rest.starts_with("login\t")
        });
        let host_has_dot = first
            .as_str()
            .split_whitespace()
            .nth(1)
            .is_some_and(|host| host.contains('.'));
        let strong = v.starts_with(char::is_alphanumeric)
            && !v.contains(['=', '(', ')', '{', '}'])
            && v.chars().count() >= 6
            && has_digit_or_mixed_case(v);
        let default = first.as_str().starts_with("default");
        let entry = (host_has_dot || default) && (then_login || strong);
        return (entry && (then_login || caps.name("bare").is_some()))
            .then_some((value.start(), value.end()));
    }
    let netrc = !anchor.as_str().starts_with("login");
    let plausible = caps.name("dq").is_some() || (v.chars().count() >= 4 && looks_like_password(v));
    (netrc || plausible).then_some((value.start(), value.end()))
}

/// A password on a command line (`mysql -pS3cret`, `sshpass -p 'pw'`, `curl -u user:pw`);
/// `text` starts at the command word, which the caller found in command position.
fn accept_cli_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (value, quoted) = cli_value_of(caps)?;
    judge_cli_value(text, value, quoted)
}

/// `echo pw | docker login --password-stdin`, `--password-stdin <<< pw`, `echo pw | sudo -S
/// …`: judged as a flag's
/// value is, and it must look like a password (a digit, mixed case, or a symbol other than
/// `-_.`) and not be a mask or a bracketed name: examples and CI logs pipe `"***"`,
/// `"[token]"`, `mytoken` or `my-token`.
fn accept_stdin_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (value, quoted) = cli_value_of(caps)?;
    let v = value.as_str();
    if !is_typed_password(v) || v.starts_with(['[', '*']) {
        return None;
    }
    judge_cli_value(text, value, quoted)
}

/// Whether a value typed in answer to a password prompt looks like a password: 4 characters or
/// more, with a digit, mixed case or a symbol other than `-_.*` (so not `y`, `exit`, `mytoken`
/// or `***`).
fn is_typed_password(v: &str) -> bool {
    let strong = has_digit_or_mixed_case(v)
        || v.chars()
            .any(|c| !c.is_alphanumeric() && !"-_.*".contains(c));
    strong && v.chars().count() >= 4
}

/// A digit, or upper and lower case letters: what a password has and a word or a name lacks.
fn has_digit_or_mixed_case(v: &str) -> bool {
    let (upper, lower, digits) = class_counts(v);
    digits > 0 || (upper > 0 && lower > 0)
}

/// `htpasswd -b FILE USER PW`, `htpasswd -nb USER PW`: only with `b` among the flags. With
/// `n` there is no file, so when three words follow the flags the password is the second.
fn accept_htpasswd_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let flags = caps.name("flags")?.as_str();
    let cluster = |c: char| {
        flags
            .split_whitespace()
            .any(|f| !f.starts_with("-C") && f.contains(c))
    };
    if !cluster('b') {
        return None;
    }
    if cluster('n') {
        if let (Some(_), Some(user)) = (caps.name("file"), caps.name("user")) {
            return judge_cli_value(text, user, false);
        }
    } else if caps.name("file").is_none() {
        return None;
    }
    accept_cli_password(text, caps)
}

/// `s` without its leading quotes, blanks and line breaks (JSON-escaped ones too).
fn skip_breaks(s: &str) -> &str {
    let mut rest = s;
    loop {
        let before = rest.len();
        rest = rest.trim_start_matches(['"', ' ', '\t', '\r', '\n']);
        if let Some(escaped) = rest.strip_prefix('\\') {
            rest = escaped.strip_prefix(['n', 't', 'r']).unwrap_or(escaped);
        }
        if rest.len() == before {
            return rest;
        }
    }
}

/// The value a command-line rule captured, accepted or not, and whether it was quoted.
fn cli_value_of<'t>(caps: &Captures<'t>) -> Option<(regex::Match<'t>, bool)> {
    let quoted = ["dq", "sq", "dq2", "sq2"]
        .iter()
        .find_map(|group| caps.name(group));
    match quoted {
        Some(value) => Some((value, true)),
        None => caps
            .name("bare")
            .or_else(|| caps.name("bare2"))
            .map(|v| (v, false)),
    }
}

/// Whether a flag's `value` reads as prose about the flag: after a blank, a stop word or a
/// word that ends a clause ("-storepass is required", "-p, then").
fn is_prose_value(text: &str, value: regex::Match<'_>) -> bool {
    let v = value.as_str();
    let after_blank = text
        .get(..value.start())
        .is_some_and(|b| b.ends_with([' ', '\t']));
    after_blank
        && (crate::recall::analyze::is_stop_word(&v.to_lowercase())
            || v.ends_with(['.', ',', '!', '?', ':']))
}

/// Whether a command-line flag's `value` is a password (see [`accept_cli_password`]).
fn judge_cli_value(text: &str, value: regex::Match<'_>, quoted: bool) -> Option<(usize, usize)> {
    let v = value.as_str();
    if !is_password_value(v) || is_named_placeholder(v) {
        return None;
    }
    if quoted {
        // `-p" + password + "`, `-p' + pw)`, `-p"+pw`: code building a command, not a value.
        let code = v.starts_with(|c: char| c.is_whitespace() || c == '+' || c == '.')
            || v.ends_with(char::is_whitespace);
        return (!code).then_some((value.start(), value.end()));
    }
    // `-p,` `-p[password]` `-p**` `-p)` `-p.` (docs, Markdown) and port mappings
    // (`-p3306:3306`, `-p127.0.0.1:3306:3306/tcp`) are not passwords.
    let port_mapping = v.contains(':')
        && v.chars()
            .all(|c| c.is_ascii_digit() || ":./tcpudp".contains(c));
    if !v.starts_with(|c: char| c.is_alphanumeric() || "!#%+/=@^_~".contains(c)) || port_mapping {
        return None;
    }
    // After a blank, prose about the flag ("… -p because it leaks", "-a everything, …").
    if is_prose_value(text, value) {
        return None;
    }
    Some((value.start(), value.end()))
}

/// The byte offset just past the last character of `s` that `pred` accepts (0 if none).
fn after_last(s: &str, pred: impl Fn(char) -> bool) -> usize {
    s.char_indices()
        .rev()
        .find(|&(_, c)| pred(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// Whether `start` begins a line: the text's start or a line break (real or JSON-escaped)
/// before it, blanks aside.
fn is_line_start(text: &str, start: usize) -> bool {
    let before = text
        .get(..start)
        .unwrap_or_default()
        .trim_end_matches([' ', '\t']);
    before.is_empty() || before.ends_with(['\n', '\r']) || before.ends_with("\\n")
}

/// Words that run the command after them (or start a command in a script or a file).
const COMMAND_PREFIXES: &[&str] = &[
    "sudo", "doas", "env", "time", "nohup", "exec", "command", "builtin", "watch", "xargs", "nice",
    "ionice", "timeout", "stdbuf", "then", "do", "else", "elif", "if", "while", "until", "!",
    "RUN", "docker", "podman", "kubectl", "oc", "compose", "ssh",
];

/// Prose words after which a command is given on the same line ("To connect run mysql -p…",
/// "log in with curl -u …"): each ends the walk back as a line start would. Only a command's
/// own flag and value are then read (as after a line start), so prose about a flag still
/// survives ("run mysql with -p to be prompted").
const PROSE_LEADS: &[&str] = &[
    "run", "use", "try", "execute", "type", "with", "via", "then", "and", "or",
];

/// Whether the word at `start` is in command position, judged from what precedes it on its
/// line: a line start (JSON-escaped breaks too), a shell operator, a parenthesis, a backtick,
/// a quote (a list item, a string handed to a shell), a prompt (`$ `, `# `, `>`), a YAML key
/// (`run: `) or a colon ending prose (`To connect: `) or a prose verb or connector
/// ([`PROSE_LEADS`]: "To connect run "), possibly after prefixes (`sudo -u root`, `env A=1`,
/// `nice -n 19`, `then`, `RUN`, a Markdown list or history number, cron fields; up to 1 KiB of
/// them), and at most one other word when an `exec`
/// or `ssh` further back owns it (`docker exec -it db mysql`, `ssh host mysql`). A path or a
/// Makefile prefix glued to the command (`/usr/bin/mysqldump`, `./redis-cli`, `@mysql`) counts
/// as the command. Not an argument (`find . -name mysql`, `kubectl logs mysql`), a path's end
/// (`/var/lib/mysql`), a method (`b.curl`) or a port forward (`3306:mysql:3306`).
fn is_command_position(text: &str, start: usize) -> bool {
    let mut before = text.get(..start).unwrap_or_default();
    // What is glued to the command word: a path to it, or a Makefile `@`/`-`.
    if before.ends_with('/') {
        let token_start = after_last(before, |c| c.is_whitespace() || "\"'`;|&(".contains(c));
        let token = &before[token_start..];
        if !["/", "./", "~/", "../"]
            .iter()
            .any(|p| token.starts_with(p))
        {
            return false;
        }
        before = &before[..token_start];
    } else if let Some(rest) = before.strip_suffix(['@', '-']) {
        let rest = rest.strip_suffix('@').unwrap_or(rest);
        return is_line_start(text, rest.len());
    }
    if before.ends_with('>') {
        return true;
    }
    // Walk back over the words of the command's line, at most 1 KiB of them.
    let floor = before.len().saturating_sub(1024);
    let mut owned_word_pending = false;
    let mut previous_was_value = false;
    loop {
        let trimmed = before.trim_end_matches([' ', '\t']);
        let blank = trimmed.len() < before.len();
        let mut rev = trimmed.chars().rev();
        let boundary = match rev.next() {
            None => true,
            Some('n' | 't' | '"' | '\'') if rev.next() == Some('\\') => true,
            Some(c) if "\n\r;|&(`\"'{".contains(c) => true,
            Some('$' | '#' | '>') => blank,
            Some(':') => blank && !trimmed.ends_with("::"),
            _ => false,
        };
        if boundary {
            return !owned_word_pending;
        }
        if !blank {
            return false;
        }
        let word_start = after_last(trimmed, |c| c.is_whitespace() || "\"'`;|&({".contains(c));
        if word_start < floor {
            return false;
        }
        let word = &trimmed[word_start..];
        before = &trimmed[..word_start];
        // A word another rule rewrote (`PASSWORD=[REDACTED:…]`) may have held a `;` that ended
        // the command: judged as not a command, the text reads the same once redacted again.
        if word.contains("[REDACTED") {
            return false;
        }
        let is_option = word.starts_with('-');
        let is_number = word
            .trim_end_matches(['.', ')'])
            .chars()
            .all(|c| c.is_ascii_digit() || "*/{}".contains(c));
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if is_option || is_number || is_assignment {
            previous_was_value = false;
            continue;
        }
        // Prose before the command ("To connect run mysql"): the line starts here for it. A
        // word between the two is an argument (`use find . -name mysql`), as after a line start.
        if PROSE_LEADS
            .iter()
            .any(|lead| word.eq_ignore_ascii_case(lead))
        {
            return !owned_word_pending;
        }
        if COMMAND_PREFIXES.contains(&word) {
            if matches!(word, "exec" | "ssh") {
                owned_word_pending = false;
            }
            previous_was_value = false;
            continue;
        }
        // Another word: an option's value (`-u root`, `-it db`) when an option precedes it,
        // else the one word an `exec` or `ssh` further back may own.
        let option_before = before
            .trim_end_matches([' ', '\t'])
            .rsplit(char::is_whitespace)
            .next()
            .is_some_and(|w| w.starts_with('-') && w.len() > 1);
        if option_before && !previous_was_value {
            previous_was_value = true;
            continue;
        }
        if owned_word_pending {
            return false;
        }
        owned_word_pending = true;
        previous_was_value = false;
    }
}

/// `MYSQL_PASSWORD`, `GITHUB_PAT`, `mypassword`, `freds_api_token`: a name standing for the
/// value in docs, not the value. (`X7K9Q2M4`, capitals and digits alone, and `Password123!`
/// can be passwords.)
fn is_named_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let all_caps = v
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && v.chars().any(|c| c.is_ascii_uppercase());
    let name_like = v.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
    (all_caps && v.contains('_'))
        || (name_like
            && ["password", "passwd", "_token", "api_key", "apikey"]
                .iter()
                .any(|w| lower.contains(w)))
}

/// A password flag of `sqlcmd` (`-P`), `mongosh`/`mongo` (`-p`), `keytool` (`-storepass`,
/// `-keypass`) or an LDAP client (`-w`): each command's own flag only.
fn accept_other_cli_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let flag = caps.name("flag")?.as_str();
    // `-storepass storepass -keypass keypass`: a value naming its flag is a placeholder.
    if cli_value_of(caps).is_some_and(|(v, _)| v.as_str().eq_ignore_ascii_case(&flag[1..])) {
        return None;
    }
    let ok = if text.starts_with("sqlcmd") {
        flag == "-P"
    } else if text.starts_with("mongo") {
        flag == "-p"
    } else if text.starts_with("keytool") {
        flag.ends_with("pass")
    } else {
        flag == "-w"
    };
    if ok {
        accept_cli_password(text, caps)
    } else {
        None
    }
}

/// `openssl … -k pw`, and `-pass`/`-passin`/`-passout`/`-password` with `pass:pw`; the other
/// password sources (`env:VAR`, `file:path`, `fd:3`, `stdin`) name where it is, not what.
fn accept_openssl_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let flag = caps.name("flag")?.as_str();
    let given = ["pq", "pq2", "pb"]
        .iter()
        .any(|group| caps.name(group).is_some());
    if flag != "-k" && !given {
        return None;
    }
    accept_cli_password(text, caps)
}

/// A secret-looking name and its value given apart (see the `name-value-pair` rule): judged as
/// an assignment of that value to that name.
fn accept_name_value_pair(_text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let name = ["name", "name2", "name3", "name4", "name5"]
        .iter()
        .find_map(|group| caps.name(group))?
        .as_str();
    let strength = classify_name(name)?;
    // An XML element named only `key` is a plist key or a map's key, not a secret's name.
    if caps.name("name4").is_some() && strength == NameStrength::Weak {
        return None;
    }
    // Judged as `NAME=value` is: quoted values as quoted, the rest as bare (so code such as
    // `getenv('X')` or a constant is not a value).
    let (value, shape) = match (caps.name("dq"), caps.name("sq")) {
        (Some(quoted), _) => (quoted, ValueShape::Quoted),
        (None, Some(quoted)) => (quoted, ValueShape::SingleQuoted),
        (None, None) => (
            caps.name("text").or_else(|| caps.name("bare"))?,
            ValueShape::Bare,
        ),
    };
    let raw = value.as_str();
    let lead = raw.len() - raw.trim_start().len();
    let v = match shape {
        ValueShape::Bare => bare_value(raw.trim(), name)?,
        _ => raw.trim(),
    };
    if !is_plausible_value(v, shape, name) || (strength == NameStrength::Weak && !looks_random(v)) {
        return None;
    }
    let start = value.start() + lead;
    Some((start, start + v.len()))
}

/// A Markdown table row's secret (see the `table-row` rule): the name is a whole cell, after
/// the row's `|` (and blanks, and a backtick), then judged as a name-value pair is.
fn accept_table_row(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let name = caps.name("name")?;
    let before = text[..name.start()].trim_end_matches([' ', '\t']);
    let before = before.strip_suffix('`').unwrap_or(before);
    let before = before.trim_end_matches([' ', '\t']);
    if !before.ends_with('|') {
        return None;
    }
    accept_name_value_pair(text, caps)
}

/// `requirepass pw` / `masterauth pw` in redis.conf or `CONFIG SET`, and `AUTH [user] pw` at a
/// redis-cli prompt.
fn accept_redis_config_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let value = caps.name("bare").or_else(|| caps.name("v"))?;
    let v = value.as_str();
    // A configuration line or a command ends with its value; prose goes on ("requirepass is
    // set", "> AUTH is deprecated in favor of HELLO").
    let rest = text.get(value.end()..).unwrap_or_default();
    let ends_line = rest
        .trim_start_matches([' ', '\t'])
        .chars()
        .next()
        .is_none_or(|c| "\n\r\\\"',]#".contains(c));
    let prose = crate::recall::analyze::is_stop_word(&v.to_lowercase());
    (ends_line && !prose && is_password_value(v) && !is_named_placeholder(v))
        .then_some((value.start(), value.end()))
}

/// A URL whose whole userinfo is a token, not a user name.
fn accept_url_token(_text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let value = caps.name("v")?;
    let v = value.as_str();
    // One long alphanumeric run (a hex or base32 token), or a mixed-case random one; a user
    // name such as `contoso-engineering-2021` is words.
    let (upper, lower, digits) = class_counts(v);
    let token =
        longest_alnum_run(v) >= 32 || (upper > 0 && lower > 0 && digits > 0 && looks_random(v));
    (token && distinct_chars(v) >= 10 && !is_placeholder(v)).then_some((value.start(), value.end()))
}

/// Whether a value given as a password can be one: not empty, not a variable or command
/// substitution, a placeholder, a keyword, or the word "password" itself.
fn is_password_value(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    !(v.is_empty()
        || v.starts_with(['$', '<', '{', '-', '%', '`'])
        || is_placeholder(v)
        || is_keyword(v)
        || matches!(
            lower.as_str(),
            "pass" | "password" | "passwd" | "pwd" | "secret" | "token"
        ))
}

/// A digit, a symbol or mixed case: what a password has and a prose word does not.
fn looks_like_password(v: &str) -> bool {
    v.chars().any(|c| !c.is_alphabetic())
        || (v.chars().any(char::is_uppercase) && v.chars().any(char::is_lowercase))
}

/// `sk-…`, `ghp_…`, `glpat-…`, `sk_live_…`: a boundary and a random-looking body.
fn accept_prefixed_token(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = accept_left_bounded(text, caps)?;
    let token = text.get(start..end)?;
    let body = [
        "sk-ant-",
        "sk-proj-",
        "sk-svcacct-",
        "sk-admin-",
        "sk-",
        "github_pat_",
        "glpat-",
        "gldt-",
        "glrt-",
        "glcbt-",
        "glptt-",
        "glft-",
        "glimt-",
        "glagent-",
        "gloas-",
        "glsoat-",
        "glffct-",
        "whsec_",
    ]
    .iter()
    .find_map(|prefix| token.strip_prefix(prefix))
    .unwrap_or_else(|| token.get(4..).unwrap_or_default());
    is_token_body(body).then_some((start, end))
}

/// A vendor token body: digits and letters, a long alphanumeric run, not a placeholder.
fn is_token_body(body: &str) -> bool {
    body.chars().any(|c| c.is_ascii_digit())
        && body.chars().any(|c| c.is_ascii_alphabetic())
        && longest_alnum_run(body) >= 12
        && distinct_chars(body) >= 8
        && !is_placeholder(body)
}

fn accept_aws_access_key(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = whole_span(caps)?;
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    let after = text.get(end..).and_then(|s| s.chars().next());
    let continues = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let body = text.get(start + 4..end).unwrap_or_default();
    (!continues(before) && !continues(after) && !is_placeholder(body)).then_some((start, end))
}

fn accept_aws_secret_key(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = span_of(caps, "v")?;
    let after = text.get(end..).and_then(|s| s.chars().next());
    let value = text.get(start..end)?;
    let continues = after.is_some_and(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    (!continues && !is_placeholder(value)).then_some((start, end))
}

fn accept_slack_token(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = accept_left_bounded(text, caps)?;
    let body = text.get(start + 5..end).unwrap_or_default();
    (body.chars().any(|c| c.is_ascii_digit()) && !is_placeholder(body)).then_some((start, end))
}

fn accept_url_password(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = span_of(caps, "v")?;
    let value = text.get(start..end)?;
    let lower = value.to_ascii_lowercase();
    let is_placeholder_password = value.starts_with(['$', '{', '<'])
        || is_placeholder(value)
        || matches!(
            lower.as_str(),
            "password" | "pass" | "passwd" | "pwd" | "secret"
        );
    (!is_placeholder_password).then_some((start, end))
}

fn accept_bearer(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (start, end) = span_of(caps, "v")?;
    let value = text.get(start..end)?;
    if is_placeholder(value) || is_keyword(value) {
        return None;
    }
    let ok = if caps.name("auth").is_some() {
        // An Authorization header value is a credential by construction.
        value.len() >= 8
    } else {
        // A bare "bearer <word>" may be prose ("bearer tokens expire"); demand a real token.
        value.len() >= 16
            && value.chars().any(|c| c.is_ascii_digit())
            && value.chars().any(|c| c.is_ascii_alphabetic())
    };
    ok.then_some((start, end))
}

/// The range of the default in a shell parameter expansion `${NAME:-default}` (also `:=`,
/// `-`, `=`) that `value` starts with.
fn shell_default(value: &str) -> Option<(usize, usize)> {
    let inner = value.strip_prefix("${")?;
    let close = inner.find('}')?;
    let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    if name_end == 0 || name_end >= close {
        return None;
    }
    let op = &inner[name_end..close];
    let skip = [":-", ":=", "-", "="]
        .iter()
        .find(|o| op.starts_with(**o))
        .map(|o| o.len())?;
    let from = 2 + name_end + skip;
    let to = 2 + close;
    (from < to).then_some((from, to))
}

fn accept_assignment(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    // `--name value` only for long flags (the pattern requires `--`), so that prose such as
    // "token expired" is not an assignment.
    let name_match = caps.name("name").or_else(|| caps.name("flag"))?;
    let name = name_match.as_str();
    let strength = classify_name(name)?;
    // `# public key: …` (age, PGP tools): a bare `key` after the word `public` is a public
    // key (a `public password = …` class field is not).
    let before = text.get(..name_match.start()).unwrap_or_default();
    if word_before(before).is_some_and(|w| w.eq_ignore_ascii_case("public"))
        && name.eq_ignore_ascii_case("key")
    {
        return None;
    }
    let (value, shape) = if let Some(m) = caps.name("dq") {
        (m, ValueShape::Quoted)
    } else if let Some(m) = caps.name("sq") {
        (m, ValueShape::SingleQuoted)
    } else {
        (caps.name("bare")?, ValueShape::Bare)
    };
    // A shell default (`${DB_PASSWORD:-s3cret}`, as in compose files): the default is a
    // literal, the variable a reference.
    if let Some((from, to)) = shell_default(value.as_str()) {
        let default = &value.as_str()[from..to];
        let secret = is_plausible_value(default, ValueShape::Quoted, name)
            && (strength == NameStrength::Strong || looks_random(default));
        return secret.then_some((value.start() + from, value.start() + to));
    }
    let v = match shape {
        ValueShape::Bare => bare_value(value.as_str(), name),
        _ => Some(value.as_str()),
    }?;
    let value_end = value.start() + v.len();
    if shape != ValueShape::Bare && !is_plausible_value(v, shape, name) {
        return None;
    }
    if strength == NameStrength::Weak && !looks_random(v) {
        return None;
    }
    // `SecretKey::from_slice(…)` is a path, not `name: value`.
    if caps.name("sep").is_some_and(|s| {
        s.as_str() == ":" && text.get(s.end()..).is_some_and(|r| r.starts_with(':'))
    }) {
        return None;
    }
    // `Token: expired because…` is prose; a YAML value ends its line.
    let is_colon = caps.name("sep").is_some_and(|s| s.as_str() == ":");
    if shape == ValueShape::Bare && is_colon && v.chars().all(|c| c.is_ascii_alphabetic()) {
        let rest = text.get(value_end..).unwrap_or_default();
        let rest_of_line = rest
            .split(['\n', '\r'])
            .next()
            .unwrap_or_default()
            .trim_start();
        if rest_of_line.starts_with(|c: char| c.is_alphabetic()) {
            return None;
        }
    }
    Some((value.start(), value_end))
}

/// The secret of a bare value `run` (which runs to a blank or a quote) assigned to `name`, when
/// it is plausible: `run` up to a `&`, `;`, `,` or `|` that starts another assignment (a query
/// string's `&redirect_uri=…`), without the punctuation that ends a sentence or an expression;
/// when that is not plausible (it holds a URL or a placeholder word further on), the part before
/// the first such separator, as the pattern's bare class once ended it. So `p@ss;w0rd&2` and a
/// Django key with `)` and `&` in it are whole values, and a token followed by
/// `&redirect_uri=https://…` is still a secret.
fn bare_value<'t>(run: &'t str, name: &str) -> Option<&'t str> {
    const SEPARATORS: [char; 4] = ['&', ';', ',', '|'];
    const ENDING: [char; 8] = [',', ';', ')', '}', ']', '>', '.', '|'];
    let next_assignment = run.char_indices().find(|&(i, c)| {
        SEPARATORS.contains(&c) && {
            let rest = &run[i + 1..];
            let key = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .map_or(rest, |end| &rest[..end]);
            !key.is_empty() && rest[key.len()..].starts_with(['=', ':'])
        }
    });
    let whole = next_assignment.map_or(run, |(i, _)| &run[..i]);
    let whole = whole.trim_end_matches(ENDING);
    if is_plausible_value(whole, ValueShape::Bare, name) {
        return Some(whole);
    }
    let first = run.find(SEPARATORS).map_or(run, |i| &run[..i]);
    let first = first.trim_end_matches(ENDING);
    (first.len() < whole.len() && is_plausible_value(first, ValueShape::Bare, name))
        .then_some(first)
}

/// Whether the text before `start` ends with an SSH public key's type and a blank
/// (`ssh-ed25519 `, `ecdsa-sha2-nistp256 `, `sk-ssh-ed25519@openssh.com `): the base64 after it
/// is a public key (`authorized_keys`, `ssh-keygen -y`, `ssh-add -L`), published by design.
fn follows_ssh_key_type(text: &str, start: usize) -> bool {
    const TYPES: [&str; 9] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-ed448",
    ];
    let Some(before) = text.get(..start) else {
        return false;
    };
    let Some(before) = before.strip_suffix([' ', '\t']) else {
        return false;
    };
    TYPES.iter().any(|t| {
        before.ends_with(t)
            && before[..before.len() - t.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '@' | '.')))
    })
}

fn accept_high_entropy(text: &str, caps: &Captures<'_>) -> Option<(usize, usize)> {
    let (mut start, end) = whole_span(caps)?;
    // A run right after a JSON escape (`\nAbc…`) starts with the escape letter.
    if text.get(..start).is_some_and(|b| b.ends_with('\\')) {
        start += 1;
    }
    let run = text.get(start..end)?;
    if run.starts_with("AAAA") && follows_ssh_key_type(text, start) {
        return None;
    }
    if !is_high_entropy(text, start, end) {
        return None;
    }
    if run.contains('/') && in_url(text, start) {
        // In a URL the run can span path segments (`com/spreadsheets/d/<id>/edit`): when one
        // segment is random on its own and every other is a plain word, only that one is
        // redacted, so the host and the path's words survive. A secret with a `/` in it (base64)
        // has no such split and goes whole.
        let segments: Vec<(usize, &str)> = run
            .split('/')
            .scan(start, |from, segment| {
                let at = *from;
                *from += segment.len() + 1;
                Some((at, segment))
            })
            .collect();
        let random: Vec<&(usize, &str)> = segments
            .iter()
            .filter(|(at, segment)| is_high_entropy(text, *at, at + segment.len()))
            .collect();
        let plain = |segment: &str| {
            segment.len() <= 24
                && segment
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
        };
        if let [(at, id)] = random[..]
            && segments
                .iter()
                .all(|(other, segment)| other == at || plain(segment))
        {
            return Some((*at, at + id.len()));
        }
    }
    Some((start, end))
}

/// Whether the text before `start`, back to a blank or a quote, holds `://`.
fn in_url(text: &str, start: usize) -> bool {
    let before = text.get(..start).unwrap_or_default();
    let from = before
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '('))
        .map_or(0, |(i, c)| i + c.len_utf8());
    before[from..].contains("://")
}

/// Whether `text[start..end]` looks like a random token: the length bounds, not a base64 blob,
/// an integrity hash or hex, mixed case with digits, few words, and a Shannon entropy above
/// what random base62/base64 of its length keeps.
fn is_high_entropy(text: &str, start: usize, end: usize) -> bool {
    let Some(run) = text.get(start..end) else {
        return false;
    };
    let len = run.len();
    if !(MIN_HIGH_ENTROPY_CHARS..=MAX_HIGH_ENTROPY_CHARS).contains(&len) {
        return false;
    }
    let before = text.get(..start).unwrap_or_default();
    // `h1:` is a Go module checksum (go.sum): a public hash.
    let go_checksum = before
        .strip_suffix("h1:")
        .is_some_and(|b| b.is_empty() || b.ends_with(char::is_whitespace));
    // `SHA256:…` / `MD5:…`: an SSH key fingerprint, public.
    let fingerprint = ["SHA256:", "SHA1:", "MD5:"]
        .iter()
        .any(|p| before.ends_with(p));
    if before.ends_with("base64,")
        || go_checksum
        || fingerprint
        || is_sri_hash(run)
        || is_blob_line(text, start, end)
    {
        return false;
    }
    let (upper, lower, digits) = class_counts(run);
    let is_hex = run.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if is_hex || upper == 0 || lower == 0 || digits < 2 {
        return false;
    }
    if longest_alnum_run(run) < 16 || wordiness(run) > 0.55 {
        return false;
    }
    // Random base62/base64 of n characters stays above this bound in ~99% of samples
    // (measured: 4.2 bits at 32 characters, 4.45 at 40, 4.9 at 64).
    let bound = (4.1 + (len - MIN_HIGH_ENTROPY_CHARS) as f64 / 60.0).min(4.9);
    shannon_entropy(run) >= bound
}

/// `sha512-…` style Subresource Integrity / npm integrity hashes.
fn is_sri_hash(run: &str) -> bool {
    ["sha1-", "sha256-", "sha384-", "sha512-"]
        .iter()
        .any(|p| run.starts_with(p))
}

/// Whether the run sits next to a long base64 line (a PEM certificate, MIME body, wrapped blob).
fn is_blob_line(text: &str, start: usize, end: usize) -> bool {
    const LINE_BREAKS: [&str; 4] = ["\r\n", "\n", "\\r\\n", "\\n"];
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/=".contains(c);
    let after = text.get(end..).unwrap_or_default();
    let next_line = LINE_BREAKS.iter().find_map(|b| after.strip_prefix(b));
    if next_line.is_some_and(|l| l.chars().take_while(|&c| is_b64(c)).count() >= 60) {
        return true;
    }
    let before = text.get(..start).unwrap_or_default();
    let prev_line = LINE_BREAKS.iter().find_map(|b| before.strip_suffix(b));
    prev_line.is_some_and(|l| l.chars().rev().take_while(|&c| is_b64(c)).count() >= 60)
}

// ---------------------------------------------------------------------------------------------
// Name and value heuristics
// ---------------------------------------------------------------------------------------------

/// How strongly a name says "the value is a secret".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameStrength {
    /// `password`, `token`, `secret`, `api_key`, `auth`, …: any plausible value is a secret.
    Strong,
    /// Only a `key` word (`cache_key`, `SSH_KEY`): the value must also look random.
    Weak,
}

/// Where a value came from; unquoted values get the code-reference checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueShape {
    Bare,
    Quoted,
    /// In single quotes, where a shell, YAML, PHP or Python takes `$` literally.
    SingleQuoted,
    Json,
}

/// Words that make a name metadata about a secret rather than the secret itself
/// (space-separated).
const METADATA_WORDS: &str = "\
    alg algorithm arn backend budget check class cmd command count counts created desc \
    description dir duration enable enabled encoding endpoint env error errors example expiration \
    existing expire expired expires expiry field file files fingerprint format header helper hint \
    host id \
    ids index input interval kind label len length lifetime limit limits location manager max \
    message method min mode mount name path pattern placeholder policy port prefix prompt \
    provider public publishable rate ref regex required reset rotation schema scheme size source \
    state status stdin store strength ttl timeout type uri url usage used user username \
    validation var version window";

/// Values that are keywords, types or auth-scheme names, never credentials (space-separated).
const KEYWORD_VALUES: &str = "\
    any apikey api_key api-key basic bearer bool boolean bytes cookie default digest disabled \
    empty enabled env false header hidden int integer jwt masked nil no none null number oauth \
    oauth2 object off on optional password query redacted required secret session str string todo \
    token true undefined yes";

/// Whether the space-separated word list `list` contains `word`.
fn has_word(list: &str, word: &str) -> bool {
    list.split_ascii_whitespace().any(|w| w == word)
}

/// Splits a name into lowercase words on separators and camelCase boundaries.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
            let next = chars.get(i + 1).copied();
            let lower_to_upper =
                prev.is_some_and(|p| !p.is_ascii_uppercase()) && c.is_ascii_uppercase();
            let acronym_end = prev.is_some_and(|p| p.is_ascii_uppercase())
                && c.is_ascii_uppercase()
                && next.is_some_and(|n| n.is_ascii_lowercase());
            if (lower_to_upper || acronym_end) && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// Whether the words of a name name a wallet's recovery words (`MNEMONIC`, `SEED_PHRASE`): a
/// secret of a dozen plain words (a phrase alone is no secret).
fn names_recovery_words(words: &[String]) -> bool {
    words.iter().any(|w| w == "mnemonic" || w == "seedphrase")
        || words
            .windows(2)
            .any(|pair| pair[0] == "seed" && pair[1] == "phrase")
}

/// Whether `name` names a secret, and how strongly; `None` for ordinary or metadata names.
fn classify_name(name: &str) -> Option<NameStrength> {
    // The metadata words count in a member's last part only: `password.length` is a length,
    // while the `env` of `process.env.DB_PASSWORD` says nothing of the secret's.
    let last = match name.trim_end_matches('.').rsplit_once('.') {
        Some((_, last)) if !last.is_empty() => last,
        _ => name,
    };
    if name_words(last).iter().any(|w| has_word(METADATA_WORDS, w)) {
        return None;
    }
    let words = name_words(name);
    // A public key (`Pubkey:`, `public_key`) is published by design.
    if words
        .iter()
        .any(|w| w == "public" || w == "pubkey" || w.ends_with("publickey"))
    {
        return None;
    }
    if names_recovery_words(&words) {
        return Some(NameStrength::Strong);
    }
    let is_strong_word = |w: &str| {
        matches!(
            w,
            "password"
                | "passwd"
                | "pwd"
                | "pass"
                | "passphrase"
                | "secret"
                | "secrets"
                | "token"
                | "auth"
                | "authorization"
                | "bearer"
                | "credential"
                | "credentials"
                | "cookie"
        ) || [
            "token",
            "password",
            "passwd",
            "secret",
            "apikey",
            "accesskey",
            "privatekey",
        ]
        .iter()
        .any(|suffix| w.ends_with(suffix))
            || (w.starts_with("secret") && !w.starts_with("secretar"))
    };
    if words.iter().any(|w| is_strong_word(w)) {
        return Some(NameStrength::Strong);
    }
    let strong_pair = words.windows(2).any(|pair| match pair {
        [first, second] => {
            second == "key"
                && matches!(
                    first.as_str(),
                    "api" | "private" | "access" | "signing" | "encryption" | "master" | "session"
                )
        }
        _ => false,
    });
    if strong_pair {
        return Some(NameStrength::Strong);
    }
    words
        .iter()
        .any(|w| w.ends_with("key"))
        .then_some(NameStrength::Weak)
}

/// Whether `value` is a variable reference and nothing more: `$NAME`, `${…}` or `$(…)`.
fn is_variable_reference(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('$') else {
        return false;
    };
    if (rest.starts_with('{') && rest.ends_with('}'))
        || (rest.starts_with('(') && rest.ends_with(')'))
    {
        return true;
    }
    let mut chars = rest.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `value`, assigned to `name`, could be a literal secret (see the module docs).
fn is_plausible_value(value: &str, shape: ValueShape, name: &str) -> bool {
    let min_chars = if shape == ValueShape::Json {
        1
    } else {
        MIN_ASSIGNED_SECRET_CHARS
    };
    if value.chars().count() < min_chars || value.trim().is_empty() {
        return false;
    }
    // `$X` is a variable, unless single quotes keep it literal and it is no variable's name
    // alone (`'$3cr3t!'`; a tool such as compose still expands `'${X}'` and `'$X'`).
    let variable = value.starts_with('$')
        && (shape != ValueShape::SingleQuoted || is_variable_reference(value));
    if variable
        || value.starts_with(['%', '<', '{', '&', '*', '@', '!', '-'])
        || is_placeholder(value)
        || is_keyword(value)
        || is_short_number(value)
        || is_path_or_url(value)
    {
        return false;
    }
    let normalize = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    if normalize(value) == normalize(name) {
        return false;
    }
    // Quoted UI strings and prose ("Enter your password", "Mot de passe oublié ?"), but not a
    // passphrase ("correct horse battery staple").
    if value.matches(' ').count() >= 2
        && reads_as_prose(value, name)
        && !names_recovery_words(&name_words(name))
    {
        return false;
    }
    shape != ValueShape::Bare || !is_code_reference(value)
}

/// Words that, inside a value of several words, show it talks about a secret instead of being
/// one ("Enter your password", "Mot de passe oublié", "API key missing"); words starting with
/// `pass` count too.
const PROSE_SECRET_WORDS: &[&str] = &[
    "pwd",
    "secret",
    "secrets",
    "token",
    "tokens",
    "key",
    "keys",
    "auth",
    "credential",
    "credentials",
    "cookie",
    "cookies",
    "pin",
];

/// Whether a value of three or more words reads as a UI string or prose rather than as a
/// passphrase: it ends like a sentence, names a secret itself ([`PROSE_SECRET_WORDS`]), runs
/// past six words, or starts with a capital while its name is not an environment variable's
/// (`DB_PASSWORD="Correct Horse Battery"` is a value; `"label": "Sign in to continue"` is not).
fn reads_as_prose(value: &str, name: &str) -> bool {
    let env_name = name.bytes().any(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let mut words = 0;
    let mut names_a_secret = false;
    for word in value.split_whitespace() {
        words += 1;
        let word = word
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        names_a_secret |= word.starts_with("pass") || PROSE_SECRET_WORDS.contains(&word.as_str());
    }
    value
        .trim_end()
        .ends_with(['.', '?', '!', ':', ';', ',', '…'])
        || names_a_secret
        || words > 6
        || (!env_name && value.starts_with(char::is_uppercase))
}

/// Placeholders: `sk-...`, `xxxx`, `****`, `your-api-key`, `changeme`.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    [
        "...",
        "…",
        "xxxx",
        "****",
        "your",
        "placeholder",
        "changeme",
        "change_me",
        "replace",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

fn is_keyword(value: &str) -> bool {
    has_word(KEYWORD_VALUES, &value.to_ascii_lowercase())
}

/// A digit-only value shorter than [`MIN_NUMERIC_SECRET_CHARS`], optionally with a unit
/// (`3600`, `8`, `30s`, `1.5`): a limit, port or count.
fn is_short_number(value: &str) -> bool {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    !digits.is_empty()
        && value.len() - digits.len() <= 2
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(char::is_ascii_digit).count() < MIN_NUMERIC_SECRET_CHARS
}

fn is_path_or_url(value: &str) -> bool {
    let bytes = value.as_bytes();
    let is_windows_path =
        matches!(bytes, [drive, b':', b'\\' | b'/', ..] if drive.is_ascii_alphabetic());
    ["/", "~/", "./", "../"]
        .iter()
        .any(|p| value.starts_with(p))
        || is_windows_path
        || value.contains("://")
}

/// Unquoted values that are code: calls, generics, dotted paths and identifiers naming a
/// variable (`env::var(`, `Option<String`, `self.token`, `OPENAI_API_KEY`, `api_key`).
fn is_code_reference(value: &str) -> bool {
    // A call or an index of a name (`os.environ.get(`, `$this->pass(`, `cfg[`); a bracket
    // inside random characters (`0h9+nyw)t1fd&k2$x!m4(`) is not code.
    if let Some(i) = value.find(['(', '[', '{', '<']) {
        let head = &value[..i];
        return head.is_empty()
            || head.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && head.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '>')
                });
    }
    // Each word of a name is letters, then perhaps digits (`sha256`, `v2`, `x86`), or digits
    // alone (`64`): `p4ss_w0rd_2ph1`, `summer_2024x` or `s3cr3t` is a value, not a name. A
    // constant in capitals keeps any word (`PASSWORD_ARGON2ID`).
    let word_like = |word: &str| {
        word.trim_end_matches(|c: char| c.is_ascii_digit())
            .chars()
            .all(|c| c.is_ascii_alphabetic())
    };
    let is_ident = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && (!s.chars().any(|c| c.is_ascii_lowercase()) || s.split('_').all(word_like))
    };
    let segments: Vec<&str> = value.split("::").flat_map(|s| s.split('.')).collect();
    if segments.len() >= 2 && segments.iter().all(|s| is_ident(s)) {
        return true;
    }
    let is_screaming = value
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let is_snake = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    is_ident(value) && value.contains('_') && (is_screaming || is_snake)
}

/// A value that looks machine-generated: long, mixed classes, one long alphanumeric run.
fn looks_random(value: &str) -> bool {
    let (upper, lower, digits) = class_counts(value);
    let classes = [upper, lower, digits].iter().filter(|&&n| n > 0).count();
    value.len() >= 16
        && !value.contains(char::is_whitespace)
        && classes >= 2
        && longest_alnum_run(value) >= 12
        && shannon_entropy(value) >= 3.0
}

fn class_counts(s: &str) -> (usize, usize, usize) {
    s.chars().fold((0, 0, 0), |(u, l, d), c| {
        (
            u + usize::from(c.is_ascii_uppercase()),
            l + usize::from(c.is_ascii_lowercase()),
            d + usize::from(c.is_ascii_digit()),
        )
    })
}

fn longest_alnum_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn distinct_chars(s: &str) -> usize {
    let mut seen: Vec<char> = s.chars().collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Share of adjacent character pairs that are two letters of the same case. Random base62 sits
/// near 0.35; English camelCase identifiers near 0.75.
fn wordiness(s: &str) -> f64 {
    let chars: Vec<char> = s.chars().collect();
    let pairs = chars.len().saturating_sub(1);
    if pairs == 0 {
        return 0.0;
    }
    let same_case = chars
        .windows(2)
        .filter(|w| match w {
            [a, b] => {
                (a.is_ascii_lowercase() && b.is_ascii_lowercase())
                    || (a.is_ascii_uppercase() && b.is_ascii_uppercase())
            }
            _ => false,
        })
        .count();
    same_case as f64 / pairs as f64
}

/// Shannon entropy of the characters of `s`, in bits per character.
fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0usize; 128];
    let mut other = 0usize;
    let mut total = 0usize;
    for c in s.chars() {
        total += 1;
        match counts.get_mut(c as usize) {
            Some(n) => *n += 1,
            None => other += 1,
        }
    }
    if total == 0 {
        return 0.0;
    }
    let total = total as f64;
    counts
        .iter()
        .chain(std::iter::once(&other))
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum()
}
