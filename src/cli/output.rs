//! Output helpers: pretty JSON for `--json` and simple aligned tables for humans.

use std::io::{self, Write};

use serde::Serialize;

/// Prints `value` as pretty JSON followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    // Through a string, so that a write error reaches the caller as the `io::Error` it is
    // (serde_json would wrap it, and a closed pipe would read as a failure).
    let text = serde_json::to_string_pretty(value)?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// Renders rows as left-aligned columns separated by two spaces; the first row is the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// An error and its causes as one line, `: `-joined, leaving out a cause whose text an outer
/// message already holds (most of csep's errors say their cause in their own message and also
/// name it as their `source`, for callers that walk the chain).
pub fn error_chain<'a>(
    chain: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut text = String::new();
    for cause in chain {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_by_character_width() {
        let rows = vec![
            vec!["name".into(), "count".into()],
            vec!["订单".into(), "3".into()],
            vec!["a".into(), "12".into()],
        ];
        assert_eq!(table(&rows), "name  count\n订单    3\na     12\n");
    }

    #[test]
    fn an_error_chain_names_each_cause_once() {
        let home = crate::store::paths::PathsError::Create {
            path: "/proc/x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        let e = anyhow::Error::new(home).context("importing transcripts");
        let text = error_chain(e.chain());
        assert!(
            text.starts_with("importing transcripts: cannot create csep home /proc/x: "),
            "{text}"
        );
        assert_eq!(text.matches("not found").count(), 1, "{text}");
        let io = anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied))
            .context("reading x");
        assert_eq!(error_chain(io.chain()), "reading x: permission denied");
    }
}
