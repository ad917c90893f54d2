//! Checks YAML records against the JSON Schemas in `records-schema/` and points each error at
//! the line of the offending value (or key), not the top of the file.

use anyhow::{Context, Result};
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::snapshot::source::Source;
use crate::yaml::{SpannedDoc, escape_pointer};

/// Past this many schema errors in one file the rest are summarised; the first ones are what
/// an author fixes first, and a wholly wrong file would otherwise flood the output.
const MAX_ERRORS_PER_FILE: usize = 25;

/// The kinds of YAML record file, each with its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Template,
    Areas,
    Programme,
    Report,
    ChangePoints,
}

impl DocKind {
    pub fn schema_file(self) -> &'static str {
        match self {
            DocKind::Template => "template.schema.json",
            DocKind::Areas => "areas.schema.json",
            DocKind::Programme => "programme.schema.json",
            DocKind::Report => "report.schema.json",
            DocKind::ChangePoints => "change-points.schema.json",
        }
    }
}

/// The compiled schemas of one repository version.
pub struct Schemas {
    template: Validator,
    areas: Validator,
    programme: Validator,
    report: Validator,
    change_points: Validator,
    /// The metrics table schema, as JSON.
    pub metrics_table: Value,
}

impl Schemas {
    /// Reads and compiles the schemas from the repository itself, so a revision is checked
    /// against the schemas it shipped with.
    pub fn load(source: &dyn Source, config: &Config) -> Result<Schemas> {
        let read_json = |file: &str| -> Result<Value> {
            let path = config.paths.schema(file);
            let bytes = source
                .read(&path)
                .map_err(|e| anyhow::anyhow!("cannot read schema {path}: {}", e.describe()))?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("schema {path} is not valid JSON"))
        };
        let compile = |kind: DocKind| -> Result<Validator> {
            let schema = read_json(kind.schema_file())?;
            jsonschema::draft202012::new(&schema).map_err(|error| {
                anyhow::anyhow!(
                    "schema {} is not a valid JSON Schema: {error}",
                    config.paths.schema(kind.schema_file())
                )
            })
        };
        Ok(Schemas {
            template: compile(DocKind::Template)?,
            areas: compile(DocKind::Areas)?,
            programme: compile(DocKind::Programme)?,
            report: compile(DocKind::Report)?,
            change_points: compile(DocKind::ChangePoints)?,
            metrics_table: read_json("metrics.table.json")?,
        })
    }

    fn validator(&self, kind: DocKind) -> &Validator {
        match kind {
            DocKind::Template => &self.template,
            DocKind::Areas => &self.areas,
            DocKind::Programme => &self.programme,
            DocKind::Report => &self.report,
            DocKind::ChangePoints => &self.change_points,
        }
    }

    /// Every schema error in `doc`, each at the span of the value it concerns.
    pub fn check(&self, kind: DocKind, doc: &SpannedDoc, path: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut total = 0;
        for error in self.validator(kind).iter_errors(&doc.value) {
            total += 1;
            if out.len() < MAX_ERRORS_PER_FILE {
                out.push(to_diagnostic(&error, doc, path, kind));
            }
        }
        if total > MAX_ERRORS_PER_FILE {
            out.push(Diagnostic::error(
                "schema",
                path,
                format!(
                    "{} more schema errors not shown",
                    total - MAX_ERRORS_PER_FILE
                ),
            ));
        }
        out
    }
}

fn to_diagnostic(
    error: &jsonschema::ValidationError<'_>,
    doc: &SpannedDoc,
    path: &str,
    kind: DocKind,
) -> Diagnostic {
    let pointer = error.instance_path().as_str();
    let place = describe_pointer(pointer);
    let schema_help = format!("see records-schema/{}", kind.schema_file());
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let first = unexpected.first().map(String::as_str).unwrap_or_default();
            let key_pointer = format!("{pointer}/{}", escape_pointer(first));
            let keys = unexpected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            Diagnostic::error(
                "schema/unknown-key",
                path,
                format!("unknown key {keys} in {place}"),
            )
            .at(doc.key_span_of(&key_pointer))
            .help(format!(
                "check the spelling; the allowed keys are listed in records-schema/{}",
                kind.schema_file()
            ))
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            Diagnostic::error(
                "schema/missing-key",
                path,
                format!("{place} is missing the required key `{name}`"),
            )
            .at(doc.span_of(pointer))
            .help(schema_help)
        }
        _ => {
            let instance = error.instance();
            let shown = short_json(instance);
            let message = match error.kind() {
                ValidationErrorKind::Type { kind } => {
                    format!(
                        "{place}: expected {}, found {} {shown}",
                        describe_type_kind(kind),
                        json_type(instance)
                    )
                }
                ValidationErrorKind::Enum { options } => {
                    format!("{place}: {shown} is not one of {}", short_json(options))
                }
                ValidationErrorKind::Pattern { pattern } => {
                    format!("{place}: {shown} does not have the expected form (pattern {pattern})")
                }
                _ => format!("{place}: {}", truncate(&error.to_string(), 300)),
            };
            Diagnostic::error("schema", path, message)
                .at(doc.span_of(pointer))
                .help(schema_help)
        }
    }
}

fn describe_type_kind(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => format!("{t}"),
        jsonschema::error::TypeKind::Multiple(types) => {
            let names: Vec<String> = types.iter().map(|t| format!("{t}")).collect();
            names.join(" or ")
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `/sections/2/fields/0/required` -> "sections[2].fields[0].required"; the root is "the file".
pub fn describe_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the file".into();
    }
    let mut out = String::new();
    for segment in pointer.trim_start_matches('/').split('/') {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    format!("`{out}`")
}

fn short_json(value: &Value) -> String {
    truncate(&value.to_string(), 120)
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(limit).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_reads_like_a_path() {
        assert_eq!(
            describe_pointer("/sections/2/fields/0/required"),
            "`sections[2].fields[0].required`"
        );
        assert_eq!(describe_pointer(""), "the file");
    }
}
