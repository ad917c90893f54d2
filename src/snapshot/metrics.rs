//! Reads the monthly metrics CSV files against the metrics table schema
//! (`records-schema/metrics.table.json`): header, types, the suppressed marker, constraints.
//! Cross-row logic (gaps, populations, disclosure) is `validate`'s job, not this module's.

use regex::Regex;
use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::model::{Count, KEY_COLUMNS, Measure, MetricRow, Month};
use crate::yaml::Span;

/// The table schema: a subset of Frictionless Table Schema plus a `suppressible` flag.
#[derive(Debug, Clone, Deserialize)]
pub struct TableSchema {
    #[serde(rename = "missingValues", default)]
    pub missing_values: Vec<String>,
    #[serde(rename = "primaryKey", default)]
    pub primary_key: Vec<String>,
    pub fields: Vec<TableField>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableField {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: TableType,
    #[serde(default)]
    pub description: String,
    /// Whether the cell may hold the missing-value marker (a suppressed count).
    #[serde(default)]
    pub suppressible: bool,
    #[serde(default)]
    pub constraints: Constraints,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableType {
    Yearmonth,
    String,
    Integer,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Constraints {
    #[serde(default)]
    pub required: bool,
    pub minimum: Option<i64>,
    pub pattern: Option<String>,
}

impl TableSchema {
    pub fn from_json(value: &serde_json::Value) -> Result<TableSchema, String> {
        let schema: TableSchema =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        let expected: Vec<&str> = KEY_COLUMNS
            .iter()
            .copied()
            .chain(Measure::ALL.iter().map(|m| m.column()))
            .collect();
        if names != expected {
            return Err(format!(
                "the table schema's columns ({}) differ from the columns this version of careplans reads ({})",
                names.join(", "),
                expected.join(", ")
            ));
        }
        Ok(schema)
    }

    pub fn header(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }
}

/// One monthly metrics file, as loaded.
#[derive(Debug, Clone)]
pub struct MetricsFile {
    pub path: String,
    /// The month in the file name, when the name is `YYYY-MM.csv`.
    pub month: Option<Month>,
    pub rows: Vec<MetricRow>,
}

/// The 1-based character column where each field of a CSV line starts (quotes respected).
pub fn field_columns(line: &str) -> Vec<usize> {
    let mut starts = vec![1];
    let mut in_quotes = false;
    for (index, c) in line.chars().enumerate() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => starts.push(index + 2),
            _ => {}
        }
    }
    starts
}

/// Parses one metrics file. Returns the rows that are well-formed and a diagnostic for every
/// cell that is not.
pub fn parse_metrics(
    text: &str,
    path: &str,
    schema: &TableSchema,
) -> (MetricsFile, Vec<Diagnostic>) {
    let file_month = path
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_suffix(".csv"))
        .and_then(|stem| stem.parse::<Month>().ok());
    let mut file = MetricsFile {
        path: path.to_owned(),
        month: file_month,
        rows: Vec::new(),
    };
    let mut diagnostics = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let column_of = |line: usize, field: usize| -> usize {
        lines
            .get(line.saturating_sub(1))
            .and_then(|l| field_columns(l).get(field).copied())
            .unwrap_or(1)
    };
    let patterns: Vec<Option<Regex>> = schema
        .fields
        .iter()
        .map(|f| {
            f.constraints
                .pattern
                .as_deref()
                .and_then(|p| Regex::new(p).ok())
        })
        .collect();

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut header_ok = false;
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let line = error.position().map_or(1, |p| p.line() as usize);
                diagnostics.push(
                    Diagnostic::error("csv/syntax", path, format!("invalid CSV: {error}"))
                        .at(Span::point(line, 1)),
                );
                break;
            }
        }
        let line = record.position().map_or(1, |p| p.line() as usize);
        if first {
            first = false;
            header_ok = check_header(&record, schema, path, line, &column_of, &mut diagnostics);
            if !header_ok {
                break;
            }
            continue;
        }
        if record.len() == 1 && record.get(0) == Some("") {
            continue; // a blank line
        }
        if record.len() != schema.fields.len() {
            diagnostics.push(
                Diagnostic::error(
                    "csv/field-count",
                    path,
                    format!(
                        "row has {} fields; the table schema has {}",
                        record.len(),
                        schema.fields.len()
                    ),
                )
                .at(Span::point(line, 1))
                .help(format!("columns: {}", schema.header().join(","))),
            );
            continue;
        }
        if let Some(row) = parse_row(
            &record,
            schema,
            &patterns,
            path,
            line,
            &column_of,
            &mut diagnostics,
        ) {
            file.rows.push(row);
        }
    }
    if first {
        diagnostics.push(
            Diagnostic::error("csv/empty", path, "metrics file is empty")
                .at(Span::point(1, 1))
                .help(format!(
                    "the first line must be the header: {}",
                    schema.header().join(",")
                )),
        );
    }
    let _ = header_ok;
    (file, diagnostics)
}

fn check_header(
    record: &csv::StringRecord,
    schema: &TableSchema,
    path: &str,
    line: usize,
    column_of: &dyn Fn(usize, usize) -> usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let expected = schema.header();
    let found: Vec<&str> = record.iter().collect();
    if found == expected {
        return true;
    }
    let differs_at = expected
        .iter()
        .zip(found.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(found.len()));
    let message = match (expected.get(differs_at), found.get(differs_at)) {
        (Some(want), Some(got)) => format!(
            "header column {} is `{got}`; expected `{want}`",
            differs_at + 1
        ),
        (Some(want), None) => format!("header is missing column `{want}`"),
        (None, Some(got)) => format!("header has an extra column `{got}`"),
        (None, None) => "header does not match the table schema".into(),
    };
    diagnostics.push(
        Diagnostic::error("csv/header", path, message)
            .at(Span::point(line, column_of(line, differs_at)))
            .help(format!(
                "the header must be exactly: {}",
                expected.join(",")
            )),
    );
    false
}

fn parse_row(
    record: &csv::StringRecord,
    schema: &TableSchema,
    patterns: &[Option<Regex>],
    path: &str,
    line: usize,
    column_of: &dyn Fn(usize, usize) -> usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<MetricRow> {
    let before = diagnostics.len();
    let mut month = None;
    let mut keys: [String; 2] = Default::default();
    let mut counts = [Count::Value(0); Measure::ALL.len()];
    for (index, (field, cell)) in schema.fields.iter().zip(record.iter()).enumerate() {
        let at = Span::point(line, column_of(line, index));
        let name = &field.name;
        let mut report = |code: &str, message: String, help: String| {
            diagnostics.push(Diagnostic::error(code, path, message).at(at).help(help));
        };
        if schema.missing_values.iter().any(|m| m == cell) {
            if field.suppressible {
                if index >= KEY_COLUMNS.len() {
                    counts[index - KEY_COLUMNS.len()] = Count::Suppressed;
                }
            } else {
                report(
                    "csv/value",
                    format!("`{name}` cannot be suppressed"),
                    "only counts may be suppressed".into(),
                );
            }
            continue;
        }
        if cell.is_empty() {
            // Only the declared missing values (`*`) stand for a missing count: an empty
            // count or month is an error whatever `required` says (a suppressed count is not
            // required, but it is written `*`); only an optional text cell may be empty.
            if field.constraints.required || field.field_type != TableType::String {
                report(
                    "csv/value",
                    format!("`{name}` is empty"),
                    if field.suppressible {
                        "write the count, or `*` when it is suppressed".into()
                    } else {
                        "every row needs a value here".into()
                    },
                );
            }
            continue;
        }
        match field.field_type {
            TableType::Yearmonth => match cell.parse::<Month>() {
                Ok(m) => month = Some(m),
                Err(error) => report(
                    "csv/type",
                    format!("`{name}`: {error}"),
                    "write months as YYYY-MM".into(),
                ),
            },
            TableType::Integer => match cell.parse::<i64>() {
                Ok(value) if field.constraints.minimum.is_some_and(|min| value < min) => report(
                    "csv/value",
                    format!(
                        "`{name}` is {value}; it must be at least {}",
                        field.constraints.minimum.unwrap_or(0)
                    ),
                    "counts cannot be negative".into(),
                ),
                Ok(value) => {
                    if index >= KEY_COLUMNS.len() {
                        counts[index - KEY_COLUMNS.len()] = Count::Value(value.unsigned_abs());
                    }
                }
                Err(_) => report(
                    "csv/type",
                    format!("`{name}` is `{}`; expected a whole number", shorten(cell)),
                    if field.suppressible {
                        "write a whole number, or `*` for a suppressed count".into()
                    } else {
                        "write a whole number".into()
                    },
                ),
            },
            TableType::String => {
                if let Some(pattern) = &patterns[index]
                    && !pattern.is_match(cell)
                {
                    report(
                        "csv/value",
                        format!(
                            "`{name}` is `{}`, which does not have the expected form",
                            shorten(cell)
                        ),
                        field.description.clone(),
                    );
                    continue;
                }
                if index == 1 || index == 2 {
                    keys[index - 1] = cell.to_owned();
                }
            }
        }
    }
    if diagnostics.len() > before {
        return None;
    }
    let [area_code, template] = keys;
    Some(MetricRow {
        month: month?,
        area_code,
        template,
        counts,
        line,
    })
}

fn shorten(cell: &str) -> String {
    if cell.chars().count() > 40 {
        format!("{}...", cell.chars().take(40).collect::<String>())
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> TableSchema {
        let text = include_str!("../../records-schema/metrics.table.json");
        TableSchema::from_json(&serde_json::from_str(text).unwrap()).unwrap()
    }

    const HEADER: &str = "month,area_code,template,active_plans,new_plans,views_las,views_111,views_ooh_gp,views_ed,views_gp,deaths,deaths_with_preference_recorded,deaths_in_preferred_place,cpr_decision_made,preference_expressed,plans_reviewed_last_12_months";

    #[test]
    fn table_schema_lists_the_columns_the_model_reads() {
        assert_eq!(schema().header().join(","), HEADER);
    }

    #[test]
    fn parses_rows_with_suppressed_counts() {
        let text = format!("{HEADER}\n2021-04,E09000001,all,115,*,10,0,0,0,0,*,*,*,110,100,95\n");
        let (file, diagnostics) = parse_metrics(&text, "records/metrics/2021-04.csv", &schema());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(file.month.unwrap().to_string(), "2021-04");
        let row = &file.rows[0];
        assert_eq!(row.get(Measure::ActivePlans), Count::Value(115));
        assert_eq!(row.get(Measure::NewPlans), Count::Suppressed);
        assert_eq!(row.line, 2);
    }

    #[test]
    fn an_empty_count_is_an_error_though_a_suppressed_one_is_not_required() {
        let text = format!("{HEADER}\n2021-04,E09000001,all,115,,10,0,0,0,0,*,*,*,110,100,95\n");
        let (file, diagnostics) = parse_metrics(&text, "m/2021-04.csv", &schema());
        assert!(file.rows.is_empty());
        assert_eq!(diagnostics[0].code, "csv/value");
        assert_eq!(diagnostics[0].location(), "m/2021-04.csv:2:27");
    }

    #[test]
    fn reports_bad_cell_at_its_row_and_column() {
        let text = format!("{HEADER}\n2021-04,E09000001,all,lots,0,0,0,0,0,0,0,0,0,0,0,0\n");
        let (file, diagnostics) = parse_metrics(&text, "m/2021-04.csv", &schema());
        assert!(file.rows.is_empty());
        assert_eq!(diagnostics[0].code, "csv/type");
        assert_eq!(diagnostics[0].location(), "m/2021-04.csv:2:23");
    }

    #[test]
    fn reports_negative_count() {
        let text = format!("{HEADER}\n2021-04,E09000001,all,-5,0,0,0,0,0,0,0,0,0,0,0,0\n");
        let (_, diagnostics) = parse_metrics(&text, "m/2021-04.csv", &schema());
        assert_eq!(diagnostics[0].code, "csv/value");
        assert!(diagnostics[0].message.contains("at least 0"));
    }

    #[test]
    fn reports_wrong_header_column() {
        let text = HEADER.replace("new_plans", "new") + "\n";
        let (_, diagnostics) = parse_metrics(&text, "m/2021-04.csv", &schema());
        assert_eq!(diagnostics[0].code, "csv/header");
        assert_eq!(diagnostics[0].column(), 39);
    }

    #[test]
    fn reports_missing_fields() {
        let text = format!("{HEADER}\n2021-04,E09000001,all,5\n");
        let (_, diagnostics) = parse_metrics(&text, "m/2021-04.csv", &schema());
        assert_eq!(diagnostics[0].code, "csv/field-count");
    }

    #[test]
    fn field_columns_respect_quotes() {
        assert_eq!(field_columns("a,\"b,c\",d"), vec![1, 3, 9]);
    }
}
