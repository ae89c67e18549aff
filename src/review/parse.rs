//! Reading a reviewer's answer: strict first, then repair, then item by item.
//!
//! 1. **Strict.** The whole text deserializes as [`ReviewOutput`] (`deny_unknown_fields`).
//! 2. **Repair**, each step recorded as a [`Repair`]: the JSON inside a Markdown code fence;
//!    the outermost JSON value when prose surrounds it; trailing commas removed; a truncated
//!    answer (the model hit `max_tokens` mid-string, lessons §3.4) cut back to its last complete
//!    element and closed. A bare array is read as the operation list.
//! 3. **Items.** Each operation is read on its own (`null` fields count as absent, as the strict
//!    provider schema makes them); one that does not fit the schema or fails a semantic check
//!    (empty summary, unknown memory id, confidence outside 0–1, over the operation budget) is
//!    dropped with a reason, and the others are kept.
//!
//! Only an answer with no recoverable JSON at all is a [`ParseError`]; the reviewer then asks the
//! model once more, showing it the error.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::ops::{Operation, ReviewOutput};

/// Longest answer read, in characters; longer ones are an error, not a parse attempt.
pub const MAX_ANSWER_CHARS: usize = 200_000;

/// Longest accepted summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 300;

/// What the answer is checked against.
#[derive(Debug, Clone, Default)]
pub struct ParseContext {
    /// Ids of existing memory entries (`replace`/`remove` must name one).
    pub memory_ids: BTreeSet<String>,
    /// Most operations kept; 0 means no limit.
    pub max_operations: usize,
}

/// A repair applied to the answer before it parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    /// The JSON was inside a Markdown code fence.
    CodeFence,
    /// Prose before or after the JSON was dropped.
    SurroundingProse,
    /// Trailing commas were removed.
    TrailingCommas,
    /// The answer was cut off; its last incomplete element was dropped and brackets closed.
    Truncated,
    /// The answer was a bare array of operations.
    BareArray,
}

/// An operation that was not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The item as JSON text (at most 300 characters).
    pub item: String,
    /// Why it was dropped.
    pub reason: String,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The operations kept.
    pub output: ReviewOutput,
    /// The operations dropped, with reasons.
    pub dropped: Vec<Dropped>,
    /// Repairs applied to the text.
    pub repairs: Vec<Repair>,
}

/// An answer with nothing recoverable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The answer was empty.
    #[error("the answer was empty")]
    Empty,
    /// The answer was too long to be a review.
    #[error(
        "the answer has {chars} characters, more than the {MAX_ANSWER_CHARS} a review may have"
    )]
    TooLong {
        /// Its length.
        chars: usize,
    },
    /// No JSON value could be read, even after repairs.
    #[error("the answer is not valid JSON: {message}")]
    NotJson {
        /// The JSON parser's message for the (repaired) text.
        message: String,
    },
    /// The JSON is not an object with an `operations` array.
    #[error("the answer is JSON but not {{\"operations\": [...]}}: {message}")]
    WrongShape {
        /// What was found instead.
        message: String,
    },
}

/// Parses a reviewer answer (see the module docs).
pub fn parse(raw: &str, ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let chars = text.chars().count();
    if chars > MAX_ANSWER_CHARS {
        return Err(ParseError::TooLong { chars });
    }
    let mut repairs = Vec::new();
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(_) => repair(text, &mut repairs)?,
    };
    let items = match value {
        Value::Object(mut map) => match map.remove("operations").or_else(|| map.remove("ops")) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(ParseError::WrongShape {
                    message: format!("`operations` is {}", type_name(&other)),
                });
            }
            None if map.contains_key("op") => vec![Value::Object(map)],
            None => {
                let keys: Vec<&String> = map.keys().collect();
                return Err(ParseError::WrongShape {
                    message: format!("an object with keys {keys:?} and no `operations`"),
                });
            }
        },
        Value::Array(items) => {
            repairs.push(Repair::BareArray);
            items
        }
        other => {
            return Err(ParseError::WrongShape {
                message: format!("a JSON {}", type_name(&other)),
            });
        }
    };
    let mut parsed = Parsed {
        repairs,
        ..Parsed::default()
    };
    for item in items {
        let shown = excerpt(&item);
        match read_item(item, ctx) {
            Ok(op) => {
                if ctx.max_operations > 0 && parsed.output.operations.len() >= ctx.max_operations {
                    parsed.dropped.push(Dropped {
                        item: shown,
                        reason: format!(
                            "over the budget of {} operations per review",
                            ctx.max_operations
                        ),
                    });
                } else {
                    parsed.output.operations.push(op);
                }
            }
            Err(reason) => parsed.dropped.push(Dropped {
                item: shown,
                reason,
            }),
        }
    }
    Ok(parsed)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn excerpt(item: &Value) -> String {
    let text = item.to_string();
    if text.chars().count() <= 300 {
        text
    } else {
        let mut s: String = text.chars().take(299).collect();
        s.push('…');
        s
    }
}

/// Reads one operation; the error is the reason it is dropped.
fn read_item(item: Value, ctx: &ParseContext) -> Result<Operation, String> {
    let Value::Object(mut map) = item else {
        return Err(format!(
            "an operation must be an object, found {}",
            type_name(&item)
        ));
    };
    map.retain(|_, v| !v.is_null());
    if let Some(Value::String(op)) = map.get_mut("op") {
        *op = op.trim().to_ascii_lowercase();
    }
    let op: Operation = serde_json::from_value(Value::Object(map))
        .map_err(|e| format!("does not fit the schema: {e}"))?;
    validate(&op, ctx)?;
    Ok(op)
}

/// Semantic checks the schema cannot express.
fn validate(op: &Operation, ctx: &ParseContext) -> Result<(), String> {
    let summary_ok = |s: &str| -> Result<(), String> {
        let n = s.trim().chars().count();
        if n == 0 {
            Err("the summary is empty".to_owned())
        } else if n > MAX_SUMMARY_CHARS {
            Err(format!(
                "the summary has {n} characters (at most {MAX_SUMMARY_CHARS})"
            ))
        } else {
            Ok(())
        }
    };
    let confidence_ok = |c: Option<f64>| match c {
        Some(c) if !(0.0..=1.0).contains(&c) => Err(format!("confidence {c} is outside 0.0–1.0")),
        _ => Ok(()),
    };
    let known = |id: &str| {
        if ctx.memory_ids.contains(id) {
            Ok(())
        } else {
            Err(format!("memory entry `{id}` does not exist"))
        }
    };
    match op {
        Operation::Add {
            summary,
            confidence,
            ..
        } => {
            summary_ok(summary)?;
            confidence_ok(*confidence)
        }
        Operation::Replace {
            id,
            summary,
            confidence,
            ..
        } => {
            known(id)?;
            summary_ok(summary)?;
            confidence_ok(*confidence)
        }
        Operation::Remove { id, .. } => known(id),
        Operation::Recall {
            summary,
            content,
            trigger,
            ..
        } => {
            summary_ok(summary)?;
            if content.trim().is_empty() {
                return Err("a recall entry needs content".to_owned());
            }
            if trigger.trim().is_empty() {
                return Err("a recall entry needs a trigger".to_owned());
            }
            Ok(())
        }
        Operation::SkillCandidate {
            name,
            description,
            steps,
            ..
        } => {
            if name.trim().is_empty() || description.trim().is_empty() {
                return Err("a skill candidate needs a name and a description".to_owned());
            }
            if steps.iter().all(|s| s.trim().is_empty()) {
                return Err("a skill candidate needs steps".to_owned());
            }
            Ok(())
        }
    }
}

/// Applies the text repairs in order until the text parses as JSON.
fn repair(text: &str, repairs: &mut Vec<Repair>) -> Result<Value, ParseError> {
    let first_error = serde_json::from_str::<Value>(text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let mut current = text.to_owned();
    if let Some(inner) = strip_fence(&current) {
        repairs.push(Repair::CodeFence);
        current = inner;
        if let Ok(v) = serde_json::from_str(&current) {
            return Ok(v);
        }
    }
    let scan = scan(&current);
    let Some(start) = scan.start else {
        return Err(ParseError::NotJson {
            message: first_error,
        });
    };
    let end = scan.end.unwrap_or(current.len());
    if start > 0 || current[end..].trim() != "" {
        repairs.push(Repair::SurroundingProse);
    }
    current = current[start..end].to_owned();
    if let Ok(v) = serde_json::from_str(&current) {
        return Ok(v);
    }
    let without_commas = remove_trailing_commas(&current);
    if without_commas != current {
        repairs.push(Repair::TrailingCommas);
        current = without_commas;
        if let Ok(v) = serde_json::from_str(&current) {
            return Ok(v);
        }
    }
    if scan.end.is_none()
        && let Some(v) = close_truncated(&current)
    {
        repairs.push(Repair::Truncated);
        return Ok(v);
    }
    let message = serde_json::from_str::<Value>(&current)
        .err()
        .map_or(first_error, |e| e.to_string());
    Err(ParseError::NotJson { message })
}

/// The content of the first Markdown code fence, when the text has one.
fn strip_fence(text: &str) -> Option<String> {
    let open = text.find("```")?;
    let after = &text[open + 3..];
    let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
    let body = &after[body_start..];
    let close = body.find("```").unwrap_or(body.len());
    Some(body[..close].trim().to_owned())
}

/// Where the outermost JSON value starts and ends (byte offsets; `end` is `None` when it is
/// never closed).
struct Scan {
    start: Option<usize>,
    end: Option<usize>,
}

fn scan(text: &str) -> Scan {
    let Some(start) = text.find(['{', '[']) else {
        return Scan {
            start: None,
            end: None,
        };
    };
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Scan {
                        start: Some(start),
                        end: Some(start + i + 1),
                    };
                }
            }
            _ => {}
        }
    }
    Scan {
        start: Some(start),
        end: None,
    }
}

/// Removes commas that directly precede `}` or `]` (outside strings).
fn remove_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            out.push(c);
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if c == ',' {
            let next = chars[i + 1..].iter().find(|ch| !ch.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Cuts a truncated JSON text back to a complete element and closes the open brackets.
///
/// Candidate cut points are the positions right after each `}` or `]` (outside strings), tried
/// from the last; the open brackets at that point are closed in reverse order.
fn close_truncated(text: &str) -> Option<Value> {
    let mut stack: Vec<char> = Vec::new();
    let mut cuts: Vec<(usize, Vec<char>)> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            '}' | ']' => {
                stack.pop();
                cuts.push((i + 1, stack.clone()));
            }
            _ => {}
        }
    }
    for (cut, open) in cuts.iter().rev().take(200) {
        let mut candidate = text[..*cut].to_owned();
        candidate.extend(open.iter().rev());
        let candidate = remove_trailing_commas(&candidate);
        if let Ok(v) = serde_json::from_str::<Value>(&candidate) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
