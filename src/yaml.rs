//! Parses a YAML record file into a JSON value plus the source position of every node.
//!
//! Records are validated with JSON Schema and deserialised with serde, both of which work on
//! JSON values; a schema error only names a JSON pointer, so the loader keeps a map from every
//! pointer to its YAML position to point the author at the offending line. This module only
//! parses: it never decides whether a document is valid records.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};
use serde_json::{Map, Number, Value};

/// A position in a source file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A span in a source file, from `start` up to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn point(line: usize, column: usize) -> Span {
        let pos = Pos { line, column };
        Span {
            start: pos,
            end: pos,
        }
    }

    fn from_yaml(span: YamlSpan) -> Span {
        Span {
            start: Pos {
                line: span.start.line(),
                column: span.start.col() + 1,
            },
            end: Pos {
                line: span.end.line(),
                column: span.end.col() + 1,
            },
        }
    }
}

/// A parsed YAML document with the span of every value and every mapping key, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct SpannedDoc {
    pub value: Value,
    value_spans: HashMap<String, Span>,
    key_spans: HashMap<String, Span>,
}

impl SpannedDoc {
    /// The span of the value at a JSON pointer (`""` is the whole document), falling back to the
    /// nearest ancestor that has one so a diagnostic always has a line.
    pub fn span_of(&self, pointer: &str) -> Span {
        let mut current = pointer;
        loop {
            if let Some(span) = self.value_spans.get(current) {
                return *span;
            }
            match current.rfind('/') {
                Some(cut) => current = &current[..cut],
                None => return Span::point(1, 1),
            }
        }
    }

    /// The span of the key that holds the value at `pointer`, or the value's span when it is an
    /// array element or the document itself.
    pub fn key_span_of(&self, pointer: &str) -> Span {
        self.key_spans
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.span_of(pointer))
    }
}

/// Why a YAML document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub span: Span,
}

/// The deepest nesting accepted; records are shallow, and a cap keeps hostile input from
/// exhausting the stack.
const MAX_DEPTH: usize = 64;

/// Parses one YAML document. Anchors and aliases are refused: records should say each thing
/// once, and refusing them rules out alias-expansion bombs.
pub fn parse(text: &str) -> Result<SpannedDoc, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|error| {
            let marker = error.marker();
            let mut span = Span::point(marker.line(), marker.col() + 1);
            if error.info().contains("tab") {
                span = indenting_tab_at_or_after(text, marker.line()).unwrap_or(span);
            }
            YamlError {
                code: "yaml/syntax",
                message: format!("invalid YAML: {}", error.info()),
                help: syntax_help(error.info()),
                span,
            }
        })?;
        let span = Span::from_yaml(span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        code: "yaml/multiple-documents",
                        message: "a record file holds exactly one YAML document".into(),
                        help: Some("split the documents into separate files".into()),
                        span,
                    });
                }
            }
            Event::Alias(_) => {
                return Err(YamlError {
                    code: "yaml/alias",
                    message: "YAML aliases are not allowed in records".into(),
                    help: Some("write the value out in full".into()),
                    span,
                });
            }
            Event::Scalar(text, style, anchor, tag) => {
                refuse_anchor(anchor, span)?;
                let value = scalar_value(&text, style, tag.as_deref().map(|t| t.suffix.as_str()));
                builder.push_value(value, span)?;
            }
            Event::SequenceStart(anchor, _) => {
                refuse_anchor(anchor, span)?;
                builder.open(Value::Array(Vec::new()), span)?;
            }
            Event::MappingStart(anchor, _) => {
                refuse_anchor(anchor, span)?;
                builder.open(Value::Object(Map::new()), span)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(span)?,
        }
    }
    Ok(builder.finish())
}

fn refuse_anchor(anchor: usize, span: Span) -> Result<(), YamlError> {
    if anchor == 0 {
        return Ok(());
    }
    Err(YamlError {
        code: "yaml/alias",
        message: "YAML anchors are not allowed in records".into(),
        help: Some("remove the `&anchor` and write each value out in full".into()),
        span,
    })
}

/// The parser can notice a tab only while finishing the token before it; point at the tab in
/// the indentation itself, which is what the author has to change.
fn indenting_tab_at_or_after(text: &str, line: usize) -> Option<Span> {
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .take(3)
        .find_map(|(index, content)| {
            let indent: &str = &content[..content.len() - content.trim_start().len()];
            indent
                .chars()
                .position(|c| c == '\t')
                .map(|column| Span::point(index + 1, column + 1))
        })
}

fn syntax_help(info: &str) -> Option<String> {
    if info.contains("tab") {
        Some("indent with spaces; YAML does not allow tabs for indentation".into())
    } else if info.contains("did not find expected") || info.contains("unexpected end") {
        Some("the file may be truncated, or a quote or bracket is not closed".into())
    } else if info.contains("mapping values are not allowed") {
        Some("quote a value that contains `: `".into())
    } else {
        None
    }
}

/// Resolves a scalar by the YAML 1.2 core schema: quoted and block scalars are strings; plain
/// scalars may be null, booleans, integers or floats.
fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(int) = text.parse::<i64>()
    {
        return Value::Number(int.into());
    }
    let looks_float = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float && let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

/// An open collection while events stream in.
struct Frame {
    value: Value,
    pointer: String,
    start: Span,
    /// For a mapping: the key waiting for its value, with its span.
    pending_key: Option<(String, Span)>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    value_spans: HashMap<String, Span>,
    key_spans: HashMap<String, Span>,
}

impl Builder {
    /// The pointer the next value will have, or `None` when the next scalar is a mapping key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(frame) => match &frame.value {
                Value::Array(items) => Some(format!("{}/{}", frame.pointer, items.len())),
                Value::Object(_) => frame
                    .pending_key
                    .as_ref()
                    .map(|(key, _)| format!("{}/{}", frame.pointer, escape_pointer(key))),
                _ => unreachable_frame(),
            },
        }
    }

    fn push_value(&mut self, value: Value, span: Span) -> Result<(), YamlError> {
        match self.next_pointer() {
            Some(pointer) => {
                self.value_spans.insert(pointer, span);
                self.attach(value, span)
            }
            None => {
                // A scalar in key position.
                let key = match value {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let frame = self
                    .stack
                    .last_mut()
                    .expect("key position implies an open mapping");
                if let Value::Object(map) = &frame.value
                    && map.contains_key(&key)
                {
                    return Err(YamlError {
                            code: "yaml/duplicate-key",
                            message: format!("duplicate key `{key}`"),
                            help: Some("each key may appear once in a mapping; remove or merge the repeated one".into()),
                            span,
                        });
                }
                frame.pending_key = Some((key, span));
                Ok(())
            }
        }
    }

    fn open(&mut self, value: Value, span: Span) -> Result<(), YamlError> {
        let Some(pointer) = self.next_pointer() else {
            return Err(YamlError {
                code: "yaml/complex-key",
                message: "mapping keys must be plain text".into(),
                help: None,
                span,
            });
        };
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                code: "yaml/too-deep",
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
                help: None,
                span,
            });
        }
        self.stack.push(Frame {
            value,
            pointer,
            start: span,
            pending_key: None,
        });
        Ok(())
    }

    fn close(&mut self, span: Span) -> Result<(), YamlError> {
        let frame = self
            .stack
            .pop()
            .expect("the parser balances collection events");
        let whole = Span {
            start: frame.start.start,
            end: span.end,
        };
        self.value_spans.insert(frame.pointer.clone(), whole);
        self.attach(frame.value, whole)
    }

    /// Puts a finished value into its parent (or makes it the root).
    fn attach(&mut self, value: Value, _span: Span) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Ok(())
            }
            Some(frame) => {
                match &mut frame.value {
                    Value::Array(items) => items.push(value),
                    Value::Object(map) => {
                        let (key, key_span) = frame
                            .pending_key
                            .take()
                            .expect("a mapping value follows its key");
                        let pointer = format!("{}/{}", frame.pointer, escape_pointer(&key));
                        self.key_spans.insert(pointer, key_span);
                        map.insert(key, value);
                    }
                    _ => unreachable_frame(),
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> SpannedDoc {
        SpannedDoc {
            value: self.root.unwrap_or(Value::Null),
            value_spans: self.value_spans,
            key_spans: self.key_spans,
        }
    }
}

fn unreachable_frame() -> ! {
    unreachable!("only arrays and objects are pushed as frames")
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_nested_values_with_core_schema_types() {
        let doc = parse("a: 1\nb: [true, '2', 2.5, ~]\nc:\n  d: text\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": [true, "2", 2.5, null], "c": {"d": "text"}})
        );
    }

    #[test]
    fn keeps_the_line_and_column_of_every_value() {
        let doc = parse("id: x\nsections:\n  - id: cpr\n    required: maybe\n").unwrap();
        let span = doc.span_of("/sections/0/required");
        assert_eq!((span.start.line, span.start.column), (4, 15));
        let key = doc.key_span_of("/sections/0/required");
        assert_eq!((key.start.line, key.start.column), (4, 5));
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor_span() {
        let doc = parse("a:\n  b: 1\n").unwrap();
        assert_eq!(doc.span_of("/a/missing").start.line, 2);
    }

    #[test]
    fn reports_duplicate_keys_at_the_second_key() {
        let error = parse("id: a\ntitle: x\nid: b\n").unwrap_err();
        assert_eq!(error.code, "yaml/duplicate-key");
        assert_eq!(error.span.start.line, 3);
    }

    #[test]
    fn reports_tab_indentation_as_syntax_error_with_help() {
        let error = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(error.code, "yaml/syntax");
        assert_eq!(error.span.start.line, 2);
        assert!(error.help.is_some());
    }

    #[test]
    fn refuses_aliases() {
        let error = parse("a: &x 1\nb: *x\n").unwrap_err();
        assert_eq!(error.code, "yaml/alias");
    }

    #[test]
    fn reports_truncated_flow_collection() {
        let error = parse("a: [1, 2\n").unwrap_err();
        assert_eq!(error.code, "yaml/syntax");
    }

    #[test]
    fn version_like_and_code_like_scalars_stay_strings() {
        let doc = parse("v: 2.1.0\nc: E09000001\nm: 2021-04\nn: 111\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"v": "2.1.0", "c": "E09000001", "m": "2021-04", "n": 111})
        );
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap().value, Value::Null);
    }
}
