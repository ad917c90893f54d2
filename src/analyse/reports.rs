//! Evaluates report definitions: runs each query for a page and checks that every column a
//! chart, table, figure or map names is in its query's result. Problems are diagnostics at the
//! report's line, so `check` and `build` report them the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::model::{AreaLevel, AreaSummary, Expand, Month, Report};
use crate::snapshot::{Loaded, Snapshot};

use super::query::{Queries, QueryError, QueryResult};
use super::tables::Tables;

/// The results of one page's queries, by query id.
pub type PageResults = BTreeMap<String, Arc<QueryResult>>;

/// The areas a report is drawn for: one page for a plain report, one per STP area or borough
/// for an expanded one.
pub fn expansion_areas(report: &Report, snapshot: &Snapshot) -> Vec<Option<AreaSummary>> {
    let level = match report.expand {
        None => return vec![None],
        Some(Expand::Stp) => AreaLevel::Stp,
        Some(Expand::Borough) => AreaLevel::Borough,
    };
    snapshot
        .areas
        .iter()
        .flat_map(|a| a.value.summaries())
        .filter(|a| a.level == level)
        .map(Some)
        .collect()
}

/// Replaces `$latest`, `$first` and `$year_from` (the first of the latest 12 months, or the
/// first month when there are fewer) with the months as SQL string literals.
pub(crate) fn bind_months(sql: &str, tables: &Tables) -> String {
    let quote =
        |month: Option<Month>| month.map_or_else(|| "NULL".to_owned(), |m| format!("'{m}'"));
    let year_from = tables
        .latest_month
        .map(|latest| latest.plus_months(-11))
        .map(|from| match tables.first_month {
            Some(first) if first > from => first,
            _ => from,
        });
    sql.replace("$latest", &quote(tables.latest_month))
        .replace("$first", &quote(tables.first_month))
        .replace("$year_from", &quote(year_from))
}

/// Runs every query of a report for one area and checks the columns it uses.
pub fn evaluate(
    report: &Loaded<Report>,
    queries: &Queries<'_>,
    area: Option<&str>,
) -> Result<PageResults, Vec<Diagnostic>> {
    let tables = queries.tables;
    let mut results = PageResults::new();
    let mut problems = Vec::new();
    let tables_named = tables
        .named()
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ");
    for (index, query) in report.value.queries.iter().enumerate() {
        let at = report.span(&format!("/queries/{index}/sql"));
        match queries.run(&bind_months(&query.sql, tables), area) {
            Ok(result) => {
                results.insert(query.id.clone(), result);
            }
            Err(QueryError::Forbidden(refusals)) => {
                for refusal in refusals {
                    problems.push(
                        Diagnostic::error(
                            "report/forbidden-source",
                            &report.path,
                            format!("query `{}` refused: {}", query.id, refusal.message),
                        )
                        .at(at)
                        .help(format!(
                            "a report query is one SELECT over the tables {tables_named} (and the parameters $area, $latest, $first, $year_from); it may not read files or change tables"
                        )),
                    );
                }
            }
            Err(QueryError::Failed(message)) => problems.push(
                Diagnostic::error("report/query", &report.path, format!("query `{}` failed: {message}", query.id))
                    .at(at)
                    .help(format!("queries are polars SQL over the tables {tables_named}; see the README for their columns")),
            ),
        }
    }
    let mut need = |query: &str, column: &str, pointer: String| {
        if let Some(result) = results.get(query)
            && result.column_index(column).is_none()
        {
            problems.push(
                Diagnostic::error(
                    "report/unknown-column",
                    &report.path,
                    format!("query `{query}` has no column `{column}`"),
                )
                .at(report.span(&pointer))
                .help(format!("its columns: {}", result.columns.join(", "))),
            );
        }
    };
    let value = &report.value;
    for (i, chart) in value.charts.iter().enumerate() {
        need(&chart.query, &chart.x, format!("/charts/{i}/x"));
        need(&chart.query, &chart.y, format!("/charts/{i}/y"));
        if let Some(series) = &chart.series {
            need(&chart.query, series, format!("/charts/{i}/series"));
        }
        for (column, key) in [
            (&chart.denominator, "denominator"),
            (&chart.target, "target"),
            (&chart.numerator, "numerator"),
        ] {
            if let Some(column) = column {
                need(&chart.query, column, format!("/charts/{i}/{key}"));
            }
        }
    }
    for (i, table) in value.tables.iter().enumerate() {
        for (j, column) in table.columns.iter().enumerate() {
            need(
                &table.query,
                &column.column,
                format!("/tables/{i}/columns/{j}/column"),
            );
            if let Some(denominator) = &column.denominator {
                need(
                    &table.query,
                    denominator,
                    format!("/tables/{i}/columns/{j}/denominator"),
                );
            }
        }
    }
    for (i, figure) in value.figures.iter().enumerate() {
        need(
            &figure.query,
            &figure.column,
            format!("/figures/{i}/column"),
        );
        if let Some(denominator) = &figure.denominator {
            need(
                &figure.query,
                denominator,
                format!("/figures/{i}/denominator"),
            );
        }
    }
    for (i, table) in value.spc_tables.iter().enumerate() {
        need(&table.query, &table.x, format!("/spc_tables/{i}/x"));
        need(
            &table.query,
            &table.series,
            format!("/spc_tables/{i}/series"),
        );
        for (j, measure) in table.measures.iter().enumerate() {
            need(
                &table.query,
                &measure.y,
                format!("/spc_tables/{i}/measures/{j}/y"),
            );
            if let Some(target) = &measure.target {
                need(
                    &table.query,
                    target,
                    format!("/spc_tables/{i}/measures/{j}/target"),
                );
            }
        }
    }
    if let Some(map) = &value.map {
        need(&map.query, &map.value, "/map/value".to_owned());
        need(&map.query, "area_code", "/map/query".to_owned());
    }
    if problems.is_empty() {
        Ok(results)
    } else {
        Err(problems)
    }
}

/// Checks one report's queries and the columns it uses (for the first area of an expanded
/// report).
pub fn check_report(
    report: &Loaded<Report>,
    snapshot: &Snapshot,
    queries: &Queries<'_>,
) -> Vec<Diagnostic> {
    let area = expansion_areas(&report.value, snapshot)
        .into_iter()
        .next()
        .flatten();
    evaluate(report, queries, area.as_ref().map(|a| a.code.as_str()))
        .err()
        .unwrap_or_default()
}
