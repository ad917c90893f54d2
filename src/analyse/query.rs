//! Runs a report's SQL (polars SQL) over the analysis tables and returns plain rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use polars::sql::SQLContext;
use serde::Serialize;

use super::reads::{Reads, reads};
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

impl std::hash::Hash for Cell {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Cell::Null => {}
            Cell::Int(v) => v.hash(state),
            // By its bits: equal results hash equal, and -0.0 and 0.0 (shown the same) apart.
            Cell::Float(v) => v.to_bits().hash(state),
            Cell::Text(v) => v.hash(state),
            Cell::Bool(v) => v.hash(state),
        }
    }
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
#[derive(Debug, Clone, Default, PartialEq, Hash, Serialize)]
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
    check_query(&sql, &Tables::names()).map_err(QueryError::Forbidden)?;
    let sees = reads(&sql, &Tables::names());
    execute(tables, &sql, &sees)
}

/// Runs SQL the guard has passed. Each table it names is registered with only the columns it
/// can see ([`Tables::visible_to`]), which spares polars' planner the rest: as `sees` errs
/// towards more, the result is the one whole tables give.
fn execute(tables: &Tables, sql: &str, sees: &Reads) -> Result<QueryResult, QueryError> {
    let frame = match run_over(tables.visible_to(sees), sql) {
        Ok(frame) => frame,
        // Some of polars' messages list the valid columns: run again over whole tables, so
        // the message a report's author reads names all of them.
        Err(QueryError::Failed(_)) => run_over(tables.named().map(|(n, f)| (n, f.clone())), sql)?,
        Err(forbidden) => return Err(forbidden),
    };
    Ok(to_result(&frame))
}

fn run_over(tables: [(&str, DataFrame); 4], sql: &str) -> Result<DataFrame, QueryError> {
    let mut context = SQLContext::new();
    for (name, frame) in tables {
        context.register(name, frame.lazy());
    }
    // Polars panics on some queries it cannot plan; a report's SQL is user input.
    crate::panics::catch(|| context.execute(sql).and_then(|lazy| lazy.collect()))
        .map_err(|panic| QueryError::Failed(format!("polars stopped on this query: {panic}")))?
        .map_err(|error| QueryError::Failed(clean_error(&error.to_string())))
}

/// Query results kept between builds, each with a fingerprint of everything it read (see
/// [`Tables::fingerprint_of`]): a query whose inputs are unchanged gives its kept result
/// without running, so a preview that changed one column runs only the queries that read it.
#[derive(Debug, Default)]
pub struct QueryCache {
    /// By the SQL as run (parameters bound).
    entries: Mutex<HashMap<String, Kept>>,
    /// Queries run and results kept since the last [`QueryCache::take_counts`].
    counts: Mutex<CacheCounts>,
}

#[derive(Debug)]
struct Kept {
    reads: Reads,
    inputs: u64,
    /// Shared: a kept result is given to every page that asks, without copying its rows.
    result: Result<Arc<QueryResult>, QueryError>,
    /// Asked for since the last [`QueryCache::keep_only_used`].
    used: bool,
}

/// How a cache answered: queries run, and results given without running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    pub run: usize,
    pub kept: usize,
}

impl QueryCache {
    /// Forgets the results no query asked for since the last call: after a full render, what
    /// is left is what the site is made of.
    pub fn keep_only_used(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, kept| std::mem::take(&mut kept.used));
    }

    /// Forgets the results that could no longer be given for `tables`: what they read changed.
    pub fn forget_stale(&self, tables: &Tables) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, kept| tables.fingerprint_of(&kept.reads) == kept.inputs);
    }

    /// The queries run and the results kept since the last call.
    pub fn take_counts(&self) -> CacheCounts {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count(&self, kept: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if kept {
            counts.kept += 1;
        } else {
            counts.run += 1;
        }
    }
}

/// Runs report and page queries over one set of tables through a cache.
#[derive(Clone, Copy)]
pub struct Queries<'a> {
    pub tables: &'a Tables,
    cache: &'a QueryCache,
}

impl<'a> Queries<'a> {
    /// Queries whose inputs did not change since `cache` saw them give the kept result.
    pub fn new(tables: &'a Tables, cache: &'a QueryCache) -> Queries<'a> {
        Queries { tables, cache }
    }

    /// [`run_query`], or the kept result of the same SQL over the same inputs.
    pub fn run(&self, sql: &str, area: Option<&str>) -> Result<Arc<QueryResult>, QueryError> {
        let cache = self.cache;
        let sql = bind_area(sql, area);
        let known = {
            let mut entries = cache.entries.lock().unwrap_or_else(|e| e.into_inner());
            match entries.get_mut(&sql) {
                Some(kept) if self.tables.fingerprint_of(&kept.reads) == kept.inputs => {
                    kept.used = true;
                    cache.count(true);
                    return kept.result.clone();
                }
                // The same SQL reads the same columns: no need to read it again.
                Some(stale) => Some((
                    stale.reads.clone(),
                    !matches!(stale.result, Err(QueryError::Forbidden(_))),
                )),
                None => None,
            }
        };
        // Not under the lock: queries may run side by side. The guard's verdict depends on
        // the SQL alone, so SQL it passed before (this entry's) is not parsed again.
        let (reads, passed) = match known {
            Some((reads, passed)) => (reads, passed),
            None => (reads(&sql, &Tables::names()), false),
        };
        let result = if passed {
            execute(self.tables, &sql, &reads)
        } else {
            check_query(&sql, &Tables::names())
                .map_err(QueryError::Forbidden)
                .and_then(|()| execute(self.tables, &sql, &reads))
        }
        .map(Arc::new);
        cache.count(false);
        let inputs = self.tables.fingerprint_of(&reads);
        let mut entries = cache.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(
            sql,
            Kept {
                reads,
                inputs,
                result: result.clone(),
                used: true,
            },
        );
        result
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::reads::Columns;
    use crate::analyse::reports::{bind_months, expansion_areas};
    use crate::snapshot::Snapshot;
    use crate::snapshot::source::WorkTree;

    /// Every query of the bundled reports, for every area its report is expanded over, gives
    /// the same result over only the columns it can see (as `run_query` runs it) as over whole
    /// tables.
    #[test]
    fn a_query_over_the_columns_it_names_gives_what_whole_tables_give() {
        let snapshot = Snapshot::load(&WorkTree::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let tables = crate::analyse::build_tables(&snapshot).unwrap();
        let whole = || tables.named().map(|(name, frame)| (name, frame.clone()));
        let mut compared = 0;
        for report in &snapshot.reports {
            for area in expansion_areas(&report.value, &snapshot) {
                for query in &report.value.queries {
                    let sql = bind_area(
                        &bind_months(&query.sql, &tables),
                        area.as_ref().map(|a| a.code.as_str()),
                    );
                    let sees = reads(&sql, &Tables::names());
                    let narrowed = tables.visible_to(&sees);
                    if matches!(sees.columns, Columns::Named(_)) {
                        let metrics = narrowed.iter().find(|(n, _)| *n == "metrics").unwrap();
                        if sees.tables.contains("metrics") {
                            assert!(
                                metrics.1.width() < tables.metrics.width(),
                                "{}: narrowed to the columns it names",
                                query.id
                            );
                        }
                    }
                    // What the CLI and serve run (`Queries::run` runs the same `execute`).
                    let over_seen = run_query(&tables, &sql, None);
                    let over_whole = run_over(whole(), &sql).map(|f| to_result(&f));
                    assert_eq!(over_seen, over_whole, "{}: {sql}", query.id);
                    compared += 1;
                }
            }
        }
        assert!(compared > 100, "only {compared} queries compared");
    }
}
