//! Blocking HTTP for the API providers: one POST with a JSON body, timeouts, a body-size cap,
//! and retries with exponential backoff plus jitter that honour `Retry-After`.
//!
//! Retried: HTTP 408, 425, 429, 500, 502, 503, 504, 529 (and other 5xx except 501/505), timeouts
//! and connection failures. Not retried: other 4xx (the request is wrong; retrying only spends
//! money), HTML pages on a 2xx, empty or oversized bodies. The reference's provider failed 43% of
//! a day's reviews on 529s and timeouts (lessons §3.4); a fixed `[2, 5]` s backoff without jitter
//! made concurrent workers retry in lockstep.
//!
//! Proxies: a request to a loopback host never uses a proxy; other requests use ureq's default,
//! which honours `HTTPS_PROXY` / `NO_PROXY` from the process environment as curl does.

use std::time::Duration;

use crate::archive::redact::redact;

use super::ProviderError;

/// Largest response body read, in bytes (1 MiB). A reviewer answer is a few KiB; anything
/// this big is not a model answer.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Characters of an error body kept in messages.
const ERROR_BODY_CHARS: usize = 500;

/// When and how long to wait between attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = try once).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles for each further retry.
    pub base_delay: Duration,
    /// Largest computed backoff.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured; longer requests are capped to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy with millisecond waits, for tests.
    pub fn fast(max_retries: u32) -> Self {
        Self {
            max_retries,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(2),
        }
    }

    /// The wait before retry number `retry` (0-based).
    ///
    /// With a server `Retry-After`, that value (capped at `max_retry_after`); otherwise
    /// `base_delay · 2^retry`, capped at `max_delay`, times a random factor in [0.5, 1.0) so
    /// that concurrent workers spread out ("equal jitter").
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let factor = 2u32.saturating_pow(retry.min(16));
        let backoff = self.base_delay.saturating_mul(factor).min(self.max_delay);
        backoff.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// Whether an HTTP status is worth retrying.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 529)
        || ((500..600).contains(&status) && !matches!(status, 501 | 505))
}

/// Parses `Retry-After`: delay seconds, or an HTTP date (RFC 2822 form).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let secs = at.as_second() - jiff::Timestamp::now().as_second();
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// A successful (2xx) response.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, lowercased (may be empty).
    pub content_type: String,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
    /// Attempts made.
    pub attempts: u32,
    /// The waits before each retry, in order (for tests and logs).
    pub waits: Vec<Duration>,
}

/// One provider's HTTP client: a label for messages, a per-attempt timeout and a retry policy.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// Provider label (`profile/kind`) used in errors and logs.
    pub label: String,
    /// Timeout of one attempt, body included.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// The outcome of one attempt, before the retry decision.
enum Attempt {
    Done(HttpResponse),
    Retry {
        error: ProviderError,
        retry_after: Option<Duration>,
    },
    Fail(ProviderError),
}

impl HttpClient {
    /// A client for provider `label`.
    pub fn new(label: String, timeout: Duration, retry: RetryPolicy) -> Self {
        Self {
            label,
            timeout,
            retry,
        }
    }

    fn agent(&self, url: &str) -> ureq::Agent {
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .user_agent(format!("csep/{}", crate::VERSION));
        if is_loopback(url) {
            builder = builder.proxy(None);
        }
        builder.build().new_agent()
    }

    /// POSTs `body` as JSON to `url` with `headers`, retrying per the policy.
    ///
    /// Returns the 2xx response whose body is non-empty, not HTML and within
    /// [`MAX_RESPONSE_BYTES`]; every other outcome is a [`ProviderError`].
    pub fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<HttpResponse, ProviderError> {
        let payload = body.to_string();
        let agent = self.agent(url);
        let mut waits = Vec::new();
        let attempts_allowed = self.retry.max_retries.saturating_add(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.attempt(&agent, url, headers, &payload, attempt) {
                Attempt::Done(mut response) => {
                    response.attempts = attempt;
                    response.waits = waits;
                    return Ok(response);
                }
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { error, retry_after } => {
                    if attempt >= attempts_allowed {
                        return Err(error);
                    }
                    let wait = self.retry.delay(attempt - 1, retry_after);
                    tracing::info!(
                        provider = %self.label,
                        attempt,
                        attempts = attempts_allowed,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        error = %error.code(),
                        "provider request failed; retrying"
                    );
                    waits.push(wait);
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn attempt(
        &self,
        agent: &ureq::Agent,
        url: &str,
        headers: &[(&str, String)],
        payload: &str,
        attempt: u32,
    ) -> Attempt {
        let mut request = agent
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = match request.send(payload) {
            Ok(r) => r,
            Err(e) => return self.transport_error(url, &e, attempt),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
        let bytes = match response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Attempt::Fail(ProviderError::BodyTooLarge {
                    provider: self.label.clone(),
                    url: url.to_owned(),
                    limit: MAX_RESPONSE_BYTES,
                });
            }
            Err(e) => return self.transport_error(url, &e, attempt),
        };
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let is_html = content_type.contains("text/html") || looks_like_html(&body);
        if !(200..300).contains(&status) {
            let error = if is_html {
                ProviderError::HtmlBody {
                    provider: self.label.clone(),
                    url: url.to_owned(),
                    status,
                }
            } else {
                ProviderError::Http {
                    provider: self.label.clone(),
                    url: url.to_owned(),
                    status,
                    body: excerpt(&body),
                }
            };
            return if is_retryable_status(status) {
                Attempt::Retry { error, retry_after }
            } else {
                Attempt::Fail(error)
            };
        }
        if body.trim().is_empty() {
            return Attempt::Fail(ProviderError::EmptyBody {
                provider: self.label.clone(),
                url: url.to_owned(),
                status,
            });
        }
        if is_html {
            return Attempt::Fail(ProviderError::HtmlBody {
                provider: self.label.clone(),
                url: url.to_owned(),
                status,
            });
        }
        Attempt::Done(HttpResponse {
            status,
            content_type,
            body,
            attempts: attempt,
            waits: Vec::new(),
        })
    }

    fn transport_error(&self, url: &str, error: &ureq::Error, attempt: u32) -> Attempt {
        let retryable = matches!(
            error,
            ureq::Error::Timeout(_)
                | ureq::Error::Io(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::HostNotFound
                | ureq::Error::Protocol(_)
                | ureq::Error::BodyStalled
        );
        let provider_error = match error {
            ureq::Error::Timeout(_) => ProviderError::Timeout {
                provider: self.label.clone(),
                url: url.to_owned(),
                seconds: self.timeout.as_secs_f64(),
                attempts: attempt,
            },
            other => ProviderError::Transport {
                provider: self.label.clone(),
                url: url.to_owned(),
                message: other.to_string(),
            },
        };
        if retryable {
            Attempt::Retry {
                error: provider_error,
                retry_after: None,
            }
        } else {
            Attempt::Fail(provider_error)
        }
    }
}

/// Whether `url` points at 127.0.0.0/8, `::1` or `localhost`.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
}

/// Whether a body is an HTML page (a proxy error, a login page, a website).
pub fn looks_like_html(body: &str) -> bool {
    let head: String = body
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<head")
}

/// The first 500 characters of `body`, redacted, on one line.
pub fn excerpt(body: &str) -> String {
    let short: String = body.chars().take(ERROR_BODY_CHARS).collect();
    let one_line = short.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = redact(&one_line).into_owned();
    if body.chars().count() > ERROR_BODY_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_are_the_transient_ones() {
        for s in [408, 425, 429, 500, 502, 503, 504, 529] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 422, 501] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy::default();
        for retry in 0..4 {
            let d = p.delay(retry, None);
            let full = Duration::from_secs(1u64 << retry);
            assert!(d >= full / 2 && d < full, "{retry}: {d:?}");
        }
        assert!(p.delay(10, None) <= p.max_delay);
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(9999))),
            p.max_retry_after
        );
    }

    #[test]
    fn html_bodies_are_recognised() {
        assert!(looks_like_html("  <!DOCTYPE html><html>"));
        assert!(looks_like_html("<html><body>502</body></html>"));
        assert!(!looks_like_html("{\"a\":1}"));
    }

    #[test]
    fn loopback_urls_are_detected() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
    }

    #[test]
    fn error_excerpts_are_short_and_redacted() {
        let secret = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB";
        let body = format!("bad key {secret} {}", "x".repeat(900));
        let e = excerpt(&body);
        assert!(e.chars().count() <= ERROR_BODY_CHARS + 1);
        assert!(!e.contains(secret), "{e}");
    }
}
