//! Looks through the text of every record file, comments included, for patient identifiers,
//! and through keys, field ids and labels for fields meant to hold a date of birth.

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::snapshot::Snapshot;
use crate::snapshot::metrics::field_columns;
use crate::validate::identifiers::{self, IdentifierKind};
use crate::yaml::{Span, SpannedDoc, escape_pointer};

pub fn check(snapshot: &Snapshot) -> Vec<Diagnostic> {
    snapshot
        .texts
        .keys()
        .flat_map(|path| check_file(snapshot, path))
        .collect()
}

/// The identifiers in one file: its text, a CSV header, and a YAML record's keys. Depends on
/// nothing but that file, so a preview rescans only the files that changed.
pub fn check_file(snapshot: &Snapshot, path: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(text) = snapshot.texts.get(path) {
        scan_text(path, text, &mut out);
        if path.ends_with(".csv") {
            scan_csv_header(path, text, &mut out);
        }
    }
    let doc = snapshot
        .templates
        .iter()
        .map(|t| (&t.path, &t.doc))
        .chain(snapshot.programmes.iter().map(|p| (&p.path, &p.doc)))
        .chain(snapshot.reports.iter().map(|r| (&r.path, &r.doc)))
        .chain(snapshot.areas.iter().map(|a| (&a.path, &a.doc)))
        .chain(snapshot.change_points.iter().map(|c| (&c.path, &c.doc)))
        .find(|(p, _)| p.as_str() == path);
    if let Some((_, doc)) = doc {
        scan_keys(path, doc, &doc.value, String::new(), &mut out);
    }
    out
}

fn identifier_diagnostic(kind: IdentifierKind, path: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("identifier/{}", kind.code()),
        path,
        format!("this looks like {}; records must never hold patient identifiers", kind.describe()),
    )
    .at(span)
    .help("remove it; if it is not about a person (e.g. a code that happens to match), rephrase or split it")
}

fn scan_text(path: &str, text: &str, out: &mut Vec<Diagnostic>) {
    for (number, line) in text.lines().enumerate() {
        for found in identifiers::find_in_text(line) {
            let column = line[..found.start].chars().count() + 1;
            out.push(identifier_diagnostic(
                found.kind,
                path,
                Span::point(number + 1, column),
            ));
        }
    }
}

fn scan_csv_header(path: &str, text: &str, out: &mut Vec<Diagnostic>) {
    let Some(header) = text.lines().next() else {
        return;
    };
    let columns = field_columns(header);
    for (index, name) in header.split(',').enumerate() {
        if identifiers::is_date_of_birth_key(name.trim_matches('"')) {
            let column = columns.get(index).copied().unwrap_or(1);
            out.push(identifier_diagnostic(
                IdentifierKind::DateOfBirth,
                path,
                Span::point(1, column),
            ));
        }
    }
}

/// Walks a YAML document: every key, and the `id` and `label` of every mapping, must not name a
/// date of birth.
fn scan_keys(
    path: &str,
    doc: &SpannedDoc,
    value: &Value,
    pointer: String,
    out: &mut Vec<Diagnostic>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", escape_pointer(key));
                if identifiers::is_date_of_birth_key(key) {
                    out.push(identifier_diagnostic(
                        IdentifierKind::DateOfBirth,
                        path,
                        doc.key_span_of(&child_pointer),
                    ));
                } else if matches!(key.as_str(), "id" | "label")
                    && let Value::String(text) = child
                    && identifiers::is_date_of_birth_key(text)
                {
                    out.push(
                                identifier_diagnostic(IdentifierKind::DateOfBirth, path, doc.span_of(&child_pointer))
                                    .help("templates must not collect a date of birth: demographics come from the NHS Spine"),
                            );
                }
                scan_keys(path, doc, child, child_pointer, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                scan_keys(path, doc, child, format!("{pointer}/{index}"), out);
            }
        }
        _ => {}
    }
}
