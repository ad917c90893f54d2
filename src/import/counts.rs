//! Unrounded counts made elsewhere: a deployment whose extract outgrows one machine runs the
//! aggregation on its own engine (Spark, DataFusion, ...) and hands `import` one small
//! `counts.csv` of unrounded per-borough, per-template monthly counts. `import` checks it and
//! does the rest (adding up to STP areas and London, disclosure control, publishing) exactly as
//! for an extract it aggregated itself.
//!
//! Columns: `month,borough_code,template_id`, then every measure of the metrics table schema
//! in its order (`active_plans`, `new_plans`, ...), each a non-negative whole number.

use std::collections::HashMap;
use std::path::Path;

use super::aggregate::Aggregator;
use crate::diagnostic::Diagnostic;
use crate::extract::Reference;
use crate::model::{Measure, Month};
use crate::yaml::Span;

pub const COUNTS_FILE: &str = "counts.csv";

/// The header a counts file must have.
pub fn header() -> String {
    let mut columns = vec!["month", "borough_code", "template_id"];
    columns.extend(Measure::ALL.iter().map(|m| m.column()));
    columns.join(",")
}

/// One checked row: month, borough index, template index, counts in `Measure::ALL` order.
type Row = (Month, usize, usize, Vec<u64>);

/// Reads and checks a counts file; either every row, or every problem (file, row, column).
pub fn read_counts(
    path: &Path,
    reference: &Reference,
    today: Month,
) -> Result<Vec<Row>, Vec<Diagnostic>> {
    let shown = path.display().to_string();
    let problem = |code: &str, message: String, row: usize, column: usize| {
        Diagnostic::error(code, &shown, message).at(Span::point(row, column))
    };
    let mut reader = super::check::open_csv(path)?;
    let boroughs = reference.borough_index();
    let templates = reference.template_index();
    let header = header();
    let width = header.split(',').count();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<(Month, usize, usize), usize> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(problem(
                    "extract/syntax",
                    format!("invalid CSV: {error}"),
                    row,
                    1,
                ));
                break;
            }
        };
        if row == 1 {
            if record.iter().collect::<Vec<_>>().join(",") != header {
                problems.push(
                    problem("extract/header", "unexpected columns".into(), 1, 1)
                        .help(format!("the columns must be: {header}")),
                );
                break;
            }
            continue;
        }
        if record.len() != width {
            let message = format!("row has {} fields; expected {width}", record.len());
            problems.push(problem("extract/field-count", message, row, 1));
            continue;
        }
        let month = match record[0].parse::<Month>() {
            Ok(month) if month > today => {
                problems.push(problem(
                    "extract/value",
                    format!("{month} is in the future"),
                    row,
                    1,
                ));
                None
            }
            Ok(month) => Some(month),
            Err(error) => {
                problems.push(problem(
                    "extract/value",
                    format!("`month`: {error}"),
                    row,
                    1,
                ));
                None
            }
        };
        let borough = boroughs.get(&record[1]).copied();
        if borough.is_none() {
            let message = format!("unknown borough `{}`", &record[1]);
            problems.push(problem("extract/value", message, row, 2));
        }
        let template = templates.get(&record[2]).copied();
        if template.is_none() {
            let message = format!("unknown template `{}`", &record[2]);
            problems.push(problem("extract/value", message, row, 3));
        }
        let mut counts = Vec::with_capacity(Measure::ALL.len());
        for (offset, measure) in Measure::ALL.iter().enumerate() {
            let cell = &record[3 + offset];
            match cell.parse::<u64>() {
                Ok(count) => counts.push(count),
                Err(_) => {
                    let message = if cell.starts_with('-') {
                        format!(
                            "`{}` is negative ({cell}); counts are 0 or more",
                            measure.column()
                        )
                    } else {
                        format!("`{}`: `{cell}` is not a whole number", measure.column())
                    };
                    problems.push(problem("extract/value", message, row, 4 + offset));
                }
            }
        }
        if let (Some(month), Some(borough), Some(template)) = (month, borough, template) {
            if let Some(first) = seen.insert((month, borough, template), row) {
                let message = format!("repeats row {first} (same month, borough and template)");
                problems.push(problem("extract/duplicate-row", message, row, 1));
            } else if counts.len() == Measure::ALL.len() {
                rows.push((month, borough, template, counts));
            }
        }
        if problems.len() >= super::check::MAX_PROBLEMS {
            break;
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The months the rows cover.
pub fn months_of(rows: &[Row]) -> Option<(Month, Month)> {
    let first = rows.iter().map(|r| r.0).min()?;
    let last = rows.iter().map(|r| r.0).max()?;
    Some((first, last))
}

/// Fills an aggregator from checked rows (rows outside its window are left out).
pub fn fill(aggregator: &mut Aggregator, rows: &[Row]) {
    for (month, borough, template, counts) in rows {
        for (measure, count) in Measure::ALL.iter().zip(counts) {
            aggregator.add(*month, *borough, *template, *measure, *count);
        }
    }
}
