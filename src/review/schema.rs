//! The JSON Schema of the reviewer's answer, derived from [`ReviewOutput`] with schemars.
//!
//! Two forms:
//! - [`review_output_schema`]: the schema as derived, committed as
//!   `schema/review_output.schema.json` (keys sorted) and checked by a test, so a change to the
//!   operation types shows up as a reviewed diff of the file.
//! - [`provider_schema`]: the same schema rewritten into the subset that strict structured-output
//!   modes accept (OpenAI `strict: true`, which `codex exec --output-schema` uses): every object
//!   closed (`additionalProperties: false`) with every property required, optional properties made
//!   nullable, `oneOf` → `anyOf`, `const` → one-value `enum`, and no `format`/`default`. The parser
//!   reads `null` as "absent", so both forms describe the same answers.

use serde_json::{Map, Value, json};

use super::ops::ReviewOutput;
use crate::llm::JsonSchemaSpec;

/// Path of the committed schema file, relative to the repository root.
pub const SCHEMA_FILE: &str = "schema/review_output.schema.json";

/// Name used for the schema in structured-output requests.
pub const SCHEMA_NAME: &str = "csep_review_output";

/// The derived JSON Schema of [`ReviewOutput`].
pub fn review_output_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ReviewOutput)).unwrap_or(Value::Null)
}

/// The derived schema as committed: pretty JSON with sorted keys and a final newline.
pub fn review_output_schema_text() -> String {
    let sorted = sort_keys(&review_output_schema());
    let mut text = serde_json::to_string_pretty(&sorted).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema in the strict subset providers accept (see the module docs).
pub fn provider_schema() -> Value {
    let mut schema = review_output_schema();
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
    }
    strictify(&mut schema);
    schema
}

/// The request-side schema spec for [`crate::llm::LlmRequest::schema`].
pub fn provider_schema_spec() -> JsonSchemaSpec {
    JsonSchemaSpec {
        name: SCHEMA_NAME.to_owned(),
        schema: provider_schema(),
    }
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::new();
            for k in keys {
                sorted.insert(k.clone(), sort_keys(&map[k]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Makes a schema node (and every node below it) strict-mode compatible.
fn strictify(node: &mut Value) {
    let Value::Object(map) = node else {
        if let Value::Array(items) = node {
            items.iter_mut().for_each(strictify);
        }
        return;
    };
    map.remove("format");
    map.remove("default");
    map.remove("minimum");
    map.remove("maximum");
    if let Some(one_of) = map.remove("oneOf") {
        map.insert("anyOf".to_owned(), one_of);
    }
    if map.contains_key("$ref") {
        // Strict mode rejects keywords next to a `$ref`.
        map.retain(|k, _| k == "$ref");
        return;
    }
    if let Some(value) = map.remove("const") {
        map.insert("enum".to_owned(), json!([value]));
    }
    if map.get("properties").is_some_and(Value::is_object) {
        let required = map_required(map.get("required"));
        let mut names = Vec::new();
        if let Some(Value::Object(props)) = map.get_mut("properties") {
            for (name, prop) in props.iter_mut() {
                strictify(prop);
                if !required.contains(name) {
                    make_nullable(prop);
                }
                names.push(name.clone());
            }
        }
        map.insert("required".to_owned(), json!(names));
        map.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for (key, child) in map.iter_mut() {
        if key != "properties" {
            strictify(child);
        }
    }
}

fn map_required(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Lets a property also be `null` (strict mode requires every property to be present).
fn make_nullable(prop: &mut Value) {
    let Value::Object(map) = prop else {
        return;
    };
    match map.get_mut("type") {
        Some(Value::String(t)) => {
            let t = t.clone();
            map.insert("type".to_owned(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => {
            if !types.iter().any(|t| t == "null") {
                types.push(json!("null"));
            }
        }
        _ => {
            let is_nullable_any_of = map
                .get("anyOf")
                .and_then(Value::as_array)
                .is_some_and(|alts| alts.iter().any(|a| a.get("type") == Some(&json!("null"))));
            if !is_nullable_any_of {
                let inner = Value::Object(std::mem::take(map));
                map.insert("anyOf".to_owned(), json!([inner, {"type": "null"}]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Map<String, Value>>) {
        match v {
            Value::Object(m) => {
                out.push(m);
                m.values().for_each(|c| walk(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }

    #[test]
    fn committed_schema_matches_the_rust_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE);
        let generated = review_output_schema_text();
        if std::env::var_os("CSEP_UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        pretty_assertions::assert_eq!(
            committed,
            generated,
            "{SCHEMA_FILE} is stale; regenerate it with CSEP_UPDATE_SCHEMA=1 cargo test --lib \
             review::schema and review the diff"
        );
    }

    #[test]
    fn the_schema_names_every_operation() {
        let text = review_output_schema_text();
        for op in ["add", "replace", "remove", "recall", "skill_candidate"] {
            assert!(text.contains(&format!("\"{op}\"")), "{op}");
        }
    }

    #[test]
    fn provider_schema_is_strict_mode_compatible() {
        let schema = provider_schema();
        let mut nodes = Vec::new();
        walk(&schema, &mut nodes);
        for node in nodes {
            assert!(!node.contains_key("oneOf"));
            assert!(!node.contains_key("const"));
            assert!(!node.contains_key("format"));
            if let Some(Value::Object(props)) = node.get("properties") {
                assert_eq!(node.get("additionalProperties"), Some(&Value::Bool(false)));
                let required = map_required(node.get("required"));
                let mut keys: Vec<String> = props.keys().cloned().collect();
                keys.sort();
                let mut required_sorted = required.clone();
                required_sorted.sort();
                assert_eq!(keys, required_sorted);
            }
        }
        // An optional field became nullable.
        let text = schema.to_string();
        assert!(text.contains("\"null\""), "{text}");
    }
}
