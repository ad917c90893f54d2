//! The site's downloads described as a Frictionless Data Package (`data/datapackage.json`):
//! every CSV with an inline Table Schema (its columns, in order, typed as the page wrote them,
//! `*` or the column's own words for a missing value) and every JSON file, so an analyst's
//! tools can load the figures without guessing. Each resource is recorded where its file is
//! written; this module only describes and assembles.

use serde::Serialize;

use crate::model::ColumnFormat;

use super::chart::{ChartModel, XAxis};
use super::views::TableView;

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `YYYY-MM`.
    YearMonth,
    Text,
    /// A plain number, as computed (`1250`, `12.5`).
    Number,
    /// A number as pages show it: thousands separated by commas (`19,555`), maybe a `%`.
    Shown {
        percent: bool,
    },
}

/// One column of a CSV download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    /// How a missing value is written in this column.
    pub missing: Vec<String>,
}

/// One file under `data/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The site path, `data/<name>`.
    pub path: String,
    pub title: String,
    pub description: String,
    /// The CSV's columns; `None` for a JSON file.
    pub fields: Option<Vec<FieldSpec>>,
}

fn star() -> Vec<String> {
    vec![crate::model::SUPPRESSED.to_owned()]
}

/// The CSV behind a chart: the x axis, then one number column per series.
pub fn chart_resource(path: &str, model: &ChartModel) -> Resource {
    let mut fields = vec![FieldSpec {
        name: model.x_label.clone(),
        kind: match model.x_axis {
            XAxis::Months => FieldKind::YearMonth,
            XAxis::Categories => FieldKind::Text,
        },
        missing: Vec::new(),
    }];
    fields.extend(model.series.iter().map(|s| FieldSpec {
        name: s.name.clone(),
        kind: FieldKind::Number,
        missing: star(),
    }));
    Resource {
        path: path.to_owned(),
        title: model.title.clone(),
        description: format!("{} ({})", model.description, model.units),
        fields: Some(fields),
    }
}

/// The CSV of a table as the page prints it: each column typed by its format; a column with
/// its own words for an empty value writes those words.
pub(super) fn table_resource(
    path: &str,
    view: &TableView,
    formats: &[Option<ColumnFormat>],
    missing: &[Option<String>],
) -> Resource {
    let fields = view
        .headers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let format = formats.get(i).copied().flatten();
            let kind = match format {
                Some(ColumnFormat::Integer | ColumnFormat::Decimal) => {
                    FieldKind::Shown { percent: false }
                }
                Some(ColumnFormat::Percent) => FieldKind::Shown { percent: true },
                Some(ColumnFormat::Rate) => FieldKind::Shown { percent: false },
                Some(ColumnFormat::Month | ColumnFormat::Text) | None => FieldKind::Text,
            };
            FieldSpec {
                name: name.clone(),
                kind,
                missing: match missing.get(i).cloned().flatten() {
                    Some(words) => vec![words],
                    None => star(),
                },
            }
        })
        .collect();
    Resource {
        path: path.to_owned(),
        title: view.caption.clone(),
        description: view.caption.clone(),
        fields: Some(fields),
    }
}

/// A JSON download.
pub fn json_resource(path: &str, title: &str, description: &str) -> Resource {
    Resource {
        path: path.to_owned(),
        title: title.to_owned(),
        description: description.to_owned(),
        fields: None,
    }
}

/// A Table Schema field as the package writes it.
#[derive(Serialize)]
struct FieldJson<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "groupChar", skip_serializing_if = "Option::is_none")]
    group_char: Option<&'static str>,
    #[serde(rename = "bareNumber", skip_serializing_if = "Option::is_none")]
    bare_number: Option<bool>,
    #[serde(rename = "missingValues")]
    missing_values: &'a [String],
}

fn field_json(field: &FieldSpec) -> FieldJson<'_> {
    let (kind, group_char, bare_number) = match field.kind {
        FieldKind::YearMonth => ("yearmonth", None, None),
        FieldKind::Text => ("string", None, None),
        FieldKind::Number => ("number", None, None),
        // `number`, not `integer`: Table Schema readers honour groupChar on numbers.
        FieldKind::Shown { percent } => ("number", Some(","), percent.then_some(false)),
    };
    FieldJson {
        name: &field.name,
        kind,
        group_char,
        bare_number,
        missing_values: &field.missing,
    }
}

#[derive(Serialize)]
struct Schema<'a> {
    fields: Vec<FieldJson<'a>>,
}

/// One resource as the package writes it: a CSV table (with its schema) or a JSON file.
#[derive(Serialize)]
struct ResourceJson<'a> {
    name: String,
    path: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    format: &'static str,
    mediatype: &'static str,
    encoding: &'static str,
    title: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<Schema<'a>>,
}

#[derive(Serialize)]
struct Package<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    name: &'static str,
    title: String,
    description: &'static str,
    resources: Vec<ResourceJson<'a>>,
}

/// The descriptor of every resource, in site order. Written straight from structs (not
/// through a `serde_json::Value` tree): a preview rewrites it whenever a download changes.
pub fn datapackage(site_title: &str, resources: &[&Resource]) -> String {
    let resources = resources
        .iter()
        .map(|resource| {
            let file = resource
                .path
                .strip_prefix("data/")
                .unwrap_or(&resource.path);
            let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
            match &resource.fields {
                Some(fields) => ResourceJson {
                    name: stem.to_owned(),
                    path: file,
                    kind: Some("table"),
                    format: "csv",
                    mediatype: "text/csv",
                    encoding: "utf-8",
                    title: &resource.title,
                    description: &resource.description,
                    schema: Some(Schema {
                        fields: fields.iter().map(field_json).collect(),
                    }),
                },
                None => ResourceJson {
                    name: format!("{stem}-json"),
                    path: file,
                    kind: None,
                    format: "json",
                    mediatype: "application/json",
                    encoding: "utf-8",
                    title: &resource.title,
                    description: &resource.description,
                    schema: None,
                },
            }
        })
        .collect();
    let package = Package {
        schema: "https://datapackage.org/profiles/2.0/datapackage.json",
        name: "careplans-figures",
        title: format!("{site_title}: the figures behind every page"),
        description: "Every chart, table and map of the site as CSV, and each page's query results as JSON. Counts are disclosure-controlled: `*` in a CSV (and null in JSON) is a suppressed count or a figure withheld because a count it needs is suppressed. Counts are rounded to the nearest 5; rates are computed from the published counts.",
        resources,
    };
    let mut text = serde_json::to_string_pretty(&package).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_csv_resource_has_its_columns_and_missing_values() {
        let resource = Resource {
            path: "data/index-chart-1.csv".into(),
            title: "Active plans".into(),
            description: "Monthly".into(),
            fields: Some(vec![
                FieldSpec {
                    name: "Month".into(),
                    kind: FieldKind::YearMonth,
                    missing: Vec::new(),
                },
                FieldSpec {
                    name: "Rate".into(),
                    kind: FieldKind::Shown { percent: true },
                    missing: star(),
                },
            ]),
        };
        let json: Value = serde_json::from_str(&datapackage("London", &[&resource])).unwrap();
        let entry = &json["resources"][0];
        assert_eq!(entry["name"], "index-chart-1");
        assert_eq!(entry["path"], "index-chart-1.csv");
        assert_eq!(entry["schema"]["fields"][0]["type"], "yearmonth");
        assert_eq!(entry["schema"]["fields"][1]["bareNumber"], false);
        assert_eq!(entry["schema"]["fields"][1]["missingValues"][0], "*");
    }
}
