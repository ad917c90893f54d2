//! What pages show, ready to print: tables with their cells as text, figures, charts with
//! their data tables, and the CSV and JSON downloads behind them. A suppressed value is
//! "suppressed" on a page and `*` in a CSV, never zero.

use serde::Serialize;

use crate::analyse::reports::PageResults;
use crate::analyse::{Cell, QueryResult};
use crate::model::{AreaSummary, ColumnFormat};

use super::chart::{ChartModel, XAxis};
use super::format::format_cell_with;
use super::tilemap::{Tile, TileMapModel};

/// A table ready to print: header texts and cell texts; `None` cells are empty values.
#[derive(Debug, Clone, Serialize)]
pub(super) struct TableView {
    pub caption: String,
    pub headers: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<CellView>>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct CellView {
    pub text: String,
    pub missing: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct FigureView {
    pub label: String,
    pub value: String,
    pub missing: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct ChartView {
    pub anchor: String,
    pub title: String,
    pub description: String,
    pub svg: String,
    pub table: TableView,
    pub csv: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct TableBlock {
    pub anchor: String,
    pub table: TableView,
    pub csv: String,
}

pub(super) fn number_text(value: Option<f64>) -> CellView {
    number_text_with(value, None)
}

/// A number with `decimals` decimals, or (without) whole numbers as whole and others with one.
pub(super) fn number_text_with(value: Option<f64>, decimals: Option<usize>) -> CellView {
    match value {
        Some(v) => CellView {
            text: super::format::format_number(
                v,
                decimals.unwrap_or(if v.fract() == 0.0 { 0 } else { 1 }),
            ),
            missing: false,
        },
        None => CellView {
            text: "suppressed".into(),
            missing: true,
        },
    }
}

/// The data table under a chart: one row per category, one column per series.
pub(super) fn chart_table(model: &ChartModel) -> TableView {
    let months = model.x_axis == XAxis::Months;
    let mut headers = vec![model.x_label.clone()];
    headers.extend(model.series.iter().map(|s| s.name.clone()));
    let rows = model
        .categories
        .iter()
        .enumerate()
        .map(|(ci, category)| {
            let label = if months {
                category
                    .parse::<crate::model::Month>()
                    .map(|m| m.long_name())
                    .unwrap_or_else(|_| category.clone())
            } else {
                category.clone()
            };
            let mut row = vec![CellView {
                text: label,
                missing: false,
            }];
            row.extend(
                model
                    .series
                    .iter()
                    .map(|s| number_text_with(s.values[ci], s.decimals.get(ci).copied())),
            );
            row
        })
        .collect();
    let mut numeric = vec![false];
    numeric.extend(model.series.iter().map(|_| true));
    TableView {
        caption: format!("Data for the chart: {} ({})", model.title, model.units),
        headers,
        numeric,
        rows,
    }
}

/// The CSV behind a chart; suppressed values are `*`, as in the published metrics.
pub(super) fn chart_csv(model: &ChartModel) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![model.x_label.clone()];
    header.extend(model.series.iter().map(|s| s.name.clone()));
    let _ = writer.write_record(&header);
    for (ci, category) in model.categories.iter().enumerate() {
        let mut record = vec![category.clone()];
        record.extend(
            model
                .series
                .iter()
                .map(|s| s.values[ci].map_or_else(|| "*".to_owned(), |v| v.to_string())),
        );
        let _ = writer.write_record(&record);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

pub(super) fn report_table(table: &crate::model::Table, result: &QueryResult) -> TableView {
    let indexes: Vec<Option<usize>> = table
        .columns
        .iter()
        .map(|c| result.column_index(&c.column))
        .collect();
    let denominators: Vec<Option<usize>> = table
        .columns
        .iter()
        .map(|c| c.denominator.as_ref().and_then(|d| result.column_index(d)))
        .collect();
    let rows = result
        .rows
        .iter()
        .map(|row| {
            table
                .columns
                .iter()
                .zip(indexes.iter().zip(&denominators))
                .map(|(column, (index, denominator))| {
                    let cell = index.map_or(&Cell::Null, |i| &row[i]);
                    let denominator = denominator.and_then(|i| row[i].as_f64());
                    match format_cell_with(cell, column.format, denominator) {
                        Some(text) => CellView {
                            text,
                            missing: false,
                        },
                        None => CellView {
                            text: column
                                .missing
                                .clone()
                                .unwrap_or_else(|| "suppressed".into()),
                            missing: column.missing.is_none(),
                        },
                    }
                })
                .collect()
        })
        .collect();
    TableView {
        caption: table.caption.clone(),
        headers: table.columns.iter().map(|c| c.label.clone()).collect(),
        numeric: table
            .columns
            .iter()
            .map(|c| {
                matches!(
                    c.format,
                    Some(
                        ColumnFormat::Integer
                            | ColumnFormat::Decimal
                            | ColumnFormat::Percent
                            | ColumnFormat::Rate
                    )
                )
            })
            .collect(),
        rows,
    }
}

pub(super) fn map_table(model: &TileMapModel) -> TableView {
    let mut tiles: Vec<&Tile> = model.tiles.iter().collect();
    tiles.sort_by(|a, b| a.name.cmp(&b.name));
    TableView {
        caption: format!("Data for the map: {} ({})", model.title, model.units),
        headers: vec!["Borough".into(), model.units.clone()],
        numeric: vec![false, true],
        rows: tiles
            .iter()
            .map(|t| {
                vec![
                    CellView {
                        text: t.name.clone(),
                        missing: false,
                    },
                    number_text(t.value),
                ]
            })
            .collect(),
    }
}

pub(super) fn table_csv(view: &TableView) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&view.headers);
    for row in &view.rows {
        let _ = writer.write_record(
            row.iter()
                .map(|c| if c.missing { "*" } else { c.text.as_str() }),
        );
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

pub(super) fn has_missing(table: &TableView) -> bool {
    table.rows.iter().flatten().any(|c| c.missing)
}

pub(super) fn page_json(
    path: &str,
    title: &str,
    area: Option<&AreaSummary>,
    results: &PageResults,
) -> String {
    // Written straight from these structs, not through a `serde_json::Value`: the same text
    // (fields in this order) without copying every result into a tree first.
    #[derive(Serialize)]
    struct PageArea<'a> {
        code: &'a str,
        name: &'a str,
        level: &'a crate::model::AreaLevel,
    }
    #[derive(Serialize)]
    struct PageJson<'a> {
        page: &'a str,
        title: &'a str,
        area: Option<PageArea<'a>>,
        note: &'a str,
        queries: &'a PageResults,
    }
    serde_json::to_string_pretty(&PageJson {
        page: path,
        title,
        area: area.map(|a| PageArea {
            code: &a.code,
            name: &a.name,
            level: &a.level,
        }),
        note: "null is a suppressed count (1 to the threshold) or a figure withheld because a count it needs is suppressed",
        queries: results,
    })
    .unwrap_or_default()
}
