//! Runs a report's SQL (polars SQL) over the analysis tables and returns plain rows.

use polars::prelude::*;
use polars::sql::SQLContext;
use serde::Serialize;

use super::sql_guard::{Refusal, check_query};
use super::tables::Tables;

/// One value in a query result, free of polars types so rendering does not depend on them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl Cell {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(v) => Some(*v as f64),
            Cell::Float(v) if v.is_finite() => Some(*v),
            _ => None,
        }
    }

    pub fn as_text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(v) => v.to_string(),
            Cell::Float(v) => v.to_string(),
            Cell::Text(v) => v.clone(),
            Cell::Bool(v) => v.to_string(),
        }
    }
}

/// A query's result: column names and rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl QueryResult {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn column(&self, name: &str) -> Option<Vec<&Cell>> {
        let index = self.column_index(name)?;
        Some(self.rows.iter().map(|row| &row[index]).collect())
    }
}

/// Replaces `$area` with the area code as an SQL string literal. Codes are checked against a
/// strict pattern by the schema, and quotes are doubled all the same.
pub fn bind_area(sql: &str, area: Option<&str>) -> String {
    match area {
        Some(code) => sql.replace("$area", &format!("'{}'", code.replace('\'', "''"))),
        None => sql.to_owned(),
    }
}

/// Why a query gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The query would read something other than the registered tables, or is not one
    /// `SELECT`: it was never run.
    Forbidden(Vec<Refusal>),
    /// Polars could not run it: its message (or, had it panicked, the panic's).
    Failed(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Forbidden(refusals) => {
                let messages: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
                f.write_str(&messages.join("; "))
            }
            QueryError::Failed(message) => f.write_str(message),
        }
    }
}

/// Runs `sql` over the tables, after checking that it reads nothing but them: polars SQL can
/// read any file through its table functions, and report SQL comes from pull requests.
pub fn run_query(
    tables: &Tables,
    sql: &str,
    area: Option<&str>,
) -> Result<QueryResult, QueryError> {
    let sql = bind_area(sql, area);
    let names: Vec<&str> = tables.named().iter().map(|(name, _)| *name).collect();
    check_query(&sql, &names).map_err(QueryError::Forbidden)?;
    let mut context = SQLContext::new();
    for (name, frame) in tables.named() {
        context.register(name, frame.clone().lazy());
    }
    // Polars panics on some queries it cannot plan; a report's SQL is user input.
    let frame = crate::panics::catch(|| context.execute(&sql).and_then(|lazy| lazy.collect()))
        .map_err(|panic| QueryError::Failed(format!("polars stopped on this query: {panic}")))?
        .map_err(|error| QueryError::Failed(clean_error(&error.to_string())))?;
    Ok(to_result(&frame))
}

/// Polars errors can carry a long plan dump; keep the first lines a report author needs.
fn clean_error(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    lines.join(" ")
}

fn to_result(frame: &DataFrame) -> QueryResult {
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut rows = Vec::with_capacity(frame.height());
    for index in 0..frame.height() {
        let row = frame
            .columns()
            .iter()
            .map(|column| column.get(index).map(to_cell).unwrap_or(Cell::Null))
            .collect();
        rows.push(row);
    }
    QueryResult { columns, rows }
}

fn to_cell(value: AnyValue<'_>) -> Cell {
    match value {
        AnyValue::Null => Cell::Null,
        AnyValue::Boolean(v) => Cell::Bool(v),
        AnyValue::String(v) => Cell::Text(v.to_owned()),
        AnyValue::StringOwned(v) => Cell::Text(v.to_string()),
        AnyValue::Int8(v) => Cell::Int(i64::from(v)),
        AnyValue::Int16(v) => Cell::Int(i64::from(v)),
        AnyValue::Int32(v) => Cell::Int(i64::from(v)),
        AnyValue::Int64(v) => Cell::Int(v),
        AnyValue::UInt8(v) => Cell::Int(i64::from(v)),
        AnyValue::UInt16(v) => Cell::Int(i64::from(v)),
        AnyValue::UInt32(v) => Cell::Int(i64::from(v)),
        AnyValue::UInt64(v) => Cell::Int(v as i64),
        AnyValue::Float32(v) if v.is_nan() => Cell::Null,
        AnyValue::Float32(v) => Cell::Float(f64::from(v)),
        AnyValue::Float64(v) if v.is_nan() || v.is_infinite() => Cell::Null,
        AnyValue::Float64(v) => Cell::Float(v),
        other => Cell::Text(other.to_string()),
    }
}
